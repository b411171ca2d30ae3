#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# devices_kill.sh (vm/run --cxl guest, 6.12): tests/vm/devices_kill.sh unchanged, with the
# remote node being the CXL node (vm/guest/stage2 points every driver at it).
source "$(dirname "$0")/cxl.lib"
exec bash "$(dirname "$0")/../vm/devices_kill.sh"
