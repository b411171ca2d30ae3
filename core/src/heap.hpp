// SPDX-License-Identifier: Apache-2.0
// heap.hpp - emucxl's allocator: size classes on driver extents, a registry
// that finds the allocation holding any address, and per-node statistics.
//
// Map of the types:
//   Heap        one per initialised library; owns the driver and every block.
//   Block       one driver extent: a *span* of equal-sized small objects, or
//               one *large* allocation. Descriptors live in ordinary memory
//               and are type-stable (recycled, never freed while the heap
//               lives).
//   ClassState  per (node, size class): the spans that still have room and
//               a few batches of free objects that bins overflowed (handed
//               whole to the next bin that runs dry), under that class's
//               own lock.
//   ThreadCache per thread: a short free list per (node, class). The fast
//               paths (alloc and free of a small object) touch only this,
//               the pagemap and the object's span, and take no lock; out
//               of memory, another thread may empty it (thread_cache.hpp).
//
// Invariants:
//   - A small object is live iff its span's tag (Block::requested(idx)) is
//     not 0; it gives the size asked for. Frees check it and store 0 (a plain load and
//     store, no CAS: see free()), so a double free is detected; two threads
//     freeing one object at the same instant is the caller's data race.
//   - Free objects are on exactly one free list: a thread cache's, a
//     class's batch, or their span's. The lists live in node memory, unencoded: a free object's
//     first two words hold the next free object and its span (so allocation
//     needs no lookup), and a write through a dangling pointer can corrupt
//     them, as in most allocators. Only live objects' bytes are the user's.
//   - stats(node) == sum of requested sizes of live allocations on node.
//   - Calls that race with the last emucxl_exit() are the caller's error.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include "driver.hpp"
#include "pagemap.hpp"
#include "result.hpp"
#include "size_classes.hpp"
#include "thread_cache.hpp"

namespace emucxl {

// A descriptor is type-stable: created for one kind of block (a span of one
// class, or a large allocation) and, when its block is released, kept on
// that kind's pool for the next block of the kind, never freed while the
// heap lives. So a lock-free query or free that looked it up through a
// stale pointer reads a descriptor, never freed memory; the fields it reads
// are immutable or atomic, and it re-checks base() afterwards. A block is
// published in the page map only once its descriptor is complete.
struct alignas(64) Block {
	// The first cache line holds everything the fast paths read; the
	// fields after it are for slow paths.
	//
	// Per block the descriptor stands for; read by lock-free paths, hence atomic.
	char *base() const noexcept { return base_.load(std::memory_order_relaxed); }
	std::size_t bytes() const noexcept { return bytes_.load(std::memory_order_relaxed); }
	int node() const noexcept { return node_.load(std::memory_order_relaxed); }
	std::atomic<char *> base_{nullptr};      // == extent.addr
	// Immutable for the descriptor's life (set before its first publication):
	std::uint64_t recip = 0;    // small: class_recip(cls)
	// Small: one tag per object, 0 while it is free (all 0 while pooled),
	// else obj_size + 1 - the size asked for (a size is always more than
	// the next smaller class, so a class step <= 255 fits a byte: 1 byte of
	// metadata per object up to 1 KiB objects, 2 above). tag8 or tag16.
	std::unique_ptr<std::atomic<std::uint8_t>[]> tag8;
	std::unique_ptr<std::atomic<std::uint16_t>[]> tag16;
	std::uint32_t obj_size = 0; // small: class_size(cls)
	std::uint32_t capacity = 0; // small: objects in the span
	std::uint16_t cls = 0;      // small: size class
	bool small = false;         // span of small objects, else one large allocation
	std::atomic<std::uint8_t> node_{0};      // logical node
	std::atomic<std::size_t> bytes_{0};      // == extent.length
	std::atomic<std::size_t> large_requested{0};  // large: size asked for, 0 once freed

	// Small objects' tags (see tag8): the size object idx was asked for, 0 if free.
	std::size_t requested(std::uint32_t idx) const noexcept
	{
		const unsigned t = tag8 ? tag8[idx].load(std::memory_order_acquire)
					: tag16[idx].load(std::memory_order_acquire);
		return t ? obj_size + 1 - t : 0;
	}
	void set_requested(std::uint32_t idx, std::size_t size) noexcept
	{
		const auto t = static_cast<std::uint16_t>(obj_size + 1 - size);
		if (tag8)
			tag8[idx].store(static_cast<std::uint8_t>(t), std::memory_order_release);
		else
			tag16[idx].store(t, std::memory_order_release);
	}
	void clear_requested(std::uint32_t idx) noexcept
	{
		if (tag8)
			tag8[idx].store(0, std::memory_order_release);
		else
			tag16[idx].store(0, std::memory_order_release);
	}
	// In-place resize: from `from` to `to` bytes, if still `from`.
	bool change_requested(std::uint32_t idx, std::size_t from, std::size_t to) noexcept
	{
		if (tag8) {
			auto t = static_cast<std::uint8_t>(obj_size + 1 - from);
			return tag8[idx].compare_exchange_strong(t, static_cast<std::uint8_t>(obj_size + 1 - to),
								 std::memory_order_acq_rel);
		}
		auto t = static_cast<std::uint16_t>(obj_size + 1 - from);
		return tag16[idx].compare_exchange_strong(t, static_cast<std::uint16_t>(obj_size + 1 - to),
							  std::memory_order_acq_rel);
	}

