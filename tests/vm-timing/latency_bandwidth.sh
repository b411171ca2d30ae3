#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# latency_bandwidth.sh (in the vm/ guest booted with --cxl-timing or
# --cxl-profile): the timing model, checked by an independent observer.
# emucxl-memlat chases pointers through 128 MiB and streams over it on each
# node, through the emucxl API, timing only its own loops, the nodes' reps
# interleaved (the host's speed drifts; both nodes see the same drift). Asserted (the
# issue's targets, as a benchmark-style check on medians):
#   - dependent-load latency node1/node0 = REMOTE_NS/LOCAL_NS within +-10%;
#   - streaming read on node 1 = REMOTE_GBS within +-15%, when REMOTE_GBS is
#     below what TCG itself reaches on node 0 (else the model cannot be seen);
#   - node 0's streaming read is not slowed by node 1's setting: at least
#     60% of what the calibration boot measured with nothing injected, and
#     1.5x REMOTE_GBS (see below why not closer);
#   - ACPI HMAT in sysfs carries the profile's latencies and bandwidths.
# Run by tests/run-all's timing stage on kernel 6.12 (one boot, EMUCXL_BACKEND
# mbind: the model sits below every driver, in guest-physical memory).
set -uo pipefail

if [[ -z ${EMUCXL_TIMING:-} ]]; then
  echo "latency_bandwidth: skipped: the guest runs without a timing profile (vm/run --cxl-timing)"
  exit 77
fi
memlat=$EMUCXL_BUILD_DIR/apps/memlat/emucxl-memlat
[[ -x $memlat ]] || { echo "latency_bandwidth: $memlat is not built"; exit 1; }

# shellcheck disable=SC2086  # EMUCXL_TIMING is "key=value ..." by design
declare -A t
for kv in $EMUCXL_TIMING; do t[${kv%%=*}]=${kv#*=}; done
echo "timing: $EMUCXL_TIMING"

fail=0
check() {  # NAME MEASURED EXPECTED TOLERANCE(fraction)
  if awk -v m="$2" -v e="$3" -v tol="$4" 'BEGIN { d = m / e - 1; if (d < 0) d = -d; exit !(d <= tol) }'; then
    printf 'ok    %-34s measured %-10s expected %s (+-%s)\n' "$1" "$2" "$3" "$4"
  else
    printf 'FAIL  %-34s measured %-10s expected %s (+-%s)\n' "$1" "$2" "$3" "$4"
    fail=1
  fi
}

# HMAT: latency in ns; bandwidth in MB/s, as QEMU rounds it into HMAT's
# units (vm/timing.sh): compare within 1%.
hmat=/sys/devices/system/node/node%d/access0/initiators/%s
for n in 0 1; do
  if ((n == 0)); then lat=${t[local_ns]} gbs=${t[local_gbs]}; else lat=${t[remote_ns]} gbs=${t[remote_gbs]}; fi
  # shellcheck disable=SC2059
  f=$(printf "$hmat" "$n" read_latency)
  [[ -r $f ]] || { echo "FAIL  no HMAT in sysfs: $f missing"; fail=1; continue; }
  check "HMAT node$n read_latency (ns)" "$(<"$f")" "$(awk -v x="$lat" 'BEGIN { printf "%d", x + 0.5 }')" 0
  # shellcheck disable=SC2059
  check "HMAT node$n read_bandwidth (MB/s)" "$(<"$(printf "$hmat" "$n" read_bandwidth)")" \
    "$(awk -v x="$gbs" 'BEGIN { print x * 1000 }')" 0.01
done

out=$(EMUCXL_BACKEND=mbind "$memlat" --mib 128 --loads 1000000 --reps 5 --json) ||
  { echo "FAIL  emucxl-memlat failed"; exit 1; }
echo "$out"
field() {  # NODE KEY
  python3 -c 'import json, sys
d = json.loads(sys.argv[1])
print(next(n for n in d["nodes"] if n["node"] == int(sys.argv[2]))[sys.argv[3]])' "$out" "$1" "$2"
}
lat0=$(field 0 latency_ns) lat1=$(field 1 latency_ns)
rd0=$(field 0 read_gbs) rd1=$(field 1 read_gbs)

check "latency node1/node0" "$(awk -v a="$lat1" -v b="$lat0" 'BEGIN { printf "%.3f", a / b }')" \
  "$(awk -v a="${t[remote_ns]}" -v b="${t[local_ns]}" 'BEGIN { printf "%.3f", a / b }')" 0.10

tcg_gbs=$(awk -v l="${t[tcg_line_ns]}" 'BEGIN { if (l > 0) printf "%.3f", 64 / l; else print 0 }')
if awk -v r="${t[remote_gbs]}" -v g="$tcg_gbs" 'BEGIN { exit !(r < g) }'; then
  check "stream read node1 (GB/s)" "$rd1" "${t[remote_gbs]}" 0.15
else
  echo "note  remote_gbs ${t[remote_gbs]} is not below TCG's own $tcg_gbs GB/s: bandwidth cap not visible, not checked"
fi
# Node 0 is measured in the same boot as node 1 but against a calibration
# boot minutes earlier, and TCG's own speed drifts between boots by up to a
# quarter on this kind of host (measured: 0.207 and 0.276 GB/s in two
# calibration boots four minutes apart). So this asserts what a drift cannot
# fake: node 0 streams at TCG's own speed, not at node 1's (were node 0
# charged node 1's costs, it would stream at REMOTE_GBS).
if awk -v m="$rd0" -v g="$tcg_gbs" -v r="${t[remote_gbs]}" \
  'BEGIN { exit !(m >= 0.6 * g && (r >= 0.6 * g || m >= 1.5 * r)) }'; then
  echo "ok    stream read node0 $rd0 GB/s: TCG's own speed ($(awk -v m="$rd0" -v g="$tcg_gbs" \
    'BEGIN { printf "%.0f", 100 * m / g }')% of the calibration's $tcg_gbs GB/s), not node 1's"
else
  echo "FAIL  stream read node0 $rd0 GB/s against the calibration's $tcg_gbs GB/s and node 1's" \
    "${t[remote_gbs]}: node 0 is slowed"
  fail=1
fi
exit $fail
