// SPDX-License-Identifier: Apache-2.0
// kmod_driver.cpp - the driver over the kernel module's /dev/emucxl.
//
// map()   = EMUCXL_ALLOC on the logical node + mmap(MAP_SHARED) of the offset
//           it returned: the module allocated the pages on the node (or said
//           ENOMEM) and maps them pinned; the mapping holds its own reference
//           to the allocation.
// unmap() = EMUCXL_FREE of the handle + munmap; the module frees the pages
//           when both are gone, in either order.
// topology() comes from EMUCXL_INFO (the module owns the node mapping),
// usage() from EMUCXL_STATS. Closing the device (driver destruction, exit,
// SIGKILL) frees whatever the session still holds.
//
// Fork: the module marks its mappings VM_DONTCOPY, a child does not inherit
// them.
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

class KmodDriver final : public Driver {
public:
	KmodDriver(DeviceClient client, const emucxl_info &info) noexcept
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

	std::string_view name() const noexcept override { return "kmod"; }
	Topology topology() const noexcept override { return topology_; }

	Result<Extent> map(std::size_t length, int logical_node) noexcept override
	{
		if (logical_node < 0 || logical_node >= kNumNodes || length == 0 ||
		    length % page_size_ != 0)
			return Error{EINVAL};

		auto a = client_.alloc(length, static_cast<unsigned>(logical_node));
		if (!a)
			return Error{a.error()};

		void *addr = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED,
				    client_.fd(), static_cast<off_t>(a->offset));
		if (addr == MAP_FAILED) {
			const int err = errno;
			LOG_WARN("kmod: mmap of %zu bytes (handle %llu): %s", length,
				 static_cast<unsigned long long>(a->handle), std::strerror(err));
			(void)client_.free(a->handle);
			return Error{err};
		}
		// The mapping holds its own reference: the handle could be freed
		// now; it is kept so unmap() can release both, and so the
		// module's counters show one allocation per extent.
		Extent e;
		e.addr = addr;
		e.length = length;
		e.logical_node = logical_node;
		e.cookie = a->handle;
		return e;
	}

	Status unmap(const Extent &extent) noexcept override
	{
		// FREE first: if the handle is unknown the extent stays mapped
		// and the caller gets the error, as the interface promises.
		if (Status s = client_.free(extent.cookie); !s)
			return s;
		if (::munmap(extent.addr, extent.length) != 0) {
			const int err = errno;
			LOG_ERROR("kmod: munmap(%p, %zu): %s", extent.addr, extent.length,
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

// A node override that the module's mapping does not honour. The module
// owns the mapping (parameters local_node / remote_node): say so, rather
// than silently placing memory elsewhere than configured.
bool overrides_match(const Config &config, const emucxl_info &info) noexcept
{
	const struct {
		int wanted;
		unsigned lnode;
		const char *var;
		const char *param;
	} checks[] = {
		{config.local_node, EMUCXL_NODE_LOCAL, "EMUCXL_LOCAL_NODE", "local_node"},
		{config.remote_node, EMUCXL_NODE_REMOTE, "EMUCXL_REMOTE_NODE", "remote_node"},
	};
	bool ok = true;
	for (const auto &c : checks) {
		const auto have = info.node[c.lnode].physical_node;
		if (c.wanted >= 0 && static_cast<std::uint32_t>(c.wanted) != have) {
			LOG_WARN("kmod: %s=%d, but the module maps logical node %u to node %u "
				 "(reload it with %s=%d)",
				 c.var, c.wanted, c.lnode, have, c.param, c.wanted);
			ok = false;
		}
	}
	return ok;
}

}  // namespace

Result<DriverPtr> make_kmod_driver(const Config &config) noexcept
{
	const char *path = config.device.c_str();
	auto client = DeviceClient::open(path);
	if (!client)
		return Error{client.error()};

	auto info = client->info();
	if (!info)
		return Error{info.error()};
	if (info->impl != EMUCXL_IMPL_KMOD) {
		LOG_INFO("kmod: %s is served by %s, not by the kernel module", path,
			 device_impl_name(info->impl));
		return Error{ENODEV};
	}
	if (!(info->caps & EMUCXL_CAP_MMAP) || info->nr_nodes != EMUCXL_NR_NODES) {
		LOG_INFO("kmod: %s does not offer mmap of two nodes (caps %#llx, %u nodes)", path,
			 static_cast<unsigned long long>(info->caps), info->nr_nodes);
		return Error{ENODEV};
	}
	const long ps = ::sysconf(_SC_PAGESIZE);
	if (ps <= 0 || info->page_size != static_cast<std::uint32_t>(ps)) {
		LOG_ERROR("kmod: device page size %u, ours %ld", info->page_size, ps);
		return Error{EINVAL};
	}
	if (!overrides_match(config, info.value()))
		return Error{EINVAL};

	auto abi = client->init();
	if (!abi)
		return Error{abi.error()};

	LOG_INFO("kmod: %s, ABI %u.%u, logical 0 -> node %u (%llu MiB), 1 -> node %u (%llu MiB)",
		 path, EMUCXL_ABI_VERSION_MAJOR(abi.value()), EMUCXL_ABI_VERSION_MINOR(abi.value()),
		 info->node[0].physical_node,
		 static_cast<unsigned long long>(info->node[0].capacity >> 20),
		 info->node[1].physical_node,
		 static_cast<unsigned long long>(info->node[1].capacity >> 20));
	DriverPtr driver(new (std::nothrow) KmodDriver(std::move(client).value(), info.value()));
	if (!driver)
		return Error{ENOMEM};
	return driver;
}

}  // namespace emucxl
