// SPDX-License-Identifier: Apache-2.0
// cuse_attack_test.cpp - hostile clients against emucxl-cused (issue 12):
// each test mounts one attack on a private daemon (daemon_util.hpp) and then
// checks that the attacker failed, that another client, of another uid, is
// still served within a bounded time, and that the usage is back where it
// started.
//
//   KeepingPagesAfterFree          F_SEAL_FUTURE_WRITE added after ALLOC made
//                                  the punch at FREE fail (EPERM): the pages
//                                  stayed in the client's memfd
//   InodeLockHolderCannotHangAlloc a client holding its memfd's inode lock
//                                  (a write() from a userfaultfd page nobody
//                                  serves) while the daemon truncated and
//                                  sealed that memfd in ALLOC: every worker
//   BlockedPunchesDoNotHangFree    the same lock held across FREE, whose
//                                  punch needs it
//   RequestsInFlightAreCapped      EAGAIN beyond the caps, per session/uid
//   OneUidCannotExhaustTheMappings vm.max_map_count: one mapping per
//                                  allocation, all of them taken by one uid
//   QuotasAre_EDQUOT               per session / per uid, count and bytes
//   OnePhysicalNodeHasOneCapacity  local and remote on the same node each
//                                  had their own capacity
//   ThreadWithItsOwnFdTable        the memfd is taken from the calling
//                                  thread's table, or refused, never another
//   SwappedDescriptorNeverReachesTheVictim  a thread swapping descriptor N
//                                  (a read-only victim / its inode-number
//                                  twin) between the daemon's two lookups
//                                  got the victim reopened O_RDWR, truncated
//   FailedOpenReplyLeavesNoSession a reply to OPEN that fails with anything
//                                  but -ENOENT leaked the session (fault
//                                  injected: an LD_PRELOAD shim)
//   ClientCanMoveItsOwnPages       (documented, not prevented) mbind + punch
//                                  + refault puts a page elsewhere; the count
//                                  stays an upper bound, FREE takes it too
//
// Needs root, /dev/cuse and userfaultfd: runs in the vm/ guest
// (tests/vm/cuse_attacks.sh), skips elsewhere.
#include <gtest/gtest.h>
#include <linux/userfaultfd.h>
#include <numaif.h>
#include <poll.h>
#include <sched.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

#include "abi_util.hpp"
#include "daemon_util.hpp"
#include "placement.hpp"

using namespace emucxl::test;

namespace {

constexpr double kBound = 10.0;  // seconds anyone may wait for an answer
constexpr uid_t kOtherUid = 65534;  // nobody: the victim's uid

std::uint64_t page() { return static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)); }

// A page registered with a userfaultfd that nobody serves: a write() from it
// into a file blocks in the kernel, holding that file's inode lock, until
// release() closes the userfaultfd (the faults then resolve normally).
class StuckWriters {
public:
	~StuckWriters() { release(); }

	std::string start()
	{
		uffd_ = Fd(static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK)));
		if (!uffd_)
			return std::string("userfaultfd: ") + std::strerror(errno);
		uffdio_api api{};
		api.api = UFFD_API;
		if (::ioctl(uffd_.get(), UFFDIO_API, &api) != 0)
			return std::string("UFFDIO_API: ") + std::strerror(errno);
		page_ = ::mmap(nullptr, page(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (page_ == MAP_FAILED)
			return "mmap";
		uffdio_register reg{};
		reg.range.start = reinterpret_cast<std::uintptr_t>(page_);
		reg.range.len = page();
		reg.mode = UFFDIO_REGISTER_MODE_MISSING;
		if (::ioctl(uffd_.get(), UFFDIO_REGISTER, &reg) != 0)
			return std::string("UFFDIO_REGISTER: ") + std::strerror(errno);
		return "";
	}

	// A thread that write()s the page into `fd` and hangs there.
	void block(int fd)
	{
		threads_.emplace_back([this, fd] { (void)::pwrite(fd, page_, page(), 0); });
	}

	// Wait until the kernel has reported the first fault, and a moment for
	// the others.
	bool wait_blocked()
	{
		struct pollfd p = {uffd_.get(), POLLIN, 0};
		if (::poll(&p, 1, 5000) != 1)
			return false;
		std::this_thread::sleep_for(std::chrono::milliseconds(300));
		return true;
	}

	void release()
	{
		uffd_.reset();
		for (auto &t : threads_)
			t.join();
		threads_.clear();
		if (page_ && page_ != MAP_FAILED)
			::munmap(page_, page());
		page_ = nullptr;
	}

private:
	Fd uffd_;
	void *page_ = nullptr;
	std::vector<std::thread> threads_;
};

