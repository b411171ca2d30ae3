# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2034  # sourced: variables are for the scripts
# Helpers shared by the vm/ scripts (sourced, never executed): paths, the
# kernel flavours, logging, and the private apt setup that fetches kernels
# without touching the system's apt configuration.

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$VM_DIR")
# Conventions shared with backends/kmod and backends/cuse: built artifacts
# live under EMUCXL_BUILD_DIR, the guest images under EMUCXL_VM_CACHE.
# Exported: commands and tests in the guest find the build through it.
export EMUCXL_BUILD_DIR=${EMUCXL_BUILD_DIR:-$REPO_DIR/build}
[[ $EMUCXL_BUILD_DIR == /* ]] || EMUCXL_BUILD_DIR=$PWD/$EMUCXL_BUILD_DIR
VM_CACHE=${EMUCXL_VM_CACHE:-/var/cache/emucxl-vm}
[[ $VM_CACHE == /* ]] || VM_CACHE=$PWD/$VM_CACHE  # paths get baked into the cache

# The kernels we know how to fetch. The distribution the kernels come from is
# fixed on purpose (the paper's setup, reproducible); the mirror is not: it
# is read from the system's own apt sources at run time.
VM_FLAVOURS=(6.1 6.12)
VM_DEFAULT_FLAVOUR=6.1

vm_log() { printf 'vm: %s\n' "$*" >&2; }
vm_die() { printf 'vm: error: %s\n' "$*" >&2; exit 125; }

# vm_check_flavour FLAVOUR: die unless it is one we can fetch.
vm_check_flavour() {
  local f
  for f in "${VM_FLAVOURS[@]}"; do [[ $1 == "$f" ]] && return 0; done
  vm_die "unknown kernel '$1' (known: ${VM_FLAVOURS[*]})"
}

# The suites each flavour's kernel comes from: bookworm's own kernel (with
# its point-release and security updates, so the newest 6.1), or the 6.12
# kernel of bookworm-backports.
vm_flavour_suites() {
  case $1 in
    6.1) echo "bookworm bookworm-updates bookworm-security" ;;
    6.12) echo "bookworm-backports" ;;
  esac
}

vm_flavour_dir() { echo "$VM_CACHE/$1"; }

# QEMU 10.0 from bookworm-backports (vm/fetch-qemu): the timing plugin and
# the CXL guest need it; everything else runs on the host's QEMU.
VM_QEMU_DIR=$VM_CACHE/qemu

# vm_system_sources: one line "URI SUITE SIGNED-BY|-" per enabled binary
# ('deb') entry of the system's apt sources, deb822 and one-line style alike.
vm_system_sources() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] || continue
    awk '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && enabled != "no") {
          nu = split(uris, u, " "); ns = split(suites, s, " ")
          for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++)
            print u[i], s[j], (signed ~ /^\// ? signed : "-")
        }
        types = uris = suites = signed = enabled = ""; field = ""
      }
      /^#/ { next }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]/ { if (field == "URIs") uris = uris " " $0
                 else if (field == "Suites") suites = suites " " $0
                 next }
      {
        field = $0; sub(/:.*/, "", field)
        val = $0; sub(/^[^:]*:[ \t]*/, "", val)
        if (field == "Types") types = val
        else if (field == "URIs") uris = val
        else if (field == "Suites") suites = val
        else if (field == "Signed-By") signed = val
        else if (field == "Enabled") enabled = tolower(val)
      }
      END { flush() }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r $f ]] || continue
    awk '
      $1 != "deb" { next }
      {
        signed = "-"; i = 2
        if ($2 ~ /^\[/) {
          for (; i <= NF; i++) {
            if ($i ~ /^\[?signed-by=/) { signed = $i; sub(/^\[?signed-by=/, "", signed); sub(/\]$/, "", signed) }
            if ($i ~ /\]$/) { i++; break }
          }
        }
        print $i, $(i + 1), signed
      }' "$f"
  done
}

# vm_flavour_sources_list FLAVOUR: a one-line-style sources.list for the
# flavour's suites, on the mirrors the system already uses. The main archive
# is the entry whose suite is a bare codename; security updates come from the
# entry whose suite ends in -security. EMUCXL_VM_DEBIAN_URI overrides the
# main archive for machines whose sources name none.
vm_flavour_sources_list() {
  local flavour=$1 main="" main_key=- sec="" sec_key=- uri suite key s
  while read -r uri suite key; do
    if [[ -z $main && $suite != *-* ]]; then main=$uri main_key=$key; fi
    if [[ -z $sec && $suite == *-security ]]; then sec=$uri sec_key=$key; fi
  done < <(vm_system_sources)
  if [[ -n ${EMUCXL_VM_DEBIAN_URI:-} ]]; then main=$EMUCXL_VM_DEBIAN_URI main_key=-; fi
  [[ -n $main ]] || vm_die "no Debian archive in the system's apt sources; set EMUCXL_VM_DEBIAN_URI"
  for s in $(vm_flavour_suites "$flavour"); do
    if [[ $s == *-security ]]; then
      [[ -n $sec ]] || { vm_log "no security archive in the system's apt sources; skipping $s"; continue; }
      uri=$sec key=$sec_key
    else
      uri=$main key=$main_key
    fi
    if [[ $key == - ]]; then
      echo "deb $uri $s main"
    else
      echo "deb [signed-by=$key] $uri $s main"
    fi
  done
}

# vm_apt_opts DIR: apt options that point sources, lists, package cache and
# dpkg status at DIR, so the system's apt state is neither used nor changed
# (its proxy and other apt.conf settings still apply).
vm_apt_opts() {
  local d=$1
  VM_APT_OPTS=(
    -o "Dir::Etc::SourceList=$d/sources.list"
    -o "Dir::Etc::SourceParts=$d/sources.list.d"
    -o "Dir::Etc::Preferences=$d/preferences"
    -o "Dir::Etc::PreferencesParts=$d/preferences.d"
    -o "Dir::State=$d/state"
    -o "Dir::State::status=$d/status"
    -o "Dir::Cache=$d/cache"
    -o "Acquire::Languages=none"
    -q
  )
  # Downloading into root-owned private directories: apt's _apt sandbox user
  # could not write there.
  [[ $(id -u) == 0 ]] && VM_APT_OPTS+=(-o "APT::Sandbox::User=root")
  return 0
}
