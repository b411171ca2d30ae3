// SPDX-License-Identifier: Apache-2.0
// topology.hpp - the machine's NUMA nodes as libnuma sees them: CPUs,
// memory, distances. emucxlctl prints it beside emucxl's logical mapping so
// that one can check "remote" really is a CPU-less node at a distance.
#pragma once

#include <cstdint>
#include <vector>

namespace emucxl::ctl {

struct NumaNode {
	int id = 0;
	std::vector<int> cpus;       // empty: a CPU-less (memory-only) node, as CXL memory appears
	std::int64_t memory = -1;    // bytes, -1 unknown
	std::int64_t free = -1;      // bytes, -1 unknown
};

struct Topology {
	bool available = false;      // libnuma's numa_available()
	std::vector<NumaNode> nodes; // nodes with memory, ascending id
	std::vector<std::vector<int>> distance; // [i][j] between nodes[i] and nodes[j] (SLIT, 10 = local)

	const NumaNode *find(int id) const;
	int distance_between(int a, int b) const; // -1 if unknown
};

Topology read_topology();

} // namespace emucxl::ctl
