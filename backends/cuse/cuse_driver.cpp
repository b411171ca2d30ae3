// SPDX-License-Identifier: Apache-2.0
// cuse_driver.cpp - the driver over emucxl-cused's device.
//
// The same ioctl ABI as the kernel module, through the same client
// (backends/kmod/client); only the data plane differs, because CUSE has no
// mmap:
// map()   = memfd_create + ftruncate, EMUCXL_ALLOC with EMUCXL_ALLOC_MEMFD
//           naming that descriptor (the daemon binds it to the node,
//           populates and pins it, or says ENOMEM), then mmap(MAP_SHARED,
//           MAP_POPULATE) of the memfd, and close it: the mapping keeps the
//           file alive, and a descriptor per extent would run a process
//           out of descriptors long before it runs out of memory. The
//           handle goes in Extent::cookie; Extent::fd stays -1.
// unmap() = EMUCXL_FREE (the daemon takes the pages out of the memfd), then
//           munmap, which drops the file's last reference.
// topology() comes from EMUCXL_INFO (the daemon owns the node mapping),
// usage() from EMUCXL_STATS. Closing the device (driver destruction, exit,
// SIGKILL) frees whatever the session still holds.
//
// A daemon that dies takes its connection with it: the kernel fails every
// later ioctl at once (ENOTCONN, ECONNABORTED or ENODEV), nothing blocks.
// The memory a client still maps is then only its own memfd; unmap()
// releases it locally and reports success, since there is nothing left in
// the daemon to free.
//
// Fork: the mappings are MADV_DONTFORK, so a child maps nothing of them, as
// with the other drivers.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "client/device_client.hpp"
#include "driver.hpp"
#include "log.hpp"

namespace emucxl {

namespace {

// The daemon is gone: the kernel aborted its connection, or the device
// went away with it.
bool server_gone(int err) noexcept
{
	return err == ENOTCONN || err == ECONNABORTED || err == ENODEV;
}

class CuseDriver final : public Driver {
public:
	CuseDriver(DeviceClient client, const emucxl_info &info) noexcept
		: client_(std::move(client)), page_size_(info.page_size)
	{
		for (int i = 0; i < kNumNodes; i++) {
			topology_.node[i].physical_node = static_cast<int>(info.node[i].physical_node);
			topology_.node[i].capacity = info.node[i].capacity;
		}
		topology_.remote_is_separate =
			info.node[0].physical_node != info.node[1].physical_node;
		topology_.pinned = (info.caps & EMUCXL_CAP_PINNED) != 0;
	}

	std::string_view name() const noexcept override { return "cuse"; }
	Topology topology() const noexcept override { return topology_; }

	Result<Extent> map(std::size_t length, int logical_node) noexcept override
	{
		if (logical_node < 0 || logical_node >= kNumNodes || length == 0 ||
		    length % page_size_ != 0)
			return Error{EINVAL};

		// Sealable, so the daemon can forbid resizing it under its
		// accounting; CLOEXEC, so a program we exec does not keep it.
		unique_fd memfd(::memfd_create("emucxl", MFD_CLOEXEC | MFD_ALLOW_SEALING));
		if (!memfd) {
			const int err = errno;
			LOG_WARN("cuse: memfd_create: %s", std::strerror(err));
			return Error{err == EMFILE || err == ENFILE ? ENOMEM : err};
		}
		if (::ftruncate(memfd.get(), static_cast<off_t>(length)) != 0) {
			const int err = errno;
			LOG_WARN("cuse: sizing the memfd to %zu bytes: %s", length, std::strerror(err));
			return Error{err};
		}

		auto a = client_.alloc(length, static_cast<unsigned>(logical_node),
				       EMUCXL_ALLOC_MEMFD, memfd.get());
		if (!a)
			return Error{a.error()};

		// MAP_POPULATE: all pages mapped now, as the module's mmap does,
		// so the first touch costs no fault (the pages exist already).
		void *addr = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
				    memfd.get(), static_cast<off_t>(a->offset));
		if (addr == MAP_FAILED) {
			const int err = errno;
			LOG_WARN("cuse: mmap of %zu bytes (handle %llu): %s", length,
				 static_cast<unsigned long long>(a->handle), std::strerror(err));
			(void)client_.free(a->handle);
			return Error{err};
		}
		// Children do not inherit emucxl memory (the module's VM_DONTCOPY).
		(void)::madvise(addr, length, MADV_DONTFORK);

		Extent e;
		e.addr = addr;
		e.length = length;
		e.logical_node = logical_node;
		e.cookie = a->handle;
		return e;  // the memfd closes here; the mapping holds the file
	}