// A victim in a child process of another uid: opens `dev`, INFO, INIT,
// ALLOC + map + check + FREE of 1 MiB on the remote node. The result is
// its exit status (0 served, else the errno of what failed, 99 for a wrong
// answer); -1 if it got no answer within kBound (it is then SIGKILLed and
// left unreaped: a request the daemon holds keeps it until the daemon
// answers or dies, and waiting here could wait for ever).
class Victim {
public:
	explicit Victim(const std::string &dev) : dev_(dev) {}

	void start()
	{
		pid_ = ::fork();
		if (pid_ == 0) {
			// Nothing of the parent's: a victim stuck in a hung daemon
			// must not keep the attacker's userfaultfd alive.
			(void)::syscall(SYS_close_range, 3U, ~0U, 0U);
			if (::setgid(kOtherUid) != 0 || ::setuid(kOtherUid) != 0)
				_exit(98);
			_exit(serve());
		}
	}

	int wait()
	{
		const auto t0 = std::chrono::steady_clock::now();
		int status = 0;
		while (seconds_since(t0) < kBound) {
			if (::waitpid(pid_, &status, WNOHANG) == pid_)
				return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
		}
		::kill(pid_, SIGKILL);
		return -1;
	}

	int run()
	{
		start();
		return wait();
	}


private:
	int serve()
	{
		Fd dev(::open(dev_.c_str(), O_RDWR | O_CLOEXEC));
		if (!dev)
			return errno;
		emucxl_info info{};
		if (int e = ioc(dev.get(), EMUCXL_INFO, &info))
			return e;
		if (int e = init_session(dev.get()))
			return e;
		Fd m = make_memfd(kMiB);
		if (!m)
			return errno;
		Alloc a = alloc_memfd(dev.get(), kMiB, 1, m.get());
		if (a.err)
			return a.err;
		void *p = map_memfd(m.get(), kMiB);
		if (p == MAP_FAILED)
			return errno;
		const bool ok = all_zero(p, kMiB);
		fill(p, kMiB, 5);
		const bool ok2 = check(p, kMiB, 5);
		::munmap(p, kMiB);
		if (int e = free_handle(dev.get(), a.handle))
			return e;
		return ok && ok2 ? 0 : 99;
	}

	std::string dev_;
	pid_t pid_ = -1;
};

// ALLOC as an attacker would: with a memfd sized and sealed as the daemon
// requires, or, if the daemon refuses that (a daemon from before issue 12
// sized and sealed the memfd itself), with an empty unsealed one. The memfd
// is left in `keep`.
Alloc attacker_alloc(int dev, std::uint64_t size, unsigned node, Fd *keep)
{
	*keep = make_memfd(size);
	Alloc a = alloc_memfd(dev, size, node, keep->get());
	if (a.err == EINVAL) {
		*keep = make_memfd(0, MFD_CLOEXEC | MFD_ALLOW_SEALING, 0);
		a = alloc_memfd(dev, size, node, keep->get());
	}
	return a;
}

class CuseAttack : public ::testing::Test {
protected:
	void SetUp() override
	{
		const std::string why = cannot_run_daemon();
		if (!why.empty())
			GTEST_SKIP() << why;
	}

	// A private daemon with `args`; its device open to everyone (the
	// victim is another uid); our session on it, INITed.
	void start(std::vector<std::string> args = {}, const char *what = "a")
	{
		ASSERT_TRUE(daemon_.start(PrivateDaemon::unique_name(what), args))
			<< "emucxl-cused did not come up (status " << daemon_.exit_status() << ")";
		ASSERT_EQ(::chmod(daemon_.path().c_str(), 0666), 0);
		dev_ = session();
		ASSERT_TRUE(dev_);
		ASSERT_EQ(ioc(dev_.get(), EMUCXL_INFO, &info_), 0);
		base_ = stats();
	}

	Fd session()
	{
		Fd fd(::open(daemon_.path().c_str(), O_RDWR | O_CLOEXEC));
		if (fd && init_session(fd.get()) != 0)
			fd.reset();
		return fd;
	}

	emucxl_stats stats()
	{
		emucxl_stats s{};
		EXPECT_EQ(ioc(dev_.get(), EMUCXL_STATS, &s), 0);
		return s;
	}

	// Usage of every node back to where it was when the daemon started,
	// within kBound (punches may finish a moment after their FREE).
	void expect_back_to_base()
	{
		const auto t0 = std::chrono::steady_clock::now();
		emucxl_stats s{};
		do {
			s = stats();
			if (s.node[0].allocated == base_.node[0].allocated &&
			    s.node[1].allocated == base_.node[1].allocated &&
			    s.node[0].allocations == base_.node[0].allocations &&
			    s.node[1].allocations == base_.node[1].allocations)
				return;
			std::this_thread::sleep_for(std::chrono::milliseconds(50));
		} while (seconds_since(t0) < kBound);
		ADD_FAILURE() << "usage not back: node 0 " << s.node[0].allocated << " bytes, node 1 "
			      << s.node[1].allocated << " bytes";
	}

