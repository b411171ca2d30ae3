// SPDX-License-Identifier: Apache-2.0
// recording_driver.hpp - a driver for unit tests of the heap: extents are
// plain anonymous mappings (no placement, no pinning), counted, and maps can
// be made to fail.
#pragma once

#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstddef>

#include "driver.hpp"

namespace emucxl::test {

struct DriverLog {
	std::atomic<long> live_extents{0};
	std::atomic<long long> live_bytes{0};
	std::atomic<long> maps{0};
	std::atomic<long> fail_after{-1};  // fail the map after this many more; -1 never
	// ENOMEM for a map that would take live_bytes above this; -1: no limit.
	std::atomic<long long> capacity{-1};
	// ENOMEM for a map of more than this many bytes; 0: no limit.
	std::atomic<std::size_t> fail_above{0};
};

class RecordingDriver final : public Driver {
public:
	explicit RecordingDriver(DriverLog &log) : log_(log) {}
	std::string_view name() const noexcept override { return "recording"; }
	Topology topology() const noexcept override
	{
		Topology t;
		t.node[0].capacity = t.node[1].capacity = 1ULL << 32;
		return t;
	}
	Result<Extent> map(std::size_t length, int node) noexcept override
	{
		if (log_.fail_after.load() == 0)
			return Error{ENOMEM};
		if (log_.fail_after.load() > 0)
			log_.fail_after--;
		if (const std::size_t above = log_.fail_above.load(); above != 0 && length > above)
			return Error{ENOMEM};
		// (Checked, then counted: two maps racing may both fit; the tests
		// that set a capacity make one map at a time.)
		if (const long long cap = log_.capacity.load();
		    cap >= 0 && log_.live_bytes.load() + static_cast<long long>(length) > cap)
			return Error{ENOMEM};
		void *p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return Error{errno};
		log_.maps++;
		log_.live_extents++;
		log_.live_bytes += static_cast<long long>(length);
		return Extent{p, length, node, 0, -1};
	}
	Status unmap(const Extent &e) noexcept override
	{
		if (munmap(e.addr, e.length))
			return Error{errno};
		log_.live_extents--;
		log_.live_bytes -= static_cast<long long>(e.length);
		return {};
	}

private:
	DriverLog &log_;
};

}  // namespace emucxl::test
