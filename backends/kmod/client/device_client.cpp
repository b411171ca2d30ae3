// SPDX-License-Identifier: Apache-2.0
// device_client.cpp - the /dev/emucxl ioctl client (see device_client.hpp).
#include "device_client.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "log.hpp"

namespace emucxl {

namespace {

// How long a request the server keeps refusing as busy is retried.
constexpr long long kBusyRetryNs = 5LL * 1000 * 1000 * 1000;  // 5 s (not a long: 32-bit)

// ioctl(2), restarted when a signal interrupted it, and retried with a
// growing pause while the server answers EAGAIN (the CUSE daemon's cap on
// requests in flight per session and per user: another thread of ours, or
// of our user, has that many outstanding); -errno on failure.
int xioctl(int fd, unsigned long cmd, void *arg) noexcept
{
	long long waited = 0;
	long pause = 20 * 1000;  // ns
	for (;;) {
		if (::ioctl(fd, cmd, arg) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || waited >= kBusyRetryNs)
			return -errno;
		struct timespec ts = {0, pause};
		(void)::nanosleep(&ts, nullptr);
		waited += pause;
		pause = pause < 10 * 1000 * 1000 ? pause * 2 : pause;  // up to 10 ms
	}
}

}  // namespace

void unique_fd::reset(int fd) noexcept
{
	if (fd_ >= 0)
		::close(fd_);
	fd_ = fd;
}

const char *device_impl_name(std::uint32_t impl) noexcept
{
	switch (impl) {
	case EMUCXL_IMPL_KMOD:
		return "kmod";
	case EMUCXL_IMPL_CUSE:
		return "cuse";
	default:
		return "unknown";
	}
}

Result<DeviceClient> DeviceClient::open(const char *path) noexcept
{
	int fd;
	do
		fd = ::open(path, O_RDWR | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		const int err = errno;
		// No node, or a node no driver answers: the device is not there.
		if (err == ENOENT || err == ENXIO || err == ENODEV) {
			LOG_INFO("device %s: not present (%s)", path, std::strerror(err));
			return Error{ENODEV};
		}
		LOG_INFO("device %s: cannot open: %s", path, std::strerror(err));
		return Error{err};
	}
	return DeviceClient(unique_fd(fd));
}

Result<emucxl_info> DeviceClient::info() const noexcept
{
	emucxl_info info{};
	if (int err = xioctl(fd_.get(), EMUCXL_INFO, &info)) {
		// ENOTTY: whatever this is, it does not speak our ABI.
		LOG_INFO("EMUCXL_INFO: %s", std::strerror(-err));
		return Error{err == -ENOTTY ? ENODEV : -err};
	}
	return info;
}

Result<emucxl_stats> DeviceClient::stats() const noexcept
{
	emucxl_stats st{};
	if (int err = xioctl(fd_.get(), EMUCXL_STATS, &st)) {
		LOG_WARN("EMUCXL_STATS: %s", std::strerror(-err));
		return Error{-err};
	}
	return st;
}

Result<emucxl_node_stats> DeviceClient::node_stats(unsigned logical_node) const noexcept
{
	if (logical_node >= EMUCXL_NR_NODES)
		return Error{EINVAL};
	auto st = stats();
	if (!st)
		return Error{st.error()};
	return st->node[logical_node];
}

Result<std::uint32_t> DeviceClient::init() noexcept
{
	emucxl_init arg{};
	arg.abi_version = EMUCXL_ABI_VERSION;
	if (int err = xioctl(fd_.get(), EMUCXL_INIT, &arg)) {
		if (err == -EPROTONOSUPPORT)
			LOG_ERROR("EMUCXL_INIT: the device speaks ABI %u.%u, this library %u.%u",
				  EMUCXL_ABI_VERSION_MAJOR(arg.abi_version),
				  EMUCXL_ABI_VERSION_MINOR(arg.abi_version), EMUCXL_ABI_MAJOR, EMUCXL_ABI_MINOR);
		else
			LOG_WARN("EMUCXL_INIT: %s", std::strerror(-err));
		return Error{-err};
	}
	server_abi_ = arg.abi_version;
	LOG_DEBUG("EMUCXL_INIT: device ABI %u.%u", EMUCXL_ABI_VERSION_MAJOR(arg.abi_version),
		  EMUCXL_ABI_VERSION_MINOR(arg.abi_version));
	return arg.abi_version;
}

Result<std::uint64_t> DeviceClient::exit() noexcept
{
	emucxl_exit arg{};
	if (int err = xioctl(fd_.get(), EMUCXL_EXIT, &arg)) {
		LOG_WARN("EMUCXL_EXIT: %s", std::strerror(-err));
		return Error{-err};
	}
	server_abi_ = 0;
	return arg.freed;
}

Result<DeviceAllocation> DeviceClient::alloc(std::uint64_t size, unsigned logical_node,
					     std::uint32_t flags, int memfd) noexcept
{
	emucxl_alloc arg{};
	arg.size = size;
	arg.node = logical_node;
	arg.flags = flags;
	arg.memfd = memfd;
	if (int err = xioctl(fd_.get(), EMUCXL_ALLOC, &arg)) {
		// ENOMEM is an ordinary answer (node full), not worth a warning.
		if (err == -ENOMEM)
			LOG_INFO("EMUCXL_ALLOC %llu bytes on node %u: %s",
				 static_cast<unsigned long long>(size), logical_node,
				 std::strerror(-err));
		else
			LOG_WARN("EMUCXL_ALLOC %llu bytes on node %u: %s",
				 static_cast<unsigned long long>(size), logical_node,
				 std::strerror(-err));
		return Error{-err};
	}
	DeviceAllocation a;
	a.handle = arg.handle;
	a.offset = arg.offset;
	a.size = arg.size;
	return a;
}

Status DeviceClient::free(std::uint64_t handle) noexcept
{
	emucxl_free arg{};
	arg.handle = handle;
	if (int err = xioctl(fd_.get(), EMUCXL_FREE, &arg)) {
		LOG_WARN("EMUCXL_FREE handle %llu: %s", static_cast<unsigned long long>(handle),
			 std::strerror(-err));
		return Error{-err};
	}
	return {};
}

}  // namespace emucxl
