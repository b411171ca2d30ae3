// SPDX-License-Identifier: Apache-2.0
#include "workload.hpp"

#include <random>

#include "random.hpp"

namespace emucxl::kv::bench {

Workload make_workload(const WorkloadShape &shape, int hot_percent, std::uint64_t seed)
{
	Workload w;
	w.keys.reserve(shape.keys);
	w.values.reserve(shape.keys);
	for (int i = 1; i <= shape.keys; ++i) {
		w.keys.push_back("key" + std::to_string(i));
		std::string v = "value" + std::to_string(i);
		if (v.size() < shape.value_bytes)
			v.resize(shape.value_bytes, '.');
		w.values.push_back(std::move(v));
	}

	std::mt19937_64 rng(seed);
	const auto n = static_cast<std::uint64_t>(shape.keys);
	w.gets.reserve(shape.gets);
	// "The first 10*X keys" of 1000 is X percent of them; scaled for other key counts.
	const std::uint64_t hot = n * static_cast<std::uint64_t>(hot_percent) / 100;
	for (int g = 0; g < shape.gets; ++g) {
		std::uint64_t k;
		if (hot == 0)
			k = uniform_below(rng, n);
		else if (g < shape.hot_gets)
			k = uniform_below(rng, hot);
		else
			k = uniform_in(rng, hot, n);
		w.gets.push_back(static_cast<std::uint32_t>(k));
	}
	return w;
}

} // namespace emucxl::kv::bench
