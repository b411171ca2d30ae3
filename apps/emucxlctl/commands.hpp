// SPDX-License-Identifier: Apache-2.0
// commands.hpp - emucxlctl's subcommands. Each needs emucxl initialised and
// returns a process exit code.
#pragma once

#include <ostream>

namespace emucxl::ctl {

// Driver, logical -> physical mapping, separate or shared, pinned,
// capacities, and the NUMA topology with distances.
int cmd_info(std::ostream &os, bool json);

// Per-node usage as the driver reports it (device-wide for kmod/cuse).
int cmd_stats(std::ostream &os, bool json);

// `emucxlctl run ...`: argv[0] is "run". Execs the command, or returns an
// exit code (run.cpp). Initialises emucxl itself, briefly.
int cmd_run(int argc, char **argv);

} // namespace emucxl::ctl
