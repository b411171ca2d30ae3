// SPDX-License-Identifier: Apache-2.0
// kmod_attack_test.cpp - hostile clients against emucxl.ko (issue 12), run
// by tests/vm/kmod_attacks.sh with the module loaded for the attack:
//
//   OnePhysicalNodeHasOneCapacity  (local_node == remote_node) logical 0
//                                  and 1 each had a capacity of their own
//                                  on the same physical node
//   HandleLimitIs_EDQUOT           (max_handles small) one file could hold
//                                  handles without bound (kernel memory)
//   ExitOfManyHandlesFreesThemAll  EXIT drops handles in batches, outside
//                                  the session lock, rescheduling per handle
//
// Each test skips, saying why, when the module is not loaded the way it
// needs. Needs the module: runs in the vm/ guest.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "abi_util.hpp"

using namespace emucxl::test;

namespace {

const char *device_path()
{
	const char *p = std::getenv("EMUCXL_DEVICE");
	return p && *p ? p : "/dev/emucxl";
}

std::uint64_t page() { return static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)); }

// A module parameter as a number; -1 if the module has no such parameter.
long long param(const char *name)
{
	std::ifstream f(std::string("/sys/module/emucxl/parameters/") + name);
	long long v = -1;
	if (!(f >> v))
		return -1;
	return v;
}

Alloc kalloc(int fd, std::uint64_t size, unsigned node)
{
	return alloc_raw(fd, size, node, 0, 0);
}

class KmodAttack : public ::testing::Test {
protected:
	void SetUp() override
	{
		dev_ = session();
		if (!dev_)
			GTEST_SKIP() << device_path() << ": " << std::strerror(errno)
				     << " (load emucxl.ko: tests/vm/kmod_attacks.sh does)";
		ASSERT_EQ(ioc(dev_.get(), EMUCXL_INFO, &info_), 0);
		if (info_.impl != EMUCXL_IMPL_KMOD)
			GTEST_SKIP() << device_path() << " is not emucxl.ko";
		base_ = stats(dev_.get());
	}

	void TearDown() override
	{
		if (!dev_)
			return;
		emucxl_exit ex{};
		EXPECT_EQ(ioc(dev_.get(), EMUCXL_EXIT, &ex), 0);
		const emucxl_stats s = stats(dev_.get());
		for (int n = 0; n < 2; n++) {
			EXPECT_EQ(s.node[n].allocated, base_.node[n].allocated) << "node " << n;
			EXPECT_EQ(s.node[n].allocations, base_.node[n].allocations) << "node " << n;
		}
	}

	static Fd session()
	{
		Fd fd(::open(device_path(), O_RDWR | O_CLOEXEC));
		if (fd && init_session(fd.get()) != 0)
			fd.reset();
		return fd;
	}

	static emucxl_stats stats(int fd)
	{
		emucxl_stats s{};
		EXPECT_EQ(ioc(fd, EMUCXL_STATS, &s), 0);
		return s;
	}

	// Another client: ALLOC, map, touch, FREE on `node`.
	static bool other_client_served(unsigned node)
	{
		Fd fd = session();
		if (!fd)
			return false;
		Alloc a = kalloc(fd.get(), 64 * kKiB, node);
		if (a.err)
			return false;
		void *p = ::mmap(nullptr, a.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(),
				 static_cast<off_t>(a.offset));
		if (p == MAP_FAILED)
			return false;
		fill(p, a.size, 7);
		const bool ok = check(p, a.size, 7);
		::munmap(p, a.size);
		return ok && free_handle(fd.get(), a.handle) == 0;
	}

	Fd dev_;
	emucxl_info info_{};
	emucxl_stats base_{};
};

