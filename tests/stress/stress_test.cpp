// SPDX-License-Identifier: Apache-2.0
// stress_test.cpp - concurrency, endurance and shared-capacity checks on the
// driver named by EMUCXL_BACKEND (run on the host for mbind and in the vm/
// guest for every driver).
//
//   Threads:    2, 4, 8 and 16 threads x 100,000 mixed operations each
//               (alloc, free, resize, migrate, read/write, cross-thread
//               frees); every block keeps its contents; stats end at zero.
//   Endurance:  EMUCXL_ENDURANCE_CYCLES alloc/free cycles (default
//               10,000,000) of mixed sizes on both nodes; process RSS and the
//               driver's usage must not grow after warm-up.
//   Processes:  two processes using one device see one consistent picture
//               of its usage (kmod/cuse; mbind has no shared device).
//   Capacity:   filling the remote node ends in ENOMEM, not in another node
//               or an OOM kill, and another process's local memory and
//               allocations are unaffected (needs a separate remote node:
//               the vm/ guest, tests/vm/capacity.sh).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "emucxl/emucxl.h"

namespace {

long env_long(const char *name, long fallback)
{
	const char *s = std::getenv(name);
	return s && *s ? std::strtol(s, nullptr, 10) : fallback;
}

long rss_kib()
{
	std::ifstream status("/proc/self/status");
	std::string line;
	while (std::getline(status, line))
		if (line.rfind("VmRSS:", 0) == 0)
			return std::strtol(line.c_str() + 6, nullptr, 10);
	return -1;
}

std::uint64_t driver_allocated()
{
	std::uint64_t sum = 0;
	for (int node = 0; node < 2; node++) {
		emucxl_node_usage u{};
		if (emucxl_get_usage(node, &u) == 0)
			sum += u.allocated;
	}
	return sum;
}

class Stress : public ::testing::Test {
protected:
	void SetUp() override { ASSERT_EQ(emucxl_init(), 0) << std::strerror(errno); }
	void TearDown() override
	{
		EXPECT_EQ(emucxl_stats(0), 0u);
		EXPECT_EQ(emucxl_stats(1), 0u);
		emucxl_exit();
	}
};

struct Block {
	unsigned char *p;
	std::size_t size;
	unsigned char tag;
};

// A block handed from one thread to another, to be checked and freed there.
struct Exchange {
	std::mutex mu;
	std::vector<Block> blocks;
};

std::size_t random_size(std::mt19937_64 &rng)
{
	const unsigned r = rng() % 100;
	if (r < 80)
		return 1 + rng() % 256;
	if (r < 99)
		return 1 + rng() % 32768;
	return 32769 + rng() % (1 << 20);
}

void run_worker(int id, int ops, Exchange &ex, std::atomic<long> &errors)
{
	std::mt19937_64 rng(static_cast<unsigned long>(id) * 7919 + 1);
	std::vector<Block> mine;
	auto check = [&](const Block &b) {
		if (b.p[0] != b.tag || b.p[b.size - 1] != b.tag || b.p[b.size / 2] != b.tag)
			errors++;
	};
	for (int i = 0; i < ops; i++) {
		const unsigned op = rng() % 100;
		if (mine.empty() || op < 40) {
			const std::size_t size = random_size(rng);
			auto *p = static_cast<unsigned char *>(emucxl_alloc(size, static_cast<int>(rng() & 1)));
			if (!p) {
				if (errno != ENOMEM)
					errors++;
				continue;
			}
			const auto tag = static_cast<unsigned char>(1 + rng() % 255);
			std::memset(p, tag, size);
			mine.push_back({p, size, tag});
			continue;
		}
		const std::size_t k = rng() % mine.size();
		Block &b = mine[k];
		check(b);
		if (op < 70) {  // free
			emucxl_free(b.p, b.size);
			b = mine.back();
			mine.pop_back();
		} else if (op < 78) {  // resize
			const std::size_t size = random_size(rng);
			auto *q = static_cast<unsigned char *>(emucxl_resize(b.p, size));
			if (q) {
				std::memset(q, b.tag, size);
				b.p = q;
				b.size = size;
			}
		} else if (op < 86) {  // migrate
			auto *q = static_cast<unsigned char *>(emucxl_migrate(b.p, static_cast<int>(rng() & 1)));
			if (q)
				b.p = q;
			check(b);
		} else if (op < 94) {  // bounded write + read back
			unsigned char buf[64];
			std::memset(buf, b.tag, sizeof(buf));
			const std::size_t n = std::min(sizeof(buf), b.size);
			if (!emucxl_write(buf, 0, b.p, n) || !emucxl_read(b.p, 0, buf, n) || buf[0] != b.tag)
				errors++;
		} else {  // hand it over to whichever thread comes next
			std::lock_guard lk(ex.mu);
			ex.blocks.push_back(b);
			b = mine.back();
			mine.pop_back();
		}
		if (i % 64 == 0) {  // free what others handed over
			std::vector<Block> taken;
			{
				std::lock_guard lk(ex.mu);
				taken.swap(ex.blocks);
			}
			for (const Block &t : taken) {
				check(t);
				emucxl_free(t.p, t.size);
			}
		}
	}
	for (const Block &b : mine) {
		check(b);
		emucxl_free(b.p, b.size);
	}
}

class Threads : public Stress, public ::testing::WithParamInterface<int> {};

TEST_P(Threads, MixedOperationsKeepEveryInvariant)
{
	const int threads = GetParam();
	const int ops = static_cast<int>(env_long("EMUCXL_STRESS_OPS", 100000));
	Exchange ex;
	std::atomic<long> errors{0};
	std::vector<std::thread> pool;
	for (int t = 0; t < threads; t++)
		pool.emplace_back(run_worker, t, ops, std::ref(ex), std::ref(errors));
	for (auto &th : pool)
		th.join();
	for (const Block &b : ex.blocks)
		emucxl_free(b.p, b.size);
	EXPECT_EQ(errors.load(), 0) << "blocks lost their contents or calls failed unexpectedly";
}

INSTANTIATE_TEST_SUITE_P(Counts, Threads, ::testing::Values(2, 4, 8, 16));

TEST_F(Stress, EnduranceHasNoGrowth)
{
	const long cycles = env_long("EMUCXL_ENDURANCE_CYCLES", 10000000);
	std::mt19937_64 rng(5);
	std::vector<std::pair<void *, std::size_t>> window(64, {nullptr, 0});
	long rss_warm = 0;
	std::uint64_t driver_warm = 0;
	for (long i = 0; i < cycles; i++) {
		auto &slot = window[rng() % window.size()];
		if (slot.first)
			emucxl_free(slot.first, slot.second);
		const unsigned r = rng() % 1000;
		const std::size_t size = r < 900 ? 1 + rng() % 512 : r < 999 ? 1 + rng() % 32768
									   : 32769 + rng() % (1 << 20);
		slot = {emucxl_alloc(size, static_cast<int>(i & 1)), size};
		ASSERT_NE(slot.first, nullptr) << "cycle " << i << ": " << std::strerror(errno);
		if (i == cycles / 10) {
			rss_warm = rss_kib();
			driver_warm = driver_allocated();
		}
	}
	const long rss_end = rss_kib();
	const std::uint64_t driver_end = driver_allocated();
	for (auto &slot : window)
		if (slot.first)
			emucxl_free(slot.first, slot.second);
	// Growth allowance: the spans and cached extents a different mix of 64
	// live blocks can hold (a few MiB), not anything proportional to cycles.
	EXPECT_LE(rss_end, rss_warm + 16 * 1024) << "RSS grew from " << rss_warm << " KiB to "
						   << rss_end << " KiB over " << cycles << " cycles";
	EXPECT_LE(driver_end, driver_warm + (std::uint64_t{16} << 20))
		<< "driver usage grew from " << driver_warm << " to " << driver_end;
	std::printf("endurance: %ld cycles, RSS %ld -> %ld KiB, driver usage %llu -> %llu bytes\n",
		    cycles, rss_warm, rss_end, static_cast<unsigned long long>(driver_warm),
		    static_cast<unsigned long long>(driver_end));
}

TEST(Processes, TwoProcessesSeeOneConsistentDevice)
{
	ASSERT_EQ(emucxl_init(), 0);
	const std::string driver = emucxl_driver_name();
	emucxl_node_usage before{};
	const bool has_usage = emucxl_get_usage(1, &before) == 0;
	emucxl_exit();
	if (driver == "mbind")
		GTEST_SKIP() << "mbind has no device shared between processes; kmod and cuse run this "
				"in the vm/ guest";
	ASSERT_TRUE(has_usage);

	// Each child holds 8 MiB on the remote node and waits; the parent reads
	// the device's usage, which must include both.
	int ready[2], go[2];
	ASSERT_EQ(pipe(ready), 0);
	ASSERT_EQ(pipe(go), 0);
	pid_t kids[2];
	for (pid_t &kid : kids) {
		kid = fork();
		ASSERT_GE(kid, 0);
		if (kid == 0) {
			char c = 1;
			if (emucxl_init() != 0 || !emucxl_alloc(8 << 20, 1))
				c = 0;
			if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
				_exit(2);
			emucxl_exit();
			_exit(0);
		}
	}
	for (int i = 0; i < 2; i++) {
		char c = 0;
		ASSERT_EQ(read(ready[0], &c, 1), 1);
		ASSERT_EQ(c, 1) << "a child could not allocate";
	}
	ASSERT_EQ(emucxl_init(), 0);
	emucxl_node_usage during{};
	ASSERT_EQ(emucxl_get_usage(1, &during), 0);
	EXPECT_GE(during.allocated, before.allocated + (std::uint64_t{16} << 20))
		<< "the device does not show both processes' memory";
	EXPECT_EQ(during.free + during.allocated <= during.capacity, true);
	char c = 1;
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(write(go[1], &c, 1), 1);
	for (pid_t kid : kids) {
		int st = 0;
		ASSERT_EQ(waitpid(kid, &st, 0), kid);
		EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	emucxl_node_usage after{};
	ASSERT_EQ(emucxl_get_usage(1, &after), 0);
	EXPECT_EQ(after.allocated, before.allocated) << "the children's memory was not given back";
	emucxl_exit();
}

TEST(Capacity, FillingTheRemoteNodeIsENOMEMAndHarmless)
{
	ASSERT_EQ(emucxl_init(), 0);
	emucxl_info info{};
	ASSERT_EQ(emucxl_get_info(&info), 0);
	emucxl_exit();
	if (!info.remote_is_separate)
		GTEST_SKIP() << "remote shares the only NUMA node here: filling it would fill the "
				"machine; this runs in the vm/ guest (tests/vm/capacity.sh)";

	// A bystander: holds local memory, and must still allocate after the
	// remote node is full.
	int ready[2], go[2], verdict[2];
	ASSERT_EQ(pipe(ready), 0);
	ASSERT_EQ(pipe(go), 0);
	ASSERT_EQ(pipe(verdict), 0);
	const pid_t kid = fork();
	ASSERT_GE(kid, 0);
	if (kid == 0) {
		char c = 0;
		auto *held = static_cast<unsigned char *>(emucxl_init() == 0 ? emucxl_alloc(16 << 20, 0) : nullptr);
		if (held)
			std::memset(held, 0x5a, 16 << 20);
		c = held ? 1 : 0;
		if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		void *more = emucxl_alloc(1 << 20, 0);
		c = held && more && held[(16 << 20) - 1] == 0x5a ? 1 : 0;
		if (write(verdict[1], &c, 1) != 1)
			_exit(2);
		emucxl_exit();
		_exit(0);
	}
	char c = 0;
	ASSERT_EQ(read(ready[0], &c, 1), 1);
	ASSERT_EQ(c, 1) << "the bystander could not allocate";

	ASSERT_EQ(emucxl_init(), 0);
	std::vector<std::pair<void *, std::size_t>> held;
	std::uint64_t total = 0;
	int last_errno = 0;
	for (std::size_t chunk : {std::size_t{32} << 20, std::size_t{1} << 20}) {
		for (int i = 0; i < 4096; i++) {  // bounded: 128 GiB of 32 MiB chunks
			errno = 0;
			void *p = emucxl_alloc(chunk, 1);
			if (!p) {
				last_errno = errno;
				break;
			}
			held.emplace_back(p, chunk);
			total += chunk;
		}
		ASSERT_EQ(last_errno, ENOMEM) << "the remote node never ran out, or failed otherwise";
	}
	EXPECT_GE(total, info.node[1].capacity / 2) << "gave up long before the capacity";
	EXPECT_LE(total, info.node[1].capacity) << "more than the capacity was placed";
	void *local = emucxl_alloc(1 << 20, 0);
	EXPECT_NE(local, nullptr) << "the local node suffered from the full remote node";

	c = 1;
	ASSERT_EQ(write(go[1], &c, 1), 1);
	ASSERT_EQ(read(verdict[0], &c, 1), 1);
	EXPECT_EQ(c, 1) << "the bystander lost memory or could not allocate locally";
	int st = 0;
	ASSERT_EQ(waitpid(kid, &st, 0), kid);
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "the bystander died (status " << st << ")";

	for (auto [p, n] : held)
		emucxl_free(p, n);
	emucxl_free(local, 1 << 20);
	std::printf("capacity: %s filled remote node %d with %llu MiB (capacity %llu MiB), then ENOMEM\n",
		    emucxl_driver_name(), info.node[1].physical_node,
		    static_cast<unsigned long long>(total >> 20),
		    static_cast<unsigned long long>(info.node[1].capacity >> 20));
	emucxl_exit();
}

}  // namespace
