#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kmod_movable.sh (vm/run --cxl guest, 6.12): emucxl.ko's allow_movable=0.
#   - CXL memory onlined movable (the node has only ZONE_MOVABLE): the
#     module refuses the node at load, and dmesg says how to fix it (online
#     it as normal memory, or allow_movable=1);
#   - onlined normal: it loads, and a client's pages land on the CXL node.
# The default (allow_movable=1) is what the rest of tests/vm-cxl runs with.
# Leaves the module loaded as found.
source "$(dirname "$0")/cxl.lib"
source "$(dirname "$0")/../kmod/vm-lib.sh"
kmod_setup --need-abi-test
trap kmod_restore EXIT
kmod_expect_idle
remote=$(<"$KMOD_PARAMS_DIR/remote_node")
[[ $remote == "$CXL_NODE" ]] || kmod_fail "emucxl.ko's remote_node is $remote, not the CXL node $CXL_NODE"

rmmod emucxl || kmod_fail "rmmod emucxl failed"
if [[ $CXL_ONLINE == movable ]]; then
  if insmod "$KMOD_KO" remote_node="$CXL_NODE" allow_movable=0 2>/dev/null; then
    kmod_fail "insmod allow_movable=0 succeeded on the movable-only CXL node $CXL_NODE"
  fi
  dmesg | tail -n 20 | grep -q "allow_movable=0); online it as normal memory" ||
    kmod_fail "no message in dmesg saying why allow_movable=0 refused the node: $(dmesg | tail -n 3)"
  kmod_say "allow_movable=0 on ZONE_MOVABLE CXL memory: refused at load, with the fix in dmesg: ok"
else
  insmod "$KMOD_KO" remote_node="$CXL_NODE" allow_movable=0 ||
    kmod_fail "insmod allow_movable=0 failed on normal CXL memory"
  kmod_hold_start 8
  on=$(grep -o "N$CXL_NODE=[0-9]*" /proc/"$KMOD_HOLDER"/numa_maps | awk -F= '{ s += $2 } END { print s + 0 }')
  kmod_hold_stop
  ((on >= 2048)) || kmod_fail "allow_movable=0 on normal CXL memory: $on of 2048 pages on node $CXL_NODE"
  kmod_say "allow_movable=0 on normal CXL memory: loads, $on pages on node $CXL_NODE: ok"
fi
kmod_restore
trap - EXIT
kmod_expect_idle
kmod_check_dmesg
kmod_say "passed"
