// SPDX-License-Identifier: Apache-2.0
// device.hpp - the /dev/emucxl ABI (backends/kmod/uapi/emucxl_uapi.h) as
// emucxl-cused serves it: sessions, handles, capacity accounting, and one
// function per ioctl, with the kernel module's validation order and errors.
//
// Nothing here knows about FUSE: main.cpp feeds it the ioctl's command and
// argument bytes and the kernel's id of the calling thread, and sends back
// what it returns. That keeps the semantics testable on a host without
// CUSE (tests/cuse/cused_device_test.cpp).
//
// Differences from the module, all forced by CUSE having no mmap:
//   - EMUCXL_ALLOC serves EMUCXL_ALLOC_MEMFD only (else EOPNOTSUPP), and
//     answers EBADF / EINVAL for a memfd it cannot use (memfd_region.hpp);
//     the offset it returns is 0, an offset into that memfd;
//   - EMUCXL_FREE, EMUCXL_EXIT and the release of the session take the pages
//     out of the memfd at once: a client that still maps it afterwards sees
//     fresh zero pages that are its own, not node memory the daemon counts.
//     (The module keeps mapped pages until munmap; the drivers unmap first,
//     so nothing observable through libemucxl differs.)
//
// Shared accounting: capacity is checked per logical node and per physical
// node (when both logical nodes are one physical node, they share one
// budget: the larger of their capacities), and allocations are limited per
// session and per uid (count and bytes, EDQUOT) and for the whole daemon
// (count: one mapping each, within vm.max_map_count, ENOMEM). Requests in
// flight are capped per session and per uid (EAGAIN), so that no client can
// occupy every libfuse worker.
//
// Thread-safe: libfuse calls in from several threads.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "emucxl_uapi.h"
#include "limits.hpp"
#include "memfd_region.hpp"
#include "nodes.hpp"
#include "reaper.hpp"
#include "result.hpp"

namespace emucxl::cused {

// The argument bytes an ioctl copies in and out; false for a command the
// ABI does not have (ENOTTY).
bool ioctl_arg_sizes(unsigned cmd, std::size_t *in, std::size_t *out) noexcept;

// What one ioctl answers: result 0 or -errno, and `out_len` bytes of `out`
// to copy back to the caller (also on some errors: EMUCXL_INIT writes the
// server's version back when it refuses the client's).
struct IoctlReply {
	int result = 0;
	std::size_t out_len = 0;
	union {
		emucxl_init init;
		emucxl_exit exit;
		emucxl_alloc alloc;
		emucxl_info info;
		emucxl_stats stats;
	} out{};

	const void *data() const noexcept { return &out; }  // out_len bytes
};

class Device {
public:
	// `headroom` bytes of every node are kept free: a shmem page fault
	// under MPOL_BIND on a full node wakes the OOM killer rather than fail
	// (the module's __GFP_THISNODE allocations just fail), so the daemon
	// refuses before getting there.
	Device(const NodeSetup nodes[EMUCXL_NR_NODES], std::uint32_t page_size,
	       const Limits &limits = Limits{}) noexcept;
	Device(const Device &) = delete;
	Device &operator=(const Device &) = delete;
	~Device();

	// A new session for an open with these open(2) flags by user `uid`
	// (whose quotas it counts against); its id.
	Result<std::uint64_t> open_session(int open_flags, uid_t uid = 0) noexcept;

	// The last close of the session's file (also on exit or SIGKILL):
	// frees all it holds. Unknown ids are ignored.
	void release_session(std::uint64_t id) noexcept;

	// One ioctl of session `id` issued by thread `caller` (the kernel's id
	// for it, as FUSE reports it: it names the fd table a memfd number is
	// looked up in). `in` holds in_len bytes of the argument, which must be
	// what ioctl_arg_sizes() asked for.
	IoctlReply ioctl(std::uint64_t id, pid_t caller, unsigned cmd, const void *in,
			 std::size_t in_len) noexcept;

	// How long FREE, EXIT and release wait for their punches before they
	// answer anyway (the capacity comes back when the punch is done).
	static constexpr std::chrono::milliseconds kReleaseWait{2000};

