// SPDX-License-Identifier: Apache-2.0
// Queue semantics: FIFO order, one allocation per enqueue and one free per
// dequeue, and every byte of the queue on the node it was created for.
#include <cerrno>
#include <cstddef>
#include <vector>

#include <gtest/gtest.h>

#include <emucxl/emucxl.h>
#include <emucxl/queue.hpp>
#include <emucxl/queue_allocators.hpp>

namespace {

using emucxl::queue::EmucxlAllocator;
using emucxl::queue::MallocAllocator;
using emucxl::queue::NumaOnnodeAllocator;
using emucxl::queue::Queue;

class EmucxlQueue : public ::testing::TestWithParam<int> {
protected:
	void SetUp() override { ASSERT_EQ(emucxl_init(), 0) << "errno " << errno; }
	void TearDown() override { emucxl_exit(); }
};

// Records every call, and can be told to fail, to check the queue's
// allocation pattern independently of any real allocator.
struct CountingAllocator {
	struct Log {
		std::vector<std::size_t> allocs, frees;
		bool fail = false;
	};
	Log *log;
	void *allocate(std::size_t n) const noexcept
	{
		if (log->fail)
			return nullptr;
		log->allocs.push_back(n);
		return ::operator new(n, std::nothrow);
	}
	void deallocate(void *p, std::size_t n) const noexcept
	{
		log->frees.push_back(n);
		::operator delete(p);
	}
};

TEST(Queue, FifoOrderOnMalloc)
{
	Queue<int, MallocAllocator> q(MallocAllocator{});
	for (int i = 0; i < 1000; ++i)
		ASSERT_TRUE(q.push(i));
	EXPECT_EQ(q.size(), 1000u);
	for (int i = 0; i < 1000; ++i)
		EXPECT_EQ(q.pop(), i);
	EXPECT_TRUE(q.empty());
	EXPECT_EQ(q.pop(), std::nullopt);
}

TEST(Queue, InterleavedPushPopKeepsOrder)
{
	Queue<long, MallocAllocator> q(MallocAllocator{});
	long next_in = 0, next_out = 0;
	for (int round = 0; round < 50; ++round) {
		for (int i = 0; i < 7; ++i)
			ASSERT_TRUE(q.push(next_in++));
		for (int i = 0; i < 5; ++i)
			EXPECT_EQ(q.pop(), next_out++);
	}
	while (auto v = q.pop())
		EXPECT_EQ(*v, next_out++);
	EXPECT_EQ(next_out, next_in);
}

TEST(Queue, OneAllocationPerEnqueueOneFreePerDequeue)
{
	CountingAllocator::Log log;
	{
		Queue<int, CountingAllocator> q(CountingAllocator{&log});
		ASSERT_EQ(log.allocs.size(), 1u); // the control block
		for (int i = 0; i < 10; ++i)
			ASSERT_TRUE(q.push(i));
		EXPECT_EQ(log.allocs.size(), 11u);
		for (std::size_t k = 1; k < log.allocs.size(); ++k)
			EXPECT_EQ(log.allocs[k], (Queue<int, CountingAllocator>::node_size));
		for (int i = 0; i < 4; ++i)
			ASSERT_TRUE(q.pop());
		EXPECT_EQ(log.frees.size(), 4u);
	}
	// The destructor frees the six nodes left and the control block.
	EXPECT_EQ(log.frees.size(), 11u);
}

TEST(Queue, FailedEnqueueLeavesQueueUnchanged)
{
	CountingAllocator::Log log;
	Queue<int, CountingAllocator> q(CountingAllocator{&log});
	ASSERT_TRUE(q.push(1));
	log.fail = true;
	EXPECT_FALSE(q.push(2));
	EXPECT_EQ(q.size(), 1u);
	log.fail = false;
	ASSERT_TRUE(q.push(3));
	EXPECT_EQ(q.pop(), 1);
	EXPECT_EQ(q.pop(), 3);
}

TEST(Queue, ConstructorThrowsWhenControlBlockCannotBeAllocated)
{
	CountingAllocator::Log log;
	log.fail = true;
	using Q = Queue<int, CountingAllocator>;
	EXPECT_THROW(Q q(CountingAllocator{&log}), std::bad_alloc);
}

TEST(Queue, NumaOnnodeQueueWorksOnNodeZero)
{
	Queue<int, NumaOnnodeAllocator> q(NumaOnnodeAllocator{0});
	for (int i = 0; i < 100; ++i)
		ASSERT_TRUE(q.push(i));
	for (int i = 0; i < 100; ++i)
		EXPECT_EQ(q.pop(), i);
}

TEST_P(EmucxlQueue, FifoOrder)
{
	Queue<int, EmucxlAllocator> q(EmucxlAllocator{GetParam()});
	for (int i = 0; i < 15000; ++i)
		ASSERT_TRUE(q.push(i));
	for (int i = 0; i < 15000; ++i)
		ASSERT_EQ(q.pop(), i);
	EXPECT_TRUE(q.empty());
}

TEST_P(EmucxlQueue, ControlBlockAndEveryNodeOnTheQueuesNode)
{
	const int node = GetParam();
	Queue<int, EmucxlAllocator> q(EmucxlAllocator{node});
	for (int i = 0; i < 500; ++i)
		ASSERT_TRUE(q.push(i));
	EXPECT_EQ(emucxl_get_numa_node(const_cast<void *>(q.control_block())), node);
	int visited = 0;
	q.for_each_node([&](const void *p) {
		++visited;
		EXPECT_EQ(emucxl_get_numa_node(const_cast<void *>(p)), node);
	});
	EXPECT_EQ(visited, 500);
}

TEST_P(EmucxlQueue, StatsFollowEnqueueAndDequeue)
{
	const int node = GetParam();
	const std::size_t before = emucxl_stats(node);
	const std::size_t other_before = emucxl_stats(1 - node);
	{
		Queue<int, EmucxlAllocator> q(EmucxlAllocator{node});
		const std::size_t empty = emucxl_stats(node);
		EXPECT_GT(empty, before); // the control block
		for (int i = 0; i < 100; ++i)
			ASSERT_TRUE(q.push(i));
		using Q = Queue<int, EmucxlAllocator>;
		EXPECT_EQ(emucxl_stats(node), empty + 100 * Q::node_size);
		for (int i = 0; i < 40; ++i)
			ASSERT_TRUE(q.pop());
		EXPECT_EQ(emucxl_stats(node), empty + 60 * Q::node_size);
		EXPECT_EQ(emucxl_stats(1 - node), other_before); // nothing leaks to the other node
	}
	EXPECT_EQ(emucxl_stats(node), before); // the destructor freed everything
}

INSTANTIATE_TEST_SUITE_P(Nodes, EmucxlQueue, ::testing::Values(EMUCXL_LOCAL_NODE, EMUCXL_REMOTE_NODE),
			 [](const auto &p) { return p.param == 0 ? "Local" : "Remote"; });

} // namespace
