// SPDX-License-Identifier: Apache-2.0
// cuse_daemon_test.cpp - emucxl-cused as a process: its options, a clean
// stop on SIGTERM, what clients see when it dies (an error within a bounded
// time, never a hang), garbage ioctls, and CUSE's unrestricted ioctl path.
// Each test runs its own daemon on its own device name (daemon_util.hpp);
// the shared /dev/emucxl-cuse is never touched.
//
// Needs root and /dev/cuse: runs in the vm/ guest (tests/vm/cuse_daemon.sh),
// skips elsewhere.
#include <gtest/gtest.h>
#include <numa.h>

#include <atomic>
#include <random>
#include <thread>

#include "abi_util.hpp"
#include "daemon_util.hpp"
#include "placement.hpp"

using namespace emucxl::test;

namespace {

constexpr double kBound = 5.0;  // seconds a client may wait for any answer

std::uint64_t page() { return static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)); }

// The errors a client sees once the daemon is gone.
bool is_gone(int err) { return err == ENOTCONN || err == ECONNABORTED || err == ENODEV; }

class CuseDaemon : public ::testing::Test {
protected:
	void SetUp() override
	{
		const std::string why = cannot_run_daemon();
		if (!why.empty())
			GTEST_SKIP() << why;
	}

	// Start a daemon with `args`, open its device, INIT.
	void start(std::vector<std::string> args = {}, const char *what = "d")
	{
		ASSERT_TRUE(daemon_.start(PrivateDaemon::unique_name(what), args))
			<< "emucxl-cused did not come up (status " << daemon_.exit_status() << ")";
		dev_ = Fd(::open(daemon_.path().c_str(), O_RDWR | O_CLOEXEC));
		ASSERT_TRUE(dev_) << daemon_.path() << ": " << std::strerror(errno);
		ASSERT_EQ(ioc(dev_.get(), EMUCXL_INFO, &info_), 0);
		ASSERT_EQ(init_session(dev_.get()), 0);
	}

	PrivateDaemon daemon_;
	Fd dev_;
	emucxl_info info_{};
};

TEST_F(CuseDaemon, BadOptionsAreRefused)
{
	const std::vector<std::vector<std::string>> bad = {
		{"--remote-node", "64"},
		{"--local-node", "-7"},
		{"--remote-node", "4096"},
		{"--remote-capacity-mb", "18446744073709551615"},
		{"--log-level", "loud"},
		{"--no-such-option"},
		{"stray-argument"},
	};
	for (const auto &args : bad) {
		PrivateDaemon d;
		EXPECT_FALSE(d.start(PrivateDaemon::unique_name("bad"), args))
			<< "started with " << args[0];
		ASSERT_TRUE(d.wait_exit(kBound));
		EXPECT_TRUE(WIFEXITED(d.exit_status()) && WEXITSTATUS(d.exit_status()) != 0)
			<< args[0] << ": status " << d.exit_status();
	}
	PrivateDaemon slash;
	EXPECT_FALSE(slash.start("emucxl-t/x"));
}

