// SPDX-License-Identifier: Apache-2.0
// summary_table.hpp - the numbers the queue benchmark produces and compares.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "stats.hpp"

namespace emucxl::queue::bench {

using apps::Summary;

struct PhaseTimes {
	Summary enqueue; // ms for all enqueues of one run
	Summary dequeue; // ms for all dequeues of one run
	Summary total;   // ms for enqueues + dequeues of one run
};

struct Result {
	std::string allocator; // "emucxl", "malloc", "numa_alloc_onnode"
	int node = 0;          // logical node (malloc: 0, it has no node)
	PhaseTimes times;
};

struct Experiment {
	int ops = 0;
	int runs = 0;
	int warmup_runs = 0;
	std::vector<Result> results;

	const Result *find(const std::string &allocator, int node) const
	{
		for (const auto &r : results)
			if (r.allocator == allocator && r.node == node)
				return &r;
		return nullptr;
	}
};

} // namespace emucxl::queue::bench
