// SPDX-License-Identifier: Apache-2.0
// cused_device_test.cpp - emucxl-cused's ABI semantics and memfd data plane
// (backends/cuse/daemon/device.cpp, memfd_region.cpp) driven directly, with
// this process as the client: no CUSE needed, so this runs on any host,
// on whatever NUMA node 0 is. The same requests through a real CUSE device,
// across processes and on a two-node machine, are tests/abi/abi_test.cpp's job.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <atomic>
#include <thread>
#include <vector>

#include "abi_util.hpp"
#include "device.hpp"
#include "nodes.hpp"
#include "placement.hpp"

using namespace emucxl::test;
using emucxl::cused::Device;
using emucxl::cused::IoctlReply;
using emucxl::cused::NodeSetup;

namespace {

pid_t self_tid() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

std::uint64_t page() { return static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)); }

class CusedDevice : public ::testing::Test {
protected:
	// Small, so that an unprivileged run stays within a default
	// RLIMIT_MEMLOCK (the daemon mlocks what it places).
	static constexpr std::uint64_t kLocalCap = 8 * kMiB;
	static constexpr std::uint64_t kRemoteCap = 4 * kMiB;

	void SetUp() override
	{
		struct rlimit rl{};
		if (::geteuid() != 0 && ::getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
		    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 8 * kMiB)
			GTEST_SKIP() << "the daemon pins what it places (mlock): needs root or "
					"ulimit -l >= 8192 (it is " << rl.rlim_cur / 1024 << " KiB)";
		const auto mem = emucxl::cused::node_memory(0);
		ASSERT_GT(mem.usable, 0u) << "/proc/zoneinfo lists no memory for node 0";
		NodeSetup nodes[2];
		nodes[0] = {0, kLocalCap, mem.usable, true};
		nodes[1] = {0, kRemoteCap, mem.usable, true};  // one node: remote shares it
		dev_ = std::make_unique<Device>(nodes, static_cast<std::uint32_t>(page()));
		observer_ = open(O_RDONLY);
		id_ = open(O_RDWR);
		ASSERT_EQ(init(id_), 0);
	}

	void TearDown() override
	{
		if (!dev_)
			return;
		dev_->release_session(id_);
		const emucxl_stats s = stats();
		EXPECT_EQ(s.sessions, 1u);
		for (int n = 0; n < 2; n++) {
			EXPECT_EQ(s.node[n].allocated, 0u) << "node " << n;
			EXPECT_EQ(s.node[n].allocations, 0u) << "node " << n;
		}
		dev_->release_session(observer_);
	}

	std::uint64_t open(int flags)
	{
		auto id = dev_->open_session(flags);
		EXPECT_TRUE(id.ok());
		return id.value();
	}

	// One ioctl as the CUSE glue issues it: the argument in, the reply out.
	template <class T>
	int call(std::uint64_t id, unsigned cmd, T *arg)
	{
		IoctlReply r = dev_->ioctl(id, self_tid(), cmd, arg, sizeof(*arg));
		if (r.out_len) {
			EXPECT_EQ(r.out_len, sizeof(*arg));
			std::memcpy(arg, r.data(), sizeof(*arg));
		}
		return -r.result;
	}

	int init(std::uint64_t id)
	{
		emucxl_init in{};
		in.abi_version = EMUCXL_ABI_VERSION;
		return call(id, EMUCXL_INIT, &in);
	}

	Alloc alloc(std::uint64_t id, std::uint64_t size, unsigned node, int memfd,
		    std::uint32_t flags = EMUCXL_ALLOC_MEMFD)
	{
		emucxl_alloc a{};
		a.size = size;
		a.node = node;
		a.flags = flags;
		a.memfd = memfd;
		Alloc r;
		r.err = call(id, EMUCXL_ALLOC, &a);
		r.handle = a.handle;
		r.offset = a.offset;
		r.size = a.size;
		return r;
	}

	int free(std::uint64_t id, std::uint64_t handle)
	{
		emucxl_free f{};
		f.handle = handle;
		return call(id, EMUCXL_FREE, &f);
	}

	emucxl_stats stats()
	{
		emucxl_stats s{};
		EXPECT_EQ(call(observer_, EMUCXL_STATS, &s), 0);
		return s;
	}

