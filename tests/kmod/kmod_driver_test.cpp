// SPDX-License-Identifier: Apache-2.0
// kmod_driver_test.cpp - the kmod driver (backends/kmod/kmod_driver.cpp)
// through the core's driver interface. The factory's refusals (no device, a
// device that is not emucxl.ko) run anywhere; map/unmap/topology/usage need
// the module and skip without it (they run in the vm/ guest).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "driver.hpp"
#include "emucxl_uapi.h"
#include "placement.hpp"

using emucxl::Config;
using emucxl::Driver;
using emucxl::DriverPtr;
using emucxl::Extent;
using emucxl::make_kmod_driver;
using emucxl::test::all_on;
using emucxl::test::describe;
using emucxl::test::page_nodes;

namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

const char *device_path()
{
	const char *p = std::getenv("EMUCXL_DEVICE");
	return p && *p ? p : "/dev/emucxl";
}

// INFO of the device if emucxl.ko serves it.
bool kmod_info(emucxl_info *info)
{
	int fd = ::open(device_path(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	*info = {};
	bool ok = ::ioctl(fd, EMUCXL_INFO, info) == 0 && info->impl == EMUCXL_IMPL_KMOD;
	::close(fd);
	return ok;
}

TEST(KmodDriverFactory, NoDeviceIs_ENODEV)
{
	Config c;
	c.device = "/nonexistent/emucxl";
	auto d = make_kmod_driver(c);
	ASSERT_FALSE(d);
	EXPECT_EQ(d.error(), ENODEV);
}

TEST(KmodDriverFactory, DeviceThatDoesNotSpeakTheAbiIs_ENODEV)
{
	Config c;
	c.device = "/dev/null";  // opens, answers ENOTTY to EMUCXL_INFO
	auto d = make_kmod_driver(c);
	ASSERT_FALSE(d);
	EXPECT_EQ(d.error(), ENODEV);
}

TEST(KmodDriverFactory, RegularFileIs_ENODEV)
{
	char path[] = "/tmp/emucxl-not-a-device-XXXXXX";
	int fd = ::mkstemp(path);
	ASSERT_GE(fd, 0);
	::close(fd);
	Config c;
	c.device = path;
	auto d = make_kmod_driver(c);
	::unlink(path);
	ASSERT_FALSE(d);
	EXPECT_EQ(d.error(), ENODEV);
}

class KmodDriver : public ::testing::Test {
protected:
	void SetUp() override
	{
		if (!kmod_info(&info_))
			GTEST_SKIP() << device_path() << " is not served by emucxl.ko here "
				     << "(runs in the vm/ guest)";
		Config c;
		c.device = device_path();
		auto d = make_kmod_driver(c);
		ASSERT_TRUE(d) << std::strerror(d.error());
		driver_ = std::move(d).value();
		page_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
	}

	emucxl_info info_{};
	DriverPtr driver_;
	std::size_t page_ = 4096;
};

TEST_F(KmodDriver, TopologyComesFromTheModule)
{
	EXPECT_EQ(driver_->name(), "kmod");
	const auto t = driver_->topology();
	for (int n = 0; n < emucxl::kNumNodes; n++) {
		EXPECT_EQ(t.node[n].physical_node, static_cast<int>(info_.node[n].physical_node));
		EXPECT_EQ(t.node[n].capacity, info_.node[n].capacity);
	}
	EXPECT_EQ(t.remote_is_separate, info_.node[0].physical_node != info_.node[1].physical_node);
	EXPECT_TRUE(t.pinned);
}

TEST_F(KmodDriver, MapPlacesUnmapReleases)
{
	for (int node = 0; node < emucxl::kNumNodes; node++) {
		auto before = driver_->usage(node);
		ASSERT_TRUE(before);
		auto e = driver_->map(4 * kMiB, node);
		ASSERT_TRUE(e) << std::strerror(e.error());
		EXPECT_EQ(e->length, 4 * kMiB);
		EXPECT_EQ(e->logical_node, node);
		std::memset(e->addr, 0x3c, e->length);
		const auto nodes = page_nodes(e->addr, e->length);
		EXPECT_TRUE(all_on(nodes, driver_->topology().node[node].physical_node))
			<< describe(nodes);
		auto during = driver_->usage(node);
		ASSERT_TRUE(during);
		EXPECT_EQ(during->allocated, before->allocated + 4 * kMiB);
		EXPECT_GE(during->peak, during->allocated);
		EXPECT_EQ(during->capacity, info_.node[node].capacity);
		EXPECT_TRUE(driver_->unmap(e.value()));
		auto after = driver_->usage(node);
		ASSERT_TRUE(after);
		EXPECT_EQ(after->allocated, before->allocated);
	}
}

TEST_F(KmodDriver, BadArgumentsAre_EINVAL)
{
	EXPECT_EQ(driver_->map(0, 0).error(), EINVAL);
	EXPECT_EQ(driver_->map(page_ + 1, 0).error(), EINVAL);
	EXPECT_EQ(driver_->map(page_, 2).error(), EINVAL);
	EXPECT_EQ(driver_->map(page_, -1).error(), EINVAL);
	EXPECT_EQ(driver_->usage(2).error(), EINVAL);
}

TEST_F(KmodDriver, OverCapacityIs_ENOMEM)
{
	const std::size_t too_big = info_.node[1].capacity + page_;
	auto e = driver_->map(too_big, 1);
	ASSERT_FALSE(e);
	EXPECT_EQ(e.error(), ENOMEM);
}

TEST_F(KmodDriver, UnmapOfUnknownExtentFailsAndKeepsTheMapping)
{
	auto e = driver_->map(page_, 1);
	ASSERT_TRUE(e);
	Extent bogus = e.value();
	bogus.cookie = 0x7ffffff0;
	EXPECT_FALSE(driver_->unmap(bogus));
	static_cast<volatile char *>(e->addr)[0] = 1;  // still mapped
	EXPECT_TRUE(driver_->unmap(e.value()));
}

TEST_F(KmodDriver, NodeOverrideTheModuleDoesNotHonourIs_EINVAL)
{
	Config c;
	c.device = device_path();
	c.remote_node = static_cast<int>(info_.node[1].physical_node) + 1;
	auto d = make_kmod_driver(c);
	ASSERT_FALSE(d);
	EXPECT_EQ(d.error(), EINVAL);

	c.remote_node = static_cast<int>(info_.node[1].physical_node);
	c.local_node = static_cast<int>(info_.node[0].physical_node);
	EXPECT_TRUE(make_kmod_driver(c)) << "matching overrides are fine";
}

TEST_F(KmodDriver, DestroyingTheDriverFreesWhatItHeld)
{
	auto before = driver_->usage(1);
	ASSERT_TRUE(before);
	{
		Config c;
		c.device = device_path();
		auto d = make_kmod_driver(c);
		ASSERT_TRUE(d);
		auto e = d.value()->map(2 * kMiB, 1);
		ASSERT_TRUE(e);
		// Unmapped by hand, but the handle is left for the close to free.
		ASSERT_EQ(::munmap(e->addr, e->length), 0);
		auto during = driver_->usage(1);
		ASSERT_TRUE(during);
		EXPECT_EQ(during->allocated, before->allocated + 2 * kMiB);
	}
	auto after = driver_->usage(1);
	ASSERT_TRUE(after);
	EXPECT_EQ(after->allocated, before->allocated);
}

}  // namespace
