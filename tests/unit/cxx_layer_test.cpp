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
