#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/vm/devices.sh (runs inside the vm/ guest, from vm/test-suite):
# robustness of every device server present - the kernel module at
# /dev/emucxl and the CUSE daemon at /dev/emucxl-cuse:
#   - 100,000 random ioctls and mmaps (emucxl_ioctl_fuzz), then usage back to
#     its start and the device still serving;
#   - 100 clients SIGKILLed while allocating/migrating/freeing (emucxl_kill_test);
#   - thread stress, 10M-cycle endurance and two processes sharing the
#     device (emucxl_stress).
# The kernel side is checked by vm/run: any oops/BUG/WARN fails the run.
set -uo pipefail
b=${EMUCXL_BUILD_DIR:?}/tests
fuzz_count=${EMUCXL_IOCTL_FUZZ_COUNT:-100000}
failed=0 ran=0

check() {  # NAME COMMAND...
	local name=$1; shift
	local t0=$SECONDS
	if "$@"; then
		echo "devices: $name: passed ($((SECONDS - t0)) s)"
	else
		echo "devices: $name: FAILED ($((SECONDS - t0)) s)"
		failed=1
	fi
}

for dev in /dev/emucxl:kmod /dev/emucxl-cuse:cuse; do
	path=${dev%%:*} driver=${dev##*:}
	if [[ ! -c $path ]]; then
		echo "devices: $driver: $path absent in this guest, not tested here"
		continue
	fi
	ran=1
	export EMUCXL_BACKEND=$driver EMUCXL_DEVICE=$path EMUCXL_LOG=error
	check "$driver ioctl fuzz ($fuzz_count)" "$b/emucxl_ioctl_fuzz" "$path" "$fuzz_count"
	check "$driver kill test" "$b/emucxl_kill_test"
	check "$driver stress" "$b/emucxl_stress"
done
if ((!ran)); then
	echo "SKIPPED: no emucxl device in this guest (neither emucxl.ko nor emucxl-cused is built)"
	exit 77
fi
exit $failed
