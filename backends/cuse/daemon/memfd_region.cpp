// SPDX-License-Identifier: Apache-2.0
// memfd_region.cpp - see memfd_region.hpp for the steps.
#include "memfd_region.hpp"

#include <fcntl.h>
#include <linux/kcmp.h>
#include <linux/magic.h>
#include <numaif.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <vector>

#include "log.hpp"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010  // Linux 5.1
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14
#endif

namespace emucxl::cused {

namespace {

constexpr std::size_t kMoveBatch = 4096;  // pages per move_pages() call
constexpr int kMaskNodes = 1024;          // node ids the mbind mask can name

// The seals a client's memfd must carry before ALLOC: its size is fixed, and
// F_SEAL_SEAL keeps the client from adding F_SEAL_WRITE or
// F_SEAL_FUTURE_WRITE afterwards, which would make the daemon's punch at
// FREE fail (EPERM) and leave the pages with the client. F_SEAL_EXEC (6.3+,
// vm.memfd_noexec) is harmless and allowed.
constexpr int kRequiredSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
constexpr int kForbiddenSeals = F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;
constexpr unsigned kPidfdThread = O_EXCL;  // PIDFD_THREAD, Linux 6.9

std::uint64_t page_bytes() noexcept { return static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)); }

// The thread group of thread `tid`, from /proc/<tid>/status; -1 if gone.
// Stable while the request lasts: a thread whose FUSE request the daemon
// holds waits for the answer even when SIGKILLed, so neither its id nor its
// process's can be reused meanwhile.
pid_t thread_group_of(pid_t tid) noexcept
{
	char path[64];
	std::snprintf(path, sizeof(path), "/proc/%d/status", tid);
	FILE *f = std::fopen(path, "re");
	if (!f)
		return -1;
	char line[128];
	long tgid = -1;
	while (std::fgets(line, sizeof(line), f))
		if (std::sscanf(line, "Tgid: %ld", &tgid) == 1)
			break;
	std::fclose(f);
	return tgid > 0 ? static_cast<pid_t>(tgid) : -1;
}

}  // namespace

