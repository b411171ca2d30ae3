#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/kmod/dkms-test.sh (host, kmod stage of tests/run-all): the DKMS path
# as a server would take it, without touching the system: `cmake --install
# BUILD --component kmod` into a staging root, then `dkms build` of that
# source tree against the headers of both vm/ guest kernels (6.1, 6.12), in a
# private dkms tree. Checks each emucxl.ko is for its kernel (vermagic).
# Exit 77, saying why, without dkms (Debian's dkms package, tests/deps).
# The udev rule's mode and group are not checked: the guest has no udevd.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${EMUCXL_BUILD_DIR:-$repo/build}
PATH=$PATH:/usr/sbin:/sbin
command -v dkms >/dev/null || { echo "SKIPPED: dkms-test: no dkms (apt-get install dkms)"; exit 77; }
[[ -f $build/CMakeCache.txt ]] || { echo "FAILED: dkms-test: no configured build in $build"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/emucxl-dkms.XXXXXX")
trap 'rm -rf "$work"' EXIT
DESTDIR=$work/root cmake --install "$build" --component kmod >/dev/null ||
  { echo "FAILED: dkms-test: cmake --install --component kmod"; exit 1; }
src=$(dirname "$(find "$work/root" -name dkms.conf -print -quit)")
[[ -f $src/dkms.conf ]] || { echo "FAILED: dkms-test: the kmod component installed no dkms.conf"; exit 1; }
version=${src##*/emucxl-}
mkdir -p "$work/tree"
failed=0
for k in 6.1 6.12; do
  kdir=$("$repo/vm/kdir" --kernel "$k") && release=$("$repo/vm/krelease" --kernel "$k") ||
    { echo "FAILED: dkms-test: no headers for $k (vm/fetch)"; failed=1; continue; }
  if ! dkms build -m emucxl -v "$version" -k "$release" --kernelsourcedir "$kdir" \
      --dkmstree "$work/tree" --sourcetree "${src%/*}" >"$work/$k.log" 2>&1; then
    cat "$work/$k.log"
    echo "dkms-test: $k: dkms build FAILED"
    failed=1
    continue
  fi
  ko=$(find "$work/tree/emucxl/$version/$release" -name 'emucxl.ko*' -print -quit)
  magic=$(modinfo -F vermagic "$ko" 2>/dev/null)
  if [[ -z $ko || $magic != "$release "* ]]; then
    echo "dkms-test: $k: no emucxl.ko for $release (vermagic '$magic') FAILED"
    failed=1
    continue
  fi
  echo "dkms-test: $k: dkms build of emucxl/$version for $release: ok"
done
exit $failed
