#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kmod_abi.sh (in the vm/ guest): the raw ABI test (tests/abi/abi_test.cpp,
# its kmod part: Kmod/DeviceAbi.* on the mmap data plane, KmodAbi.*; the
# same suite runs on the daemon in cuse_abi.sh) and the kmod driver's test
# (tests/kmod/kmod_driver_test.cpp) with the module's default parameters,
# then the module's sysfs counters back at zero and a clean dmesg.
set -uo pipefail
# shellcheck source=tests/kmod/vm-lib.sh
source "$(dirname "$0")/../kmod/vm-lib.sh"

kmod_setup --need-abi-test
kmod_say "module parameters: $(kmod_params)"
EMUCXL_KMOD_DEVICE=/dev/emucxl "$KMOD_ABI_TEST" --gtest_color=no --require-device \
  --gtest_filter='Kmod/*:KmodAbi.*' || kmod_fail "emucxl_abi_test (kmod) failed"
if [[ -x $KMOD_DRIVER_TEST ]]; then
  "$KMOD_DRIVER_TEST" --gtest_color=no || kmod_fail "emucxl_kmod_driver_test failed"
else
  kmod_say "no $KMOD_DRIVER_TEST (libemucxl not built): driver test not run"
fi
kmod_expect_idle
kmod_check_dmesg
kmod_say "passed"
