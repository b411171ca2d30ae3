// SPDX-License-Identifier: Apache-2.0
// kill_test.cpp - clients killed with SIGKILL at random points while they
// allocate, migrate and free: the device's usage must come back to where it
// was every time, and the device must keep serving. Driver and device from
// EMUCXL_BACKEND / EMUCXL_DEVICE (kmod and cuse, in the vm/ guest).
//
// EMUCXL_KILLS sets the number of kills (default 100).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "emucxl/emucxl.h"

namespace {

std::uint64_t device_allocated()
{
	std::uint64_t sum = 0;
	for (int node = 0; node < 2; node++) {
		emucxl_node_usage u{};
		if (emucxl_get_usage(node, &u) != 0)
			return UINT64_MAX;
		sum += u.allocated;
	}
	return sum;
}

// The victim: allocate, migrate, free forever, in a mix that keeps a few
// dozen blocks live, until killed.
[[noreturn]] void victim(unsigned seed, int ready_fd)
{
	if (emucxl_init() != 0)
		_exit(3);
	std::mt19937 rng(seed);
	std::vector<std::pair<void *, std::size_t>> live;
	char c = 1;
	if (write(ready_fd, &c, 1) != 1)
		_exit(4);
	for (;;) {
		const unsigned op = rng() % 10;
		if (live.size() < 8 || op < 4) {
			const std::size_t size = rng() % 4 ? 1 + rng() % 4096 : 1 + rng() % (2 << 20);
			if (void *p = emucxl_alloc(size, static_cast<int>(rng() & 1)))
				live.emplace_back(p, size);
		} else if (op < 7) {
			auto &b = live[rng() % live.size()];
			if (void *q = emucxl_migrate(b.first, static_cast<int>(rng() & 1)))
				b.first = q;
		} else {
			const std::size_t k = rng() % live.size();
			emucxl_free(live[k].first, live[k].second);
			live[k] = live.back();
			live.pop_back();
		}
	}
}

TEST(Kill, KilledClientsLeaveNothingBehind)
{
	ASSERT_EQ(emucxl_init(), 0) << std::strerror(errno);
	const std::string driver = emucxl_driver_name();
	const std::uint64_t baseline = device_allocated();
	emucxl_exit();
	if (driver == "mbind")
		GTEST_SKIP() << "mbind memory belongs to the process and dies with it; the kill test is "
				"for the device drivers (kmod, cuse) and runs in the vm/ guest";
	ASSERT_NE(baseline, UINT64_MAX);

	const char *env = std::getenv("EMUCXL_KILLS");
	const int kills = env ? std::atoi(env) : 100;
	std::mt19937 rng(2024);
	for (int i = 0; i < kills; i++) {
		int ready[2];
		ASSERT_EQ(pipe(ready), 0);
		const pid_t kid = fork();
		ASSERT_GE(kid, 0);
		if (kid == 0) {
			close(ready[0]);
			victim(static_cast<unsigned>(i), ready[1]);
		}
		close(ready[1]);
		char c = 0;
		ASSERT_EQ(read(ready[0], &c, 1), 1) << "kill " << i << ": the client did not start";
		close(ready[0]);
		// A random point in the client's loop: 0 to 30 ms in.
		std::this_thread::sleep_for(std::chrono::microseconds(rng() % 30000));
		ASSERT_EQ(kill(kid, SIGKILL), 0);
		int st = 0;
		ASSERT_EQ(waitpid(kid, &st, 0), kid);
		ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
			<< "kill " << i << ": the client ended on its own (status " << st << ")";

		// The server releases the session when the last reference goes; for
		// CUSE that reaches the daemon asynchronously, so allow a moment.
		ASSERT_EQ(emucxl_init(), 0) << "kill " << i << ": the device no longer serves";
		std::uint64_t now = device_allocated();
		for (int tries = 0; now != baseline && tries < 200; tries++) {
			std::this_thread::sleep_for(std::chrono::milliseconds(10));
			now = device_allocated();
		}
		void *probe = emucxl_alloc(4096, 1);  // and it still allocates
		EXPECT_NE(probe, nullptr) << "kill " << i;
		emucxl_free(probe, 4096);
		emucxl_exit();
		ASSERT_EQ(now, baseline) << "kill " << i << ": " << now - baseline
					 << " bytes still held by the device 2 s after the client died";
	}
	std::printf("kill test: %d clients killed, device usage back to %llu bytes each time\n", kills,
		    static_cast<unsigned long long>(baseline));
}

}  // namespace
