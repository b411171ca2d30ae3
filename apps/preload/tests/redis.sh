#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# redis.sh EMUCXLCTL: Debian's redis-server, unmodified, under `emucxlctl run`
# serves the same data as without it. For each of plain (as Debian ships
# it), --node remote and --node local: start redis-server on a unix socket,
# load 20,000 strings, a 5,000-element list and a 2,000-field hash through
# redis-cli --pipe, overwrite and delete some, and compare DEBUG DIGEST (a
# hash of the whole data set) and DBSIZE with the plain run's. Also asserted:
# redis-benchmark's SET/GET complete with every command processed, the
# preload's --report shows no failed allocation, and, where node 1 is a
# separate node (the vm/ guest), >= 90% of redis' used_memory is on node 1
# under --node remote (from /proc/PID/numa_maps: an outside view).
# Driver: whatever EMUCXL_BACKEND selects (tests/vm/preload_redis.sh runs it
# on each in the guest). Skips (77) without redis-server/redis-tools.
set -uo pipefail
ctl=${1:?usage: redis.sh EMUCXLCTL}
for c in redis-server redis-cli redis-benchmark; do
	command -v "$c" >/dev/null || { echo "SKIPPED: no $c (Debian's redis-server, redis-tools)"; exit 77; }
done
tmp=$(mktemp -d)
server=
trap '[[ -n $server ]] && kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
sock=$tmp/redis.sock
export EMUCXL_LOG=error
fail() { echo "FAIL: $*"; [[ -s $tmp/redis.log ]] && tail -n 5 "$tmp/redis.log"; exit 1; }
separate=$("$ctl" info --json | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["remote_is_separate"]))') ||
	fail "emucxlctl info failed"

# The data set, as redis' inline protocol for --pipe: deterministic.
python3 - "$tmp/load.txt" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(20000):
        f.write(f"SET key:{i} {'v' * (i % 300)}{i}\r\n")
    for i in range(5000):
        f.write(f"RPUSH list item{i}\r\n")
    for i in range(2000):
        f.write(f"HSET hash field{i} {i * i}\r\n")
    for i in range(0, 20000, 7):
        f.write(f"SET key:{i} overwritten{i}\r\n")
    for i in range(0, 20000, 11):
        f.write(f"DEL key:{i}\r\n")
with open(sys.argv[1] + ".keys", "w") as f:  # strings left, the list, the hash
    print(20000 - len(range(0, 20000, 11)) + 2, file=f)
PY

start() {  # CONFIG
	local args=(redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --save ""
		--appendonly no --daemonize no --enable-debug-command local
		--logfile "$tmp/redis.log" --dir "$tmp") i
	rm -f "$sock" "$tmp/report" "$tmp/redis.log"
	case $1 in
	plain) "${args[@]}" & ;;
	remote | local) EMUCXL_PRELOAD_REPORT=$tmp/report "$ctl" run --node "$1" -- "${args[@]}" & ;;
	esac
	server=$!  # emucxlctl execs redis-server: the same process
	for ((i = 0; i < 600; i++)); do
		[[ -S $sock && $(redis-cli -s "$sock" ping 2>/dev/null) == PONG ]] && return 0
		kill -0 "$server" 2>/dev/null || break
		sleep 0.1
	done
	fail "redis-server ($1) did not start"
}

stop() {  # CONFIG
	redis-cli -s "$sock" shutdown nosave >/dev/null 2>&1
	wait "$server" 2>/dev/null
	server=
	if [[ $1 != plain ]] && ! grep -q '^emucxl-run: failures=0 ' "$tmp/report"; then
		fail "$1: the preload's report shows failed allocations: $(cat "$tmp/report")"
	fi
}

declare -A digest size
for c in plain remote local; do
	start "$c"
	out=$(redis-cli -s "$sock" --pipe <"$tmp/load.txt" 2>&1) || fail "$c: redis-cli --pipe: $out"
	grep -q 'errors: 0, replies: ' <<<"$out" || fail "$c: --pipe reported errors: $out"
	digest[$c]=$(redis-cli -s "$sock" debug digest)
	size[$c]=$(redis-cli -s "$sock" dbsize)
	echo "$c: dbsize ${size[$c]}, digest ${digest[$c]}"
	out=$(redis-benchmark -s "$sock" -n 5000 -t set,get -r 10000 -d 64 -q --csv) ||
		fail "$c: redis-benchmark failed"
	n=$(redis-cli -s "$sock" info stats | sed -n 's/^total_commands_processed:\([0-9]*\).*/\1/p')
	((n >= 10000)) || fail "$c: redis-benchmark: only $n commands processed: $out"
	if [[ $c == remote && $separate == 1 ]]; then
		used=$(redis-cli -s "$sock" info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
		n1=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^N1=/) s += substr($i, 4) } END { print s + 0 }' \
			"/proc/$server/numa_maps")
		echo "remote: used_memory $((used >> 10)) KiB, $((n1 * 4)) KiB of redis' pages on node 1"
		((n1 * 4096 * 10 >= used * 9)) || fail "remote: under 90% of used_memory on node 1"
	fi
	stop "$c"
done
[[ ${size[plain]} == "$(<"$tmp/load.txt.keys")" ]] ||
	fail "plain run: dbsize ${size[plain]}, expected $(<"$tmp/load.txt.keys")"
for c in remote local; do
	[[ ${digest[$c]} == "${digest[plain]}" && ${size[$c]} == "${size[plain]}" ]] ||
		fail "--node $c: the data set differs from the plain run's"
done
echo "redis under emucxlctl run: the same data set as plain redis (remote_is_separate=$separate): passed"
