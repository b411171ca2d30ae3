// SPDX-License-Identifier: Apache-2.0
// memfd_region.cpp - see memfd_region.hpp for the steps.
#include "memfd_region.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <numaif.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>

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

std::uint64_t page_bytes() noexcept { return static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)); }

// The client's access mode and inode for its descriptor `fdnum`, from
// /proc/<tid>/fdinfo/<fdnum>. ino is 0 when the kernel does not report it.
bool client_fd_info(pid_t tid, int fdnum, int *acc_mode, std::uint64_t *ino) noexcept
{
	char path[64];
	std::snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", tid, fdnum);
	FILE *f = std::fopen(path, "re");
	if (!f)
		return false;
	char line[128];
	bool have_flags = false;
	*ino = 0;
	while (std::fgets(line, sizeof(line), f)) {
		unsigned long long v;
		if (std::sscanf(line, "flags: %llo", &v) == 1) {
			*acc_mode = static_cast<int>(v & O_ACCMODE);
			have_flags = true;
		} else if (std::sscanf(line, "ino: %llu", &v) == 1) {
			*ino = v;
		}
	}
	std::fclose(f);
	return have_flags;
}

}  // namespace

Result<ClientMemfd> open_client_memfd(pid_t tid, int fdnum, std::uint64_t bytes) noexcept
{
	if (tid <= 0 || fdnum < 0) {
		// tid 0: the caller lives in a pid namespace we cannot see into.
		CLOG_DEBUG("ALLOC: memfd %d of thread %d cannot be resolved", fdnum, tid);
		return Error{EBADF};
	}
	char path[64];
	std::snprintf(path, sizeof(path), "/proc/%d/fd/%d", tid, fdnum);
	// O_PATH: resolve the client's descriptor without opening what it
	// refers to (opening a device or a FIFO on a client's say-so could have
	// side effects); the real open below is of a file already checked.
	Fd opath(::open(path, O_PATH | O_CLOEXEC));
	if (!opath) {
		CLOG_DEBUG("ALLOC: %s: %s", path, std::strerror(errno));
		return Error{EBADF};
	}
	struct stat st{};
	struct statfs sfs{};
	if (::fstat(opath.get(), &st) != 0 || ::fstatfs(opath.get(), &sfs) != 0) {
		CLOG_DEBUG("ALLOC: %s: fstat: %s", path, std::strerror(errno));
		return Error{EINVAL};
	}
	// tmpfs only: hugetlbfs memfds have another page size, anything else
	// is not a memfd at all.
	if (!S_ISREG(st.st_mode) || sfs.f_type != TMPFS_MAGIC) {
		CLOG_DEBUG("ALLOC: %s is not a tmpfs memfd (mode %o, fs %#lx)", path,
			   static_cast<unsigned>(st.st_mode), static_cast<unsigned long>(sfs.f_type));
		return Error{EINVAL};
	}
	// Act on it only with the access the client itself has to it.
	int acc = -1;
	std::uint64_t ino = 0;
	if (!client_fd_info(tid, fdnum, &acc, &ino) || acc != O_RDWR ||
	    (ino && ino != static_cast<std::uint64_t>(st.st_ino))) {
		CLOG_DEBUG("ALLOC: %s is not open read-write (or was replaced)", path);
		return Error{EINVAL};
	}

	char self[64];
	std::snprintf(self, sizeof(self), "/proc/self/fd/%d", opath.get());
	Fd fd(::open(self, O_RDWR | O_CLOEXEC | O_NOCTTY));
	if (!fd) {
		CLOG_DEBUG("ALLOC: reopening %s: %s", path, std::strerror(errno));
		return Error{EINVAL};
	}

	// Empty: no page may predate the node binding (it would sit wherever
	// it was faulted), and a memfd already backing an allocation has pages.
	if (st.st_blocks != 0) {
		CLOG_DEBUG("ALLOC: %s already has pages", path);
		return Error{EINVAL};
	}
	if (st.st_size == 0) {
		if (::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0) {
			CLOG_DEBUG("ALLOC: sizing %s to %" PRIu64 ": %s", path, bytes, std::strerror(errno));
			return Error{EINVAL};
		}
	} else if (static_cast<std::uint64_t>(st.st_size) != bytes) {
		CLOG_DEBUG("ALLOC: %s has %lld bytes, the allocation %" PRIu64, path,
			   static_cast<long long>(st.st_size), bytes);
		return Error{EINVAL};
	}
	// Write seals would keep the daemon (and the client) from mapping it
	// writable.
	const int seals = ::fcntl(fd.get(), F_GET_SEALS);
	if (seals < 0 || (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE))) {
		CLOG_DEBUG("ALLOC: %s is sealed against writing (seals %#x)", path, seals);
		return Error{EINVAL};
	}
	// Fails (EPERM) unless the memfd was created with MFD_ALLOW_SEALING:
	// every other tmpfs file carries F_SEAL_SEAL from birth.
	if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) {
		CLOG_DEBUG("ALLOC: sealing %s: %s", path, std::strerror(errno));
		return Error{EINVAL};
	}
	// Sealed now: the size cannot change any more. Check it once again in
	// case the client resized it between our fstat and the seal.
	struct stat now{};
	if (::fstat(fd.get(), &now) != 0 || static_cast<std::uint64_t>(now.st_size) != bytes ||
	    now.st_blocks != 0) {
		CLOG_DEBUG("ALLOC: %s changed under us", path);
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
	if (nid < 0 || nid >= kMaskNodes - 1)
		return Error{EINVAL};
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
		CLOG_WARN("ALLOC: mbind to node %d: %s", nid, std::strerror(errno));
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
		CLOG_WARN("ALLOC: mlock of %" PRIu64 " bytes: %s (RLIMIT_MEMLOCK?)", bytes,
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
			CLOG_WARN("ALLOC: move_pages: %s", std::strerror(errno));
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
		CLOG_WARN("ALLOC: binding to node %d: %s", nid, std::strerror(errno));
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
		CLOG_WARN("release: MADV_REMOVE of %" PRIu64 " bytes: %s", bytes_, std::strerror(errno));
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
