// SPDX-License-Identifier: Apache-2.0
// real.hpp - the allocator the preload stands in front of (glibc's, or
// whatever comes next in the lookup order), found with dlsym(RTLD_NEXT).
// It serves what the preload cannot put on emucxl: allocations made before
// the preload's constructor ran, emucxl's own bookkeeping (its internal
// new/delete reach malloc again), and everything in a forked child.
#pragma once

#include <cstddef>

namespace emucxl::preload {

struct RealAllocator {
	void *(*malloc)(std::size_t);
	void (*free)(void *);
	void *(*calloc)(std::size_t, std::size_t);
	void *(*realloc)(void *, std::size_t);
	void *(*memalign)(std::size_t, std::size_t);
	std::size_t (*usable_size)(void *);  // may be null: not every allocator has it
};

// The real allocator, or nullptr while it is being looked up (dlsym calls
// malloc itself: those calls get the bootstrap arena).
const RealAllocator *real_allocator() noexcept;

}  // namespace emucxl::preload
