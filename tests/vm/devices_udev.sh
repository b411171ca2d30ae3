#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# devices_udev.sh (in the vm/ guest, both kernels): the udev rules give the
# device nodes the mode and group their READMEs document.
#   backends/kmod/udev/99-emucxl.rules       /dev/emucxl      0660, group emucxl
#   backends/cuse/udev/99-emucxl-cuse.rules  /dev/emucxl*     0660, group emucxl
# and without them the nodes are root-only (0600 root:root), as documented.
#
# vm/ loads emucxl.ko (insmod) and starts emucxl-cused without udevd, so the
# script brings udev up itself: in a private mount namespace (the guest's /
# is the host's: nothing is written to the host's /etc) it gives /etc/group
# an "emucxl" group if the machine has none, puts the two rules (the files
# `cmake --install` installs) in /run/udev/rules.d, starts systemd-udevd,
# then
#   1. `udevadm trigger --action=add` on the nodes as vm/ made them,
#      `udevadm settle`: mode and group as documented;
#   2. the module unloaded and loaded again with udevd running (the real
#      add event), and a second emucxl-cused started: the same.
# udevadm refuses to act in a chroot ("Running in chroot, ignoring request":
# vm/'s stage 1 chroots into the 9p root), hence SYSTEMD_IGNORE_CHROOT=1.
# Needs the host's udev package (tests/deps installs it); skips, saying so,
# without it. The nodes are put back to 0600 root:root afterwards.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/kmod/vm-lib.sh
source "$here/../kmod/vm-lib.sh"
# shellcheck source=tests/cuse/vm-lib.sh
source "$here/../cuse/vm-lib.sh"
repo=$(cd "$here/../.." && pwd)

[[ $(id -u) == 0 ]] || kmod_skip "needs root (run it in the vm/ guest: vm/test-suite)"
udevd=
for d in /usr/lib/systemd/systemd-udevd /lib/systemd/systemd-udevd; do
  [[ -x $d ]] && { udevd=$d; break; }
done
if ! command -v udevadm >/dev/null || [[ -z $udevd ]]; then
  kmod_skip "no udevadm/systemd-udevd on this machine (the guest runs the host's root, and the host has no udev package): nothing would apply the rules, so their mode and group cannot be observed; install udev (tests/deps does)"
fi

# Everything below in a private mount namespace (the /etc/group bind).
if [[ -z ${EMUCXL_UDEV_NS:-} ]]; then
  exec env EMUCXL_UDEV_NS=1 unshare --mount --propagation private "$0" "$@"
fi
export SYSTEMD_IGNORE_CHROOT=1

kmod_setup --module-only
[[ -x $CUSED ]] || kmod_skip "no $CUSED: build it (cmake --build $EMUCXL_BUILD_DIR)"
cuse_wait_dev "$CUSE_DEV" || kmod_fail "$CUSE_DEV (vm/run's emucxl-cused) does not answer"
udev_pid='' cused_pid=''
cleanup() {
  [[ -n $cused_pid ]] && { kill -TERM "$cused_pid" 2>/dev/null; wait "$cused_pid" 2>/dev/null; }
  if [[ -n $udev_pid ]] && kill -0 "$udev_pid" 2>/dev/null; then
    udevadm control --exit 2>/dev/null || kill -TERM "$udev_pid"
  fi
  # As vm/ left them: root-only.
  local n
  for n in /dev/emucxl "$CUSE_DEV"; do
    [[ -c $n ]] && chown root:root "$n" && chmod 0600 "$n"
  done
  kmod_restore
}
trap cleanup EXIT

# expect_node NODE MODE GROUP WHAT
expect_node() {
  local got
  got=$(stat -c '%a %G' "$1") || kmod_fail "stat $1 failed"
  [[ $got == "$2 $3" ]] || kmod_fail "$4: $1 is mode/group '$got', documented '$2 $3'"
  kmod_say "$4: $1 is $got: ok"
}

# 0. Without the rules (as vm/ made them): root-only.
expect_node /dev/emucxl 600 root "no udev rule"
expect_node "$CUSE_DEV" 600 root "no udev rule"

# The group the rules name. A machine that has it keeps it.
if ! getent group emucxl >/dev/null; then
  gid=4242
  while getent group "$gid" >/dev/null; do gid=$((gid + 1)); done
  cp /etc/group /run/emucxl-udev-group || kmod_fail "cannot copy /etc/group"
  echo "emucxl:x:$gid:" >>/run/emucxl-udev-group
  mount --bind /run/emucxl-udev-group /etc/group || kmod_fail "cannot bind a private /etc/group"
  kmod_say "group emucxl ($gid) in this mount namespace only"
fi
mkdir -p /run/udev/rules.d
cp "$repo/backends/kmod/udev/99-emucxl.rules" "$repo/backends/cuse/udev/99-emucxl-cuse.rules" \
  /run/udev/rules.d/ || kmod_fail "cannot install the rules into /run/udev/rules.d"

"$udevd" --daemon || kmod_fail "$udevd --daemon failed"
for _ in $(seq 50); do
  [[ -S /run/udev/control ]] && break
  sleep 0.1
done
[[ -S /run/udev/control ]] || kmod_fail "systemd-udevd did not come up (no /run/udev/control)"
udev_pid=$(pgrep -o -x systemd-udevd || pgrep -o -f "$udevd")
udevadm control --reload || kmod_fail "udevadm control --reload failed"

# 1. The nodes vm/ made, as a coldplug would find them.
udevadm trigger --action=add --subsystem-match=misc --sysname-match=emucxl ||
  kmod_fail "udevadm trigger (misc) failed"
udevadm trigger --action=add --subsystem-match=cuse --sysname-match='emucxl*' ||
  kmod_fail "udevadm trigger (cuse) failed"
udevadm settle --timeout=60 || kmod_fail "udevadm settle timed out"
expect_node /dev/emucxl 660 emucxl "udev trigger"
expect_node "$CUSE_DEV" 660 emucxl "udev trigger"

# 2. The add events themselves: the module loaded again, a second daemon.
chown root:root /dev/emucxl && chmod 0600 /dev/emucxl
# shellcheck disable=SC2086  # word splitting wanted: insmod arguments
kmod_reload $KMOD_SAVED_PARAMS
udevadm settle --timeout=60 || kmod_fail "udevadm settle timed out"
expect_node /dev/emucxl 660 emucxl "insmod with udevd running"
dev2=/dev/emucxl-udevtest
"$CUSED" -f --name "${dev2#/dev/}" </dev/null &
cused_pid=$!
cuse_wait_dev "$dev2" || kmod_fail "no $dev2 from $CUSED"
udevadm settle --timeout=60 || kmod_fail "udevadm settle timed out"
expect_node "$dev2" 660 emucxl "emucxl-cused started with udevd running"

kmod_check_dmesg
kmod_say "passed"
