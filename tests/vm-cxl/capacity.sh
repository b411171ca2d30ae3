#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# capacity.sh (vm/run --cxl guest, 6.12): tests/vm/capacity.sh on the CXL
# node: each driver fills it until ENOMEM (on movable memory emucxl.ko takes
# ZONE_MOVABLE pages, so this is where its fallback runs dry), another
# process's local memory is unaffected, nothing is OOM-killed.
source "$(dirname "$0")/cxl.lib"
exec bash "$(dirname "$0")/../vm/capacity.sh"
