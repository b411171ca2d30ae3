#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Transparent mode on every driver present in the guest (mbind; kmod and
# cuse when their device is there), both kernels: the preload's own tests
# under LD_PRELOAD (malloc family, foreign pointers, threads, fork: a child
# keeps a copy of its heap, on kmod and cuse too), a shell whose children
# use their inherited heap, and sort of a 300,000-line file byte for byte,
# all with the heap on node 1. About 30 s a kernel.
set -uo pipefail
b=${EMUCXL_BUILD_DIR:?}
ctl=$b/apps/emucxlctl/emucxlctl
so=$b/apps/preload/libemucxl-preload.so
t=$b/apps/preload/tests/emucxl_preload_test
for f in "$ctl" "$so" "$t"; do
	[[ -e $f ]] || { echo "preload_drivers: $f missing (build first)"; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export EMUCXL_LOG=error
awk 'BEGIN { srand(14); for (i = 0; i < 300000; i++) printf "%08x %d\n", int(rand() * 4294967295), i }' >"$tmp/lines"
sort "$tmp/lines" >"$tmp/plain"
failed=0
fail() { echo "FAIL: $*"; failed=1; }
for spec in mbind: kmod:/dev/emucxl cuse:/dev/emucxl-cuse; do
	driver=${spec%%:*} dev=${spec#*:}
	if [[ -n $dev && ! -c $dev ]]; then
		echo "preload_drivers: $driver: $dev absent in this guest, not tested here"
		continue
	fi
	export EMUCXL_BACKEND=$driver EMUCXL_DEVICE=${dev:-/dev/emucxl}
	LD_PRELOAD=$so EMUCXL_PRELOAD_NODE=remote "$t" --gtest_brief=1 \
		--gtest_filter='Basic.*:Foreign.*:Threads.*:Fork.*:PolicyRemote.*' ||
		fail "$driver: preload tests"
	out=$("$ctl" run --node remote -- sh -c 'x=$(echo hi); echo "$x" | tr a-z A-Z | cat')
	[[ $out == HI ]] || fail "$driver: sh under the preload printed '$out'"
	"$ctl" run --node remote --report -- sort "$tmp/lines" >"$tmp/out" 2>"$tmp/err" ||
		fail "$driver: sort exited non-zero"
	cmp -s "$tmp/plain" "$tmp/out" || fail "$driver: sort output differs"
	grep '^emucxl-run: node=remote' "$tmp/err"
	echo "preload_drivers: $driver: done"
done
exit $failed
