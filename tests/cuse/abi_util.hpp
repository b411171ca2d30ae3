// SPDX-License-Identifier: Apache-2.0
// abi_util.hpp - raw /dev/emucxl ABI calls for the cuse tests, without
// libemucxl: one small function per ioctl, errno as the return value, and
// the memfds the daemon's data plane takes.
#pragma once

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "emucxl_uapi.h"

namespace emucxl::test {

inline constexpr std::uint64_t kKiB = 1024;
inline constexpr std::uint64_t kMiB = 1024 * kKiB;

// The daemon's device: EMUCXL_DEVICE, else /dev/emucxl-cuse (the name vm/run
// gives it, beside the module's /dev/emucxl).
inline const char *cuse_device()
{
	const char *p = std::getenv("EMUCXL_DEVICE");
	return p && *p ? p : "/dev/emucxl-cuse";
}

// ioctl: 0 or the errno.
inline int ioc(int fd, unsigned long cmd, void *arg)
{
	return ::ioctl(fd, cmd, arg) == 0 ? 0 : errno;
}

inline int init_session(int fd)
{
	emucxl_init in{};
	in.abi_version = EMUCXL_ABI_VERSION;
	return ioc(fd, EMUCXL_INIT, &in);
}

// An owned descriptor (device or memfd).
class Fd {
public:
	Fd() = default;
	explicit Fd(int fd) : fd_(fd) {}
	Fd(Fd &&o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
	Fd &operator=(Fd &&o) noexcept
	{
		reset(std::exchange(o.fd_, -1));
		return *this;
	}
	~Fd() { reset(); }
	int get() const { return fd_; }
	int release() { return std::exchange(fd_, -1); }
	void reset(int fd = -1)
	{
		if (fd_ >= 0)
			::close(fd_);
		fd_ = fd;
	}
	explicit operator bool() const { return fd_ >= 0; }

private:
	int fd_ = -1;
};

// The seals the daemon requires of a memfd before ALLOC.
inline constexpr int kMemfdSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

// A memfd as the cuse driver makes them: sized to `size` and, if `flags`
// allow sealing and `seals` is not 0, sealed with `seals`.
inline Fd make_memfd(std::uint64_t size, unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING,
		     int seals = kMemfdSeals)
{
	Fd fd(::memfd_create("emucxl-test", flags));
	if (fd && size && ::ftruncate(fd.get(), static_cast<off_t>(size)) != 0)
		fd.reset();
	if (fd && seals && (flags & MFD_ALLOW_SEALING) &&
	    ::fcntl(fd.get(), F_ADD_SEALS, seals) != 0)
		fd.reset();
	return fd;
}

struct Alloc {
	int err = 0;
	std::uint64_t handle = 0, offset = 0, size = 0;
};

inline Alloc alloc_raw(int fd, std::uint64_t size, unsigned node, std::uint32_t flags, int memfd)
{
	emucxl_alloc a{};
	a.size = size;
	a.node = node;
	a.flags = flags;
	a.memfd = memfd;
	Alloc r;
	r.err = ioc(fd, EMUCXL_ALLOC, &a);
	r.handle = a.handle;
	r.offset = a.offset;
	r.size = a.size;
	return r;
}

inline Alloc alloc_memfd(int fd, std::uint64_t size, unsigned node, int memfd)
{
	return alloc_raw(fd, size, node, EMUCXL_ALLOC_MEMFD, memfd);
}

inline int free_handle(int fd, std::uint64_t handle)
{
	emucxl_free f{};
	f.handle = handle;
	return ioc(fd, EMUCXL_FREE, &f);
}

inline void *map_memfd(int memfd, std::uint64_t size, std::uint64_t offset = 0)
{
	return ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd,
		      static_cast<off_t>(offset));
}

// Pattern helpers: words derived from their index and a seed.
inline void fill(void *p, std::size_t n, unsigned seed)
{
	auto *w = static_cast<std::uint64_t *>(p);
	for (std::size_t i = 0; i < n / 8; i++)
		w[i] = i * 0x9e3779b97f4a7c15ULL + seed;
}

inline bool check(const void *p, std::size_t n, unsigned seed)
{
	const auto *w = static_cast<const std::uint64_t *>(p);
	for (std::size_t i = 0; i < n / 8; i++)
		if (w[i] != i * 0x9e3779b97f4a7c15ULL + seed)
			return false;
	return true;
}

inline bool all_zero(const void *p, std::size_t n)
{
	const auto *w = static_cast<const std::uint64_t *>(p);
	return std::all_of(w, w + n / 8, [](std::uint64_t x) { return x == 0; });
}

}  // namespace emucxl::test
