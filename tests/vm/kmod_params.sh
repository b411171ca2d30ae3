#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kmod_params.sh (in the vm/ guest): emucxl.ko's module parameters.
#   - bad nodes and capacities are refused at load time;
#   - a small remote capacity is enforced (ENOMEM past it);
#   - a remote capacity larger than the node: the node itself runs dry and
#     ALLOC says ENOMEM (__GFP_THISNODE), with no fallback to the local
#     node, and the system carries on.
# Leaves the module loaded as found.
set -uo pipefail
# shellcheck source=tests/kmod/vm-lib.sh
source "$(dirname "$0")/../kmod/vm-lib.sh"

kmod_setup --need-abi-test
trap kmod_restore EXIT
remote=$(<"$KMOD_PARAMS_DIR/remote_node")
local=$(<"$KMOD_PARAMS_DIR/local_node")

rmmod emucxl || kmod_fail "rmmod emucxl failed"
for bad in "remote_node=64" "local_node=-7" "remote_node=4096" \
           "remote_capacity_mb=18446744073709551615"; do
  if insmod "$KMOD_KO" $bad 2>/dev/null; then
    rmmod emucxl
    kmod_fail "insmod with $bad succeeded"
  fi
done
kmod_say "bad parameters refused: ok"

# A small capacity.
insmod "$KMOD_KO" local_node="$local" remote_node="$remote" remote_capacity_mb=64 ||
  kmod_fail "insmod remote_capacity_mb=64 failed"
[[ $(kmod_counter node1/capacity) == $((64 << 20)) ]] ||
  kmod_fail "node1/capacity is $(kmod_counter node1/capacity), expected 64 MiB"
"$KMOD_ABI_TEST" --gtest_color=no --require-device \
  --gtest_filter='Kmod/DeviceAbi.CapacityExhaustionIs_ENOMEM/*:Kmod/DeviceAbi.HugeSizesAre_ENOMEM/*:Kmod/DeviceAbi.LargeRemote*' ||
  kmod_fail "capacity tests failed with remote_capacity_mb=64"
kmod_expect_idle
kmod_say "remote_capacity_mb=64 enforced: ok"

# A capacity beyond the node: the node runs dry first.
node_mb=$(awk '/MemTotal/ { print int($4 / 1024) }' "/sys/devices/system/node/node$remote/meminfo")
big=$((node_mb * 2 + 1024))
kmod_reload local_node="$local" remote_node="$remote" remote_capacity_mb="$big"
"$KMOD_ABI_TEST" --gtest_color=no --require-device \
  --gtest_filter='Kmod/DeviceAbi.CapacityExhaustionIs_ENOMEM/*:Kmod/DeviceAbi.LocalAllocationIsOnTheLocalNode/*' ||
  kmod_fail "node exhaustion tests failed with remote_capacity_mb=$big (node: $node_mb MiB)"
kmod_expect_idle
kmod_say "remote_capacity_mb=$big (node has $node_mb MiB): node exhaustion is ENOMEM: ok"

kmod_restore
trap - EXIT
kmod_expect_idle
kmod_check_dmesg
kmod_say "passed"
