#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kmod_attacks.sh (in the vm/ guest, both kernels): hostile clients against
# emucxl.ko (tests/kmod/kmod_attack_test.cpp):
#   - loaded with local_node == remote_node (64 and 48 MiB) and
#     max_handles=2000: the two logical nodes share one physical capacity
#     (64 MiB, not 112), a file cannot hold more than 2000 handles (EDQUOT),
#     and another client is served throughout;
#   - with the default parameters: EXIT of 40,000 one-page handles, all on
#     one CPU with an observer thread: the observer's STATS/mmap on another
#     session and its mmap on the session being dropped keep completing
#     (EXIT reschedules and does not hold the session's lock throughout).
# Then counters at zero and a clean dmesg (no soft lockup). Leaves the
# module loaded as found.
set -uo pipefail
# shellcheck source=tests/kmod/vm-lib.sh
source "$(dirname "$0")/../kmod/vm-lib.sh"

test=$EMUCXL_BUILD_DIR/tests/kmod/emucxl_kmod_attack_test
kmod_setup --module-only
[[ -x $test ]] || kmod_skip "no $test: build the tests (cmake --build $EMUCXL_BUILD_DIR)"
trap kmod_restore EXIT
local_nid=$(<"$KMOD_PARAMS_DIR/local_node")

kmod_reload local_node="$local_nid" remote_node="$local_nid" local_capacity_mb=64 \
  remote_capacity_mb=48 max_handles=2000
# (EXIT of many handles wants more than 2000 of them: below, with the defaults.)
"$test" --gtest_color=no --gtest_filter='-KmodAttack.ExitOfManyHandles*' ||
  kmod_fail "attacks with one physical node and max_handles=2000"
kmod_expect_idle
kmod_say "one physical node, one capacity; 2000 handles per file: ok"

kmod_restore
"$test" --gtest_color=no --gtest_filter='KmodAttack.ExitOfManyHandles*' ||
  kmod_fail "EXIT of many handles with the default parameters"
kmod_expect_idle
trap - EXIT
kmod_check_dmesg
kmod_say "passed"
