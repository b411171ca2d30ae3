// SPDX-License-Identifier: Apache-2.0
// queue_allocators.hpp - the three allocators the queue benchmark compares,
// behind the RawAllocator interface of queue.hpp.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <string_view>

#include <numa.h>

#include <emucxl/emucxl.h>

namespace emucxl::queue {

// emucxl on a logical node (0 local, 1 remote). Needs emucxl_init.
struct EmucxlAllocator {
	int node = EMUCXL_LOCAL_NODE;

	static constexpr std::string_view name = "emucxl";
	void *allocate(std::size_t n) const noexcept { return emucxl_alloc(n, node); }
	void deallocate(void *p, std::size_t n) const noexcept { emucxl_free(p, n); }
};

// glibc malloc: the baseline a NUMA-unaware program would use.
struct MallocAllocator {
	static constexpr std::string_view name = "malloc";
	void *allocate(std::size_t n) const noexcept { return std::malloc(n); }
	void deallocate(void *p, std::size_t) const noexcept { std::free(p); }
};

// libnuma's numa_alloc_onnode on a *physical* node: what a program would
// write without emucxl. Every call is an mmap + mbind of at least one page
// and every free a munmap, which is what the benchmark shows it costs.
struct NumaOnnodeAllocator {
	int physical_node = 0;

	static constexpr std::string_view name = "numa_alloc_onnode";
	void *allocate(std::size_t n) const noexcept { return numa_alloc_onnode(n, physical_node); }
	void deallocate(void *p, std::size_t n) const noexcept { numa_free(p, n); }
};

} // namespace emucxl::queue