	void expect_alive() { EXPECT_FALSE(daemon_.exited()) << "the daemon died"; }

	PrivateDaemon daemon_;
	Fd dev_;
	emucxl_info info_{};
	emucxl_stats base_{};
};

// ---- 1. pages kept after FREE ------------------------------------------

TEST_F(CuseAttack, KeepingPagesAfterFree)
{
	start();
	// The attack on a memfd without F_SEAL_SEAL: refused now. (On a daemon
	// that accepted it, show what it led to.)
	Fd open_seals = make_memfd(kMiB, MFD_CLOEXEC | MFD_ALLOW_SEALING, 0);
	ASSERT_TRUE(open_seals);
	Alloc a = alloc_memfd(dev_.get(), kMiB, 1, open_seals.get());
	if (a.err == 0) {
		const int sealed = ::fcntl(open_seals.get(), F_ADD_SEALS, F_SEAL_FUTURE_WRITE);
		EXPECT_EQ(free_handle(dev_.get(), a.handle), 0);
		struct stat st{};
		ASSERT_EQ(::fstat(open_seals.get(), &st), 0);
		ADD_FAILURE() << "ALLOC took a memfd the client can still seal; F_SEAL_FUTURE_WRITE "
			      << (sealed == 0 ? "was added" : "was refused") << ", and after FREE "
			      << st.st_blocks * 512 << " bytes stayed in the memfd";
	} else {
		EXPECT_EQ(a.err, EINVAL) << "a memfd without F_SEAL_SEAL";
	}

	// A memfd sealed as required: the attack cannot even be made.
	Fd m = make_memfd(kMiB);
	ASSERT_TRUE(m);
	EXPECT_EQ(::fcntl(m.get(), F_GET_SEALS), kMemfdSeals);
	a = alloc_memfd(dev_.get(), kMiB, 1, m.get());
	ASSERT_EQ(a.err, 0) << "ALLOC of a sized memfd sealed SHRINK|GROW|SEAL";
	void *p = map_memfd(m.get(), kMiB);
	ASSERT_NE(p, MAP_FAILED);
	fill(p, kMiB, 3);
	EXPECT_EQ(::fcntl(m.get(), F_ADD_SEALS, F_SEAL_FUTURE_WRITE), -1);
	EXPECT_EQ(errno, EPERM) << "F_SEAL_SEAL refuses every further seal";
	EXPECT_EQ(::fcntl(m.get(), F_ADD_SEALS, F_SEAL_WRITE), -1);
	EXPECT_EQ(::fcntl(m.get(), F_GET_SEALS), kMemfdSeals);
	ASSERT_EQ(free_handle(dev_.get(), a.handle), 0);
	struct stat st{};
	ASSERT_EQ(::fstat(m.get(), &st), 0);
	EXPECT_EQ(st.st_blocks, 0) << "FREE took every page out of the memfd";
	EXPECT_TRUE(all_zero(p, kMiB)) << "what the client still maps is fresh, not node memory";
	::munmap(p, kMiB);

	EXPECT_EQ(Victim(daemon_.path()).run(), 0) << "another client is served";
	expect_back_to_base();
	expect_alive();
}

// ---- 2. a client holding its memfd's inode lock --------------------------

TEST_F(CuseAttack, InodeLockHolderCannotHangAlloc)
{
	start();
	StuckWriters stuck;
	const std::string why = stuck.start();
	if (!why.empty())
		GTEST_SKIP() << why;
	// More memfds than libfuse has workers, each locked by a write() that
	// never finishes; ALLOC names each from its own thread. A daemon that
	// truncates or seals them blocks on every one.
	constexpr int kN = 12;
	std::vector<Fd> memfds;
	for (int i = 0; i < kN; i++) {
		memfds.push_back(make_memfd(0, MFD_CLOEXEC | MFD_ALLOW_SEALING, 0));
		stuck.block(memfds.back().get());
	}
	ASSERT_TRUE(stuck.wait_blocked()) << "the writers did not block";
	std::atomic<int> answered{0}, einval{0};
	std::vector<std::thread> attackers;
	for (int i = 0; i < kN; i++)
		attackers.emplace_back([&, i] {
			Alloc a = alloc_memfd(dev_.get(), kMiB, 1, memfds[i].get());
			answered++;
			if (a.err == EINVAL)
				einval++;
		});
	const int victim = Victim(daemon_.path()).run();
	EXPECT_EQ(victim, 0) << (victim < 0 ? "the victim got no answer: the daemon hangs"
					    : "the victim was refused");
	const auto t0 = std::chrono::steady_clock::now();
	while (answered < kN && seconds_since(t0) < kBound)
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	EXPECT_EQ(answered.load(), kN) << "ALLOCs of locked memfds still unanswered";
	EXPECT_EQ(einval.load(), kN) << "an unsized, unsealed memfd is EINVAL";
	stuck.release();  // the writes finish; a hung daemon gets going again
	for (auto &t : attackers)
		t.join();
	expect_back_to_base();
	expect_alive();
}

