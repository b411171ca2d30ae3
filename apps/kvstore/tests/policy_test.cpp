// SPDX-License-Identifier: Apache-2.0
// What happens to an item a GET finds in the remote tier, per policy.
#include <emucxl/kv.hpp>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <emucxl/emucxl.h>

namespace {

using emucxl::kv::Config;
using emucxl::kv::Policy;
using emucxl::kv::Status;
using emucxl::kv::Store;
using emucxl::kv::Tier;

Config cfg(std::size_t local, std::size_t remote, Policy p, unsigned n = 2)
{
	Config c;
	c.local_capacity = local;
	c.remote_capacity = remote;
	c.policy = p;
	c.promote_after = n;
	return c;
}

std::string k(int i) { return "key" + std::to_string(i); }

int node_of_value(const Store &s, const std::string &key)
{
	return emucxl_get_numa_node(const_cast<void *>(s.value_address(key)));
}

// key1..key<n> PUT in order into `s`.
void fill(Store &s, int n)
{
	for (int i = 1; i <= n; ++i)
		ASSERT_EQ(s.put(k(i), "v" + std::to_string(i)), Status::ok);
}

TEST(KvPolicy, StayLeavesARemoteItemInRemoteButRefreshesItsRecency)
{
	Store s(cfg(2, 10, Policy::stay));
	fill(s, 5); // local: 5 4, remote: 3 2 1
	ASSERT_EQ(s.keys_by_recency(Tier::remote), (std::vector<std::string>{k(3), k(2), k(1)}));
	for (int i = 0; i < 10; ++i)
		EXPECT_EQ(s.get(k(1)), "v1");
	EXPECT_EQ(s.tier_of(k(1)), Tier::remote);
	EXPECT_EQ(node_of_value(s, k(1)), EMUCXL_REMOTE_NODE);
	EXPECT_EQ(s.keys_by_recency(Tier::remote), (std::vector<std::string>{k(1), k(3), k(2)}));
	EXPECT_EQ(s.counters().remote_hits, 10u);
	EXPECT_EQ(s.counters().promotions, 0u);
}

TEST(KvPolicy, PromoteSwapsWithLocalsLeastRecentlyUsedItem)
{
	Store s(cfg(2, 10, Policy::promote));
	fill(s, 5); // local: 5 4, remote: 3 2 1
	EXPECT_EQ(s.get(k(1)), "v1");
	EXPECT_EQ(s.tier_of(k(1)), Tier::local);
	EXPECT_EQ(node_of_value(s, k(1)), EMUCXL_LOCAL_NODE);
	EXPECT_EQ(s.tier_of(k(4)), Tier::remote); // local's LRU, demoted in exchange
	EXPECT_EQ(node_of_value(s, k(4)), EMUCXL_REMOTE_NODE);
	EXPECT_EQ(s.keys_by_recency(Tier::local), (std::vector<std::string>{k(1), k(5)}));
	EXPECT_EQ(s.keys_by_recency(Tier::remote), (std::vector<std::string>{k(4), k(3), k(2)}));
	EXPECT_EQ(s.get(k(1)), "v1"); // now a local hit
	EXPECT_EQ(s.get(k(4)), "v4"); // and the demoted value is intact
	auto c = s.counters();
	EXPECT_EQ(c.local_hits, 1u);
	EXPECT_EQ(c.remote_hits, 2u);
	EXPECT_EQ(c.promotions, 2u);
}

// Values of different block sizes cannot trade blocks; the swap then copies
// both into new blocks. Either way each value must end up intact on its tier.
TEST(KvPolicy, PromoteSwapsValuesOfDifferentSizes)
{
	Store s(cfg(1, 10, Policy::promote));
	const std::string small = "tiny", big(5000, 'B');
	ASSERT_EQ(s.put("small", small), Status::ok);
	ASSERT_EQ(s.put("big", big), Status::ok); // small demoted
	EXPECT_EQ(s.get("small"), small);         // promoted, big demoted
	EXPECT_EQ(node_of_value(s, "small"), EMUCXL_LOCAL_NODE);
	EXPECT_EQ(node_of_value(s, "big"), EMUCXL_REMOTE_NODE);
	EXPECT_EQ(s.get("big"), big);             // and back
	EXPECT_EQ(node_of_value(s, "big"), EMUCXL_LOCAL_NODE);
	EXPECT_EQ(node_of_value(s, "small"), EMUCXL_REMOTE_NODE);
	EXPECT_EQ(s.get("small"), small);
	EXPECT_EQ(s.counters().promotions, 3u);
}

TEST(KvPolicy, PromoteIntoAFreeLocalSlotDemotesNothing)
{
	Store s(cfg(2, 10, Policy::promote));
	fill(s, 3); // local: 3 2, remote: 1
	ASSERT_EQ(s.erase(k(2)), Status::ok);
	const auto demotions = s.counters().demotions;
	EXPECT_EQ(s.get(k(1)), "v1");
	EXPECT_EQ(s.tier_of(k(1)), Tier::local);
	EXPECT_EQ(node_of_value(s, k(1)), EMUCXL_LOCAL_NODE);
	EXPECT_EQ(s.size(Tier::remote), 0u);
	EXPECT_EQ(s.counters().demotions, demotions);
}

TEST(KvPolicy, PromoteAfterNPromotesOnTheNthRemoteHit)
{
	Store s(cfg(2, 10, Policy::promote_after_n, 3));
	fill(s, 4); // local: 4 3, remote: 2 1
	EXPECT_EQ(s.get(k(1)), "v1");
	EXPECT_EQ(s.get(k(1)), "v1");
	EXPECT_EQ(s.tier_of(k(1)), Tier::remote);
	EXPECT_EQ(s.get(k(1)), "v1");
	EXPECT_EQ(s.tier_of(k(1)), Tier::local);
	EXPECT_EQ(node_of_value(s, k(1)), EMUCXL_LOCAL_NODE);
	EXPECT_EQ(s.tier_of(k(3)), Tier::remote);
	EXPECT_EQ(s.counters().remote_hits, 3u);
	EXPECT_EQ(s.counters().promotions, 1u);
}

TEST(KvPolicy, PromoteAfterNCountsAfreshOnceDemoted)
{
	Store s(cfg(1, 10, Policy::promote_after_n, 2));
	fill(s, 2); // local: 2, remote: 1
	EXPECT_TRUE(s.get(k(1)));
	EXPECT_TRUE(s.get(k(1))); // promoted, key2 demoted
	ASSERT_EQ(s.tier_of(k(1)), Tier::local);
	EXPECT_TRUE(s.get(k(2))); // key2's first hit since its demotion: stays
	EXPECT_EQ(s.tier_of(k(2)), Tier::remote);
	EXPECT_TRUE(s.get(k(2)));
	EXPECT_EQ(s.tier_of(k(2)), Tier::local);
	// key1 went back to remote with a fresh count: one hit is not enough.
	EXPECT_TRUE(s.get(k(1)));
	EXPECT_EQ(s.tier_of(k(1)), Tier::remote);
}

TEST(KvPolicy, PromoteAfterOneIsPromote)
{
	Store a(cfg(3, 10, Policy::promote));
	Store b(cfg(3, 10, Policy::promote_after_n, 1));
	fill(a, 8);
	fill(b, 8);
	for (int i : {1, 5, 2, 8, 1, 3, 4, 6, 7, 2, 2, 5}) {
		EXPECT_EQ(a.get(k(i)), b.get(k(i)));
		EXPECT_EQ(a.keys_by_recency(Tier::local), b.keys_by_recency(Tier::local));
		EXPECT_EQ(a.keys_by_recency(Tier::remote), b.keys_by_recency(Tier::remote));
	}
}

TEST(KvPolicy, HotSetThatFitsInLocalEndsUpAllLocal)
{
	Store s; // the paper's 300 / 1000, promote
	fill(s, 1000);
	for (int round = 0; round < 3; ++round)
		for (int i = 1; i <= 100; ++i)
			ASSERT_TRUE(s.get(k(i)));
	for (int i = 1; i <= 100; ++i)
		EXPECT_EQ(s.tier_of(k(i)), Tier::local) << k(i);
	auto c = s.counters();
	EXPECT_EQ(c.remote_hits, 100u); // first touch only
	EXPECT_EQ(c.local_hits, 200u);
}

} // namespace