TEST_F(CuseDaemon, CapacityAndNodeOptionsAreHonoured)
{
	if (numa_available() < 0 || numa_max_node() < 1)
		GTEST_SKIP() << "needs two NUMA nodes";
	start({"--local-node", "1", "--remote-node", "0", "--local-capacity-mb", "48",
	       "--remote-capacity-mb", "32"});
	EXPECT_EQ(info_.node[0].physical_node, 1u);
	EXPECT_EQ(info_.node[1].physical_node, 0u);
	EXPECT_EQ(info_.node[0].capacity, 48 * kMiB);
	EXPECT_EQ(info_.node[1].capacity, 32 * kMiB);

	Fd m = make_memfd(32 * kMiB);
	Alloc a = alloc_memfd(dev_.get(), 32 * kMiB, 1, m.get());
	ASSERT_EQ(a.err, 0);
	void *p = map_memfd(m.get(), a.size);
	ASSERT_NE(p, MAP_FAILED);
	std::memset(p, 1, a.size);
	auto nodes = page_nodes(p, a.size);
	EXPECT_TRUE(all_on(nodes, 0)) << describe(nodes);
	::munmap(p, a.size);
	Fd m2 = make_memfd(page());
	EXPECT_EQ(alloc_memfd(dev_.get(), page(), 1, m2.get()).err, ENOMEM) << "past 32 MiB";

	Fd m3 = make_memfd(8 * kMiB);
	Alloc l = alloc_memfd(dev_.get(), 8 * kMiB, 0, m3.get());
	ASSERT_EQ(l.err, 0);
	p = map_memfd(m3.get(), l.size);
	ASSERT_NE(p, MAP_FAILED);
	std::memset(p, 1, l.size);  // fault the client's page tables in
	nodes = page_nodes(p, l.size);
	EXPECT_TRUE(all_on(nodes, 1)) << describe(nodes) << " (logical 0 is node 1 here)";
	::munmap(p, l.size);
}

TEST_F(CuseDaemon, SigtermStopsCleanlyAndClientsGetErrors)
{
	start();
	Fd m = make_memfd(16 * kMiB);
	Alloc a = alloc_memfd(dev_.get(), 16 * kMiB, 1, m.get());
	ASSERT_EQ(a.err, 0);
	void *p = map_memfd(m.get(), a.size);
	ASSERT_NE(p, MAP_FAILED);
	fill(p, a.size, 4);

	daemon_.signal(SIGTERM);
	ASSERT_TRUE(daemon_.wait_exit(kBound)) << "no exit within " << kBound << " s of SIGTERM";
	EXPECT_TRUE(WIFEXITED(daemon_.exit_status()) && WEXITSTATUS(daemon_.exit_status()) == 0)
		<< "status " << daemon_.exit_status();
	struct stat st;
	EXPECT_NE(::stat(daemon_.path().c_str(), &st), 0) << "the device outlived its daemon";

	const auto t0 = std::chrono::steady_clock::now();
	emucxl_stats s{};
	const int err = ioc(dev_.get(), EMUCXL_STATS, &s);
	EXPECT_LT(seconds_since(t0), 1.0);
	EXPECT_TRUE(is_gone(err)) << std::strerror(err);
	EXPECT_TRUE(check(p, a.size, 4)) << "a stopped daemon leaves mapped memory to its client";
	::munmap(p, a.size);
}

// The daemon killed while a client runs: every next call fails, quickly.
TEST_F(CuseDaemon, SigkilledDaemonFailsTheNextCallsQuickly)
{
	start();
	Fd m = make_memfd(4 * kMiB);
	Alloc a = alloc_memfd(dev_.get(), 4 * kMiB, 1, m.get());
	ASSERT_EQ(a.err, 0);

	daemon_.signal(SIGKILL);
	ASSERT_TRUE(daemon_.wait_exit(kBound));

	const auto t0 = std::chrono::steady_clock::now();
	emucxl_stats s{};
	const int e1 = ioc(dev_.get(), EMUCXL_STATS, &s);
	Fd m2 = make_memfd(page());
	const int e2 = alloc_memfd(dev_.get(), page(), 1, m2.get()).err;
	const int e3 = free_handle(dev_.get(), a.handle);
	emucxl_info info{};
	const int e4 = ioc(dev_.get(), EMUCXL_INFO, &info);
	const double took = seconds_since(t0);
	std::printf("[          ] after SIGKILL: STATS %s, ALLOC %s, FREE %s, INFO %s in %.3f ms\n",
		    std::strerror(e1), std::strerror(e2), std::strerror(e3), std::strerror(e4),
		    took * 1e3);
	EXPECT_TRUE(is_gone(e1)) << std::strerror(e1);
	EXPECT_TRUE(is_gone(e2)) << std::strerror(e2);
	EXPECT_TRUE(is_gone(e3)) << std::strerror(e3);
	EXPECT_TRUE(is_gone(e4)) << std::strerror(e4);
	EXPECT_LT(took, kBound);

	// A new open finds no device.
	Fd again(::open(daemon_.path().c_str(), O_RDWR | O_CLOEXEC));
	EXPECT_FALSE(again);
	EXPECT_TRUE(errno == ENOENT || errno == ENODEV || errno == ENXIO) << std::strerror(errno);
}