Result<ClientMemfd> open_client_memfd(pid_t tid, int fdnum, std::uint64_t bytes) noexcept
{
	if (tid <= 0 || fdnum < 0) {
		// tid 0: the caller lives in a pid namespace we cannot see into.
		CLOG_DEBUG("ALLOC: memfd %d of thread %d cannot be resolved", fdnum, tid);
		return Error{EBADF};
	}
	// Take the client's own open file, never a second lookup of a path:
	// pidfd_getfd() duplicates the very file description (same access
	// mode, nothing reopened as root, no device or FIFO ever opened).
	// A pidfd of the thread itself (6.9+) reaches the thread's own fd
	// table; before that, only a process's (its leader's), and kcmp below
	// refuses a thread whose table differs there.
	Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, tid, kPidfdThread)));
	const pid_t tgid = pidfd ? tid : thread_group_of(tid);
	if (!pidfd && tgid > 0)
		pidfd = Fd(static_cast<int>(::syscall(SYS_pidfd_open, tgid, 0)));
	if (!pidfd) {
		CLOG_DEBUG("ALLOC: thread %d: no process to take memfd %d from", tid, fdnum);
		return Error{EBADF};
	}
	Fd fd(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), fdnum, 0)));
	if (!fd) {
		CLOG_DEBUG("ALLOC: memfd %d of process %d: %s", fdnum, tgid, std::strerror(errno));
		return Error{EBADF};
	}
	// That was the process's fd table; the number was named by thread
	// `tid`, which may have a table of its own (unshare(CLONE_FILES)).
	// kcmp says whether its descriptor `fdnum` is this same file now.
	if (::syscall(SYS_kcmp, tid, ::getpid(), KCMP_FILE, fdnum, fd.get()) != 0) {
		CLOG_DEBUG("ALLOC: memfd %d is not the same file in thread %d", fdnum, tid);
		return Error{EBADF};
	}

	// Everything below asks the file itself; nothing takes its inode lock
	// (a client can hold that for ever) and nothing changes the file.
	struct stat st{};
	struct statfs sfs{};
	if (::fstat(fd.get(), &st) != 0 || ::fstatfs(fd.get(), &sfs) != 0) {
		CLOG_DEBUG("ALLOC: memfd %d: fstat: %s", fdnum, std::strerror(errno));
		return Error{EINVAL};
	}
	// tmpfs only: hugetlbfs memfds have another page size, anything else
	// is not a memfd at all.
	if (!S_ISREG(st.st_mode) || sfs.f_type != TMPFS_MAGIC) {
		CLOG_DEBUG("ALLOC: memfd %d is not a tmpfs memfd (mode %o, fs %#lx)", fdnum,
			   static_cast<unsigned>(st.st_mode), static_cast<unsigned long>(sfs.f_type));
		return Error{EINVAL};
	}
	// The client's own access: the daemon maps it writable only if the
	// client's descriptor is.
	const int fl = ::fcntl(fd.get(), F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) != O_RDWR) {
		CLOG_DEBUG("ALLOC: memfd %d is not open read-write", fdnum);
		return Error{EINVAL};
	}
	// Only a memfd created with MFD_ALLOW_SEALING can carry these seals
	// (other tmpfs files are born with F_SEAL_SEAL alone), and with
	// F_SEAL_SEAL among them the set is final.
	const int seals = ::fcntl(fd.get(), F_GET_SEALS);
	if (seals < 0 || (seals & kRequiredSeals) != kRequiredSeals || (seals & kForbiddenSeals)) {
		CLOG_DEBUG("ALLOC: memfd %d has seals %#x, needs %#x and none of %#x", fdnum, seals,
			   kRequiredSeals, kForbiddenSeals);
		return Error{EINVAL};
	}
	// Sized by the client (sealed: it cannot change any more), and empty:
	// no page may predate the node binding.
	if (static_cast<std::uint64_t>(st.st_size) != bytes) {
		CLOG_DEBUG("ALLOC: memfd %d has %lld bytes, the allocation %" PRIu64, fdnum,
			   static_cast<long long>(st.st_size), bytes);
		return Error{EINVAL};
	}
	if (st.st_blocks != 0) {
		CLOG_DEBUG("ALLOC: memfd %d already has pages", fdnum);
		return Error{EINVAL};
	}

	ClientMemfd m;
	m.fd = std::move(fd);
	m.dev = st.st_dev;
	m.ino = st.st_ino;
	return m;
}

