// SPDX-License-Identifier: Apache-2.0
// driver.hpp - the seam every emucxl driver (mbind, kmod, cuse) plugs into.
//
// A driver is mechanism only: it maps pinned, node-placed, zero-filled,
// page-granular extents and unmaps them, and it reports topology and usage.
// Size classes, bookkeeping, stats and every other policy live in core/.
//
// Logical node 0 is local DRAM, logical node 1 the emulated remote memory.
// The driver owns the logical -> physical mapping (for mbind it comes from
// the configuration, for kmod/cuse from the device) and reports it in
// topology().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "config.hpp"
#include "result.hpp"

namespace emucxl {

inline constexpr int kNumNodes = 2;

// One mapping handed out by a driver. Core treats it as opaque except for
// addr/length; `cookie` and `fd` belong to the driver.
struct Extent {
	void *addr = nullptr;      // page aligned, zero-filled when mapped
	std::size_t length = 0;    // multiple of the page size
	int logical_node = -1;     // 0 or 1
	std::uint64_t cookie = 0;  // driver handle (device allocation id, ...)
	int fd = -1;               // driver data-plane fd, -1 when none
};

struct NodeTopology {
	int physical_node = 0;       // NUMA node id behind the logical node
	std::uint64_t capacity = 0;  // bytes the driver lets us place there
};

struct Topology {
	NodeTopology node[kNumNodes];
	bool remote_is_separate = false;  // remote's physical node != local's
	bool pinned = false;              // extents are locked in memory
};

struct NodeUsage {
	std::uint64_t allocated = 0;  // bytes held by the driver, page granular
	std::uint64_t peak = 0;       // high-water mark of allocated
	std::uint64_t capacity = 0;   // limit
	std::uint64_t free = 0;       // what can still be placed
};

class Driver {
public:
	Driver() = default;
	Driver(const Driver &) = delete;
	Driver &operator=(const Driver &) = delete;
	virtual ~Driver() = default;  // unmaps nothing: core unmaps every extent first

	// "mbind", "kmod", "cuse": a NUL-terminated string with static storage.
	virtual std::string_view name() const noexcept = 0;

	// Required. Map `length` bytes (a multiple of the page size, > 0) on
	// `logical_node`, zero-filled, placed on the node's physical node or
	// failing: ENOMEM when the node is full or over capacity, never a silent
	// fallback to another node. Pinned when topology().pinned.
	virtual Result<Extent> map(std::size_t length, int logical_node) noexcept = 0;

	// Required. Unmap an extent returned by map(). Returns an errno on failure
	// (the extent is then still mapped).
	virtual Status unmap(const Extent &extent) noexcept = 0;

	// Required. The node mapping and capacities; fixed for the driver's life.
	virtual Topology topology() const noexcept = 0;

	// Optional. Driver-wide usage of a logical node (all clients of a device).
	// Default: ENOTSUP.
	virtual Result<NodeUsage> usage(int logical_node) noexcept
	{
		(void)logical_node;
		return Error{ENOTSUP};
	}
};

using DriverPtr = std::unique_ptr<Driver>;

// Factories, one per driver. Each returns the driver or the reason it cannot
// run here (ENODEV: device absent, ENOTSUP: not built in, ...), having logged
// that reason at info level. Defined in backends/<name>/.
Result<DriverPtr> make_mbind_driver(const Config &config) noexcept;
Result<DriverPtr> make_kmod_driver(const Config &config) noexcept;
Result<DriverPtr> make_cuse_driver(const Config &config) noexcept;

}  // namespace emucxl
