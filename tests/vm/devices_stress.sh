#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# emucxl_stress on each device driver: 2-16 threads x 100,000 mixed
# operations, 10,000,000 alloc/free cycles with no growth of RSS or device
# usage, and two processes sharing one device's capacity.
source "$(dirname "$0")/devices.lib"
stress() { "$b/emucxl_stress"; }
for_each_device "stress" stress