	std::unique_ptr<Device> dev_;
	std::uint64_t observer_ = 0;  // a read-only session that asks for STATS
	std::uint64_t id_ = 0;        // the session under test
};

TEST_F(CusedDevice, InfoDescribesTheDaemon)
{
	emucxl_info info{};
	ASSERT_EQ(call(id_, EMUCXL_INFO, &info), 0);
	EXPECT_EQ(info.abi_version, static_cast<std::uint32_t>(EMUCXL_ABI_VERSION));
	EXPECT_EQ(info.impl, static_cast<std::uint32_t>(EMUCXL_IMPL_CUSE));
	EXPECT_EQ(info.caps, EMUCXL_CAP_MEMFD | EMUCXL_CAP_PINNED | EMUCXL_CAP_STRICT_NODE)
		<< "no EMUCXL_CAP_MMAP: CUSE cannot mmap";
	EXPECT_EQ(info.page_size, page());
	EXPECT_EQ(info.nr_nodes, 2u);
	EXPECT_EQ(info.node[0].capacity, kLocalCap);
	EXPECT_EQ(info.node[1].capacity, kRemoteCap);
	for (const auto &n : info.node) {
		EXPECT_EQ(n.physical_node, 0u);
		EXPECT_EQ(n.flags, static_cast<std::uint32_t>(EMUCXL_NODE_HAS_CPUS | EMUCXL_NODE_SHARED));
		EXPECT_GT(n.total, 0u);
	}
}

TEST_F(CusedDevice, StatsCountSessions)
{
	EXPECT_EQ(stats().sessions, 2u);
	const auto other = open(O_RDONLY);
	EXPECT_EQ(stats().sessions, 3u);
	dev_->release_session(other);
	EXPECT_EQ(stats().sessions, 2u);
	const emucxl_stats s = stats();
	EXPECT_EQ(s.nr_nodes, 2u);
	EXPECT_EQ(s.node[1].capacity, kRemoteCap);
	EXPECT_LE(s.node[1].free, kRemoteCap);
}

TEST_F(CusedDevice, InitNegotiatesTheAbi)
{
	emucxl_init in{};
	in.abi_version = (EMUCXL_ABI_MAJOR + 1) << 16;
	EXPECT_EQ(call(id_, EMUCXL_INIT, &in), EPROTONOSUPPORT);
	EXPECT_EQ(in.abi_version, static_cast<std::uint32_t>(EMUCXL_ABI_VERSION))
		<< "the server's version is written back even when refused";
	in = {};
	in.abi_version = EMUCXL_ABI_VERSION;
	in.flags = 1;
	EXPECT_EQ(call(id_, EMUCXL_INIT, &in), EINVAL);
	in.flags = 0;
	in.reserved[0] = 1;
	EXPECT_EQ(call(id_, EMUCXL_INIT, &in), EINVAL);
}

TEST_F(CusedDevice, ReadOnlySessionsCannotInit_EBADF)
{
	const auto ro = open(O_RDONLY);
	EXPECT_EQ(init(ro), EBADF);
	auto memfd = make_memfd(page());
	EXPECT_EQ(alloc(ro, page(), 0, memfd.get()).err, EBADFD);
	emucxl_info info{};
	EXPECT_EQ(call(ro, EMUCXL_INFO, &info), 0);
	dev_->release_session(ro);
}

TEST_F(CusedDevice, AllocAndFreeBeforeInit_EBADFD)
{
	const auto s = open(O_RDWR);
	auto memfd = make_memfd(page());
	EXPECT_EQ(alloc(s, page(), 0, memfd.get()).err, EBADFD);
	EXPECT_EQ(free(s, 1), EBADFD);
	dev_->release_session(s);
}

TEST_F(CusedDevice, UnknownCommandsShortArgumentsAndSessions)
{
	std::uint64_t buf[32] = {};
	EXPECT_EQ(-dev_->ioctl(id_, self_tid(), _IO(EMUCXL_IOC_MAGIC, 0x7f), buf, 0).result, ENOTTY);
	EXPECT_EQ(-dev_->ioctl(id_, self_tid(), _IOWR(EMUCXL_IOC_MAGIC, 0x02, std::uint64_t), buf, 8)
			   .result,
		  ENOTTY);
	EXPECT_EQ(-dev_->ioctl(id_, self_tid(), EMUCXL_ALLOC, buf, 8).result, EFAULT);
	EXPECT_EQ(-dev_->ioctl(id_, self_tid(), EMUCXL_ALLOC, nullptr, 56).result, EFAULT);
	EXPECT_EQ(-dev_->ioctl(987654, self_tid(), EMUCXL_INFO, nullptr, 0).result, EBADF);
}