TEST_F(CuseAttack, BlockedPunchesDoNotHangFree)
{
	start();
	StuckWriters stuck;
	const std::string why = stuck.start();
	if (!why.empty())
		GTEST_SKIP() << why;
	constexpr int kN = 12;
	std::vector<Fd> memfds;
	std::vector<std::uint64_t> handles;
	for (int i = 0; i < kN; i++) {
		memfds.emplace_back();
		Alloc a = attacker_alloc(dev_.get(), kMiB, 1, &memfds.back());
		ASSERT_EQ(a.err, 0);
		handles.push_back(a.handle);
	}
	for (auto &m : memfds)
		stuck.block(m.get());
	ASSERT_TRUE(stuck.wait_blocked()) << "the writers did not block";
	// Every FREE needs a punch, every punch the lock the client holds.
	std::atomic<int> answered{0}, ok{0};
	std::vector<std::thread> attackers;
	for (int i = 0; i < kN; i++)
		attackers.emplace_back([&, i] {
			if (free_handle(dev_.get(), handles[i]) == 0)
				ok++;
			answered++;
		});
	const int victim = Victim(daemon_.path()).run();
	EXPECT_EQ(victim, 0) << (victim < 0 ? "the victim got no answer: the daemon hangs"
					    : "the victim was refused");
	const auto t0 = std::chrono::steady_clock::now();
	while (answered < kN && seconds_since(t0) < kBound)
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	EXPECT_EQ(answered.load(), kN) << "FREEs still unanswered";
	EXPECT_EQ(ok.load(), kN);
	// The attacker's pages are still in its memfds: still counted.
	EXPECT_GE(stats().node[1].allocated, base_.node[1].allocated + page())
		<< "pages the daemon could not punch yet must stay counted";
	stuck.release();
	for (auto &t : attackers)
		t.join();
	expect_back_to_base();
	for (auto &m : memfds) {
		struct stat st{};
		ASSERT_EQ(::fstat(m.get(), &st), 0);
		EXPECT_EQ(st.st_blocks, 0) << "punched once the lock was free";
	}
	expect_alive();
}

TEST_F(CuseAttack, RequestsInFlightAreCapped)
{
	start({"--session-max-requests", "1", "--uid-max-requests", "2"});
	StuckWriters stuck;
	const std::string why = stuck.start();
	if (!why.empty())
		GTEST_SKIP() << why;
	// A FREE whose punch is blocked stays in flight for a while (the
	// daemon waits for the punch up to its deadline).
	Fd m = make_memfd(kMiB);
	Alloc a = alloc_memfd(dev_.get(), kMiB, 1, m.get());
	ASSERT_EQ(a.err, 0);
	stuck.block(m.get());
	ASSERT_TRUE(stuck.wait_blocked());
	std::thread freer([&] { EXPECT_EQ(free_handle(dev_.get(), a.handle), 0); });
	std::this_thread::sleep_for(std::chrono::milliseconds(300));
	emucxl_info info{};
	EXPECT_EQ(ioc(dev_.get(), EMUCXL_INFO, &info), EAGAIN) << "the session's one request is busy";
	Fd other = session();
	ASSERT_TRUE(other);
	EXPECT_EQ(ioc(other.get(), EMUCXL_INFO, &info), 0) << "uid cap 2: one more";
	EXPECT_EQ(Victim(daemon_.path()).run(), 0) << "another uid is not capped by ours";
	freer.join();
	EXPECT_EQ(ioc(dev_.get(), EMUCXL_INFO, &info), 0) << "free again";
	stuck.release();
	expect_back_to_base();
	expect_alive();
}

// ---- 3. quotas -------------------------------------------------------------

