// SPDX-License-Identifier: Apache-2.0
// counters.hpp - what the preload placed, for policies that need it
// (local-limit, interleave) and for the report (--report).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "policy.hpp"

namespace emucxl::preload {

struct NodeCounters {
	std::atomic<std::uint64_t> placed{0};       // bytes ever placed (requested sizes)
	std::atomic<std::uint64_t> allocations{0};  // allocations placed
	std::atomic<std::int64_t> live{0};          // bytes placed and not yet freed
	std::atomic<std::int64_t> peak{0};          // high-water mark of live
};

struct Counters {
	NodeCounters node[2];                    // [0] local, [1] remote
	std::atomic<std::uint64_t> failures{0};  // allocations that returned NULL
	std::atomic<std::uint64_t> fallbacks{0}; // remote full: placed on local instead
	std::atomic<std::uint64_t> foreign_allocations{0};  // served by the real allocator
	std::atomic<std::uint64_t> foreign_frees{0};  // pointers handed back to it
	std::atomic<std::uint64_t> child_dropped{0};  // forked child: parent's emucxl block left alone

	void placed(int n, std::uint64_t bytes) noexcept
	{
		NodeCounters &c = node[n];
		c.placed.fetch_add(bytes, std::memory_order_relaxed);
		c.allocations.fetch_add(1, std::memory_order_relaxed);
		grow(n, static_cast<std::int64_t>(bytes));
	}
	void grow(int n, std::int64_t bytes) noexcept
	{
		NodeCounters &c = node[n];
		const std::int64_t now = c.live.fetch_add(bytes, std::memory_order_relaxed) + bytes;
		std::int64_t peak = c.peak.load(std::memory_order_relaxed);
		while (now > peak && !c.peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
		}
	}
	void freed(int n, std::uint64_t bytes) noexcept
	{
		node[n].live.fetch_sub(static_cast<std::int64_t>(bytes), std::memory_order_relaxed);
	}
};

// Write the report (key=value lines, README "Transparent mode") to fd.
void write_report(int fd, const Counters &c, const Policy &p, const char *driver,
		  bool remote_is_separate) noexcept;

}  // namespace emucxl::preload