	Extent extent;              // as the driver returned it (owner only)

	// Small spans, under the class lock:
	std::uint32_t carved = 0;     // objects [0, carved) were handed out at least once
	std::uint32_t free_count = 0; // objects on free_list (all carved)
	void *free_list = nullptr;    // intrusive list of free carved objects
	bool in_partial = false;      // on the class's list of spans with room
	bool empty_cached = false;    // fully free, kept as a spare (empty_span_bytes_)
	bool recycled = false;        // objects [carved, capacity) were used before: not zero

	Block *prev = nullptr, *next = nullptr;          // class partial list, or large cache
	Block *all_prev = nullptr, *all_next = nullptr;  // live blocks of the heap, or the pool
	Block *desc_next = nullptr;                      // every descriptor (immutable once linked)
};

// What find() says about an address inside a live allocation.
struct Allocation {
	char *start;       // first byte of the allocation
	std::size_t size;  // size asked for
	int node;          // logical node
};

class Heap {
public:
	static Result<std::unique_ptr<Heap>> create(DriverPtr driver) noexcept;
	~Heap();  // unmaps every block
	Heap(const Heap &) = delete;
	Heap &operator=(const Heap &) = delete;

	// Fast paths inline below; everything else in heap.cpp.
	__attribute__((always_inline)) inline Result<void *> alloc(std::size_t size, int node) noexcept;
	__attribute__((always_inline)) inline Status free(void *p, std::size_t size) noexcept;
	Result<void *> resize(void *p, std::size_t size) noexcept;
	Result<void *> migrate(void *p, int node) noexcept;

	// The live allocation holding addr (any byte of it), if any.
	bool find(const void *addr, Allocation *out) const noexcept;

	// Whether addr lies in a page of emucxl memory (live or not).
	bool owns_page(const void *addr) const noexcept;

	std::size_t stats(int node) const noexcept;
	Driver &driver() noexcept { return *driver_; }
	const Topology &topology() const noexcept { return topology_; }
	std::uint64_t generation() const noexcept { return generation_; }

	// Give a thread's cached objects back to their spans and fold its
	// statistics into the heap's (thread exit; tc.mu held).
	void retire_thread_cache(struct ThreadCache &tc) noexcept;
	// Give another thread's cached objects of `node` back to their spans
	// (drain_thread_caches: tc.mu held, its owner kept out).
	void empty_thread_cache(struct ThreadCache &tc, int node) noexcept;
	// The same for the calling thread's cache (all nodes), and the
	// classes' batches of free objects.
	void flush_current_thread() noexcept;

	// In a forked child: the parent's memory is not mapped here (drivers
	// map with MADV_DONTFORK / VM_DONTCOPY), so this heap must never touch
	// it, unmap it, take its locks (another thread of the parent may have
	// held one at the fork) or call its driver again. Leave the registry; the caller
	// keeps the object (never destroyed: destroying would unmap).
	void abandon_after_fork() noexcept;
	Heap *abandoned_next = nullptr;  // api.cpp's list of abandoned heaps

private:
	explicit Heap(DriverPtr driver) noexcept;

	// A list of free objects of one class, linked through free_next and
	// ended by nullptr, that moves between a bin and the class as a whole.
	struct Batch {
		void *head = nullptr;
		std::uint32_t count = 0;
	};
	// Batches kept per class: a bin that overflows leaves its excess here
	// in one piece, and a bin that runs dry takes one back in O(1), without
	// walking objects another thread freed (cache misses, one after the
	// other) or splicing them onto their spans. At most kBatches of at most
	// half a bin (about kBinBytes / 2) each: ~16 KiB a class and node.
	static constexpr unsigned kBatches = 4;
	struct alignas(64) ClassState {
		std::mutex mu;
		Block *partial = nullptr;  // spans with free or uncarved objects
		// batches[0, nbatches) are full. Written under mu; read without
		// it only as a hint (trim_bin: whether cutting a batch is worth it).
		std::atomic<unsigned> nbatches{0};
		// The thread cache of the last refill (written under mu, read
		// without it as a hint): a trim makes a batch only for another
		// thread. A thread that refills itself gets its objects back onto
		// their spans, where a span that empties is reused whole, as a
		// bump range, rather than walked object by object. Only compared,
		// never dereferenced (the cache may be gone).
		std::atomic<const void *> last_refill{nullptr};
		Batch batches[kBatches];
	};
	static constexpr std::size_t kSpareSpanBytes = std::size_t{8} << 20;  // 8 MiB a node
	std::atomic<std::size_t> empty_span_bytes_[kNumNodes]{};  // spare spans kept, per node

