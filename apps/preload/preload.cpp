// SPDX-License-Identifier: Apache-2.0
// preload.cpp - libemucxl-preload.so: the malloc family served from emucxl's
// public API, so that an unmodified program runs with its heap on the node a
// policy chooses (`emucxlctl run`, README "Transparent mode").
//
// Who serves a call:
//   - emucxl (emucxl_alloc on the node the policy picks) once the
//     constructor has initialised the library: phase kReady;
//   - the real allocator (dlsym(RTLD_NEXT)) before that (what the dynamic
//     loader and other libraries' constructors allocate), when emucxl
//     itself allocates (its bookkeeping reaches malloc again: t_depth > 0),
//     and in a forked child (emucxl memory is not inherited across fork, and
//     a child usually execs soon, where the preload starts afresh);
//   - the bootstrap arena while dlsym looks the real allocator up.
// free/realloc tell them apart by asking emucxl (emucxl_get_numa_node):
// what emucxl does not know is the real allocator's, the "foreign"
// pointers. Aligned blocks beyond 16 bytes are carved from a larger emucxl
// block, with a header in front that only emucxl_read's bounds check lets
// us read (so a header is never trusted for a pointer that starts a block).
#include <emucxl/emucxl.h>
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <fcntl.h>

#include "bootstrap.hpp"
#include "counters.hpp"
#include "fork.hpp"
#include "policy.hpp"
#include "real.hpp"

using namespace emucxl::preload;

