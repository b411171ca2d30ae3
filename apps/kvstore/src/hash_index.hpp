// SPDX-License-Identifier: Apache-2.0
// hash_index.hpp - the store's index: key -> Node*, open addressing with
// linear probing over a power-of-two array of {hash, Node*} slots.
//
// Why not std::unordered_map: its lookup divides by a prime bucket count and
// then chases a bucket pointer and node pointers through 100-odd-byte nodes.
// Here a lookup masks the hash, scans adjacent 16-byte slots comparing stored
// hashes, and compares one key. That was most of the store's GET overhead
// over a bare std::unordered_map (measured: a lookup ~1.4x the map's before).
//
// The index does not own the nodes, and the caller supplies every hash, so
// tests can force collisions. Deletion shifts later entries of the probe run
// back (no tombstones), so lookups never slow down as keys come and go.
#pragma once

#include <cassert>
#include <cstddef>
#include <string_view>
#include <vector>

namespace emucxl::kv::detail {

// Node needs `std::string_view key() const`.
template <class Node> class HashIndex {
public:
	Node *find(std::string_view key, std::size_t hash) const noexcept
	{
		if (slots_.empty())
			return nullptr;
		for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
			const Slot &s = slots_[i];
			if (!s.node)
				return nullptr;
			if (s.hash == hash && s.node->key() == key)
				return s.node;
		}
	}

	// Grows so that `count` keys fit; may throw std::bad_alloc, leaving the
	// index unchanged. After reserve(size() + 1), insert cannot fail.
	void reserve(std::size_t count)
	{
		std::size_t capacity = slots_.empty() ? 16 : slots_.size();
		while (count * 2 > capacity)
			capacity *= 2;
		if (capacity != slots_.size())
			rehash(capacity);
	}

	// The key must not be present. May throw std::bad_alloc (when growing),
	// leaving the index unchanged.
	void insert(Node *node, std::size_t hash)
	{
		reserve(size_ + 1);
		place(node, hash);
		++size_;
	}

	// The key must be present.
	void erase(std::string_view key, std::size_t hash) noexcept
	{
		std::size_t i = hash & mask_;
		while (!(slots_[i].hash == hash && slots_[i].node->key() == key))
			i = (i + 1) & mask_;
		// Backward shift: pull each later member of the probe run into the
		// hole unless that would move it before its own home slot.
		for (std::size_t j = (i + 1) & mask_; slots_[j].node; j = (j + 1) & mask_) {
			const std::size_t home = slots_[j].hash & mask_;
			if (((j - home) & mask_) >= ((j - i) & mask_)) {
				slots_[i] = slots_[j];
				i = j;
			}
		}
		slots_[i] = Slot{};
		--size_;
	}

	std::size_t size() const noexcept { return size_; }

	template <class F> void for_each(F &&visit) const
	{
		for (const Slot &s : slots_)
			if (s.node)
				visit(s.node);
	}

private:
	struct Slot {
		std::size_t hash = 0;
		Node *node = nullptr; // nullptr: empty
	};

	void place(Node *node, std::size_t hash) noexcept
	{
		std::size_t i = hash & mask_;
		while (slots_[i].node)
			i = (i + 1) & mask_;
		slots_[i] = Slot{hash, node};
	}

	void rehash(std::size_t capacity)
	{
		assert((capacity & (capacity - 1)) == 0);
		std::vector<Slot> old(capacity); // may throw; nothing changed yet
		old.swap(slots_);
		mask_ = capacity - 1;
		for (const Slot &s : old)
			if (s.node)
				place(s.node, s.hash);
	}

	std::vector<Slot> slots_; // size 0 or a power of two, at most half full
	std::size_t mask_ = 0;    // slots_.size() - 1
	std::size_t size_ = 0;
};

} // namespace emucxl::kv::detail
