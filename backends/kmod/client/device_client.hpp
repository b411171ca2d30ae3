// SPDX-License-Identifier: Apache-2.0
// device_client.hpp - the ioctl client of the /dev/emucxl ABI
// (backends/kmod/uapi/emucxl_uapi.h), shared by the kmod driver and the cuse
// driver: both speak this ABI and differ only in the data plane (mmap of the
// device for the kernel module, a memfd for the CUSE daemon).
//
// Thin on purpose: one call per ioctl, errno codes in Result/Status, nothing
// cached but the descriptor and the negotiated ABI version. Thread-safe: the
// server serialises what needs it.
#pragma once

#include <cstdint>
#include <utility>

#include "emucxl_uapi.h"
#include "result.hpp"

namespace emucxl {

// An owned file descriptor, closed on destruction. Move-only.
class unique_fd {
public:
	unique_fd() noexcept = default;
	explicit unique_fd(int fd) noexcept : fd_(fd) {}
	unique_fd(unique_fd &&o) noexcept : fd_(o.release()) {}
	unique_fd &operator=(unique_fd &&o) noexcept
	{
		if (this != &o)
			reset(o.release());
		return *this;
	}
	unique_fd(const unique_fd &) = delete;
	unique_fd &operator=(const unique_fd &) = delete;
	~unique_fd() { reset(); }

	int get() const noexcept { return fd_; }
	explicit operator bool() const noexcept { return fd_ >= 0; }
	int release() noexcept { return std::exchange(fd_, -1); }
	void reset(int fd = -1) noexcept;

private:
	int fd_ = -1;
};

// One allocation of a session, as EMUCXL_ALLOC returned it.
struct DeviceAllocation {
	std::uint64_t handle = 0;  // session-local id, for free()
	std::uint64_t offset = 0;  // mmap offset (device, or memfd with EMUCXL_ALLOC_MEMFD)
	std::uint64_t size = 0;    // bytes, rounded up to the page size
};

class DeviceClient {
public:
	// Open `path` O_RDWR|O_CLOEXEC. ENODEV when there is no such device
	// (absent node, or no driver behind it), else the errno of open().
	// Logs the reason at info level. No ioctl is issued yet.
	static Result<DeviceClient> open(const char *path) noexcept;

	// Adopt an already open descriptor of the device.
	explicit DeviceClient(unique_fd fd) noexcept : fd_(std::move(fd)) {}

	int fd() const noexcept { return fd_.get(); }

	// EMUCXL_INFO: who serves the device, node mapping, capacities. Works
	// before init().
	Result<emucxl_info> info() const noexcept;

	// EMUCXL_STATS: device-wide usage per node, live sessions.
	Result<emucxl_node_stats> node_stats(unsigned logical_node) const noexcept;
	Result<emucxl_stats> stats() const noexcept;

	// EMUCXL_INIT: negotiate the ABI (ours: EMUCXL_ABI_VERSION). Returns the
	// server's version; EPROTONOSUPPORT (logged) when the majors differ.
	Result<std::uint32_t> init() noexcept;

	// EMUCXL_EXIT: release every handle of the session; returns how many.
	Result<std::uint64_t> exit() noexcept;

	// EMUCXL_ALLOC: `size` bytes (> 0) on logical node 0/1, zero-filled.
	// `flags` EMUCXL_ALLOC_*; `memfd` with EMUCXL_ALLOC_MEMFD, else 0.
	Result<DeviceAllocation> alloc(std::uint64_t size, unsigned logical_node,
				       std::uint32_t flags = 0, int memfd = 0) noexcept;

	// EMUCXL_FREE: release a handle; mapped memory lives until unmapped.
	Status free(std::uint64_t handle) noexcept;

	std::uint32_t server_abi() const noexcept { return server_abi_; }

private:
	unique_fd fd_;
	std::uint32_t server_abi_ = 0;  // from init(), 0 before
};

// "kmod", "cuse" or "unknown" for emucxl_info.impl.
const char *device_impl_name(std::uint32_t impl) noexcept;

}  // namespace emucxl
