#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# abi_capacity.sh (vm/run --cxl guest, 6.12): the raw device ABI suite
# (tests/abi) and capacity exhaustion, with the remote node being the CXL
# node, on every driver:
#   - emucxl.ko reloaded with remote_capacity_mb=64 (remote_node the CXL
#     node): Kmod/DeviceAbi.* and KmodAbi.*, whose CapacityExhaustionIs_ENOMEM
#     fills the remote capacity until ENOMEM, checks the accounting and that
#     the local node and then the remote node allocate again;
#   - a second emucxl-cused with --remote-capacity-mb 64: Cuse/DeviceAbi.*
#     and CuseAbi.*, the same;
#   - mbind, whose capacity is the CXL node itself (its size less the
#     kernel's headroom): emucxl_stress's Capacity test fills the node until
#     ENOMEM, the kernel's own exhaustion of CXL memory, while a bystander
#     process keeps its local memory and still allocates.
# Why 64 MiB on the servers (the least the ABI suite needs: it allocates 64
# MiB at once): the CXL window is an I/O region under TCG (vm/README.md:
# ~0.02 GB/s), and the servers' default capacities filled at that speed took
# 101 s (kmod) and over 300 s (cuse); the capacity limit is the same code at
# any size. Left out of the ABI suite here, for the same reason (each took
# 25-50 s on this node, and all run in stage vm):
# LargeRemoteAllocationIsAllOnTheRemoteNode (256 MiB, more than the
# capacity), AllocFreeLatency (64 MiB allocations, timed),
# ConcurrentAllocFreeOnOneSession (nothing in it depends on the node), and
# SigkilledClientLeaksNothing (devices_kill.sh kills clients on this node).
# Leaves the module and the shared daemon as it found them.
source "$(dirname "$0")/cxl.lib"
source "$(dirname "$0")/../kmod/vm-lib.sh"
source "$(dirname "$0")/../cuse/vm-lib.sh"
STRESS=$EMUCXL_BUILD_DIR/tests/emucxl_stress
cap=64
slow='*LargeRemoteAllocationIsAllOnTheRemoteNode*:*AllocFreeLatency*:*ConcurrentAllocFreeOnOneSession*:*SigkilledClientLeaksNothing*'
[[ -x $STRESS ]] || cxl_skip "no $STRESS: build the tests (cmake --build $EMUCXL_BUILD_DIR)"

capdev=/dev/emucxl-cuse-cxlcap
cap_pid=
cleanup() {
  [[ -z $cap_pid ]] || { kill -TERM "$cap_pid" 2>/dev/null; wait "$cap_pid" 2>/dev/null; }
  # the module as kmod_setup found it, if this test changed it
  [[ -z ${KMOD_SAVED_PARAMS:-} ]] || kmod_restore
}
trap cleanup EXIT

# emucxl.ko with a 64 MiB remote capacity on the CXL node.
if [[ -c /dev/emucxl ]]; then
  kmod_setup --need-abi-test
  kmod_expect_idle
  [[ $(<"$KMOD_PARAMS_DIR/remote_node") == "$CXL_NODE" ]] ||
    kmod_fail "emucxl.ko's remote_node is $(<"$KMOD_PARAMS_DIR/remote_node"), not the CXL node $CXL_NODE"
  # shellcheck disable=SC2046  # the saved parameters are words
  kmod_reload $(sed "s/remote_capacity_mb=[0-9]*/remote_capacity_mb=$cap/" <<<"$KMOD_SAVED_PARAMS")
  t0=$SECONDS
  EMUCXL_KMOD_DEVICE=/dev/emucxl "$ABI_TEST" --gtest_color=no --require-device \
    --gtest_filter="Kmod/*:KmodAbi.*-$slow" || cxl_fail "emucxl_abi_test (kmod) failed on the CXL node"
  cxl_say "kmod: the ABI suite on CXL node $CXL_NODE, capacity exhaustion included: passed ($((SECONDS - t0)) s)"
  kmod_expect_idle
  kmod_restore
  kmod_check_dmesg
else
  echo "SKIPPED part: kmod: no /dev/emucxl in this guest"
fi

# A second daemon with a 64 MiB remote capacity (the shared one keeps its own).
if [[ -x $CUSED && -c /dev/cuse ]]; then
  "$CUSED" -f --name "${capdev#/dev/}" --remote-capacity-mb "$cap" </dev/null &
  cap_pid=$!
  cuse_wait_dev "$capdev" || cxl_fail "no $capdev from $CUSED --remote-capacity-mb $cap"
  t0=$SECONDS
  EMUCXL_CUSE_DEVICE=$capdev "$ABI_TEST" --gtest_color=no --require-device \
    --gtest_filter="Cuse/*:CuseAbi.*-$slow" || cxl_fail "emucxl_abi_test (cuse) failed on the CXL node"
  cxl_say "cuse: the ABI suite on CXL node $CXL_NODE, capacity exhaustion included: passed ($((SECONDS - t0)) s)"
  cuse_expect_idle "$capdev"
  kill -TERM "$cap_pid"
  wait "$cap_pid" || cxl_fail "the second emucxl-cused exited $? on SIGTERM"
  cap_pid=
else
  echo "SKIPPED part: cuse: no $CUSED or /dev/cuse in this guest"
fi

# mbind: the CXL node itself runs out.
t0=$SECONDS
out=$(EMUCXL_BACKEND=mbind EMUCXL_LOG=error "$STRESS" --gtest_color=no --gtest_filter='Capacity.*' 2>&1) ||
  { echo "$out"; cxl_fail "mbind: the Capacity test failed on the CXL node"; }
grep -q '^\[  PASSED  \] 1 test' <<<"$out" || { echo "$out"; cxl_fail "mbind: the Capacity test did not run"; }
cxl_say "mbind: $(grep '^capacity:' <<<"$out") ($((SECONDS - t0)) s)"
cxl_say "passed"
