// SPDX-License-Identifier: Apache-2.0
// mbind_driver.cpp - the rootless driver: anonymous mmap, mbind(MPOL_BIND)
// to the physical node, then mlock (which faults every page in under that
// policy). No root, no device; the process owns the memory.
//
// Placement is strict: memory is on the node or map() fails with ENOMEM.
// Running a node dry under MPOL_BIND would wake the OOM killer instead of
// failing, so map() first checks the node's free memory, keeping a headroom,
// and then faults the pages in under MPOL_PREFERRED, verifies them with
// move_pages and binds them (see place()).
#include <numa.h>
#include <numaif.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "driver.hpp"
#include "log.hpp"
#include "numa_topology.hpp"

namespace emucxl {

namespace {

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14
#endif

// Memory left on a node for the kernel and everyone else: 64 MiB or 1/32.
long long headroom(long long total) { return std::max(64LL << 20, total / 32); }

// Can this process lock all the memory it maps? With an unlimited
// RLIMIT_MEMLOCK, yes. Otherwise only if the kernel waives the limit, which
// it does for CAP_IPC_LOCK in the initial user namespace: capget alone
// cannot tell (inside a user namespace it reports the namespace's
// capabilities), so ask mlock itself, on a read-only mapping one page larger
// than the limit: it checks the limit first, and read faults of anonymous
// memory map the shared zero page, so the probe costs page tables only. Otherwise the limit (8 MiB by default on most
// distributions) would fail emucxl long before the node is full.
bool can_pin(rlim_t *limit)
{
	struct rlimit rl = {};
	if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0) {
		*limit = 0;
		return false;
	}
	*limit = rl.rlim_cur;
	if (rl.rlim_cur == RLIM_INFINITY)
		return true;
	const std::size_t probe = (static_cast<std::size_t>(rl.rlim_cur) & ~std::size_t{4095}) + 4096;
	void *p = mmap(nullptr, probe, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return false;
	// The raw system call: sanitizer runtimes intercept mlock() as a no-op
	// that returns 0 (seen under ASan), which would report every process
	// as able to pin.
	const bool ok = syscall(SYS_mlock, p, probe) == 0;
	munmap(p, probe);  // unlocks too
	return ok;
}

class MbindDriver final : public Driver {
public:
	MbindDriver(const NodeChoice &nodes, bool pinned, bool numa) : numa_(numa)
	{
		topology_.node[0].physical_node = nodes.local;
		topology_.node[1].physical_node = nodes.remote;
		for (auto &n : topology_.node) {
			const NodeMemory m = node_memory(n.physical_node);
			n.capacity = static_cast<std::uint64_t>(std::max(0LL, m.total - headroom(m.total)));
		}
		topology_.remote_is_separate = nodes.local != nodes.remote;
		topology_.pinned = pinned;
	}

	std::string_view name() const noexcept override { return "mbind"; }
	Topology topology() const noexcept override { return topology_; }

	Result<Extent> map(std::size_t length, int logical_node) noexcept override
	{
		const int phys = topology_.node[logical_node].physical_node;
		const NodeMemory m = node_memory(phys);
		if (static_cast<long long>(length) > m.free - headroom(m.total)) {
			LOG_INFO("mbind: %zu bytes do not fit on node %d (%lld bytes free, %lld kept "
				 "free)", length, phys, m.free, headroom(m.total));
			count_failure(logical_node);
			return Error{ENOMEM};
		}

		void *p = mmap(nullptr, length, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED) {
			count_failure(logical_node);
			return Error{errno};
		}
		// Children do not inherit emucxl memory: the same fork semantics as
		// the kernel module's VM_DONTCOPY mappings.
		(void)madvise(p, length, MADV_DONTFORK);
		if (Status st = place(p, length, phys); !st) {
			munmap(p, length);
			count_failure(logical_node);
			return Error{st.error()};
		}
		account(logical_node, static_cast<std::int64_t>(length));
		return Extent{p, length, logical_node, 0, -1};
	}

	Status unmap(const Extent &e) noexcept override
	{
		if (munmap(e.addr, e.length) != 0)
			return Error{errno};
		account(e.logical_node, -static_cast<std::int64_t>(e.length));
		return {};
	}

