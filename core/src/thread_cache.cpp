// SPDX-License-Identifier: Apache-2.0
// thread_cache.cpp - creation, registry and retirement of thread caches.
#include "thread_cache.hpp"

#include <pthread.h>

#include <mutex>
#include <new>

#include "heap.hpp"

namespace emucxl {

constinit thread_local ThreadCache *t_cache = nullptr;

namespace {

std::mutex g_mu;                 // the registry, and generation/stat changes
ThreadCache *g_caches = nullptr;  // every live thread's cache

// Live heaps by generation, so an exiting thread finds the heap its cache
// belongs to (if it still exists) and a heap cannot go away meanwhile.
// Lock order: g_heaps_mu, then a heap's locks (heap.hpp), then g_mu.
// Everything here is constinit and trivially destructible: threads may
// exit while static destructors run.
std::mutex g_heaps_mu;
constinit HeapLink *g_heaps = nullptr;
pthread_key_t g_exit_key;         // runs on_thread_exit for each cache
std::once_flag g_key_once;

// pthread key destructor: give the objects back, fold the statistics, free.
void on_thread_exit(void *p)
{
	auto *tc = static_cast<ThreadCache *>(p);
	{
		std::lock_guard hl(g_heaps_mu);
		for (HeapLink *l = g_heaps; l; l = l->next)
			if (l->generation == tc->generation)
				l->heap->retire_thread_cache(*tc);
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

void register_heap(HeapLink *link) noexcept
{
	std::lock_guard hl(g_heaps_mu);
	link->next = g_heaps;
	g_heaps = link;
}

void unregister_heap(std::uint64_t generation) noexcept
{
	std::lock_guard hl(g_heaps_mu);
	for (HeapLink **l = &g_heaps; *l; l = &(*l)->next) {
		if ((*l)->generation == generation) {
			*l = (*l)->next;
			return;
		}
	}
}

void fork_prepare() noexcept
{
	g_heaps_mu.lock();
	g_mu.lock();
}

void fork_parent() noexcept
{
	g_mu.unlock();
	g_heaps_mu.unlock();
}

void fork_child() noexcept
{
	// The other threads did not come along: their caches hold the parent's
	// objects and would never be retired. Drop them.
	ThreadCache *tc = g_caches;
	while (tc) {
		ThreadCache *next = tc->next;
		if (tc != t_cache)
			delete tc;
		tc = next;
	}
	g_caches = t_cache;
	if (t_cache)
		t_cache->prev = t_cache->next = nullptr;
	g_mu.unlock();
	g_heaps_mu.unlock();
}

std::int64_t thread_requested(std::uint64_t generation, int node,
			      const std::atomic<std::int64_t> *exited) noexcept
{
	std::lock_guard lk(g_mu);
	std::int64_t sum = exited->load(std::memory_order_relaxed);
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
