// SPDX-License-Identifier: Apache-2.0
// api.cpp - the C API: argument checks, errno, log messages; the work is
// done by Heap. Nothing here throws and nothing exits the process.
#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <utility>

#include "emucxl/emucxl.h"
#include "heap.hpp"
#include "log.hpp"

namespace emucxl {

Result<DriverPtr> select_driver(const Config &config) noexcept;

namespace {

// Process-wide state. constinit and trivially destructible, so it outlives
// every thread's cache at process exit.
struct Runtime {
	std::mutex mu;                     // init/exit
	int refs = 0;                      // successful inits not yet exited
	std::atomic<Heap *> heap{nullptr};  // set while refs > 0
	bool atfork = false;               // the fork hooks are registered
	Heap *abandoned = nullptr;         // parents' heaps, in a forked child
};
constinit Runtime g_rt;

// fork(2). The drivers map with MADV_DONTFORK (mbind, cuse) or VM_DONTCOPY
// (kmod): a child has none of the parent's emucxl memory, so it must not
// have the parent's library state either. It starts uninitialised: calls
// fail with ENODEV, emucxl_init gives it a heap of its own, and nothing of
// the parent's is ever unmapped or handed to the parent's driver (an address
// the parent used may be the child's own mapping by then). The parent's
// Heap object is kept, unused, so that it stays reachable: destroying it
// would unmap. The locks the child goes on using (init/exit, the thread
// registry) are taken around the fork, so none is held by a thread that
// does not exist in the child; the abandoned heap's locks are never taken
// again.
void atfork_prepare() noexcept
{
	g_rt.mu.lock();
	fork_prepare();
}

void atfork_parent() noexcept
{
	fork_parent();
	g_rt.mu.unlock();
}

void atfork_child() noexcept
{
	fork_child();
	if (Heap *h = g_rt.heap.exchange(nullptr, std::memory_order_relaxed)) {
		h->abandon_after_fork();
		h->abandoned_next = g_rt.abandoned;
		g_rt.abandoned = h;
	}
	g_rt.refs = 0;
	g_rt.mu.unlock();
}

__attribute__((noinline, cold)) Heap *not_initialised(const char *fn) noexcept
{
	LOG_WARN("%s: library not initialised (call emucxl_init first)", fn);
	errno = ENODEV;
	return nullptr;
}

inline Heap *heap_or_enodev(const char *fn) noexcept
{
	Heap *h = g_rt.heap.load(std::memory_order_acquire);
	return __builtin_expect(h != nullptr, 1) ? h : not_initialised(fn);
}

template <class T>
T fail(int err, T ret) noexcept
{
	errno = err;
	return ret;
}

// Where a range [p, p + n) stands with respect to emucxl memory.
enum class RangeCheck { outside, inside, bad };

RangeCheck check_range(const Heap &h, std::uintptr_t anchor, std::uintptr_t p, std::size_t n,
		       const char *fn, const char *what) noexcept
{
	Allocation a;
	if (!h.find(reinterpret_cast<const void *>(anchor), &a)) {
		if (h.owns_page(reinterpret_cast<const void *>(anchor))) {
			LOG_WARN("%s: %s %p is emucxl memory but no live allocation", fn, what,
				 reinterpret_cast<void *>(anchor));
			errno = EINVAL;
			return RangeCheck::bad;
		}
		return RangeCheck::outside;  // ordinary memory: the caller's business
	}
	const auto start = reinterpret_cast<std::uintptr_t>(a.start);
	if (p < start || p > start + a.size || n > start + a.size - p) {
		LOG_WARN("%s: %s range %p+%zu runs outside its allocation %p+%zu", fn, what,
			 reinterpret_cast<void *>(p), n, static_cast<void *>(a.start), a.size);
		errno = ERANGE;
		return RangeCheck::bad;
	}
	return RangeCheck::inside;
}

bool valid_node(int node, const char *fn) noexcept
{
	if (node == EMUCXL_LOCAL_NODE || node == EMUCXL_REMOTE_NODE)
		return true;
	LOG_WARN("%s: node %d is neither 0 (local) nor 1 (remote)", fn, node);
	errno = EINVAL;
	return false;
}

// ENOMEM: say how full the node is, so that a node that is full, a request
// over the capacity and memory held by others can be told apart.
__attribute__((cold)) void log_no_room(Heap &h, const char *call, std::size_t size,
				       int node, const char *tail = "") noexcept
{
	if (!log_enabled(LogLevel::warn))
		return;
	constexpr double kMiB = 1024.0 * 1024.0;
	const int phys = h.topology().node[node].physical_node;
	const double mine = static_cast<double>(h.stats(node)) / kMiB;
	auto u = h.driver().usage(node);
	if (!u) {
		LOG_WARN("%s: %zu bytes do not fit on node %d (physical node %d, capacity %.1f "
			 "MiB); this process holds %.1f MiB there%s", call, size, node, phys,
			 static_cast<double>(h.topology().node[node].capacity) / kMiB, mine, tail);
		return;
	}
	LOG_WARN("%s: %zu bytes do not fit on node %d (physical node %d): capacity %.1f MiB, "
		 "%.1f MiB allocated by the %s driver, %.1f MiB free; this process holds %.1f "
		 "MiB there%s", call, size, node, phys, static_cast<double>(u->capacity) / kMiB,
		 static_cast<double>(u->allocated) / kMiB, h.driver().name().data(),
		 static_cast<double>(u->free) / kMiB, mine, tail);
}

// emucxl_alloc's and emucxl_free's reports, out of line: kept in the fast
// paths' functions they made those save five registers and build a stack
// frame on every call.
__attribute__((noinline, cold)) void *alloc_failed(Heap *h, std::size_t size, int node, int err) noexcept
{
	if (err == EINVAL) {
		LOG_WARN("emucxl_alloc(%zu, %d): %s", size, node,
			 size == 0 ? "size 0" : "node is neither 0 (local) nor 1 (remote)");
	} else if (err == ENOMEM) {
		char call[64];
		std::snprintf(call, sizeof(call), "emucxl_alloc(%zu, %d)", size, node);
		log_no_room(*h, call, size, node);
	} else
		LOG_WARN("emucxl_alloc(%zu, %d): %s", size, node, std::strerror(err));
	return fail(err, static_cast<void *>(nullptr));
}

__attribute__((noinline, cold)) void free_failed(Heap *h, void *address, std::size_t size, int err) noexcept
{
	if (Allocation a; err == EINVAL && h->find(address, &a)) {
		if (a.start == address)
			LOG_WARN("emucxl_free(%p, %zu): that allocation is %zu bytes, not %zu; "
				 "nothing freed (pass its size, or 0)", address, size, a.size, size);
		else
			LOG_WARN("emucxl_free(%p, %zu): %p is inside the allocation %p+%zu, not "
				 "its start; nothing freed", address, size, address,
				 static_cast<void *>(a.start), a.size);
	} else if (err == EINVAL) {
		LOG_WARN("emucxl_free(%p, %zu): not a live allocation (never allocated, or "
			 "already freed); nothing freed", address, size);
	} else {
		LOG_WARN("emucxl_free(%p, %zu): %s; nothing freed", address, size,
			 std::strerror(err));
	}
	errno = err;
}

}  // namespace

bool Heap::owns_page(const void *addr) const noexcept
{
	return pagemap_.lookup(reinterpret_cast<std::uintptr_t>(addr)) != nullptr;
}

}  // namespace emucxl

