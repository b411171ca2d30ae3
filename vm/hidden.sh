# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Host paths the guest would hide (sourced by vm/run, and by its test). The
# guest sees the host's / but mounts its own tmpfs on /tmp, /run and
# /dev/shm (vm/guest/init), so a program, or a library it loads, that lives
# there on the host is missing in the guest unless its directory is kept
# visible (vm/run --share DIR, or vm/run's own list: the repository, the
# build tree, the cwd, absolute paths on the command line).

# vm_hidden PATH: true if PATH lies under a directory the guest mounts afresh.
vm_hidden() {
  case $1 in
    /tmp|/tmp/*|/run|/run/*|/dev/shm|/dev/shm/*) return 0 ;;
  esac
  return 1
}

# vm_hidden_root PATH: the directory the guest mounts afresh that PATH is under.
vm_hidden_root() {
  case $1 in
    /dev/shm|/dev/shm/*) echo /dev/shm ;;
    *) local r=${1#/}; echo "/${r%%/*}" ;;
  esac
}

# vm_command_needs CMD: what running CMD in the guest needs from the host,
# one "DIRECTORY<TAB>why" line each: the directory of the program (found on
# PATH as the guest will find it), the directories of its shared libraries
# (ldd), and the PATH, LD_LIBRARY_PATH and LD_PRELOAD entries (the guest
# gets the host's environment, so a shell there searches the same PATH). Only paths that
# exist on the host; the caller keeps those the guest would hide.
vm_command_needs() {
  local cmd=$1 prog="" lib d
  if [[ $cmd == */* ]]; then
    [[ -e $cmd ]] && prog=$(realpath -- "$cmd")
  else
    prog=$(type -P -- "$cmd" 2>/dev/null) || prog=""
  fi
  if [[ -n $prog ]]; then
    printf '%s\tthe command %s (%s)\n' "$(dirname "$prog")" "$cmd" "$prog"
    # ldd only for dynamic ELF programs; its "=> /path" and "/path" forms.
    if [[ -f $prog && $(head -c4 -- "$prog" 2>/dev/null | od -An -c | tr -d ' ') == 177ELF ]]; then
      while read -r lib; do
        [[ $lib == /* && -e $lib ]] && printf '%s\tits library %s\n' "$(dirname "$lib")" "$lib"
      done < <(ldd -- "$prog" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
    fi
  fi
  local IFS=:
  for d in ${PATH:-}; do
    [[ $d == /* && -d $d ]] && printf '%s\tPATH entry %s\n' "$d" "$d"
  done
  for d in ${LD_LIBRARY_PATH:-}; do
    [[ $d == /* && -d $d ]] && printf '%s\tLD_LIBRARY_PATH entry %s\n' "$d" "$d"
  done
  IFS=': '
  for lib in ${LD_PRELOAD:-}; do
    [[ $lib == /* && -e $lib ]] && printf '%s\tLD_PRELOAD entry %s\n' "$(dirname "$lib")" "$lib"
  done
  return 0
}

# vm_kept_covers KEEPFILE PATH: true if PATH is one of the kept directories
# or lies under one.
vm_kept_covers() {
  local k
  while IFS= read -r k; do
    [[ $2 == "$k" || $2 == "$k"/* ]] && return 0
  done <"$1"
  return 1
}

# vm_keep_hidden_needs KEEPFILE CMD: for each directory CMD needs that the
# guest would hide and KEEPFILE does not keep yet, add it to KEEPFILE (kept
# sorted, parents first) and say so, naming the --share that does the same.
vm_keep_hidden_needs() {
  local keep=$1 cmd=$2 dir why added=0
  while IFS=$'\t' read -r dir why; do
    dir=$(realpath -m -- "$dir")
    vm_hidden "$dir" || continue
    vm_kept_covers "$keep" "$dir" && continue
    vm_log "$why lies under $(vm_hidden_root "$dir"), which the guest mounts afresh: sharing $dir with the guest (what --share $dir does)"
    printf '%s\n' "$dir" >>"$keep"
    added=1
  done < <(vm_command_needs "$cmd")
  if ((added)); then LC_ALL=C sort -u -o "$keep" "$keep"; fi
  return 0
}
