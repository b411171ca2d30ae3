// SPDX-License-Identifier: Apache-2.0
// stats.hpp - summary statistics of repeated timings.
//
// Mean and standard deviation are what the paper reports. Median and minimum
// are there because a shared or virtual machine preempts a benchmark now and
// then: one 30 ms stall in ten 0.2 ms runs moves the mean 15x and the median
// not at all, and since interference only ever adds time, the minimum is the
// closest to what the code itself costs.
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>
#include <vector>

namespace emucxl::apps {

struct Summary {
	double mean = 0;
	double stddev = 0; // sample standard deviation (n - 1); 0 for a single sample
	double median = 0;
	double min = 0;
};

inline Summary summarize(std::span<const double> xs)
{
	Summary s;
	if (xs.empty())
		return s;
	const auto n = static_cast<double>(xs.size());
	s.mean = std::accumulate(xs.begin(), xs.end(), 0.0) / n;
	if (xs.size() > 1) {
		double sq = 0;
		for (double x : xs)
			sq += (x - s.mean) * (x - s.mean);
		s.stddev = std::sqrt(sq / (n - 1));
	}
	std::vector<double> sorted(xs.begin(), xs.end());
	std::sort(sorted.begin(), sorted.end());
	const std::size_t mid = sorted.size() / 2;
	s.median = sorted.size() % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
	s.min = sorted.front();
	return s;
}

} // namespace emucxl::apps
