// SPDX-License-Identifier: Apache-2.0
// api_edges_test.cpp - emucxl_info's size versioning and the mem* calls'
// n == 0 cases, on every driver (part of emucxl_conformance).
#include <gtest/gtest.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "emucxl/emucxl.h"

namespace {

class ApiEdges : public ::testing::Test {
protected:
	void SetUp() override { ASSERT_EQ(emucxl_init(), 0); }
	void TearDown() override { emucxl_exit(); }
};

// A caller compiled against an older, smaller struct: the library writes
// only the bytes that caller has and says so.
TEST_F(ApiEdges, InfoWritesNoMoreThanTheCallersStructSize)
{
	constexpr std::size_t kOld = offsetof(emucxl_info, node);  // header + driver name
	unsigned char buf[sizeof(emucxl_info) + 64];
	std::memset(buf, 0xaa, sizeof(buf));
	auto *info = reinterpret_cast<emucxl_info *>(buf);
	info->struct_size = kOld;
	ASSERT_EQ(emucxl_get_info(info), 0);
	EXPECT_EQ(info->struct_size, kOld) << "must say how many bytes it wrote";
	EXPECT_EQ(info->api_version, static_cast<uint32_t>(EMUCXL_API_VERSION));
	EXPECT_STREQ(info->driver, emucxl_driver_name());
	for (std::size_t i = kOld; i < sizeof(buf); i++)
		ASSERT_EQ(buf[i], 0xaa) << "wrote byte " << i << " past the caller's struct_size " << kOld;
}

// A caller compiled against a newer, larger struct: the library fills what
// it knows, leaves the rest alone and says how much it filled.
TEST_F(ApiEdges, InfoFromANewerCallerFillsOnlyWhatTheLibraryKnows)
{
	unsigned char buf[sizeof(emucxl_info) + 64];
	std::memset(buf, 0xaa, sizeof(buf));
	auto *info = reinterpret_cast<emucxl_info *>(buf);
	info->struct_size = sizeof(buf);
	ASSERT_EQ(emucxl_get_info(info), 0);
	EXPECT_EQ(info->struct_size, sizeof(emucxl_info));
	for (std::size_t i = sizeof(emucxl_info); i < sizeof(buf); i++)
		ASSERT_EQ(buf[i], 0xaa) << "wrote byte " << i << " that it does not know";

	emucxl_info tiny{};
	tiny.struct_size = 4;  // not even the version field
	errno = 0;
	EXPECT_EQ(emucxl_get_info(&tiny), -1);
	EXPECT_EQ(errno, EINVAL);
}

// As the header says: NULL is EINVAL only for n > 0. With n == 0 nothing is
// touched, and like their libc namesakes they return the destination.
TEST_F(ApiEdges, MemFunctionsWithZeroLengthAcceptNull)
{
	char buf[8] = {};
	errno = 0;
	EXPECT_EQ(emucxl_memset(nullptr, 0, 0), nullptr);
	EXPECT_EQ(errno, 0);
	EXPECT_EQ(emucxl_memcpy(buf, nullptr, 0), buf);
	EXPECT_EQ(emucxl_memmove(buf, nullptr, 0), buf);
	EXPECT_EQ(emucxl_memcpy(nullptr, buf, 0), nullptr);
	EXPECT_EQ(errno, 0) << "n == 0 with NULL is not an error";
	EXPECT_EQ(emucxl_memcpy(buf, nullptr, 1), nullptr);
	EXPECT_EQ(errno, EINVAL);
	errno = 0;
	EXPECT_EQ(emucxl_memset(nullptr, 0, 1), nullptr);
	EXPECT_EQ(errno, EINVAL);
}

}  // namespace