using namespace emucxl;

extern "C" {

int emucxl_init(void) noexcept
{
	std::lock_guard lk(g_rt.mu);
	if (g_rt.refs > 0) {
		g_rt.refs++;
		return 0;
	}
	if (!g_rt.atfork) {
		// Unregistered by glibc when a dlopen()ed library is unloaded.
		if (int err = pthread_atfork(atfork_prepare, atfork_parent, atfork_child); err != 0) {
			LOG_ERROR("emucxl_init: pthread_atfork: %s", std::strerror(err));
			return fail(err, -1);
		}
		g_rt.atfork = true;
	}
	auto config = config_from_env();
	if (!config)
		return fail(config.error(), -1);
	auto driver = select_driver(config.value());
	if (!driver)
		return fail(driver.error(), -1);
	auto heap = Heap::create(std::move(driver).value());
	if (!heap)
		return fail(heap.error(), -1);

	const Topology &t = heap.value()->topology();
	static bool warned = false;  // once per process (under g_rt.mu), not per init
	if (!t.remote_is_separate && !std::exchange(warned, true))
		LOG_WARN("remote memory shares physical node %d with local memory: this machine "
			 "has no separate node for it, so nothing measured here is remote",
			 t.node[0].physical_node);
	LOG_INFO("driver %.*s: local = node %d, remote = node %d, %s",
		 static_cast<int>(heap.value()->driver().name().size()),
		 heap.value()->driver().name().data(), t.node[0].physical_node,
		 t.node[1].physical_node, t.pinned ? "pinned" : "not pinned");
	g_rt.heap.store(heap.value().release(), std::memory_order_release);
	g_rt.refs = 1;
	return 0;
}

void emucxl_exit(void) noexcept
{
	std::lock_guard lk(g_rt.mu);
	if (g_rt.refs == 0) {
		LOG_WARN("emucxl_exit: library not initialised");
		errno = ENODEV;
		return;
	}
	if (--g_rt.refs > 0)
		return;
	delete g_rt.heap.exchange(nullptr, std::memory_order_acq_rel);
}

void *emucxl_alloc(size_t size, int node) noexcept
{
	Heap *h = heap_or_enodev("emucxl_alloc");
	if (!h)
		return nullptr;
	auto r = h->alloc(size, node);
	if (__builtin_expect(r.ok(), 1))
		return r.value();
	return alloc_failed(h, size, node, r.error());
}

void emucxl_free(void *address, size_t size) noexcept
{
	Heap *h = heap_or_enodev("emucxl_free");
	if (!h)
		return;
	Status st = h->free(address, size);
	if (__builtin_expect(st.ok(), 1))
		return;
	free_failed(h, address, size, st.error());
}



void *emucxl_resize(void *address, size_t size) noexcept
{
	Heap *h = heap_or_enodev("emucxl_resize");
	if (!h)
		return nullptr;
	auto r = h->resize(address, size);
	if (r)
		return r.value();
	if (Allocation a; r.error() == ENOMEM && h->find(address, &a)) {
		char call[64];
		std::snprintf(call, sizeof(call), "emucxl_resize(%p, %zu)", address, size);
		log_no_room(*h, call, size, a.node, "; the old block is untouched");
		return fail(r.error(), static_cast<void *>(nullptr));
	}
	LOG_WARN("emucxl_resize(%p, %zu): %s; the old block is untouched", address, size,
		 r.error() == EINVAL ? "not a live allocation, or size 0" : std::strerror(r.error()));
	return fail(r.error(), static_cast<void *>(nullptr));
}

void *emucxl_migrate(void *address, int node) noexcept
{
	Heap *h = heap_or_enodev("emucxl_migrate");
	if (!h || !valid_node(node, "emucxl_migrate"))
		return nullptr;
	auto r = h->migrate(address, node);
	if (r)
		return r.value();
	if (Allocation a; r.error() == ENOMEM && h->find(address, &a)) {
		char call[64];
		std::snprintf(call, sizeof(call), "emucxl_migrate(%p, %d)", address, node);
		log_no_room(*h, call, a.size, node, "; the old block is untouched");
		return fail(r.error(), static_cast<void *>(nullptr));
	}
	LOG_WARN("emucxl_migrate(%p, %d): %s; the old block is untouched", address, node,
		 r.error() == EINVAL ? "not a live allocation" : std::strerror(r.error()));
	return fail(r.error(), static_cast<void *>(nullptr));
}

static bool lookup(void *address, Allocation *a, const char *fn)
{
	Heap *h = heap_or_enodev(fn);
	if (!h)
		return false;
	if (h->find(address, a))
		return true;
	LOG_WARN("%s(%p): not inside a live emucxl allocation", fn, address);
	errno = EINVAL;
	return false;
}

bool emucxl_is_local(void *address) noexcept
{
	Allocation a;
	return lookup(address, &a, "emucxl_is_local") && a.node == EMUCXL_LOCAL_NODE;
}

int emucxl_get_numa_node(void *address) noexcept
{
	Allocation a;
	return lookup(address, &a, "emucxl_get_numa_node") ? a.node : -1;
}

size_t emucxl_get_size(void *address) noexcept
{
	Allocation a;
	return lookup(address, &a, "emucxl_get_size") ? a.size : 0;
}

size_t emucxl_stats(int node) noexcept
{
	Heap *h = heap_or_enodev("emucxl_stats");
	if (!h || !valid_node(node, "emucxl_stats"))
		return 0;
	return h->stats(node);
}

// Copy n bytes from src to dst after checking both against their allocations.
static bool checked_move(void *dst, std::uintptr_t dst_anchor, const void *src,
			 std::uintptr_t src_anchor, size_t n, const char *fn)
{
	Heap *h = heap_or_enodev(fn);
	if (!h)
		return false;
	if (n == 0)
		return true;  // as libc: nothing to touch, so NULL is fine
	if (!dst || !src) {
		LOG_WARN("%s: NULL %s", fn, dst ? "source" : "destination");
		errno = EINVAL;
		return false;
	}
	if (check_range(*h, src_anchor, reinterpret_cast<std::uintptr_t>(src), n, fn, "source") ==
		    RangeCheck::bad ||
	    check_range(*h, dst_anchor, reinterpret_cast<std::uintptr_t>(dst), n, fn,
			"destination") == RangeCheck::bad)
		return false;
	std::memmove(dst, src, n);
	return true;
}

bool emucxl_read(void *addr, int offset, void *buf, size_t n) noexcept
{
	const auto base = reinterpret_cast<std::uintptr_t>(addr);
	auto *src = reinterpret_cast<void *>(base + static_cast<std::uintptr_t>(
							   static_cast<std::intptr_t>(offset)));
	return checked_move(buf, reinterpret_cast<std::uintptr_t>(buf), addr ? src : nullptr,
			    base, n, "emucxl_read");
}

bool emucxl_write(void *buf, int offset, void *addr, size_t n) noexcept
{
	const auto base = reinterpret_cast<std::uintptr_t>(addr);
	auto *dst = reinterpret_cast<void *>(base + static_cast<std::uintptr_t>(
							   static_cast<std::intptr_t>(offset)));
	return checked_move(addr ? dst : nullptr, base, buf, reinterpret_cast<std::uintptr_t>(buf),
			    n, "emucxl_write");
}

void *emucxl_memset(void *addr, int value, size_t n) noexcept
{
	Heap *h = heap_or_enodev("emucxl_memset");
	if (!h)
		return nullptr;
	if (n == 0)
		return addr;  // as libc: nothing to touch, so NULL is fine
	if (!addr) {
		LOG_WARN("emucxl_memset: NULL address");
		return fail(EINVAL, static_cast<void *>(nullptr));
	}
	const auto a = reinterpret_cast<std::uintptr_t>(addr);
	if (n && check_range(*h, a, a, n, "emucxl_memset", "destination") == RangeCheck::bad)
		return nullptr;
	return std::memset(addr, value, n);
}

void *emucxl_memcpy(void *dst, const void *src, size_t n) noexcept
{
	// memmove underneath: an overlapping copy is wrong in the caller, but it
	// must not corrupt memory here.
	return checked_move(dst, reinterpret_cast<std::uintptr_t>(dst), src,
			    reinterpret_cast<std::uintptr_t>(src), n, "emucxl_memcpy")
		       ? dst
		       : nullptr;
}

void *emucxl_memmove(void *dst, const void *src, size_t n) noexcept
{
	return checked_move(dst, reinterpret_cast<std::uintptr_t>(dst), src,
			    reinterpret_cast<std::uintptr_t>(src), n, "emucxl_memmove")
		       ? dst
		       : nullptr;
}

const char *emucxl_driver_name(void) noexcept
{
	Heap *h = heap_or_enodev("emucxl_driver_name");
	return h ? h->driver().name().data() : nullptr;
}

int emucxl_get_info(struct emucxl_info *info) noexcept
{
	Heap *h = heap_or_enodev("emucxl_get_info");
	if (!h)
		return -1;
	if (!info) {
		LOG_WARN("emucxl_get_info: NULL info");
		return fail(EINVAL, -1);
	}
	// The caller's struct may be older (smaller) or newer (larger) than
	// ours: write only the bytes both know, and say how many that is.
	std::uint32_t want = info->struct_size;
	if (want == 0)
		want = sizeof(*info);  // callers from before struct_size was an input
	if (want < offsetof(emucxl_info, driver)) {
		LOG_WARN("emucxl_get_info: struct_size %u is smaller than the header (%zu bytes)",
			 want, offsetof(emucxl_info, driver));
		return fail(EINVAL, -1);
	}
	const Topology &t = h->topology();
	emucxl_info mine{};
	const std::size_t n = std::min<std::size_t>(want, sizeof(mine));
	mine.struct_size = static_cast<std::uint32_t>(n);
	mine.api_version = EMUCXL_API_VERSION;
	const std::string_view name = h->driver().name();
	std::memcpy(mine.driver, name.data(), std::min(name.size(), sizeof(mine.driver) - 1));
	for (int n_ = 0; n_ < kNumNodes; n_++) {
		mine.node[n_].physical_node = t.node[n_].physical_node;
		mine.node[n_].capacity = t.node[n_].capacity;
	}
	mine.remote_is_separate = t.remote_is_separate;
	mine.pinned = t.pinned;
	std::memcpy(info, &mine, n);
	return 0;
}

int emucxl_get_usage(int node, struct emucxl_node_usage *usage) noexcept
{
	Heap *h = heap_or_enodev("emucxl_get_usage");
	if (!h || !valid_node(node, "emucxl_get_usage"))
		return -1;
	if (!usage) {
		LOG_WARN("emucxl_get_usage: NULL usage");
		return fail(EINVAL, -1);
	}
	auto u = h->driver().usage(node);
	if (!u) {
		LOG_WARN("emucxl_get_usage(%d): %s", node, std::strerror(u.error()));
		return fail(u.error(), -1);
	}
	*usage = {u->allocated, u->peak, u->capacity, u->free};
	return 0;
}

}  // extern "C"
