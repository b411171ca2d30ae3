#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cuse_abi.sh (in the vm/ guest): emucxl-cused's device ABI, raw
# (tests/abi/abi_test.cpp, its cuse part: Cuse/DeviceAbi.* on the memfd
# data plane, CuseAbi.*; the same suite runs on the module in kmod_abi.sh),
# the daemon's semantics in-process
# (cused_device_test.cpp) and the cuse driver (cuse_driver_test.cpp); a
# client SIGKILLed while holding memory; the same ABI test against a second
# daemon in CUSE's unrestricted ioctl mode. The daemon idle after each.
set -uo pipefail
# shellcheck source=tests/cuse/vm-lib.sh
source "$(dirname "$0")/../cuse/vm-lib.sh"

abi=$ABI_TEST
abi_filter='Cuse/*:CuseAbi.*'
cuse_setup "$abi" "$CUSE_BIN/emucxl_cused_device_test" "$CUSE_BIN/emucxl_cuse_driver_test"
cuse_expect_idle

EMUCXL_CUSE_DEVICE=$CUSE_DEV "$abi" --gtest_color=no --require-device --gtest_filter="$abi_filter" ||
  cuse_fail "emucxl_abi_test (cuse) failed"
cuse_expect_idle
"$CUSE_BIN/emucxl_cused_device_test" --gtest_color=no || cuse_fail "emucxl_cused_device_test failed"
EMUCXL_DEVICE=$CUSE_DEV "$CUSE_BIN/emucxl_cuse_driver_test" --gtest_color=no ||
  cuse_fail "emucxl_cuse_driver_test failed"
cuse_expect_idle

# A client killed with SIGKILL while it holds mapped memory.
out=$(mktemp)
EMUCXL_DEVICE=$CUSE_DEV "$abi" --hold 48 1 >"$out" 2>&1 &
holder=$!
for _ in $(seq 100); do
  grep -q held "$out" && break
  kill -0 "$holder" 2>/dev/null || break
  sleep 0.1
done
grep -q held "$out" || { cat "$out"; cuse_fail "the holder did not start"; }
if EMUCXL_DEVICE=$CUSE_DEV "$abi" --expect-idle >/dev/null 2>&1; then
  cuse_fail "the daemon looks idle while a client holds 48 MiB"
fi
kill -KILL "$holder"
wait "$holder" 2>/dev/null
rm -f "$out"
cuse_expect_idle
cuse_say "SIGKILLed client: the daemon's usage went back to zero: ok"

# CUSE's unrestricted ioctls (fuse_reply_ioctl_retry): the same suite.
udev=/dev/emucxl-cuse-unrestricted
"$CUSED" -f --name "${udev#/dev/}" --unrestricted-ioctl </dev/null &
upid=$!
cuse_wait_dev "$udev" || cuse_fail "no $udev from $CUSED --unrestricted-ioctl"
EMUCXL_CUSE_DEVICE=$udev "$abi" --gtest_color=no --require-device --gtest_filter="$abi_filter" ||
  cuse_fail "emucxl_abi_test (cuse) on $udev failed"
cuse_expect_idle "$udev"
kill -TERM "$upid"
wait "$upid"
rc=$?
[[ $rc == 0 ]] || cuse_fail "emucxl-cused --unrestricted-ioctl exited $rc on SIGTERM"
[[ -e $udev ]] && cuse_fail "$udev outlived its daemon"
cuse_say "unrestricted ioctls: same results; SIGTERM: exit 0, device gone: ok"

cuse_expect_idle
cuse_check_dmesg
cuse_say "passed"