// Restores vm.max_map_count when it goes.
class MaxMapCount {
public:
	explicit MaxMapCount(unsigned long v)
	{
		std::ifstream("/proc/sys/vm/max_map_count") >> saved_;
		std::ofstream("/proc/sys/vm/max_map_count") << v << '\n';
	}
	~MaxMapCount()
	{
		if (saved_)
			std::ofstream("/proc/sys/vm/max_map_count") << saved_ << '\n';
	}
	unsigned long current() const
	{
		unsigned long v = 0;
		std::ifstream("/proc/sys/vm/max_map_count") >> v;
		return v;
	}

private:
	unsigned long saved_ = 0;
};

TEST_F(CuseAttack, OneUidCannotExhaustTheMappings)
{
	// A small vm.max_map_count, so that the attack takes thousands of
	// requests rather than 65,000 (the daemon reads it at start).
	MaxMapCount small(3000);
	ASSERT_EQ(small.current(), 3000u);
	start();
	std::vector<std::uint64_t> handles;
	int err = 0;
	for (int i = 0; i < 4000 && !err; i++) {
		Fd m;
		Alloc a = attacker_alloc(dev_.get(), page(), 0, &m);
		err = a.err;
		if (!err)
			handles.push_back(a.handle);
	}
	EXPECT_EQ(err, EDQUOT) << "after " << handles.size() << " one-page allocations";
	EXPECT_LT(handles.size(), 3000u - 1000u) << "one uid may take at most half the budget";
	expect_alive();
	EXPECT_EQ(Victim(daemon_.path()).run(), 0) << "another uid is served";
	Fd other = session();
	ASSERT_TRUE(other);
	Fd m = make_memfd(page());
	EXPECT_EQ(alloc_memfd(other.get(), page(), 0, m.get()).err, EDQUOT)
		<< "another session of the same uid shares its quota";
	emucxl_exit ex{};
	ASSERT_EQ(ioc(dev_.get(), EMUCXL_EXIT, &ex), 0);
	EXPECT_EQ(ex.freed, handles.size());
	expect_back_to_base();
	expect_alive();
}

TEST_F(CuseAttack, QuotasAre_EDQUOT)
{
	start({"--session-max-allocations", "4", "--uid-max-allocations", "6", "--session-max-mb",
	       "4", "--uid-max-mb", "6"});
	std::vector<Fd> memfds;
	auto alloc = [&](int fd, std::uint64_t size) {
		memfds.push_back(make_memfd(size));
		return alloc_memfd(fd, size, 1, memfds.back().get()).err;
	};
	EXPECT_EQ(alloc(dev_.get(), 4 * kMiB), 0);
	EXPECT_EQ(alloc(dev_.get(), page()), EDQUOT) << "session bytes (4 MiB)";
	Fd s2 = session();
	ASSERT_TRUE(s2);
	EXPECT_EQ(alloc(s2.get(), 2 * kMiB), 0);
	EXPECT_EQ(alloc(s2.get(), page()), EDQUOT) << "uid bytes (6 MiB)";
	Fd s3 = session();
	dev_.reset();  // gives back 4 MiB of the uid's
	EXPECT_EQ(alloc(s3.get(), page()), 0);
	EXPECT_EQ(alloc(s3.get(), page()), 0);
	EXPECT_EQ(alloc(s3.get(), page()), 0);
	EXPECT_EQ(alloc(s3.get(), page()), 0);
	EXPECT_EQ(alloc(s3.get(), page()), EDQUOT) << "session count (4)";
	Fd s4 = session();
	EXPECT_EQ(alloc(s4.get(), page()), 0) << "the uid's 6th";
	EXPECT_EQ(alloc(s4.get(), page()), EDQUOT) << "uid count (6)";
	EXPECT_EQ(Victim(daemon_.path()).run(), 0) << "another uid has quotas of its own";
	s2.reset();
	s3.reset();
	s4.reset();
	dev_ = session();
	expect_back_to_base();
	expect_alive();
}

// ---- 4. one physical node, one capacity ------------------------------------

TEST_F(CuseAttack, OnePhysicalNodeHasOneCapacity)
{
	start({"--local-node", "0", "--remote-node", "0", "--local-capacity-mb", "64",
	       "--remote-capacity-mb", "48"});
	ASSERT_EQ(info_.node[0].physical_node, info_.node[1].physical_node);
	ASSERT_TRUE(info_.node[1].flags & EMUCXL_NODE_SHARED);
	Fd m0 = make_memfd(40 * kMiB), m1 = make_memfd(24 * kMiB), m2 = make_memfd(kMiB);
	ASSERT_EQ(alloc_memfd(dev_.get(), 40 * kMiB, 0, m0.get()).err, 0);
	EXPECT_EQ(alloc_memfd(dev_.get(), 24 * kMiB, 1, m1.get()).err, 0)
		<< "40 + 24 MiB: within the node's 64";
	EXPECT_EQ(alloc_memfd(dev_.get(), kMiB, 1, m2.get()).err, ENOMEM)
		<< "the physical node is at 64 MiB, the larger of the two capacities";
	const emucxl_stats s = stats();
	EXPECT_EQ(s.node[0].free, 0u);
	EXPECT_EQ(s.node[1].free, 0u);
	EXPECT_EQ(s.node[1].allocated, 24 * kMiB) << "logical counters stay per logical node";
	emucxl_exit ex{};
	ASSERT_EQ(ioc(dev_.get(), EMUCXL_EXIT, &ex), 0);
	expect_back_to_base();
	expect_alive();
}

