# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2034  # sourced by vm/run: sets its variables
# The CXL side of vm/run (--cxl): the guest's remote memory is a QEMU
# cxl-type3 device with volatile memory behind a CXL host bridge (pxb-cxl)
# and root port, in one fixed memory window (CFMWS); vm/guest/cxl-up brings it
# up inside the guest with the kernel's CXL stack, cxl(1) and daxctl(1).
# See vm/README.md, "The CXL guest (--cxl)".

# The window the platform describes (ACPI CEDT CFMWS): fixed, and large
# enough for any --mem-remote this guest can be given. A multiple of 256 MiB,
# as the CXL HDM decoders want.
VM_CXL_WINDOW=16G

# vm_cxl_check: the options --cxl can take, checked before anything boots.
vm_cxl_check() {
  case $cxl_online in
    movable|normal) ;;
    *) vm_die "--cxl-online wants movable or normal, not '$cxl_online'" ;;
  esac
  [[ -z $timing ]] ||
    vm_die "--cxl cannot be combined with --cxl-profile/--cxl-timing: the CXL window is an I/O region the timing plugin does not time (see vm/README.md)"
  [[ $accel == kvm ]] &&
    vm_die "--cxl needs TCG: under KVM the guest cannot execute from the CXL window (an I/O region)"
  accel=tcg
  ((remote_mib % 256 == 0)) ||
    vm_die "--cxl: --mem-remote must be a multiple of 256M (the CXL decoders' granularity), not $mem_remote"
  ((remote_mib <= 16384)) || vm_die "--cxl: --mem-remote is at most 16G (the window is $VM_CXL_WINDOW)"
  [[ -z $host_node_remote ]] ||
    vm_log "--cxl: --host-node-remote $host_node_remote binds the CXL device's memory"
  return 0
}

# vm_cxl_setup: QEMU 10.0 (volatile-memdev needs QEMU >= 8.0), q35 with
# cxl=on, node 0 the only memory node in SRAT (the kernel makes the window's
# node from CEDT: node 1), and the device. Sets qemu_bin, machine, cpu_opts, cxl_qemu,
# numa_remote_qemu (empty: no plain node 1), mem_total_mib.
vm_cxl_setup() {
  "$VM_DIR/fetch-qemu"
  qemu_bin=("$VM_QEMU_DIR/bin" -L "$VM_QEMU_DIR/datadir" -L /usr/share/seabios -L /usr/share/qemu)
  machine=q35,cxl=on,hmat=on
  # Committing a region makes the kernel invalidate CPU caches for the
  # window (cxl_region_invalidate_memregion); with the CPUID hypervisor bit
  # set, x86 says it cannot (cpu_cache_has_invalidate_memregion) and the
  # commit fails with ENXIO. Under TCG there is no host cache to
  # invalidate against and WBINVD is emulated, so the guest's CPU is shown
  # as bare metal instead.
  cpu_opts=",-hypervisor"
  local be="memory-backend-ram,id=cxlmem0,size=${remote_mib}M"
  [[ -n $host_node_remote ]] && be+=",policy=bind,host-nodes=$host_node_remote"
  cxl_qemu=(
    -object "$be"
    -device "pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1"
    -device "cxl-rp,port=0,bus=cxl.1,id=cxl_rp0,chassis=0,slot=2"
    -device "cxl-type3,bus=cxl_rp0,volatile-memdev=cxlmem0,id=cxl-vmem0,sn=1"
    -machine "cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=$VM_CXL_WINDOW"
    # ACPI for the kernel's performance numbers of the CXL path: a Generic
    # Port (SRAT) for the host bridge, with HMAT entries from node 0's CPUs
    # to node 0's memory and to that port. The kernel adds the device's own
    # CDAT (QEMU's defaults) and the link to the port's numbers, and reports
    # the sums as the CXL node's access0 and the region's access0; they set
    # its memory tier. Descriptive only: nothing here times an access.
    # Numbers: local DRAM of vm/profiles (105 ns, 100 GB/s); the port gets
    # the same latency and a Gen5 x8 link's 25 GB/s.
    -numa "node,nodeid=1,initiator=0"
    -object "acpi-generic-port,id=gp0,pci-bus=cxl.1,node=1"
    -numa "dist,src=0,dst=1,val=$distance"
    -numa "hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-latency,latency=105"
    -numa "hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-bandwidth,bandwidth=100G"
    -numa "hmat-lb,initiator=0,target=1,hierarchy=memory,data-type=access-latency,latency=105"
    -numa "hmat-lb,initiator=0,target=1,hierarchy=memory,data-type=access-bandwidth,bandwidth=25G"
  )
  numa_remote_qemu=()
  mem_total_mib=$local_mib
  vm_log "cxl: cxl-type3 volatile memory ${remote_mib} MiB, window $VM_CXL_WINDOW, online $cxl_online"
}
