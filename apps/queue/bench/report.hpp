// SPDX-License-Identifier: Apache-2.0
// report.hpp - print the queue experiment as the paper's table beside ours,
// or as one JSON object.
#pragma once

#include <ostream>

#include <emucxl/emucxl.h>

#include "environment.hpp"
#include "summary_table.hpp"

namespace emucxl::queue::bench {

void print_table(std::ostream &os, const Experiment &e, const apps::Machine &m, const emucxl_info &info);
void print_json(std::ostream &os, const Experiment &e, const apps::Machine &m, const emucxl_info &info);

} // namespace emucxl::queue::bench