// ---- 6. the memfd is the calling thread's --------------------------------

TEST_F(CuseAttack, ThreadWithItsOwnFdTable)
{
	start();
	// In the process's table, number N is a victim file with data; in a
	// thread's own table (unshare(CLONE_FILES)) N is that thread's memfd.
	// ALLOC from the thread takes the thread's file or refuses (EBADF on
	// kernels without thread pidfds), and never touches the other.
	Fd victim = make_memfd(kMiB);
	ASSERT_TRUE(victim);
	ASSERT_EQ(::pwrite(victim.get(), "secret", 6, 0), 6);
	const int n = victim.get();
	int err = -1;
	blkcnt_t mine_blocks = 0;
	std::thread t([&] {
		if (::unshare(CLONE_FILES) != 0) {
			err = -2;
			return;
		}
		::close(n);  // only in this thread's copy of the table
		Fd mine = make_memfd(kMiB);
		if (mine.get() != n) {
			err = -3;
			return;
		}
		Alloc a = alloc_memfd(dev_.get(), kMiB, 1, mine.get());
		err = a.err;
		struct stat st{};
		::fstat(mine.get(), &st);
		mine_blocks = st.st_blocks;
		if (!a.err)
			free_handle(dev_.get(), a.handle);
	});
	t.join();
	ASSERT_GE(err, 0) << "test setup failed (" << err << ")";
	EXPECT_TRUE(err == 0 || err == EBADF) << std::strerror(err);
	if (err == 0) {
		EXPECT_EQ(mine_blocks * 512, static_cast<blkcnt_t>(kMiB)) << "the thread's own memfd";
	}
	char buf[6] = {};
	ASSERT_EQ(::pread(victim.get(), buf, 6, 0), 6);
	EXPECT_EQ(std::memcmp(buf, "secret", 6), 0) << "the process's file was left alone";
	struct stat st{};
	ASSERT_EQ(::fstat(victim.get(), &st), 0);
	EXPECT_EQ(st.st_blocks * 512, static_cast<blkcnt_t>(page())) << "not placed, not punched";
	expect_back_to_base();
	expect_alive();
}

