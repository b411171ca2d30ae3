// SPDX-License-Identifier: Apache-2.0
// fork_test.cpp - fork(2) on every driver: a child starts with the library
// uninitialised (its parent's emucxl memory is not mapped there: mbind and
// cuse mark it MADV_DONTFORK, kmod's mappings are VM_DONTCOPY), nothing the
// child maps is ever unmapped by the library, and emucxl_init in the child
// gives fresh memory. Part of emucxl_conformance, so vm/test-suite runs it
// on kmod and cuse in the guest (kernels 6.1 and 6.12) and tests/run-all's
// host and tsan stages on mbind.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "emucxl/emucxl.h"

namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000  // Linux 4.17
#endif

// Run `child` in a forked child; returns its wait status. The child reports
// a failed check on stderr and as exit code 1, a hang as SIGALRM.
template <class F>
int in_child(F child)
{
	const pid_t pid = fork();
	if (pid == 0) {
		// A deadlocked child dies of SIGALRM instead of hanging the test.
		// 60 s, not less: a child on cuse in the TCG guest's CXL boot,
		// beside the parent's busy threads, took over 20 s without being
		// stuck (a daemon round trip per map, the window at I/O speed).
		alarm(60);
		_exit(child());
	}
	int status = -1;
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

std::string describe(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status) == 0 ? "exit 0" : "a check failed (see its stderr)";
	if (WIFSIGNALED(status))
		return std::string("killed by ") + strsignal(WTERMSIG(status));
	return "status " + std::to_string(status);
}

