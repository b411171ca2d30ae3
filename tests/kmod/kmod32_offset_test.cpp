// SPDX-License-Identifier: Apache-2.0
// kmod32_offset_test.cpp - the kmod driver built for 32-bit x86 (-m32, no
// LFS: off_t is 32 bits), run in the vm/ guest against emucxl.ko
// (tests/vm/kmod_32bit.sh). Issue 12, item 10: the driver passed the
// module's mmap offset (handle << PAGE_SHIFT, 64 bits) to mmap() as an off_t,
// so from handle 2^19 on the offset did not fit, and from 2^20 on it wrapped
// modulo 2^32 onto a lower handle of the same session: handle 2^20 + h
// mapped handle h's pages. The driver must refuse such an offset
// (EOVERFLOW) and free the handle it got.
//
// Handles are allocated cyclically (xa_alloc_cyclic), so one ALLOC + FREE of
// a page on the driver's own session moves the next handle on by one: about
// 2^20 of them bring it past the wrap with one page held. Then:
//   - a victim extent mapped by the driver earlier (handle h, a pattern in it)
//   - the driver's map of a new extent gets handle 2^20 + h: EOVERFLOW, and
//     the handle is gone again (the module's allocation count is back);
//   - the victim's pattern is intact.
// No gtest (there is no 32-bit libgtest): exit 0 pass, 1 fail, 77 skip.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "driver.hpp"
#include "emucxl_uapi.h"

namespace emucxl {
Result<DriverPtr> make_kmod_driver(const Config &config) noexcept;
}

namespace {

int failures = 0;

void fail(const char *what)
{
	std::printf("FAILED: %s\n", what);
	failures++;
}

// The driver's device descriptor: the only /dev/emucxl open in this process.
int driver_fd(const char *dev)
{
	for (int fd = 0; fd < 1024; fd++) {
		char link[64], target[PATH_MAX];
		std::snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		const ssize_t n = ::readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (std::strcmp(target, dev) == 0)
			return fd;
	}
	return -1;
}

}  // namespace

int main()
{
	static_assert(sizeof(void *) == 4, "build this with -m32");
	if (sizeof(off_t) != 4) {
		std::printf("SKIPPED: off_t is %zu bytes in this build: nothing can wrap\n", sizeof(off_t));
		return 77;
	}
	const char *dev = std::getenv("EMUCXL_DEVICE");
	if (!dev || !*dev)
		dev = "/dev/emucxl";
	const std::uint64_t page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
	emucxl::Config config;
	config.device = dev;
	config.log_level = emucxl::LogLevel::error;
	auto made = emucxl::make_kmod_driver(config);
	if (!made) {
		std::printf("SKIPPED: the kmod driver does not open %s: %s\n", dev,
			    std::strerror(made.error()));
		return 77;
	}
	emucxl::Driver &driver = *made.value();
	const int fd = driver_fd(dev);
	if (fd < 0) {
		std::printf("FAILED: cannot find the driver's descriptor of %s\n", dev);
		return 1;
	}

	// The victim: an extent the driver mapped, with a pattern.
	auto victim = driver.map(page, 1);
	if (!victim) {
		std::printf("FAILED: the first map: %s\n", std::strerror(victim.error()));
		return 1;
	}
	const std::uint64_t h = victim->cookie;
	auto *v = static_cast<std::uint32_t *>(victim->addr);
	for (std::uint64_t i = 0; i < page / 4; i++)
		v[i] = 0xdead0000u + static_cast<std::uint32_t>(i);
	std::printf("victim: handle %llu, offset %#llx\n", static_cast<unsigned long long>(h),
		    static_cast<unsigned long long>(h * page));

	// Walk the session's next handle on to 2^20 + h (the offset that wraps
	// onto the victim's) with ALLOC + FREE on the driver's own session.
	const std::uint64_t target = (1ULL << 32) / page + h;
	std::uint64_t last = h;
	while (last + 1 < target) {
		emucxl_alloc a{};
		a.size = page;
		a.node = 0;
		if (::ioctl(fd, EMUCXL_ALLOC, &a) != 0) {
			std::printf("FAILED: ALLOC after handle %llu: %s\n",
				    static_cast<unsigned long long>(last), std::strerror(errno));
			return 1;
		}
		emucxl_free f{};
		f.handle = a.handle;
		if (::ioctl(fd, EMUCXL_FREE, &f) != 0) {
			std::printf("FAILED: FREE of handle %llu: %s\n",
				    static_cast<unsigned long long>(a.handle), std::strerror(errno));
			return 1;
		}
		if (a.handle <= last) {
			std::printf("FAILED: handles are not allocated cyclically (%llu after %llu)\n",
				    static_cast<unsigned long long>(a.handle),
				    static_cast<unsigned long long>(last));
			return 1;
		}
		last = a.handle;
	}
	emucxl_stats before{};
	if (::ioctl(fd, EMUCXL_STATS, &before) != 0) {
		std::perror("STATS");
		return 1;
	}

	// The next handle's offset is 2^32 + h * page: as a 32-bit off_t, the
	// victim's offset.
	auto wrapped = driver.map(page, 1);
	if (wrapped) {
		const auto *w = static_cast<const std::uint32_t *>(wrapped->addr);
		const bool victims = w[0] == 0xdead0000u && w[1] == 0xdead0001u;
		std::printf("FAILED: handle %llu (offset %#llx) was mapped%s\n",
			    static_cast<unsigned long long>(wrapped->cookie),
			    static_cast<unsigned long long>(wrapped->cookie * page),
			    victims ? ": onto the victim's pages (its pattern is there)" : "");
		failures++;
		(void)driver.unmap(wrapped.value());
	} else if (wrapped.error() != EOVERFLOW) {
		std::printf("FAILED: refused with %s, not EOVERFLOW\n", std::strerror(wrapped.error()));
		failures++;
	} else {
		std::printf("handle %llu: EOVERFLOW: ok\n", static_cast<unsigned long long>(target));
	}
	emucxl_stats after{};
	if (::ioctl(fd, EMUCXL_STATS, &after) != 0) {
		std::perror("STATS");
		return 1;
	}
	if (after.node[1].allocations != before.node[1].allocations)
		fail("the refused handle was not freed (node 1 allocations changed)");
	for (std::uint64_t i = 0; i < page / 4; i++) {
		if (v[i] != 0xdead0000u + static_cast<std::uint32_t>(i)) {
			fail("the victim's memory changed");
			break;
		}
	}
	if (!driver.unmap(victim.value()))
		fail("unmap of the victim");
	if (failures == 0)
		std::printf("passed\n");
	return failures ? 1 : 0;
}
