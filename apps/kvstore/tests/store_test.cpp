// SPDX-License-Identifier: Apache-2.0
// emucxl::kv::Store basics: PUT/GET/DELETE, overwrite, LRU demotion order,
// capacity limits, counters, odd keys and values, and value placement.
#include <emucxl/kv.hpp>

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <emucxl/emucxl.h>

namespace {

using emucxl::kv::Config;
using emucxl::kv::Policy;
using emucxl::kv::Status;
using emucxl::kv::Store;
using emucxl::kv::Tier;

Config small(std::size_t local, std::size_t remote, Policy p = Policy::stay)
{
	Config c;
	c.local_capacity = local;
	c.remote_capacity = remote;
	c.policy = p;
	return c;
}

std::string k(int i) { return "key" + std::to_string(i); }
std::string v(int i) { return "value" + std::to_string(i); }

// The emucxl node a key's value bytes actually live on.
int node_of_value(const Store &s, const std::string &key)
{
	return emucxl_get_numa_node(const_cast<void *>(s.value_address(key)));
}

TEST(KvStore, PutThenGetReturnsTheValue)
{
	Store s(small(4, 4));
	ASSERT_EQ(s.put("a", "alpha"), Status::ok);
	EXPECT_EQ(s.get("a"), "alpha");
	EXPECT_EQ(s.size(), 1u);
}

TEST(KvStore, GetOfAbsentKeyIsAMiss)
{
	Store s(small(4, 4));
	std::string out = "untouched";
	EXPECT_EQ(s.get("nope", out), Status::not_found);
	EXPECT_EQ(out, "untouched");
	EXPECT_EQ(s.counters().misses, 1u);
}

TEST(KvStore, OverwriteReplacesTheValueWhateverItsLength)
{
	Store s(small(4, 4));
	ASSERT_EQ(s.put("a", "short"), Status::ok);
	ASSERT_EQ(s.put("a", std::string(10000, 'x')), Status::ok);
	EXPECT_EQ(s.get("a"), std::string(10000, 'x'));
	ASSERT_EQ(s.put("a", "tiny"), Status::ok);
	EXPECT_EQ(s.get("a"), "tiny");
	EXPECT_EQ(s.size(), 1u);
	EXPECT_EQ(s.counters().puts, 3u);
}

TEST(KvStore, DeleteRemovesFromEitherTier)
{
	Store s(small(2, 4));
	for (int i = 1; i <= 4; ++i)
		ASSERT_EQ(s.put(k(i), v(i)), Status::ok);
	ASSERT_EQ(s.tier_of(k(1)), Tier::remote);
	ASSERT_EQ(s.tier_of(k(4)), Tier::local);
	EXPECT_EQ(s.erase(k(1)), Status::ok);
	EXPECT_EQ(s.erase(k(4)), Status::ok);
	EXPECT_EQ(s.erase(k(4)), Status::not_found);
	EXPECT_EQ(s.tier_of(k(1)), std::nullopt);
	EXPECT_EQ(s.get(k(4)), std::nullopt);
	EXPECT_EQ(s.size(Tier::local), 1u);
	EXPECT_EQ(s.size(Tier::remote), 1u);
	EXPECT_EQ(s.counters().deletes, 2u);
}

TEST(KvStore, FullLocalDemotesItsLeastRecentlyUsedItem)
{
	Store s(small(3, 10));
	for (int i = 1; i <= 3; ++i)
		ASSERT_EQ(s.put(k(i), v(i)), Status::ok);
	ASSERT_TRUE(s.get(k(1))); // key1 is now the most recent; key2 the least
	ASSERT_EQ(s.put(k(4), v(4)), Status::ok);
	EXPECT_EQ(s.tier_of(k(2)), Tier::remote);
	EXPECT_EQ(s.keys_by_recency(Tier::local), (std::vector<std::string>{k(4), k(1), k(3)}));
	ASSERT_EQ(s.put(k(5), v(5)), Status::ok);
	EXPECT_EQ(s.tier_of(k(3)), Tier::remote);
	EXPECT_EQ(s.keys_by_recency(Tier::remote), (std::vector<std::string>{k(3), k(2)}));
	EXPECT_EQ(s.counters().demotions, 2u);
}

TEST(KvStore, PaperPutPhaseLeavesTheLast300KeysLocal)
{
	Store s; // the paper's 300 / 1000
	for (int i = 1; i <= 1000; ++i)
		ASSERT_EQ(s.put(k(i), v(i)), Status::ok);
	EXPECT_EQ(s.size(Tier::local), 300u);
	EXPECT_EQ(s.size(Tier::remote), 700u);
	EXPECT_EQ(s.tier_of(k(700)), Tier::remote);
	EXPECT_EQ(s.tier_of(k(701)), Tier::local);
	EXPECT_EQ(s.counters().demotions, 700u);
}

TEST(KvStore, ValuesLiveOnTheirTiersNode)
{
	Store s(small(2, 10));
	for (int i = 1; i <= 5; ++i)
		ASSERT_EQ(s.put(k(i), v(i)), Status::ok);
	for (int i = 1; i <= 5; ++i) {
		const int expected = i <= 3 ? EMUCXL_REMOTE_NODE : EMUCXL_LOCAL_NODE;
		EXPECT_EQ(static_cast<int>(*s.tier_of(k(i))), expected) << k(i);
		EXPECT_EQ(node_of_value(s, k(i)), expected) << k(i);
		EXPECT_GE(emucxl_get_size(const_cast<void *>(s.value_address(k(i)))), v(i).size());
	}
}

TEST(KvStore, PutOfARemoteKeyBringsItBackToLocal)
{
	Store s(small(2, 10));
	for (int i = 1; i <= 3; ++i)
		ASSERT_EQ(s.put(k(i), v(i)), Status::ok);
	ASSERT_EQ(s.tier_of(k(1)), Tier::remote);
	ASSERT_EQ(s.put(k(1), "new"), Status::ok);
	EXPECT_EQ(s.tier_of(k(1)), Tier::local);
	EXPECT_EQ(node_of_value(s, k(1)), EMUCXL_LOCAL_NODE);
	EXPECT_EQ(s.tier_of(k(2)), Tier::remote); // local's LRU made room
	EXPECT_EQ(s.size(Tier::local), 2u);
	EXPECT_EQ(s.size(Tier::remote), 1u);
	EXPECT_EQ(s.get(k(1)), "new");
}

TEST(KvStore, RemoteFullFailsThePutAndChangesNothing)
{
	Store s(small(2, 2));
	for (int i = 1; i <= 4; ++i)
		ASSERT_EQ(s.put(k(i), v(i)), Status::ok);
	const auto local_before = s.keys_by_recency(Tier::local);
	const auto remote_before = s.keys_by_recency(Tier::remote);
	const std::size_t bytes_before = emucxl_stats(EMUCXL_LOCAL_NODE) + emucxl_stats(EMUCXL_REMOTE_NODE);
	EXPECT_EQ(s.put(k(5), v(5)), Status::remote_full);
	EXPECT_NE(std::string(emucxl::kv::to_string(Status::remote_full)).find("remote tier"), std::string::npos);
	EXPECT_EQ(s.keys_by_recency(Tier::local), local_before);
	EXPECT_EQ(s.keys_by_recency(Tier::remote), remote_before);
	EXPECT_EQ(s.tier_of(k(5)), std::nullopt);
	EXPECT_EQ(emucxl_stats(EMUCXL_LOCAL_NODE) + emucxl_stats(EMUCXL_REMOTE_NODE), bytes_before);
	// Overwrites still work: they need no new slot.
	EXPECT_EQ(s.put(k(4), "again"), Status::ok);
	EXPECT_EQ(s.put(k(1), "again"), Status::ok); // remote key: swaps places with local's LRU
	EXPECT_EQ(s.size(), 4u);
}

TEST(KvStore, EvictModeDropsRemotesLeastRecentlyUsedItem)
{
	Config c = small(2, 2);
	c.evict_when_remote_full = true;
	Store s(c);
	for (int i = 1; i <= 4; ++i)
		ASSERT_EQ(s.put(k(i), v(i)), Status::ok);
	ASSERT_EQ(s.put(k(5), v(5)), Status::ok);
	EXPECT_EQ(s.tier_of(k(1)), std::nullopt); // remote's LRU, evicted
	EXPECT_EQ(s.tier_of(k(3)), Tier::remote); // demoted to make room in local
	EXPECT_EQ(s.size(), 4u);
	EXPECT_EQ(s.counters().evictions, 1u);
}

TEST(KvStore, EvictModeWithoutRemoteTierDropsLocalsLru)
{
	Config c = small(2, 0);
	c.evict_when_remote_full = true;
	Store s(c);
	for (int i = 1; i <= 3; ++i)
		ASSERT_EQ(s.put(k(i), v(i)), Status::ok);
	EXPECT_EQ(s.tier_of(k(1)), std::nullopt);
	EXPECT_EQ(s.size(Tier::remote), 0u);
	EXPECT_EQ(s.size(Tier::local), 2u);
}

TEST(KvStore, CountersCountEveryKindOfEvent)
{
	Store s(small(1, 5, Policy::promote));
	ASSERT_EQ(s.put("a", "1"), Status::ok);
	ASSERT_EQ(s.put("b", "2"), Status::ok); // demotes a
	ASSERT_TRUE(s.get("b"));                // local hit
	ASSERT_TRUE(s.get("a"));                // remote hit, promotes a, demotes b
	EXPECT_FALSE(s.get("zzz"));             // miss
	ASSERT_EQ(s.erase("b"), Status::ok);
	auto c = s.counters();
	EXPECT_EQ(c.puts, 2u);
	EXPECT_EQ(c.local_hits, 1u);
	EXPECT_EQ(c.remote_hits, 1u);
	EXPECT_EQ(c.misses, 1u);
	EXPECT_EQ(c.promotions, 1u);
	EXPECT_EQ(c.demotions, 2u);
	EXPECT_EQ(c.deletes, 1u);
	EXPECT_EQ(c.evictions, 0u);
	s.reset_counters();
	EXPECT_EQ(s.counters().puts, 0u);
}

TEST(KvStore, LongKeysAndValuesAndBinaryBytes)
{
	Store s(small(2, 2));
	const std::string long_key(100000, 'k');
	std::string big(3 << 20, '\0'); // 3 MiB, bigger than any size class
	for (std::size_t i = 0; i < big.size(); ++i)
		big[i] = static_cast<char>(i * 131 % 251);
	ASSERT_EQ(s.put(long_key, big), Status::ok);
	const std::string binary_key("a\0b", 3);
	ASSERT_EQ(s.put(binary_key, std::string("x\0y", 3)), Status::ok);
	EXPECT_EQ(s.get(long_key), big);
	EXPECT_EQ(s.get(binary_key), std::string("x\0y", 3));
	EXPECT_EQ(s.get(std::string("a")), std::nullopt); // the key is all three bytes
	ASSERT_EQ(s.put("third", "t"), Status::ok);         // demotes the 3 MiB value
	EXPECT_EQ(s.tier_of(long_key), Tier::remote);
	EXPECT_EQ(node_of_value(s, long_key), EMUCXL_REMOTE_NODE);
	EXPECT_EQ(s.get(long_key), big);
}

TEST(KvStore, EmptyKeyAndEmptyValue)
{
	Store s(small(2, 2));
	ASSERT_EQ(s.put("", ""), Status::ok);
	EXPECT_EQ(s.get(""), "");
	EXPECT_EQ(node_of_value(s, ""), EMUCXL_LOCAL_NODE); // an empty value still has a block on its tier
	ASSERT_EQ(s.put("", "now something"), Status::ok);
	EXPECT_EQ(s.get(""), "now something");
}

TEST(KvStore, GetIntoSmallBufferReportsSizeAndRecordsNothing)
{
	Store s(small(1, 2, Policy::promote));
	ASSERT_EQ(s.put("a", "0123456789"), Status::ok);
	ASSERT_EQ(s.put("b", "x"), Status::ok); // a is in remote now
	std::byte buf[4];
	std::size_t n = 0;
	EXPECT_EQ(s.get("a", buf, n), Status::buffer_too_small);
	EXPECT_EQ(n, 10u);
	EXPECT_EQ(s.tier_of("a"), Tier::remote); // not promoted
	EXPECT_EQ(s.counters().remote_hits, 0u);
	std::byte big[16];
	EXPECT_EQ(s.get("a", big, n), Status::ok);
	EXPECT_EQ(n, 10u);
	EXPECT_EQ(std::string(reinterpret_cast<const char *>(big), n), "0123456789");
	EXPECT_EQ(s.tier_of("a"), Tier::local);
}

TEST(KvStore, DestructorReturnsEveryByteToEmucxl)
{
	ASSERT_EQ(emucxl_init(), 0); // keep the library up to read its stats afterwards
	const std::size_t local = emucxl_stats(EMUCXL_LOCAL_NODE);
	const std::size_t remote = emucxl_stats(EMUCXL_REMOTE_NODE);
	{
		Store s(small(10, 10));
		for (int i = 0; i < 20; ++i)
			ASSERT_EQ(s.put(k(i), std::string(100 + i, 'v')), Status::ok);
		EXPECT_GT(emucxl_stats(EMUCXL_REMOTE_NODE), remote);
	}
	EXPECT_EQ(emucxl_stats(EMUCXL_LOCAL_NODE), local);
	EXPECT_EQ(emucxl_stats(EMUCXL_REMOTE_NODE), remote);
	emucxl_exit();
}

TEST(KvStore, BadConfigThrows)
{
	EXPECT_THROW(Store(small(0, 10)), std::invalid_argument);
	Config c = small(2, 2, Policy::promote_after_n);
	c.promote_after = 0;
	EXPECT_THROW(Store{c}, std::invalid_argument);
}

TEST(KvStore, ConcurrentClientsKeepTheStoreConsistent)
{
	Store s(small(50, 200, Policy::promote));
	constexpr int threads = 4, per_thread = 2000;
	std::vector<std::thread> pool;
	for (int t = 0; t < threads; ++t)
		pool.emplace_back([&s, t] {
			for (int i = 0; i < per_thread; ++i) {
				const std::string key = k(t * 1000 + i % 60);
				if (i % 3 == 0) {
					(void)s.put(key, key);
				} else if (auto got = s.get(key)) {
					EXPECT_EQ(*got, key);
				}
			}
		});
	for (auto &th : pool)
		th.join();
	EXPECT_LE(s.size(Tier::local), 50u);
	EXPECT_LE(s.size(Tier::remote), 200u);
	EXPECT_EQ(s.size(), s.size(Tier::local) + s.size(Tier::remote));
	for (Tier t : {Tier::local, Tier::remote})
		for (const auto &key : s.keys_by_recency(t))
			EXPECT_EQ(node_of_value(s, key), static_cast<int>(t));
}

} // namespace
