// SPDX-License-Identifier: Apache-2.0
// cxl.hpp - is a NUMA node CXL memory? What the kernel's CXL stack says
// about the node emucxl uses as remote: the Type-3 memdev, the region it is
// committed in (size, interleave), the dax device that onlined it, the zone,
// the memory tier, and the performance numbers the kernel reports (node
// access0 from HMAT/CXL, the region's access0 computed from CDAT, the
// memdev's QoS class). Read from sysfs; absent attributes stay unknown.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "json.hpp"

namespace emucxl::ctl {

// Latency in ns, bandwidth in MB/s, as the kernel's sysfs shows them; -1 unknown.
struct AccessNumbers {
	std::int64_t read_latency = -1, write_latency = -1;
	std::int64_t read_bandwidth = -1, write_bandwidth = -1;
	bool known() const;
};

struct CxlMemory {
	bool is_cxl = false;              // the node's memory is a committed CXL region's
	int node = -1;
	std::string region;               // region0
	std::string memdev;               // mem0 (the first target's)
	std::string dax;                  // dax0.0
	std::string mode;                 // ram | pmem
	std::uint64_t size = 0;           // bytes
	std::uint64_t resource = 0;       // host physical address of the region
	int interleave_ways = -1;
	int interleave_granularity = -1;  // bytes
	std::string zone;                 // of the node's online memory: Movable, Normal, mixed
	int memory_tier = -1;             // memory_tierN the node is in
	int local_memory_tier = -1;       // that of the node emucxl uses as local
	AccessNumbers node_access;        // /sys/devices/system/node/nodeN/access0/initiators
	AccessNumbers region_access;      // /sys/bus/cxl/devices/regionN/access0 (CDAT + path)
	int qos_class = -1;               // memdev ram/qos_class
};

// What sysfs (under root, "/sys" normally) says about node and local_node.
CxlMemory read_cxl_memory(int node, int local_node, const std::string &root = "/sys");

void print_cxl_text(std::ostream &os, const CxlMemory &c);
apps::Json cxl_json(const CxlMemory &c); // info --json's "cxl" object

} // namespace emucxl::ctl
