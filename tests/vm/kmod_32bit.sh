#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kmod_32bit.sh (in the vm/ guest, both kernels): the kmod driver built for
# 32-bit x86 (tests/kmod/kmod32_offset_test.cpp, -m32, a 32-bit off_t) on
# the 64-bit module, through its compat ioctls: a session's handle 2^20 + h
# has an mmap offset that a 32-bit off_t wraps onto handle h's; the driver
# must refuse it with EOVERFLOW (and free it), and h's memory stays as it
# was. About a million ALLOC + FREE on one session to get there (handles are
# cyclic). Skips, saying so, when the build has no -m32 toolchain.
set -uo pipefail
# shellcheck source=tests/kmod/vm-lib.sh
source "$(dirname "$0")/../kmod/vm-lib.sh"

test=$EMUCXL_BUILD_DIR/tests/kmod/emucxl_kmod32_offset_test
kmod_setup --module-only
[[ -x $test ]] ||
  kmod_skip "no $test: the build found no -m32 toolchain (install gcc-multilib g++-multilib: tests/deps does) and did not build it"
t0=$SECONDS
EMUCXL_DEVICE=/dev/emucxl "$test"
rc=$?
kmod_say "32-bit driver test: exit $rc after $((SECONDS - t0)) s"
case $rc in
  0) ;;
  77) kmod_skip "the 32-bit test skipped itself (reason above)" ;;
  *) kmod_fail "the 32-bit kmod driver test failed" ;;
esac
kmod_expect_idle
kmod_check_dmesg
kmod_say "passed"
