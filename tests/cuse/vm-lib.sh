# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Helpers for tests/vm/cuse_*.sh (sourced, never executed). Those scripts run
# in the vm/ guest as root (vm/test-suite), with EMUCXL_BUILD_DIR set; they
# exit 0 on pass, 77 on skip (after saying why), anything else on failure.

PATH=$PATH:/usr/sbin:/sbin
EMUCXL_BUILD_DIR=${EMUCXL_BUILD_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
CUSED=$EMUCXL_BUILD_DIR/backends/cuse/emucxl-cused
# shellcheck disable=SC2034  # used by the scripts that source this
CUSE_BIN=$EMUCXL_BUILD_DIR/tests/cuse
# The ABI test of both servers (tests/abi); also --hold and --expect-idle.
ABI_TEST=$EMUCXL_BUILD_DIR/tests/abi/emucxl_abi_test
# The shared daemon's device: vm/run starts emucxl-cused --name emucxl-cuse.
CUSE_DEV=${EMUCXL_CUSE_DEVICE:-/dev/emucxl-cuse}
CUSE_TEST=${0##*/}
CUSE_STARTED_PID=""

cuse_say() { echo "$CUSE_TEST: $*"; }
cuse_skip() { echo "SKIPPED: $CUSE_TEST: $*"; exit 77; }
cuse_fail() { echo "FAILED: $CUSE_TEST: $*"; exit 1; }

# cuse_wait_dev DEV [SECONDS]: wait until the device answers an open. (CUSE
# creates the node before it registers the character device: an open in
# between fails with ENXIO, so the node's existence is not enough.)
cuse_wait_dev() {
  local i
  for ((i = 0; i < ${2:-5} * 10; i++)); do
    [[ -c $1 ]] && { : <"$1"; } 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# cuse_setup BINARY...: root, /dev/cuse, the binaries built, and the shared
# daemon serving $CUSE_DEV (started here if vm/run did not, e.g. --no-cused;
# stopped again on exit).
cuse_setup() {
  local b
  [[ $(id -u) == 0 ]] || cuse_skip "needs root (run it in the vm/ guest: vm/test-suite)"
  [[ -x $CUSED ]] || cuse_skip "no $CUSED: build it (cmake --build $EMUCXL_BUILD_DIR)"
  for b in "$@"; do
    [[ -x $b ]] || cuse_skip "no $b: build the tests (cmake --build $EMUCXL_BUILD_DIR)"
  done
  [[ -c /dev/cuse ]] || modprobe cuse 2>/dev/null ||
    cuse_skip "no /dev/cuse and no cuse module: this kernel cannot run CUSE"
  if [[ -c $CUSE_DEV ]]; then
    cuse_wait_dev "$CUSE_DEV" || cuse_fail "$CUSE_DEV exists but does not answer"
  else
    "$CUSED" -f --name "${CUSE_DEV#/dev/}" </dev/null &
    CUSE_STARTED_PID=$!
    trap cuse_cleanup EXIT
    cuse_wait_dev "$CUSE_DEV" || cuse_fail "$CUSED started, but no $CUSE_DEV after 5 s"
    cuse_say "started $CUSED --name ${CUSE_DEV#/dev/} (pid $CUSE_STARTED_PID)"
  fi
  CUSE_DMESG_START=$(dmesg | wc -l)
}

cuse_cleanup() {
  if [[ -n $CUSE_STARTED_PID ]]; then
    kill -TERM "$CUSE_STARTED_PID" 2>/dev/null
    wait "$CUSE_STARTED_PID" 2>/dev/null
  fi
}

# The daemon behind DEV (default $CUSE_DEV) holds nothing and has no session.
cuse_expect_idle() {
  EMUCXL_DEVICE=${1:-$CUSE_DEV} "$ABI_TEST" --expect-idle ||
    cuse_fail "emucxl-cused (${1:-$CUSE_DEV}) still holds memory or sessions"
}

# No oops, BUG, WARN since cuse_setup.
cuse_check_dmesg() {
  local new
  new=$(dmesg | tail -n +"$((CUSE_DMESG_START + 1))")
  if grep -E 'Oops|BUG:|WARNING:|Kernel panic|general protection|Call Trace' <<<"$new"; then
    cuse_fail "kernel problems in dmesg (above)"
  fi
  return 0
}
