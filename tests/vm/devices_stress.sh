#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# emucxl_stress on each device driver: 2-16 threads x 50,000 mixed
# operations, 2,000,000 alloc/free cycles with no growth of RSS or device
# usage, and two processes sharing one device's capacity.
# Fewer operations than on the host (100,000 and 10,000,000): under TCG the
# host's counts took 127 s (kmod) and over 170 s (cuse) on one 6.1 boot, so
# the two drivers together ran past the suite's 300 s limit per test. The
# endurance check still runs 1,800,000 cycles after its warm-up point, and
# every thread count still interleaves frees, resizes and migrations across
# threads.
source "$(dirname "$0")/devices.lib"
stress() { EMUCXL_STRESS_OPS=50000 EMUCXL_ENDURANCE_CYCLES=2000000 "$b/emucxl_stress"; }
for_each_device "stress" stress
