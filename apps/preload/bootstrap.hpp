// SPDX-License-Identifier: Apache-2.0
// bootstrap.hpp - a small static arena for the few allocations that happen
// while the preload cannot serve them any other way: the ones dlsym() makes
// while it looks up the real allocator for us (dlsym may call malloc or
// calloc, which is us). Bump-only, zero-filled, never reused.
#pragma once

#include <cstddef>

namespace emucxl::preload::bootstrap {

// size bytes aligned to align (a power of two, at most 4096), zero-filled;
// nullptr when the arena is used up.
void *alloc(std::size_t size, std::size_t align) noexcept;

// Whether p points into the arena (then free is a no-op).
bool owns(const void *p) noexcept;

// The size alloc() was asked for; p must be a pointer alloc() returned.
std::size_t size_of(const void *p) noexcept;

}  // namespace emucxl::preload::bootstrap
