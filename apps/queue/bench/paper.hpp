// SPDX-License-Identifier: Apache-2.0
// paper.hpp - the EmuCXL paper's published queue results (ms, 15,000 ops,
// 10 runs), copied from ../shared/reference/seed-results.md.
#pragma once

#include <limits>

#include "summary_table.hpp"

namespace emucxl::queue::bench {

inline constexpr int paper_ops = 15000;
inline constexpr int paper_runs = 10;

// The paper published mean and standard deviation only.
inline constexpr double unpublished = std::numeric_limits<double>::quiet_NaN();
constexpr Summary published(double mean, double stddev) { return {mean, stddev, unpublished, unpublished}; }

// [node] = {enqueue, dequeue, total}; node 0 local, node 1 remote.
inline constexpr PhaseTimes paper_results[2] = {
	{published(502.98, 9.23), published(417.69, 8.71), published(502.98 + 417.69, unpublished)},
	{published(567.21, 7.93), published(500.40, 3.66), published(567.21 + 500.40, unpublished)},
};

} // namespace emucxl::queue::bench
