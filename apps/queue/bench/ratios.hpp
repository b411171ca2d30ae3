// SPDX-License-Identifier: Apache-2.0
// ratios.hpp - the comparisons the queue benchmark reports, computed once so
// that the table and the JSON can never disagree.
#pragma once

#include <optional>

#include "summary_table.hpp"

namespace emucxl::queue::bench {

inline constexpr double malloc_target_max = 1.5; // emucxl time / malloc time, at most
inline constexpr double numa_target_min = 50.0;  // numa_alloc_onnode time / emucxl time, at least

struct Ratio {
	double enqueue = 0;      // ratio of mean enqueue times
	double dequeue = 0;      // ratio of mean dequeue times
	double total = 0;        // ratio of mean enqueue + dequeue times
	double total_median = 0; // ratio of median enqueue + dequeue times (NaN for the paper)
	double total_best = 0;   // ratio of the shortest enqueue + dequeue times (NaN for the paper)
};

// a / b for each phase.
inline Ratio ratio(const PhaseTimes &a, const PhaseTimes &b)
{
	return {a.enqueue.mean / b.enqueue.mean, a.dequeue.mean / b.dequeue.mean, a.total.mean / b.total.mean,
		a.total.median / b.total.median, a.total.min / b.total.min};
}

struct Ratios {
	// Index: logical node. nullopt when a series was not run (paper: when
	// the run did not use the paper's number of operations).
	std::optional<Ratio> paper_over_emucxl[2];
	std::optional<Ratio> emucxl_over_malloc[2]; // malloc's only series is node 0
	std::optional<Ratio> numa_over_emucxl[2];
	Ratio remote_over_local_paper;
	std::optional<Ratio> remote_over_local_emucxl;
	std::optional<Ratio> remote_over_local_numa;

	// Targets are judged on the best (shortest) enqueue + dequeue time of a
	// run, for both nodes: interference from other processes only ever adds
	// time, and every series gets the same estimator in the same run.
	bool malloc_target_met = false;
	std::optional<bool> numa_target_met; // nullopt: numa_alloc_onnode not run
};

Ratios compute_ratios(const Experiment &e);

} // namespace emucxl::queue::bench
