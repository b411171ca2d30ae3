// SPDX-License-Identifier: Apache-2.0
// thread_cache.hpp - each thread's ThreadCache (see heap.hpp).
//
// The pointer is initial-exec TLS: one %fs-relative load, no call to
// __tls_get_addr, on every alloc and free. It is a single pointer, so the
// static TLS it takes is small enough even when the library is dlopen()ed.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "driver.hpp"
#include "size_classes.hpp"

namespace emucxl {

// Per-thread free lists, one per (node, class), and this thread's share of
// the statistics, bound to one Heap generation. Allocated on a thread's
// first call; registered so stats() can sum them; flushed and freed at
// thread exit (thread_cache.cpp).
struct ThreadCache {
	// Free objects come from `head` (recycled: must be zeroed) or, when it
	// is empty, from [bump, bump_end): consecutive objects of one span
	// reserved by this thread (`bump_block`), never used (still zero from the
	// driver) or, for a span that was entirely free, recycled (`bump_dirty`).
	struct Bin {
		void *head = nullptr;          // list of free objects
		std::uint32_t count = 0;       // objects on the list
		std::uint32_t bump_size = 0;   // object size of the bump range
		bool bump_dirty = false;       // the range was used before: zero on alloc
		char *bump = nullptr;          // next fresh object
		char *bump_end = nullptr;      // end of the reserved fresh objects
		struct Block *bump_block = nullptr;
	};
	// Heap::generation() the contents belong to, with kDetached set by a
	// thread that emptied them (drain_thread_caches). Written under `mu`;
	// read by the owner's fast paths without it.
	std::atomic<std::uint64_t> generation{0};
	// The owner's fast paths use the bins without a lock, between
	// cache_enter() and cache_leave(), which set and clear this with plain
	// stores. Every other use of the bins, the owner's slow paths included,
	// holds `mu`.
	std::atomic<bool> busy{false};
	std::mutex mu;
	// Bytes this thread allocated minus freed, per node. Written only by the
	// owning thread (plain load + store: no locked instruction on the fast
	// path), read by stats() from any thread.
	std::atomic<std::int64_t> requested[kNumNodes]{};
	ThreadCache *prev = nullptr, *next = nullptr;  // registry, under its mutex
	Bin bins[kNumNodes][kNumClasses];
};

// constinit: no dynamic initialisation, so no TLS wrapper call on access.
extern thread_local constinit ThreadCache *t_cache __attribute__((tls_model("initial-exec")));

// Create the calling thread's cache, or empty one left from an earlier heap
// (a heap is known by its generation number).
// nullptr when memory for it cannot be had.
ThreadCache *thread_cache_slow(std::uint64_t generation) noexcept;

// Set in ThreadCache::generation while a cache is being, or has been,
// emptied by another thread; the owner's next slow path clears it.
inline constexpr std::uint64_t kDetached = std::uint64_t{1} << 63;

// The calling thread's cache, attached to `generation` (slow paths: the
// bins are then used under its `mu`).
inline ThreadCache *thread_cache(std::uint64_t generation) noexcept
{
	ThreadCache *tc = t_cache;
	if (__builtin_expect(tc != nullptr &&
				     tc->generation.load(std::memory_order_relaxed) == generation, 1))
		return tc;
	return thread_cache_slow(generation);
}

// The fast paths' hold on the calling thread's bins: nullptr if it has no
// cache for `generation` or another thread detached it (then take the slow
// path). No locked instruction: `busy` is set with a plain store and the
// load of `generation` after it is ordered only for the compiler; a
// draining thread supplies the processor's half of the ordering with
// membarrier(2) (see drain_thread_caches in thread_cache.cpp).
__attribute__((always_inline)) inline ThreadCache *cache_enter(std::uint64_t generation) noexcept
{
	ThreadCache *tc = t_cache;
	if (__builtin_expect(tc == nullptr, 0))
		return nullptr;
	tc->busy.store(true, std::memory_order_relaxed);
	std::atomic_signal_fence(std::memory_order_seq_cst);
	if (__builtin_expect(tc->generation.load(std::memory_order_relaxed) == generation, 1))
		return tc;
	tc->busy.store(false, std::memory_order_release);
	return nullptr;
}

__attribute__((always_inline)) inline void cache_leave(ThreadCache *tc) noexcept
{
	tc->busy.store(false, std::memory_order_release);
}

class Heap;

// A heap's entry in the registry of live heaps (a member of Heap): intrusive,
// so that the registry is constinit, needs no allocation and is still valid
// when threads exit during static destruction.
struct HeapLink {
	std::uint64_t generation = 0;
	Heap *heap = nullptr;
	HeapLink *next = nullptr;
};

// Heaps announce themselves so that exiting threads can give their cached
// objects back (to the right heap, and never to one being destroyed).
void register_heap(HeapLink *link) noexcept;
void unregister_heap(std::uint64_t generation) noexcept;

// fork(2) (pthread_atfork, registered by api.cpp): prepare takes the
// registry locks, so that no other thread holds one at the fork; parent and
// child release them. A heap's own locks are not taken: the child abandons
// the parent's heap and never touches them. In the child, where only the
// forking thread lives on, the other threads' caches are dropped too (their
// memory belongs to the parent).
void fork_prepare() noexcept;
void fork_parent() noexcept;
void fork_child() noexcept;

// `exited` (the heap's share of exited threads) plus the live threads'
// statistics for a heap generation and node, read under the registry lock.
std::int64_t thread_requested(std::uint64_t generation, int node,
			      const std::atomic<std::int64_t> *exited) noexcept;

// Move a retiring thread's statistics into `total` (the heap's share of
// exited threads), atomically with respect to thread_requested().
void fold_thread_requested(ThreadCache &tc, std::atomic<std::int64_t> *total) noexcept;

// Out of memory on `node`: give the node's objects in the other threads'
// caches of heap `generation` back to the heap (Heap::empty_thread_cache),
// live threads' included, though their owners use them without a lock.
// False when that cannot be done safely here (no membarrier(2)): some
// caches are then left as they are.
bool drain_thread_caches(std::uint64_t generation, int node, Heap &heap) noexcept;

}  // namespace emucxl