	static std::uint32_t index_of(const Block *b, std::size_t off) noexcept
	{
		return index_by_recip(off, b->recip);
	}
	// A free object holds two words: the next free object of its list, and
	// its span, so that alloc needs no pagemap lookup (objects are >= 16 B).
	static void *&free_next(void *obj) noexcept { return static_cast<void **>(obj)[0]; }
	static Block *free_block(void *obj) noexcept { return static_cast<Block **>(obj)[1]; }
	static void make_free(void *obj, void *next, Block *b) noexcept
	{
		static_cast<void **>(obj)[0] = next;
		static_cast<Block **>(obj)[1] = b;
	}

	// Zero the first `size` bytes of a small object, rounded up to 16 (which
	// the object always has): inline stores up to 128 bytes.
	static void zero_small(void *obj, std::size_t size) noexcept
	{
		switch ((size + 15) >> 4) {
		case 1: __builtin_memset(obj, 0, 16); break;
		case 2: __builtin_memset(obj, 0, 32); break;
		case 3: __builtin_memset(obj, 0, 48); break;
		case 4: __builtin_memset(obj, 0, 64); break;
		case 5: __builtin_memset(obj, 0, 80); break;
		case 6: __builtin_memset(obj, 0, 96); break;
		case 7: __builtin_memset(obj, 0, 112); break;
		case 8: __builtin_memset(obj, 0, 128); break;
		default: __builtin_memset(obj, 0, size); break;
		}
	}
	void count(ThreadCache &tc, int node, std::int64_t delta) noexcept
	{
		auto &c = tc.requested[node];
		c.store(c.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
	}
	bool refill(unsigned cls, int node, struct ThreadCache &tc, Block *&fresh) noexcept;
	__attribute__((noinline)) Result<void *> alloc_slow(std::size_t size, int node) noexcept;
	__attribute__((noinline)) Status free_slow(void *p, Block *b, std::uint32_t idx,
						   std::size_t expected) noexcept;
	__attribute__((noinline)) void trim_bin(unsigned cls, int node) noexcept;
	void take_back(struct ThreadCache &tc) noexcept;
	void return_bump(ClassState &cs, struct ThreadCache::Bin &bin) noexcept;
	void note_freed(ClassState &cs, Block *b) noexcept;
	__attribute__((noinline)) Result<void *> alloc_large(std::size_t size, int node) noexcept;
	__attribute__((noinline)) Status free_large(Block *b, void *p, std::size_t size) noexcept;
	void flush_bin(unsigned cls, int node, struct ThreadCache &tc, std::uint32_t keep,
		       bool with_bump = false) noexcept;
	void return_objects(ClassState &cs, void *&head, std::uint32_t &count, std::uint32_t keep) noexcept;
	void flush_batches(int node) noexcept;
	Result<Block *> map_block(std::size_t bytes, int node, int cls, std::size_t large_size) noexcept;
	Block *take_descriptor(int cls) noexcept;
	Result<Block *> new_span(unsigned cls, int node) noexcept;
	void release_block(Block *b) noexcept;
	void release_spare_spans(int node) noexcept;
	void flush_all_bins(struct ThreadCache &tc) noexcept;
	void flush_node_bins(struct ThreadCache &tc, int node) noexcept;
	void partial_push(ClassState &cs, Block *b) noexcept;
	void partial_remove(ClassState &cs, Block *b) noexcept;
	void all_link(Block *b) noexcept;

	DriverPtr driver_;
	Topology topology_;
	std::uint64_t generation_;
	HeapLink link_;  // in the registry of live heaps (thread_cache.cpp)
	PageMap<Block> pagemap_;
	ClassState classes_[kNumNodes][kNumClasses];
	struct LargeCache {
		std::mutex mu;
		Block *head = nullptr;   // freed large blocks, linked through prev/next
		std::size_t bytes = 0;   // sum of their extents
	};
	static constexpr std::size_t kLargeCacheBytes = std::size_t{64} << 20;      // 64 MiB a node
	static constexpr std::size_t kLargeCacheMaxExtent = std::size_t{16} << 20;  // 16 MiB
	Block *large_cache_take(std::size_t bytes, int node) noexcept;
	bool large_cache_put(Block *b) noexcept;
	void large_cache_drain(int node) noexcept;
	LargeCache large_cache_[kNumNodes];

	std::mutex all_mu_;  // the lists below; slow paths only
	Block *all_ = nullptr;   // live blocks
	Block *descs_ = nullptr; // every descriptor, live or pooled (deleted with the heap)
	// Pooled descriptors per kind: [cls] spans of a class, [kNumClasses] large.
	Block *pool_[kNumClasses + 1] = {};
	// Bytes asked for per node by threads that have exited; live threads
	// keep their share in their ThreadCache.
	std::atomic<std::int64_t> requested_[kNumNodes]{};
};

// ---- fast paths ----------------------------------------------------------------
// alloc: pop the thread's bin; free: validate, push onto the thread's bin.
// Neither takes a lock or executes a locked instruction; the bins are used
// between cache_enter() and cache_leave() only (thread_cache.hpp).

Result<void *> Heap::alloc(std::size_t size, int node) noexcept
{
	if (__builtin_expect(size == 0 || static_cast<unsigned>(node) >= kNumNodes, 0))
		return Error{EINVAL};
	if (__builtin_expect(size > kMaxSmall, 0))
		return alloc_large(size, node);

	const unsigned cls = size_class(size);
	ThreadCache *tc = cache_enter(generation_);
	if (__builtin_expect(!tc, 0))
		return alloc_slow(size, node);
	ThreadCache::Bin &bin = tc->bins[node][cls];
	void *obj = bin.head;
	Block *b;
	bool zero = true;
	if (__builtin_expect(obj != nullptr, 1)) {  // recycled: zero what is asked for
		bin.head = free_next(obj);
		bin.count--;
		b = free_block(obj);
	} else if (__builtin_expect(bin.bump != bin.bump_end, 1)) {
		obj = bin.bump;
		bin.bump += bin.bump_size;
		b = bin.bump_block;
		zero = bin.bump_dirty;
	} else {
		cache_leave(tc);
		return alloc_slow(size, node);
	}
	cache_leave(tc);
	if (zero)
		zero_small(obj, size);
	const std::uint32_t idx = index_of(b, static_cast<std::size_t>(static_cast<char *>(obj) - b->base()));
	// Only the requested bytes can be seen; an in-place resize zeroes what
	// it adds.
	b->set_requested(idx, size);
	count(*tc, node, static_cast<std::int64_t>(size));
	return obj;
}

Status Heap::free(void *p, std::size_t size) noexcept
{
	Block *b = pagemap_.lookup(reinterpret_cast<std::uintptr_t>(p));
	if (__builtin_expect(!b, 0))
		return Error{EINVAL};
	if (__builtin_expect(!b->small, 0))
		return free_large(b, p, size);

	char *const base = b->base();
	const std::size_t off = static_cast<std::size_t>(static_cast<char *>(p) - base);
	const std::uint32_t idx = index_of(b, off);
	if (__builtin_expect(off != std::size_t{idx} * b->obj_size || idx >= b->capacity, 0))
		return Error{EINVAL};  // not the start of an object
	// A plain load and store, no compare-and-swap: this is every free's fast
	// path, and a locked instruction would double its cost. Double and
	// wrong-size frees are caught; two threads freeing one block at the same
	// instant is a data race in the caller, as with any allocator.
	const std::size_t expected = b->requested(idx);
	if (__builtin_expect(expected == 0 || (size != 0 && size != expected), 0))
		return Error{EINVAL};  // already free, or the wrong size
	// A stale pointer whose span was released and its descriptor reused for
	// a span elsewhere meanwhile: not ours to free.
	if (__builtin_expect(b->base() != base, 0))
		return Error{EINVAL};
	ThreadCache *tc = cache_enter(generation_);
	if (__builtin_expect(!tc, 0))
		return free_slow(p, b, idx, expected);
	b->clear_requested(idx);
	const int node = b->node();
	const unsigned cls = b->cls;
	ThreadCache::Bin &bin = tc->bins[node][cls];
	make_free(p, bin.head, b);
	bin.head = p;
	const bool over = ++bin.count > kBinLimit[cls];
	cache_leave(tc);
	count(*tc, node, -static_cast<std::int64_t>(expected));
	if (__builtin_expect(over, 0))
		trim_bin(cls, node);
	return {};
}

}  // namespace emucxl
