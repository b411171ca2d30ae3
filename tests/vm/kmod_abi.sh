#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kmod_abi.sh (in the vm/ guest): the raw ABI test of emucxl.ko
# (tests/kmod/kmod_abi_test.cpp) with the module's default parameters, then
# the module's sysfs counters back at zero and a clean dmesg.
set -uo pipefail
# shellcheck source=tests/kmod/vm-lib.sh
source "$(dirname "$0")/../kmod/vm-lib.sh"

kmod_setup --need-abi-test
kmod_say "module parameters: $(kmod_params)"
"$KMOD_ABI_TEST" --gtest_color=no || kmod_fail "emucxl_kmod_abi_test failed"
kmod_expect_idle
kmod_check_dmesg
kmod_say "passed"
