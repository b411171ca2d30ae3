#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cuse_differential.sh (in the vm/ guest): one operation sequence on the
# kernel module's /dev/emucxl and on emucxl-cused's device gives identical
# results (tests/cuse/cuse_diff_test.cpp). Needs emucxl.ko loaded (vm/run
# does when it is built); skips otherwise.
set -uo pipefail
# shellcheck source=tests/cuse/vm-lib.sh
source "$(dirname "$0")/../cuse/vm-lib.sh"

test=$CUSE_BIN/emucxl_cuse_diff_test
cuse_setup "$test" "$ABI_TEST"
[[ -c /dev/emucxl ]] ||
  cuse_skip "no /dev/emucxl: build emucxl.ko for $(uname -r) (backends/kmod/build-module) so vm/run loads it"
EMUCXL_KMOD_DEVICE=/dev/emucxl EMUCXL_DEVICE=$CUSE_DEV "$test" --gtest_color=no ||
  cuse_fail "kmod and cuse disagree"
cuse_expect_idle
cuse_check_dmesg
cuse_say "passed"
