// SPDX-License-Identifier: Apache-2.0
// cxx_layer_test.cpp - emucxl.hpp: allocator comparison across types,
// allocate(0), placement that stays with the container, unique_ptr
// conversions. Runs on the mbind driver (the library is the real one).
#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "emucxl/emucxl.hpp"

namespace {

struct Base {
	virtual ~Base() = default;
	int b = 1;
};
struct Other {
	virtual ~Other() = default;
	long o = 2;
};
struct Derived : Other, Base {
	int d = 3;
};

TEST(CxxLayer, AllocatorsCompareAcrossTypesAndAllocateZero)
{
	setenv("EMUCXL_BACKEND", "mbind", 0);
	emucxl::Session s;
	static_assert(emucxl::allocator<int>{} == emucxl::allocator<long>{});
	static_assert(emucxl::allocator<int>{emucxl::remote} != emucxl::allocator<long>{});
	emucxl::allocator<int> a(emucxl::remote);
	int *p = nullptr;
	EXPECT_NO_THROW(p = a.allocate(0));
	a.deallocate(p, 0);
	EXPECT_EQ(s.stats(emucxl::remote), 0u);
}

TEST(CxxLayer, AssignmentKeepsTheContainersNode)
{
	setenv("EMUCXL_BACKEND", "mbind", 0);
	emucxl::Session s;
	using Vec = std::vector<int, emucxl::allocator<int>>;
	Vec local{emucxl::allocator<int>(emucxl::local)};
	Vec remote(100, 7, emucxl::allocator<int>(emucxl::remote));
	local = remote;
	EXPECT_EQ(local.get_allocator().where(), emucxl::local);
	EXPECT_EQ(emucxl_get_numa_node(local.data()), 0);
	EXPECT_EQ(local[99], 7);
	Vec moved{emucxl::allocator<int>(emucxl::local)};
	moved = std::move(remote);
	EXPECT_EQ(moved.get_allocator().where(), emucxl::local);
	EXPECT_EQ(emucxl_get_numa_node(moved.data()), 0);
}

TEST(CxxLayer, UniquePtrToBaseTakesADerivedObject)
{
	setenv("EMUCXL_BACKEND", "mbind", 0);
	emucxl::Session s;
	{
		emucxl::unique_ptr<Base> p = emucxl::make_unique_on<Derived>(emucxl::remote);
		EXPECT_EQ(p->b, 1);
		EXPECT_EQ(s.stats(emucxl::remote), sizeof(Derived));
	}
	EXPECT_EQ(s.stats(emucxl::remote), 0u) << "freed through a base pointer (not the block's start)";
}

}  // namespace

// The C API is declared noexcept for C++ callers (EMUCXL_NOEXCEPT), so
// code that must not throw (destructors, noexcept moves, allocators'
// deallocate) can call it and the compiler knows it.
TEST(CxxLayer, TheCApiIsNoexceptForCxxCallers)
{
	void *p = nullptr;
	emucxl_info info{};
	emucxl_node_usage usage{};
	static_assert(noexcept(emucxl_init()) && noexcept(emucxl_exit()));
	static_assert(noexcept(emucxl_alloc(1, 0)) && noexcept(emucxl_free(p, 1)));
	static_assert(noexcept(emucxl_resize(p, 1)) && noexcept(emucxl_migrate(p, 1)));
	static_assert(noexcept(emucxl_is_local(p)) && noexcept(emucxl_get_numa_node(p)) &&
		      noexcept(emucxl_get_size(p)) && noexcept(emucxl_stats(0)));
	static_assert(noexcept(emucxl_read(p, 0, p, 1)) && noexcept(emucxl_write(p, 0, p, 1)));
	static_assert(noexcept(emucxl_memset(p, 0, 1)) && noexcept(emucxl_memcpy(p, p, 1)) &&
		      noexcept(emucxl_memmove(p, p, 1)));
	static_assert(noexcept(emucxl_driver_name()) && noexcept(emucxl_get_info(&info)) &&
		      noexcept(emucxl_get_usage(0, &usage)));
	// And at run time: the calls before init fail with an errno, no throw.
	errno = 0;
	EXPECT_EQ(emucxl_alloc(16, 0), nullptr);
	EXPECT_EQ(errno, ENODEV);
}
