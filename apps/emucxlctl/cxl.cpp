// SPDX-License-Identifier: Apache-2.0
// cxl.cpp - emucxlctl info's CXL section (see cxl.hpp).
#include "cxl.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace emucxl::ctl {

namespace fs = std::filesystem;

namespace {

// The first line of a sysfs file, "" if it cannot be read.
std::string read_line(const fs::path &p)
{
	std::ifstream f(p);
	std::string s;
	std::getline(f, s);
	return s;
}

// A sysfs number (decimal or 0x hex), -1 if absent or not a number.
std::int64_t read_num(const fs::path &p)
{
	const std::string s = read_line(p);
	if (s.empty())
		return -1;
	try {
		std::size_t used = 0;
		const long long v = std::stoll(s, &used, 0);
		return used ? v : -1;
	} catch (const std::exception &) {
		return -1;
	}
}

AccessNumbers read_access(const fs::path &dir)
{
	AccessNumbers a;
	a.read_latency = read_num(dir / "read_latency");
	a.write_latency = read_num(dir / "write_latency");
	a.read_bandwidth = read_num(dir / "read_bandwidth");
	a.write_bandwidth = read_num(dir / "write_bandwidth");
	return a;
}

// Is node n in a kernel node list like "0-2,4"?
bool in_node_list(int n, const std::string &list)
{
	std::stringstream ss(list);
	std::string part;
	while (std::getline(ss, part, ',')) {
		int a = -1, b = -1;
		if (std::sscanf(part.c_str(), "%d-%d", &a, &b) == 2) {
			if (n >= a && n <= b)
				return true;
		} else if (std::sscanf(part.c_str(), "%d", &a) == 1 && a == n) {
			return true;
		}
	}
	return false;
}

int memory_tier_of(const fs::path &root, int node)
{
	std::error_code ec;
	for (const auto &e : fs::directory_iterator(root / "devices/virtual/memory_tiering", ec)) {
		const std::string name = e.path().filename().string();
		if (name.rfind("memory_tier", 0) != 0)
			continue;
		if (in_node_list(node, read_line(e.path() / "nodelist")))
			return std::atoi(name.c_str() + 11);
	}
	return -1;
}

// The zone(s) of a node's online memory blocks: "Movable", "Normal", or both.
std::string zone_of(const fs::path &root, int node)
{
	std::set<std::string> zones;
	std::error_code ec;
	for (const auto &e : fs::directory_iterator(root / ("devices/system/node/node" + std::to_string(node)), ec)) {
		const std::string name = e.path().filename().string();
		if (name.rfind("memory", 0) != 0 || name.size() == 6 || !std::isdigit(name[6]))
			continue;
		if (read_line(e.path() / "state") != "online")
			continue;
		std::string z = read_line(e.path() / "valid_zones");
		z = z.substr(0, z.find(' '));
		if (!z.empty())
			zones.insert(z);
	}
	std::string s;
	for (const auto &z : zones)
		s += (s.empty() ? "" : "+") + z;
	return s;
}

void print_access(std::ostream &os, const char *what, const AccessNumbers &a)
{
	os << "  " << what;
	if (!a.known()) {
		os << "not reported by the kernel\n";
		return;
	}
	auto v = [](std::int64_t x) { return x < 0 ? std::string("?") : std::to_string(x); };
	os << "read " << v(a.read_latency) << " ns / " << v(a.read_bandwidth) << " MB/s, write "
	   << v(a.write_latency) << " ns / " << v(a.write_bandwidth) << " MB/s\n";
}

apps::Json access_json(const AccessNumbers &a)
{
	if (!a.known())
		return nullptr;
	return {{"read_latency_ns", a.read_latency},
		{"write_latency_ns", a.write_latency},
		{"read_bandwidth_mbs", a.read_bandwidth},
		{"write_bandwidth_mbs", a.write_bandwidth}};
}

} // namespace

bool AccessNumbers::known() const
{
	return read_latency >= 0 || write_latency >= 0 || read_bandwidth >= 0 || write_bandwidth >= 0;
}

