// SPDX-License-Identifier: Apache-2.0
// workload.hpp - the EmuCXL paper's key-value workload, exactly as the
// reference describes it: PUT key1..key1000 (values value1..value1000) in
// order, then 50,000 GETs. Hot 0%: uniform over all keys. Hot X% (10..90):
// 45,000 GETs uniform over the first 10*X keys, then 5,000 uniform over the
// rest.
// --keys and --value-bytes scale it up past a modelled last-level cache
// (the paper's data set is ~30 KiB), keeping its shape.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace emucxl::kv::bench {

struct WorkloadShape {
	int keys = 1000;
	int gets = 50000;
	int hot_gets = 45000; // GETs in the hot phase when hot_percent > 0
	std::size_t value_bytes = 0; // 0: the paper's "valueN"; else each value padded to this size
};

inline constexpr std::uint64_t default_seed = 20230905; // any fixed value; printed with the results

struct Workload {
	std::vector<std::string> keys;   // "key1".."keyN"
	std::vector<std::string> values; // "value1".."valueN", padded to value_bytes
	std::vector<std::uint32_t> gets; // indices into keys, in GET order
};

// The same (shape, hot_percent, seed) always gives the same GET sequence,
// on every platform.
Workload make_workload(const WorkloadShape &shape, int hot_percent, std::uint64_t seed);

} // namespace emucxl::kv::bench
