#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Random ioctls and mmaps against each device server (emucxl_ioctl_fuzz),
# then usage and sessions back to their start and the device still serving;
# vm/run fails the run on any kernel oops/BUG/WARN.
#
# Counts: 100,000 against the module on each kernel. The daemon is the same
# userspace program on both kernels and each CUSE round trip costs
# milliseconds under TCG, so it gets 50,000 on each kernel: 100,000 in all.
# EMUCXL_IOCTL_FUZZ_COUNT overrides both.
source "$(dirname "$0")/devices.lib"
fuzz() {
	local count=100000
	[[ $1 == cuse ]] && count=50000
	count=${EMUCXL_IOCTL_FUZZ_COUNT:-$count}
	"$b/emucxl_ioctl_fuzz" "$2" "$count" "0x${EMUCXL_VM_RELEASE//[^0-9]/}"
}
for_each_device "ioctl fuzz" fuzz
