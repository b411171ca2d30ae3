// SPDX-License-Identifier: Apache-2.0
// random.hpp - reproducible uniform integers.
//
// std::mt19937_64 is specified bit for bit by the standard, but
// std::uniform_int_distribution is not: libstdc++, libc++ and MSVC map the
// same engine output to different integers. The workload must be the same
// everywhere, so the mapping is ours: Lemire's multiply-shift with rejection
// ("Fast Random Integer Generation in an Interval", 2019), exact and unbiased.
#pragma once

#include <cstdint>
#include <random>

namespace emucxl::kv::bench {

// Uniform in [0, n), n >= 1.
inline std::uint64_t uniform_below(std::mt19937_64 &rng, std::uint64_t n)
{
	using u128 = unsigned __int128;
	u128 m = static_cast<u128>(rng()) * n;
	auto low = static_cast<std::uint64_t>(m);
	if (low < n) {
		// Reject the few outputs that would over-represent some values.
		const std::uint64_t threshold = -n % n; // 2^64 mod n
		while (low < threshold) {
			m = static_cast<u128>(rng()) * n;
			low = static_cast<std::uint64_t>(m);
		}
	}
	return static_cast<std::uint64_t>(m >> 64);
}

// Uniform in [lo, hi), lo < hi.
inline std::uint64_t uniform_in(std::mt19937_64 &rng, std::uint64_t lo, std::uint64_t hi)
{
	return lo + uniform_below(rng, hi - lo);
}

} // namespace emucxl::kv::bench
