// SPDX-License-Identifier: Apache-2.0
// memfd_region.hpp - the data plane: a client's memfd, placed and pinned by
// the daemon.
//
// CUSE has no mmap, so the memory does not travel through the device. The
// client creates a memfd (MFD_ALLOW_SEALING), sizes it to the allocation,
// seals it with F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, and names its
// descriptor number in EMUCXL_ALLOC with EMUCXL_ALLOC_MEMFD. The daemon
//   1. takes that very file from the thread that issued the ioctl (the
//      kernel's pid of the request, never a pid from the payload) with
//      pidfd_getfd(), and checks with kcmp() that the thread's descriptor
//      is that file: no path is looked up, nothing is reopened;
//   2. checks it without changing it: a tmpfs memfd held O_RDWR, with the
//      three seals (F_GET_SEALS) and no write seal, of the allocation's
//      size, with no page yet. The daemon never truncates or seals a
//      client's file: those take the inode lock, which a client can hold
//      for ever (a write() into the memfd from a buffer that faults on a
//      userfaultfd region or a FUSE mount of its own);
//   3. maps it MAP_SHARED, binds that range to the node (shmem keeps the
//      policy with the file, so it also governs the client's faults),
//      populates it, mlocks it, and checks with move_pages that every page
//      is on the node (ENOMEM otherwise, never another node);
//   4. holds that mapping (not a descriptor) until release(), which drops
//      the policy and punches the pages out of the file (MADV_REMOVE), so
//      the memory is gone even if the client still maps the memfd. The
//      punch takes the inode lock: the daemon runs it on a reaper thread,
//      never on a request worker (reaper.hpp).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <utility>

#include "fd.hpp"
#include "result.hpp"

namespace emucxl::cused {

// A client's memfd, opened by the daemon and checked (steps 1-2).
struct ClientMemfd {
	Fd fd;          // the client's own open file (pidfd_getfd), O_RDWR
	dev_t dev = 0;  // identity of the inode, to refuse using one memfd twice
	ino_t ino = 0;
};

// Steps 1-2 for `bytes` (page-rounded, > 0). EBADF: `fdnum` is not an open
// descriptor of thread `tid`. EINVAL: it is not an empty tmpfs memfd opened
// read-write, of size `bytes`, sealed F_SEAL_SHRINK | F_SEAL_GROW |
// F_SEAL_SEAL and not against writing.
Result<ClientMemfd> open_client_memfd(pid_t tid, int fdnum, std::uint64_t bytes) noexcept;

// The daemon's mapping of a placed memfd (steps 3-4). Move-only.
class MemfdRegion {
public:
	MemfdRegion() noexcept = default;
	MemfdRegion(MemfdRegion &&o) noexcept
		: addr_(std::exchange(o.addr_, nullptr)), bytes_(std::exchange(o.bytes_, 0))
	{
	}
	MemfdRegion &operator=(MemfdRegion &&o) noexcept
	{
		if (this != &o) {
			release();
			addr_ = std::exchange(o.addr_, nullptr);
			bytes_ = std::exchange(o.bytes_, 0);
		}
		return *this;
	}
	MemfdRegion(const MemfdRegion &) = delete;
	MemfdRegion &operator=(const MemfdRegion &) = delete;
	~MemfdRegion() { release(); }

	// Step 3: ENOMEM when the node cannot take it (nothing is left behind).
	static Result<MemfdRegion> place(const ClientMemfd &memfd, std::uint64_t bytes,
					 int nid) noexcept;

	// Step 4: the pages leave the file now; idempotent.
	void release() noexcept;

	// Unpin and unmap, but leave the pages to whoever still maps the memfd:
	// for a daemon that stops, as if it had died.
	void abandon() noexcept;

	std::uint64_t bytes() const noexcept { return bytes_; }

private:
	MemfdRegion(void *addr, std::uint64_t bytes) noexcept : addr_(addr), bytes_(bytes) {}

	void *addr_ = nullptr;
	std::uint64_t bytes_ = 0;
};

}  // namespace emucxl::cused
