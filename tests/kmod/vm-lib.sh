# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Helpers for tests/vm/kmod_*.sh (sourced, never executed). Those scripts run
# in the vm/ guest as root (vm/test-suite), with EMUCXL_BUILD_DIR set; they
# exit 0 on pass, 77 on skip (after saying why), anything else on failure.

PATH=$PATH:/usr/sbin:/sbin
EMUCXL_BUILD_DIR=${EMUCXL_BUILD_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
KMOD_KO=$EMUCXL_BUILD_DIR/kmod/$(uname -r)/emucxl.ko
# The ABI test of both servers (tests/abi): KMOD_ABI_TEST runs its kmod part.
ABI_TEST=$EMUCXL_BUILD_DIR/tests/abi/emucxl_abi_test
KMOD_ABI_TEST=$ABI_TEST
# shellcheck disable=SC2034  # used by the scripts that source this
KMOD_DRIVER_TEST=$EMUCXL_BUILD_DIR/tests/kmod/emucxl_kmod_driver_test
KMOD_SYSFS=/sys/class/misc/emucxl
KMOD_PARAMS_DIR=/sys/module/emucxl/parameters
KMOD_TEST=${0##*/}

kmod_say() { echo "$KMOD_TEST: $*"; }
kmod_skip() { echo "SKIPPED: $KMOD_TEST: $*"; exit 77; }
kmod_fail() { echo "FAILED: $KMOD_TEST: $*"; exit 1; }

kmod_loaded() { [[ -d /sys/module/emucxl ]]; }

# kmod_setup --need-abi-test|--module-only: the module built for this kernel and loaded,
# the dmesg position remembered, the parameters in effect saved.
kmod_setup() {
  [[ $(id -u) == 0 ]] || kmod_skip "needs root (run it in the vm/ guest: vm/test-suite)"
  [[ -f $KMOD_KO ]] ||
    kmod_skip "no $KMOD_KO: build it with backends/kmod/build-module --kernel <6.1|6.12>"
  if [[ ${1:-} == --need-abi-test && ! -x $KMOD_ABI_TEST ]]; then
    kmod_skip "no $KMOD_ABI_TEST: build the tests (cmake --build $EMUCXL_BUILD_DIR)"
  fi
  if ! kmod_loaded; then
    insmod "$KMOD_KO" || kmod_fail "insmod $KMOD_KO failed"
  fi
  [[ -c /dev/emucxl ]] || kmod_fail "emucxl is loaded but /dev/emucxl is missing"
  KMOD_DMESG_START=$(dmesg | wc -l)
  KMOD_SAVED_PARAMS=$(kmod_params)
}

# The parameters in effect, as insmod arguments (the module writes its
# resolved defaults back, so reloading with them gives the same setup).
kmod_params() {
  local p out=()
  for p in local_node remote_node local_capacity_mb remote_capacity_mb; do
    out+=("$p=$(<"$KMOD_PARAMS_DIR/$p")")
  done
  echo "${out[*]}"
}

# kmod_reload [PARAM=VALUE...]: rmmod, then insmod with these parameters.
kmod_reload() {
  rmmod emucxl || kmod_fail "rmmod emucxl failed (a client still holds it?)"
  # shellcheck disable=SC2068
  insmod "$KMOD_KO" $@ || kmod_fail "insmod $KMOD_KO $* failed"
  [[ -c /dev/emucxl ]] || kmod_fail "no /dev/emucxl after insmod $*"
}

# Put back the module as kmod_setup found it.
kmod_restore() {
  if kmod_loaded; then
    [[ $(kmod_params) == "$KMOD_SAVED_PARAMS" ]] && return 0
    rmmod emucxl || kmod_fail "rmmod emucxl failed while restoring"
  fi
  # shellcheck disable=SC2086
  insmod "$KMOD_KO" $KMOD_SAVED_PARAMS || kmod_fail "insmod $KMOD_KO $KMOD_SAVED_PARAMS failed"
}

kmod_counter() { cat "$KMOD_SYSFS/$1"; }

# Every counter of held memory and sessions back at zero.
kmod_expect_idle() {
  local f v bad=0
  for f in sessions node0/allocated node0/allocations node1/allocated node1/allocations; do
    v=$(kmod_counter "$f")
    if [[ $v != 0 ]]; then
      kmod_say "$KMOD_SYSFS/$f = $v, expected 0"
      bad=1
    fi
  done
  ((bad == 0)) || kmod_fail "the module still holds memory or sessions"
}

# No oops, BUG, WARN since kmod_setup.
kmod_check_dmesg() {
  local new
  new=$(dmesg | tail -n +"$((KMOD_DMESG_START + 1))")
  if grep -E 'Oops|BUG:|WARNING:|Kernel panic|general protection|Call Trace' <<<"$new"; then
    kmod_fail "kernel problems in dmesg (above)"
  fi
  return 0
}

# kmod_hold_start MIB [NODE]: a client of emucxl.ko holding MIB MiB on
# logical NODE (default 1), in $KMOD_HOLDER once it has mapped and written
# them (up to 60 s: CXL memory is slow under TCG); fails the test if it
# cannot. kmod_hold_stop ends it.
kmod_hold_start() {
  KMOD_HOLD_OUT=$(mktemp)
  "$KMOD_ABI_TEST" --hold "$1" "${2:-1}" >"$KMOD_HOLD_OUT" 2>&1 </dev/null &
  KMOD_HOLDER=$!
  for _ in $(seq 600); do
    grep -q held "$KMOD_HOLD_OUT" && return 0
    kill -0 "$KMOD_HOLDER" 2>/dev/null || break
    sleep 0.1
  done
  kill "$KMOD_HOLDER" 2>/dev/null
  kmod_fail "a client holding $1 MiB on logical node ${2:-1} did not start: $(cat "$KMOD_HOLD_OUT")"
}
kmod_hold_stop() { kill "$KMOD_HOLDER"; wait "$KMOD_HOLDER" 2>/dev/null; rm -f "$KMOD_HOLD_OUT"; }
