// SPDX-License-Identifier: Apache-2.0
// report.hpp - the KV experiment as tables beside the paper's, or as JSON.
#pragma once

#include <ostream>

#include <emucxl/emucxl.h>

#include "environment.hpp"
#include "experiment.hpp"

namespace emucxl::kv::bench {

inline constexpr double get_target_ratio = 0.5; // store GET rate / unordered_map GET rate, at least

void print_table(std::ostream &os, const Results &r, const apps::Machine &m, const emucxl_info &info);
void print_json(std::ostream &os, const Results &r, const apps::Machine &m, const emucxl_info &info);

} // namespace emucxl::kv::bench