CxlMemory read_cxl_memory(int node, int local_node, const std::string &root_dir)
{
	const fs::path root(root_dir);
	CxlMemory c;
	c.node = node;
	c.memory_tier = memory_tier_of(root, node);
	c.local_memory_tier = memory_tier_of(root, local_node);
	c.zone = zone_of(root, node);
	c.node_access = read_access(root / ("devices/system/node/node" + std::to_string(node)) / "access0/initiators");

	// The dax device onlined as this node; its sysfs path runs through the
	// region it was created from: .../regionN/dax_regionN/daxN.M.
	std::error_code ec;
	for (const auto &e : fs::directory_iterator(root / "bus/dax/devices", ec)) {
		if (read_num(e.path() / "target_node") != node)
			continue;
		const fs::path real = fs::canonical(e.path(), ec);
		if (ec)
			continue;
		for (const auto &part : real) {
			const std::string s = part.string();
			if (s.rfind("region", 0) == 0 && s.size() > 6 && std::isdigit(s[6]))
				c.region = s;
		}
		if (!c.region.empty()) {
			c.dax = e.path().filename().string();
			break;
		}
	}
	if (c.region.empty())
		return c;
	const fs::path r = root / "bus/cxl/devices" / c.region;
	if (read_num(r / "commit") != 1)
		return c;
	c.is_cxl = true;
	c.mode = read_line(r / "mode");
	c.size = static_cast<std::uint64_t>(std::max<std::int64_t>(0, read_num(r / "size")));
	c.resource = static_cast<std::uint64_t>(std::max<std::int64_t>(0, read_num(r / "resource")));
	c.interleave_ways = static_cast<int>(read_num(r / "interleave_ways"));
	c.interleave_granularity = static_cast<int>(read_num(r / "interleave_granularity"));
	c.region_access = read_access(r / "access0");
	// target0 is an endpoint decoder "decoderE.N" of port endpointE, whose
	// uport is the memdev.
	const std::string target = read_line(r / "target0");
	if (target.rfind("decoder", 0) == 0) {
		const std::string ep = "endpoint" + target.substr(7, target.find('.') - 7);
		const fs::path uport = fs::canonical(root / "bus/cxl/devices" / ep / "uport", ec);
		if (!ec) {
			c.memdev = uport.filename().string();
			c.qos_class = static_cast<int>(read_num(root / "bus/cxl/devices" / c.memdev / "ram/qos_class"));
		}
	}
	return c;
}

void print_cxl_text(std::ostream &os, const CxlMemory &c)
{
	if (!c.is_cxl) {
		os << "\nremote node " << c.node << " is not CXL memory (no committed CXL region is onlined as it)\n";
		return;
	}
	char line[200];
	std::snprintf(line, sizeof line, "\nremote node %d is CXL memory: %s %s, %.1f MiB at %#llx\n", c.node,
		      c.region.c_str(), c.mode.c_str(), static_cast<double>(c.size) / (1 << 20),
		      static_cast<unsigned long long>(c.resource));
	os << line;
	os << "  memdev:            " << (c.memdev.empty() ? "?" : c.memdev)
	   << (c.qos_class >= 0 ? " (qos_class " + std::to_string(c.qos_class) + ")" : "") << "\n"
	   << "  interleave:        " << c.interleave_ways << " way(s), granularity " << c.interleave_granularity
	   << " bytes\n"
	   << "  onlined by:        " << c.dax << " (kmem), zone " << (c.zone.empty() ? "none (offline)" : c.zone)
	   << "\n"
	   << "  memory tier:       ";
	if (c.memory_tier < 0)
		os << "unknown";
	else
		os << "memory_tier" << c.memory_tier
		   << (c.local_memory_tier >= 0 ? (c.memory_tier > c.local_memory_tier ? " (below local's memory_tier"
										     : " (not below local's memory_tier") +
							  std::to_string(c.local_memory_tier) + ")"
						: "");
	os << "\n";
	print_access(os, "node (HMAT/CXL):   ", c.node_access);
	print_access(os, "region (CDAT):     ", c.region_access);
}

apps::Json cxl_json(const CxlMemory &c)
{
	apps::Json j{{"node", c.node}, {"is_cxl", c.is_cxl}};
	if (c.is_cxl) {
		j["region"] = c.region;
		j["memdev"] = c.memdev;
		j["dax"] = c.dax;
		j["mode"] = c.mode;
		j["size_bytes"] = c.size;
		j["resource"] = c.resource;
		j["interleave_ways"] = c.interleave_ways;
		j["interleave_granularity"] = c.interleave_granularity;
		j["zone"] = c.zone;
		j["memory_tier"] = c.memory_tier;
		j["local_memory_tier"] = c.local_memory_tier;
		j["qos_class"] = c.qos_class;
		j["node_access"] = access_json(c.node_access);
		j["region_access"] = access_json(c.region_access);
	}
	return j;
}

} // namespace emucxl::ctl
