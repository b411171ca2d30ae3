// SPDX-License-Identifier: Apache-2.0
// experiment.hpp - the paper's queue experiment: per allocator and node,
// `ops` enqueues then `ops` dequeues, timed separately, `runs` times.
#pragma once

#include "summary_table.hpp"

namespace emucxl::queue::bench {

struct Options {
	int ops = 15000;
	int runs = 10;
	int warmup_runs = 1;       // untimed runs first, so no series pays for first-touch page faults
	bool with_numa = true;     // include the (slow) numa_alloc_onnode series
	int physical_node[2] = {}; // physical NUMA node behind logical 0 / 1, for numa_alloc_onnode
};

// Runs every series, interleaved run by run (in shuffled order) so that
// drift (frequency scaling, a noisy neighbour) hits all of them alike. Throws std::runtime_error when an
// allocation fails or the queue returns values out of FIFO order.
// emucxl must be initialised.
Experiment run_experiment(const Options &opt);

} // namespace emucxl::queue::bench
