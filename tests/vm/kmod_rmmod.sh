#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kmod_rmmod.sh (in the vm/ guest): emucxl.ko cannot be removed while a
# client holds the device (an open descriptor, or only a mapping of it), can
# be once the clients are gone (also when killed with SIGKILL), frees
# everything they held, and loads again. Leaves the module loaded as found.
set -uo pipefail
# shellcheck source=tests/kmod/vm-lib.sh
source "$(dirname "$0")/../kmod/vm-lib.sh"

kmod_setup --need-abi-test
kmod_expect_idle

# 1. An open descriptor pins the module.
exec 3<>/dev/emucxl || kmod_fail "cannot open /dev/emucxl"
[[ $(kmod_counter sessions) == 1 ]] || kmod_fail "sessions is $(kmod_counter sessions), expected 1"
if rmmod emucxl 2>/dev/null; then
  kmod_fail "rmmod succeeded while /dev/emucxl was open"
fi
kmod_loaded || kmod_fail "the module is gone although rmmod failed"
exec 3>&-
kmod_say "rmmod refused while a descriptor was open: ok"

# 2. A mapping alone (descriptor closed) pins it too; SIGKILL frees it.
hold_out=$(mktemp)
"$KMOD_ABI_TEST" --hold 32 1 --close-fd >"$hold_out" 2>&1 &
holder=$!
for _ in $(seq 100); do
  grep -q held "$hold_out" && break
  kill -0 "$holder" 2>/dev/null || break
  sleep 0.1
done
grep -q held "$hold_out" || { cat "$hold_out"; kmod_fail "the holder did not start"; }
[[ $(kmod_counter node1/allocated) == $((32 << 20)) ]] ||
  kmod_fail "node1/allocated is $(kmod_counter node1/allocated), expected 32 MiB"
if rmmod emucxl 2>/dev/null; then
  kmod_fail "rmmod succeeded while a process still mapped the device"
fi
kill -KILL "$holder"
wait "$holder" 2>/dev/null
rm -f "$hold_out"
kmod_expect_idle
kmod_say "rmmod refused while only a mapping was left; SIGKILL freed it: ok"

# 3. No clients: rmmod succeeds and takes the device with it.
rmmod emucxl || kmod_fail "rmmod failed with no clients"
kmod_loaded && kmod_fail "the module is still loaded after rmmod"
[[ -e /dev/emucxl ]] && kmod_fail "/dev/emucxl is still there after rmmod"
[[ -e $KMOD_SYSFS ]] && kmod_fail "$KMOD_SYSFS is still there after rmmod"
kmod_say "rmmod with no clients: ok"

# 4. And it loads again, idle.
kmod_restore
kmod_expect_idle
kmod_check_dmesg
kmod_say "passed"
