#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# vm_shell.sh (host side, run by tests/run-all's vm stage; one boot of the
# default kernel, 6.1, without the drivers): vm/shell driven by a here-doc.
#   - the first command arrives whole (the console used to drop its first
#     4 bytes), every later one too, in order;
#   - the output is clean: LF line ends, no echoed commands, no
#     bracketed-paste or other terminal escapes;
#   - the exit status is the shell's;
#   - a program on a PATH directory under the host's /tmp (which the guest
#     mounts afresh) is found, and vm/run says that it shares that directory.
# Exit 0 pass, 1 fail.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/emucxl-vm-shell.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
fail() { echo "vm_shell: FAILED: $*"; echo "--- output:"; cat -A "$scratch/out" | head -40
	 echo "--- vm/run's messages:"; cat "$scratch/err"; exit 1; }

mkdir "$scratch/bin"
printf '#!/bin/sh\necho "HELLO FROM $(basename "$0")"\n' >"$scratch/bin/emucxl-hidden-hello"
chmod +x "$scratch/bin/emucxl-hidden-hello"

rc=0
PATH=$scratch/bin:$PATH "$repo/vm/shell" --no-kmod --no-cused --timeout 300 \
	>"$scratch/out" 2>"$scratch/err" <<'SH' || rc=$?
123456789; echo ONE
emucxl-hidden-hello
echo "TWO $((6 * 7))"
exit 3
SH

((rc == 3)) || fail "exit status $rc, expected 3 (the shell's)"
grep -q '123456789: command not found' "$scratch/out" ||
	fail "the first command did not arrive whole (no '123456789: command not found')"
# The command lines' own output, in order, each line whole.
got=$(grep -E '^(ONE|HELLO FROM .*|TWO .*)$' "$scratch/out" | tr '\n' '|')
[[ $got == "ONE|HELLO FROM emucxl-hidden-hello|TWO 42|" ]] ||
	fail "expected ONE, HELLO FROM emucxl-hidden-hello, TWO 42 in order; got '$got'"
grep -q $'\r' "$scratch/out" && fail "CR line ends in the output"
grep -q $'\e' "$scratch/out" && fail "terminal escape sequences in the output"
grep -q 'echo ONE\|echo "TWO' "$scratch/out" && fail "the commands were echoed"
grep -q "sharing $scratch/bin" "$scratch/err" ||
	fail "vm/run did not say that it shares the hidden PATH directory $scratch/bin"
echo "vm_shell: here-doc input whole and in order, clean output, exit status, hidden PATH directory shared: passed"
