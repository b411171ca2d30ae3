#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Transparent mode with the remote node full, in the guest, 6.12 only (it
# fills node 1's 1 GiB twice: ~60 s under TCG; the behaviour is the
# preload's, the same on every driver and kernel, so mbind on one kernel):
# python3 under `emucxlctl run --node remote` asks for 1.25 GiB in 64 MiB
# chunks. --remote-full fallback: all 20 fit, the rest placed on local and
# counted (fallbacks > 0, failures 0, one warning); --remote-full fail: the
# allocation fails once remote is full (MemoryError in Python), counted.
set -uo pipefail
b=${EMUCXL_BUILD_DIR:?}
ctl=$b/apps/emucxlctl/emucxlctl
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tests=$here/../../apps/preload/tests
source "$here/one_kernel.lib"
only_on_6_12 "the preload's fallback, the same on every kernel"
command -v python3 >/dev/null || { echo "SKIPPED: no python3 in this guest"; exit 77; }
python=$(python3 -c 'import sys; print(sys.executable)')
[[ -x $ctl ]] || { echo "preload_remote_full: $ctl missing (build first)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export EMUCXL_LOG=error
val() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$2"; }
failed=0
for mode in fallback fail; do
	EMUCXL_BACKEND=mbind "$ctl" run --node remote --remote-full "$mode" --report -- \
		"$python" "$tests/workload.py" --fill 64 1280 >"$tmp/out" 2>"$tmp/err"
	rc=$?
	summary=$(grep '^emucxl-run: failures' "$tmp/err" | tail -n1)
	echo "remote full, $mode: exit $rc, $(cat "$tmp/out"); $summary"
	fallbacks=$(val fallbacks "$summary") failures=$(val failures "$summary")
	case $mode in
	fallback)
		((rc == 0)) && grep -q "allocated 20 chunks" "$tmp/out" &&
			((${fallbacks:-0} > 0 && ${failures:-1} == 0)) &&
			grep -q "remote node is full" "$tmp/err" ||
			{ echo "FAIL: fallback"; cat "$tmp/err"; failed=1; } ;;
	fail)
		((rc == 0)) && grep -q "MemoryError" "$tmp/out" &&
			((${failures:-0} > 0 && ${fallbacks:-1} == 0)) ||
			{ echo "FAIL: fail"; cat "$tmp/err"; failed=1; } ;;
	esac
done
exit $failed
