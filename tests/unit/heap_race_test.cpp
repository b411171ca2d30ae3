// SPDX-License-Identifier: Apache-2.0
// heap_race_test.cpp - queries and frees of stale pointers racing with the
// release of the blocks they pointed into. A caller's bug (a pointer kept
// after its free), but it must be answered "not an allocation", never read
// freed memory: block descriptors are type-stable (recycled, not freed,
// while the heap lives) and published in the page map only once complete.
// The ASan stage catches a use-after-free here within a few thousand
// rounds; the TSan stage (filter *Concurrent*) checks the races are benign.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "heap.hpp"
#include "recording_driver.hpp"

namespace emucxl {
namespace {

using test::DriverLog;
using test::RecordingDriver;

constexpr std::size_t kLarge = 64 << 10;  // above kMaxSmall: one extent each

TEST(HeapConcurrent, StalePointerQueriesRaceWithLargeFrees)
{
	DriverLog log;
	auto h = Heap::create(std::make_unique<RecordingDriver>(log));
	ASSERT_TRUE(h);
	Heap &heap = *h.value();

	// Fill the node's large-extent cache with extents too big to be reused
	// for kLarge, so every kLarge block is unmapped and its descriptor
	// released on free.
	std::vector<void *> fillers;
	for (int i = 0; i < 5; i++)
		fillers.push_back(heap.alloc(std::size_t{16} << 20, 0).value());
	for (void *p : fillers)
		ASSERT_TRUE(heap.free(p, 0));

	constexpr int kSlots = 8;
	std::atomic<std::uintptr_t> published[kSlots] = {};
	std::atomic<bool> stop{false};
	std::atomic<long> torn{0}, wrong_free{0}, queries{0};

	auto querier = [&](unsigned seed) {
		while (!stop.load(std::memory_order_relaxed)) {
			seed = seed * 1103515245 + 12345;
			const std::uintptr_t base = published[seed % kSlots].load(std::memory_order_relaxed);
			if (!base)
				continue;
			const std::uintptr_t off = (seed >> 8) % kLarge;
			Allocation a;
			if (heap.find(reinterpret_cast<void *>(base + off), &a)) {
				// Found: the address was reused for a live block. Any
				// answer must describe one whole allocation.
				if (reinterpret_cast<std::uintptr_t>(a.start) != base || a.size != kLarge)
					torn++;
			}
			// A free with the wrong size is refused whatever the block's
			// state: it reads the descriptor and changes nothing.
			if (heap.free(reinterpret_cast<void *>(base), kLarge - 1).ok())
				wrong_free++;
			queries++;
		}
	};
	std::vector<std::thread> threads;
	for (unsigned t = 0; t < 2; t++)
		threads.emplace_back(querier, t + 1);

	for (int round = 0; round < 20000; round++) {
		void *p = heap.alloc(kLarge, round & 1).value();
		published[round % kSlots].store(reinterpret_cast<std::uintptr_t>(p),
						std::memory_order_relaxed);
		ASSERT_TRUE(heap.free(p, kLarge));
	}
	stop = true;
	for (auto &t : threads)
		t.join();
	EXPECT_EQ(torn.load(), 0) << "a query saw a half-initialised or recycled block";
	EXPECT_EQ(wrong_free.load(), 0);
	EXPECT_GT(queries.load(), 0);
	EXPECT_EQ(heap.stats(0) + heap.stats(1), 0u);
}

// The same for small objects: spans emptied and given back to the driver
// (beyond the spare budget) while other threads query stale objects.
TEST(HeapConcurrent, StalePointerQueriesRaceWithSpanRelease)
{
	DriverLog log;
	auto h = Heap::create(std::make_unique<RecordingDriver>(log));
	ASSERT_TRUE(h);
	Heap &heap = *h.value();

	constexpr int kSlots = 64;
	std::atomic<std::uintptr_t> published[kSlots] = {};
	std::atomic<bool> stop{false};
	std::atomic<long> torn{0};
	auto querier = [&](unsigned seed) {
		while (!stop.load(std::memory_order_relaxed)) {
			seed = seed * 1103515245 + 12345;
			const std::uintptr_t p = published[seed % kSlots].load(std::memory_order_relaxed);
			Allocation a;
			if (p && heap.find(reinterpret_cast<void *>(p + 8), &a) &&
			    (a.size != 4000 || reinterpret_cast<std::uintptr_t>(a.start) != p))
				torn++;
			if (p && heap.free(reinterpret_cast<void *>(p), 3999).ok())
				torn++;
		}
	};
	std::vector<std::thread> threads;
	for (unsigned t = 0; t < 2; t++)
		threads.emplace_back(querier, t + 7);
	std::vector<void *> v(3000);  // 11.7 MiB of 4000-byte objects: beyond the spares
	for (int round = 0; round < 20; round++) {
		for (std::size_t i = 0; i < v.size(); i++) {
			v[i] = heap.alloc(4000, 1).value();
			published[i % kSlots].store(reinterpret_cast<std::uintptr_t>(v[i]),
						    std::memory_order_relaxed);
		}
		for (void *p : v)
			ASSERT_TRUE(heap.free(p, 4000));
		heap.flush_current_thread();
	}
	stop = true;
	for (auto &t : threads)
		t.join();
	EXPECT_EQ(torn.load(), 0);
}

}  // namespace
}  // namespace emucxl
