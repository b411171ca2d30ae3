# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2034  # sourced by vm/run: sets its variables
# The timing model's side of vm/run: profiles (vm/profiles), the plugin's
# arguments, ACPI HMAT, and the calibration of TCG's own
# cost per access. See vm/README.md, "Timing".

# vm_timing_profile NAME: print "L,R,LG,RG" of a profile ("" for off).
vm_timing_profile() {
  local line
  line=$(awk -v n="$1" '!/^#/ && $1 == n { print $2 "," $3 "," $4 "," $5; exit }' "$VM_DIR/profiles")
  if [[ -z $line ]]; then
    vm_log "error: unknown timing profile '$1' (known: $(awk '!/^#/ && NF { printf "%s ", $1 }' "$VM_DIR/profiles"))"
    return 1
  fi
  [[ $line == -,-,-,- ]] && line=""
  echo "$line"
}

# vm_timing_check "L,R,LG,RG": positive numbers, latencies >= 1 ns.
vm_timing_check() {
  local num='^[0-9]+(\.[0-9]+)?$' v
  IFS=, read -r -a v <<<"$1"
  if ((${#v[@]} != 4)); then
    vm_log "error: --cxl-timing wants LOCAL_NS,REMOTE_NS,LOCAL_GBS,REMOTE_GBS (e.g. 100,250,100,25), not '$1'"
    return 1
  fi
  for x in "${v[@]}"; do
    if ! [[ $x =~ $num ]] || awk -v x="$x" 'BEGIN { exit !(x <= 0) }'; then
      vm_log "error: --cxl-timing: '$x' is not a positive number"
      return 1
    fi
  done
}

# The guest-physical ranges of node 1 on q35: RAM is laid out node by node
# from address 0; below 4 GiB it stops at 2 GiB (RAM >= 2.75 GiB) or 2.75
# GiB, the rest continues at 4 GiB (hw/i386/pc_q35.c).
vm_timing_remote_ranges() {  # LOCAL_MIB REMOTE_MIB -> "remote=S-E" words
  local l=$(($1 << 20)) r=$(($2 << 20)) low four=$((1 << 32))
  if (((l + r) >= 0xb0000000)); then low=0x80000000; else low=0xb0000000; fi
  local s=$l e=$((l + r))
  if ((e <= low)); then
    printf 'remote=%x-%x\n' "$s" "$e"
  elif ((s >= low)); then
    printf 'remote=%x-%x\n' $((four + s - low)) $((four + e - low))
  else
    printf 'remote=%x-%x\nremote=%x-%x\n' "$s" "$low" "$four" $((four + e - low))
  fi
}

# vm_timing_calibration: "LAT_NS LINE_NS", TCG's own cost of one dependent
# load over 128 MiB and of one streamed line on node 0, with the plugin
# modelling but injecting nothing: the medians of 5 reps of a guest boot of
# vm/run itself. Cached per QEMU, kernel, CPU count, host CPU model and plugin
# source. Injection is real time, so the calibration must describe the host
# as it is during the run it serves: EMUCXL_TIMING_CALIBRATE_SINCE=EPOCH redoes
# a calibration made before EPOCH (tests/run-all and apps/run-experiments set
# it to their own start: one calibration per invocation, in the same
# conditions as the measurements it serves).
vm_timing_calibration() {
  local key file out lat gbs since=${EMUCXL_TIMING_CALIBRATE_SINCE:-0}
  key=$(printf '%s|%s|%s|%s|%s' "$(<"$VM_QEMU_DIR/version")" "$flavour" "$cpus" \
    "$(grep -m1 'model name' /proc/cpuinfo)" "$(cat "$VM_DIR"/plugin/{cxltiming.c,cache_model.h} | sha1sum)" |
    sha1sum | cut -c1-16)
  file=$VM_CACHE/timing-calibration/$key
  [[ $since =~ ^[0-9]+$ ]] || vm_die "EMUCXL_TIMING_CALIBRATE_SINCE wants seconds since the epoch, not '$since'"
  if [[ -s $file ]] && (($(stat -c %Y "$file") < since)); then
    vm_log "timing: the calibration in $file predates EMUCXL_TIMING_CALIBRATE_SINCE: redoing it"
    rm -f "$file"
  fi
  if [[ ! -s $file ]]; then
    local memlat=$EMUCXL_BUILD_DIR/apps/memlat/emucxl-memlat
    [[ -x $memlat ]] || vm_die "the timing model's calibration needs $memlat (build the project first)"
    vm_log "timing: calibrating TCG's own cost per access (cached in $file)"
    out=$(EMUCXL_BACKEND=mbind EMUCXL_LOG=error "$VM_DIR/run" --kernel "$flavour" --cpus "$cpus" \
      --no-kmod --no-cused --cxl-timing 100,100,100,100 --timing-calibrate -- \
      "$memlat" --node 0 --mib 128 --loads 1000000 --reps 5 --json | grep '^{"working_set_mib"') ||
      vm_die "timing calibration run failed"
    lat=$(sed -n 's/.*"latency_ns": *\([0-9.]*\).*/\1/p' <<<"$out")
    gbs=$(sed -n 's/.*"read_gbs": *\([0-9.]*\).*/\1/p' <<<"$out")
    [[ -n $lat && -n $gbs ]] || vm_die "timing calibration: cannot read '$out'"
    mkdir -p "$(dirname "$file")"
    awk -v l="$lat" -v g="$gbs" 'BEGIN { printf "%.2f %.3f\n", l, 64 / g }' >"$file.tmp"
    mv "$file.tmp" "$file"
  fi
  cat "$file"
}

# vm_timing_setup: QEMU 10.0 with the plugin and HMAT for the profile in
# $timing; sets qemu_bin, machine, accel_opts, node1_opts, timing_qemu,
# timing_env.
vm_timing_setup() {
  local l r lg rg plugin args lat_oh scale tcg_lat=0 tcg_line=0
  IFS=, read -r l r lg rg <<<"$timing"
  "$VM_DIR/fetch-qemu"
  plugin=$("$VM_DIR/plugin/build")
  qemu_bin=("$VM_QEMU_DIR/bin" -L "$VM_QEMU_DIR/datadir" -L /usr/share/seabios -L /usr/share/qemu)
  if ((calibrate)); then
    args="inject=0" scale=1 lat_oh=0
  else
    read -r tcg_lat tcg_line < <(vm_timing_calibration)
    # TCG's own time before a latency miss counts towards its charge up to
    # a cap, at first 1.25x the calibrated cost (host load varies; the plugin
    # then moves it with TCG's own time per miss; a streamed line counts all
    # of it, plugin/cxltiming.c). Where that cap exceeds the local latency,
    # stretch both tiers' latencies alike (10% headroom), so ratios stay the
    # profile's. Every guest latency is the profile's times 1.1 x 1.25 x the
    # calibration: the less, the less wall clock every miss costs (1.5x until
    # 2026-12-07; vm/README.md, "Measured", has what each gave).
    lat_oh=$(awk -v a="$tcg_lat" 'BEGIN { printf "%.2f", 1.25 * a }')
    scale=$(awk -v a="$lat_oh" -v l="$l" 'BEGIN { s = 1.1 * a / l; printf "%.3f", s < 1 ? 1 : s }')
    args="inject=1"
  fi
  args+=",local_ns=$l,remote_ns=$r,local_gbs=$lg,remote_gbs=$rg,scale=$scale"
  args+=",lat_overhead=$lat_oh"
  args+=$(vm_timing_remote_ranges "$local_mib" "$remote_mib" | sed 's/^/,/' | tr -d '\n')
  machine=q35,hmat=on
  # One TCG thread for all vCPUs: with a vCPU per thread, a vCPU's memory
  # callback can look up an I/O TLB entry another vCPU's memory-map change
  # has just made stale, and QEMU 10.0 aborts (iotlb_to_section assertion).
  accel_opts=",thread=single"
  node1_opts=",initiator=0"
  # ACPI HMAT: the profile's idle latency (ns) and bandwidth (bytes/s).
  timing_qemu=(-plugin "$plugin,$args")
  # QEMU writes "M" bandwidths into HMAT as the MB/s the kernel shows, and
  # stores them as 16-bit multiples of one power-of-two base: round both to
  # multiples of the smallest such base that fits.
  local t n lat bw unit
  unit=$(awk -v a="$lg" -v b="$rg" 'BEGIN { m = (a > b ? a : b) * 1000; u = 1
                                           while (m / u >= 32767) u *= 2; print u }')
  for t in 0 1; do
    if ((t == 0)); then lat=$l bw=$lg; else lat=$r bw=$rg; fi
    n=$(awk -v x="$lat" 'BEGIN { printf "%d", x + 0.5 }')
    bw=$(awk -v x="$bw" -v u="$unit" 'BEGIN { v = int(x * 1000 / u + 0.5); if (v < 1) v = 1
                                              printf "%dM", v * u }')
    timing_qemu+=(-numa "hmat-lb,initiator=0,target=$t,hierarchy=memory,data-type=access-latency,latency=$n")
    timing_qemu+=(-numa "hmat-lb,initiator=0,target=$t,hierarchy=memory,data-type=access-bandwidth,bandwidth=$bw")
  done
  # What the guest learns (emucxlctl info, the experiments, tests/vm-timing):
  # the profile, the latency stretch, and TCG's own calibrated costs.
  timing_env="profile=$timing_name local_ns=$l remote_ns=$r local_gbs=$lg remote_gbs=$rg scale=$scale"
  timing_env+=" tcg_load_ns=$tcg_lat tcg_line_ns=$tcg_line"
  ((calibrate)) && timing_env+=" calibration=1"
  vm_log "timing: $timing_name ($timing_env)"
}

# vm_timing_report_to DIR: the plugin writes its exit summary to DIR.
vm_timing_report_to() {
  timing_qemu[1]+=",report=$1/timing-report"
}

# vm_timing_summary DIR: print the plugin's summary, and the share of latency
# misses that found TCG slower than the cap. Compute between misses does
# that legitimately; a busy host does it too, and then those misses cost the
# guest more than the profile says (ratios come out low), hence the advice.
vm_timing_summary() {
  local f=$1/timing-report misses over
  [[ -s $f ]] || { vm_log "timing: the plugin wrote no summary"; return 0; }
  vm_log "$(<"$f")"
  ((calibrate)) && return 0  # nothing is charged then, so nothing can be over
  # latency misses: each node's misses less its streamed ones
  misses=$(grep -o 'misses [0-9]* ([0-9]* streaming' "$f" |
    awk '{ sub(/\(/, "", $3); s += $2 - $3 } END { print s + 0 }')
  over=$(sed -n 's/.*; \([0-9]*\) latency misses found.*/\1/p' "$f")
  if awk -v m="$misses" -v o="$over" 'BEGIN { exit !(m > 0 && o / m > 0.05) }'; then
    vm_log "timing: $(awk -v m="$misses" -v o="$over" 'BEGIN { printf "%.0f", 100 * o / m }')% of latency misses" \
      "came after more TCG time than the cap (compute between misses, or a busy host: only the" \
      "latter distorts timing; run timed experiments on an otherwise idle host)"
  fi
}
