// SPDX-License-Identifier: Apache-2.0
// The C API: same behaviour as the C++ API, errors as errno.
#include <emucxl/kv.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace {

struct KvDeleter {
	void operator()(emucxl_kv *kv) const { emucxl_kv_destroy(kv); }
};
using KvPtr = std::unique_ptr<emucxl_kv, KvDeleter>;

KvPtr make(std::size_t local, std::size_t remote, int policy, bool evict = false)
{
	emucxl_kv_config c;
	emucxl_kv_config_default(&c);
	c.local_capacity = local;
	c.remote_capacity = remote;
	c.policy = policy;
	c.evict_when_remote_full = evict;
	return KvPtr(emucxl_kv_create(&c));
}

int put(emucxl_kv *kv, const std::string &key, const std::string &value)
{
	return emucxl_kv_put(kv, key.data(), key.size(), value.data(), value.size());
}

TEST(KvC, DefaultConfigIsThePapers)
{
	emucxl_kv_config c;
	emucxl_kv_config_default(&c);
	EXPECT_EQ(c.local_capacity, 300u);
	EXPECT_EQ(c.remote_capacity, 1000u);
	EXPECT_EQ(c.policy, EMUCXL_KV_PROMOTE);
	EXPECT_FALSE(c.evict_when_remote_full);
}

TEST(KvC, PutGetDelete)
{
	KvPtr kv = make(2, 2, EMUCXL_KV_PROMOTE);
	ASSERT_TRUE(kv);
	ASSERT_EQ(put(kv.get(), "k", "hello"), 0);
	char buf[16] = {};
	std::size_t n = 0;
	ASSERT_EQ(emucxl_kv_get(kv.get(), "k", 1, buf, sizeof buf, &n), 0);
	EXPECT_EQ(std::string(buf, n), "hello");
	EXPECT_EQ(emucxl_kv_tier(kv.get(), "k", 1), 0);
	ASSERT_EQ(emucxl_kv_delete(kv.get(), "k", 1), 0);
	errno = 0;
	EXPECT_EQ(emucxl_kv_get(kv.get(), "k", 1, buf, sizeof buf, &n), -1);
	EXPECT_EQ(errno, ENOENT);
	errno = 0;
	EXPECT_EQ(emucxl_kv_delete(kv.get(), "k", 1), -1);
	EXPECT_EQ(errno, ENOENT);
	errno = 0;
	EXPECT_EQ(emucxl_kv_tier(kv.get(), "k", 1), -1);
	EXPECT_EQ(errno, ENOENT);
}

TEST(KvC, SmallBufferIsErangeWithTheSize)
{
	KvPtr kv = make(2, 2, EMUCXL_KV_PROMOTE);
	ASSERT_EQ(put(kv.get(), "k", "0123456789"), 0);
	char buf[4];
	std::size_t n = 0;
	errno = 0;
	EXPECT_EQ(emucxl_kv_get(kv.get(), "k", 1, buf, sizeof buf, &n), -1);
	EXPECT_EQ(errno, ERANGE);
	EXPECT_EQ(n, 10u);
	// A size query with no buffer at all.
	n = 0;
	EXPECT_EQ(emucxl_kv_get(kv.get(), "k", 1, nullptr, 0, &n), -1);
	EXPECT_EQ(n, 10u);
}

TEST(KvC, RemoteFullIsEnospcAndEvictModeEvicts)
{
	KvPtr strict = make(1, 1, EMUCXL_KV_STAY);
	ASSERT_EQ(put(strict.get(), "a", "1"), 0);
	ASSERT_EQ(put(strict.get(), "b", "2"), 0);
	errno = 0;
	EXPECT_EQ(put(strict.get(), "c", "3"), -1);
	EXPECT_EQ(errno, ENOSPC);
	EXPECT_EQ(emucxl_kv_count(strict.get(), 0), 1u);
	EXPECT_EQ(emucxl_kv_count(strict.get(), 1), 1u);

	KvPtr evicting = make(1, 1, EMUCXL_KV_STAY, true);
	ASSERT_EQ(put(evicting.get(), "a", "1"), 0);
	ASSERT_EQ(put(evicting.get(), "b", "2"), 0);
	ASSERT_EQ(put(evicting.get(), "c", "3"), 0);
	EXPECT_EQ(emucxl_kv_tier(evicting.get(), "a", 1), -1);
	emucxl_kv_counters c;
	ASSERT_EQ(emucxl_kv_get_counters(evicting.get(), &c), 0);
	EXPECT_EQ(c.evictions, 1u);
	EXPECT_EQ(c.demotions, 2u);
	EXPECT_EQ(c.puts, 3u);
}

TEST(KvC, PoliciesMatchTheCppStore)
{
	KvPtr stay = make(1, 4, EMUCXL_KV_STAY);
	KvPtr promote = make(1, 4, EMUCXL_KV_PROMOTE);
	for (emucxl_kv *kv : {stay.get(), promote.get()}) {
		ASSERT_EQ(put(kv, "a", "1"), 0);
		ASSERT_EQ(put(kv, "b", "2"), 0);
		char buf[4];
		std::size_t n;
		ASSERT_EQ(emucxl_kv_get(kv, "a", 1, buf, sizeof buf, &n), 0);
	}
	EXPECT_EQ(emucxl_kv_tier(stay.get(), "a", 1), 1);
	EXPECT_EQ(emucxl_kv_tier(promote.get(), "a", 1), 0);
}

TEST(KvC, BadArgumentsAreEinval)
{
	emucxl_kv_config c;
	emucxl_kv_config_default(&c);
	c.local_capacity = 0;
	errno = 0;
	EXPECT_EQ(emucxl_kv_create(&c), nullptr);
	EXPECT_EQ(errno, EINVAL);
	emucxl_kv_config_default(&c);
	c.policy = 7;
	EXPECT_EQ(emucxl_kv_create(&c), nullptr);
	EXPECT_EQ(emucxl_kv_create(nullptr), nullptr);

	KvPtr kv = make(2, 2, EMUCXL_KV_STAY);
	errno = 0;
	EXPECT_EQ(emucxl_kv_put(kv.get(), nullptr, 3, "v", 1), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(emucxl_kv_put(nullptr, "k", 1, "v", 1), -1);
	EXPECT_EQ(emucxl_kv_get_counters(kv.get(), nullptr), -1);
	EXPECT_EQ(emucxl_kv_count(kv.get(), 2), 0u);
	// NULL with length 0 is the empty key, which is valid.
	EXPECT_EQ(emucxl_kv_put(kv.get(), nullptr, 0, nullptr, 0), 0);
	EXPECT_EQ(emucxl_kv_tier(kv.get(), nullptr, 0), 0);
	emucxl_kv_destroy(nullptr); // a no-op, like free(NULL)
}

} // namespace
