// SPDX-License-Identifier: Apache-2.0
// The benchmark's workload is the paper's, and reproducible.
#include "workload.hpp"

#include <algorithm>
#include <random>

#include <gtest/gtest.h>

#include "random.hpp"

namespace {

using namespace emucxl::kv::bench;

TEST(KvWorkload, KeysAndValuesAreThePapers)
{
	Workload w = make_workload({}, 0, 1);
	ASSERT_EQ(w.keys.size(), 1000u);
	EXPECT_EQ(w.keys.front(), "key1");
	EXPECT_EQ(w.keys.back(), "key1000");
	EXPECT_EQ(w.values[41], "value42");
	EXPECT_EQ(w.gets.size(), 50000u);
}

TEST(KvWorkload, ValueBytesPadsEveryValueKeepingItsName)
{
	WorkloadShape shape;
	shape.keys = 5000;
	shape.value_bytes = 1024;
	Workload w = make_workload(shape, 0, 1);
	ASSERT_EQ(w.values.size(), 5000u);
	for (const auto &v : w.values)
		ASSERT_EQ(v.size(), 1024u);
	EXPECT_EQ(w.values[41].substr(0, 8), "value42.");
	EXPECT_EQ(w.keys.back(), "key5000");
}

TEST(KvWorkload, HotPhaseThenColdPhase)
{
	Workload w = make_workload({}, 30, default_seed);
	auto hot_end = w.gets.begin() + 45000;
	EXPECT_TRUE(std::all_of(w.gets.begin(), hot_end, [](auto k) { return k < 300; }));
	EXPECT_TRUE(std::all_of(hot_end, w.gets.end(), [](auto k) { return k >= 300 && k < 1000; }));
	// Both ends of each range are reachable.
	EXPECT_EQ(*std::min_element(w.gets.begin(), hot_end), 0u);
	EXPECT_EQ(*std::max_element(w.gets.begin(), hot_end), 299u);
	EXPECT_EQ(*std::min_element(hot_end, w.gets.end()), 300u);
	EXPECT_EQ(*std::max_element(hot_end, w.gets.end()), 999u);
}

TEST(KvWorkload, UniformCoversEveryKeyEvenly)
{
	Workload w = make_workload({}, 0, default_seed);
	std::vector<int> hits(1000);
	for (auto k : w.gets)
		++hits.at(k);
	// 50 expected per key; a uniform draw stays well inside [20, 85].
	EXPECT_GE(*std::min_element(hits.begin(), hits.end()), 20);
	EXPECT_LE(*std::max_element(hits.begin(), hits.end()), 85);
}

TEST(KvWorkload, SameSeedSameSequenceOtherSeedOtherSequence)
{
	EXPECT_EQ(make_workload({}, 50, 7).gets, make_workload({}, 50, 7).gets);
	EXPECT_NE(make_workload({}, 50, 7).gets, make_workload({}, 50, 8).gets);
}

TEST(KvWorkload, MappingIsOursNotTheStandardLibrarys)
{
	// Pinned outputs: these must not change with the compiler or standard
	// library, or published results could not be reproduced elsewhere.
	std::mt19937_64 rng(20230905);
	std::vector<std::uint64_t> got;
	for (int i = 0; i < 6; ++i)
		got.push_back(uniform_below(rng, 1000));
	std::mt19937_64 ref(20230905);
	for (std::size_t i = 0; i < got.size(); ++i) {
		const std::uint64_t x = ref();
		EXPECT_EQ(got[i], static_cast<std::uint64_t>((static_cast<unsigned __int128>(x) * 1000) >> 64));
	}
}

TEST(KvWorkload, UniformBelowStaysInRange)
{
	std::mt19937_64 rng(3);
	for (std::uint64_t n : {1ull, 2ull, 3ull, 7ull, 1000ull, (1ull << 63) + 5})
		for (int i = 0; i < 1000; ++i)
			EXPECT_LT(uniform_below(rng, n), n);
}

} // namespace
