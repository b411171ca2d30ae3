#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Transparent mode in the two-node guest, on every driver present (mbind;
# kmod and cuse when their device is there), both kernels: an unmodified
# python3 under `emucxlctl run`, its pages looked at from outside
# (move_pages on every page of its buffers, and /proc/PID/numa_maps):
#   --node remote       >= 90% of a 200 MiB bytearray's pages on node 1
#   --node local        >= 90% on node 0
#   --local-limit 64M   of 200 x 1 MiB bytearrays, 64 MiB on node 0 within 10%
# (A full remote node: preload_remote_full.sh.) 60-110 s a kernel under TCG.
set -uo pipefail
b=${EMUCXL_BUILD_DIR:?}
ctl=$b/apps/emucxlctl/emucxlctl
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tests=$here/../../apps/preload/tests
command -v python3 >/dev/null || { echo "SKIPPED: no python3 in this guest"; exit 77; }
# The interpreter itself: a wrapper script (pyenv's shims) would fork and
# exec processes of its own under the preload.
python=$(python3 -c 'import sys; print(sys.executable)')
[[ -x $ctl ]] || { echo "preload_placement: $ctl missing (build first)"; exit 1; }
if [[ $(cat /sys/devices/system/node/online) != 0-1 ]]; then
	echo "SKIPPED: needs the two-node guest (nodes online: $(cat /sys/devices/system/node/online))"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; [[ -n ${pid:-} ]] && kill "$pid" 2>/dev/null' EXIT
export EMUCXL_LOG=error
failed=0
fail() { echo "FAIL: $*"; failed=1; }

# placement DRIVER DEVICE POLICY COUNT SIZE_MIB: run the workload, print pages.py's line.
placement() {
	local driver=$1 dev=$2 policy=$3 count=$4 size=$5 i
	rm -f "$tmp/ranges"
	# shellcheck disable=SC2086
	EMUCXL_BACKEND=$driver EMUCXL_DEVICE=$dev "$ctl" run $policy -- \
		"$python" "$tests/workload.py" "$tmp/ranges" "$count" "$size" &
	pid=$!  # emucxlctl execs python3: the same process
	for ((i = 0; i < 600; i++)); do
		[[ -f $tmp/ranges ]] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if [[ ! -f $tmp/ranges ]]; then
		echo "workload did not start"
		kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
		return 1
	fi
	"$python" "$tests/pages.py" "$pid" "$tmp/ranges"
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
}

val() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$2"; }

for spec in mbind: kmod:/dev/emucxl cuse:/dev/emucxl-cuse; do
	driver=${spec%%:*} dev=${spec#*:}
	if [[ -n $dev && ! -c $dev ]]; then
		echo "preload_placement: $driver: $dev absent in this guest, not tested here"
		continue
	fi
	dev=${dev:-/dev/emucxl}
	for want in remote local; do
		node=$([[ $want == remote ]] && echo 1 || echo 0)
		r=$(placement "$driver" "$dev" "--node $want" 1 200) || { fail "$driver --node $want: $r"; continue; }
		total=$(val pages "$r") on=$(val "move_pages_n$node" "$r") nm=$(val "numa_maps_n$node" "$r")
		echo "$driver --node $want: $r"
		((on * 10 >= total * 9)) || fail "$driver --node $want: $on of $total pages on node $node (move_pages)"
		((nm * 10 >= total * 9)) || fail "$driver --node $want: $nm of $total pages on node $node (numa_maps)"
	done
	r=$(placement "$driver" "$dev" "--local-limit 64M" 200 1) || { fail "$driver --local-limit: $r"; continue; }
	echo "$driver --local-limit 64M: $r"
	local_mib=$(($(val move_pages_n0 "$r") * 4096 / 1048576))
	remote_mib=$(($(val move_pages_n1 "$r") * 4096 / 1048576))
	# 64 MiB within 10%: 57.6 .. 70.4 MiB of the 200 on node 0
	((local_mib * 10 >= 576 && local_mib * 10 <= 704)) ||
		fail "$driver --local-limit 64M: $local_mib MiB local, $remote_mib MiB remote"
	echo "$driver --local-limit 64M: $local_mib MiB local, $remote_mib MiB remote"
done

exit $failed
