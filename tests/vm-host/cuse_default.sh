#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cuse_default.sh (host side, run by tests/run-all's vm stage; one boot of
# the default kernel, 6.1, without emucxl.ko): with only vm/run's daemon on
# /dev/emucxl-cuse and no EMUCXL_DEVICE, EMUCXL_BACKEND=auto picks the cuse
# driver (it used to fall through to mbind silently) and so does
# EMUCXL_BACKEND=cuse. Exit 0 pass, 1 fail, 77 skip (reason last).
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${EMUCXL_BUILD_DIR:-$repo/build}
ctl=$build/apps/emucxlctl/emucxlctl
[[ -x $build/backends/cuse/emucxl-cused ]] || { echo "cuse_default: emucxl-cused not built in $build"; exit 77; }
[[ -x $ctl ]] || { echo "cuse_default: emucxlctl not built in $build"; exit 77; }

out=$(env -u EMUCXL_DEVICE -u EMUCXL_BACKEND "$repo/vm/run" --no-kmod --timeout 300 -- \
	sh -c "EMUCXL_BACKEND=auto '$ctl' info | head -n1; EMUCXL_BACKEND=cuse '$ctl' info | head -n1" 2>&1)
rc=$?
((rc == 0)) || { echo "$out"; echo "cuse_default: FAILED: vm/run exit $rc"; exit 1; }
n=$(grep -c '^driver: *cuse$' <<<"$out")
((n == 2)) || { echo "$out"; echo "cuse_default: FAILED: expected 'driver: cuse' from auto and from cuse, got $n"; exit 1; }
echo "cuse_default: auto and cuse find vm/run's daemon on /dev/emucxl-cuse without EMUCXL_DEVICE: passed"
