// SPDX-License-Identifier: Apache-2.0
// thread_cache.cpp - creation, registry and retirement of thread caches.
#include "thread_cache.hpp"

#include <pthread.h>

#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "heap.hpp"

namespace emucxl {

constinit thread_local ThreadCache *t_cache = nullptr;

namespace {

std::mutex g_mu;                 // the registry, and generation/stat changes
ThreadCache *g_caches = nullptr;  // every live thread's cache

// Live heaps by generation, so an exiting thread finds the heap its cache
// belongs to (if it still exists) and a heap cannot go away meanwhile.
// Lock order: g_heaps_mu, then a heap's class locks, then g_mu.
std::mutex g_heaps_mu;
std::vector<std::pair<std::uint64_t, Heap *>> g_heaps;
pthread_key_t g_exit_key;         // runs on_thread_exit for each cache
std::once_flag g_key_once;

// pthread key destructor: give the objects back, fold the statistics, free.
void on_thread_exit(void *p)
{
	auto *tc = static_cast<ThreadCache *>(p);
	{
		std::lock_guard hl(g_heaps_mu);
		for (auto &[generation, heap] : g_heaps)
			if (generation == tc->generation)
				heap->retire_thread_cache(*tc);
	}
	{
		std::lock_guard lk(g_mu);
		if (tc->prev)
			tc->prev->next = tc->next;
		else
			g_caches = tc->next;
		if (tc->next)
			tc->next->prev = tc->prev;
	}
	t_cache = nullptr;
	delete tc;
}

}  // namespace

ThreadCache *thread_cache_slow(std::uint64_t generation) noexcept
{
	ThreadCache *tc = t_cache;
	if (!tc) {
		std::call_once(g_key_once, [] { (void)pthread_key_create(&g_exit_key, on_thread_exit); });
		tc = new (std::nothrow) ThreadCache;
		if (!tc)
			return nullptr;
		if (pthread_setspecific(g_exit_key, tc) != 0) {
			delete tc;
			return nullptr;
		}
		std::lock_guard lk(g_mu);
		tc->next = g_caches;
		if (g_caches)
			g_caches->prev = tc;
		g_caches = tc;
		t_cache = tc;
	}
	// Contents of an earlier heap: its memory is gone, so drop, don't free.
	std::lock_guard lk(g_mu);
	for (auto &node_bins : tc->bins)
		for (auto &bin : node_bins)
			bin = {};
	for (auto &r : tc->requested)
		r.store(0, std::memory_order_relaxed);
	tc->generation = generation;
	return tc;
}

bool register_heap(std::uint64_t generation, Heap *heap) noexcept
{
	std::lock_guard hl(g_heaps_mu);
	try {
		g_heaps.emplace_back(generation, heap);
	} catch (...) {
		return false;
	}
	return true;
}

void unregister_heap(std::uint64_t generation) noexcept
{
	std::lock_guard hl(g_heaps_mu);
	std::erase_if(g_heaps, [generation](const auto &e) { return e.first == generation; });
}

std::int64_t thread_requested(std::uint64_t generation, int node) noexcept
{
	std::lock_guard lk(g_mu);
	std::int64_t sum = 0;
	for (ThreadCache *tc = g_caches; tc; tc = tc->next)
		if (tc->generation == generation)
			sum += tc->requested[node].load(std::memory_order_relaxed);
	return sum;
}

void fold_thread_requested(ThreadCache &tc, std::atomic<std::int64_t> *total) noexcept
{
	std::lock_guard lk(g_mu);
	for (int n = 0; n < kNumNodes; n++) {
		total[n].fetch_add(tc.requested[n].load(std::memory_order_relaxed),
				   std::memory_order_relaxed);
		tc.requested[n].store(0, std::memory_order_relaxed);
	}
}

}  // namespace emucxl
