#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Transparent-mode placement on the mbind driver in the guest, the 6.12 kernel
# (preload_placement.lib says what is checked).
source "$(dirname "${BASH_SOURCE[0]}")/preload_placement.lib" mbind
