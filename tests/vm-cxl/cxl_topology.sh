#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cxl_topology.sh (vm/run --cxl guest, 6.12): the remote memory is a committed
# CXL region onlined as the only CPU-less node, in the zone asked for, in a
# lower memory tier than node 0; the drivers' default remote node is it.
source "$(dirname "$0")/cxl.lib"

# Exactly two nodes: 0 with the CPUs, the CXL node without.
mem=$(cat /sys/devices/system/node/has_memory)
[[ $mem == "0,$CXL_NODE" || ($CXL_NODE == 1 && $mem == 0-1) ]] ||
  cxl_fail "nodes with memory: $(cat /sys/devices/system/node/has_memory), expected 0 and $CXL_NODE"
[[ -z $(cat "$CXL_NODE_DIR/cpulist") ]] || cxl_fail "node $CXL_NODE has CPUs: $(cat "$CXL_NODE_DIR/cpulist")"
[[ $(cat /sys/devices/system/node/has_cpu) == 0* ]] || cxl_fail "node 0 has no CPU"

# The region: committed, ram, and the node's memory is the region's.
r=/sys/bus/cxl/devices/region0
[[ $(cat $r/commit) == 1 ]] || cxl_fail "region0 is not committed"
[[ $(cat $r/mode) == ram ]] || cxl_fail "region0 mode is $(cat $r/mode)"
size_mib=$(($(cat $r/size) >> 20))
[[ $(cxl_online_mib) == "$size_mib" ]] || cxl_fail "node $CXL_NODE has $(cxl_online_mib) MiB, region0 $size_mib MiB"
[[ $(cat /sys/bus/dax/devices/dax0.0/target_node) == "$CXL_NODE" ]] || cxl_fail "dax0.0 is not on node $CXL_NODE"
start=$(($(cat $r/resource)))
# Every memory block of the node lies in the region's range.
blk=$((0x$(cat /sys/devices/system/memory/block_size_bytes)))
for b in $(cxl_blocks); do
  a=$((0x$(cat "$b/phys_index") * blk))
  ((a >= start && a < start + (size_mib << 20))) ||
    cxl_fail "$(basename "$b") at $(printf %#x $a) is outside region0 ($(printf %#x $start), $size_mib MiB)"
done
cxl_say "region0: $size_mib MiB at $(printf %#x $start), all of node $CXL_NODE's $(cxl_blocks | wc -l) memory blocks in it"

# The zone asked for.
want=Movable
[[ $CXL_ONLINE == normal ]] && want=Normal
zones=$(for b in $(cxl_blocks); do awk '{ print $1 }' "$b/valid_zones"; done | sort -u)
[[ $zones == "$want" ]] || cxl_fail "node $CXL_NODE zones: $zones, expected $want"

# A lower memory tier than node 0 (tiers are numbered by abstract distance).
# in_list N LIST: is node N in a kernel node list like "0-2,4"?
in_list() {
  awk -v n="$1" -v l="$2" 'BEGIN { k = split(l, p, ",")
    for (i = 1; i <= k; i++) { m = split(p[i], r, "-"); if (m == 1) r[2] = r[1]
      if (n >= r[1] && n <= r[2]) exit 0 }
    exit 1 }'
}
tier_of() {
  local t
  for t in /sys/devices/virtual/memory_tiering/memory_tier*; do
    in_list "$1" "$(cat "$t/nodelist")" && { echo "${t##*memory_tier}"; return; }
  done
}
t0=$(tier_of 0) t1=$(tier_of "$CXL_NODE")
[[ -n $t0 && -n $t1 ]] || cxl_fail "memory tiers not found (node 0: '$t0', node $CXL_NODE: '$t1')"
((t1 > t0)) || cxl_fail "node $CXL_NODE is in memory_tier$t1, not below node 0's memory_tier$t0"
cxl_say "zone $want; node $CXL_NODE in memory_tier$t1, node 0 in memory_tier$t0"

# The drivers' default remote node, and emucxlctl info's CXL section, on
# each driver present.
for d in mbind kmod cuse; do
  case $d in
    kmod) dev=/dev/emucxl ;; cuse) dev=/dev/emucxl-cuse ;; *) dev="" ;;
  esac
  [[ -z $dev || -c $dev ]] || { cxl_say "$d: no $dev in this guest, not checked"; continue; }
  # No EMUCXL_REMOTE_NODE: the default must find the CXL node by itself.
  json=$(env -u EMUCXL_REMOTE_NODE EMUCXL_BACKEND=$d ${dev:+EMUCXL_DEVICE=$dev} EMUCXL_LOG=error \
         "$EMUCXL_BUILD_DIR/apps/emucxlctl/emucxlctl" info --json 2>&1) || cxl_fail "$d: emucxlctl info failed: $json"
  grep -q "\"name\":\"remote\",\"physical_node\":$CXL_NODE," <<<"$json" ||
    cxl_fail "$d: remote is not node $CXL_NODE: $json"
  for field in '"is_cxl":true' '"region":"region0"' '"memdev":"mem0"' '"dax":"dax0.0"' '"mode":"ram"' \
              "\"size_bytes\":$((size_mib << 20))" '"interleave_ways":1' "\"zone\":\"$want\"" "\"memory_tier\":$t1"; do
    grep -qF "$field" <<<"$json" || cxl_fail "$d: emucxlctl info --json lacks $field: $json"
  done
  cxl_say "$d: remote is the CXL node $CXL_NODE; emucxlctl info names region0, mem0, dax0.0"
done
EMUCXL_BACKEND=mbind EMUCXL_LOG=error "$EMUCXL_BUILD_DIR/apps/emucxlctl/emucxlctl" info | sed -n '/is CXL memory/,$p'
cxl_say "passed"