#define CHILD_CHECK(cond)                                                            \
	do {                                                                         \
		if (!(cond)) {                                                       \
			std::fprintf(stderr, "child: line %d: %s failed (errno %d)\n", \
				     __LINE__, #cond, errno);                        \
			return 1;                                                    \
		}                                                                    \
	} while (0)

bool all_zero(const void *p, std::size_t n)
{
	const auto *b = static_cast<const unsigned char *>(p);
	for (std::size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

TEST(Lifecycle, ForkedChildStartsUninitialisedAndKeepsItsOwnMappings)
{
	ASSERT_EQ(emucxl_init(), 0);
	auto *small = static_cast<char *>(emucxl_alloc(64, 1));
	auto *large = static_cast<char *>(emucxl_alloc(2 * kMiB, 0));
	ASSERT_NE(small, nullptr);
	ASSERT_NE(large, nullptr);
	std::memset(small, 0x11, 64);
	std::memset(large, 0x22, 2 * kMiB);

	const int status = in_child([&]() -> int {
		// Nothing of the parent's library state is live here.
		errno = 0;
		CHILD_CHECK(emucxl_alloc(64, 0) == nullptr && errno == ENODEV);
		errno = 0;
		emucxl_free(small, 64);  // an inherited pointer: refused, no fault
		CHILD_CHECK(errno == ENODEV);
		errno = 0;
		CHILD_CHECK(emucxl_get_size(large) == 0 && errno == ENODEV);
		CHILD_CHECK(emucxl_get_numa_node(small) == -1);
		CHILD_CHECK(emucxl_stats(0) == 0 && emucxl_stats(1) == 0);

		// The parent's memory is not mapped here, so the child may map its
		// own at the same address; the library must never unmap that.
		// (gcc's TSan runtime drops MADV_DONTFORK, so there the parent's
		// extent is inherited and the child maps its own elsewhere; the
		// host and asan stages check the same address.)
		void *mine = mmap(large, 2 * kMiB, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
#if defined(__SANITIZE_THREAD__)
		if (mine == MAP_FAILED && errno == EEXIST)
			mine = mmap(nullptr, 2 * kMiB, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHILD_CHECK(mine != MAP_FAILED);
#else
		CHILD_CHECK(mine == large);
#endif
		std::memset(mine, 0x33, 2 * kMiB);
		errno = 0;
		emucxl_exit();  // not initialised in this process: refused
		CHILD_CHECK(errno == ENODEV);

		// A fresh start: new memory, zero-filled, counted from zero.
		CHILD_CHECK(emucxl_init() == 0);
		CHILD_CHECK(emucxl_stats(0) == 0 && emucxl_stats(1) == 0);
		errno = 0;
		CHILD_CHECK(emucxl_get_size(small) == 0 && errno == EINVAL);
		auto *p = static_cast<char *>(emucxl_alloc(64, 1));
		auto *q = static_cast<char *>(emucxl_alloc(kMiB, 0));
		CHILD_CHECK(p && q && all_zero(p, 64) && all_zero(q, kMiB));
		CHILD_CHECK(emucxl_get_size(p) == 64 && emucxl_stats(1) == 64);
		emucxl_free(p, 64);
		emucxl_free(q, kMiB);
		emucxl_exit();
		for (std::size_t i = 0; i < 2 * kMiB; i += 4096)
			CHILD_CHECK(static_cast<unsigned char *>(mine)[i] == 0x33);
		return 0;
	});
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe(status);

	// The parent's memory is untouched by the child's exit.
	EXPECT_EQ(emucxl_get_size(small), 64u);
	EXPECT_EQ(static_cast<unsigned char>(small[63]), 0x11);
	EXPECT_EQ(static_cast<unsigned char>(large[2 * kMiB - 1]), 0x22);
	emucxl_free(small, 64);
	emucxl_free(large, 2 * kMiB);
	emucxl_exit();
}

// A fork while other threads are inside the allocator (holding a class, the
// large-extent cache or the thread registry lock) must not leave the child
// with a lock nobody will release. Each child allocates in a fresh library.
TEST(Lifecycle, ForkWhileOtherThreadsAllocateDoesNotDeadlockTheChild)
{
	ASSERT_EQ(emucxl_init(), 0);
	std::atomic<bool> stop{false};
	std::vector<std::thread> busy;
	for (int t = 0; t < 2; t++) {
		busy.emplace_back([t, &stop] {
			std::vector<std::pair<void *, std::size_t>> live;
			for (unsigned i = 0; !stop.load(std::memory_order_relaxed); i++) {
				// Small sizes of many classes (refills, flushes under class
				// locks), large ones (driver calls, the extent cache), and
				// short-lived threads (thread-exit retirement, the registry).
				const std::size_t size = (i % 64 == 0) ? (1 + i % 3) * (kMiB / 8) : 16 + (i * 97 + t) % 20000;
				if (void *p = emucxl_alloc(size, static_cast<int>(i & 1)))
					live.emplace_back(p, size);
				if (live.size() > 256 || (i % 7 == 0 && !live.empty())) {
					emucxl_free(live.back().first, live.back().second);
					live.pop_back();
				}
				if (i % 512 == 0)
					std::thread([] { emucxl_free(emucxl_alloc(48, 1), 48); }).join();
				(void)emucxl_stats(i & 1);
			}
			for (auto [p, size] : live)
				emucxl_free(p, size);
		});
	}
	// The locks at stake are core's, the same on every driver; kmod and cuse
	// (in the TCG guest, a daemon round trip per map) run fewer rounds.
	const int rounds = std::string(emucxl_driver_name()) == "mbind" ? 12 : 3;
	int bad = 0;
	for (int round = 0; round < rounds && !bad; round++) {
		const int status = in_child([]() -> int {
			CHILD_CHECK(emucxl_init() == 0);
			std::vector<void *> v;
			for (int i = 0; i < 200; i++) {
				void *p = emucxl_alloc(static_cast<std::size_t>(16 + i * 150), i & 1);
				CHILD_CHECK(p != nullptr);
				v.push_back(p);
			}
			void *big = emucxl_alloc(kMiB, 1);
			CHILD_CHECK(big != nullptr && all_zero(big, kMiB));
			for (int i = 0; i < 200; i++)
				emucxl_free(v[static_cast<std::size_t>(i)], static_cast<std::size_t>(16 + i * 150));
			emucxl_free(big, kMiB);
			CHILD_CHECK(emucxl_stats(0) == 0 && emucxl_stats(1) == 0);
			emucxl_exit();
			return 0;
		});
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			bad = 1;
			ADD_FAILURE() << "child " << round << ": " << describe(status);
		}
	}
	stop = true;
	for (auto &th : busy)
		th.join();
	EXPECT_EQ(emucxl_stats(0) + emucxl_stats(1), 0u);
	emucxl_exit();
}

}  // namespace
