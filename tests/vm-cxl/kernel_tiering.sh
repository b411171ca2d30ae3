#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kernel_tiering.sh (vm/run --cxl guest, 6.12): the kernel's own tiering
# (vm/guest/kernel-tiering on: demotion, NUMA balancing mode 2) beside
# emucxl's placement. Clients each write 8 MiB on the CXL node and keep
# reading it for 40 s:
#   - an unmodified program's memory (default policy, moved to the CXL node
#     with move_pages) is hot in the slow tier: NUMA balancing scans it
#     (numa_hint_faults grows: the switch really switches tiering on) and
#     promotes what it finds hot (pgpromote_success and the pages now on
#     node 0 are reported);
#   - emucxl's memory on mbind, kmod and cuse stays where it was placed,
#     every page still on the CXL node: an explicit placement is bound
#     (MPOL_BIND for mbind, the shmem policy for cuse) or not migratable
#     (emucxl.ko's pages are inserted into a VM_MIXEDMAP mapping), and the
#     kernel's tiering leaves it alone.
# Leaves kernel tiering off, as the guest boots.
source "$(dirname "$0")/cxl.lib"
tiering=$(dirname "$0")/../../vm/guest/kernel-tiering
lib=$EMUCXL_BUILD_DIR/core/libemucxl.so
secs=40
[[ -f $lib ]] || cxl_skip "no $lib: build the project first"

vmstat() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }
bash "$tiering" on || cxl_fail "vm/guest/kernel-tiering on failed on the CXL guest"
trap 'bash "$tiering" off >/dev/null; cxl_clients_done' EXIT
promoted0=$(vmstat pgpromote_success) hinted0=$(vmstat numa_hint_faults)
ptes0=$(vmstat numa_pte_updates)

# Each client holds 8 MiB on the CXL node and reads it for $secs s.
cxl_client_start plain plain 8 "$CXL_NODE" "$secs"
cxl_client_start mbind "$lib" 8 1 "$secs" EMUCXL_BACKEND=mbind
[[ -c /dev/emucxl ]] && cxl_client_start kmod "$lib" 8 1 "$secs" EMUCXL_BACKEND=kmod EMUCXL_DEVICE=/dev/emucxl
[[ -c /dev/emucxl-cuse ]] &&
  cxl_client_start cuse "$lib" 8 1 "$secs" EMUCXL_BACKEND=cuse EMUCXL_DEVICE=/dev/emucxl-cuse
for name in "${!cxl_client_pid[@]}"; do cxl_client_wait "$name" $((secs + 120)); done
declare -A where
for name in "${!cxl_client_pid[@]}"; do
  cxl_client_finish "$name"
  where[$name]=$CXL_CLIENT_RESULT
  cxl_say "$name: ${where[$name]}"
  [[ ${where[$name]} == intact\ nodes=* ]] || cxl_fail "the $name client's data: ${where[$name]}"
done
promoted=$(($(vmstat pgpromote_success) - promoted0)) hinted=$(($(vmstat numa_hint_faults) - hinted0))
ptes=$(($(vmstat numa_pte_updates) - ptes0))
cxl_say "numa_pte_updates +$ptes, pgpromote_success +$promoted during the run ($(bash "$tiering" status))"

pages=$((8 << 8))
for name in mbind kmod cuse; do
  [[ -n ${where[$name]:-} ]] || { echo "SKIPPED part: $name: its device is not in this guest"; continue; }
  [[ ${where[$name]#*nodes=} == "$CXL_NODE:$pages" ]] ||
    cxl_fail "emucxl's $name memory did not stay on the CXL node $CXL_NODE under kernel tiering: ${where[$name]}"
done
cxl_say "emucxl's placement under kernel tiering: every page still on node $CXL_NODE: ok"
# The switch works: NUMA balancing scanned the slow tier (hinting faults;
# kernel-tiering shortens the scan periods to TCG's pace, see there).
# Whether a page is then promoted depends on how soon after the scan it is
# touched (the kernel's hot threshold, 1 s), which a loaded host can stretch
# past: reported, not asserted (measured on an idle host: 512 of 4,096).
((hinted > 0)) || cxl_fail "kernel tiering is on, but NUMA balancing took no hinting fault in $secs s"
on0=$(tr ',' '\n' <<<"${where[plain]#*nodes=}" | awk -F: '$1 == 0 { print $2 }')
cxl_say "NUMA hinting faults +$hinted; an unmodified program's hot memory: ${on0:-0} of $pages pages promoted to node 0"
