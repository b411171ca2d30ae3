// SPDX-License-Identifier: Apache-2.0
// preload_test.cpp - the preload's malloc family, built two ways
// (CMakeLists.txt): "interposed", this program run under
// LD_PRELOAD=libemucxl-preload.so and calling malloc & co. by their names;
// and "linked", the preload's sources compiled into this program under
// other names (emucxl_test_malloc, ...), which is what runs under ASan and
// TSan (a sanitizer keeps its own malloc in the program, so LD_PRELOAD
// could not reach it there). Which policy a test expects is chosen by the
// ctest entry (its environment and gtest filter).
#include <dlfcn.h>
#include <emucxl/emucxl.h>
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#ifdef EMUCXL_PRELOAD_TEST_NAMES
extern "C" {
void *emucxl_test_malloc(size_t) noexcept;
void *emucxl_test_calloc(size_t, size_t) noexcept;
void emucxl_test_free(void *) noexcept;
void *emucxl_test_realloc(void *, size_t) noexcept;
void *emucxl_test_reallocarray(void *, size_t, size_t) noexcept;
int emucxl_test_posix_memalign(void **, size_t, size_t) noexcept;
void *emucxl_test_aligned_alloc(size_t, size_t) noexcept;
void *emucxl_test_memalign(size_t, size_t) noexcept;
void *emucxl_test_valloc(size_t) noexcept;
void *emucxl_test_pvalloc(size_t) noexcept;
size_t emucxl_test_malloc_usable_size(void *) noexcept;
}
#define PM(name) emucxl_test_##name
// The allocator the preload stands in front of, as the preload finds it.
static void *real_malloc(size_t n) { return std::malloc(n); }
#else
#define PM(name) ::name
extern "C" void *__libc_malloc(size_t) noexcept;  // glibc's own, behind the preload
static void *real_malloc(size_t n) { return __libc_malloc(n); }
#endif

namespace {

const std::size_t kPage = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));

int node_of(void *p)
{
	return emucxl_get_numa_node(p);
}

bool on_emucxl(void *p)
{
	return node_of(p) >= 0;
}

void fill(void *p, std::size_t n, unsigned seed)
{
	auto *b = static_cast<unsigned char *>(p);
	for (std::size_t i = 0; i < n; i++)
		b[i] = static_cast<unsigned char>(seed + i * 7);
}

bool check(const void *p, std::size_t n, unsigned seed)
{
	const auto *b = static_cast<const unsigned char *>(p);
	for (std::size_t i = 0; i < n; i++)
		if (b[i] != static_cast<unsigned char>(seed + i * 7))
			return false;
	return true;
}

// ---- every policy --------------------------------------------------------------

TEST(Basic, MallocIsEmucxlMemory)
{
	for (std::size_t n : {std::size_t{1}, std::size_t{16}, std::size_t{100}, std::size_t{4096},
			      std::size_t{40000}, std::size_t{3} << 20}) {
		void *p = PM(malloc)(n);
		ASSERT_NE(p, nullptr) << n;
		EXPECT_TRUE(on_emucxl(p)) << n;
		EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % alignof(max_align_t), 0u) << n;
		EXPECT_GE(PM(malloc_usable_size)(p), n);
		fill(p, n, 3);
		EXPECT_TRUE(check(p, n, 3));
		PM(free)(p);
	}
}

TEST(Basic, MallocZeroGivesAUniquePointer)
{
	void *a = PM(malloc)(0), *b = PM(malloc)(0);
	ASSERT_NE(a, nullptr);
	ASSERT_NE(b, nullptr);
	EXPECT_NE(a, b);
	PM(free)(a);
	PM(free)(b);
	PM(free)(nullptr);
}

TEST(Basic, CallocZeroesAndChecksOverflow)
{
	// Dirty a block of the same class first, so a recycled one is seen.
	void *d = PM(malloc)(512);
	std::memset(d, 0xab, 512);
	PM(free)(d);
	auto *p = static_cast<unsigned char *>(PM(calloc)(64, 8));
	ASSERT_NE(p, nullptr);
	for (int i = 0; i < 512; i++)
		ASSERT_EQ(p[i], 0) << i;
	PM(free)(p);
	volatile std::size_t huge = SIZE_MAX / 2;  // not a constant: no compile-time warning
	errno = 0;
	EXPECT_EQ(PM(calloc)(huge, 3), nullptr);
	EXPECT_EQ(errno, ENOMEM);
	errno = 0;
	EXPECT_EQ(PM(reallocarray)(nullptr, huge, 3), nullptr);
	EXPECT_EQ(errno, ENOMEM);
}