TEST_F(CusedDevice, AllocRejectsBadArguments)
{
	auto memfd = make_memfd(page());
	auto try_alloc = [&](auto mutate) {
		emucxl_alloc a{};
		a.size = page();
		a.node = 1;
		a.flags = EMUCXL_ALLOC_MEMFD;
		a.memfd = memfd.get();
		mutate(a);
		return call(id_, EMUCXL_ALLOC, &a);
	};
	EXPECT_EQ(try_alloc([](emucxl_alloc &a) { a.size = 0; }), EINVAL);
	EXPECT_EQ(try_alloc([](emucxl_alloc &a) { a.node = 2; }), EINVAL);
	EXPECT_EQ(try_alloc([](emucxl_alloc &a) { a.flags |= 2; }), EINVAL);
	EXPECT_EQ(try_alloc([](emucxl_alloc &a) { a.pad = 1; }), EINVAL);
	EXPECT_EQ(try_alloc([](emucxl_alloc &a) { a.reserved[1] = 1; }), EINVAL);
	EXPECT_EQ(try_alloc([](emucxl_alloc &a) { a.flags = 0; }), EOPNOTSUPP)
		<< "without EMUCXL_ALLOC_MEMFD there is nothing to map: CUSE has no mmap";
	EXPECT_EQ(try_alloc([](emucxl_alloc &a) {
			  a.flags = 0;
			  a.memfd = 0;
		  }),
		  EOPNOTSUPP);
	EXPECT_EQ(stats().node[1].allocated, 0u);
}

TEST_F(CusedDevice, MemfdThatIsNotOpenIs_EBADF)
{
	EXPECT_EQ(alloc(id_, page(), 0, -1).err, EBADF);
	EXPECT_EQ(alloc(id_, page(), 0, 1 << 30).err, EBADF);
	// A high number: the daemon runs in this very process here, and its
	// own descriptors (the pidfd) take the lowest free numbers.
	const int closed = ::fcntl(0, F_DUPFD_CLOEXEC, 900);
	ASSERT_GE(closed, 900);
	::close(closed);
	EXPECT_EQ(alloc(id_, page(), 0, closed).err, EBADF);
}

