// SPDX-License-Identifier: Apache-2.0
// emucxlctl info
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include <emucxl/emucxl.h>

#include "cli.hpp"
#include "commands.hpp"
#include "cxl.hpp"
#include "environment.hpp"
#include "json.hpp"
#include "timing.hpp"
#include "topology.hpp"

namespace emucxl::ctl {

namespace {

constexpr const char *logical_name[2] = {"local", "remote"};

std::string mib(std::int64_t bytes)
{
	if (bytes < 0)
		return "?";
	char buf[32];
	std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
	return buf;
}

std::string cpu_list(const std::vector<int> &cpus)
{
	if (cpus.empty())
		return "none (memory-only)";
	std::string s;
	for (std::size_t i = 0; i < cpus.size(); ++i) {
		// Print runs as ranges, like /sys's cpulist: 0-3,8.
		std::size_t j = i;
		while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1)
			++j;
		if (!s.empty())
			s += ',';
		s += std::to_string(cpus[i]);
		if (j > i)
			s += '-' + std::to_string(cpus[j]);
		i = j;
	}
	return s;
}

void print_text(std::ostream &os, const emucxl_info &info, const Topology &topo, const CxlMemory &cxl)
{
	os << "driver:              " << info.driver << "\n"
	   << "api version:         " << info.api_version << "\n"
	   << "remote is separate:  "
	   << (info.remote_is_separate ? "yes" : "NO - remote shares local's physical node; nothing measured on "
						 "\"remote\" is remote memory")
	   << "\n"
	   << "pinned:              " << (info.pinned ? "yes (locked, never swapped)" : "no") << "\n\n";
	char line[200];
	std::snprintf(line, sizeof line, "%-8s %-8s %-16s %-22s %s\n", "logical", "physical", "capacity", "cpus",
		      "node memory (free)");
	os << line;
	for (int l : {0, 1}) {
		const int phys = info.node[l].physical_node;
		const NumaNode *n = topo.find(phys);
		const std::string mem = n ? mib(n->memory) + " (" + mib(n->free) + ")" : "?";
		std::snprintf(line, sizeof line, "%-8s %-8d %-16s %-22s %s\n",
			      (std::to_string(l) + " " + logical_name[l]).c_str(), phys,
			      mib(static_cast<std::int64_t>(info.node[l].capacity)).c_str(),
			      n ? cpu_list(n->cpus).c_str() : "?", mem.c_str());
		os << line;
	}
	const int d = topo.distance_between(info.node[0].physical_node, info.node[1].physical_node);
	os << "\nlocal -> remote distance: " << (d < 0 ? std::string("unknown") : std::to_string(d))
	   << " (10 = same node)\n";
	if (info.remote_is_separate)
		print_cxl_text(os, cxl);

	print_timing_text(os);

	if (!topo.available) {
		os << "\nNUMA: libnuma reports no NUMA support on this machine\n";
		return;
	}
	os << "\nNUMA node distances (libnuma):\nnode ";
	for (const auto &n : topo.nodes)
		os << " " << std::string(4 - std::min<std::size_t>(4, std::to_string(n.id).size()), ' ') << n.id;
	os << "\n";
	for (std::size_t i = 0; i < topo.nodes.size(); ++i) {
		std::snprintf(line, sizeof line, "%4d:", topo.nodes[i].id);
		os << line;
		for (int dist : topo.distance[i]) {
			std::snprintf(line, sizeof line, " %4d", dist);
			os << line;
		}
		os << "\n";
	}
}

void print_json(std::ostream &os, const emucxl_info &info, const Topology &topo, const CxlMemory &cxl)
{
	apps::Json j;
	j["driver"] = std::string(info.driver, strnlen(info.driver, sizeof info.driver));
	j["api_version"] = info.api_version;
	j["remote_is_separate"] = info.remote_is_separate;
	j["pinned"] = info.pinned;
	apps::Json nodes = apps::Json::array();
	for (int l : {0, 1}) {
		const NumaNode *n = topo.find(info.node[l].physical_node);
		nodes.push_back({{"logical", l},
				 {"name", logical_name[l]},
				 {"physical_node", info.node[l].physical_node},
				 {"capacity_bytes", info.node[l].capacity},
				 {"cpuless", n ? apps::Json(n->cpus.empty()) : apps::Json(nullptr)}});
	}
	j["nodes"] = std::move(nodes);
	const int d = topo.distance_between(info.node[0].physical_node, info.node[1].physical_node);
	j["local_remote_distance"] = d < 0 ? apps::Json(nullptr) : apps::Json(d);

	apps::Json numa_nodes = apps::Json::array();
	for (const auto &n : topo.nodes)
		numa_nodes.push_back({{"node", n.id},
				      {"memory_bytes", n.memory},
				      {"free_bytes", n.free},
				      {"cpus", n.cpus}});
	j["numa"] = {{"available", topo.available}, {"nodes", std::move(numa_nodes)}, {"distances", topo.distance}};
	j["timing"] = timing_json();
	j["cxl"] = cxl_json(cxl);
	apps::print_json(os, j);
}

} // namespace

int cmd_info(std::ostream &os, bool json)
{
	emucxl_info info;
	if (!apps::get_emucxl_info(info)) {
		std::cerr << "emucxlctl: emucxl_get_info: " << std::strerror(errno) << "\n";
		return apps::exit_failure;
	}
	const Topology topo = read_topology();
	const CxlMemory cxl = read_cxl_memory(info.node[1].physical_node, info.node[0].physical_node);
	if (json)
		print_json(os, info, topo, cxl);
	else
		print_text(os, info, topo, cxl);
	return apps::exit_ok;
}

} // namespace emucxl::ctl