// A call already waiting in a daemon that then dies returns an error too.
TEST_F(CuseDaemon, CallWaitingInADyingDaemonReturns)
{
	start();
	ASSERT_TRUE(daemon_.stop());  // requests now queue up unanswered
	std::atomic<int> err{-1};
	std::atomic<bool> done{false};
	std::thread t([&] {
		emucxl_stats s{};
		err = ioc(dev_.get(), EMUCXL_STATS, &s);
		done = true;
	});
	std::this_thread::sleep_for(std::chrono::milliseconds(300));
	EXPECT_FALSE(done.load()) << "the call should be waiting for the stopped daemon";
	const auto t0 = std::chrono::steady_clock::now();
	daemon_.signal(SIGKILL);
	while (!done.load() && seconds_since(t0) < kBound)
		std::this_thread::sleep_for(std::chrono::milliseconds(5));
	const double took = seconds_since(t0);
	ASSERT_TRUE(done.load()) << "the call still hangs " << kBound << " s after the daemon died";
	t.join();
	std::printf("[          ] waiting call returned %s %.3f ms after SIGKILL\n",
		    std::strerror(err.load()), took * 1e3);
	EXPECT_TRUE(is_gone(err.load())) << std::strerror(err.load());
	ASSERT_TRUE(daemon_.wait_exit(kBound));
}

// A second daemon asking for a name already served does not take it over.
TEST_F(CuseDaemon, DuplicateNameLeavesTheFirstDaemonServing)
{
	start();
	const std::string name = daemon_.path().substr(5);
	PrivateDaemon second;
	(void)second.start(name);  // the node exists already, so "start" looks fine
	EXPECT_TRUE(second.wait_exit(kBound)) << "the second daemon should give up";
	emucxl_stats s{};
	EXPECT_EQ(ioc(dev_.get(), EMUCXL_STATS, &s), 0) << "the first daemon must still serve";
	Fd again(::open(daemon_.path().c_str(), O_RDWR | O_CLOEXEC));
	ASSERT_TRUE(again);
	emucxl_info info{};
	EXPECT_EQ(ioc(again.get(), EMUCXL_INFO, &info), 0);
	EXPECT_FALSE(daemon_.exited());
}

