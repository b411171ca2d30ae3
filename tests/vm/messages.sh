#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# messages.sh (in the vm/ guest, both kernels): the messages test's device
# cases, with emucxl.ko loaded and emucxl-cused on /dev/emucxl-cuse as vm/run
# sets them up: EMUCXL_BACKEND=cuse finds the daemon without EMUCXL_DEVICE;
# auto says (warn level) when it passes over the module because of
# EMUCXL_REMOTE_NODE; over-capacity allocations on kmod and cuse say the
# capacity and the use. The host cases run again here too.
set -uo pipefail
bin=${EMUCXL_BUILD_DIR:?}/tests/emucxl_messages_test
[[ -x $bin ]] || { echo "messages: $bin not built"; exit 1; }
[[ -d /sys/module/emucxl ]] || { echo "emucxl.ko is not loaded in this guest (not built for $(uname -r)?)"; exit 77; }
[[ -c /dev/emucxl-cuse ]] || { echo "emucxl-cused is not running in this guest"; exit 77; }
env -u EMUCXL_DEVICE -u EMUCXL_LOCAL_NODE -u EMUCXL_REMOTE_NODE EMUCXL_BACKEND=auto EMUCXL_MESSAGES_GUEST=1 \
	"$bin" --gtest_color=no
