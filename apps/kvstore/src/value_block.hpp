// SPDX-License-Identifier: Apache-2.0
// value_block.hpp - an item's value bytes in emucxl memory on its tier.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <span>
#include <utility>

#include <emucxl/emucxl.h>
#include <emucxl/kv.hpp>

namespace emucxl::kv::detail {

inline constexpr std::size_t block_step = 16; // bytes

// Value blocks come in 16-byte steps (never empty, so even an empty value has
// memory on its tier). The rounding is what lets two values of similar length
// trade tiers through the blocks they already have (see swap_contents),
// instead of two allocations and two frees per promotion.
inline constexpr std::size_t block_capacity(std::size_t value_size) noexcept
{
	return std::max(block_step, (value_size + block_step - 1) / block_step * block_step);
}

// Exchanges the contents of two blocks of the same capacity, up to the
// first n bytes rounded up to whole 16-byte steps (still inside both blocks).
// Fixed-size steps compile to a few vector moves instead of memcpy calls.
inline void swap_contents(void *a, void *b, std::size_t n) noexcept
{
	auto *pa = static_cast<std::byte *>(a);
	auto *pb = static_cast<std::byte *>(b);
	for (std::size_t off = 0; off < n; off += block_step) {
		std::byte tmp[block_step];
		std::memcpy(tmp, pa + off, block_step);
		std::memcpy(pa + off, pb + off, block_step);
		std::memcpy(pb + off, tmp, block_step);
	}
}

// Owns one emucxl block until release(); PUT and promotion build new values
// in one, so that a failure after the allocation frees it automatically.
class ValueBlock {
public:
	// Allocates on `tier` and copies `bytes` in; false when emucxl has no room.
	ValueBlock(std::span<const std::byte> bytes, Tier tier)
		: capacity_(block_capacity(bytes.size())), p_(emucxl_alloc(capacity_, static_cast<int>(tier)))
	{
		if (p_ && !bytes.empty())
			std::memcpy(p_, bytes.data(), bytes.size());
	}
	~ValueBlock()
	{
		if (p_)
			emucxl_free(p_, capacity_);
	}
	ValueBlock(const ValueBlock &) = delete;
	ValueBlock &operator=(const ValueBlock &) = delete;

	explicit operator bool() const noexcept { return p_ != nullptr; }
	std::size_t capacity() const noexcept { return capacity_; }
	void *release() noexcept { return std::exchange(p_, nullptr); }

private:
	std::size_t capacity_; // bytes of the block
	void *p_;
};

} // namespace emucxl::kv::detail
