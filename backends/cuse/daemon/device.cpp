// SPDX-License-Identifier: Apache-2.0
// device.cpp - the ABI's semantics for emucxl-cused (see device.hpp). The
// handlers follow emucxl.ko's (backends/kmod/module/emucxl_main.c) check by
// check, so both servers give the same answer to the same request.
#include "device.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <new>
#include <vector>

#include "log.hpp"

namespace emucxl::cused {

// One layout for 32- and 64-bit callers (the module asserts the same).
static_assert(sizeof(emucxl_init) == 24);
static_assert(sizeof(emucxl_exit) == 32);
static_assert(sizeof(emucxl_alloc) == 56);
static_assert(sizeof(emucxl_free) == 32);
static_assert(sizeof(emucxl_info) == 136);
static_assert(sizeof(emucxl_stats) == 160);

struct Device::Allocation {
	Charge charge;        // what it counts against
	MemfdRegion region;   // the daemon's pinned mapping of the memfd
};

struct Device::Session {
	Session(bool w, uid_t u) : writable(w), uid(u) {}
	const bool writable;       // opened for writing: may EMUCXL_INIT
	const uid_t uid;           // who opened it: whose quotas it uses
	Usage usage;               // guarded by Device::nodes_lock_
	unsigned requests = 0;     // in flight; guarded by Device::nodes_lock_
	std::mutex lock;           // guards the members below
	bool initialised = false;  // EMUCXL_INIT done, no EMUCXL_EXIT since
	std::uint64_t next_id = 1; // cursor for cyclic handle allocation
	std::map<std::uint64_t, std::unique_ptr<Allocation>> handles;
};

namespace {

template <class T>
bool all_zero(const T &field) noexcept
{
	const auto *p = reinterpret_cast<const unsigned char *>(&field);
	return std::all_of(p, p + sizeof(field), [](unsigned char c) { return c == 0; });
}

}  // namespace

std::uint64_t node_headroom(std::uint64_t usable) noexcept
{
	return std::max<std::uint64_t>(64ULL << 20, usable / 32);
}

bool ioctl_arg_sizes(unsigned cmd, std::size_t *in, std::size_t *out) noexcept
{
	switch (cmd) {
	case EMUCXL_INIT:
	case EMUCXL_EXIT:
	case EMUCXL_ALLOC:
	case EMUCXL_FREE:
	case EMUCXL_STATS:
	case EMUCXL_INFO:
		break;
	default:
		return false;
	}
	// The commands encode their argument's size and direction; that is
	// also exactly what a restricted CUSE ioctl copies.
	*in = (_IOC_DIR(cmd) & _IOC_WRITE) ? _IOC_SIZE(cmd) : 0;
	*out = (_IOC_DIR(cmd) & _IOC_READ) ? _IOC_SIZE(cmd) : 0;
	return true;
}

Device::Device(const NodeSetup nodes[EMUCXL_NR_NODES], std::uint32_t page_size,
	       const Limits &limits) noexcept
	: page_size_(page_size), limits_(limits)
{
	// One pool per physical node: logical nodes that share a node share
	// its budget, the larger of their capacities (not the sum: with the
	// defaults, local and remote on a one-node machine would otherwise
	// pin all of it).
	for (int i = 0; i < EMUCXL_NR_NODES; i++) {
		nodes_[i].setup = nodes[i];
		Pool *pool = nullptr;
		for (unsigned p = 0; p < nr_pools_; p++)
			if (pools_[p].nid == nodes[i].nid)
				pool = &pools_[p];
		if (!pool) {
			pool = &pools_[nr_pools_++];
			pool->nid = nodes[i].nid;
			pool->usable = nodes[i].usable;
		}
		pool->capacity = std::max(pool->capacity, nodes[i].capacity);
		nodes_[i].pool = pool;
	}
}

Device::~Device() { shutdown(); }

// ---- sessions ------------------------------------------------------------

Result<std::uint64_t> Device::open_session(int open_flags, uid_t uid) noexcept
{
	try {
		auto s = std::make_shared<Session>((open_flags & O_ACCMODE) != O_RDONLY, uid);
		{
			std::lock_guard<std::mutex> g(nodes_lock_);
			owners_[uid].sessions++;
		}
		std::lock_guard<std::mutex> g(sessions_lock_);
		const std::uint64_t id = next_session_++;
		try {
			sessions_.emplace(id, std::move(s));
		} catch (...) {
			std::lock_guard<std::mutex> n(nodes_lock_);
			owners_[uid].sessions--;
			throw;
		}
		return id;
	} catch (...) {
		return Error{ENOMEM};
	}
}

std::shared_ptr<Device::Session> Device::find(std::uint64_t id) noexcept
{
	std::lock_guard<std::mutex> g(sessions_lock_);
	auto it = sessions_.find(id);
	return it == sessions_.end() ? nullptr : it->second;
}

void Device::release_session(std::uint64_t id) noexcept
{
	std::shared_ptr<Session> s;
	{
		std::lock_guard<std::mutex> g(sessions_lock_);
		auto it = sessions_.find(id);
		if (it == sessions_.end())
			return;
		s = std::move(it->second);
		sessions_.erase(it);
	}
	Handles handles;
	{
		std::lock_guard<std::mutex> g(s->lock);
		handles.swap(s->handles);
		s->initialised = false;
	}
	if (!handles.empty())
		CLOG_DEBUG("session %" PRIu64 " released with %zu allocation(s)", id, handles.size());
	destroy(s, std::move(handles));
	std::lock_guard<std::mutex> g(nodes_lock_);
	auto o = owners_.find(s->uid);
	if (o != owners_.end() && --o->second.sessions == 0 && !o->second.usage.count &&
	    !o->second.requests)
		owners_.erase(o);
}

void Device::shutdown() noexcept
{
	std::map<std::uint64_t, std::shared_ptr<Session>> sessions;
	{
		std::lock_guard<std::mutex> g(sessions_lock_);
		sessions.swap(sessions_);
	}
	// Punches already asked for get a moment; what a client blocks is
	// left to it, as if the daemon had died.
	(void)reaper_.stop(kReleaseWait);
	for (auto &[id, s] : sessions) {
		Handles handles;
		{
			std::lock_guard<std::mutex> g(s->lock);
			handles.swap(s->handles);
			s->initialised = false;
		}
		for (auto &[handle, a] : handles) {
			a->region.abandon();
			uncharge(*s, a->charge);
		}
	}
	std::lock_guard<std::mutex> g(nodes_lock_);
	owners_.clear();
}

// ---- accounting ----------------------------------------------------------

void Device::count_failure(unsigned lnode) noexcept
{
	std::lock_guard<std::mutex> g(nodes_lock_);
	nodes_[lnode].failures++;
}

// Charge `bytes` to the logical node, its physical node and the session's
// quotas before placing them, and mark the memfd as in use. -EINVAL: the
// memfd already backs an allocation; -EDQUOT: over the session's or the
// uid's quota; -ENOMEM: over a capacity or the daemon's mapping budget, or
// the node itself is short of memory (counted as failures).
int Device::reserve(Session &s, unsigned lnode, std::uint64_t bytes, dev_t dev, ino_t ino) noexcept
{
	Node &n = nodes_[lnode];
	Pool &pool = *n.pool;
	const NodeMemory mem = node_memory(n.setup.nid);  // outside the lock: reads sysfs
	const std::uint64_t headroom = node_headroom(pool.usable);
	std::lock_guard<std::mutex> g(nodes_lock_);
	Owner *owner;
	try {
		owner = &owners_[s.uid];
	} catch (...) {
		return -ENOMEM;
	}
	if (s.usage.count >= limits_.session_allocations ||
	    bytes > limits_.session_bytes - std::min(limits_.session_bytes, s.usage.bytes)) {
		CLOG_DEBUG("ALLOC: session quota (%" PRIu64 " allocations, %" PRIu64 " bytes) reached",
			   limits_.session_allocations, limits_.session_bytes);
		return -EDQUOT;
	}
	if (owner->usage.count >= limits_.uid_allocations ||
	    bytes > limits_.uid_bytes - std::min(limits_.uid_bytes, owner->usage.bytes)) {
		CLOG_DEBUG("ALLOC: uid %u's quota (%" PRIu64 " allocations, %" PRIu64 " bytes) reached",
			   static_cast<unsigned>(s.uid), limits_.uid_allocations, limits_.uid_bytes);
		return -EDQUOT;
	}
	if (total_count_ >= limits_.allocations) {
		n.failures++;
		CLOG_DEBUG("ALLOC: the daemon holds %" PRIu64 " allocations, its limit",
			   total_count_);
		return -ENOMEM;
	}
	if (bytes > n.setup.capacity - n.allocated || bytes > pool.capacity - pool.allocated) {
		n.failures++;
		CLOG_DEBUG("logical node %u: %" PRIu64 " bytes refused, over its capacity of %" PRIu64
			   " (node %d: %" PRIu64 " of %" PRIu64 " held)",
			   lnode, bytes, n.setup.capacity, pool.nid, pool.allocated, pool.capacity);
		return -ENOMEM;
	}
	// What other ALLOCs are populating right now is not in `mem.free` yet.
	if (mem.free < pool.in_flight || mem.free - pool.in_flight < headroom ||
	    mem.free - pool.in_flight - headroom < bytes) {
		n.failures++;
		CLOG_DEBUG("node %d is short of memory: %" PRIu64 " bytes for logical node %u refused "
			   "(%" PRIu64 " free, %" PRIu64 " kept free)",
			   n.setup.nid, bytes, lnode, mem.free, headroom);
		return -ENOMEM;
	}
	try {
		if (!memfds_.emplace(dev, ino).second) {
			CLOG_DEBUG("ALLOC: the memfd already backs an allocation");
			return -EINVAL;
		}
	} catch (...) {
		return -ENOMEM;
	}
	n.allocated += bytes;
	n.peak = std::max(n.peak, n.allocated);
	pool.allocated += bytes;
	pool.in_flight += bytes;
	s.usage.count++;
	s.usage.bytes += bytes;
	owner->usage.count++;
	owner->usage.bytes += bytes;
	total_count_++;
	return 0;
}

void Device::unreserve(Session &s, unsigned lnode, std::uint64_t bytes, dev_t dev,
		       ino_t ino) noexcept
{
	std::lock_guard<std::mutex> g(nodes_lock_);
	nodes_[lnode].allocated -= bytes;
	nodes_[lnode].pool->allocated -= bytes;
	s.usage.count--;
	s.usage.bytes -= bytes;
	auto o = owners_.find(s.uid);
	if (o != owners_.end()) {
		o->second.usage.count--;
		o->second.usage.bytes -= bytes;
	}
	total_count_--;
	memfds_.erase({dev, ino});
}

// Give back what a live allocation was charged, once its pages are gone.
void Device::uncharge(Session &s, const Charge &c) noexcept
{
	std::lock_guard<std::mutex> g(nodes_lock_);
	Node &n = nodes_[c.lnode];
	n.allocated -= c.bytes;
	n.pool->allocated -= c.bytes;
	n.allocations--;
	s.usage.count--;
	s.usage.bytes -= c.bytes;
	auto o = owners_.find(s.uid);
	if (o != owners_.end()) {
		o->second.usage.count--;
		o->second.usage.bytes -= c.bytes;
		if (!o->second.sessions && !o->second.usage.count && !o->second.requests)
			owners_.erase(o);
	}
	total_count_--;
	memfds_.erase({c.dev, c.ino});
}

// Free allocations: their pages first (on the reaper: a punch can block on
// the client's inode lock), then the capacity they used, so the counters
// never show less than what the node really holds. Waits for the punches
// up to kReleaseWait; after that the capacity comes back when they finish.
void Device::destroy(const std::shared_ptr<Session> &s, Handles handles) noexcept
{
	if (handles.empty())
		return;
	std::vector<Reaper::Job> jobs;
	try {
		jobs.reserve(handles.size());
		for (auto &[handle, a] : handles) {
			Reaper::Job j;
			j.done = [this, s, c = a->charge] { uncharge(*s, c); };  // may throw
			j.region = std::move(a->region);
			jobs.push_back(std::move(j));  // reserved: does not throw
			a.reset();
		}
	} catch (...) {
		// Out of memory: what did not become a job is released here.
		for (auto &[handle, a] : handles) {
			if (!a)
				continue;
			a->region.release();
			uncharge(*s, a->charge);
		}
	}
	(void)reaper_.release(s->uid, std::move(jobs), kReleaseWait);
}

// ---- ioctls ----------------------------------------------------------------

int Device::do_init(Session &s, emucxl_init &arg) noexcept
{
	if (arg.flags || !all_zero(arg.reserved))
		return -EINVAL;
	if (!s.writable)
		return -EBADF;
	const bool supported = EMUCXL_ABI_VERSION_MAJOR(arg.abi_version) == EMUCXL_ABI_MAJOR;
	arg.abi_version = EMUCXL_ABI_VERSION;  // written back either way
	if (!supported)
		return -EPROTONOSUPPORT;
	std::lock_guard<std::mutex> g(s.lock);
	s.initialised = true;
	return 0;
}

int Device::do_exit(const std::shared_ptr<Session> &s, emucxl_exit &arg) noexcept
{
	if (arg.flags || arg.pad || !all_zero(arg.reserved))
		return -EINVAL;
	Handles handles;
	{
		std::lock_guard<std::mutex> g(s->lock);
		handles.swap(s->handles);
		s->initialised = false;
	}
	arg.freed = handles.size();
	destroy(s, std::move(handles));
	return 0;
}

int Device::do_alloc(const std::shared_ptr<Session> &sp, pid_t caller, emucxl_alloc &arg) noexcept
{
	Session &s = *sp;
	if ((arg.flags & ~EMUCXL_ALLOC_FLAGS) || arg.pad || !all_zero(arg.reserved))
		return -EINVAL;
	if (!(arg.flags & EMUCXL_ALLOC_MEMFD))
		return -EOPNOTSUPP;  // no mmap through CUSE: the memory comes in a memfd
	if (!arg.size || arg.node >= EMUCXL_NR_NODES)
		return -EINVAL;
	{
		std::lock_guard<std::mutex> g(s.lock);
		if (!s.initialised)
			return -EBADFD;
	}

	const unsigned lnode = arg.node;
	const NodeSetup &setup = nodes_[lnode].setup;  // fixed after construction
	if (arg.size > setup.capacity) {  // also bounds the rounding below
		count_failure(lnode);
		CLOG_DEBUG("logical node %u: %" PRIu64 " bytes refused, over its capacity of %" PRIu64,
			   lnode, static_cast<std::uint64_t>(arg.size), setup.capacity);
		return -ENOMEM;
	}
	const std::uint64_t bytes = (arg.size + page_size_ - 1) / page_size_ * page_size_;

	std::unique_ptr<Allocation> a(new (std::nothrow) Allocation);
	if (!a)
		return -ENOMEM;
	auto memfd = open_client_memfd(caller, arg.memfd, bytes);
	if (!memfd)
		return -memfd.error();
	if (int err = reserve(s, lnode, bytes, memfd->dev, memfd->ino))
		return err;
	// the reservation is ours: undone below unless the allocation takes it

	auto region = MemfdRegion::place(memfd.value(), bytes, setup.nid);
	{
		std::lock_guard<std::mutex> g(nodes_lock_);
		nodes_[lnode].pool->in_flight -= bytes;
		if (region)
			nodes_[lnode].allocations++;
	}
	if (!region) {
		unreserve(s, lnode, bytes, memfd->dev, memfd->ino);
		if (region.error() == ENOMEM)
			count_failure(lnode);
		return -region.error();
	}
	a->charge = {lnode, bytes, memfd->dev, memfd->ino};
	a->region = std::move(region.value());
	// from here on `a` owns the reservation: destroy() gives it back

	std::uint64_t id = 0;
	int err = 0;
	{
		std::lock_guard<std::mutex> g(s.lock);
		if (!s.initialised) {
			err = -EBADFD;  // raced with EMUCXL_EXIT
		} else if (s.handles.size() >= EMUCXL_HANDLE_MAX) {
			err = -EBUSY;   // what the module's xa_alloc_cyclic says when full
		} else {
			id = s.next_id;
			for (;; id++) {
				if (id == 0 || id > EMUCXL_HANDLE_MAX)
					id = 1;
				if (!s.handles.count(id))
					break;
			}
			try {
				s.handles.emplace(id, std::move(a));
				s.next_id = id + 1;
			} catch (...) {
				err = -ENOMEM;
			}
		}
	}
	if (err) {
		Handles one;
		try {
			one.emplace(0, std::move(a));
		} catch (...) {
			a->region.release();
			uncharge(s, a->charge);
			return err;
		}
		destroy(sp, std::move(one));
		return err;
	}
	arg.size = bytes;
	arg.handle = id;
	arg.offset = 0;  // the allocation is the whole memfd
	return 0;
}

int Device::do_free(const std::shared_ptr<Session> &sp, const emucxl_free &arg) noexcept
{
	Session &s = *sp;
	if (arg.flags || arg.pad || !all_zero(arg.reserved))
		return -EINVAL;
	Handles one;
	{
		std::lock_guard<std::mutex> g(s.lock);
		if (!s.initialised)
			return -EBADFD;
		if (arg.handle && arg.handle <= EMUCXL_HANDLE_MAX) {
			auto it = s.handles.find(arg.handle);
			if (it != s.handles.end())
				one.insert(s.handles.extract(it));  // no allocation
		}
	}
	if (one.empty())
		return -ENOENT;
	destroy(sp, std::move(one));
	return 0;
}

void Device::cancel_alloc(std::uint64_t id, std::uint64_t handle) noexcept
{
	std::shared_ptr<Session> s = find(id);
	if (!s)
		return;
	Handles one;
	{
		std::lock_guard<std::mutex> g(s->lock);
		auto it = s->handles.find(handle);
		if (it == s->handles.end())
			return;
		one.insert(s->handles.extract(it));
	}
	destroy(s, std::move(one));
}

void Device::do_stats(emucxl_stats &arg) noexcept
{
	std::memset(&arg, 0, sizeof(arg));
	arg.nr_nodes = EMUCXL_NR_NODES;
	{
		std::lock_guard<std::mutex> g(sessions_lock_);
		arg.sessions = static_cast<std::uint32_t>(sessions_.size());
	}
	NodeMemory mem[EMUCXL_NR_NODES];
	for (int i = 0; i < EMUCXL_NR_NODES; i++)
		mem[i] = node_memory(nodes_[i].setup.nid);
	std::lock_guard<std::mutex> g(nodes_lock_);
	for (int i = 0; i < EMUCXL_NR_NODES; i++) {
		const Node &n = nodes_[i];
		emucxl_node_stats &st = arg.node[i];
		st.allocated = n.allocated;
		st.peak = n.peak;
		st.capacity = n.setup.capacity;
		st.free = std::min({n.setup.capacity - n.allocated,
				    n.pool->capacity - n.pool->allocated, mem[i].free});
		st.failures = n.failures;
		st.allocations = n.allocations;
	}
}

void Device::do_info(emucxl_info &arg) noexcept
{
	std::memset(&arg, 0, sizeof(arg));
	arg.abi_version = EMUCXL_ABI_VERSION;
	arg.impl = EMUCXL_IMPL_CUSE;
	// No EMUCXL_CAP_MMAP: CUSE cannot mmap; the memory comes in memfds.
	arg.caps = EMUCXL_CAP_MEMFD | EMUCXL_CAP_PINNED | EMUCXL_CAP_STRICT_NODE;
	arg.page_size = page_size_;
	arg.nr_nodes = EMUCXL_NR_NODES;
	const bool shared = nodes_[0].setup.nid == nodes_[1].setup.nid;
	for (int i = 0; i < EMUCXL_NR_NODES; i++) {
		const NodeSetup &n = nodes_[i].setup;
		emucxl_node_info &ni = arg.node[i];
		ni.physical_node = static_cast<std::uint32_t>(n.nid);
		ni.flags = (n.has_cpus ? EMUCXL_NODE_HAS_CPUS : 0) | (shared ? EMUCXL_NODE_SHARED : 0);
		ni.capacity = n.capacity;
		ni.total = node_memory(n.nid).usable;  // live, as the module reads it
	}
}

IoctlReply Device::ioctl(std::uint64_t id, pid_t caller, unsigned cmd, const void *in,
			 std::size_t in_len) noexcept
{
	IoctlReply r;
	std::size_t need_in = 0, need_out = 0;
	if (!ioctl_arg_sizes(cmd, &need_in, &need_out)) {
		r.result = -ENOTTY;
		return r;
	}
	if (in_len < need_in || (need_in && !in)) {
		r.result = -EFAULT;  // the argument did not arrive
		return r;
	}
	std::shared_ptr<Session> s = find(id);
	if (!s) {
		r.result = -EBADF;
		return r;
	}
	if (int err = begin_request(*s)) {
		r.result = err;
		return r;
	}
	r = dispatch(s, caller, cmd, in);
	end_request(*s);
	return r;
}

// Requests in flight, per session and per uid: a client whose requests
// stall (on anything) can hold only that many libfuse workers.
int Device::begin_request(Session &s) noexcept
{
	std::lock_guard<std::mutex> g(nodes_lock_);
	auto o = owners_.find(s.uid);
	if (o == owners_.end())
		return -EAGAIN;  // cannot happen: the session's open made it
	if (s.requests >= limits_.session_requests || o->second.requests >= limits_.uid_requests) {
		CLOG_DEBUG("uid %u: %u request(s) in flight (session: %u): EAGAIN",
			   static_cast<unsigned>(s.uid), o->second.requests, s.requests);
		return -EAGAIN;
	}
	s.requests++;
	o->second.requests++;
	return 0;
}

void Device::end_request(Session &s) noexcept
{
	std::lock_guard<std::mutex> g(nodes_lock_);
	s.requests--;
	auto o = owners_.find(s.uid);
	if (o != owners_.end())
		o->second.requests--;
}

IoctlReply Device::dispatch(const std::shared_ptr<Session> &s, pid_t caller, unsigned cmd,
			    const void *in) noexcept
{
	IoctlReply r;
	try {
		switch (cmd) {
		case EMUCXL_INIT:
			std::memcpy(&r.out.init, in, sizeof(r.out.init));
			r.result = do_init(*s, r.out.init);
			if (r.result == 0 || r.result == -EPROTONOSUPPORT)
				r.out_len = sizeof(r.out.init);
			break;
		case EMUCXL_EXIT:
			std::memcpy(&r.out.exit, in, sizeof(r.out.exit));
			r.result = do_exit(s, r.out.exit);
			r.out_len = r.result ? 0 : sizeof(r.out.exit);
			break;
		case EMUCXL_ALLOC:
			std::memcpy(&r.out.alloc, in, sizeof(r.out.alloc));
			r.result = do_alloc(s, caller, r.out.alloc);
			r.out_len = r.result ? 0 : sizeof(r.out.alloc);
			break;
		case EMUCXL_FREE: {
			emucxl_free arg;
			std::memcpy(&arg, in, sizeof(arg));
			r.result = do_free(s, arg);
			break;
		}
		case EMUCXL_STATS:
			do_stats(r.out.stats);
			r.out_len = sizeof(r.out.stats);
			break;
		case EMUCXL_INFO:
			do_info(r.out.info);
			r.out_len = sizeof(r.out.info);
			break;
		}
	} catch (...) {
		r = IoctlReply{};
		r.result = -ENOMEM;
	}
	return r;
}

}  // namespace emucxl::cused
