#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 100 clients SIGKILLed at random points while they allocate, migrate and
# free (emucxl_kill_test): each device's usage must be back to its start
# every time, and the device must keep serving.
source "$(dirname "$0")/devices.lib"
kill_test() { "$b/emucxl_kill_test"; }
for_each_device "kill test" kill_test
