// SPDX-License-Identifier: Apache-2.0
// heap.cpp - size classes on driver extents; see heap.hpp for the map.
#include "heap.hpp"

#include <algorithm>
#include <cstring>
#include <new>

#include "log.hpp"
#include "thread_cache.hpp"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

namespace emucxl {

namespace {

std::atomic<std::uint64_t> g_generations{0};

inline std::size_t round_to_pages(std::size_t n) noexcept
{
	return (n + kPageSize - 1) & ~(kPageSize - 1);
}

}  // namespace

Heap::Heap(DriverPtr driver) noexcept
	: driver_(std::move(driver)),
	  topology_(driver_->topology()),
	  generation_(g_generations.fetch_add(1, std::memory_order_relaxed) + 1)
{
}

Result<std::unique_ptr<Heap>> Heap::create(DriverPtr driver) noexcept
{
	auto *h = new (std::nothrow) Heap(std::move(driver));
	if (!h)
		return Error{ENOMEM};
	h->link_.generation = h->generation_;
	h->link_.heap = h;
	register_heap(&h->link_);
	return std::unique_ptr<Heap>(h);
}

Heap::~Heap()
{
	unregister_heap(generation_);  // waits for a thread retiring into us
	for (Block *b = all_; b; b = b->all_next) {
		(void)pagemap_.set(reinterpret_cast<std::uintptr_t>(b->base()), b->bytes(), nullptr);
		if (Status st = driver_->unmap(b->extent); !st)
			LOG_ERROR("exit: unmapping %zu bytes at %p failed: %s", b->bytes(),
				  static_cast<void *>(b->base()), std::strerror(st.error()));
	}
	Block *d = descs_;
	while (d) {
		Block *next = d->desc_next;
		delete d;
		d = next;
	}
}

void Heap::abandon_after_fork() noexcept
{
	unregister_heap(generation_);
}

// ---- block bookkeeping (slow paths) ------------------------------------------

void Heap::all_link(Block *b) noexcept
{
	std::lock_guard lk(all_mu_);
	b->all_prev = nullptr;
	b->all_next = all_;
	if (all_)
		all_->all_prev = b;
	all_ = b;
}

// Unregister and unmap a block nobody references any more; its descriptor
// goes back to its kind's pool (lock-free readers may still hold it).
void Heap::release_block(Block *b) noexcept
{
	(void)pagemap_.set(reinterpret_cast<std::uintptr_t>(b->base()), b->bytes(), nullptr);
	if (Status st = driver_->unmap(b->extent); !st) {
		// The memory stays mapped but unreachable; say so rather than crash.
		LOG_ERROR("unmapping %zu bytes at %p failed: %s", b->bytes(),
			  static_cast<void *>(b->base()), std::strerror(st.error()));
	}
	std::lock_guard lk(all_mu_);
	if (b->all_prev)
		b->all_prev->all_next = b->all_next;
	else
		all_ = b->all_next;
	if (b->all_next)
		b->all_next->all_prev = b->all_prev;
	Block *&pool = pool_[b->small ? b->cls : kNumClasses];
	b->all_prev = nullptr;
	b->all_next = pool;
	pool = b;
}

// A descriptor for a block of kind `cls` (a class, or -1: large), from the
// pool or new; not yet linked anywhere but descs_.
Block *Heap::take_descriptor(int cls) noexcept
{
	{
		std::lock_guard lk(all_mu_);
		Block *&pool = pool_[cls < 0 ? kNumClasses : static_cast<unsigned>(cls)];
		if (Block *b = pool) {
			pool = b->all_next;
			b->all_next = nullptr;
			return b;
		}
	}
	auto *b = new (std::nothrow) Block;
	if (!b)
		return nullptr;
	if (cls >= 0) {
		const auto c = static_cast<unsigned>(cls);
		b->small = true;
		b->cls = static_cast<std::uint16_t>(c);
		b->obj_size = static_cast<std::uint32_t>(class_size(c));
		b->capacity = static_cast<std::uint32_t>(span_bytes(c) / class_size(c));
		b->recip = class_recip(c);
		if (class_tag_bytes(c) == 1)
			b->tag8.reset(new (std::nothrow) std::atomic<std::uint8_t>[b->capacity]());
		else
			b->tag16.reset(new (std::nothrow) std::atomic<std::uint16_t>[b->capacity]());
		if (!b->tag8 && !b->tag16) {
			delete b;
			return nullptr;
		}
	}
	std::lock_guard lk(all_mu_);
	b->desc_next = descs_;
	descs_ = b;
	return b;
}

void Heap::partial_push(ClassState &cs, Block *b) noexcept
{
	b->prev = nullptr;
	b->next = cs.partial;
	if (cs.partial)
		cs.partial->prev = b;
	cs.partial = b;
	b->in_partial = true;
}

void Heap::partial_remove(ClassState &cs, Block *b) noexcept
{
	if (b->prev)
		b->prev->next = b->next;
	else
		cs.partial = b->next;
	if (b->next)
		b->next->prev = b->prev;
	b->prev = b->next = nullptr;
	b->in_partial = false;
}

// Map `bytes` on `node` (after emptying the large-extent cache if the driver
// is out of memory), describe them as a span of class `cls` or (cls -1) one
// large allocation of `large_size` bytes, then publish the complete
// descriptor in the page map and link it among the live blocks. No lock is
// held across the driver call.
Result<Block *> Heap::map_block(std::size_t bytes, int node, int cls, std::size_t large_size) noexcept
{
	auto ext = driver_->map(bytes, node);
	if (!ext && ext.error() == ENOMEM) {
		// Out of memory on the node: give back what the heap keeps for
		// reuse (cached large extents, this thread's cached objects and
		// the node's in other threads' caches, idle threads' too, and the
		// classes' batches, then the spare spans all that may have
		// emptied), then try again.
		large_cache_drain(node);
		flush_current_thread();  // and the classes' batches
		(void)drain_thread_caches(generation_, node, *this);  // onto spans, not batches
		release_spare_spans(node);
		ext = driver_->map(bytes, node);
	}
	if (!ext)
		return Error{ext.error()};

	Block *b = take_descriptor(cls);
	if (!b) {
		(void)driver_->unmap(ext.value());
		return Error{ENOMEM};
	}
	b->base_.store(static_cast<char *>(ext->addr), std::memory_order_relaxed);
	b->bytes_.store(bytes, std::memory_order_relaxed);
	b->node_.store(static_cast<std::uint8_t>(node), std::memory_order_relaxed);
	b->extent = ext.value();
	b->carved = b->free_count = 0;
	b->free_list = nullptr;
	b->in_partial = b->empty_cached = b->recycled = false;
	b->prev = b->next = nullptr;
	b->large_requested.store(large_size, std::memory_order_relaxed);
	// Release stores: a reader that finds b in the page map sees all of it.
	if (!pagemap_.set(reinterpret_cast<std::uintptr_t>(ext->addr), bytes, b)) {
		(void)driver_->unmap(ext.value());
		std::lock_guard lk(all_mu_);
		Block *&pool = pool_[cls < 0 ? kNumClasses : static_cast<unsigned>(cls)];
		b->all_next = pool;
		pool = b;
		return Error{ENOMEM};
	}
	all_link(b);
	return b;
}

Result<Block *> Heap::new_span(unsigned cls, int node) noexcept
{
	return map_block(span_bytes(cls), node, static_cast<int>(cls), 0);
}

// ---- small objects -------------------------------------------------------------

// Refill an empty bin from the class's spans, first putting `fresh` (a span
// just mapped for the class, if any) among them: free objects of a span onto
// the list, else a range of never-used objects to bump from. False when the
// class has no span with room (tc.mu held).
bool Heap::refill(unsigned cls, int node, ThreadCache &tc, Block *&fresh) noexcept
{
	ClassState &cs = classes_[node][cls];
	ThreadCache::Bin &bin = tc.bins[node][cls];
	const std::uint32_t want = std::max<std::uint32_t>(1, kBinLimit[cls] / 2);
	std::lock_guard lk(cs.mu);
	cs.last_refill.store(&tc, std::memory_order_relaxed);
	if (fresh) {
		partial_push(cs, fresh);
		fresh = nullptr;
	}
	if (const unsigned n = cs.nbatches.load(std::memory_order_relaxed); n > 0) {
		// The bin is empty (or holds a bump range only, which stays).
		const Batch batch = cs.batches[n - 1];
		cs.nbatches.store(n - 1, std::memory_order_relaxed);
		bin.head = batch.head;
		bin.count = batch.count;
		return true;
	}
	Block *b = cs.partial;
	if (!b)
		return false;
	if (b->empty_cached) {
		b->empty_cached = false;
		empty_span_bytes_[node].fetch_sub(b->bytes(), std::memory_order_relaxed);
	}
	if (b->free_count == b->carved && b->carved > 0) {
		// Entirely free (a spare, typically): carve it again from the
		// start rather than walk its free list; its objects are no longer
		// zero.
		b->free_list = nullptr;
		b->free_count = 0;
		b->carved = 0;
		b->recycled = true;
	}
	if (b->free_list) {
		while (bin.count < want && b->free_list) {
			void *obj = b->free_list;
			b->free_list = free_next(obj);
			b->free_count--;
			free_next(obj) = bin.head;
			bin.head = obj;
			bin.count++;
		}
	} else {
		// A chunk of never-carved objects: bumping costs nothing per
		// object, and the chunk is small (bump_chunk) so that what an idle
		// thread holds stays bounded.
		const std::uint32_t n = std::min(b->capacity - b->carved, bump_chunk(cls));
		bin.bump = b->base() + std::size_t{b->carved} * b->obj_size;
		bin.bump_end = bin.bump + std::size_t{n} * b->obj_size;
		bin.bump_size = b->obj_size;
		bin.bump_block = b;
		bin.bump_dirty = b->recycled;
		b->carved += n;
	}
	if (!b->free_list && b->carved == b->capacity)
		partial_remove(cs, b);
	return true;
}

// The calling thread's cache, marked detached by a drainer (thread_cache.hpp):
// its fast paths use it again once the mark is gone (tc.mu held).
void Heap::take_back(ThreadCache &tc) noexcept
{
	if (tc.generation.load(std::memory_order_relaxed) != generation_)
		tc.generation.store(generation_, std::memory_order_relaxed);
}

// alloc() when its fast path cannot: no cache yet, the cache detached, or
// the bin empty. The bins are used under tc.mu here.
Result<void *> Heap::alloc_slow(std::size_t size, int node) noexcept
{
	const unsigned cls = size_class(size);
	Block *fresh = nullptr;  // a span mapped below, for refill to put on the list
	for (;;) {
		ThreadCache *tc = thread_cache(generation_);
		if (!tc) {
			if (fresh) {
				std::lock_guard lk(classes_[node][cls].mu);
				partial_push(classes_[node][cls], fresh);
			}
			return Error{ENOMEM};
		}
		std::unique_lock tl(tc->mu);
		take_back(*tc);
		ThreadCache::Bin &bin = tc->bins[node][cls];
		if (!bin.head && bin.bump == bin.bump_end && !refill(cls, node, *tc, fresh)) {
			// A driver call (mmap + mbind + populate + mlock, or a device
			// round trip) is slow: make it without the class lock, so other
			// threads of this class are not stalled behind it, and without
			// tc.mu, so that out of memory it can give this cache back.
			tl.unlock();
			auto nb = new_span(cls, node);
			if (!nb)
				return Error{nb.error()};
			fresh = nb.value();
			continue;
		}
		void *obj = bin.head;
		Block *b;
		bool zero = true;
		if (obj) {
			bin.head = free_next(obj);
			bin.count--;
			b = free_block(obj);
		} else {
			obj = bin.bump;
			bin.bump += bin.bump_size;
			b = bin.bump_block;
			zero = bin.bump_dirty;
		}
		tl.unlock();
		if (zero)
			zero_small(obj, size);
		const std::uint32_t idx =
			index_of(b, static_cast<std::size_t>(static_cast<char *>(obj) - b->base()));
		b->set_requested(idx, size);
		count(*tc, node, static_cast<std::int64_t>(size));
		return obj;
	}
}

// free() when its fast path cannot use the cache (none yet, or detached);
// b, idx and expected are validated.
Status Heap::free_slow(void *p, Block *b, std::uint32_t idx, std::size_t expected) noexcept
{
	ThreadCache *tc = thread_cache(generation_);
	if (!tc)
		return Error{ENOMEM};
	const int node = b->node();
	const unsigned cls = b->cls;
	{
		std::lock_guard tl(tc->mu);
		take_back(*tc);
		b->clear_requested(idx);
		ThreadCache::Bin &bin = tc->bins[node][cls];
		make_free(p, bin.head, b);
		bin.head = p;
		if (++bin.count > kBinLimit[cls])
			flush_bin(cls, node, *tc, kBinLimit[cls] / 2);
	}
	count(*tc, node, -static_cast<std::int64_t>(expected));
	return {};
}

// A free overflowed its bin: all but half a bin of it to the class, as one
// batch, when another thread refills this class (objects flow from thread
// to thread: its next refill takes the batch whole) and there is room for
// one; else onto the spans.
void Heap::trim_bin(unsigned cls, int node) noexcept
{
	ThreadCache *tc = t_cache;  // the fast path that called us had it
	const std::uint32_t keep = kBinLimit[cls] / 2;
	std::lock_guard tl(tc->mu);
	ThreadCache::Bin &bin = tc->bins[node][cls];
	if (bin.count <= keep)
		return;  // emptied by a drainer meanwhile
	ClassState &cs = classes_[node][cls];
	if (keep == 0 || cs.nbatches.load(std::memory_order_relaxed) == kBatches ||
	    cs.last_refill.load(std::memory_order_relaxed) == tc) {
		// Not kept in bins (above kBinMaxObject): straight to the span, so
		// that no batch holds a large span back from being released. Or no
		// room for a batch: spare the walk that cuts one. Or no other
		// thread is refilling this class (ClassState::last_refill).
		flush_bin(cls, node, *tc, keep);
		return;
	}
	// Keep the most recently freed objects (at the head, warm in this
	// thread's cache); cut the list after them, outside the class lock.
	void *cut = nullptr;  // last object kept
	void *rest = bin.head;
	for (std::uint32_t i = 0; i < keep; i++) {
		cut = rest;
		rest = free_next(rest);
	}
	{
		std::lock_guard lk(cs.mu);
		if (const unsigned n = cs.nbatches.load(std::memory_order_relaxed); n < kBatches) {
			cs.batches[n] = {rest, bin.count - keep};
			cs.nbatches.store(n + 1, std::memory_order_relaxed);
			if (cut)
				free_next(cut) = nullptr;
			else
				bin.head = nullptr;
			bin.count = keep;
			return;
		}
	}
	flush_bin(cls, node, *tc, keep);
}

// Out of memory: the node's batches back onto their spans, so that spans
// they kept from being entirely free can be released.
void Heap::flush_batches(int node) noexcept
{
	for (ClassState &cs : classes_[node]) {
		std::lock_guard lk(cs.mu);
		for (unsigned n = cs.nbatches.load(std::memory_order_relaxed); n > 0; n--) {
			Batch &batch = cs.batches[n - 1];
			return_objects(cs, batch.head, batch.count, 0);
			cs.nbatches.store(n - 1, std::memory_order_relaxed);
		}
	}
}

// Out of memory: give every spare span of the node back to the driver.
void Heap::release_spare_spans(int node) noexcept
{
	for (ClassState &cs : classes_[node]) {
		std::lock_guard lk(cs.mu);
		for (Block *b = cs.partial; b;) {
			Block *next = b->next;
			if (b->empty_cached) {
				b->empty_cached = false;
				empty_span_bytes_[node].fetch_sub(b->bytes(), std::memory_order_relaxed);
				partial_remove(cs, b);
				release_block(b);
			}
			b = next;
		}
	}
}

// A freed object went back onto b's list (class lock held): put the span
// where it belongs; when it is entirely free, keep it for reuse while the
// node's spare spans stay within kSpareSpanBytes, else give it back. Spares
// spare a driver call (mmap + mbind + populate + mlock, or an ioctl) each
// time a workload's live set shrinks and grows again.
void Heap::note_freed(ClassState &cs, Block *b) noexcept
{
	if (!b->in_partial)
		partial_push(cs, b);
	if (b->free_count != b->carved || b->empty_cached)
		return;
	auto &spare = empty_span_bytes_[b->node()];
	if (spare.fetch_add(b->bytes(), std::memory_order_relaxed) + b->bytes() <= kSpareSpanBytes) {
		b->empty_cached = true;
		return;
	}
	spare.fetch_sub(b->bytes(), std::memory_order_relaxed);
	partial_remove(cs, b);
	release_block(b);
}

// Give the unused part of a bin's bump range back to its span (class lock held).
void Heap::return_bump(ClassState &cs, ThreadCache::Bin &bin) noexcept
{
	Block *b = bin.bump_block;
	for (char *obj = bin.bump; obj != bin.bump_end; obj += bin.bump_size) {
		make_free(obj, b->free_list, b);
		b->free_list = obj;
		b->free_count++;
	}
	bin.bump = bin.bump_end = nullptr;
	bin.bump_block = nullptr;
	if (b)
		note_freed(cs, b);
}

// Return all but `keep` objects of a bin's list to their spans, and with
// `with_bump` the bump range too.
void Heap::flush_bin(unsigned cls, int node, ThreadCache &tc, std::uint32_t keep, bool with_bump) noexcept
{
	ClassState &cs = classes_[node][cls];
	ThreadCache::Bin &bin = tc.bins[node][cls];
	std::lock_guard lk(cs.mu);
	return_objects(cs, bin.head, bin.count, keep);
	if (with_bump && bin.bump != bin.bump_end)
		return_bump(cs, bin);
}

// Objects from the front of a list (head, count) onto their spans' lists
// until `keep` are left (class lock held).
void Heap::return_objects(ClassState &cs, void *&head, std::uint32_t &count, std::uint32_t keep) noexcept
{
	while (count > keep) {
		// Objects of one span usually follow each other: splice each run
		// onto its span's list at once.
		void *first = head;
		Block *b = free_block(first);
		void *last = first;
		std::uint32_t n = 1;
		while (count - n > keep && free_next(last) && free_block(free_next(last)) == b) {
			last = free_next(last);
			n++;
		}
		head = free_next(last);
		count -= n;
		free_next(last) = b->free_list;
		b->free_list = first;
		b->free_count += n;
		note_freed(cs, b);
	}
}

void Heap::flush_all_bins(ThreadCache &tc) noexcept
{
	for (int node = 0; node < kNumNodes; node++)
		for (unsigned cls = 0; cls < kNumClasses; cls++)
			if (tc.bins[node][cls].count || tc.bins[node][cls].bump != tc.bins[node][cls].bump_end)
				flush_bin(cls, node, tc, 0, true);
}

void Heap::flush_node_bins(ThreadCache &tc, int node) noexcept
{
	for (unsigned cls = 0; cls < kNumClasses; cls++)
		if (tc.bins[node][cls].count || tc.bins[node][cls].bump != tc.bins[node][cls].bump_end)
			flush_bin(cls, node, tc, 0, true);
}

void Heap::retire_thread_cache(ThreadCache &tc) noexcept
{
	flush_all_bins(tc);
	fold_thread_requested(tc, requested_);
}

void Heap::empty_thread_cache(ThreadCache &tc, int node) noexcept
{
	flush_node_bins(tc, node);
}

void Heap::flush_current_thread() noexcept
{
	if (ThreadCache *tc = thread_cache(generation_)) {
		std::lock_guard tl(tc->mu);
		flush_all_bins(*tc);
	}
	// The batches this thread's trims left with the classes too: after
	// this, only spare spans (kSpareSpanBytes) and other threads' caches
	// hold freed memory.
	for (int node = 0; node < kNumNodes; node++)
		flush_batches(node);
}

// ---- large allocations -------------------------------------------------------

// Freed large extents are kept per node, up to kLargeCacheBytes, and reused
// for an allocation at most a quarter smaller than the extent: a memset is
// an order of magnitude cheaper than mapping, placing, faulting and pinning
// fresh pages. The driver still counts them as allocated until reused,
// released to make room, or the library exits; a map that fails for lack of
// memory first empties the cache.

Block *Heap::large_cache_take(std::size_t bytes, int node) noexcept
{
	LargeCache &c = large_cache_[node];
	std::lock_guard lk(c.mu);
	for (Block *b = c.head; b; b = b->next) {
		if (b->bytes() < bytes || b->bytes() - bytes > bytes / 4)
			continue;  // too small, or would waste more than a quarter
		if (b->prev)
			b->prev->next = b->next;
		else
			c.head = b->next;
		if (b->next)
			b->next->prev = b->prev;
		b->prev = b->next = nullptr;
		c.bytes -= b->bytes();
		return b;
	}
	return nullptr;
}

bool Heap::large_cache_put(Block *b) noexcept
{
	if (b->bytes() > kLargeCacheMaxExtent)
		return false;
	LargeCache &c = large_cache_[b->node()];
	std::lock_guard lk(c.mu);
	if (c.bytes + b->bytes() > kLargeCacheBytes)
		return false;
	b->prev = nullptr;
	b->next = c.head;
	if (c.head)
		c.head->prev = b;
	c.head = b;
	c.bytes += b->bytes();
	return true;
}

void Heap::large_cache_drain(int node) noexcept
{
	Block *list;
	{
		LargeCache &c = large_cache_[node];
		std::lock_guard lk(c.mu);
		list = c.head;
		c.head = nullptr;
		c.bytes = 0;
	}
	while (list) {
		Block *next = list->next;
		release_block(list);
		list = next;
	}
}

Result<void *> Heap::alloc_large(std::size_t size, int node) noexcept
{
	if (size > (std::size_t{1} << PageMap<Block>::kAddrBits))
		return Error{ENOMEM};  // larger than the address space
	const std::size_t bytes = round_to_pages(size);
	if (Block *b = large_cache_take(bytes, node)) {
		std::memset(b->base(), 0, size);  // beyond `size`, growth zeroes (resize)
		b->large_requested.store(size, std::memory_order_release);
		requested_[node].fetch_add(static_cast<std::int64_t>(size), std::memory_order_relaxed);
		return static_cast<void *>(b->base());
	}
	auto mb = map_block(bytes, node, -1, size);
	if (!mb)
		return Error{mb.error()};
	requested_[node].fetch_add(static_cast<std::int64_t>(size), std::memory_order_relaxed);
	return static_cast<void *>(mb.value()->base());
}

Status Heap::free_large(Block *b, void *p, std::size_t size) noexcept
{
	if (p != b->base())
		return Error{EINVAL};
	std::size_t expected = b->large_requested.load(std::memory_order_acquire);
	if (expected == 0 || (size != 0 && size != expected))
		return Error{EINVAL};
	if (!b->large_requested.compare_exchange_strong(expected, 0, std::memory_order_acq_rel))
		return Error{EINVAL};
	requested_[b->node()].fetch_sub(static_cast<std::int64_t>(expected),
				      std::memory_order_relaxed);
	if (!large_cache_put(b))
		release_block(b);
	return {};
}

// ---- queries, resize, migrate --------------------------------------------------

bool Heap::find(const void *addr, Allocation *out) const noexcept
{
	const auto a = reinterpret_cast<std::uintptr_t>(addr);
	Block *b = pagemap_.lookup(a);
	if (!b)
		return false;
	// b may be released and reused for another block while we read it (a
	// stale pointer racing with a free): read its state once, then check
	// that it still stands for the same block.
	char *const base = b->base();
	const int node = b->node();
	const auto ubase = reinterpret_cast<std::uintptr_t>(base);
	if (a < ubase || a - ubase >= b->bytes())
		return false;
	const std::size_t off = a - ubase;
	Allocation found;
	if (!b->small) {
		const std::size_t size = b->large_requested.load(std::memory_order_acquire);
		if (size == 0 || off >= size)
			return false;
		found = {base, size, node};
	} else {
		const std::size_t idx = off / b->obj_size;
		if (idx >= b->capacity)
			return false;  // the tail of a span that holds no whole object
		const std::size_t size = b->requested(static_cast<std::uint32_t>(idx));
		const std::size_t start = idx * b->obj_size;
		if (size == 0 || off - start >= size)
			return false;
		found = {base + start, size, node};
	}
	if (pagemap_.lookup(a) != b || b->base() != base)
		return false;  // released (and perhaps reused) meanwhile
	*out = found;
	return true;
}

Result<void *> Heap::resize(void *p, std::size_t size) noexcept
{
	Allocation a;
	if (!find(p, &a) || a.start != p || size == 0)
		return Error{EINVAL};
	Block *b = pagemap_.lookup(reinterpret_cast<std::uintptr_t>(p));
	if (!b)
		return Error{EINVAL};  // freed by another thread meanwhile

	// In place when the new size needs the same object or the same pages.
	const bool fits = b->small ? (size <= kMaxSmall && size_class(size) == b->cls)
				   : (size > kMaxSmall && round_to_pages(size) <= b->bytes() &&
				      b->bytes() - round_to_pages(size) <= b->bytes() / 4);
	if (fits) {
		if (size > a.size)  // the added bytes may hold an earlier owner's data
			std::memset(a.start + a.size, 0, size - a.size);
		if (b->small) {
			auto idx = static_cast<std::uint32_t>(static_cast<std::size_t>(a.start - b->base()) /
							      b->obj_size);
			if (!b->change_requested(idx, a.size, size))
				return Error{EINVAL};
		} else {
			std::size_t old = a.size;
			if (!b->large_requested.compare_exchange_strong(old, size,
									std::memory_order_acq_rel))
				return Error{EINVAL};
		}
		requested_[a.node].fetch_add(static_cast<std::int64_t>(size) -
						     static_cast<std::int64_t>(a.size),
					     std::memory_order_relaxed);
		return p;
	}

	auto q = alloc(size, a.node);
	if (!q)
		return q;
	std::memcpy(q.value(), p, std::min(size, a.size));
	if (Status st = free(p, a.size); !st) {
		(void)free(q.value(), size);
		return Error{st.error()};
	}
	return q;
}

Result<void *> Heap::migrate(void *p, int node) noexcept
{
	Allocation a;
	if (node < 0 || node >= kNumNodes || !find(p, &a) || a.start != p)
		return Error{EINVAL};
	if (a.node == node)
		return p;
	auto q = alloc(a.size, node);
	if (!q)
		return q;
	std::memcpy(q.value(), p, a.size);
	if (Status st = free(p, a.size); !st) {
		(void)free(q.value(), a.size);
		return Error{st.error()};
	}
	return q;
}

std::size_t Heap::stats(int node) const noexcept
{
	// The exited threads' share and the live threads' under one lock, which
	// a retiring thread also holds to move its share from one to the other:
	// a read never sees it in neither (or both).
	const std::int64_t v = thread_requested(generation_, node, &requested_[node]);
	return v > 0 ? static_cast<std::size_t>(v) : 0;
}

}  // namespace emucxl
