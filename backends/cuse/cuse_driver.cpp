// SPDX-License-Identifier: Apache-2.0
// cuse_driver.cpp - the driver over emucxl-cused's device.
//
// The same ioctl ABI as the kernel module, through the same client
// (backends/kmod/client); only the data plane differs, because CUSE has no
// mmap:
// map()   = memfd_create + ftruncate + F_ADD_SEALS(SHRINK|GROW|SEAL),
//           EMUCXL_ALLOC with EMUCXL_ALLOC_MEMFD
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

#include "client/device_driver.hpp"
#include "log.hpp"

namespace emucxl {

namespace {

class CuseDriver final : public DeviceDriver {
public:
	explicit CuseDriver(DeviceSession session) noexcept
		: DeviceDriver(std::move(session), "cuse")
	{
	}

	std::string_view name() const noexcept override { return "cuse"; }

private:
	Result<Extent> map_extent(std::size_t length, int logical_node) noexcept override
	{
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
		// What the daemon requires (it never changes our file itself): the
		// size fixed, and the seals final, so no seal added later can keep
		// it from taking the pages back at FREE.
		if (::fcntl(memfd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
			const int err = errno;
			LOG_WARN("cuse: sealing the memfd: %s", std::strerror(err));
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
};

}  // namespace

Result<DriverPtr> make_cuse_driver(const Config &config) noexcept
{
	static constexpr DeviceRequirements kReq = {
		"cuse", EMUCXL_IMPL_CUSE, EMUCXL_CAP_MEMFD, "emucxl-cused",
		"emucxl-cused --local-node", "emucxl-cused --remote-node"};
	auto session = open_device_session(config, kReq);
	if (!session && session.error() == ENODEV && config.device_is_default) {
		// No daemon on /dev/emucxl (its default name), or the module's
		// device there: the daemon runs beside the module as
		// /dev/emucxl-cuse (vm/run starts it so).
		Config beside = config;
		beside.device = EMUCXL_DEVICE_CUSE;
		session = open_device_session(beside, kReq);
	}
	if (!session)
		return Error{session.error()};
	DriverPtr driver(new (std::nothrow) CuseDriver(std::move(session).value()));
	if (!driver)
		return Error{ENOMEM};
	return driver;
}

}  // namespace emucxl
