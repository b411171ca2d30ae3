// SPDX-License-Identifier: Apache-2.0
// lru_list.hpp - an intrusive doubly-linked recency list: the node type
// carries its own prev/next, so moving an item to the front or unlinking it
// is O(1) and allocates nothing. Front = most recently used, back = least.
#pragma once

#include <cassert>
#include <cstddef>

namespace emucxl::kv::detail {

template <class Node> class LruList {
public:
	LruList() = default;
	LruList(const LruList &) = delete;
	LruList &operator=(const LruList &) = delete;

	Node *front() const noexcept { return head_; }
	Node *back() const noexcept { return tail_; }
	std::size_t size() const noexcept { return size_; }
	bool empty() const noexcept { return size_ == 0; }

	void push_front(Node *n) noexcept
	{
		assert(!n->prev && !n->next);
		n->next = head_;
		if (head_)
			head_->prev = n;
		else
			tail_ = n;
		head_ = n;
		++size_;
	}

	void unlink(Node *n) noexcept
	{
		(n->prev ? n->prev->next : head_) = n->next;
		(n->next ? n->next->prev : tail_) = n->prev;
		n->prev = n->next = nullptr;
		--size_;
	}

	void move_to_front(Node *n) noexcept
	{
		if (n == head_)
			return;
		unlink(n);
		push_front(n);
	}

private:
	Node *head_ = nullptr;
	Node *tail_ = nullptr;
	std::size_t size_ = 0;
};

} // namespace emucxl::kv::detail
