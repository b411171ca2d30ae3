#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# offline_kmod.sh (vm/run --cxl guest, 6.12): offlining the CXL memory
# with and without emucxl.ko clients. Named to run last in tests/vm-cxl: it
# leaves the CXL memory offline and removed.
#   - a client holds 64 MiB on the CXL node: offlining the node's memory
#     (daxctl offline-memory, all blocks) fails at once (EBUSY; on movable
#     memory emucxl.ko's notifier says why, on normal memory the kernel's
#     isolation refuses the unmovable pages), no block goes offline where
#     the client's pages are, and the client's memory is still there;
#   - no emucxl.ko client, but an mbind and a cuse client holding 8 MiB
#     each there: offlining succeeds (their memory is ordinary user memory,
#     which the kernel migrates), their data is intact and move_pages finds
#     none of their pages on the CXL node any more; the node has no memory,
#     and an emucxl.ko allocation on it fails with ENOMEM (never lands
#     elsewhere);
#   - hot-remove of that memory (dax0.0 back to devdax mode) with emucxl.ko
#     loaded: the blocks are gone, the module still answers (ENOMEM there).
# Not onlined again: on 6.12.95, onlining a CXL node that had become
# memoryless re-adds its HMAT/CXL access attributes and the kernel logs
# "sysfs: cannot create duplicate filename .../node1/access0/initiators/
# read_bandwidth" with a stack trace (cxl_region_perf_attrs_callback ->
# node_set_perf_attrs), which fails the run. Blocks of a node that keeps
# some memory are onlined again (step 1) without that.
source "$(dirname "$0")/cxl.lib"
source "$(dirname "$0")/../kmod/vm-lib.sh"
kmod_setup --need-abi-test
kmod_expect_idle
[[ $(<"$KMOD_PARAMS_DIR/remote_node") == "$CXL_NODE" ]] ||
  kmod_fail "emucxl.ko's remote_node is $(<"$KMOD_PARAMS_DIR/remote_node"), not the CXL node $CXL_NODE"


kmod_hold_start 64
[[ $(kmod_counter node1/allocated) == $((64 << 20)) ]] || kmod_fail "node1/allocated is $(kmod_counter node1/allocated)"
grep -q "N$CXL_NODE=" /proc/"$KMOD_HOLDER"/numa_maps || kmod_fail "the holder's numa_maps shows no page on node $CXL_NODE"

# 1. With a client: refused, quickly. The timeout is the "never hangs" check:
#    the kernel would otherwise retry unmovable pages until killed.
t0=$SECONDS
out=$(timeout 60 daxctl offline-memory dax0.0 2>&1)
rc=$?
((rc != 0)) || { kill "$KMOD_HOLDER"; kmod_fail "offlining succeeded while a client held pages there: $out"; }
((rc != 124)) || { kill "$KMOD_HOLDER"; kmod_fail "offlining hung (killed after 60 s) instead of failing"; }
secs=$((SECONDS - t0))
kill -0 "$KMOD_HOLDER" 2>/dev/null || kmod_fail "the client died"
[[ $(kmod_counter node1/allocated) == $((64 << 20)) ]] || kmod_fail "the client's memory is gone"
if [[ $CXL_ONLINE == movable ]]; then
  dmesg | grep -q 'emucxl: refusing to offline' || kmod_fail "no 'refusing to offline' message from emucxl.ko in dmesg"
fi
kmod_say "offlining with a client holding 64 MiB: refused in ${secs} s ($CXL_ONLINE): ok ($(tail -n1 <<<"$out"))"
# Blocks without the client's pages may have gone offline: put them back.
daxctl online-memory $([[ $CXL_ONLINE == normal ]] && echo --no-movable) dax0.0 >/dev/null 2>&1

# user_hold_start DRIVER: a client of DRIVER (mbind, cuse) holding 8 MiB on
# logical node 1 (tests/vm-cxl/hold.py through cxl.lib), with pages there.
# 8 MiB, not more: the client writes and checks its pattern from python, and
# the offlining migrates it, all at the CXL window's I/O speed under TCG;
# with 32 MiB each, this script took 299 s.
user_hold_start() {
  cxl_client_start "$1" "$EMUCXL_BUILD_DIR/core/libemucxl.so" 8 1 0 EMUCXL_BACKEND="$1"
  cxl_client_wait "$1" 60
  grep -q "N$CXL_NODE=" /proc/"${cxl_client_pid[$1]}"/numa_maps ||
    kmod_fail "the $1 client's numa_maps shows no page on node $CXL_NODE"
}

# 2. Without emucxl.ko clients: offlining succeeds, with mbind and cuse
#    clients there, and the node then has nothing.
kmod_hold_stop
kmod_expect_idle
user_hold_start mbind
user_hold_start cuse
if ! out=$(timeout 120 daxctl offline-memory dax0.0 2>&1); then
  cxl_client_finish mbind
  cxl_client_finish cuse
  # Normal memory also takes the kernel's own unmovable allocations (that is
  # why daxctl onlines movable by default): not emucxl's doing.
  [[ $CXL_ONLINE == normal ]] || kmod_fail "offlining with no client failed: $out"
  kmod_expect_idle
  kmod_say "offlining ZONE_NORMAL CXL memory with no emucxl client failed (kernel allocations there: $(tail -n1 <<<"$out")); step 2 not checked in this mode"
  daxctl online-memory --no-movable dax0.0 >/dev/null 2>&1
  kmod_check_dmesg
  kmod_say "passed (step 1 only)"
  exit 0
fi
[[ $(cxl_online_mib) == 0 ]] || kmod_fail "node $CXL_NODE still has $(cxl_online_mib) MiB online"
for d in mbind cuse; do
  cxl_client_finish "$d"
  got=$CXL_CLIENT_RESULT
  [[ $got == intact\ nodes=* ]] || kmod_fail "the $d client's data after offlining: $got"
  [[ ,${got#*nodes=}, == *,"$CXL_NODE":* || ${got#*nodes=} == *-* ]] &&
    kmod_fail "the $d client still has pages on the offline node $CXL_NODE, or pages without a node: $got"
  kmod_say "offlining with a $d client holding 8 MiB: its pages moved ($got): ok"
done
cxl_clients_done
out=$(timeout 10 "$KMOD_ABI_TEST" --hold 1 1 2>&1 </dev/null)
grep -q held <<<"$out" && kmod_fail "an allocation on the offline CXL node succeeded"
grep -q 'Cannot allocate memory' <<<"$out" || kmod_fail "allocating on the offline node did not fail with ENOMEM: $out"
kmod_say "offlining with no client: ok; allocating there then: ENOMEM"

# 3. Hot-remove: dax0.0 back to device-dax mode unplugs the (offline) memory
#    blocks from the system; emucxl.ko, still loaded, keeps answering, and
#    the node stays empty (ENOMEM).
out=$(timeout 120 daxctl reconfigure-device --mode=devdax dax0.0 2>&1) ||
  kmod_fail "hot-remove (daxctl reconfigure-device --mode=devdax) failed: $out"
blocks=$(cxl_blocks | wc -l)
((blocks == 0)) || kmod_fail "node $CXL_NODE still has $blocks memory blocks after hot-remove"
out=$(timeout 10 "$KMOD_ABI_TEST" --hold 1 1 2>&1 </dev/null)
grep -q 'Cannot allocate memory' <<<"$out" ||
  kmod_fail "allocating on the hot-removed node did not fail with ENOMEM: $out"
kmod_say "hot-remove with emucxl.ko loaded: memory blocks gone, allocating there: ENOMEM: ok"

kmod_expect_idle
kmod_check_dmesg
kmod_say "passed"
