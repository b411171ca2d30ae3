#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kmod_conformance.sh (in the vm/ guest): the driver conformance suite on
# EMUCXL_BACKEND=kmod, then the module idle again and a clean dmesg.
set -uo pipefail
# shellcheck source=tests/kmod/vm-lib.sh
source "$(dirname "$0")/../kmod/vm-lib.sh"

kmod_setup --module-only
suite=$EMUCXL_BUILD_DIR/tests/emucxl_conformance
[[ -x $suite ]] || kmod_skip "no $suite: build the tests (cmake --build $EMUCXL_BUILD_DIR)"
EMUCXL_BACKEND=kmod EMUCXL_DEVICE=/dev/emucxl EMUCXL_EXPECT_NUMA_NODES=${EMUCXL_EXPECT_NUMA_NODES:-2} \
  "$suite" --gtest_color=no || kmod_fail "conformance on kmod failed"
kmod_expect_idle
kmod_check_dmesg
kmod_say "passed"
