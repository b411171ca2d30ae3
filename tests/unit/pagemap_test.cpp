// SPDX-License-Identifier: Apache-2.0
// pagemap_test.cpp - the address -> descriptor radix tree.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "pagemap.hpp"

namespace emucxl {
namespace {

TEST(PageMap, FindsEveryByteOfARangeAndNothingAround)
{
	PageMap<int> pm;
	int tag = 1;
	const std::uintptr_t base = 0x7f0000000000;
	ASSERT_TRUE(pm.set(base, 3 * kPageSize, &tag));
	EXPECT_EQ(pm.lookup(base), &tag);
	EXPECT_EQ(pm.lookup(base + 1), &tag);
	EXPECT_EQ(pm.lookup(base + 3 * kPageSize - 1), &tag);
	EXPECT_EQ(pm.lookup(base + 3 * kPageSize), nullptr);
	EXPECT_EQ(pm.lookup(base - 1), nullptr);
	EXPECT_EQ(pm.lookup(0), nullptr);
	ASSERT_TRUE(pm.set(base, 3 * kPageSize, nullptr));
	EXPECT_EQ(pm.lookup(base + kPageSize), nullptr);
}

TEST(PageMap, RangesCrossingLeafBoundaries)
{
	PageMap<int> pm;
	int tag = 2;
	// 4096 pages per leaf: straddle a leaf and a mid-level boundary.
	const std::uintptr_t base = (std::uintptr_t{1} << 36) - 2 * kPageSize;
	ASSERT_TRUE(pm.set(base, 4 * kPageSize, &tag));
	for (std::uintptr_t a = base; a < base + 4 * kPageSize; a += kPageSize / 2)
		EXPECT_EQ(pm.lookup(a), &tag);
}

TEST(PageMap, AddressesOutsideTheUserSpaceAreRejected)
{
	PageMap<int> pm;
	int tag = 3;
	EXPECT_FALSE(pm.set(std::uintptr_t{1} << 48, kPageSize, &tag));
	EXPECT_FALSE(pm.set((std::uintptr_t{1} << 48) - kPageSize, 2 * kPageSize, &tag));
	EXPECT_FALSE(pm.set(0x1000, 0, &tag));
	EXPECT_EQ(pm.lookup(UINTPTR_MAX), nullptr);
	EXPECT_EQ(pm.lookup(std::uintptr_t{1} << 48), nullptr);
}

TEST(PageMap, ConcurrentRegistrationOfDistinctRanges)
{
	PageMap<int> pm;
	std::vector<int> tags(8);
	std::vector<std::thread> threads;
	for (int t = 0; t < 8; t++)
		threads.emplace_back([&, t] {
			for (int i = 0; i < 512; i++) {
				auto a = (std::uintptr_t{0x100000} + static_cast<std::uintptr_t>(i * 8 + t)) * kPageSize;
				ASSERT_TRUE(pm.set(a, kPageSize, &tags[t]));
			}
		});
	for (auto &th : threads)
		th.join();
	for (int t = 0; t < 8; t++)
		for (int i = 0; i < 512; i++)
			ASSERT_EQ(pm.lookup((0x100000 + static_cast<std::uintptr_t>(i * 8 + t)) * kPageSize), &tags[t]);
}

}  // namespace
}  // namespace emucxl
