// SPDX-License-Identifier: Apache-2.0
// cuse_driver_test.cpp - the cuse driver (backends/cuse/cuse_driver.cpp)
// through core's driver interface.
//
// Its factory's refusals (no device, a device that is not emucxl-cused) run
// anywhere. map/unmap/usage need the daemon's device (EMUCXL_DEVICE, default
// /dev/emucxl-cuse) and run in the vm/ guest; the daemon-death test starts
// a private daemon (daemon_util.hpp).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>

#include "abi_util.hpp"
#include "daemon_util.hpp"
#include "driver.hpp"
#include "placement.hpp"

using namespace emucxl;
using namespace emucxl::test;

namespace {

Config config_for(const char *device)
{
	Config c;
	c.backend = "cuse";
	c.device = device;
	return c;
}

TEST(CuseDriverFactory, AbsentDeviceIs_ENODEV_Quickly)
{
	const auto t0 = std::chrono::steady_clock::now();
	auto d = make_cuse_driver(config_for("/dev/emucxl-no-such-device"));
	EXPECT_FALSE(d);
	EXPECT_EQ(d.error(), ENODEV);
	EXPECT_LT(seconds_since(t0), 0.5);
}

TEST(CuseDriverFactory, DeviceThatSpeaksAnotherAbiIs_ENODEV)
{
	auto d = make_cuse_driver(config_for("/dev/null"));
	EXPECT_FALSE(d);
	EXPECT_EQ(d.error(), ENODEV);
}

TEST(CuseDriverFactory, TheKernelModulesDeviceIs_ENODEV)
{
	struct stat st;
	if (::stat("/dev/emucxl", &st) != 0)
		GTEST_SKIP() << "no /dev/emucxl here";
	Fd fd(::open("/dev/emucxl", O_RDONLY | O_CLOEXEC));
	emucxl_info info{};
	if (!fd || ioc(fd.get(), EMUCXL_INFO, &info) != 0 || info.impl != EMUCXL_IMPL_KMOD)
		GTEST_SKIP() << "/dev/emucxl is not emucxl.ko's";
	auto d = make_cuse_driver(config_for("/dev/emucxl"));
	EXPECT_FALSE(d);
	EXPECT_EQ(d.error(), ENODEV) << "auto must move on to the next driver";
}

class CuseDriver : public ::testing::Test {
protected:
	void SetUp() override
	{
		struct stat st;
		if (::stat(cuse_device(), &st) != 0)
			GTEST_SKIP() << cuse_device() << " is absent: start emucxl-cused (vm/run does)";
		auto d = make_cuse_driver(config_for(cuse_device()));
		ASSERT_TRUE(d) << std::strerror(d.error());
		driver_ = std::move(d).value();
		for (int n = 0; n < kNumNodes; n++) {
			auto u = driver_->usage(n);
			ASSERT_TRUE(u);
			base_[n] = u->allocated;
		}
	}

	void TearDown() override
	{
		if (!driver_)
			return;
		for (int n = 0; n < kNumNodes; n++) {
			auto u = driver_->usage(n);
			ASSERT_TRUE(u);
			EXPECT_EQ(u->allocated, base_[n]) << "node " << n;
		}
	}

	std::uint64_t used(int node)
	{
		auto u = driver_->usage(node);
		EXPECT_TRUE(u);
		return u->allocated - base_[node];
	}

