#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Unmodified programs under `emucxlctl run` on the host (mbind; on this
# one-node host both tiers are node 0, so this checks correctness and that
# the heap really came from emucxl, not placement: tests/vm/preload_*.sh do
# that in the two-node guest). Usage: programs.sh EMUCXLCTL PRELOAD_SO
set -uo pipefail
ctl=$1 so=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
pass() { echo "ok: $*"; }
export EMUCXL_LOG=error

# A report line's value: field NODE KEY FILE (NODE "-" for the summary line).
field() {
	if [[ $1 == - ]]; then
		sed -n "s/^emucxl-run: failures=.* $2=\([0-9]*\).*/\1/p; s/^emucxl-run: \($2\)=\([0-9]*\).*/\2/p" "$3" | head -1
	else
		sed -n "s/^emucxl-run: node=$1 .*$2=\([0-9-]*\).*/\1/p" "$3" | head -1
	fi
}

# ---- sort of a 300,000-line file: byte-identical output ----------------------
python3 -c '
import random
r = random.Random(14)
for i in range(300000):
    print("%08x %s" % (r.getrandbits(32), "x" * r.randrange(0, 40)))' >"$tmp/lines"
sort "$tmp/lines" >"$tmp/sort.plain"
for policy in "--node remote" "--node local" "--local-limit 8M" "--interleave 1:2" "--min-size 64K"; do
	# shellcheck disable=SC2086
	if ! "$ctl" run $policy --report -- sort "$tmp/lines" >"$tmp/sort.out" 2>"$tmp/sort.err"; then
		fail "sort under $policy exited non-zero"; cat "$tmp/sort.err"; continue
	fi
	cmp -s "$tmp/sort.plain" "$tmp/sort.out" || { fail "sort under $policy: output differs"; continue; }
	placed=$(( $(field local placed_bytes "$tmp/sort.err") + $(field remote placed_bytes "$tmp/sort.err") ))
	size=$(stat -c %s "$tmp/lines")
	# sort reads the whole file into its heap: at least that much came from emucxl
	((placed >= size)) || fail "sort under $policy: only $placed bytes placed on emucxl (file: $size)"
	[[ $(field - failures "$tmp/sort.err") == 0 ]] || fail "sort under $policy: failures in the report"
	case $policy in
	"--node remote") (($(field local placed_bytes "$tmp/sort.err") == 0)) || fail "node remote placed bytes locally" ;;
	"--node local") (($(field remote placed_bytes "$tmp/sort.err") == 0)) || fail "node local placed bytes remotely" ;;
	"--local-limit 8M") (($(field local peak_bytes "$tmp/sort.err") <= 8 << 20)) ||
		fail "local-limit 8M: local peak $(field local peak_bytes "$tmp/sort.err")" ;;
	esac
	pass "sort, $policy: identical, $placed bytes placed"
done

# ---- python3 building and summing a large list ------------------------------------
py='
import hashlib
l = [i * i % 1000003 for i in range(2_000_000)]
s = [str(x) for x in l[:300_000]]
d = {x: len(x) for x in s}
print(sum(l), len(d), sum(d.values()))
print(hashlib.sha256(",".join(s).encode()).hexdigest())'
# The interpreter itself, not a wrapper script (pyenv's shims are bash
# scripts: each of their processes would write a report of its own).
python=$(python3 -c 'import sys; print(sys.executable)')
"$python" -c "$py" >"$tmp/py.plain" || fail "plain python3 failed"
for env in "" "PYTHONMALLOC=malloc"; do
	for policy in "--node remote" "--local-limit 16M"; do
		# shellcheck disable=SC2086
		if ! env $env "$ctl" run $policy --report -- "$python" -c "$py" >"$tmp/py.out" 2>"$tmp/py.err"; then
			fail "python3 ${env:+($env) }under $policy exited non-zero"; cat "$tmp/py.err"; continue
		fi
		placed=$(( $(field local placed_bytes "$tmp/py.err") + $(field remote placed_bytes "$tmp/py.err") ))
		if ! cmp -s "$tmp/py.plain" "$tmp/py.out"; then
			fail "python3 ${env:+($env) }under $policy: output differs"
		elif ((placed < 16000000)); then  # the list's item array alone is 16 MB
			fail "python3 ${env:+($env) }under $policy: only $placed bytes placed"
		else
			pass "python3 ${env:+($env) }$policy: identical, $placed bytes placed"
		fi
	done
done

# ---- fork: a shell whose children use the heap they inherited --------------------
out=$("$ctl" run --node remote -- sh -c 'x=$(echo hi); echo "$x" | tr a-z A-Z | cat')
if [[ $out == HI ]]; then pass "sh with \$(...) and a pipeline"; else fail "sh under the preload printed '$out'"; fi

# ---- errors: exit status 2 for a bad policy, from the wrapper and the preload ------
for bad in "--node mid" "--local-limit 0" "--local-limit 12Q" "--interleave 0:0" "--interleave 3" \
	"--min-size -1" "--node local --min-size 4K" "--remote-full maybe" ""; do
	# shellcheck disable=SC2086
	"$ctl" run $bad ${bad:+--} ${bad:+true} 2>"$tmp/err"
	rc=$?
	if ((rc == 2)) && grep -q "emucxlctl run:" "$tmp/err"; then
		pass "bad '$bad': exit 2"
	else
		fail "bad '$bad': exit $rc, $(head -1 "$tmp/err")"
	fi
done
EMUCXL_PRELOAD_NODE=far LD_PRELOAD=$so /bin/true 2>"$tmp/err"
rc=$?
((rc == 2)) && grep -q EMUCXL_PRELOAD_NODE "$tmp/err" && pass "bad environment: exit 2" ||
	fail "bad EMUCXL_PRELOAD_NODE under LD_PRELOAD: exit $rc"
EMUCXL_PRELOAD_NODE=local EMUCXL_PRELOAD_MIN_SIZE=1K LD_PRELOAD=$so /bin/true 2>"$tmp/err"
(($? == 2)) && pass "two policies in the environment: exit 2" || fail "two policies: not exit 2"
"$ctl" run -- /nonexistent/program 2>/dev/null
(($? == 127)) && pass "missing command: 127" || fail "missing command: not 127"
EMUCXL_BACKEND=kmod EMUCXL_DEVICE=/nonexistent "$ctl" run -- true 2>"$tmp/err"
(($? == 1)) && pass "driver that cannot start: exit 1" || fail "unavailable driver: not exit 1"
"$ctl" run --node local -- sh -c 'exit 7'
(($? == 7)) && pass "the command's exit status" || fail "exit status not passed through"

echo "programs.sh: $fails failed"
((fails == 0))
