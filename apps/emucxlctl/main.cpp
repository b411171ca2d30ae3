// SPDX-License-Identifier: Apache-2.0
// emucxlctl - inspect emucxl: which driver, how logical nodes map onto the
// machine, and how much memory is in use.
#include <exception>
#include <iostream>
#include <string_view>

#include <emucxl/emucxl.hpp>

#include "cli.hpp"
#include "commands.hpp"

namespace {

constexpr std::string_view usage =
	"usage: emucxlctl info  [--json]\n"
	"       emucxlctl stats [--json]\n"
	"       emucxlctl run   [POLICY] [--report] -- COMMAND [ARGS...]\n"
	"       emucxlctl --help\n"
	"\n"
	"  info   the selected driver, logical -> physical NUMA node mapping, whether\n"
	"         remote is really a separate node, whether memory is pinned, the\n"
	"         capacities, and the node distances (libnuma)\n"
	"  stats  per-node usage: allocated, peak, capacity, free. For kmod and cuse\n"
	"         this is the device's, across all its clients; for mbind it is only\n"
	"         this process's (zero), since mbind keeps no shared state\n"
	"  run    run COMMAND unmodified with its heap on emucxl memory; POLICY is\n"
	"         --node local|remote, --local-limit SIZE, --interleave L:R or\n"
	"         --min-size SIZE (emucxlctl run --help)\n"
	"  --json print one JSON object on stdout\n"
	"\n"
	"The driver is chosen by EMUCXL_BACKEND (auto, mbind, kmod, cuse), as for any\n"
	"emucxl program. Exit status: 0 done, 1 failed, 2 bad command line.\n";

} // namespace

int main(int argc, char **argv)
{
	namespace apps = emucxl::apps;
	std::string_view command;
	bool json = false;
	if (argc > 1 && std::string_view(argv[1]) == "run")
		return emucxl::ctl::cmd_run(argc - 1, argv + 1);
	for (int i = 1; i < argc; ++i) {
		std::string_view a = argv[i];
		if (a == "--help" || a == "-h" || a == "help") {
			std::cout << usage;
			return apps::exit_ok;
		}
		if (a == "--json") {
			json = true;
		} else if (command.empty() && (a == "info" || a == "stats")) {
			command = a;
		} else {
			std::cerr << "emucxlctl: bad argument '" << a << "'\n" << usage;
			return apps::exit_usage;
		}
	}
	if (command.empty()) {
		std::cerr << usage;
		return apps::exit_usage;
	}

	try {
		emucxl::Session session;
		return command == "info" ? emucxl::ctl::cmd_info(std::cout, json)
					 : emucxl::ctl::cmd_stats(std::cout, json);
	} catch (const std::exception &ex) {
		std::cerr << "emucxlctl: " << ex.what() << "\n";
		return apps::exit_failure;
	}
}