	DriverPtr driver_;
	std::uint64_t base_[kNumNodes] = {};
};

TEST_F(CuseDriver, NameAndTopologyComeFromTheDaemon)
{
	EXPECT_EQ(driver_->name(), "cuse");
	Fd fd(::open(cuse_device(), O_RDONLY | O_CLOEXEC));
	ASSERT_TRUE(fd);
	emucxl_info info{};
	ASSERT_EQ(ioc(fd.get(), EMUCXL_INFO, &info), 0);
	const Topology t = driver_->topology();
	for (int n = 0; n < kNumNodes; n++) {
		EXPECT_EQ(t.node[n].physical_node, static_cast<int>(info.node[n].physical_node));
		EXPECT_EQ(t.node[n].capacity, info.node[n].capacity);
	}
	EXPECT_TRUE(t.pinned);
	EXPECT_EQ(t.remote_is_separate, info.node[0].physical_node != info.node[1].physical_node);
}

TEST_F(CuseDriver, MapIsZeroedPlacedAndCountedUnmapGivesItBack)
{
	const Topology t = driver_->topology();
	for (int node = 0; node < kNumNodes; node++) {
		for (std::size_t len : {std::size_t(4 * kKiB), std::size_t(1 * kMiB),
					std::size_t(64 * kMiB)}) {
			auto e = driver_->map(len, node);
			ASSERT_TRUE(e) << std::strerror(e.error());
			EXPECT_EQ(e->length, len);
			EXPECT_EQ(e->logical_node, node);
			EXPECT_EQ(e->fd, -1) << "no descriptor per extent: the mapping holds the memfd";
			EXPECT_EQ(used(node), len);
			EXPECT_TRUE(all_zero(e->addr, len));
			fill(e->addr, len, 3);
			EXPECT_TRUE(check(e->addr, len, 3));
			const auto nodes = page_nodes(e->addr, len);
			EXPECT_TRUE(all_on(nodes, t.node[node].physical_node)) << describe(nodes);
			ASSERT_TRUE(driver_->unmap(e.value()));
			EXPECT_EQ(used(node), 0u);
		}
	}
}

TEST_F(CuseDriver, BadArgumentsAndCapacity)
{
	EXPECT_EQ(driver_->map(0, 0).error(), EINVAL);
	EXPECT_EQ(driver_->map(100, 0).error(), EINVAL);
	EXPECT_EQ(driver_->map(4096, 2).error(), EINVAL);
	const std::size_t cap = driver_->topology().node[1].capacity;
	EXPECT_EQ(driver_->map(cap + 64 * kMiB, 1).error(), ENOMEM);
	Extent bogus;
	bogus.addr = nullptr;
	bogus.length = 4096;
	bogus.cookie = 999999;
	EXPECT_EQ(driver_->unmap(bogus).error(), ENOENT);
}

// Many live extents, more than a process may have descriptors: the
// driver keeps none per extent.
TEST_F(CuseDriver, MoreExtentsThanDescriptors)
{
	struct rlimit rl{};
	ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &rl), 0);
	const rlim_t old = rl.rlim_cur;
	rl.rlim_cur = 64;
	ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &rl), 0);
	std::vector<Extent> live;
	for (int i = 0; i < 256; i++) {
		auto e = driver_->map(4 * kKiB, i % 2);
		ASSERT_TRUE(e) << "extent " << i << ": " << std::strerror(e.error());
		live.push_back(e.value());
	}
	rl.rlim_cur = old;
	ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &rl), 0);
	EXPECT_EQ(used(0) + used(1), 256 * 4 * kKiB);
	for (const Extent &e : live)
		EXPECT_TRUE(driver_->unmap(e));
}

TEST_F(CuseDriver, ChildrenDoNotInheritMappings)
{
	auto e = driver_->map(64 * kKiB, 1);
	ASSERT_TRUE(e);
	fill(e->addr, e->length, 6);
	const pid_t pid = ::fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		unsigned char vec[16];
		_exit(::mincore(e->addr, e->length, vec) != 0 && errno == ENOMEM ? 0 : 1);
	}
	int status = 0;
	ASSERT_EQ(::waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child inherited the mapping";
	EXPECT_TRUE(check(e->addr, e->length, 6));
	EXPECT_TRUE(driver_->unmap(e.value()));
}

// The daemon killed under a running driver: calls fail within a bounded
// time; memory the client still maps is released locally.
TEST(CuseDriverDaemonDeath, CallsFailQuicklyAndNothingHangs)
{
	const std::string why = cannot_run_daemon();
	if (!why.empty())
		GTEST_SKIP() << why;
	PrivateDaemon daemon;
	ASSERT_TRUE(daemon.start(PrivateDaemon::unique_name("drv")));
	auto d = make_cuse_driver(config_for(daemon.path().c_str()));
	ASSERT_TRUE(d) << std::strerror(d.error());
	DriverPtr driver = std::move(d).value();
	auto e = driver->map(1 * kMiB, 1);
	ASSERT_TRUE(e);
	fill(e->addr, e->length, 8);

	daemon.signal(SIGKILL);
	ASSERT_TRUE(daemon.wait_exit(5));
	const auto t0 = std::chrono::steady_clock::now();
	auto m = driver->map(4 * kKiB, 1);
	EXPECT_FALSE(m);
	auto u = driver->usage(1);
	EXPECT_FALSE(u);
	EXPECT_TRUE(check(e->addr, e->length, 8)) << "the client's own memfd survives the daemon";
	EXPECT_TRUE(driver->unmap(e.value())) << "unmap after the daemon died releases locally";
	const double took = seconds_since(t0);
	std::printf("[          ] after the daemon died: map -> %s, usage -> %s, in %.3f ms\n",
		    std::strerror(m.error()), std::strerror(u.error()), took * 1e3);
	EXPECT_LT(took, 5.0);

	// And a new driver says ENODEV at once, as auto selection needs.
	const auto t1 = std::chrono::steady_clock::now();
	auto again = make_cuse_driver(config_for(daemon.path().c_str()));
	EXPECT_FALSE(again);
	EXPECT_EQ(again.error(), ENODEV);
	EXPECT_LT(seconds_since(t1), 0.5);
}

}  // namespace
