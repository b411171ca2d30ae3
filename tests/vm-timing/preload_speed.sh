#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# preload_speed.sh (in the vm/ guest booted with --cxl-timing or
# --cxl-profile): an unmodified program under `emucxlctl run` runs at its
# tier's speed. malloc_chase (plain malloc, a pointer chase through 32 MiB,
# far past the modelled 2 MiB cache) runs under --node local and --node
# remote, interleaved, 3 times each; the median ns per load of remote over
# local must be REMOTE_NS/LOCAL_NS within +-15% (memlat, through the API,
# is held to +-10% in latency_bandwidth.sh; a whole process under the
# preload adds its start-up and allocator to each run). Driver: mbind.
set -uo pipefail

if [[ -z ${EMUCXL_TIMING:-} ]]; then
  echo "preload_speed: skipped: the guest runs without a timing profile (vm/run --cxl-timing)"
  exit 77
fi
b=${EMUCXL_BUILD_DIR:?}
ctl=$b/apps/emucxlctl/emucxlctl chase=$b/apps/preload/tests/malloc_chase
for f in "$ctl" "$chase"; do [[ -x $f ]] || { echo "preload_speed: $f is not built"; exit 1; }; done
declare -A t
# shellcheck disable=SC2086  # EMUCXL_TIMING is "key=value ..." by design
for kv in $EMUCXL_TIMING; do t[${kv%%=*}]=${kv#*=}; done

declare -A ns
for rep in 1 2 3; do
  for node in local remote; do
    out=$(EMUCXL_BACKEND=mbind EMUCXL_LOG=error "$ctl" run --node "$node" --report -- "$chase" 32 200000 2>&1) ||
      { echo "FAIL  malloc_chase under --node $node: $out"; exit 1; }
    v=$(sed -n 's/^ns_per_load \([0-9.]*\)$/\1/p' <<<"$out")
    [[ -n $v ]] || { echo "FAIL  no ns_per_load in: $out"; exit 1; }
    echo "rep $rep --node $node: $v ns per load"
    ns[$node]+="$v "
  done
done
median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | sed -n 2p; }
l=$(median "${ns[local]}") r=$(median "${ns[remote]}")
want=$(awk -v a="${t[remote_ns]}" -v b="${t[local_ns]}" 'BEGIN { printf "%.3f", a / b }')
got=$(awk -v a="$r" -v b="$l" 'BEGIN { printf "%.3f", a / b }')
if awk -v g="$got" -v w="$want" 'BEGIN { d = g / w - 1; if (d < 0) d = -d; exit !(d <= 0.15) }'; then
  echo "ok    unmodified program remote/local $got (medians $r / $l ns), profile $want (+-15%)"
else
  echo "FAIL  unmodified program remote/local $got (medians $r / $l ns), profile $want (+-15%)"
  exit 1
fi
