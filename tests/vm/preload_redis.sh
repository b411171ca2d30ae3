#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# preload_redis.sh: Debian's redis-server, unmodified, under `emucxlctl run`
# in the two-node guest, on every driver whose device is there (mbind, kmod,
# cuse), on the 6.12 kernel: the same data set as plain redis (DEBUG DIGEST),
# redis-benchmark complete, no failed allocation, and >= 90% of redis'
# used_memory on node 1 under --node remote (numa_maps).
# apps/preload/tests/redis.sh does the work; ~30 s a driver under TCG.
set -uo pipefail
b=${EMUCXL_BUILD_DIR:?}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/one_kernel.lib"
only_on_6_12 "an unmodified redis above the preload, 113 s under TCG"
if [[ $(cat /sys/devices/system/node/online) != 0-1 ]]; then
	echo "SKIPPED: needs the two-node guest (nodes online: $(cat /sys/devices/system/node/online))"
	exit 77
fi
rc=0 ran=0
for d in mbind:"" kmod:/dev/emucxl cuse:/dev/emucxl-cuse; do
	driver=${d%%:*} dev=${d#*:}
	if [[ -n $dev && ! -c $dev ]]; then
		echo "$driver: skipped: $dev absent in this guest (its server is not built)"
		continue
	fi
	echo "== $driver"
	EMUCXL_BACKEND=$driver EMUCXL_DEVICE=${dev:-/dev/emucxl} \
		"$here/../../apps/preload/tests/redis.sh" "$b/apps/emucxlctl/emucxlctl"
	case $? in
	0) ran=$((ran + 1)) ;;
	77) echo "SKIPPED: redis.sh skipped (no redis in this guest)"; exit 77 ;;
	*) rc=1 ;;
	esac
done
((ran > 0 || rc)) || { echo "SKIPPED: no driver could run"; exit 77; }
exit $rc
