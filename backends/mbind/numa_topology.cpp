// SPDX-License-Identifier: Apache-2.0
// numa_topology.cpp - node choice through libnuma (no hand-parsed sysfs).
#include "numa_topology.hpp"

#include <numa.h>
#include <sched.h>
#include <unistd.h>

#include "log.hpp"

namespace emucxl {

namespace {

bool has_memory(int node)
{
	return numa_bitmask_isbitset(numa_all_nodes_ptr, static_cast<unsigned>(node)) &&
	       numa_node_size64(node, nullptr) > 0;
}

bool has_cpus(int node)
{
	struct bitmask *cpus = numa_allocate_cpumask();
	if (!cpus)
		return true;  // cannot tell: do not call it CPU-less
	bool any = numa_node_to_cpus(node, cpus) == 0 && numa_bitmask_weight(cpus) > 0;
	numa_free_cpumask(cpus);
	return any;
}

Result<int> checked_override(int node, const char *var)
{
	if (node > numa_max_node() || !has_memory(node)) {
		LOG_ERROR("%s=%d: no such NUMA node with memory here (highest node: %d)", var, node,
			  numa_max_node());
		return Error{EINVAL};
	}
	return node;
}

}  // namespace

Result<NodeChoice> choose_nodes(const Config &config) noexcept
{
	NodeChoice c;
	if (numa_available() < 0) {
		// No NUMA support in this kernel: everything is one node, node 0.
		if (config.local_node > 0 || config.remote_node > 0) {
			LOG_ERROR("EMUCXL_LOCAL_NODE/EMUCXL_REMOTE_NODE set, but this kernel has no NUMA support");
			return Error{EINVAL};
		}
		return c;
	}

	if (config.local_node >= 0) {
		auto n = checked_override(config.local_node, "EMUCXL_LOCAL_NODE");
		if (!n)
			return Error{n.error()};
		c.local = n.value();
	} else {
		const int cpu = sched_getcpu();
		const int node = cpu >= 0 ? numa_node_of_cpu(cpu) : -1;
		c.local = node >= 0 && has_memory(node) ? node : 0;
	}

	if (config.remote_node >= 0) {
		auto n = checked_override(config.remote_node, "EMUCXL_REMOTE_NODE");
		if (!n)
			return Error{n.error()};
		c.remote = n.value();
		return c;
	}
	c.remote = c.local;
	for (int n = 0; n <= numa_max_node(); n++) {
		if (n != c.local && has_memory(n) && !has_cpus(n)) {
			c.remote = n;  // a memory-only node: what CXL memory looks like
			return c;
		}
	}
	for (int n = numa_max_node(); n >= 0; n--) {
		if (n != c.local && has_memory(n)) {
			c.remote = n;
			break;
		}
	}
	return c;
}

NodeMemory node_memory(int node) noexcept
{
	NodeMemory m;
	if (numa_available() < 0) {
		m.total = static_cast<long long>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
		m.free = static_cast<long long>(sysconf(_SC_AVPHYS_PAGES)) * sysconf(_SC_PAGESIZE);
		return m;
	}
	m.total = numa_node_size64(node, &m.free);
	return m;
}

}  // namespace emucxl