TEST_F(KmodAttack, OnePhysicalNodeHasOneCapacity)
{
	if (info_.node[0].physical_node != info_.node[1].physical_node)
		GTEST_SKIP() << "the logical nodes are different physical nodes here (load the "
				"module with local_node == remote_node)";
	const std::uint64_t cap0 = info_.node[0].capacity, cap1 = info_.node[1].capacity;
	if (std::max(cap0, cap1) > 512 * kMiB)
		GTEST_SKIP() << "capacities of " << (cap0 >> 20) << " and " << (cap1 >> 20)
			     << " MiB: load the module with small ones";
	const std::uint64_t pool = std::max(cap0, cap1);
	ASSERT_EQ(base_.node[0].allocated + base_.node[1].allocated, 0u) << "needs an idle module";
	// Logical 0 takes its whole capacity; logical 1 the rest of the pool.
	Alloc a0 = kalloc(dev_.get(), cap0, 0);
	ASSERT_EQ(a0.err, 0);
	if (pool > cap0) {
		Alloc a1 = kalloc(dev_.get(), pool - cap0, 1);
		ASSERT_EQ(a1.err, 0);
	}
	EXPECT_EQ(kalloc(dev_.get(), page(), 1).err, ENOMEM)
		<< "logical 1 shares the physical node, which holds "
		<< (pool >> 20) << " MiB: the larger capacity, not the sum";
	const emucxl_stats s = stats(dev_.get());
	EXPECT_EQ(s.node[0].free, 0u);
	EXPECT_EQ(s.node[1].free, 0u);
	EXPECT_EQ(s.node[0].allocated, cap0) << "logical counters stay per logical node";
	emucxl_exit ex{};
	ASSERT_EQ(ioc(dev_.get(), EMUCXL_EXIT, &ex), 0);
	ASSERT_EQ(init_session(dev_.get()), 0);
	EXPECT_TRUE(other_client_served(1));
}

TEST_F(KmodAttack, HandleLimitIs_EDQUOT)
{
	const long long limit = param("max_handles");
	ASSERT_GE(limit, 1) << "the module has no per-file handle limit (max_handles)";
	if (limit > 100000)
		GTEST_SKIP() << "max_handles is " << limit << ": load the module with a small one";
	int err = 0;
	long long n = 0;
	for (; n <= limit && !err; n++)
		err = kalloc(dev_.get(), page(), 1).err;
	EXPECT_EQ(err, EDQUOT);
	EXPECT_EQ(n - 1, limit) << "handles held when refused";
	const emucxl_stats s = stats(dev_.get());
	EXPECT_EQ(s.node[1].failures, base_.node[1].failures) << "a quota is not an ENOMEM failure";
	EXPECT_TRUE(other_client_served(1)) << "another file has its own limit";
	// Freeing one makes room for one.
	ASSERT_EQ(free_handle(dev_.get(), 1), 0);
	EXPECT_EQ(kalloc(dev_.get(), page(), 1).err, 0);
	EXPECT_EQ(kalloc(dev_.get(), page(), 1).err, EDQUOT);
}

TEST_F(KmodAttack, ExitOfManyHandlesFreesThemAll)
{
	const long long limit = param("max_handles");
	const std::uint64_t want = 40000;
	const std::uint64_t n = limit > 0 && static_cast<std::uint64_t>(limit) < want
					? static_cast<std::uint64_t>(limit)
					: want;
	if (info_.node[1].capacity < n * page() * 2)
		GTEST_SKIP() << "remote capacity too small for " << n << " pages";
	for (std::uint64_t i = 0; i < n; i++)
		ASSERT_EQ(kalloc(dev_.get(), page(), 1).err, 0) << "handle " << i;
	// While EXIT drops them, another thread's requests on the same
	// session are answered (ALLOC: EBADFD once EXIT closed the session,
	// EDQUOT while it is still at max_handles).
	std::thread other([&] {
		for (int i = 0; i < 50; i++) {
			const int e = kalloc(dev_.get(), page(), 0).err;
			EXPECT_TRUE(e == 0 || e == EBADFD || e == EDQUOT) << std::strerror(e);
		}
	});
	emucxl_exit ex{};
	ASSERT_EQ(ioc(dev_.get(), EMUCXL_EXIT, &ex), 0);
	other.join();
	EXPECT_GE(ex.freed, n);
	ASSERT_EQ(init_session(dev_.get()), 0);
	const emucxl_stats s = stats(dev_.get());
	EXPECT_EQ(s.node[1].allocated, base_.node[1].allocated);
}

}  // namespace

int main(int argc, char **argv)
{
	::testing::InitGoogleTest(&argc, argv);
	return RUN_ALL_TESTS();
}