TEST_F(CusedDevice, DescriptorThatIsNoUsableMemfdIs_EINVAL)
{
	const std::uint64_t ps = page();
	int fds[2];
	ASSERT_EQ(::pipe(fds), 0);
	Fd rd(fds[0]), wr(fds[1]);
	EXPECT_EQ(alloc(id_, ps, 0, rd.get()).err, EINVAL) << "a pipe";
	Fd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
	EXPECT_EQ(alloc(id_, ps, 0, null.get()).err, EINVAL) << "a device";
	Fd dir(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	EXPECT_EQ(alloc(id_, ps, 0, dir.get()).err, EINVAL) << "a directory";

	auto unsealable = make_memfd(ps, MFD_CLOEXEC);
	EXPECT_EQ(alloc(id_, ps, 0, unsealable.get()).err, EINVAL) << "no MFD_ALLOW_SEALING";

	auto wrong_size = make_memfd(2 * ps);
	EXPECT_EQ(alloc(id_, ps, 0, wrong_size.get()).err, EINVAL) << "larger than the allocation";
	EXPECT_EQ(alloc(id_, 3 * ps, 0, wrong_size.get()).err, EINVAL) << "smaller";

	auto touched = make_memfd(ps);
	void *p = map_memfd(touched.get(), ps);
	ASSERT_NE(p, MAP_FAILED);
	static_cast<char *>(p)[0] = 1;
	::munmap(p, ps);
	EXPECT_EQ(alloc(id_, ps, 0, touched.get()).err, EINVAL) << "pages placed before binding";

	auto sealed = make_memfd(ps, MFD_CLOEXEC | MFD_ALLOW_SEALING, kMemfdSeals | F_SEAL_WRITE);
	ASSERT_TRUE(sealed);
	EXPECT_EQ(alloc(id_, ps, 0, sealed.get()).err, EINVAL) << "sealed against writing";
	auto future = make_memfd(ps, MFD_CLOEXEC | MFD_ALLOW_SEALING,
				 kMemfdSeals | F_SEAL_FUTURE_WRITE);
	ASSERT_TRUE(future);
	EXPECT_EQ(alloc(id_, ps, 0, future.get()).err, EINVAL) << "sealed against future writes";

	// The daemon changes nothing in a client's file: the client seals it.
	auto unsealed = make_memfd(ps, MFD_CLOEXEC | MFD_ALLOW_SEALING, 0);
	EXPECT_EQ(alloc(id_, ps, 0, unsealed.get()).err, EINVAL) << "no seals";
	auto open_seals = make_memfd(ps, MFD_CLOEXEC | MFD_ALLOW_SEALING, F_SEAL_SHRINK | F_SEAL_GROW);
	EXPECT_EQ(alloc(id_, ps, 0, open_seals.get()).err, EINVAL)
		<< "without F_SEAL_SEAL the client could add a write seal after ALLOC";
	auto empty = make_memfd(0);
	EXPECT_EQ(alloc(id_, ps, 0, empty.get()).err, EINVAL) << "size 0: the client sizes it";
	struct stat est{};
	ASSERT_EQ(::fstat(empty.get(), &est), 0);
	EXPECT_EQ(est.st_size, 0) << "and the daemon did not";

	auto rw = make_memfd(ps);
	char path[64];
	std::snprintf(path, sizeof(path), "/proc/self/fd/%d", rw.get());
	Fd ro(::open(path, O_RDONLY | O_CLOEXEC));
	ASSERT_TRUE(ro);
	EXPECT_EQ(alloc(id_, ps, 0, ro.get()).err, EINVAL)
		<< "a read-only descriptor must not become writable through the daemon";

	const emucxl_stats s = stats();
	EXPECT_EQ(s.node[0].allocated, 0u);
	EXPECT_EQ(s.node[0].failures, 0u) << "bad arguments are not ENOMEM failures";
}

TEST_F(CusedDevice, AllocPlacesAndPinsTheSealedMemfd)
{
	const std::uint64_t size = 1 * kMiB + 1;
	auto memfd = make_memfd(1 * kMiB + page());  // sized and sealed by the client
	Alloc a = alloc(id_, size, 0, memfd.get());
	ASSERT_EQ(a.err, 0);
	EXPECT_EQ(a.handle, 1u);
	EXPECT_EQ(a.offset, 0u);
	EXPECT_EQ(a.size, 1 * kMiB + page());
	struct stat st{};
	ASSERT_EQ(::fstat(memfd.get(), &st), 0);
	EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), a.size);
	EXPECT_EQ(static_cast<std::uint64_t>(st.st_blocks) * 512, a.size) << "populated";
	EXPECT_EQ(::ftruncate(memfd.get(), 0), -1) << "sealed against shrinking";
	EXPECT_EQ(errno, EPERM);
	EXPECT_EQ(::ftruncate(memfd.get(), static_cast<off_t>(2 * a.size)), -1)
		<< "and against growing";
	EXPECT_EQ(::fcntl(memfd.get(), F_ADD_SEALS, F_SEAL_FUTURE_WRITE), -1)
		<< "F_SEAL_SEAL: no write seal can stop the punch at FREE";
	EXPECT_EQ(errno, EPERM);
	EXPECT_EQ(::fcntl(memfd.get(), F_GET_SEALS), kMemfdSeals);

	void *p = map_memfd(memfd.get(), a.size);
	ASSERT_NE(p, MAP_FAILED);
	EXPECT_TRUE(all_zero(p, a.size));
	fill(p, a.size, 1);
	EXPECT_TRUE(check(p, a.size, 1));
	const auto nodes = page_nodes(p, a.size);
	EXPECT_TRUE(all_on(nodes, 0)) << describe(nodes);

	emucxl_stats s = stats();
	EXPECT_EQ(s.node[0].allocated, a.size);
	EXPECT_EQ(s.node[0].allocations, 1u);
	EXPECT_GE(s.node[0].peak, a.size);

	EXPECT_EQ(alloc(id_, a.size, 0, memfd.get()).err, EINVAL) << "one memfd backs one allocation";

	ASSERT_EQ(free(id_, a.handle), 0);
	ASSERT_EQ(::fstat(memfd.get(), &st), 0);
	EXPECT_EQ(st.st_blocks, 0) << "FREE takes the pages out of the memfd at once";
	EXPECT_TRUE(all_zero(p, a.size)) << "what is left mapped is fresh, ordinary memory";
	s = stats();
	EXPECT_EQ(s.node[0].allocated, 0u);
	EXPECT_EQ(s.node[0].allocations, 0u);
	::munmap(p, a.size);
}

