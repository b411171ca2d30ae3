// SPDX-License-Identifier: Apache-2.0
// nodes.hpp - which physical NUMA nodes the daemon serves, and how much.
//
// Same meaning as emucxl.ko's parameters local_node, remote_node,
// local_capacity_mb, remote_capacity_mb, and the same defaults, so the two
// servers describe a machine identically in EMUCXL_INFO:
//   local   first node with CPUs and memory (else the first node with memory)
//   remote  first other node with memory and no CPUs, else the highest other
//           node with memory, else local
//   capacity 0 means 50% of the node's memory if it has CPUs, 90% if it has
//           none, rounded down to whole MiB
// One deliberate difference: the module counts only the zones below
// ZONE_MOVABLE, because its pages are unmovable kernel allocations; the
// daemon's are shmem pages, which are movable and may live in ZONE_MOVABLE
// (where CXL memory is often onlined), so it counts the node's whole
// MemTotal / MemFree. On a node without ZONE_MOVABLE (the vm/ guest) both
// report the same numbers.
#pragma once

#include <cstdint>

#include "result.hpp"

namespace emucxl::cused {

// One logical node as configured: fixed for the daemon's life.
struct NodeSetup {
	int nid = 0;                // physical NUMA node
	std::uint64_t capacity = 0; // bytes all sessions may hold there
	std::uint64_t usable = 0;   // bytes of memory the node has (MemTotal)
	bool has_cpus = false;      // EMUCXL_NODE_HAS_CPUS
};

struct NodeMemory {
	std::uint64_t usable = 0;  // MemTotal: managed bytes of all its zones
	std::uint64_t free = 0;    // MemFree, now
};

// The node's memory from sysfs; zeros for a node without memory.
NodeMemory node_memory(int nid) noexcept;

bool node_has_memory(int nid) noexcept;
bool node_has_cpus(int nid) noexcept;

// Resolve the options (node -1: default; capacity 0: default) into the two
// logical nodes. EINVAL, with the reason logged, for a node without memory
// or a capacity that overflows, as the module refuses to load.
Status setup_nodes(int local_node, int remote_node, unsigned long local_capacity_mb,
		   unsigned long remote_capacity_mb, NodeSetup out[2]) noexcept;

}  // namespace emucxl::cused
