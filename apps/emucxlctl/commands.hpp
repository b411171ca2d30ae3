// SPDX-License-Identifier: Apache-2.0
// commands.hpp - emucxlctl's subcommands. info and stats need emucxl
// initialised; each returns a process exit code.
#pragma once

#include <ostream>
#include <string>

#include <CLI/CLI.hpp>

namespace emucxl::ctl {

// Driver, logical -> physical mapping, separate or shared, pinned,
// capacities, and the NUMA topology with distances.
int cmd_info(std::ostream &os, bool json);

// Per-node usage as the driver reports it (device-wide for kmod/cuse).
int cmd_stats(std::ostream &os, bool json);

// `emucxlctl run [POLICY] [--remote-full ..] [--report] -- COMMAND [ARGS...]`
// (run.cpp). The options before "--" are CLI11's; COMMAND is never parsed.
struct RunOptions {
	std::string node, local_limit, interleave, min_size, remote_full;
	bool report = false;
};

// Adds the "run" subcommand to app, filling o when it is given.
CLI::App *add_run_command(CLI::App &app, RunOptions &o);

// Checks o, sets up the preload and execs command: what follows "--",
// argv-style and NULL-ended (nullptr: there was no "--"). Returns only on
// failure, with the exit code. Initialises emucxl itself, briefly.
int cmd_run(const RunOptions &o, char **command);

} // namespace emucxl::ctl