TEST(Basic, ReallocKeepsContents)
{
	std::size_t n = 10;
	void *p = PM(malloc)(n);
	fill(p, n, 9);
	for (std::size_t next : {100, 5000, 40000, 300000, 3000000, 70000, 200, 24}) {
		void *q = PM(realloc)(p, next);
		ASSERT_NE(q, nullptr) << next;
		ASSERT_TRUE(on_emucxl(q));
		ASSERT_TRUE(check(q, std::min(n, next), 9)) << n << " -> " << next;
		fill(q, next, 9);
		p = q;
		n = next;
	}
	EXPECT_EQ(PM(realloc)(p, 0), nullptr);  // frees, as glibc does
}

TEST(Basic, AlignedFamily)
{
	for (std::size_t align = 32; align <= 65536; align *= 4) {
		for (std::size_t n : {std::size_t{1}, std::size_t{100}, std::size_t{5000},
				      std::size_t{100000}}) {
			void *p = nullptr;
			ASSERT_EQ(PM(posix_memalign)(&p, align, n), 0) << align << " " << n;
			EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % align, 0u) << align << " " << n;
			EXPECT_TRUE(on_emucxl(p));
			EXPECT_GE(PM(malloc_usable_size)(p), n);
			fill(p, n, 5);
			void *q = PM(realloc)(p, n * 2);
			ASSERT_NE(q, nullptr);
			EXPECT_TRUE(check(q, n, 5)) << align << " " << n;
			PM(free)(q);

			void *a = PM(aligned_alloc)(align, n);
			ASSERT_NE(a, nullptr);
			EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a) % align, 0u);
			std::memset(a, 1, n);
			PM(free)(a);
			void *m = PM(memalign)(align, n);
			ASSERT_NE(m, nullptr);
			EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m) % align, 0u);
			PM(free)(m);
		}
	}
	void *v = PM(valloc)(10);
	EXPECT_EQ(reinterpret_cast<std::uintptr_t>(v) % kPage, 0u);
	PM(free)(v);
	void *pv = PM(pvalloc)(10);
	EXPECT_EQ(reinterpret_cast<std::uintptr_t>(pv) % kPage, 0u);
	EXPECT_GE(PM(malloc_usable_size)(pv), kPage);
	std::memset(pv, 2, kPage);
	PM(free)(pv);
	void *m = PM(memalign)(48, 10);  // rounded up to 64, as glibc does
	EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m) % 64, 0u);
	PM(free)(m);
}

TEST(Basic, AlignedBadArguments)
{
	void *p = reinterpret_cast<void *>(1);
	EXPECT_EQ(PM(posix_memalign)(&p, 24, 10), EINVAL);
	EXPECT_EQ(PM(posix_memalign)(&p, 2, 10), EINVAL);
	EXPECT_EQ(p, reinterpret_cast<void *>(1));  // untouched
	errno = 0;
	EXPECT_EQ(PM(aligned_alloc)(24, 10), nullptr);
	EXPECT_EQ(errno, EINVAL);
}

TEST(Basic, FreeLeavesErrnoAlone)
{
	void *p = PM(malloc)(100);
	void *r = real_malloc(100);
	errno = 1234;
	PM(free)(p);
	PM(free)(r);
	EXPECT_EQ(errno, 1234);
}

#ifndef EMUCXL_PRELOAD_TEST_NAMES
TEST(Basic, CxxNewAndDeleteGoThroughIt)
{
	auto *v = new std::vector<int>(100000, 7);
	EXPECT_TRUE(on_emucxl(v));
	EXPECT_TRUE(on_emucxl(v->data()));
	delete v;
	struct alignas(128) Wide {
		char c[200];
	};
	auto *w = new Wide;
	EXPECT_EQ(reinterpret_cast<std::uintptr_t>(w) % 128, 0u);
	EXPECT_TRUE(on_emucxl(w));
	delete w;
}
#endif

// ---- pointers the real allocator gave out ------------------------------------------

TEST(Foreign, FreeReallocAndSizeOfRealAllocatorPointers)
{
	void *r = real_malloc(1000);
	ASSERT_NE(r, nullptr);
	ASSERT_FALSE(on_emucxl(r));
	EXPECT_GE(PM(malloc_usable_size)(r), 1000u);
	fill(r, 1000, 11);
	void *q = PM(realloc)(r, 50000);  // moves it onto emucxl
	ASSERT_NE(q, nullptr);
	EXPECT_TRUE(on_emucxl(q));
	EXPECT_TRUE(check(q, 1000, 11));
	PM(free)(q);

	void *s = real_malloc(64);
	PM(free)(s);  // handed back, no complaint from the real allocator (ASan checks it)
}

