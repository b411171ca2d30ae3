// SPDX-License-Identifier: Apache-2.0
// heap_test.cpp - the allocator against a recording driver: extents are
// plain anonymous mappings, counted, and maps can be made to fail. Placement
// is not this test's business (the conformance suite checks it on the real
// drivers); bookkeeping, reuse, failure handling and overhead are.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "heap.hpp"
#include "recording_driver.hpp"

namespace emucxl {
namespace {

using test::DriverLog;
using test::RecordingDriver;

class HeapTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		auto h = Heap::create(std::make_unique<RecordingDriver>(log_));
		ASSERT_TRUE(h);
		heap_ = std::move(h).value();
	}
	DriverLog log_;
	std::unique_ptr<Heap> heap_;
};

TEST_F(HeapTest, DestroyingTheHeapUnmapsEveryExtent)
{
	for (int i = 0; i < 1000; i++)
		ASSERT_TRUE(heap_->alloc(static_cast<std::size_t>(1 + i * 37), i & 1));
	ASSERT_TRUE(heap_->alloc(10 << 20, 1));
	EXPECT_GT(log_.live_extents.load(), 0);
	heap_.reset();
	EXPECT_EQ(log_.live_extents.load(), 0);
	EXPECT_EQ(log_.live_bytes.load(), 0);
}

TEST_F(HeapTest, SmallObjectsShareSpans)
{
	std::vector<void *> v;
	for (int i = 0; i < 4096; i++) {
		auto p = heap_->alloc(16, 0);
		ASSERT_TRUE(p);
		v.push_back(p.value());
	}
	EXPECT_EQ(log_.maps.load(), 1) << "4096 16-byte objects fit one 64 KiB span";
	EXPECT_EQ(heap_->stats(0), 4096u * 16);
	for (void *p : v)
		ASSERT_TRUE(heap_->free(p, 16));
	EXPECT_EQ(heap_->stats(0), 0u);
}

TEST_F(HeapTest, ChurnDoesNotGrowTheDriverFootprint)
{
	for (int round = 0; round < 50; round++) {
		std::vector<std::pair<void *, std::size_t>> v;
		for (int i = 0; i < 2000; i++) {
			const std::size_t size = 1 + static_cast<std::size_t>((i * 7919) % 3000);
			auto p = heap_->alloc(size, i & 1);
			ASSERT_TRUE(p);
			v.emplace_back(p.value(), size);
		}
		for (auto [p, size] : v)
			ASSERT_TRUE(heap_->free(p, size));
	}
	// What stays mapped is bounded by one spare span per class and node plus
	// the objects the thread cache keeps, not by the rounds run.
	EXPECT_LE(log_.live_extents.load(), 2 * static_cast<long>(kNumClasses) * 2);
}

TEST_F(HeapTest, EmptySpansGoBackToTheDriverBeyondTheSpareBudget)
{
	std::vector<void *> v;
	for (int i = 0; i < 200000; i++)  // 12.5 MiB of 64-byte objects
		v.push_back(heap_->alloc(64, 1).value());
	EXPECT_GE(log_.live_bytes.load(), 200000LL * 64);
	for (void *p : v)
		ASSERT_TRUE(heap_->free(p, 64));
	heap_->flush_current_thread();
	// Up to 8 MiB of spare spans per node stay mapped for reuse; the rest
	// goes back.
	EXPECT_LE(log_.live_bytes.load(), 8LL << 20);
	const long maps = log_.maps.load();
	for (int i = 0; i < 100000; i++)  // 6.1 MiB: served from the spares
		v[static_cast<std::size_t>(i)] = heap_->alloc(64, 1).value();
	EXPECT_EQ(log_.maps.load(), maps) << "spare spans were not reused";
	for (int i = 0; i < 100000; i++)
		ASSERT_TRUE(heap_->free(v[static_cast<std::size_t>(i)], 64));
}

