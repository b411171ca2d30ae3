#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cuse_attacks.sh (in the vm/ guest, both kernels): hostile clients against
# private emucxl-cused daemons (tests/cuse/cuse_attack_test.cpp): pages kept
# after FREE through a late write seal, the memfd inode lock held across
# ALLOC and FREE, requests in flight, vm.max_map_count exhaustion by one uid,
# quotas, one capacity per physical node, a thread with its own fd table,
# descriptor N swapped between a victim and its inode-number twin while
# ALLOC runs, a failed reply to OPEN (fault injected into the daemon).
# Each checks that the attacker fails and another uid is still served. The
# shared daemon is not touched, and is checked idle afterwards.
set -uo pipefail
# shellcheck source=tests/cuse/vm-lib.sh
source "$(dirname "$0")/../cuse/vm-lib.sh"

test=$CUSE_BIN/emucxl_cuse_attack_test
cuse_setup "$test" "$ABI_TEST"
EMUCXL_CUSED=${EMUCXL_ATTACK_CUSED:-$CUSED} "$test" --gtest_color=no ||
  cuse_fail "emucxl_cuse_attack_test failed"
if leftover=$(ls /dev/emucxl-t* 2>/dev/null) && [[ -n $leftover ]]; then
  cuse_fail "devices of private daemons are still there: $leftover"
fi
cuse_expect_idle
cuse_check_dmesg
cuse_say "passed"