// ---- threads -----------------------------------------------------------------------

// Threads allocate, write, hand blocks to each other, and free what they
// receive; every block keeps its contents and is emucxl memory.
TEST(Threads, CrossThreadAllocReallocFree)
{
	constexpr int kThreads = 4;
	constexpr int kOps = 6000;
	std::mutex mu;
	std::vector<std::pair<void *, std::size_t>> shared;
	std::atomic<int> bad{0};
	auto worker = [&](unsigned seed) {
		std::mt19937 rng(seed);
		std::vector<std::pair<void *, std::size_t>> mine;
		for (int i = 0; i < kOps; i++) {
			const unsigned op = rng() % 8;
			std::size_t n = 1 + rng() % (rng() % 16 == 0 ? 100000 : 600);
			void *p;
			if (op == 0) {
				if (PM(posix_memalign)(&p, 64, n) != 0)
					p = nullptr;
			} else {
				p = op == 1 ? PM(calloc)(1, n) : PM(malloc)(n);
			}
			if (!p || !on_emucxl(p)) {
				bad++;
				continue;
			}
			fill(p, n, static_cast<unsigned>(n));
			if (rng() % 3 == 0) {
				std::size_t m = 1 + rng() % 3000;
				void *q = PM(realloc)(p, m);
				if (!q || !check(q, std::min(n, m), static_cast<unsigned>(n)))
					bad++;
				fill(q, m, static_cast<unsigned>(m));
				p = q;
				n = m;
			}
			if (rng() % 2) {
				std::lock_guard lk(mu);
				shared.emplace_back(p, n);
			} else {
				mine.emplace_back(p, n);
			}
			if (mine.size() > 50 || rng() % 4 == 0) {
				std::pair<void *, std::size_t> b{nullptr, 0};
				{
					std::lock_guard lk(mu);
					if (!shared.empty()) {
						b = shared.back();
						shared.pop_back();
					}
				}
				if (!b.first && !mine.empty()) {
					b = mine.back();
					mine.pop_back();
				}
				if (b.first) {
					if (!check(b.first, b.second, static_cast<unsigned>(b.second)))
						bad++;
					PM(free)(b.first);
				}
			}
		}
		for (auto &[p, n] : mine) {
			if (!check(p, n, static_cast<unsigned>(n)))
				bad++;
			PM(free)(p);
		}
	};
	std::vector<std::thread> ts;
	for (int t = 0; t < kThreads; t++)
		ts.emplace_back(worker, 100u + static_cast<unsigned>(t));
	for (auto &t : ts)
		t.join();
	for (auto &[p, n] : shared) {
		if (!check(p, n, static_cast<unsigned>(n)))
			bad++;
		PM(free)(p);
	}
	EXPECT_EQ(bad.load(), 0);
}

// ---- fork and exec --------------------------------------------------------------------

// A child reads and writes the heap it inherited (a copy-on-write copy on
// mbind, a private copy of the device's pages on kmod and cuse), frees and
// reallocates parent blocks, allocates its own; the parent's blocks keep
// their contents.
TEST(Fork, ChildUsesTheInheritedHeap)
{
	constexpr std::size_t kSmall = 1000, kBig = std::size_t{1} << 20;
	void *small = PM(malloc)(kSmall);
	void *big = PM(malloc)(kBig);
	void *al = nullptr;
	ASSERT_EQ(PM(posix_memalign)(&al, 256, 3000), 0);
	fill(small, kSmall, 1);
	fill(big, kBig, 2);
	fill(al, 3000, 3);
	const pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int rc = 0;
		if (!check(small, kSmall, 1) || !check(big, kBig, 2) || !check(al, 3000, 3))
			rc |= 1;
		fill(small, kSmall, 9);  // the child's copy only
		void *grown = PM(realloc)(big, 2 * kBig);
		if (!grown || !check(grown, kBig, 2))
			rc |= 2;
		PM(free)(small);
		PM(free)(al);
		void *own = PM(malloc)(5000);
		if (!own)
			rc |= 4;
		fill(own, 5000, 4);
		void *own2 = PM(realloc)(own, 90000);
		if (!own2 || !check(own2, 5000, 4))
			rc |= 8;
		PM(free)(own2);
		PM(free)(grown);
		_exit(rc);
	}
	int status = 0;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status)) << "child died of signal " << WTERMSIG(status);
	EXPECT_EQ(WEXITSTATUS(status), 0);
	EXPECT_TRUE(check(small, kSmall, 1));
	EXPECT_TRUE(check(big, kBig, 2));
	EXPECT_TRUE(check(al, 3000, 3));
	EXPECT_TRUE(on_emucxl(small));  // still the parent's emucxl blocks
	PM(free)(small);
	PM(free)(big);
	PM(free)(al);
}

