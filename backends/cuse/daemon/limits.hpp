// SPDX-License-Identifier: Apache-2.0
// limits.hpp - what one client may hold and ask of emucxl-cused at once.
//
// Every allocation is one mapping in the daemon, and vm.max_map_count
// (65530 by default) bounds the mappings of the whole daemon: without a
// limit one client could take them all, and once libfuse cannot map a
// worker's buffer the daemon stops. So:
//   allocations          all sessions together: vm.max_map_count less a
//                        reserve for the daemon's own mappings (ENOMEM)
//   uid_allocations      per user (the uid that opened the session): half
//                        of that by default, so one user never takes all
//   session_allocations  per session (open file): as uid_allocations
//   uid_bytes, session_bytes  bytes held, all nodes: no limit by default
//                        beyond the node capacities
// Over a uid or session quota, ALLOC is EDQUOT. Requests in flight (being
// served at once) are capped per uid and per session: over it, the ioctl is
// EAGAIN at once (libemucxl retries), so no user occupies every worker.
#pragma once

#include <cstdint>

namespace emucxl::cused {

struct Limits {
	std::uint64_t allocations = UINT64_MAX;
	std::uint64_t uid_allocations = UINT64_MAX;
	std::uint64_t session_allocations = UINT64_MAX;
	std::uint64_t uid_bytes = UINT64_MAX;
	std::uint64_t session_bytes = UINT64_MAX;
	unsigned uid_requests = 32;
	unsigned session_requests = 16;
};

// libfuse worker threads the daemon allows: more than one uid's requests
// in flight, so that a user at its cap leaves workers to the others.
inline constexpr unsigned kMaxWorkers = 64;

// The defaults for this machine: `allocations` from vm.max_map_count.
Limits default_limits() noexcept;

}  // namespace emucxl::cused
