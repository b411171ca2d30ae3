// SPDX-License-Identifier: Apache-2.0
// device_driver.cpp - see device_driver.hpp.
#include "device_driver.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "log.hpp"

namespace emucxl {

bool device_server_gone(int err) noexcept
{
	return err == ENOTCONN || err == ECONNABORTED || err == ENODEV;
}

namespace {

// A node override that the server's mapping does not honour: the server owns
// the mapping, so say how to change it rather than place memory elsewhere.
bool overrides_match(const Config &config, const emucxl_info &info,
		     const DeviceRequirements &req) noexcept
{
	const struct {
		int wanted;
		unsigned lnode;
		const char *var;
		const char *option;
	} checks[] = {
		{config.local_node, EMUCXL_NODE_LOCAL, "EMUCXL_LOCAL_NODE", req.local_option},
		{config.remote_node, EMUCXL_NODE_REMOTE, "EMUCXL_REMOTE_NODE", req.remote_option},
	};
	bool ok = true;
	for (const auto &c : checks) {
		const auto have = info.node[c.lnode].physical_node;
		if (c.wanted >= 0 && static_cast<std::uint32_t>(c.wanted) != have) {
			LOG_WARN("%s: %s=%d, but %s maps logical node %u to node %u (set %s to %d)",
				 req.driver, c.var, c.wanted, req.server, c.lnode, have, c.option,
				 c.wanted);
			ok = false;
		}
	}
	return ok;
}

}  // namespace

Result<DeviceSession> open_device_session(const Config &config,
					  const DeviceRequirements &req) noexcept
{
	const char *path = config.device.c_str();
	auto client = DeviceClient::open(path);
	if (!client)
		return Error{client.error()};

	auto info = client->info();
	if (!info)
		return Error{device_server_gone(info.error()) ? ENODEV : info.error()};
	if (info->impl != req.impl) {
		LOG_INFO("%s: %s is served by %s, not by %s", req.driver, path,
			 device_impl_name(info->impl), req.server);
		return Error{ENODEV};
	}
	if ((info->caps & req.caps) != req.caps || info->nr_nodes != EMUCXL_NR_NODES) {
		LOG_INFO("%s: %s lacks what this driver needs (caps %#llx, %u nodes)", req.driver,
			 path, static_cast<unsigned long long>(info->caps), info->nr_nodes);
		return Error{ENODEV};
	}
	const long ps = ::sysconf(_SC_PAGESIZE);
	if (ps <= 0 || info->page_size != static_cast<std::uint32_t>(ps)) {
		LOG_ERROR("%s: device page size %u, ours %ld", req.driver, info->page_size, ps);
		return Error{EINVAL};
	}
	if (!overrides_match(config, info.value(), req))
		return Error{EINVAL};

	auto abi = client->init();
	if (!abi)
		return Error{abi.error()};

	LOG_INFO("%s: %s, ABI %u.%u, logical 0 -> node %u (%llu MiB), 1 -> node %u (%llu MiB)",
		 req.driver, path, EMUCXL_ABI_VERSION_MAJOR(abi.value()),
		 EMUCXL_ABI_VERSION_MINOR(abi.value()), info->node[0].physical_node,
		 static_cast<unsigned long long>(info->node[0].capacity >> 20),
		 info->node[1].physical_node,
		 static_cast<unsigned long long>(info->node[1].capacity >> 20));
	return DeviceSession{std::move(client).value(), info.value()};
}

DeviceDriver::DeviceDriver(DeviceSession session, const char *log_prefix) noexcept
	: client_(std::move(session.client)),
	  log_prefix_(log_prefix),
	  page_size_(session.info.page_size)
{
	const emucxl_info &info = session.info;
	for (int i = 0; i < kNumNodes; i++) {
		topology_.node[i].physical_node = static_cast<int>(info.node[i].physical_node);
		topology_.node[i].capacity = info.node[i].capacity;
	}
	topology_.remote_is_separate = info.node[0].physical_node != info.node[1].physical_node;
	topology_.pinned = (info.caps & EMUCXL_CAP_PINNED) != 0;
}

Result<Extent> DeviceDriver::map(std::size_t length, int logical_node) noexcept
{
	if (logical_node < 0 || logical_node >= kNumNodes || length == 0 ||
	    length % page_size_ != 0)
		return Error{EINVAL};
	return map_extent(length, logical_node);
}

Status DeviceDriver::unmap(const Extent &extent) noexcept
{
	if (Status s = client_.free(extent.cookie); !s) {
		if (!device_server_gone(s.error()))
			return s;
		LOG_WARN("%s: the server is gone; releasing handle %llu locally", log_prefix_,
			 static_cast<unsigned long long>(extent.cookie));
	}
	if (::munmap(extent.addr, extent.length) != 0) {
		const int err = errno;
		LOG_ERROR("%s: munmap(%p, %zu): %s", log_prefix_, extent.addr, extent.length,
			  std::strerror(err));
		return Error{err};
	}
	return {};
}

Result<NodeUsage> DeviceDriver::usage(int logical_node) noexcept
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

}  // namespace emucxl
