// SPDX-License-Identifier: Apache-2.0
// peers.hpp - the allocators alloc_bench compares emucxl with, behind one
// interface: zeroed memory (emucxl zero-fills, so the peers must too), a
// free that is told the size, and the node every one of them is bound to.
//
//   Emucxl   emucxl_alloc / emucxl_free on logical node 0 (mbind driver here)
//   Glibc    calloc / free: the floor, no placement at all
//   MiArena  a mimalloc heap confined to an exclusive arena over an
//            mmap + mbind(MPOL_BIND, node 0) region
//   Memkind  memkind_calloc / memkind_free with MEMKIND_REGULAR (jemalloc
//            arenas mbind()-bound to the nodes that have CPUs: node 0 here)
//
// mimalloc is reached through dlopen(RTLD_LOCAL): Debian's libmimalloc.so
// exports malloc/free, and linking it would quietly replace glibc for the
// whole process, the "glibc" column and emucxl's own metadata included.
#pragma once

#include <cstddef>
#include <string>

namespace emucxl::bench {

struct Emucxl {
	static constexpr const char *name = "emucxl";
	static void *alloc(std::size_t n) noexcept;
	static void release(void *p, std::size_t n) noexcept;
};

struct Glibc {
	static constexpr const char *name = "glibc";
	static void *alloc(std::size_t n) noexcept;
	static void release(void *p, std::size_t n) noexcept;
};

struct MiArena {
	static constexpr const char *name = "mimalloc-arena";
	// The calling thread's heap in the shared arena (created on first use).
	static void *alloc(std::size_t n) noexcept;
	static void release(void *p, std::size_t n) noexcept;
	// Load libmimalloc and make the benchmarks' arena; "" or why not.
	static std::string setup(std::size_t arena_bytes, int node);
	// A heap of its own, in an arena of its own: the resident-memory
	// measurement needs memory no earlier benchmark has touched.
	static void *fresh_heap(std::size_t arena_bytes, int node);
	static void *heap_alloc(void *heap, std::size_t n) noexcept;
	// Whether p lies in the benchmarks' arena (checked once: proves the
	// heap really is confined to the node-bound region).
	static bool in_arena(const void *p) noexcept;
};

struct Memkind {
	static constexpr const char *name = "memkind";
	static void *alloc(std::size_t n) noexcept;
	static void release(void *p, std::size_t n) noexcept;
};

}  // namespace emucxl::bench
