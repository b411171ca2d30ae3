#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cuse_latency.sh (in the vm/ guest): alloc/free latency of the mbind, kmod
# and cuse drivers for 4 KiB, 1 MiB and 64 MiB on the remote node
# (tests/cuse/cuse_latency.cpp); then cuse again with a single-threaded
# daemon (-s) and the client both on CPU 0: under TCG a wake-up of another
# vCPU costs up to a timer tick (milliseconds), and that, not the daemon's
# work, is most of a small request's time in the default setup. A
# measurement: passes whenever it ran.
set -uo pipefail
# shellcheck source=tests/cuse/vm-lib.sh
source "$(dirname "$0")/../cuse/vm-lib.sh"
source "$(dirname "$0")/one_kernel.lib"
only_on_6_12 "a latency measurement of the servers, 63-78 s under TCG"

bench=$CUSE_BIN/emucxl_cuse_latency
cuse_setup "$bench" "$ABI_TEST"
cuse_say "kernel $(uname -r), $(nproc) CPUs"
EMUCXL_KMOD_DEVICE=/dev/emucxl EMUCXL_DEVICE=$CUSE_DEV "$bench" ${EMUCXL_LATENCY_ARGS:-} ||
  cuse_fail "the benchmark failed"
cuse_expect_idle

sdev=/dev/emucxl-cuse-single
taskset -c 0 "$CUSED" -f -s --name "${sdev#/dev/}" </dev/null &
spid=$!
cuse_wait_dev "$sdev" || cuse_fail "no $sdev from $CUSED -s"
cuse_say "cuse again, daemon single-threaded (-s), daemon and client on CPU 0:"
EMUCXL_DEVICE=$sdev taskset -c 0 "$bench" --only cuse ${EMUCXL_LATENCY_ARGS:-} ||
  cuse_fail "the benchmark failed"
cuse_expect_idle "$sdev"
kill -TERM "$spid"
wait "$spid" || cuse_fail "emucxl-cused -s did not exit 0 on SIGTERM"
cuse_say "passed"