	Status unmap(const Extent &extent) noexcept override
	{
		// FREE first: if the handle is unknown the extent stays mapped
		// and the caller gets the error, as the interface promises.
		if (Status s = client_.free(extent.cookie); !s) {
			if (!server_gone(s.error()))
				return s;
			// Nothing left to free in a daemon that is gone: the memory
			// is only our memfd now. Let it go.
			LOG_WARN("cuse: the daemon is gone; releasing handle %llu locally",
				 static_cast<unsigned long long>(extent.cookie));
		}
		if (::munmap(extent.addr, extent.length) != 0) {
			const int err = errno;
			LOG_ERROR("cuse: munmap(%p, %zu): %s", extent.addr, extent.length,
				  std::strerror(err));
			return Error{err};
		}
		return {};
	}

	Result<NodeUsage> usage(int logical_node) noexcept override
	{
		if (logical_node < 0 || logical_node >= kNumNodes)
			return Error{EINVAL};
		auto st = client_.node_stats(static_cast<unsigned>(logical_node));
		if (!st)
			return Error{st.error()};
		NodeUsage u;
		u.allocated = st->allocated;
		u.peak = st->peak;
		u.capacity = st->capacity;
		u.free = st->free;
		return u;
	}

private:
	DeviceClient client_;
	std::size_t page_size_;
	Topology topology_;
};

// A node override that the daemon's mapping does not honour. The daemon
// owns the mapping (options --local-node / --remote-node): say so, rather
// than silently placing memory elsewhere than configured.
bool overrides_match(const Config &config, const emucxl_info &info) noexcept
{
	const struct {
		int wanted;
		unsigned lnode;
		const char *var;
		const char *option;
	} checks[] = {
		{config.local_node, EMUCXL_NODE_LOCAL, "EMUCXL_LOCAL_NODE", "--local-node"},
		{config.remote_node, EMUCXL_NODE_REMOTE, "EMUCXL_REMOTE_NODE", "--remote-node"},
	};
	bool ok = true;
	for (const auto &c : checks) {
		const auto have = info.node[c.lnode].physical_node;
		if (c.wanted >= 0 && static_cast<std::uint32_t>(c.wanted) != have) {
			LOG_WARN("cuse: %s=%d, but emucxl-cused maps logical node %u to node %u "
				 "(restart it with %s %d)",
				 c.var, c.wanted, c.lnode, have, c.option, c.wanted);
			ok = false;
		}
	}
	return ok;
}

}  // namespace

Result<DriverPtr> make_cuse_driver(const Config &config) noexcept
{
	const char *path = config.device.c_str();
	auto client = DeviceClient::open(path);
	if (!client)
		return Error{client.error()};

	auto info = client->info();
	if (!info)
		return Error{server_gone(info.error()) ? ENODEV : info.error()};
	if (info->impl != EMUCXL_IMPL_CUSE) {
		LOG_INFO("cuse: %s is served by %s, not by emucxl-cused", path,
			 device_impl_name(info->impl));
		return Error{ENODEV};
	}
	if (!(info->caps & EMUCXL_CAP_MEMFD) || info->nr_nodes != EMUCXL_NR_NODES) {
		LOG_INFO("cuse: %s does not offer memfd allocation on two nodes (caps %#llx, %u nodes)",
			 path, static_cast<unsigned long long>(info->caps), info->nr_nodes);
		return Error{ENODEV};
	}
	const long ps = ::sysconf(_SC_PAGESIZE);
	if (ps <= 0 || info->page_size != static_cast<std::uint32_t>(ps)) {
		LOG_ERROR("cuse: device page size %u, ours %ld", info->page_size, ps);
		return Error{EINVAL};
	}
	if (!overrides_match(config, info.value()))
		return Error{EINVAL};

	auto abi = client->init();
	if (!abi)
		return Error{abi.error()};

	LOG_INFO("cuse: %s, ABI %u.%u, logical 0 -> node %u (%llu MiB), 1 -> node %u (%llu MiB)",
		 path, EMUCXL_ABI_VERSION_MAJOR(abi.value()), EMUCXL_ABI_VERSION_MINOR(abi.value()),
		 info->node[0].physical_node,
		 static_cast<unsigned long long>(info->node[0].capacity >> 20),
		 info->node[1].physical_node,
		 static_cast<unsigned long long>(info->node[1].capacity >> 20));
	DriverPtr driver(new (std::nothrow) CuseDriver(std::move(client).value(), info.value()));
	if (!driver)
		return Error{ENOMEM};
	return driver;
}

}  // namespace emucxl