namespace {

enum Phase : int {
	kBoot,     // before the constructor: the real allocator
	kIniting,  // the constructor is initialising emucxl: the real allocator
	kReady,    // emucxl
	kChild,    // a forked child: the real allocator for new blocks
};

constinit std::atomic<int> g_phase{kBoot};
constinit Policy g_policy{};
constinit bool g_account = false;  // counters kept (the policy or the report needs them)
constinit int g_report_fd = -1;    // report at exit, or -1
constinit pid_t g_pid = 0;         // the process that initialised
constinit std::atomic<bool> g_aligned_used{false};  // an aligned block has a header
constinit std::atomic<bool> g_warned_full{false};
constinit Counters g_c{};

// Depth of calls into emucxl (and of the constructor) on this thread:
// allocations made meanwhile are emucxl's own and go to the real allocator.
// initial-exec: the preload is loaded at startup, and a dynamic TLS access
// could itself call malloc.
constinit thread_local int t_depth __attribute__((tls_model("initial-exec"))) = 0;

struct InEmucxl {
	InEmucxl() noexcept { ++t_depth; }
	~InEmucxl() { --t_depth; }
	InEmucxl(const InEmucxl &) = delete;
	InEmucxl &operator=(const InEmucxl &) = delete;
};

void say(const char *msg) noexcept
{
	ssize_t w = write(STDERR_FILENO, msg, std::strlen(msg));
	(void)w;
}

inline bool on_emucxl() noexcept
{
	return g_phase.load(std::memory_order_acquire) == kReady && t_depth == 0;
}

// ---- the real allocator and the bootstrap arena ---------------------------

void *foreign_alloc(std::size_t size, std::size_t align, bool zero) noexcept
{
	const RealAllocator *r = real_allocator();
	void *p;
	if (!r)
		p = bootstrap::alloc(size ? size : 1, align);
	else if (align > 16)
		p = r->memalign(align, size);
	else
		p = zero ? r->calloc(1, size) : r->malloc(size);
	if (p)
		g_c.foreign_allocations.fetch_add(1, std::memory_order_relaxed);
	return p;
}

void foreign_free(void *p) noexcept
{
	if (const RealAllocator *r = real_allocator()) {
		g_c.foreign_frees.fetch_add(1, std::memory_order_relaxed);
		r->free(p);
	}
	// else: only while dlsym runs on another thread; leaking is harmless
}

std::size_t foreign_usable(void *p) noexcept
{
	const RealAllocator *r = real_allocator();
	return r && r->usable_size ? r->usable_size(p) : 0;
}

// ---- emucxl ----------------------------------------------------------------

struct alignas(16) AlignedHeader {
	std::uintptr_t tag;  // kAlignedMagic ^ base ^ the aligned pointer
	char *base;          // the emucxl block it was carved from
};
constexpr std::uintptr_t kAlignedMagic = 0x656d7563786c616cULL;  // "emucxlal"

int query_node(void *p) noexcept
{
	InEmucxl in;
	return emucxl_get_numa_node(p);
}

// The emucxl block an aligned pointer was carved from, or nullptr when p is
// not such a pointer. p must lie in a live emucxl allocation. emucxl_read
// anchored at p refuses a range that starts before p's allocation, so the
// header is read only when p - 16 lies in the same block as p: a pointer
// that starts its own block is never mistaken for one, and nothing but p's
// own allocation is looked up (a neighbour may be freed by another thread).
char *aligned_base(void *p) noexcept
{
	if (!g_aligned_used.load(std::memory_order_relaxed) ||
	    (reinterpret_cast<std::uintptr_t>(p) & 31) != 0)
		return nullptr;
	AlignedHeader h;
	{
		InEmucxl in;
		if (!emucxl_read(p, -static_cast<int>(sizeof(AlignedHeader)), &h, sizeof(h)))
			return nullptr;
	}
	const auto a = reinterpret_cast<std::uintptr_t>(p);
	if (h.tag != (kAlignedMagic ^ reinterpret_cast<std::uintptr_t>(h.base) ^ a) ||
	    h.base >= static_cast<char *>(p))
		return nullptr;
	return h.base;
}

int choose_node(std::size_t size) noexcept
{
	switch (g_policy.kind) {
	case Kind::node:
		return g_policy.node;
	case Kind::min_size:
		return size >= g_policy.limit ? 1 : 0;
	case Kind::local_limit: {
		const auto live = static_cast<std::uint64_t>(
			g_c.node[0].live.load(std::memory_order_relaxed));
		return live + size <= g_policy.limit ? 0 : 1;
	}
	case Kind::interleave: {
		// The node whose share of the bytes placed so far is behind its weight.
		const unsigned __int128 l = g_c.node[0].placed.load(std::memory_order_relaxed);
		const unsigned __int128 r = g_c.node[1].placed.load(std::memory_order_relaxed);
		return l * g_policy.weight_remote <= r * g_policy.weight_local ? 0 : 1;
	}
	}
	return 1;
}

void warn_remote_full() noexcept
{
	if (!g_warned_full.exchange(true, std::memory_order_relaxed))
		say("emucxl-preload: warning: the remote node is full; placing on local memory "
		    "instead (EMUCXL_PRELOAD_ON_FULL=fallback; the report counts each one)\n");
}

// size bytes on `node`, falling back to local when remote is full and the
// policy says so. Counts it. NULL + ENOMEM on failure.
void *place_on(int node, std::size_t size) noexcept
{
	if (size == 0)
		size = 1;  // malloc(0): a unique pointer
	void *p;
	{
		InEmucxl in;
		p = emucxl_alloc(size, node);
		if (!p && node == EMUCXL_REMOTE_NODE && g_policy.fallback && errno == ENOMEM) {
			p = emucxl_alloc(size, EMUCXL_LOCAL_NODE);
			if (p) {
				g_c.fallbacks.fetch_add(1, std::memory_order_relaxed);
				warn_remote_full();
				node = EMUCXL_LOCAL_NODE;
			}
		}
	}
	if (!p) {
		g_c.failures.fetch_add(1, std::memory_order_relaxed);
		errno = ENOMEM;
		return nullptr;
	}
	if (g_account)
		g_c.placed(node, size);
	return p;
}

void *place(std::size_t size) noexcept
{
	return place_on(choose_node(size), size);
}

// Free an emucxl block (base is the pointer emucxl_alloc returned).
void release(char *base, int node) noexcept
{
	InEmucxl in;
	if (g_account)
		g_c.freed(node, emucxl_get_size(base));
	emucxl_free(base, 0);
}

void *place_aligned(std::size_t align, std::size_t size) noexcept
{
	if (align <= 16)
		return place(size);
	if (size == 0)
		size = 1;
	// Large blocks are whole driver extents, page aligned: try that first.
	if (size > (std::size_t{32} << 10) && align <= 4096) {
		void *p = place(size);
		if (!p || (reinterpret_cast<std::uintptr_t>(p) & (align - 1)) == 0)
			return p;
		release(static_cast<char *>(p), query_node(p));
	}
	if (size > SIZE_MAX - align) {
		errno = ENOMEM;
		return nullptr;
	}
	// The aligned pointer lies at least one header and at most `align`
	// bytes past a 16-byte aligned base.
	auto *base = static_cast<char *>(place(size + align));
	if (!base)
		return nullptr;
	const auto b = reinterpret_cast<std::uintptr_t>(base);
	const std::uintptr_t a = (b + sizeof(AlignedHeader) + align - 1) & ~(align - 1);
	const AlignedHeader h{kAlignedMagic ^ b ^ a, base};
	g_aligned_used.store(true, std::memory_order_relaxed);
	std::memcpy(reinterpret_cast<void *>(a - sizeof(AlignedHeader)), &h, sizeof(h));
	return reinterpret_cast<void *>(a);
}

// ---- a forked child ----------------------------------------------------------

bool mapped(void *p) noexcept
{
	const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
	unsigned char vec = 0;
	return mincore(reinterpret_cast<void *>(reinterpret_cast<std::uintptr_t>(p) & ~(page - 1)),
		       1, &vec) == 0;
}

// In a child: p is a block the parent had on emucxl (a copy inherited
// through fork.cpp, or not mapped at all), not the real allocator's. Such
// blocks are never handed to the real allocator; *room bounds a copy.
bool parent_emucxl(void *p, std::size_t *room) noexcept
{
	if (forking::inherited(p, room))
		return true;
	*room = 0;
	return query_node(p) >= 0 || !mapped(p);
}

[[noreturn]] void child_lost(const char *fn) noexcept
{
	char msg[256];
	std::snprintf(msg, sizeof(msg),
		      "emucxl-preload: %s() in a forked child of a block the parent placed on "
		      "emucxl in a mapping a child does not inherit (kmod, cuse): its contents "
		      "are gone\n",
		      fn);
	say(msg);
	abort();
}

// Whether a mapping starting at addr holds emucxl memory: a live block
// there, or emucxl's bounds check refusing it (its page, no live block).
bool mapping_is_emucxl(void *addr) noexcept
{
	InEmucxl in;
	if (emucxl_get_numa_node(addr) >= 0)
		return true;
	unsigned char byte;
	errno = 0;
	if (emucxl_read(addr, 0, &byte, 1))
		return false;  // ordinary memory
	return errno == EINVAL;
}

// ---- fork and init -------------------------------------------------------------

// Only a process that placed its heap on emucxl lifts DONTFORK; a child
// (phase kChild) keeps the ranges it inherited for its own children.
constinit thread_local bool t_forking __attribute__((tls_model("initial-exec"))) = false;

void on_fork_prepare() noexcept
{
	if (g_phase.load(std::memory_order_acquire) != kReady)
		return;
	t_forking = true;
	forking::prepare(mapping_is_emucxl);
}

void on_fork_parent() noexcept
{
	if (std::exchange(t_forking, false))
		forking::parent();
}

void on_fork_child() noexcept
{
	if (std::exchange(t_forking, false))
		forking::child();
	int expected = kReady;
	(void)g_phase.compare_exchange_strong(expected, kChild);
}

void open_report() noexcept
{
	const char *r = std::getenv(kEnvReport);
	if (!r || !*r)
		return;
	if (std::strcmp(r, "stderr") == 0 || std::strcmp(r, "1") == 0) {
		g_report_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
		if (g_report_fd < 0)
			g_report_fd = STDERR_FILENO;
		return;
	}
	g_report_fd = open(r, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (g_report_fd < 0) {
		char msg[512];
		std::snprintf(msg, sizeof(msg), "emucxl-preload: %s=%s: cannot open: %s\n",
			      kEnvReport, r, std::strerror(errno));
		say(msg);
		_exit(2);
	}
}

__attribute__((constructor)) void preload_init() noexcept
{
	InEmucxl in;  // what we allocate here is ours, on the real allocator
	int expected = kBoot;
	if (!g_phase.compare_exchange_strong(expected, kIniting))
		return;
	char err[256];
	if (!policy_from_env(&g_policy, err, sizeof(err))) {
		char msg[320];
		std::snprintf(msg, sizeof(msg), "emucxl-preload: %s\n", err);
		say(msg);
		_exit(2);  // as `emucxlctl run` does for a bad policy
	}
	open_report();
	g_account = g_report_fd >= 0 || g_policy.kind == Kind::local_limit ||
		    g_policy.kind == Kind::interleave;

	// Every free of a foreign pointer asks emucxl about it, which logs at
	// warn level: unless the user chose a level, keep emucxl to errors.
	const bool quiet = std::getenv("EMUCXL_LOG") == nullptr;
	if (quiet)
		(void)setenv("EMUCXL_LOG", "error", 0);
	const int rc = emucxl_init();
	const int e = errno;
	if (quiet)
		(void)unsetenv("EMUCXL_LOG");
	if (rc != 0) {
		char msg[256];
		std::snprintf(msg, sizeof(msg),
			      "emucxl-preload: emucxl_init failed: %s; not running the program on "
			      "unplaced memory\n", std::strerror(e));
		say(msg);
		_exit(1);
	}
	g_pid = getpid();
	(void)pthread_atfork(on_fork_prepare, on_fork_parent, on_fork_child);
	g_phase.store(kReady, std::memory_order_release);
}

__attribute__((destructor)) void preload_fini() noexcept
{
	if (g_report_fd < 0 || g_phase.load(std::memory_order_acquire) != kReady ||
	    getpid() != g_pid)
		return;
	InEmucxl in;
	emucxl_info info{};
	const bool have_info = emucxl_get_info(&info) == 0;
	write_report(g_report_fd, g_c, g_policy, have_info ? info.driver : "?",
		     have_info && info.remote_is_separate);
}

}  // namespace

// ---- the malloc family ------------------------------------------------------------

#define PRELOAD_API extern "C" __attribute__((visibility("default")))
// The in-process test build (tests/CMakeLists.txt) compiles this file into a
// test program under other names, so that sanitizers, whose own malloc the
// program keeps, still see every path here.
#ifdef EMUCXL_PRELOAD_TEST_NAMES
#define FN(name) emucxl_test_##name
#else
#define FN(name) name
#endif

PRELOAD_API void *FN(malloc)(size_t size) noexcept
{
	if (__builtin_expect(on_emucxl(), 1))
		return place(size);
	return foreign_alloc(size, 0, false);
}

PRELOAD_API void *FN(calloc)(size_t n, size_t size) noexcept
{
	size_t bytes;
	if (__builtin_mul_overflow(n, size, &bytes)) {
		errno = ENOMEM;
		return nullptr;
	}
	if (__builtin_expect(on_emucxl(), 1))
		return place(bytes);  // emucxl_alloc zero-fills
	return foreign_alloc(bytes, 0, true);
}

PRELOAD_API void FN(free)(void *p) noexcept
{
	if (!p || bootstrap::owns(p))
		return;
	const int saved = errno;  // free() leaves errno alone
	const int phase = g_phase.load(std::memory_order_acquire);
	if (phase == kReady && t_depth == 0) {
		const int node = query_node(p);
		if (node >= 0) {
			char *base = aligned_base(p);
			release(base ? base : static_cast<char *>(p), node);
		} else {
			foreign_free(p);
		}
	} else if (phase == kChild && t_depth == 0) {
		std::size_t room;
		if (parent_emucxl(p, &room))
			g_c.child_dropped.fetch_add(1, std::memory_order_relaxed);
		else
			foreign_free(p);
	} else {
		foreign_free(p);
	}
	errno = saved;
}

PRELOAD_API void *FN(realloc)(void *p, size_t size) noexcept
{
	if (!p)
		return FN(malloc)(size);
	if (size == 0) {  // glibc: free and return NULL
		FN(free)(p);
		return nullptr;
	}
	if (bootstrap::owns(p)) {
		void *q = FN(malloc)(size);
		if (q)
			std::memcpy(q, p, std::min(size, bootstrap::size_of(p)));
		return q;
	}
	const int phase = g_phase.load(std::memory_order_acquire);
	if (phase == kChild && t_depth == 0) {
		std::size_t room;
		if (!parent_emucxl(p, &room)) {
			const RealAllocator *r = real_allocator();
			return r ? r->realloc(p, size) : nullptr;
		}
		if (!room && !mapped(p))
			child_lost("realloc");
		// The parent's block: copy it to the real allocator, leave it alone.
		std::size_t old;
		{
			InEmucxl in;
			old = emucxl_get_size(p);  // 0 if the library no longer knows it
		}
		if (!old || (room && old > room))
			old = room;
		void *q = foreign_alloc(size, 0, false);
		if (q)
			std::memcpy(q, p, std::min(size, old));
		return q;
	}
	if (phase != kReady || t_depth != 0) {
		const RealAllocator *r = real_allocator();
		return r ? r->realloc(p, size) : nullptr;
	}

	const int node = query_node(p);
	if (node < 0) {  // the real allocator's: move it onto emucxl
		const std::size_t old = foreign_usable(p);
		if (!old) {
			const RealAllocator *r = real_allocator();
			return r ? r->realloc(p, size) : nullptr;
		}
		void *q = place(size);
		if (!q)
			return nullptr;
		std::memcpy(q, p, std::min(size, old));
		foreign_free(p);
		return q;
	}
	if (char *base = aligned_base(p)) {
		std::size_t old;
		{
			InEmucxl in;
			old = emucxl_get_size(base) - static_cast<std::size_t>(static_cast<char *>(p) - base);
		}
		void *q = place(size);
		if (!q)
			return nullptr;
		std::memcpy(q, p, std::min(size, old));
		release(base, node);
		return q;
	}

	std::size_t old;
	{
		InEmucxl in;
		old = emucxl_get_size(p);
	}
	// Where the new size belongs; a block only moves when the policy says
	// it no longer fits where it is.
	int want = node;
	if (g_policy.kind == Kind::min_size)
		want = size >= g_policy.limit ? 1 : 0;
	else if (g_policy.kind == Kind::local_limit && node == 0 && size > old &&
		 static_cast<std::uint64_t>(g_c.node[0].live.load(std::memory_order_relaxed)) +
				 (size - old) > g_policy.limit)
		want = 1;
	if (want == node) {
		void *q;
		{
			InEmucxl in;
			q = emucxl_resize(p, size);
		}
		if (q) {
			if (g_account) {
				g_c.grow(node, static_cast<std::int64_t>(size) - static_cast<std::int64_t>(old));
				if (size > old)
					g_c.node[node].placed.fetch_add(size - old, std::memory_order_relaxed);
			}
			return q;
		}
		if (errno != ENOMEM || node != EMUCXL_REMOTE_NODE || !g_policy.fallback) {
			g_c.failures.fetch_add(1, std::memory_order_relaxed);
			errno = ENOMEM;
			return nullptr;
		}
	}
	// Move: a new block (place_on falls back to local if remote is full).
	void *q = place_on(want, size);
	if (!q)
		return nullptr;
	std::memcpy(q, p, std::min(size, old));
	release(static_cast<char *>(p), node);
	return q;
}

PRELOAD_API void *FN(reallocarray)(void *p, size_t n, size_t size) noexcept
{
	size_t bytes;
	if (__builtin_mul_overflow(n, size, &bytes)) {
		errno = ENOMEM;
		return nullptr;
	}
	return FN(realloc)(p, bytes);
}

namespace {

bool power_of_two(size_t v)
{
	return v && (v & (v - 1)) == 0;
}

void *aligned(size_t align, size_t size) noexcept
{
	if (__builtin_expect(on_emucxl(), 1))
		return place_aligned(align, size);
	return foreign_alloc(size, align, false);
}

}  // namespace

PRELOAD_API int FN(posix_memalign)(void **out, size_t align, size_t size) noexcept
{
	if (!power_of_two(align) || align % sizeof(void *) != 0)
		return EINVAL;
	const int saved = errno;
	void *p = aligned(align, size);
	errno = saved;  // posix_memalign reports through its result only
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

PRELOAD_API void *FN(aligned_alloc)(size_t align, size_t size) noexcept
{
	if (!power_of_two(align)) {
		errno = EINVAL;
		return nullptr;
	}
	return aligned(align, size);
}

PRELOAD_API void *FN(memalign)(size_t align, size_t size) noexcept
{
	if (align > (SIZE_MAX >> 1) + 1) {
		errno = EINVAL;
		return nullptr;
	}
	size_t a = 1;
	while (a < align)
		a <<= 1;  // glibc rounds a non-power of two up
	return aligned(a, size);
}

PRELOAD_API void *FN(valloc)(size_t size) noexcept
{
	return aligned(static_cast<size_t>(sysconf(_SC_PAGESIZE)), size);
}

PRELOAD_API void *FN(pvalloc)(size_t size) noexcept
{
	const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
	if (size > SIZE_MAX - page) {
		errno = ENOMEM;
		return nullptr;
	}
	return aligned(page, (size + page - 1) & ~(page - 1));
}

PRELOAD_API size_t FN(malloc_usable_size)(void *p) noexcept
{
	if (!p)
		return 0;
	if (bootstrap::owns(p))
		return bootstrap::size_of(p);
	const int saved = errno;
	size_t n = 0;
	const int phase = g_phase.load(std::memory_order_acquire);
	if (phase == kReady && t_depth == 0 && query_node(p) >= 0) {
		InEmucxl in;
		if (char *base = aligned_base(p))
			n = emucxl_get_size(base) - static_cast<size_t>(static_cast<char *>(p) - base);
		else
			n = emucxl_get_size(p);
	} else if (std::size_t room; phase == kChild && t_depth == 0 && parent_emucxl(p, &room)) {
		InEmucxl in;
		n = room || mapped(p) ? emucxl_get_size(p) : 0;
		if (room && n > room)
			n = room;
	} else {
		n = foreign_usable(p);
	}
	errno = saved;
	return n;
}
