// SPDX-License-Identifier: Apache-2.0
// heap.hpp - emucxl's allocator: size classes on driver extents, a registry
// that finds the allocation holding any address, and per-node statistics.
//
// Map of the types:
//   Heap        one per initialised library; owns the driver and every block.
//   Block       one driver extent: a *span* of equal-sized small objects, or
//               one *large* allocation. Descriptors live in ordinary memory,
//               so node memory holds nothing but user data.
//   ClassState  per (node, size class): the spans that still have room,
//               under that class's own lock.
//   ThreadCache per thread: a short free list per (node, class). The fast
//               paths (alloc and free of a small object) touch only this,
//               the pagemap and the object's span, and take no lock.
//
// Invariants:
//   - A small object is live iff its span's requested[idx] != 0; the value is
//     the size asked for. Frees flip it to 0 with a CAS, so a double or
//     concurrent free of one object is detected, never applied twice.
//   - Free objects are on exactly one free list: a thread cache's or their
//     span's. Free lists are linked through the objects' first 8 bytes.
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

namespace emucxl {

struct Block {
	char *base = nullptr;       // == extent.addr
	std::size_t bytes = 0;      // == extent.length
	Extent extent;              // as the driver returned it
	std::uint8_t node = 0;      // logical node
	bool small = false;         // span of small objects, else one large allocation
	std::uint16_t cls = 0;      // small: size class
	std::uint32_t obj_size = 0; // small: class_size(cls)
	std::uint32_t capacity = 0; // small: objects in the span

	// Small spans, under the class lock:
	std::uint32_t carved = 0;     // objects [0, carved) were handed out at least once
	std::uint32_t free_count = 0; // objects on free_list (all carved)
	void *free_list = nullptr;    // intrusive list of free carved objects
	bool in_partial = false;      // on the class's list of spans with room
	bool empty_cached = false;    // fully free, kept as the class's spare

	// Small: requested size per object, 0 when free. Large: element 0 only.
	std::unique_ptr<std::atomic<std::uint16_t>[]> requested;
	std::atomic<std::size_t> large_requested{0};  // large: size asked for, 0 once freed

	Block *prev = nullptr, *next = nullptr;          // class partial list
	Block *all_prev = nullptr, *all_next = nullptr;  // every block of the heap
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

	Result<void *> alloc(std::size_t size, int node) noexcept;
	Status free(void *p, std::size_t size) noexcept;
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

	// Give a thread's cached objects back to their spans (thread exit).
	void flush_thread_cache(struct ThreadCache &tc) noexcept;
	// The same for the calling thread's cache.
	void flush_current_thread() noexcept;

private:
	explicit Heap(DriverPtr driver) noexcept;

	struct alignas(64) ClassState {
		std::mutex mu;
		Block *partial = nullptr;  // spans with free or uncarved objects
		unsigned empty_spans = 0;  // fully free spans kept (at most one)
	};

	Result<void *> alloc_small_slow(unsigned cls, int node, struct ThreadCache &tc) noexcept;
	Result<void *> alloc_large(std::size_t size, int node) noexcept;
	Status free_large(Block *b, void *p, std::size_t size) noexcept;
	void flush_bin(unsigned cls, int node, struct ThreadCache &tc, std::uint32_t keep) noexcept;
	Result<Block *> new_span(unsigned cls, int node) noexcept;
	void release_block(Block *b) noexcept;
	void partial_push(ClassState &cs, Block *b) noexcept;
	void partial_remove(ClassState &cs, Block *b) noexcept;
	void all_link(Block *b) noexcept;

	DriverPtr driver_;
	Topology topology_;
	std::uint64_t generation_;
	PageMap<Block> pagemap_;
	ClassState classes_[kNumNodes][kNumClasses];
	std::mutex all_mu_;  // every block; slow paths only
	Block *all_ = nullptr;
	std::atomic<std::int64_t> requested_[kNumNodes]{};  // bytes asked for, per node
};

// Per-thread free lists, one per (node, class), bound to one Heap generation.
struct ThreadCache {
	struct Bin {
		void *head = nullptr;
		std::uint32_t count = 0;
	};
	std::uint64_t generation = 0;  // Heap::generation() the bins belong to
	Bin bins[kNumNodes][kNumClasses];

	ThreadCache() = default;
	ThreadCache(const ThreadCache &) = delete;
	ThreadCache &operator=(const ThreadCache &) = delete;
	~ThreadCache();
};

}  // namespace emucxl
