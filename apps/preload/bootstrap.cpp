// SPDX-License-Identifier: Apache-2.0
// bootstrap.cpp - the static arena (bootstrap.hpp).
#include "bootstrap.hpp"

#include <atomic>
#include <cstdint>

namespace emucxl::preload::bootstrap {

namespace {

constexpr std::size_t kArenaBytes = std::size_t{1} << 20;  // 1 MiB of .bss, touched only if used
constexpr std::size_t kHeader = 16;                        // size, in front of each block

alignas(4096) char g_arena[kArenaBytes];
constinit std::atomic<std::size_t> g_used{0};

}  // namespace

void *alloc(std::size_t size, std::size_t align) noexcept
{
	if (align < kHeader)
		align = kHeader;
	if (size > kArenaBytes || align > 4096)
		return nullptr;
	std::size_t used = g_used.load(std::memory_order_relaxed);
	for (;;) {
		// The block starts at the first `align` boundary after room for its header.
		const std::size_t start = (used + kHeader + align - 1) & ~(align - 1);
		const std::size_t end = (start + size + kHeader - 1) & ~(kHeader - 1);
		if (end > kArenaBytes)
			return nullptr;
		if (g_used.compare_exchange_weak(used, end, std::memory_order_relaxed)) {
			char *p = g_arena + start;
			*reinterpret_cast<std::size_t *>(p - kHeader) = size;
			return p;  // .bss, never handed out before: already zero
		}
	}
}

bool owns(const void *p) noexcept
{
	const auto a = reinterpret_cast<std::uintptr_t>(p);
	const auto base = reinterpret_cast<std::uintptr_t>(g_arena);
	return a >= base && a < base + kArenaBytes;
}

std::size_t size_of(const void *p) noexcept
{
	return *reinterpret_cast<const std::size_t *>(static_cast<const char *>(p) - kHeader);
}

}  // namespace emucxl::preload::bootstrap
