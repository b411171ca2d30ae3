#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cuse_daemon.sh (in the vm/ guest): emucxl-cused as a process
# (tests/cuse/cuse_daemon_test.cpp, on private daemons): options, SIGTERM,
# the daemon killed under a client (errors within 5 s, never a hang),
# garbage ioctls, unrestricted ioctls. The shared daemon is not touched, and
# is checked idle afterwards.
set -uo pipefail
# shellcheck source=tests/cuse/vm-lib.sh
source "$(dirname "$0")/../cuse/vm-lib.sh"

test=$CUSE_BIN/emucxl_cuse_daemon_test
cuse_setup "$test" "$ABI_TEST"
EMUCXL_CUSED=$CUSED "$test" --gtest_color=no || cuse_fail "emucxl_cuse_daemon_test failed"
# No private daemon may be left behind.
if leftover=$(ls /dev/emucxl-t* 2>/dev/null) && [[ -n $leftover ]]; then
  cuse_fail "devices of private daemons are still there: $leftover"
fi
cuse_expect_idle
cuse_check_dmesg
cuse_say "passed"
