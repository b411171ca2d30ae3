#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# default_remote.sh (vm/run --cxl guest, 6.12): with nothing naming the
# remote node, every driver takes the CXL node as remote by itself.
# vm/guest/stage2 names it for the rest of the suite (EMUCXL_REMOTE_NODE,
# emucxl.ko's remote_node=, emucxl-cused's --remote-node), which would hide a
# default that picks the wrong node; here each driver runs without them:
#   - mbind: EMUCXL_REMOTE_NODE unset;
#   - kmod: emucxl.ko reinserted with no parameter (then put back as found);
#     its resolved remote_node must be the CXL node;
#   - cuse: a second emucxl-cused with no --remote-node, on its own device.
# Each then runs the conformance suite's topology and placement tests with
# EMUCXL_EXPECT_REMOTE_NODE set to the CXL node: logical node 1 must be that
# node, and every page of a remote block is found there by move_pages.
source "$(dirname "$0")/cxl.lib"

conformance=$EMUCXL_BUILD_DIR/tests/emucxl_conformance
cused=$EMUCXL_BUILD_DIR/backends/cuse/emucxl-cused
ko=$EMUCXL_BUILD_DIR/kmod/$(uname -r)/emucxl.ko
params=/sys/module/emucxl/parameters
filter='Api.TwoNodeMachineHasACpuLessRemoteNode:*AllocIsZeroFilledAndPlacedOnTheNode*'
[[ -x $conformance ]] || cxl_skip "no $conformance: build the project first"

# placed DRIVER [VAR=VALUE...]: the conformance subset on DRIVER, with the
# suite's own remote-node setting removed.
placed() {
  local driver=$1
  shift
  env -u EMUCXL_REMOTE_NODE -u EMUCXL_DEVICE EMUCXL_BACKEND="$driver" EMUCXL_EXPECT_NUMA_NODES=2 \
    EMUCXL_EXPECT_REMOTE_NODE="$CXL_NODE" "$@" \
    "$conformance" --gtest_color=no --gtest_brief=1 --gtest_filter="$filter" ||
    cxl_fail "$driver with its default remote node: the placement tests failed (expected node $CXL_NODE)"
  cxl_say "$driver: default remote node is the CXL node $CXL_NODE: ok"
}

placed mbind

if [[ -f $ko ]]; then
  saved=
  if [[ -d /sys/module/emucxl ]]; then
    for p in local_node remote_node local_capacity_mb remote_capacity_mb; do
      saved+=" $p=$(<"$params/$p")"
    done
    rmmod emucxl || cxl_fail "rmmod emucxl failed (a client still holds it?)"
  fi
  # shellcheck disable=SC2086  # parameters are split on purpose
  restore() { rmmod emucxl 2>/dev/null; [[ -z $saved ]] || insmod "$ko" $saved; }
  trap restore EXIT
  insmod "$ko" || cxl_fail "insmod $ko (no parameters) failed"
  got=$(<"$params/remote_node")
  [[ $got == "$CXL_NODE" ]] ||
    cxl_fail "emucxl.ko loaded without remote_node= took node $got as remote, not the CXL node $CXL_NODE"
  placed kmod
  restore
  trap - EXIT
  if [[ -n $saved ]]; then
    [[ $(<"$params/remote_node") == "$CXL_NODE" ]] || cxl_fail "emucxl.ko was not put back as found ($saved)"
  fi
else
  echo "SKIPPED part: kmod: no $ko (build the module for $(uname -r))"
fi

if [[ -x $cused ]]; then
  [[ -c /dev/cuse ]] || modprobe cuse || cxl_fail "no /dev/cuse and modprobe cuse failed"
  dev=emucxl-default-remote
  "$cused" -f --name "$dev" </dev/null &
  pid=$!
  trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
  for _ in $(seq 50); do
    { : <"/dev/$dev"; } 2>/dev/null && break
    sleep 0.1
  done
  { : <"/dev/$dev"; } 2>/dev/null || cxl_fail "$cused --name $dev: /dev/$dev does not open after 5 s"
  placed cuse EMUCXL_DEVICE="/dev/$dev"
  kill -TERM "$pid"
  wait "$pid"
  rc=$?
  trap - EXIT
  ((rc == 0)) || cxl_fail "emucxl-cused --name $dev exited with $rc on SIGTERM"
else
  echo "SKIPPED part: cuse: no $cused (build the project)"
fi

# (vm/guest/stage2 fails the run on any oops, BUG or WARN in dmesg.)
cxl_say "ok"