	// Undo a successful EMUCXL_ALLOC whose reply could not be delivered
	// (the caller was gone), as the module does when copy_to_user fails.
	void cancel_alloc(std::uint64_t id, std::uint64_t handle) noexcept;

	// Stop: drop every session. Pages are unpinned and unmapped, but left
	// to clients that still map them, as if the daemon had died.
	void shutdown() noexcept;

	const Limits &limits() const noexcept { return limits_; }

private:
	struct Allocation;
	struct Session;
	struct Usage {
		std::uint64_t count = 0;  // allocations held (reserved or live)
		std::uint64_t bytes = 0;
	};
	// One physical node: what all logical nodes on it hold together.
	struct Pool {
		int nid = -1;
		std::uint64_t capacity = 0;   // max of its logical nodes' capacities
		std::uint64_t usable = 0;     // the node's memory, for the headroom
		std::uint64_t allocated = 0;  // bytes held there, all logical nodes
		std::uint64_t in_flight = 0;  // reserved, not populated yet
	};
	struct Node {
		NodeSetup setup;
		Pool *pool = nullptr;           // its physical node
		std::uint64_t allocated = 0;    // bytes held, page granular
		std::uint64_t peak = 0;         // high-water mark of allocated
		std::uint64_t failures = 0;     // ALLOCs that failed with ENOMEM
		std::uint64_t allocations = 0;  // live allocations
	};
	struct Owner {                          // one uid
		Usage usage;
		unsigned requests = 0;          // in flight
		unsigned sessions = 0;
	};

	std::shared_ptr<Session> find(std::uint64_t id) noexcept;
	IoctlReply dispatch(const std::shared_ptr<Session> &s, pid_t caller, unsigned cmd,
			    const void *in) noexcept;
	int begin_request(Session &s) noexcept;
	void end_request(Session &s) noexcept;

	int do_init(Session &s, emucxl_init &arg) noexcept;
	int do_exit(const std::shared_ptr<Session> &s, emucxl_exit &arg) noexcept;
	int do_alloc(const std::shared_ptr<Session> &s, pid_t caller, emucxl_alloc &arg) noexcept;
	int do_free(const std::shared_ptr<Session> &s, const emucxl_free &arg) noexcept;
	void do_stats(emucxl_stats &arg) noexcept;
	void do_info(emucxl_info &arg) noexcept;

	int reserve(Session &s, unsigned lnode, std::uint64_t bytes, dev_t dev, ino_t ino) noexcept;
	void unreserve(Session &s, unsigned lnode, std::uint64_t bytes, dev_t dev,
		       ino_t ino) noexcept;
	void count_failure(unsigned lnode) noexcept;
	using Handles = std::map<std::uint64_t, std::unique_ptr<Allocation>>;
	void destroy(const std::shared_ptr<Session> &s, Handles handles) noexcept;
	// What one live allocation is charged: returned by uncharge().
	struct Charge {
		unsigned lnode = 0;       // logical node
		std::uint64_t bytes = 0;  // page granular
		dev_t dev = 0;            // the memfd's inode, while it backs this
		ino_t ino = 0;
	};
	void uncharge(Session &s, const Charge &c) noexcept;

	const std::uint32_t page_size_;
	const Limits limits_;

	std::mutex nodes_lock_;  // guards the counters below, memfds_, and Session::usage
	Node nodes_[EMUCXL_NR_NODES];
	Pool pools_[EMUCXL_NR_NODES];  // the first `nr_pools_` are in use
	unsigned nr_pools_ = 0;
	std::uint64_t total_count_ = 0;  // allocations of all sessions: the map budget
	std::map<uid_t, Owner> owners_;
	std::set<std::pair<dev_t, ino_t>> memfds_;  // memfds backing live allocations

	Reaper reaper_;  // before sessions_: destroyed after them

	std::mutex sessions_lock_;  // guards sessions_ and next_session_
	std::map<std::uint64_t, std::shared_ptr<Session>> sessions_;
	std::uint64_t next_session_ = 1;
};

// Memory of each node the daemon leaves to everyone else: 64 MiB or 1/32 of
// it, whichever is more (the mbind driver's rule).
std::uint64_t node_headroom(std::uint64_t usable) noexcept;

}  // namespace emucxl::cused
