// SPDX-License-Identifier: Apache-2.0
// pagemap.hpp - address -> block descriptor in O(1), for interior pointers.
//
// A three-level radix tree over the 48-bit user address space at page
// granularity (12 + 12 + 12 bits of page number). Every page of every live
// block points at its descriptor, so any address inside an allocation finds
// it with three dependent loads and no lock. Nodes are created on demand and
// kept until the pagemap is destroyed; entries are atomic so lookups may run
// concurrently with registration of other blocks.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>

#include "size_classes.hpp"

namespace emucxl {

template <class T>
class PageMap {
public:
	static constexpr unsigned kBits = 12;
	static constexpr std::size_t kFanout = std::size_t{1} << kBits;  // 4096 entries, 32 KiB a node
	static constexpr unsigned kAddrBits = 48;

	PageMap() = default;
	PageMap(const PageMap &) = delete;
	PageMap &operator=(const PageMap &) = delete;
	~PageMap()
	{
		for (auto &l2 : root_) {
			Mid *mid = l2.load(std::memory_order_relaxed);
			if (!mid)
				continue;
			for (auto &leaf : mid->leaves)
				delete leaf.load(std::memory_order_relaxed);
			delete mid;
		}
	}

	// The descriptor of the page holding addr, or nullptr.
	T *lookup(std::uintptr_t addr) const noexcept
	{
		if (addr >> kAddrBits)
			return nullptr;
		const std::uintptr_t pn = addr >> kPageShift;
		const Mid *mid = root_[pn >> (2 * kBits)].load(std::memory_order_acquire);
		if (!mid)
			return nullptr;
		const Leaf *leaf = mid->leaves[(pn >> kBits) & (kFanout - 1)].load(std::memory_order_acquire);
		if (!leaf)
			return nullptr;
		return leaf->entry[pn & (kFanout - 1)].load(std::memory_order_acquire);
	}

	// Point every page of [addr, addr + len) at v (nullptr to clear).
	// Returns false, having set nothing, only when a node cannot be allocated
	// or the range lies outside the 48-bit address space.
	bool set(std::uintptr_t addr, std::size_t len, T *v) noexcept
	{
		if (len == 0 || ((addr + len - 1) >> kAddrBits))
			return false;
		const std::uintptr_t first = addr >> kPageShift;
		const std::uintptr_t last = (addr + len - 1) >> kPageShift;
		for (std::uintptr_t pn = first; pn <= last; ++pn)  // create all nodes first
			if (v && !leaf_for(pn))
				return false;
		for (std::uintptr_t pn = first; pn <= last; ++pn) {
			Leaf *leaf = v ? leaf_for(pn) : existing_leaf(pn);
			if (leaf)
				leaf->entry[pn & (kFanout - 1)].store(v, std::memory_order_release);
		}
		return true;
	}

private:
	struct Leaf {
		std::array<std::atomic<T *>, kFanout> entry{};
	};
	struct Mid {
		std::array<std::atomic<Leaf *>, kFanout> leaves{};
	};

	Leaf *existing_leaf(std::uintptr_t pn) const noexcept
	{
		Mid *mid = root_[pn >> (2 * kBits)].load(std::memory_order_acquire);
		return mid ? mid->leaves[(pn >> kBits) & (kFanout - 1)].load(std::memory_order_acquire)
			   : nullptr;
	}

	template <class Node, class Slot>
	static Node *get_or_create(Slot &slot) noexcept
	{
		Node *n = slot.load(std::memory_order_acquire);
		if (n)
			return n;
		auto *fresh = new (std::nothrow) Node();
		if (!fresh)
			return nullptr;
		if (slot.compare_exchange_strong(n, fresh, std::memory_order_acq_rel))
			return fresh;
		delete fresh;  // another thread installed one first
		return n;
	}

	Leaf *leaf_for(std::uintptr_t pn) noexcept
	{
		Mid *mid = get_or_create<Mid>(root_[pn >> (2 * kBits)]);
		if (!mid)
			return nullptr;
		return get_or_create<Leaf>(mid->leaves[(pn >> kBits) & (kFanout - 1)]);
	}

	std::array<std::atomic<Mid *>, kFanout> root_{};
};

}  // namespace emucxl
