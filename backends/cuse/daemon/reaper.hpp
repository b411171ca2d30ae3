// SPDX-License-Identifier: Apache-2.0
// reaper.hpp - the punches of FREE, EXIT and release, off the request workers.
//
// Releasing a region punches its pages out of the client's memfd
// (MADV_REMOVE), and that takes the memfd's inode lock, which the client
// can hold for as long as it likes (a write() into its memfd from a buffer
// that faults on a userfaultfd region or a FUSE mount it serves). Done on a
// libfuse worker, ten such FREEs would stop the daemon. So the worker hands
// the regions to the reaper and waits for them only up to a deadline:
//   - each uid has its own queue and at most one thread working on it, so a
//     client that blocks its punches blocks only the punches of its own uid;
//   - a region's `done` (the daemon gives the capacity back) runs after its
//     pages are gone, so the counters never show less than the node holds:
//     a client that blocks its punch keeps being charged for it;
//   - threads are started on demand, one per uid with work, and end when
//     their queue has stayed empty for a second.
// Thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "memfd_region.hpp"

namespace emucxl::cused {

class Reaper {
public:
	struct Job {
		MemfdRegion region;
		std::function<void()> done;  // after the punch; never after stop()
	};

	Reaper();
	Reaper(const Reaper &) = delete;
	Reaper &operator=(const Reaper &) = delete;
	~Reaper();  // stop(0)

	// Release `jobs` on `uid`'s queue; wait until they are done or `wait`
	// has passed. True if all were done in time. Without a thread (out of
	// resources), releases them on the caller's.
	bool release(uid_t uid, std::vector<Job> jobs, std::chrono::milliseconds wait) noexcept;

	// Stop: wait up to `wait` for the queues to drain, then abandon what is
	// still queued (unmapped, left to the client as if the daemon had died).
	// A thread stuck in a punch finishes it some day, later, on its own; no
	// `done` runs after this. True if nothing was left stuck.
	bool stop(std::chrono::milliseconds wait) noexcept;

	// Threads currently working (for tests and the log).
	unsigned threads() const noexcept;

private:
	struct State;
	static void work(std::shared_ptr<State> st, uid_t uid) noexcept;

	std::shared_ptr<State> st_;  // shared with the threads, which may outlive us
};

}  // namespace emucxl::cused