TEST_F(CusedDevice, HandlesAreCyclicAndSessionLocal)
{
	std::vector<Fd> memfds;
	std::vector<std::uint64_t> handles;
	for (int i = 0; i < 3; i++) {
		memfds.push_back(make_memfd(page()));
		Alloc a = alloc(id_, page(), 1, memfds.back().get());
		ASSERT_EQ(a.err, 0);
		handles.push_back(a.handle);
	}
	EXPECT_EQ(handles, (std::vector<std::uint64_t>{1, 2, 3}));
	ASSERT_EQ(free(id_, 2), 0);
	memfds.push_back(make_memfd(page()));
	EXPECT_EQ(alloc(id_, page(), 1, memfds.back().get()).handle, 4u) << "cyclic, like the module";

	const auto other = open(O_RDWR);
	ASSERT_EQ(init(other), 0);
	EXPECT_EQ(free(other, 1), ENOENT) << "another session's handle";
	emucxl_exit ex{};
	ASSERT_EQ(call(other, EMUCXL_EXIT, &ex), 0);
	EXPECT_EQ(ex.freed, 0u);
	dev_->release_session(other);
	EXPECT_EQ(stats().node[1].allocations, 3u);
}

TEST_F(CusedDevice, FreeRejectsBadHandles)
{
	EXPECT_EQ(free(id_, 0), ENOENT);
	EXPECT_EQ(free(id_, 12345), ENOENT);
	EXPECT_EQ(free(id_, 1ULL << 40), ENOENT);
	auto memfd = make_memfd(page());
	Alloc a = alloc(id_, page(), 0, memfd.get());
	ASSERT_EQ(a.err, 0);
	emucxl_free f{};
	f.handle = a.handle;
	f.pad = 1;
	EXPECT_EQ(call(id_, EMUCXL_FREE, &f), EINVAL);
	EXPECT_EQ(free(id_, a.handle), 0);
	EXPECT_EQ(free(id_, a.handle), ENOENT) << "double free";
}

TEST_F(CusedDevice, CapacityIsEnforcedAndFailuresCounted)
{
	auto big = make_memfd(0);
	EXPECT_EQ(alloc(id_, kRemoteCap + 1, 1, big.get()).err, ENOMEM);
	EXPECT_EQ(alloc(id_, UINT64_MAX, 1, big.get()).err, ENOMEM);
	EXPECT_EQ(alloc(id_, UINT64_MAX - 4095, 0, big.get()).err, ENOMEM);
	emucxl_stats s = stats();
	EXPECT_EQ(s.node[1].failures, 2u);
	EXPECT_EQ(s.node[0].failures, 1u);

	std::vector<Fd> memfds;
	std::uint64_t total = 0;
	for (;;) {
		memfds.push_back(make_memfd(1 * kMiB));
		Alloc a = alloc(id_, 1 * kMiB, 1, memfds.back().get());
		if (a.err) {
			EXPECT_EQ(a.err, ENOMEM);
			break;
		}
		total += a.size;
	}
	EXPECT_EQ(total, kRemoteCap);
	s = stats();
	EXPECT_EQ(s.node[1].allocated, kRemoteCap);
	EXPECT_EQ(s.node[1].free, 0u);
	EXPECT_EQ(s.node[1].failures, 3u);
	EXPECT_EQ(s.node[1].peak, kRemoteCap);
	struct stat st{};
	ASSERT_EQ(::fstat(memfds.back().get(), &st), 0);
	EXPECT_EQ(st.st_blocks, 0) << "a refused memfd is left untouched";
}

