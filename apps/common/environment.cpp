// SPDX-License-Identifier: Apache-2.0
#include "environment.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <numa.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace emucxl::apps {

namespace {

// The value of the first "<field>\t: value" line of /proc/cpuinfo.
std::string cpuinfo_field(const std::string &field)
{
	std::ifstream in("/proc/cpuinfo");
	std::string line;
	while (std::getline(in, line)) {
		if (line.rfind(field, 0) != 0)
			continue;
		auto colon = line.find(':');
		if (colon == std::string::npos)
			continue;
		auto start = line.find_first_not_of(' ', colon + 1);
		return start == std::string::npos ? "" : line.substr(start);
	}
	return "";
}

} // namespace

Machine describe_machine()
{
	Machine m;
	char host[256] = {};
	if (gethostname(host, sizeof host - 1) == 0)
		m.hostname = host;
	struct utsname u {};
	if (uname(&u) == 0) {
		m.kernel = std::string(u.sysname) + " " + u.release;
		m.arch = u.machine;
	}
	m.cpu_model = cpuinfo_field("model name");
	m.virtualized = (" " + cpuinfo_field("flags") + " ").find(" hypervisor ") != std::string::npos;
	m.cpus = std::thread::hardware_concurrency();
	double load[1];
	if (getloadavg(load, 1) == 1)
		m.load_average = load[0];
	if (numa_available() >= 0)
		m.numa_nodes = numa_num_configured_nodes();
	return m;
}

bool get_emucxl_info(emucxl_info &info)
{
	std::memset(&info, 0, sizeof info);
	return emucxl_get_info(&info) == 0;
}

Json machine_json(const Machine &m)
{
	Json j;
	j["hostname"] = m.hostname;
	j["kernel"] = m.kernel;
	j["arch"] = m.arch;
	j["cpu_model"] = m.cpu_model;
	j["cpus"] = m.cpus;
	j["numa_nodes"] = m.numa_nodes;
	j["virtualized"] = m.virtualized;
	j["load_average_1m"] = m.load_average;
	return j;
}

Json emucxl_json(const emucxl_info &info)
{
	Json j;
	j["driver"] = std::string(info.driver, strnlen(info.driver, sizeof info.driver));
	j["api_version"] = info.api_version;
	j["local_physical_node"] = info.node[0].physical_node;
	j["remote_physical_node"] = info.node[1].physical_node;
	j["local_capacity_bytes"] = info.node[0].capacity;
	j["remote_capacity_bytes"] = info.node[1].capacity;
	j["remote_is_separate"] = info.remote_is_separate;
	j["pinned"] = info.pinned;
	return j;
}

std::string describe_mapping(const emucxl_info &info)
{
	std::ostringstream os;
	os << "local = physical node " << info.node[0].physical_node << ", remote = physical node "
	   << info.node[1].physical_node
	   << (info.remote_is_separate ? " (separate node)" : " (SAME node as local)");
	return os.str();
}

void print_setup(std::ostream &os, const Machine &m, const emucxl_info &info)
{
	os << "machine: " << m.hostname << ", " << (m.cpu_model.empty() ? "unknown CPU" : m.cpu_model)
	   << ", " << m.cpus << " CPUs, " << m.numa_nodes << " NUMA node(s), " << m.kernel << " "
	   << m.arch << (m.virtualized ? ", virtual machine" : "");
	if (m.load_average >= 0) {
		char load[64];
		std::snprintf(load, sizeof load, ", load average %.2f", m.load_average);
		os << load;
		if (m.cpus && m.load_average > 0.5 * m.cpus)
			os << " (busy: other work shares the CPUs, timings are noisy)";
	}
	os << "\n";
	os << "emucxl: driver " << std::string_view(info.driver, strnlen(info.driver, sizeof info.driver))
	   << ", " << describe_mapping(info) << ", memory " << (info.pinned ? "pinned" : "NOT pinned")
	   << "\n";
	if (!info.remote_is_separate)
		os << "NOTE: remote (logical node 1) shares physical node " << info.node[1].physical_node
		   << " with local on this machine, so every \"remote\" number below is local DRAM,\n"
		      "      NOT a remote-memory measurement.\n";
	// Two nodes are not two speeds: under QEMU TCG every access costs the
	// same unless vm/run's timing model runs (it exports EMUCXL_TIMING).
	const char *timing = std::getenv("EMUCXL_TIMING");
	if (timing && *timing)
		os << "remote timing: emulated by the vm/ timing model (EMUCXL_TIMING: " << timing << ")\n";
	else if (info.remote_is_separate && m.cpu_model.find("TCG") != std::string::npos)
		os << "NOTE: remote timing is NOT emulated: this QEMU TCG guest runs without a timing profile\n"
		      "      (EMUCXL_TIMING unset; vm/run --cxl-profile NAME sets one), and TCG gives every memory\n"
		      "      access the same cost, so physical node " << info.node[1].physical_node
		   << " is as fast as node " << info.node[0].physical_node
		   << ": remote/local ratios below show no NUMA\n"
		      "      penalty, whatever the node numbers say.\n";
	os << "target lines: goals this implementation sets itself, judged on this run's numbers. NOT MET\n"
	      "is a finding, not a failure (the exit status stays 0): timing targets move with machine load\n"
	      "and with emulation (apps/README.md, \"Reading the target lines\").\n";
}

} // namespace emucxl::apps
