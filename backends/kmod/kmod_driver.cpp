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

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>

#include "client/device_driver.hpp"
#include "log.hpp"

namespace emucxl {

namespace {

class KmodDriver final : public DeviceDriver {
public:
	explicit KmodDriver(DeviceSession session) noexcept
		: DeviceDriver(std::move(session), "kmod")
	{
	}

	std::string_view name() const noexcept override { return "kmod"; }

private:
	Result<Extent> map_extent(std::size_t length, int logical_node) noexcept override
	{
		auto a = client_.alloc(length, static_cast<unsigned>(logical_node));
		if (!a)
			return Error{a.error()};
		// A 32-bit off_t (no LFS) cannot name offsets from 2^31 on: the
		// cast would wrap onto another allocation of this session.
		if (a->offset > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max())) {
			LOG_WARN("kmod: mmap offset %llu does not fit off_t",
				 static_cast<unsigned long long>(a->offset));
			(void)client_.free(a->handle);
			return Error{EOVERFLOW};
		}

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
};

}  // namespace

Result<DriverPtr> make_kmod_driver(const Config &config) noexcept
{
	static constexpr DeviceRequirements kReq = {
		"kmod", EMUCXL_IMPL_KMOD, EMUCXL_CAP_MMAP, "the kernel module",
		"the module parameter local_node", "the module parameter remote_node"};
	auto session = open_device_session(config, kReq);
	if (!session)
		return Error{session.error()};
	DriverPtr driver(new (std::nothrow) KmodDriver(std::move(session).value()));
	if (!driver)
		return Error{ENOMEM};
	return driver;
}

}  // namespace emucxl