// Malformed input never brings the daemon down.
TEST_F(CuseDaemon, GarbageIoctlsGetErrorsAndTheDaemonSurvives)
{
	start();
	static const unsigned long kCommands[] = {EMUCXL_INIT, EMUCXL_EXIT, EMUCXL_ALLOC,
						  EMUCXL_FREE, EMUCXL_STATS, EMUCXL_INFO};
	std::mt19937_64 rng(12345);
	static std::uint64_t buf[1024];
	int served = 0;
	for (int i = 0; i < 3000; i++) {
		for (auto &w : buf)
			w = rng();
		unsigned long cmd;
		switch (i % 4) {
		case 0:  // our magic, any number, any size, any direction
			cmd = _IOC(rng() % 4, EMUCXL_IOC_MAGIC, rng() % 16, rng() % 4096);
			break;
		case 1:  // our commands with random contents
			cmd = kCommands[rng() % 6];
			break;
		case 2:  // ALLOC with plausible fields and a random memfd number
		{
			auto *a = reinterpret_cast<emucxl_alloc *>(buf);
			*a = {};
			a->size = rng() % (8 * kMiB) + 1;
			a->node = static_cast<std::uint32_t>(rng() % 3);
			a->flags = EMUCXL_ALLOC_MEMFD;
			a->memfd = static_cast<std::int32_t>(rng() % 64) - 2;
			cmd = EMUCXL_ALLOC;
			break;
		}
		default:  // anything at all
			cmd = static_cast<std::uint32_t>(rng());
			if (_IOC_SIZE(cmd) > sizeof(buf))
				cmd = _IOC(_IOC_DIR(cmd), _IOC_TYPE(cmd), _IOC_NR(cmd), sizeof(buf));
			break;
		}
		if (::ioctl(dev_.get(), cmd, buf) == 0)
			served++;
	}
	EXPECT_FALSE(daemon_.exited()) << "the daemon died on garbage";
	emucxl_exit ex{};
	(void)ioc(dev_.get(), EMUCXL_EXIT, &ex);
	emucxl_stats s{};
	ASSERT_EQ(ioc(dev_.get(), EMUCXL_STATS, &s), 0);
	std::printf("[          ] %d of 3000 garbage ioctls succeeded (legal by chance)\n", served);
	dev_.reset();
	Fd ro(::open(daemon_.path().c_str(), O_RDONLY | O_CLOEXEC));
	ASSERT_TRUE(ro);
	ASSERT_EQ(ioc(ro.get(), EMUCXL_STATS, &s), 0);
	EXPECT_EQ(s.sessions, 1u);
	EXPECT_EQ(s.node[0].allocated + s.node[1].allocated, 0u) << "garbage left memory behind";
}

// CUSE's unrestricted mode: the kernel hands over no argument until the
// daemon asks for it (fuse_reply_ioctl_retry). Same answers as restricted.
TEST_F(CuseDaemon, UnrestrictedIoctlsGiveTheSameAnswers)
{
	start({"--unrestricted-ioctl"}, "u");
	EXPECT_EQ(info_.impl, static_cast<std::uint32_t>(EMUCXL_IMPL_CUSE));
	EXPECT_EQ(info_.nr_nodes, 2u);
	emucxl_init in{};
	in.abi_version = (EMUCXL_ABI_MAJOR + 1) << 16;
	EXPECT_EQ(ioc(dev_.get(), EMUCXL_INIT, &in), EPROTONOSUPPORT);
	EXPECT_EQ(in.abi_version, static_cast<std::uint32_t>(EMUCXL_ABI_VERSION));
	ASSERT_EQ(init_session(dev_.get()), 0);

	Fd m = make_memfd(4 * page());
	Alloc a = alloc_memfd(dev_.get(), 3 * page() + 1, 1, m.get());
	ASSERT_EQ(a.err, 0);
	EXPECT_EQ(a.size, 4 * page());
	EXPECT_EQ(a.handle, 1u);
	void *p = map_memfd(m.get(), a.size);
	ASSERT_NE(p, MAP_FAILED);
	EXPECT_TRUE(all_zero(p, a.size));
	::munmap(p, a.size);
	emucxl_stats s{};
	ASSERT_EQ(ioc(dev_.get(), EMUCXL_STATS, &s), 0);
	EXPECT_EQ(s.node[1].allocated, a.size);
	EXPECT_EQ(free_handle(dev_.get(), a.handle), 0);
	EXPECT_EQ(free_handle(dev_.get(), a.handle), ENOENT);
	EXPECT_EQ(ioc(dev_.get(), EMUCXL_INFO, nullptr), EFAULT);
	std::uint64_t buf[8] = {};
	EXPECT_EQ(ioc(dev_.get(), _IO(EMUCXL_IOC_MAGIC, 0x7f), buf), ENOTTY);
	EXPECT_EQ(alloc_raw(dev_.get(), page(), 0, 0, 0).err, EOPNOTSUPP);
}

}  // namespace
