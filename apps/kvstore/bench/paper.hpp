// SPDX-License-Identifier: Apache-2.0
// paper.hpp - the EmuCXL paper's published local hit percentages for the
// tiered key-value store (../shared/reference/seed-results.md).
#pragma once

#include <array>

namespace emucxl::kv::bench {

struct PaperRow {
	int hot_percent;
	double promote; // policy 1
	double stay;    // policy 0
};

inline constexpr std::array<PaperRow, 10> paper_local_hit = {{
	{0, 29.79, 30.01},
	{10, 81.37, 3.29},
	{20, 50.95, 3.77},
	{30, 28.58, 4.28},
	{40, 18.03, 4.94},
	{50, 14.87, 5.94},
	{60, 12.67, 7.57},
	{70, 12.68, 10.00},
	{80, 22.22, 21.17},
	{90, 30.43, 29.95},
}};

inline constexpr std::size_t paper_local_capacity = 300;
inline constexpr std::size_t paper_remote_capacity = 1000;

} // namespace emucxl::kv::bench
