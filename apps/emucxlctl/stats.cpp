// SPDX-License-Identifier: Apache-2.0
// emucxlctl stats
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>

#include <emucxl/emucxl.h>

#include "cli.hpp"
#include "commands.hpp"
#include "json.hpp"

namespace emucxl::ctl {

namespace {

// Whose memory the driver's usage counts: kmod and cuse account in the
// device, across every client; mbind has no shared state, so it can only
// see this process (which, for emucxlctl, has allocated nothing).
bool device_wide(std::string_view driver) { return driver == "kmod" || driver == "cuse"; }

} // namespace

int cmd_stats(std::ostream &os, bool json)
{
	const char *name = emucxl_driver_name();
	const std::string_view driver = name ? name : "?";
	emucxl_node_usage usage[2];
	for (int node : {0, 1}) {
		if (emucxl_get_usage(node, &usage[node]) != 0) {
			std::cerr << "emucxlctl: emucxl_get_usage(" << node << "): " << std::strerror(errno) << "\n";
			return apps::exit_failure;
		}
	}
	const char *scope = device_wide(driver) ? "device" : "process";

	if (json) {
		apps::Json nodes = apps::Json::array();
		for (int node : {0, 1})
			nodes.push_back({{"logical", node},
					 {"name", node == 0 ? "local" : "remote"},
					 {"allocated_bytes", usage[node].allocated},
					 {"peak_bytes", usage[node].peak},
					 {"capacity_bytes", usage[node].capacity},
					 {"free_bytes", usage[node].free}});
		apps::print_json(os, {{"driver", std::string(driver)}, {"scope", scope}, {"nodes", std::move(nodes)}});
		return apps::exit_ok;
	}

	// numastat style: one row per quantity, one column per node, in MiB.
	os << "emucxl usage, driver " << driver << " ("
	   << (device_wide(driver) ? "all clients of the device" : "this process only: mbind keeps no shared state")
	   << ")\n";
	char line[160];
	std::snprintf(line, sizeof line, "%-16s %15s %15s\n", "", "local (node 0)", "remote (node 1)");
	os << line;
	const struct {
		const char *label;
		std::uint64_t emucxl_node_usage::*field;
	} rows[] = {
		{"Allocated (MiB)", &emucxl_node_usage::allocated},
		{"Peak (MiB)", &emucxl_node_usage::peak},
		{"Capacity (MiB)", &emucxl_node_usage::capacity},
		{"Free (MiB)", &emucxl_node_usage::free},
	};
	for (const auto &row : rows) {
		std::snprintf(line, sizeof line, "%-16s %15.2f %15.2f\n", row.label,
			      static_cast<double>(usage[0].*row.field) / (1 << 20),
			      static_cast<double>(usage[1].*row.field) / (1 << 20));
		os << line;
	}
	return apps::exit_ok;
}

} // namespace emucxl::ctl
