// SPDX-License-Identifier: Apache-2.0
#include "topology.hpp"

#include <memory>

#include <numa.h>

namespace emucxl::ctl {

const NumaNode *Topology::find(int id) const
{
	for (const auto &n : nodes)
		if (n.id == id)
			return &n;
	return nullptr;
}

int Topology::distance_between(int a, int b) const
{
	int ia = -1, ib = -1;
	for (std::size_t i = 0; i < nodes.size(); ++i) {
		if (nodes[i].id == a)
			ia = static_cast<int>(i);
		if (nodes[i].id == b)
			ib = static_cast<int>(i);
	}
	return ia < 0 || ib < 0 ? -1 : distance[ia][ib];
}

Topology read_topology()
{
	Topology t;
	t.available = numa_available() >= 0;
	if (!t.available)
		return t;
	struct BitmaskFree {
		void operator()(bitmask *b) const { numa_free_cpumask(b); }
	};
	std::unique_ptr<bitmask, BitmaskFree> cpus(numa_allocate_cpumask());
	const int max_cpu = numa_num_possible_cpus();
	for (int id = 0; id <= numa_max_node(); ++id) {
		if (!numa_bitmask_isbitset(numa_nodes_ptr, id))
			continue;
		NumaNode n;
		n.id = id;
		long long free = 0;
		n.memory = numa_node_size64(id, &free);
		n.free = n.memory < 0 ? -1 : free;
		if (numa_node_to_cpus(id, cpus.get()) == 0)
			for (int c = 0; c < max_cpu; ++c)
				if (numa_bitmask_isbitset(cpus.get(), c))
					n.cpus.push_back(c);
		t.nodes.push_back(std::move(n));
	}
	for (const auto &a : t.nodes) {
		auto &row = t.distance.emplace_back();
		for (const auto &b : t.nodes)
			row.push_back(numa_distance(a.id, b.id));
	}
	return t;
}

} // namespace emucxl::ctl