	Result<NodeUsage> usage(int logical_node) noexcept override
	{
		NodeUsage u;
		const NodeMemory m = node_memory(topology_.node[logical_node].physical_node);
		u.allocated = static_cast<std::uint64_t>(allocated_[logical_node].load());
		u.peak = static_cast<std::uint64_t>(peak_[logical_node].load());
		u.capacity = topology_.node[logical_node].capacity;
		u.free = static_cast<std::uint64_t>(std::max(0LL, m.free - headroom(m.total)));
		return u;
	}

private:
	// Bind [p, p+length) to `phys` and fault it in there, locked if we can.
	// Put [p, p+length) on `phys`, present, and locked if we can.
	//
	// The pages are faulted in under MPOL_PREFERRED, checked with
	// move_pages, and only then bound (MPOL_BIND). Faulting them in under
	// MPOL_BIND directly would be simpler, but when the node runs out
	// during the fault (the free-memory check above races with everyone
	// else on the node) the kernel answers MPOL_BIND with the OOM killer,
	// not with an error. PREFERRED lets such a page land elsewhere instead;
	// the check sees it and the map fails with ENOMEM: strict placement,
	// and nobody killed.
	Status place(void *p, std::size_t length, int phys) noexcept
	{
		unsigned long mask[16] = {};  // up to 1024 nodes
		mask[phys / 64] = 1UL << (phys % 64);
		if (numa_ && mbind(p, length, MPOL_PREFERRED, mask, sizeof(mask) * 8, 0) != 0) {
			const int err = errno;
			LOG_WARN("mbind: preferring node %d failed: %s", phys, std::strerror(err));
			return Error{err};
		}
		// Fault every page in first, then lock them. mlock alone would
		// populate too, but sanitizer runtimes turn it into a no-op, and
		// placement must not depend on how we were built.
		if (madvise(p, length, MADV_POPULATE_WRITE) != 0) {
			if (errno != EINVAL) {  // EINVAL: kernel older than 5.14
				const int err = errno;
				LOG_INFO("mbind: populating %zu bytes on node %d failed: %s", length,
					 phys, std::strerror(err));
				return Error{ENOMEM};
			}
			for (std::size_t off = 0; off < length; off += 4096)
				static_cast<volatile char *>(p)[off] = 0;
		}
		if (numa_) {
			if (Status st = all_on_node(p, length, phys); !st)
				return st;
			// From now on strict: a page that is ever faulted in again
			// (unpinned mode) comes from `phys` or not at all.
			if (mbind(p, length, MPOL_BIND, mask, sizeof(mask) * 8, MPOL_MF_STRICT) != 0) {
				const int err = errno;
				LOG_WARN("mbind: binding to node %d failed: %s", phys, std::strerror(err));
				return Error{err == EIO ? ENOMEM : err};
			}
		}
		if (topology_.pinned && mlock(p, length) != 0) {
			const int err = errno;
			LOG_INFO("mbind: mlock of %zu bytes on node %d failed: %s", length, phys,
				 std::strerror(err));
			return Error{ENOMEM};
		}
		return {};
	}

	// ENOMEM unless every page of [p, p+length) is on `phys`.
	static Status all_on_node(void *p, std::size_t length, int phys) noexcept
	{
		constexpr std::size_t kBatch = 512;
		void *pages[kBatch];
		int status[kBatch];
		const std::size_t n_pages = length / 4096;
		for (std::size_t i = 0; i < n_pages; i += kBatch) {
			const std::size_t n = std::min(kBatch, n_pages - i);
			for (std::size_t j = 0; j < n; j++)
				pages[j] = static_cast<char *>(p) + (i + j) * 4096;
			if (move_pages(0, n, pages, nullptr, status, 0) != 0)
				return Error{errno};
			for (std::size_t j = 0; j < n; j++) {
				if (status[j] != phys) {
					LOG_INFO("mbind: node %d is full (a page landed on %d): ENOMEM",
						 phys, status[j]);
					return Error{ENOMEM};
				}
			}
		}
		return {};
	}

	void account(int node, std::int64_t delta) noexcept
	{
		const std::int64_t now = allocated_[node].fetch_add(delta) + delta;
		std::int64_t peak = peak_[node].load();
		while (now > peak && !peak_[node].compare_exchange_weak(peak, now)) {
		}
	}

	void count_failure(int node) noexcept { failures_[node].fetch_add(1); }

	Topology topology_;
	bool numa_;
	std::atomic<std::int64_t> allocated_[kNumNodes]{};
	std::atomic<std::int64_t> peak_[kNumNodes]{};
	std::atomic<std::uint64_t> failures_[kNumNodes]{};
};

}  // namespace

Result<DriverPtr> make_mbind_driver(const Config &config) noexcept
{
	auto nodes = choose_nodes(config);
	if (!nodes)
		return Error{nodes.error()};

	rlim_t limit = 0;
	const bool pinned = can_pin(&limit);
	static std::atomic<bool> warned{false};  // once per process, not per init
	if (!pinned && !warned.exchange(true))
		LOG_WARN("mbind: RLIMIT_MEMLOCK is %llu KiB and there is no CAP_IPC_LOCK, so memory "
			 "is not pinned and may be swapped (ulimit -l unlimited pins it)",
			 static_cast<unsigned long long>(limit) / 1024);

	auto *d = new (std::nothrow) MbindDriver(nodes.value(), pinned, numa_available() >= 0);
	if (!d)
		return Error{ENOMEM};
	return DriverPtr(d);
}

}  // namespace emucxl
