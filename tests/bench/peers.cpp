// SPDX-License-Identifier: Apache-2.0
// peers.cpp - see peers.hpp.
#include "peers.hpp"

#include <dlfcn.h>
#include <memkind.h>
#include <mimalloc.h>
#include <numaif.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "emucxl/emucxl.h"

#ifndef EMUCXL_MIMALLOC_LIB
#error "EMUCXL_MIMALLOC_LIB: the path of libmimalloc.so, set by tests/CMakeLists.txt"
#endif

namespace emucxl::bench {

void *Emucxl::alloc(std::size_t n) noexcept { return emucxl_alloc(n, EMUCXL_LOCAL_NODE); }
void Emucxl::release(void *p, std::size_t n) noexcept { emucxl_free(p, n); }

void *Glibc::alloc(std::size_t n) noexcept { return std::calloc(1, n); }
void Glibc::release(void *p, std::size_t) noexcept { std::free(p); }

void *Memkind::alloc(std::size_t n) noexcept { return memkind_calloc(MEMKIND_REGULAR, 1, n); }
// Naming the kind spares memkind the lookup of the pointer's kind.
void Memkind::release(void *p, std::size_t) noexcept { memkind_free(MEMKIND_REGULAR, p); }

namespace {

// The few mimalloc entry points used, from the dlopen()ed library.
struct MiApi {
	decltype(&mi_manage_os_memory_ex) manage = nullptr;
	decltype(&mi_heap_new_in_arena) heap_new = nullptr;
	decltype(&mi_heap_zalloc) zalloc = nullptr;
	decltype(&mi_free) free = nullptr;
};
MiApi g_mi;
mi_arena_id_t g_arena{};
const char *g_arena_start = nullptr;
std::size_t g_arena_bytes = 0;
thread_local mi_heap_t *t_heap = nullptr;

// mimalloc arenas are managed in 32 MiB blocks, aligned to them: reserve
// one block more and align the start.
constexpr std::size_t kArenaAlign = std::size_t{64} << 20;  // 64 MiB, a multiple of it

template <class F> bool bind(void *lib, const char *sym, F &slot)
{
	slot = reinterpret_cast<F>(dlsym(lib, sym));
	return slot != nullptr;
}

std::string load_mimalloc()
{
	if (g_mi.free)
		return {};
	void *lib = dlopen(EMUCXL_MIMALLOC_LIB, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return std::string("dlopen " EMUCXL_MIMALLOC_LIB ": ") + dlerror();
	MiApi api;
	if (!bind(lib, "mi_manage_os_memory_ex", api.manage) || !bind(lib, "mi_heap_new_in_arena", api.heap_new) ||
	    !bind(lib, "mi_heap_zalloc", api.zalloc) || !bind(lib, "mi_free", api.free))
		return "libmimalloc lacks the arena API (mimalloc >= 2.0 needed)";
	g_mi = api;
	return {};
}

// An exclusive mimalloc arena over fresh anonymous memory bound to `node`
// (faulted in on first touch, on that node only: MPOL_BIND).
std::string make_arena(std::size_t bytes, int node, mi_arena_id_t *id, const char **start)
{
	bytes = (bytes + kArenaAlign - 1) & ~(kArenaAlign - 1);
	void *raw = mmap(nullptr, bytes + kArenaAlign, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return std::string("mmap: ") + std::strerror(errno);
	const auto a = (reinterpret_cast<std::uintptr_t>(raw) + kArenaAlign - 1) & ~(kArenaAlign - 1);
	void *region = reinterpret_cast<void *>(a);
	unsigned long mask = 1UL << node;
	if (mbind(region, bytes, MPOL_BIND, &mask, sizeof(mask) * 8, 0) != 0)
		return std::string("mbind: ") + std::strerror(errno);
	if (!g_mi.manage(region, bytes, /*is_committed=*/true, /*is_large=*/false, /*is_zero=*/true, node,
			 /*exclusive=*/true, id))
		return "mi_manage_os_memory_ex refused the region";
	*start = static_cast<const char *>(region);
	return {};
}

mi_heap_t *thread_heap() noexcept
{
	if (__builtin_expect(t_heap == nullptr, 0))
		t_heap = g_mi.heap_new(g_arena);
	return t_heap;
}

}  // namespace

std::string MiArena::setup(std::size_t arena_bytes, int node)
{
	if (std::string err = load_mimalloc(); !err.empty())
		return err;
	const char *start = nullptr;
	if (std::string err = make_arena(arena_bytes, node, &g_arena, &start); !err.empty())
		return err;
	g_arena_start = start;
	g_arena_bytes = (arena_bytes + kArenaAlign - 1) & ~(kArenaAlign - 1);
	return {};
}

void *MiArena::fresh_heap(std::size_t arena_bytes, int node)
{
	mi_arena_id_t id{};
	const char *start = nullptr;
	if (!load_mimalloc().empty() || !make_arena(arena_bytes, node, &id, &start).empty())
		return nullptr;
	return g_mi.heap_new(id);
}

void *MiArena::heap_alloc(void *heap, std::size_t n) noexcept
{
	return g_mi.zalloc(static_cast<mi_heap_t *>(heap), n);
}

void *MiArena::alloc(std::size_t n) noexcept { return g_mi.zalloc(thread_heap(), n); }
void MiArena::release(void *p, std::size_t) noexcept { g_mi.free(p); }

bool MiArena::in_arena(const void *p) noexcept
{
	const auto *c = static_cast<const char *>(p);
	return g_arena_start && c >= g_arena_start && c < g_arena_start + g_arena_bytes;
}

}  // namespace emucxl::bench