TEST(Fork, ForkThenExec)
{
	void *p = PM(malloc)(100);
	const pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		// A shell that forks itself ($(...)) under the same preload (interposed build).
		execl("/bin/sh", "sh", "-c", "x=$(echo hi); test \"$x\" = hi", static_cast<char *>(nullptr));
		_exit(127);
	}
	int status = 0;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
	PM(free)(p);
}

// ---- policies (the ctest entry sets the environment) ---------------------------------

TEST(PolicyRemote, EverythingOnRemote)
{
	for (std::size_t n : {std::size_t{8}, std::size_t{3000}, std::size_t{1} << 20}) {
		void *p = PM(malloc)(n);
		EXPECT_EQ(node_of(p), EMUCXL_REMOTE_NODE) << n;
		void *q = PM(realloc)(p, n * 3);
		EXPECT_EQ(node_of(q), EMUCXL_REMOTE_NODE) << n;
		PM(free)(q);
	}
}

TEST(PolicyLocal, EverythingOnLocal)
{
	for (std::size_t n : {std::size_t{8}, std::size_t{3000}, std::size_t{1} << 20}) {
		void *p = PM(calloc)(1, n);
		EXPECT_EQ(node_of(p), EMUCXL_LOCAL_NODE) << n;
		PM(free)(p);
	}
}

// EMUCXL_PRELOAD_MIN_SIZE=4096
TEST(PolicyMinSize, SplitsAtTheSize)
{
	void *small = PM(malloc)(4095), *big = PM(malloc)(4096);
	EXPECT_EQ(node_of(small), EMUCXL_LOCAL_NODE);
	EXPECT_EQ(node_of(big), EMUCXL_REMOTE_NODE);
	fill(small, 4095, 1);
	small = PM(realloc)(small, 10000);  // grown past the size: moves to remote
	EXPECT_EQ(node_of(small), EMUCXL_REMOTE_NODE);
	EXPECT_TRUE(check(small, 4095, 1));
	big = PM(realloc)(big, 100);  // shrunk below it: local
	EXPECT_EQ(node_of(big), EMUCXL_LOCAL_NODE);
	PM(free)(small);
	PM(free)(big);
}

// EMUCXL_PRELOAD_LOCAL_LIMIT=1M
TEST(PolicyLocalLimit, SpillsToRemotePastTheLimit)
{
	constexpr std::size_t kBlock = 64 << 10, kLimit = 1 << 20;
	std::vector<void *> blocks;
	std::size_t local = 0, remote = 0;
	for (int i = 0; i < 48; i++) {
		void *p = PM(malloc)(kBlock);
		ASSERT_NE(p, nullptr);
		(node_of(p) == EMUCXL_LOCAL_NODE ? local : remote) += kBlock;
		blocks.push_back(p);
	}
	// Whatever else is live (the test runner's own heap) shares the limit.
	EXPECT_LE(local, kLimit);
	EXPECT_GE(local, kLimit - 4 * kBlock);
	EXPECT_EQ(local + remote, 48 * kBlock);
	for (void *p : blocks)
		PM(free)(p);
	void *again = PM(malloc)(kBlock);  // room again once freed
	EXPECT_EQ(node_of(again), EMUCXL_LOCAL_NODE);
	PM(free)(again);
}

// EMUCXL_PRELOAD_INTERLEAVE=1:3, run alone: the split is over every byte placed
// since the start, so earlier tests would tilt this window.
TEST(PolicyInterleave, SplitsBytesByWeight)
{
	std::vector<void *> blocks;
	std::size_t bytes[2] = {0, 0};
	std::mt19937 rng(7);
	for (int i = 0; i < 2000; i++) {
		const std::size_t n = 16 + rng() % 8000;
		void *p = PM(malloc)(n);
		bytes[node_of(p)] += n;
		blocks.push_back(p);
	}
	const double share = static_cast<double>(bytes[0]) / static_cast<double>(bytes[0] + bytes[1]);
	EXPECT_NEAR(share, 0.25, 0.02);
	for (void *p : blocks)
		PM(free)(p);
}

}  // namespace
