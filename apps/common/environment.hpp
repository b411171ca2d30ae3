// SPDX-License-Identifier: Apache-2.0
// environment.hpp - what a result was measured on: the machine, and how
// emucxl's logical nodes map onto it. Every bench prints this beside its
// numbers, because a "remote" column measured on a one-node machine is not a
// remote-memory measurement and must say so.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include <emucxl/emucxl.h>

#include "json.hpp"

namespace emucxl::apps {

struct Machine {
	std::string hostname;
	std::string kernel;    // uname -sr
	std::string arch;      // uname -m
	std::string cpu_model; // /proc/cpuinfo "model name", "" if unknown
	unsigned cpus = 0;     // online CPUs
	int numa_nodes = 0;    // configured NUMA nodes (libnuma), 0 if unavailable
	bool virtualized = false; // /proc/cpuinfo has the "hypervisor" flag
	double load_average = -1; // 1-minute load average when the run started; -1 unknown.
	                          // Above ~0.5 per CPU, other work shared the CPUs: timings are noisy.
};

Machine describe_machine();

// Logical -> physical mapping and driver, from emucxl_get_info.
// Requires emucxl to be initialised; returns false (errno set) otherwise.
bool get_emucxl_info(emucxl_info &info);

// The "machine" and "emucxl" objects every bench's --json carries.
Json machine_json(const Machine &m);
Json emucxl_json(const emucxl_info &info);

// Two or three human-readable lines: machine, driver and node mapping, and a
// warning when remote shares local's physical node.
void print_setup(std::ostream &os, const Machine &m, const emucxl_info &info);

// One-line description of the mapping, e.g. "local = node 0, remote = node 1 (separate)".
std::string describe_mapping(const emucxl_info &info);

} // namespace emucxl::apps
