#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Capacity exhaustion on every driver in the guest: fill the remote node
# (node 1) until ENOMEM; another process's local memory and allocations are
# unaffected, nothing is OOM-killed (vm/run fails the run on an OOM kill).
set -uo pipefail
b=${EMUCXL_BUILD_DIR:?}/tests
failed=0
for spec in mbind: kmod:/dev/emucxl cuse:/dev/emucxl-cuse; do
	driver=${spec%%:*} path=${spec#*:}
	if [[ -n $path && ! -c $path ]]; then
		echo "capacity: $driver: $path absent in this guest, not tested here"
		continue
	fi
	if EMUCXL_BACKEND=$driver EMUCXL_DEVICE=${path:-/dev/emucxl} EMUCXL_LOG=error \
		"$b/emucxl_stress" --gtest_filter='Capacity.*'; then
		echo "capacity: $driver: passed"
	else
		echo "capacity: $driver: FAILED"
		failed=1
	fi
done
exit $failed