TEST_F(CusedDevice, ExitAndReleaseFreeEverything)
{
	std::vector<Fd> memfds;
	for (int i = 0; i < 4; i++) {
		memfds.push_back(make_memfd(64 * kKiB));
		ASSERT_EQ(alloc(id_, 64 * kKiB, i % 2, memfds.back().get()).err, 0);
	}
	emucxl_exit ex{};
	ASSERT_EQ(call(id_, EMUCXL_EXIT, &ex), 0);
	EXPECT_EQ(ex.freed, 4u);
	EXPECT_EQ(stats().node[0].allocated + stats().node[1].allocated, 0u);
	auto fresh = make_memfd(page());
	EXPECT_EQ(alloc(id_, page(), 0, fresh.get()).err, EBADFD) << "EXIT closes the session";
	ex = {};
	ex.reserved[1] = 1;
	EXPECT_EQ(call(id_, EMUCXL_EXIT, &ex), EINVAL);

	ASSERT_EQ(init(id_), 0);
	const auto s = open(O_RDWR);
	ASSERT_EQ(init(s), 0);
	ASSERT_EQ(alloc(s, 4 * kMiB, 1, fresh.get()).err, EINVAL) << "size mismatch";
	auto m = make_memfd(4 * kMiB);
	ASSERT_EQ(alloc(s, 4 * kMiB, 1, m.get()).err, 0);
	EXPECT_EQ(stats().node[1].allocated, 4 * kMiB);
	dev_->release_session(s);  // the last close, exit or SIGKILL
	EXPECT_EQ(stats().node[1].allocated, 0u);
	struct stat st{};
	ASSERT_EQ(::fstat(m.get(), &st), 0);
	EXPECT_EQ(st.st_blocks, 0);
}

TEST_F(CusedDevice, CancelledAllocIsFreed)
{
	auto m = make_memfd(page());
	Alloc a = alloc(id_, page(), 1, m.get());
	ASSERT_EQ(a.err, 0);
	dev_->cancel_alloc(id_, a.handle);
	EXPECT_EQ(free(id_, a.handle), ENOENT);
	EXPECT_EQ(stats().node[1].allocated, 0u);
}

TEST_F(CusedDevice, ShutdownLeavesMappedMemoryToTheClient)
{
	auto m = make_memfd(16 * page());
	Alloc a = alloc(id_, 16 * page(), 1, m.get());
	ASSERT_EQ(a.err, 0);
	void *p = map_memfd(m.get(), a.size);
	ASSERT_NE(p, MAP_FAILED);
	fill(p, a.size, 9);
	dev_->shutdown();
	EXPECT_TRUE(check(p, a.size, 9)) << "a daemon that stops behaves as one that died";
	::munmap(p, a.size);
	observer_ = open(O_RDONLY);
	const emucxl_stats s = stats();
	EXPECT_EQ(s.sessions, 1u);
	EXPECT_EQ(s.node[1].allocated, 0u);
	EXPECT_EQ(s.node[1].allocations, 0u);
	id_ = open(O_RDWR);
}

TEST_F(CusedDevice, ConcurrentAllocFree)
{
	constexpr int kThreads = 4, kRounds = 100;
	std::atomic<int> errors{0};
	std::vector<std::thread> threads;
	for (int t = 0; t < kThreads; t++) {
		threads.emplace_back([&, t] {
			for (int i = 0; i < kRounds; i++) {
				const std::uint64_t size = page() * (1 + (i * 7 + t) % 32);
				auto m = make_memfd(size);
				Alloc a = alloc(id_, size, (i + t) % 2, m.get());
				if (a.err) {
					errors++;
					continue;
				}
				void *p = map_memfd(m.get(), size);
				if (p == MAP_FAILED || !all_zero(p, size))
					errors++;
				else
					::munmap(p, size);
				if (free(id_, a.handle))
					errors++;
			}
		});
	}
	for (auto &th : threads)
		th.join();
	EXPECT_EQ(errors.load(), 0);
}

