// SPDX-License-Identifier: Apache-2.0
// numa_topology.hpp - which physical NUMA nodes stand behind logical nodes
// 0 (local) and 1 (remote), found with libnuma.
#pragma once

#include "config.hpp"
#include "result.hpp"

namespace emucxl {

struct NodeChoice {
	int local = 0;   // physical node behind logical node 0
	int remote = 0;  // physical node behind logical node 1
};

// Defaults (docs/DESIGN.md, "Configuration"): local = the node of the calling CPU; remote =
// the first CPU-less node with memory, else the highest other node with
// memory, else local itself. EMUCXL_LOCAL_NODE / EMUCXL_REMOTE_NODE override
// them and must name a node with memory (EINVAL otherwise).
Result<NodeChoice> choose_nodes(const Config &config) noexcept;

// Total and free bytes of a physical node's memory.
struct NodeMemory {
	long long total = 0;
	long long free = 0;
};
NodeMemory node_memory(int node) noexcept;

}  // namespace emucxl
