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
	unsigned lnode = 0;       // logical node
	std::uint64_t bytes = 0;  // page granular, what the node is charged
	dev_t dev = 0;            // the memfd's inode, while it backs this
	ino_t ino = 0;
	MemfdRegion region;       // the daemon's pinned mapping of it
};

struct Device::Session {
	explicit Session(bool w) : writable(w) {}
	const bool writable;       // opened for writing: may EMUCXL_INIT
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

Device::Device(const NodeSetup nodes[EMUCXL_NR_NODES], std::uint32_t page_size) noexcept
	: page_size_(page_size)
{
	for (int i = 0; i < EMUCXL_NR_NODES; i++)
		nodes_[i].setup = nodes[i];
}

Device::~Device() { shutdown(); }

// ---- sessions ------------------------------------------------------------

Result<std::uint64_t> Device::open_session(int open_flags) noexcept
{
	try {
		auto s = std::make_shared<Session>((open_flags & O_ACCMODE) != O_RDONLY);
		std::lock_guard<std::mutex> g(sessions_lock_);
		const std::uint64_t id = next_session_++;
		sessions_.emplace(id, std::move(s));
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
	std::map<std::uint64_t, std::unique_ptr<Allocation>> handles;
	{
		std::lock_guard<std::mutex> g(s->lock);
		handles.swap(s->handles);
		s->initialised = false;
	}
	if (!handles.empty())
		CLOG_DEBUG("session %" PRIu64 " released with %zu allocation(s)", id, handles.size());
	for (auto &[handle, a] : handles)
		destroy(std::move(a));
}

void Device::shutdown() noexcept
{
	std::map<std::uint64_t, std::shared_ptr<Session>> sessions;
	{
		std::lock_guard<std::mutex> g(sessions_lock_);
		sessions.swap(sessions_);
	}
	for (auto &[id, s] : sessions) {
		std::lock_guard<std::mutex> g(s->lock);
		for (auto &[handle, a] : s->handles) {
			a->region.abandon();
			destroy(std::move(a));
		}
		s->handles.clear();
	}
}

// ---- accounting ----------------------------------------------------------

void Device::count_failure(unsigned lnode) noexcept
{
	std::lock_guard<std::mutex> g(nodes_lock_);
	nodes_[lnode].failures++;
}

// Charge `bytes` to the logical node before placing them, and mark the memfd
// as in use. -EINVAL: the memfd already backs an allocation; -ENOMEM: over
// the capacity, or the node itself is short of memory (both counted).
int Device::reserve(unsigned lnode, std::uint64_t bytes, dev_t dev, ino_t ino) noexcept
{
	Node &n = nodes_[lnode];
	const NodeMemory mem = node_memory(n.setup.nid);  // outside the lock: reads /proc
	const std::uint64_t headroom = node_headroom(n.setup.usable);
	std::lock_guard<std::mutex> g(nodes_lock_);
	try {
		if (!memfds_.emplace(dev, ino).second) {
			CLOG_DEBUG("ALLOC: the memfd already backs an allocation");
			return -EINVAL;
		}
	} catch (...) {
		return -ENOMEM;
	}
	if (bytes > n.setup.capacity - n.allocated) {
		memfds_.erase({dev, ino});
		n.failures++;
		CLOG_INFO("logical node %u: %" PRIu64 " bytes refused, over its capacity of %" PRIu64,
			  lnode, bytes, n.setup.capacity);
		return -ENOMEM;
	}
	// What other ALLOCs are populating right now is not in `mem.free` yet.
	if (mem.free < n.in_flight || mem.free - n.in_flight < headroom ||
	    mem.free - n.in_flight - headroom < bytes) {
		memfds_.erase({dev, ino});
		n.failures++;
		CLOG_INFO("node %d is short of memory: %" PRIu64 " bytes for logical node %u refused "
			  "(%" PRIu64 " free, %" PRIu64 " kept free)",
			  n.setup.nid, bytes, lnode, mem.free, headroom);
		return -ENOMEM;
	}
	n.allocated += bytes;
	n.peak = std::max(n.peak, n.allocated);
	n.in_flight += bytes;
	return 0;
}

void Device::unreserve(unsigned lnode, std::uint64_t bytes, dev_t dev, ino_t ino) noexcept
{
	std::lock_guard<std::mutex> g(nodes_lock_);
	nodes_[lnode].allocated -= bytes;
	memfds_.erase({dev, ino});
}

// Free an allocation: its pages first, then the capacity they used, so the
// counters never show less than what the node really holds.
void Device::destroy(std::unique_ptr<Allocation> a) noexcept
{
	if (!a)
		return;
	a->region.release();
	std::lock_guard<std::mutex> g(nodes_lock_);
	Node &n = nodes_[a->lnode];
	n.allocated -= a->bytes;
	n.allocations--;
	memfds_.erase({a->dev, a->ino});
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

int Device::do_exit(Session &s, emucxl_exit &arg) noexcept
{
	if (arg.flags || arg.pad || !all_zero(arg.reserved))
		return -EINVAL;
	std::map<std::uint64_t, std::unique_ptr<Allocation>> handles;
	{
		std::lock_guard<std::mutex> g(s.lock);
		handles.swap(s.handles);
		s.initialised = false;
	}
	arg.freed = handles.size();
	for (auto &[handle, a] : handles)
		destroy(std::move(a));
	return 0;
}

int Device::do_alloc(Session &s, pid_t caller, emucxl_alloc &arg) noexcept
{
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
		CLOG_INFO("logical node %u: %" PRIu64 " bytes refused, over its capacity of %" PRIu64,
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
	if (int err = reserve(lnode, bytes, memfd->dev, memfd->ino))
		return err;
	// the reservation is ours: undone below unless the allocation takes it

	auto region = MemfdRegion::place(memfd.value(), bytes, setup.nid);
	{
		std::lock_guard<std::mutex> g(nodes_lock_);
		nodes_[lnode].in_flight -= bytes;
		if (region)
			nodes_[lnode].allocations++;
	}
	if (!region) {
		unreserve(lnode, bytes, memfd->dev, memfd->ino);
		if (region.error() == ENOMEM)
			count_failure(lnode);
		return -region.error();
	}
	a->lnode = lnode;
	a->bytes = bytes;
	a->dev = memfd->dev;
	a->ino = memfd->ino;
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
		destroy(std::move(a));
		return err;
	}
	arg.size = bytes;
	arg.handle = id;
	arg.offset = 0;  // the allocation is the whole memfd
	return 0;
}

int Device::do_free(Session &s, const emucxl_free &arg) noexcept
{
	if (arg.flags || arg.pad || !all_zero(arg.reserved))
		return -EINVAL;
	std::unique_ptr<Allocation> a;
	{
		std::lock_guard<std::mutex> g(s.lock);
		if (!s.initialised)
			return -EBADFD;
		if (arg.handle && arg.handle <= EMUCXL_HANDLE_MAX) {
			auto it = s.handles.find(arg.handle);
			if (it != s.handles.end()) {
				a = std::move(it->second);
				s.handles.erase(it);
			}
		}
	}
	if (!a)
		return -ENOENT;
	destroy(std::move(a));
	return 0;
}

void Device::cancel_alloc(std::uint64_t id, std::uint64_t handle) noexcept
{
	std::shared_ptr<Session> s = find(id);
	if (!s)
		return;
	std::unique_ptr<Allocation> a;
	{
		std::lock_guard<std::mutex> g(s->lock);
		auto it = s->handles.find(handle);
		if (it == s->handles.end())
			return;
		a = std::move(it->second);
		s->handles.erase(it);
	}
	destroy(std::move(a));
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
		st.free = std::min(n.setup.capacity - n.allocated, mem[i].free);
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
			r.result = do_exit(*s, r.out.exit);
			r.out_len = r.result ? 0 : sizeof(r.out.exit);
			break;
		case EMUCXL_ALLOC:
			std::memcpy(&r.out.alloc, in, sizeof(r.out.alloc));
			r.result = do_alloc(*s, caller, r.out.alloc);
			r.out_len = r.result ? 0 : sizeof(r.out.alloc);
			break;
		case EMUCXL_FREE: {
			emucxl_free arg;
			std::memcpy(&arg, in, sizeof(arg));
			r.result = do_free(*s, arg);
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