// Both logical nodes of this fixture are physical node 0 (8 and 4 MiB):
// together they may hold the larger capacity, not the sum.
TEST_F(CusedDevice, LogicalNodesOnOnePhysicalNodeShareOneCapacity)
{
	std::vector<Fd> memfds;
	std::uint64_t held = 0;
	for (;;) {
		memfds.push_back(make_memfd(1 * kMiB));
		Alloc a = alloc(id_, 1 * kMiB, 0, memfds.back().get());
		if (a.err) {
			EXPECT_EQ(a.err, ENOMEM);
			break;
		}
		held += a.size;
	}
	EXPECT_EQ(held, kLocalCap);
	memfds.push_back(make_memfd(page()));
	EXPECT_EQ(alloc(id_, page(), 1, memfds.back().get()).err, ENOMEM)
		<< "logical node 1 is the same physical node, which is full";
	const emucxl_stats s = stats();
	EXPECT_EQ(s.node[1].free, 0u) << "and STATS says so";
	EXPECT_EQ(s.node[1].allocated, 0u);
	emucxl_exit ex{};
	ASSERT_EQ(call(id_, EMUCXL_EXIT, &ex), 0);
	ASSERT_EQ(init(id_), 0);
	memfds.push_back(make_memfd(page()));
	EXPECT_EQ(alloc(id_, page(), 1, memfds.back().get()).err, 0) << "room again after EXIT";
}

// Quotas per session and per uid (count and bytes): EDQUOT, and whoever is
// within theirs is still served.
TEST(CusedDeviceLimits, SessionAndUidQuotasAre_EDQUOT)
{
	struct rlimit rl{};
	if (::geteuid() != 0 && ::getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 8 * kMiB)
		GTEST_SKIP() << "the daemon pins what it places (mlock): needs root or ulimit -l >= 8192";
	const auto mem = emucxl::cused::node_memory(0);
	NodeSetup nodes[2];
	nodes[0] = {0, 8 * kMiB, mem.usable, true};
	nodes[1] = {0, 8 * kMiB, mem.usable, true};
	emucxl::cused::Limits lim;
	lim.session_allocations = 3;
	lim.uid_allocations = 5;
	lim.session_bytes = 2 * kMiB;
	lim.allocations = 7;
	Device dev(nodes, static_cast<std::uint32_t>(page()), lim);
	auto call = [&](std::uint64_t id, unsigned cmd, auto *arg) {
		IoctlReply r = dev.ioctl(id, self_tid(), cmd, arg, sizeof(*arg));
		if (r.out_len)
			std::memcpy(arg, r.data(), sizeof(*arg));
		return -r.result;
	};
	auto session = [&](uid_t uid) {
		const std::uint64_t id = dev.open_session(O_RDWR, uid).value();
		emucxl_init in{};
		in.abi_version = EMUCXL_ABI_VERSION;
		EXPECT_EQ(call(id, EMUCXL_INIT, &in), 0);
		return id;
	};
	std::vector<Fd> memfds;
	auto alloc = [&](std::uint64_t id, std::uint64_t size) {
		memfds.push_back(make_memfd(size));
		emucxl_alloc a{};
		a.size = size;
		a.node = 1;
		a.flags = EMUCXL_ALLOC_MEMFD;
		a.memfd = memfds.back().get();
		return call(id, EMUCXL_ALLOC, &a);
	};
	const auto a1 = session(1000), a2 = session(1000), b = session(2000);
	EXPECT_EQ(alloc(a1, 2 * kMiB), 0);
	EXPECT_EQ(alloc(a1, page()), EDQUOT) << "session bytes";
	EXPECT_EQ(alloc(a2, page()), 0);
	EXPECT_EQ(alloc(a2, page()), 0);
	EXPECT_EQ(alloc(a2, page()), 0);
	EXPECT_EQ(alloc(a2, page()), EDQUOT) << "session count";
	const auto a3 = session(1000);
	EXPECT_EQ(alloc(a3, page()), 0);
	EXPECT_EQ(alloc(a3, page()), EDQUOT) << "uid count (5)";
	emucxl_stats st{};
	EXPECT_EQ(call(b, EMUCXL_STATS, &st), 0);
	EXPECT_EQ(st.node[1].failures, 0u) << "quotas are not ENOMEM failures";
	EXPECT_EQ(alloc(b, page()), 0) << "another uid is served";
	EXPECT_EQ(alloc(b, page()), 0);
	EXPECT_EQ(alloc(b, page()), ENOMEM) << "the daemon's total (7 mappings) is reached";
	dev.release_session(a1);
	EXPECT_EQ(alloc(b, page()), 0) << "a released session's quota comes back";
	for (auto id : {a2, a3, b})
		dev.release_session(id);
	EXPECT_EQ(call(dev.open_session(O_RDONLY).value(), EMUCXL_STATS, &st), 0);
	EXPECT_EQ(st.node[1].allocated, 0u);
}

}  // namespace