// Issue 12, item 6: a daemon that resolved descriptor N twice (an O_PATH
// open of /proc/TID/fd/N, then /proc/TID/fdinfo/N for the access mode and
// inode number) could be handed two files: a second client thread swaps N
// between a victim it may only read and an inode-number twin it may write
// (a fresh tmpfs numbers its inodes from the same start: here root mounts
// it, in the attack an unprivileged user namespace does). The
// daemon then reopened the victim O_RDWR as root and truncated it. Now the
// file is taken once (pidfd_getfd), checked to still be the caller's N
// (kcmp), and nothing is reopened or changed before it passes every check.
// An unprivileged client races the swap against ALLOC in a loop; the victim
// must never be opened, written or truncated by anyone (inotify), and keep
// its size, times and content; every ALLOC is refused.
TEST_F(CuseAttack, SwappedDescriptorNeverReachesTheVictim)
{
	start();
	// Two fresh tmpfs mounts: the victim (root's, 0644, empty: what the old
	// daemon would truncate) and the attacker's twin with the same inode
	// number.
	char dir_v[] = "/tmp/emucxl-victim-XXXXXX", dir_t[] = "/tmp/emucxl-twin-XXXXXX";
	ASSERT_NE(::mkdtemp(dir_v), nullptr);
	ASSERT_NE(::mkdtemp(dir_t), nullptr);
	ASSERT_EQ(::mount("tmpfs", dir_v, "tmpfs", 0, "mode=0755,size=4m"), 0) << std::strerror(errno);
	ASSERT_EQ(::mount("tmpfs", dir_t, "tmpfs", 0, "mode=1777,size=4m"), 0) << std::strerror(errno);
	struct Unmount {
		const char *a, *b;
		~Unmount()
		{
			::umount2(a, MNT_DETACH);
			::umount2(b, MNT_DETACH);
			::rmdir(a);
			::rmdir(b);
		}
	} unmount{dir_v, dir_t};
	const std::string victim = std::string(dir_v) + "/victim";
	{
		Fd v(::open(victim.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644));
		ASSERT_TRUE(v);
	}
	struct stat vst{};
	ASSERT_EQ(::stat(victim.c_str(), &vst), 0);
	std::string twin;
	for (int i = 0; i < 1000 && twin.empty(); i++) {
		const std::string f = std::string(dir_t) + "/f" + std::to_string(i);
		Fd t(::open(f.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0666));
		ASSERT_TRUE(t);
		struct stat st{};
		ASSERT_EQ(::fstat(t.get(), &st), 0);
		if (st.st_ino == vst.st_ino)
			twin = f;
	}
	ASSERT_FALSE(twin.empty()) << "no inode-number twin of " << vst.st_ino;
	ASSERT_EQ(::chown(twin.c_str(), kOtherUid, kOtherUid), 0);

	// The attacker's read-only descriptor of the victim, opened before the
	// watch (the child inherits it); then any open, write, truncate or
	// attribute change of the victim from now on.
	Fd victim_ro(::open(victim.c_str(), O_RDONLY | O_CLOEXEC));
	ASSERT_TRUE(victim_ro);
	Fd in(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
	ASSERT_TRUE(in);
	ASSERT_GE(::inotify_add_watch(in.get(), victim.c_str(), IN_OPEN | IN_MODIFY | IN_ATTRIB), 0);

	constexpr int kRounds = 4000;
	int report[2];
	ASSERT_EQ(::pipe(report), 0);
	const pid_t child = ::fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		// The attacker: another uid, a session of its own; N is a
		// number of its table that a second thread keeps swapping.
		::close(report[0]);
		int counts[4] = {0, 0, 0, 0};  // 0 (accepted), EBADF, EINVAL, other
		const int vfd = victim_ro.get();
		if (::setgid(kOtherUid) != 0 || ::setuid(kOtherUid) != 0)
			_exit(100);
		const int tfd = ::open(twin.c_str(), O_RDWR | O_CLOEXEC);
		const int dev = ::open(daemon_.path().c_str(), O_RDWR | O_CLOEXEC);
		if (tfd < 0 || dev < 0 || init_session(dev) != 0)
			_exit(101);
		const int n = ::fcntl(vfd, F_DUPFD_CLOEXEC, 500);
		if (n < 0)
			_exit(102);
		std::atomic<bool> stop{false};
		std::thread swapper([&] {
			while (!stop.load()) {
				(void)::dup3(tfd, n, O_CLOEXEC);
				(void)::dup3(vfd, n, O_CLOEXEC);
			}
		});
		for (int i = 0; i < kRounds; i++) {
			const Alloc a = alloc_memfd(dev, kMiB, 1, n);
			counts[a.err == 0 ? 0 : a.err == EBADF ? 1 : a.err == EINVAL ? 2 : 3]++;
				if (a.err == 0)
				(void)free_handle(dev, a.handle);
		}
		stop.store(true);
		swapper.join();
		(void)!::write(report[1], counts, sizeof(counts));
		_exit(0);
	}
	::close(report[1]);
	int counts[4] = {-1, -1, -1, -1};
	const ssize_t got = ::read(report[0], counts, sizeof(counts));
	::close(report[0]);
	int status = 0;
	ASSERT_EQ(::waitpid(child, &status, 0), child);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		<< "the attacker could not set up (status " << status << ")";
	ASSERT_EQ(got, static_cast<ssize_t>(sizeof(counts)));
	std::printf("[          ] %d ALLOCs racing a swap of victim/twin: %d accepted, %d EBADF, "
		    "%d EINVAL, %d other\n",
		    kRounds, counts[0], counts[1], counts[2], counts[3]);

	char ev[4096];
	const ssize_t evlen = ::read(in.get(), ev, sizeof(ev));
	int events = 0;
	for (ssize_t off = 0; evlen > 0 && off < evlen;) {
		const auto *e = reinterpret_cast<const struct inotify_event *>(ev + off);
		ADD_FAILURE() << "the victim was " << (e->mask & IN_OPEN ? "opened" : "")
			      << (e->mask & IN_MODIFY ? " written/truncated" : "")
			      << (e->mask & IN_ATTRIB ? " changed (attributes)" : "");
		events++;
		off += static_cast<ssize_t>(sizeof(*e) + e->len);
	}
	EXPECT_EQ(events, 0);
	struct stat after{};
	ASSERT_EQ(::stat(victim.c_str(), &after), 0);
	EXPECT_EQ(after.st_size, 0) << "the victim was truncated";
	EXPECT_EQ(after.st_blocks, 0);
	EXPECT_EQ(after.st_mtim.tv_sec, vst.st_mtim.tv_sec);
	EXPECT_EQ(after.st_mtim.tv_nsec, vst.st_mtim.tv_nsec);
	EXPECT_EQ(after.st_ctim.tv_nsec, vst.st_ctim.tv_nsec);
	EXPECT_EQ(counts[0], 0) << "neither file is a sealed memfd: nothing may be accepted";
	EXPECT_EQ(counts[3], 0) << "answers other than EBADF/EINVAL";
	expect_back_to_base();
	expect_alive();
}