TEST_F(HeapTest, DriverFailureIsENOMEMAndChangesNothing)
{
	auto keep = heap_->alloc(100000, 0);
	ASSERT_TRUE(keep);
	std::memset(keep.value(), 0x42, 100000);
	log_.fail_after = 0;
	auto r = heap_->alloc(1 << 20, 0);
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error(), ENOMEM);
	auto s = heap_->alloc(20000, 1);  // a new span is needed: fails too
	EXPECT_EQ(s.error(), ENOMEM);

	auto grown = heap_->resize(keep.value(), 300000);
	EXPECT_EQ(grown.error(), ENOMEM);
	auto moved = heap_->migrate(keep.value(), 1);
	EXPECT_EQ(moved.error(), ENOMEM);
	Allocation a;
	ASSERT_TRUE(heap_->find(keep.value(), &a));
	EXPECT_EQ(a.size, 100000u);
	EXPECT_EQ(a.node, 0);
	EXPECT_EQ(static_cast<unsigned char *>(keep.value())[99999], 0x42);
	EXPECT_EQ(heap_->stats(0), 100000u);
	EXPECT_EQ(heap_->stats(1), 0u);
	log_.fail_after = -1;
	EXPECT_TRUE(heap_->free(keep.value(), 100000));
}

TEST_F(HeapTest, ResizeInPlaceWhenTheClassOrPagesAgree)
{
	auto p = heap_->alloc(20, 0).value();
	std::memset(p, 0x11, 20);
	auto q = heap_->resize(p, 30);  // both in the 32-byte class
	ASSERT_TRUE(q);
	EXPECT_EQ(q.value(), p);
	auto big = heap_->alloc(100000, 1).value();
	auto big2 = heap_->resize(big, 100001);  // same number of pages
	ASSERT_TRUE(big2);
	EXPECT_EQ(big2.value(), big);
	auto shrink = heap_->resize(big, 99000);
	ASSERT_TRUE(shrink);
	EXPECT_EQ(shrink.value(), big);
	EXPECT_EQ(heap_->stats(1), 99000u);
	EXPECT_TRUE(heap_->free(q.value(), 30));
	EXPECT_TRUE(heap_->free(big, 99000));
}

TEST_F(HeapTest, MillionSixteenByteObjectsCostAtMostAQuarterMore)
{
	constexpr std::size_t kCount = 1000000;
	std::vector<void *> v(kCount);
	for (auto &p : v)
		p = heap_->alloc(16, 1).value();
	// Driver memory for the objects themselves; the per-object metadata (two
	// bytes each) lives in ordinary memory and is counted by the benchmark.
	EXPECT_LE(static_cast<double>(log_.live_bytes.load()), 1.02 * kCount * 16);
	for (void *p : v)
		ASSERT_TRUE(heap_->free(p, 16));
}

TEST_F(HeapTest, FreedLargeExtentsAreReusedZeroedAndGivenBackUnderPressure)
{
	auto p = heap_->alloc(1 << 20, 1).value();
	std::memset(p, 0x77, 1 << 20);
	ASSERT_TRUE(heap_->free(p, 1 << 20));
	const long maps = log_.maps.load();
	auto q = heap_->alloc((1 << 20) - 100, 1).value();  // same page count
	EXPECT_EQ(log_.maps.load(), maps) << "the cached extent was not reused";
	EXPECT_EQ(q, p);
	const auto *bytes = static_cast<unsigned char *>(q);
	for (std::size_t i = 0; i < (1 << 20) - 100; i++)
		ASSERT_EQ(bytes[i], 0) << "reused extent not zeroed at " << i;
	Allocation a;
	ASSERT_TRUE(heap_->find(q, &a));
	EXPECT_EQ(a.size, (1u << 20) - 100);
	ASSERT_TRUE(heap_->free(q, 0));
	EXPECT_FALSE(heap_->find(q, &a)) << "a cached extent is not an allocation";

	// The driver runs out: the cache is emptied before the call fails.
	const long live = log_.live_extents.load();
	log_.fail_after = 0;
	EXPECT_EQ(heap_->alloc(2 << 20, 1).error(), ENOMEM);
	EXPECT_EQ(log_.live_extents.load(), live - 1);
	log_.fail_after = -1;
}

TEST_F(HeapTest, ThreadExitReturnsCachedObjects)
{
	std::thread t([this] {
		std::vector<void *> v;
		for (int i = 0; i < 5000; i++)
			v.push_back(heap_->alloc(48, 0).value());
		for (void *p : v)
			ASSERT_TRUE(heap_->free(p, 48));
	});  // exits with objects in its cache and part of a span reserved
	t.join();
	const long maps = log_.maps.load();
	std::vector<void *> v;
	for (int i = 0; i < 5000; i++)  // the exited thread's spans serve these
		v.push_back(heap_->alloc(48, 0).value());
	EXPECT_EQ(log_.maps.load(), maps) << "objects cached by the exited thread were lost";
	for (void *p : v)
		ASSERT_TRUE(heap_->free(p, 48));
}

}  // namespace
}  // namespace emucxl
