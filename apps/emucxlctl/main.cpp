// SPDX-License-Identifier: Apache-2.0
// emucxlctl - inspect emucxl: which driver, how logical nodes map onto the
// machine, and how much memory is in use; and run programs on it.
#include <cstring>
#include <exception>
#include <iostream>

#include <emucxl/emucxl.hpp>

#include "cli.hpp"
#include "commands.hpp"

namespace {

constexpr const char *synopsis =
	"emucxlctl info  [--json]\n"
	"       emucxlctl stats [--json]\n"
	"       emucxlctl run   [POLICY] [--report] -- COMMAND [ARGS...]\n"
	"       emucxlctl --help";

constexpr const char *footer =
	"stats: for kmod and cuse the device's usage, across all its clients; for mbind\n"
	"only this process's (zero), since mbind keeps no shared state.\n"
	"run: POLICY is --node local|remote, --local-limit SIZE, --interleave L:R or\n"
	"--min-size SIZE (emucxlctl run --help).\n"
	"--json: one JSON object on stdout.\n"
	"\n"
	"The driver is chosen by EMUCXL_BACKEND (auto, mbind, kmod, cuse), as for any\n"
	"emucxl program. Exit status: 0 done, 1 failed, 2 bad command line.";

} // namespace

int main(int argc, char **argv)
{
	namespace apps = emucxl::apps;
	namespace ctl = emucxl::ctl;

	// run's COMMAND is everything after the first "--": CLI11 never sees it.
	int dash = 1;
	while (dash < argc && std::strcmp(argv[dash], "--") != 0)
		dash++;

	CLI::App app{"Inspect emucxl and run programs on emulated CXL memory.", "emucxlctl"};
	apps::use_conventions(app, synopsis);
	app.footer(footer);
	app.require_subcommand(0, 1); // none: said below, after any "not expected: frob"
	bool json = false;
	// Before the command too (emucxlctl --json info), as it always was.
	app.add_flag("--json", json)->group("");

	CLI::App *info = app.add_subcommand(
		"info", "the driver, logical -> physical node mapping, separate or shared, pinned, capacities, "
			"NUMA distances, timing, CXL");
	apps::use_conventions(*info, "emucxlctl info [--json]");
	CLI::App *stats = app.add_subcommand(
		"stats", "per-node usage: allocated, peak, capacity, free (kmod, cuse: the device's; mbind: "
			 "this process's)");
	apps::use_conventions(*stats, "emucxlctl stats [--json]");
	for (CLI::App *sub : {info, stats})
		sub->add_flag("--json", json, "print one JSON object on stdout");
	ctl::RunOptions run_options;
	CLI::App *run = ctl::add_run_command(app, run_options);
	CLI::App *help = app.add_subcommand("help", "this text")->group("");

	if (const auto rc = apps::parse(app, dash, argv))
		return *rc;
	if (*help) {
		std::cout << app.get_formatter()->make_help(&app, "", CLI::AppFormatMode::Normal);
		return apps::exit_ok;
	}
	if (!*info && !*stats && !*run) {
		std::cerr << "emucxlctl: no command (info, stats or run)\nusage: " << synopsis << "\n";
		return apps::exit_usage;
	}
	if (*run) {
		if (json) {
			std::cerr << "emucxlctl run: --json is for info and stats\n";
			return apps::exit_usage;
		}
		return ctl::cmd_run(run_options, dash < argc ? argv + dash + 1 : nullptr);
	}
	if (dash < argc) {
		std::cerr << "emucxlctl: '--' is for run only\nusage: " << synopsis << "\n";
		return apps::exit_usage;
	}

	try {
		emucxl::Session session;
		return *info ? ctl::cmd_info(std::cout, json) : ctl::cmd_stats(std::cout, json);
	} catch (const std::exception &ex) {
		std::cerr << "emucxlctl: " << ex.what() << "\n";
		return apps::exit_failure;
	}
}