// ---- 10. a failed reply to OPEN --------------------------------------------

// When fuse_reply_open() fails, the kernel never learns of the file and no
// release will come: the daemon must drop the session it created for it.
// It used to do so only for -ENOENT (an interrupted open). A shim preloaded
// into a private daemon makes the reply of every O_NONBLOCK open fail with
// -EIO (the client is told EIO); afterwards no session may be left.
TEST_F(CuseAttack, FailedOpenReplyLeavesNoSession)
{
#ifndef EMUCXL_REPLY_OPEN_FAIL
	GTEST_SKIP() << "built without the reply_open_fail shim";
#else
	if (::access(EMUCXL_REPLY_OPEN_FAIL, R_OK) != 0)
		GTEST_SKIP() << "no " << EMUCXL_REPLY_OPEN_FAIL << " (build the tests)";
	const char *old = std::getenv("LD_PRELOAD");
	const std::string saved = old ? old : "";
	ASSERT_EQ(::setenv("LD_PRELOAD", EMUCXL_REPLY_OPEN_FAIL, 1), 0);
	start();
	if (saved.empty())
		::unsetenv("LD_PRELOAD");
	else
		::setenv("LD_PRELOAD", saved.c_str(), 1);
	const std::uint32_t sessions = stats().sessions;  // ours
	constexpr int kOpens = 50;
	int eio = 0;
	for (int i = 0; i < kOpens; i++) {
		const int fd = ::open(daemon_.path().c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0) {
			::close(fd);
			continue;
		}
		if (errno == EIO)
			eio++;
	}
	ASSERT_EQ(eio, kOpens) << "the shim did not fail the replies (is it preloaded?)";
	const std::uint32_t after = stats().sessions;
	EXPECT_EQ(after, sessions) << (after - sessions)
				   << " sessions left behind by opens whose reply failed";
	EXPECT_TRUE(Fd(::open(daemon_.path().c_str(), O_RDWR | O_CLOEXEC))) << "plain opens work";
	expect_back_to_base();
	expect_alive();
#endif
}

// ---- 7. placement is the client's to break ---------------------------------

TEST_F(CuseAttack, ClientCanMoveItsOwnPages)
{
	start();
	if (info_.node[0].physical_node == info_.node[1].physical_node)
		GTEST_SKIP() << "one physical node: nowhere else to refault to";
	Fd m = make_memfd(kMiB);
	Alloc a = alloc_memfd(dev_.get(), kMiB, 1, m.get());
	ASSERT_EQ(a.err, 0);
	char *p = static_cast<char *>(map_memfd(m.get(), kMiB));
	ASSERT_NE(p, MAP_FAILED);
	// The policy is the inode's: the client rebinds its own mapping of the
	// first page to the local node, punches it out and faults it in again.
	unsigned long mask = 1UL << info_.node[0].physical_node;
	ASSERT_EQ(::mbind(p, page(), MPOL_BIND, &mask, sizeof(mask) * 8, 0), 0);
	ASSERT_EQ(::fallocate(m.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			      static_cast<off_t>(page())), 0);
	p[0] = 1;
	const auto nodes = emucxl::test::page_nodes(p, page());
	ASSERT_EQ(nodes.size(), 1u);
	EXPECT_EQ(nodes[0], static_cast<int>(info_.node[0].physical_node))
		<< "the refaulted page follows the client's policy (not prevented)";
	struct stat st{};
	ASSERT_EQ(::fstat(m.get(), &st), 0);
	EXPECT_LE(st.st_blocks * 512, static_cast<blkcnt_t>(kMiB)) << "the size seal bounds it";
	EXPECT_EQ(stats().node[1].allocated, base_.node[1].allocated + kMiB)
		<< "still counted: an upper bound of what the client holds";
	ASSERT_EQ(free_handle(dev_.get(), a.handle), 0);
	ASSERT_EQ(::fstat(m.get(), &st), 0);
	EXPECT_EQ(st.st_blocks, 0) << "FREE takes the moved page too";
	::munmap(p, kMiB);
	expect_back_to_base();
	expect_alive();
}

}  // namespace

int main(int argc, char **argv)
{
	::testing::InitGoogleTest(&argc, argv);
	return RUN_ALL_TESTS();
}
