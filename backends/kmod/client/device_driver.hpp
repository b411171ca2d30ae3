// SPDX-License-Identifier: Apache-2.0
// device_driver.hpp - the half of a driver that is the same for every
// /dev/emucxl server (the kernel module, the CUSE daemon): opening and
// checking the device, topology from EMUCXL_INFO, usage from EMUCXL_STATS,
// and releasing an extent (FREE, then munmap). A concrete driver adds only
// its data plane: how an allocated handle becomes mapped memory.
#pragma once

#include <cstddef>
#include <cstdint>

#include "device_client.hpp"
#include "driver.hpp"

namespace emucxl {

// What a driver needs of the server behind the device.
struct DeviceRequirements {
	const char *driver;         // "kmod", "cuse": log prefix
	std::uint32_t impl;         // EMUCXL_IMPL_* that must serve the device
	std::uint64_t caps;         // EMUCXL_CAP_* the data plane needs
	const char *server;         // "the kernel module", "emucxl-cused"
	const char *local_option;   // how the server's node mapping is set
	const char *remote_option;
};

// An initialised session with a checked server.
struct DeviceSession {
	DeviceClient client;
	emucxl_info info;
};

// Open config.device, check that the server is the one required (ENODEV,
// logged at info level, when it is absent or another), that its page size is
// ours and that EMUCXL_LOCAL_NODE / EMUCXL_REMOTE_NODE agree with the
// server's mapping (EINVAL otherwise: memory is never silently placed
// elsewhere than configured), then EMUCXL_INIT.
Result<DeviceSession> open_device_session(const Config &config,
					  const DeviceRequirements &req) noexcept;

// The daemon behind a CUSE device is gone (the kernel aborted the
// connection, or the device went with it).
bool device_server_gone(int err) noexcept;

class DeviceDriver : public Driver {
public:
	Topology topology() const noexcept final { return topology_; }
	Result<NodeUsage> usage(int logical_node) noexcept final;

	// Validates, then asks the data plane.
	Result<Extent> map(std::size_t length, int logical_node) noexcept final;

	// EMUCXL_FREE first: if the server refuses, the extent stays mapped and
	// the caller gets the error, as the interface promises. A server that
	// is gone has nothing left to free: the mapping is then ours alone.
	Status unmap(const Extent &extent) noexcept final;

protected:
	DeviceDriver(DeviceSession session, const char *log_prefix) noexcept;

	// The data plane: map `length` bytes (page multiple, > 0) on a valid
	// logical node; Extent::cookie must hold the handle.
	virtual Result<Extent> map_extent(std::size_t length, int logical_node) noexcept = 0;

	DeviceClient client_;
	const char *log_prefix_;

private:
	std::size_t page_size_;
	Topology topology_;
};

}  // namespace emucxl
