// SPDX-License-Identifier: Apache-2.0
// queue.hpp - the EmuCXL paper's direct-access application: a FIFO queue
// whose control block and every node are allocated from one allocator, one
// allocation per enqueue and one free per dequeue.
//
// The queue is generic over a raw allocator so that the benchmark can run the
// very same code on emucxl (local or remote), glibc malloc and libnuma's
// numa_alloc_onnode in one process; only the allocator differs between the
// numbers it compares. Allocators live in queue_allocators.hpp.
#pragma once

#include <concepts>
#include <cstddef>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

namespace emucxl::queue {

// What the queue needs from an allocator: raw bytes, nullptr on failure, and
// a free that is told the size (emucxl_free and numa_free take it).
template <class A>
concept RawAllocator = std::copy_constructible<A> && requires(A a, void *p, std::size_t n) {
	{ a.allocate(n) } -> std::same_as<void *>;
	{ a.deallocate(p, n) } noexcept;
};

template <class T, RawAllocator Alloc>
	requires std::is_trivially_copyable_v<T>
class Queue {
	// Node and control block as in the paper's C code: the queue's whole state
	// lives in allocator memory, none of it in this object except the pointers
	// to it, so "a queue on node 1" really is all on node 1.
	struct Node {
		T value;
		Node *next;
	};
	struct Control {
		Node *front; // dequeue end; nullptr when empty
		Node *rear;  // enqueue end
		std::size_t size;
	};

public:
	// Throws std::bad_alloc when the allocator cannot provide the control block.
	explicit Queue(Alloc alloc) : alloc_(std::move(alloc))
	{
		void *p = alloc_.allocate(sizeof(Control));
		if (!p)
			throw std::bad_alloc();
		ctl_ = std::construct_at(static_cast<Control *>(p), Control{nullptr, nullptr, 0});
	}
	~Queue()
	{
		while (pop())
			;
		alloc_.deallocate(ctl_, sizeof(Control));
	}
	Queue(const Queue &) = delete;
	Queue &operator=(const Queue &) = delete;

	// Enqueue: one allocation. false (queue unchanged) when it fails.
	[[nodiscard]] bool push(const T &value) noexcept
	{
		void *p = alloc_.allocate(sizeof(Node));
		if (!p)
			return false;
		Node *n = std::construct_at(static_cast<Node *>(p), Node{value, nullptr});
		if (ctl_->rear)
			ctl_->rear->next = n;
		else
			ctl_->front = n;
		ctl_->rear = n;
		++ctl_->size;
		return true;
	}

	// Dequeue: one free. nullopt when empty.
	std::optional<T> pop() noexcept
	{
		Node *n = ctl_->front;
		if (!n)
			return std::nullopt;
		T value = n->value;
		ctl_->front = n->next;
		if (!ctl_->front)
			ctl_->rear = nullptr;
		--ctl_->size;
		alloc_.deallocate(n, sizeof(Node));
		return value;
	}

	std::size_t size() const noexcept { return ctl_->size; }
	bool empty() const noexcept { return ctl_->size == 0; }

	// Where the state lives, so tests can check placement.
	const void *control_block() const noexcept { return ctl_; }
	template <class F> void for_each_node(F &&visit) const
	{
		for (const Node *n = ctl_->front; n; n = n->next)
			visit(static_cast<const void *>(n));
	}

	static constexpr std::size_t node_size = sizeof(Node);

private:
	Alloc alloc_;
	Control *ctl_ = nullptr;
};

} // namespace emucxl::queue