Result<MemfdRegion> MemfdRegion::place(const ClientMemfd &memfd, std::uint64_t bytes,
				       int nid) noexcept
{
	// Every message below is at info level: a client's request runs this,
	// and what a client can trigger must not reach the default log level
	// (log.hpp). The ALLOC's errno tells the client.
	if (nid < 0 || nid >= kMaskNodes - 1)
		return Error{EINVAL};
	if (bytes > SIZE_MAX)  // a 32-bit daemon: no such mapping
		return Error{ENOMEM};
	void *p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, memfd.fd.get(), 0);
	if (p == MAP_FAILED) {
		// ENOMEM here is usually vm.max_map_count: one mapping per allocation.
		CLOG_INFO("ALLOC: mapping %" PRIu64 " bytes: %s", bytes, std::strerror(errno));
		return Error{ENOMEM};
	}
	// From here on, the region owns the mapping: any early return unmaps it.
	MemfdRegion region(p, bytes);
	(void)::madvise(p, bytes, MADV_DONTDUMP);  // clients' memory stays out of our cores

	// Set the policy before the first page exists: shmem records it with
	// the file (a shared policy). PREFERRED while populating, not BIND: a
	// shmem fault under MPOL_BIND on a node that runs out (the free-memory
	// check races with everyone else on the node) wakes the OOM killer,
	// which then kills this daemon. Under PREFERRED such a page lands on
	// another node, the move_pages check below sees it, and the ALLOC is
	// ENOMEM. Once every page is verified, BIND makes it strict for good.
	unsigned long mask[kMaskNodes / 64] = {};
	mask[nid / 64] = 1UL << (nid % 64);
	if (::mbind(p, bytes, MPOL_PREFERRED, mask, kMaskNodes, 0) != 0) {
		CLOG_INFO("ALLOC: mbind to node %d: %s", nid, std::strerror(errno));
		return Error{ENOMEM};
	}
	if (::madvise(p, bytes, MADV_POPULATE_WRITE) != 0) {
		if (errno != EINVAL) {
			CLOG_INFO("ALLOC: populating %" PRIu64 " bytes on node %d: %s", bytes, nid,
				  std::strerror(errno));
			return Error{ENOMEM};
		}
		// Before 5.14: touch every page (the seals rule out SIGBUS).
		const std::uint64_t ps = page_bytes();
		for (std::uint64_t off = 0; off < bytes; off += ps)
			static_cast<volatile char *>(p)[off] = 0;
	}
	if (::mlock(p, bytes) != 0) {
		CLOG_INFO("ALLOC: mlock of %" PRIu64 " bytes: %s (RLIMIT_MEMLOCK?)", bytes,
			  std::strerror(errno));
		return Error{ENOMEM};
	}

	// Trust, but verify: every page on `nid`, asked of the page tables.
	const std::uint64_t ps = page_bytes();
	const std::size_t pages = bytes / ps;
	std::vector<void *> addrs;
	std::vector<int> status;
	try {
		addrs.resize(std::min(pages, kMoveBatch));
		status.resize(addrs.size());
	} catch (...) {
		return Error{ENOMEM};
	}
	for (std::size_t i = 0; i < pages; i += kMoveBatch) {
		const std::size_t n = std::min(kMoveBatch, pages - i);
		for (std::size_t j = 0; j < n; j++)
			addrs[j] = static_cast<char *>(p) + (i + j) * ps;
		if (::move_pages(0, n, addrs.data(), nullptr, status.data(), 0) != 0) {
			CLOG_INFO("ALLOC: move_pages: %s", std::strerror(errno));
			return Error{ENOMEM};
		}
		for (std::size_t j = 0; j < n; j++) {
			if (status[j] != nid) {
				CLOG_INFO("ALLOC: page %zu is on node %d, not %d (node full): refused",
					  i + j, status[j], nid);
				return Error{ENOMEM};
			}
		}
	}
	if (::mbind(p, bytes, MPOL_BIND, mask, kMaskNodes, MPOL_MF_STRICT) != 0) {
		CLOG_INFO("ALLOC: binding to node %d: %s", nid, std::strerror(errno));
		return Error{ENOMEM};
	}
	return region;
}

void MemfdRegion::release() noexcept
{
	if (!addr_)
		return;
	// Policy first, so nothing faulted in after the punch lands on the
	// node (a client still mapping the memfd gets its own, ordinary pages).
	(void)::mbind(addr_, bytes_, MPOL_DEFAULT, nullptr, 0, 0);
	// MADV_REMOVE refuses locked ranges (EINVAL): unlock them first.
	(void)::munlock(addr_, bytes_);
	if (::madvise(addr_, bytes_, MADV_REMOVE) != 0)
		CLOG_INFO("release: MADV_REMOVE of %" PRIu64 " bytes: %s", bytes_, std::strerror(errno));
	abandon();
}

void MemfdRegion::abandon() noexcept
{
	if (!addr_)
		return;
	if (::munmap(addr_, bytes_) != 0)
		CLOG_ERROR("munmap(%p, %" PRIu64 "): %s", addr_, bytes_, std::strerror(errno));
	addr_ = nullptr;
	bytes_ = 0;
}

}  // namespace emucxl::cused
