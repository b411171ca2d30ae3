// SPDX-License-Identifier: GPL-2.0-or-later
// (It includes vm/plugin/cache_model.h, the timing plugin's GPL-2.0-or-later
// cache model.)
//
// The timing plugin's last-level cache model against a plain list-based LRU
// cache: the same hits, the same victims, the same write-backs, for every
// associativity it allows. The plugin keeps each set's recency order as
// nibbles of one word (cache_model.h); a slip there would silently change
// which guest accesses pay memory time.
// The header is C: its casts are C's.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
#include "cache_model.h"
#pragma GCC diagnostic pop

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <list>
#include <random>
#include <string>
#include <vector>

namespace {

// One set of the reference: lines most recently used first.
struct ReferenceLine {
	std::uint64_t line;
	bool dirty;
	int remote;
};

struct ReferenceCache {
	unsigned ways;
	std::vector<std::list<ReferenceLine>> sets;

	// Same outcome contract as cache_access(): hit or miss, and the node of
	// a dirty victim written back (-1: none).
	bool access(std::size_t set, std::uint64_t line, int remote, bool store, int &wb_node)
	{
		auto &s = sets[set];
		wb_node = -1;
		auto it = std::find_if(s.begin(), s.end(), [&](const ReferenceLine &l) { return l.line == line; });
		if (it != s.end()) {
			ReferenceLine l = *it;
			l.dirty = l.dirty || store;
			s.erase(it);
			s.push_front(l);
			return true;
		}
		if (s.size() == ways) {
			if (s.back().dirty)
				wb_node = s.back().remote;
			s.pop_back();
		}
		s.push_front({line, store, remote});
		return false;
	}
};

class CacheModel : public ::testing::TestWithParam<unsigned> {};

TEST_P(CacheModel, MatchesAListLruForRandomAccesses)
{
	const unsigned ways = GetParam();
	const unsigned sets = 64;
	cache_geometry g{};
	ASSERT_TRUE(cache_geometry_init(&g, sets, ways));
	std::vector<cache_set> model(sets);
	for (auto &s : model)
		cache_set_init(&s, ways);
	ReferenceCache ref{ways, std::vector<std::list<ReferenceLine>>(sets)};

	// Twice as many distinct lines per set as ways: hits and evictions both
	// common. Lines far apart too, so the hashed set index is exercised.
	std::mt19937_64 rng(ways);
	std::vector<std::uint64_t> lines;
	for (unsigned i = 0; i < sets * ways * 2; ++i)
		lines.push_back(i % 2 ? rng() >> 30 : i);
	std::uint64_t hits = 0, writebacks = 0;
	for (int i = 0; i < 200'000; ++i) {
		const std::uint64_t line = lines[rng() % lines.size()];
		const int remote = int(line % 3 == 0);
		const bool store = rng() % 4 == 0;
		bool dirty = false;
		int wb = -2, ref_wb = -2;
		const std::size_t set = cache_set_of(&g, line);
		const cache_outcome got = cache_access(model.data(), &g, line, remote, store, &dirty, &wb);
		const bool ref_hit = ref.access(set, line, remote, store, ref_wb);
		ASSERT_NE(got, CACHE_UNMODELLED) << "line " << line;
		ASSERT_EQ(got == CACHE_HIT, ref_hit) << "access " << i << ", line " << line;
		ASSERT_EQ(wb, ref_wb) << "access " << i << ", line " << line;
		ASSERT_EQ(dirty, ref.sets[set].front().dirty) << "access " << i;
		hits += ref_hit;
		writebacks += ref_wb >= 0;
	}
	// Not a degenerate run: both paths were taken many times.
	EXPECT_GT(hits, 10'000U);
	EXPECT_GT(writebacks, 1'000U);
}

INSTANTIATE_TEST_SUITE_P(Ways, CacheModel, ::testing::Range(1U, unsigned{CACHE_MAX_WAYS} + 1),
			 [](const ::testing::TestParamInfo<unsigned> &p) { return std::to_string(p.param) + "way"; });

TEST(CacheModelOrder, MoveToFrontKeepsEveryWayOnce)
{
	// A 16-way order, each rank moved to the front in turn: always a
	// permutation of 0..15, the moved way first, the others in their order.
	cache_set s{};
	cache_set_init(&s, CACHE_MAX_WAYS);
	std::vector<unsigned> expect(CACHE_MAX_WAYS);
	for (unsigned w = 0; w < CACHE_MAX_WAYS; ++w)
		expect[w] = w;
	std::mt19937 rng(7);
	for (int i = 0; i < 10'000; ++i) {
		const unsigned r = rng() % CACHE_MAX_WAYS;
		const unsigned w = expect[r];
		EXPECT_EQ(cache_rank_of(s.order, w), r);
		s.order = cache_to_front(s.order, r);
		expect.erase(expect.begin() + r);
		expect.insert(expect.begin(), w);
		for (unsigned k = 0; k < CACHE_MAX_WAYS; ++k)
			ASSERT_EQ((s.order >> (4 * k)) & 15, expect[k]) << "step " << i << ", rank " << k;
	}
}

TEST(CacheModelGeometry, RefusesWhatItCannotModel)
{
	cache_geometry g{};
	EXPECT_FALSE(cache_geometry_init(&g, 0, 16));
	EXPECT_FALSE(cache_geometry_init(&g, 96, 16)); // not a power of two
	EXPECT_FALSE(cache_geometry_init(&g, 64, 0));
	EXPECT_FALSE(cache_geometry_init(&g, 64, CACHE_MAX_WAYS + 1));
	ASSERT_TRUE(cache_geometry_init(&g, 1U << 20, 16));
	EXPECT_GE(g.hash_shift, g.set_bits); // the tag must name the line
}

TEST(CacheModelGeometry, LinesBeyondTheTagAreNotCached)
{
	cache_geometry g{};
	ASSERT_TRUE(cache_geometry_init(&g, 64, 16));
	std::vector<cache_set> model(64);
	for (auto &s : model)
		cache_set_init(&s, 16);
	bool dirty = true;
	int wb = 0;
	const std::uint64_t far = std::uint64_t(UINT32_MAX) << g.set_bits;
	EXPECT_EQ(cache_access(model.data(), &g, far, 0, true, &dirty, &wb), CACHE_UNMODELLED);
	EXPECT_EQ(cache_access(model.data(), &g, far, 0, false, &dirty, &wb), CACHE_UNMODELLED);
	EXPECT_FALSE(dirty);
	EXPECT_EQ(wb, -1);
	// The last line that fits is cached as any other.
	EXPECT_EQ(cache_access(model.data(), &g, far - 1, 0, false, &dirty, &wb), CACHE_MISS);
	EXPECT_EQ(cache_access(model.data(), &g, far - 1, 0, false, &dirty, &wb), CACHE_HIT);
}

} // namespace
