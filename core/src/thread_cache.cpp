// SPDX-License-Identifier: Apache-2.0
// thread_cache.cpp - creation, registry and retirement of thread caches.
#include "thread_cache.hpp"

#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
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
// Lock order: a cache's mu, g_heaps_mu, a heap's locks (heap.hpp), g_mu;
// a drainer holds g_mu around a cache's mu (only ever tried: try_lock) and
// a heap's locks, which nobody holds while waiting for g_mu.
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
		// Held until the cache has left the registry: a drainer finds it
		// there only under g_mu and then tries this lock.
		std::lock_guard cl(tc->mu);
		{
			const std::uint64_t generation =
				tc->generation.load(std::memory_order_relaxed) & ~kDetached;
			std::lock_guard hl(g_heaps_mu);
			for (HeapLink *l = g_heaps; l; l = l->next)
				if (l->generation == generation)
					l->heap->retire_thread_cache(*tc);
		}
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

// A full memory barrier on every processor running one of this process's
// threads (MEMBARRIER_CMD_PRIVATE_EXPEDITED), registering for it first if
// needed (registration is per process, and a fork's child may lack it).
bool barrier_on_every_thread() noexcept
{
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
		return true;
	if (errno != EPERM ||
	    syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) != 0)
		return false;
	return syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
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
	std::lock_guard cl(tc->mu);  // no drainer at work in it meanwhile
	const std::uint64_t had = tc->generation.load(std::memory_order_relaxed);
	if ((had & ~kDetached) == generation) {
		// Emptied by a drainer: take it back, empty. From here on the
		// owner's fast paths use it again.
		tc->generation.store(generation, std::memory_order_relaxed);
		return tc;
	}
	// Contents of an earlier heap: its memory is gone, so drop, don't free.
	std::lock_guard lk(g_mu);
	for (auto &node_bins : tc->bins)
		for (auto &bin : node_bins)
			bin = {};
	for (auto &r : tc->requested)
		r.store(0, std::memory_order_relaxed);
	tc->generation.store(generation, std::memory_order_relaxed);
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

// Each cache in turn, its mu held: mark it detached, so that the owner's
// next fast path takes the slow path (which waits for mu); then a barrier on
// every processor, after which any fast path that had not yet read the mark
// has made its `busy` visible; wait for that fast path to leave; then the
// bins are ours until mu is released. The owner pays two plain stores per
// fast path; the drain pays a membarrier(2) per cache, out of memory only.
// g_mu is held throughout, so caches can neither leave the registry nor be
// freed, and a fork waits for the drain to end.
bool drain_thread_caches(std::uint64_t generation, int node, Heap &heap) noexcept
{
	std::lock_guard lk(g_mu);
	if (!barrier_on_every_thread())
		return false;
	for (ThreadCache *tc = g_caches; tc; tc = tc->next) {
		if (tc == t_cache ||
		    (tc->generation.load(std::memory_order_relaxed) & ~kDetached) != generation)
			continue;
		// Held: its owner is in a slow path or exiting (and may be
		// draining too: waiting for it could deadlock). Left as it is.
		if (!tc->mu.try_lock())
			continue;
		std::lock_guard cl(tc->mu, std::adopt_lock);
		if ((tc->generation.load(std::memory_order_relaxed) & ~kDetached) != generation)
			continue;  // the owner moved on to another heap meanwhile
		tc->generation.store(generation | kDetached, std::memory_order_relaxed);
		if (!barrier_on_every_thread()) {
			// Without the barrier a fast path may be using the bins
			// unseen: leave them. The mark costs the owner one slow path.
			return false;
		}
		while (tc->busy.load(std::memory_order_acquire))
			sched_yield();
		heap.empty_thread_cache(*tc, node);
	}
	return true;
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
