#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cuse_conformance.sh (in the vm/ guest): the driver conformance suite on
# EMUCXL_BACKEND=cuse (placement checked from outside with move_pages), then
# the daemon idle again and a clean dmesg.
set -uo pipefail
# shellcheck source=tests/cuse/vm-lib.sh
source "$(dirname "$0")/../cuse/vm-lib.sh"

suite=$EMUCXL_BUILD_DIR/tests/emucxl_conformance
cuse_setup "$suite" "$ABI_TEST"
EMUCXL_BACKEND=cuse EMUCXL_DEVICE=$CUSE_DEV EMUCXL_EXPECT_NUMA_NODES=${EMUCXL_EXPECT_NUMA_NODES:-2} \
  "$suite" --gtest_color=no || cuse_fail "conformance on cuse failed"
cuse_expect_idle
cuse_check_dmesg
cuse_say "passed"
