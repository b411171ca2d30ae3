// SPDX-License-Identifier: Apache-2.0
// ioctl_fuzz.cpp - random ioctls (and mmaps) against a /dev/emucxl server:
// the kernel module or the CUSE daemon, whichever serves DEVICE.
//
//   emucxl_ioctl_fuzz DEVICE [COUNT [SEED]]     (COUNT default 100000)
//
// Commands: the six real ones with random, almost-valid or valid payloads;
// random numbers under the 'x' magic with random size/direction bits; fully
// random numbers. Arguments: good buffers, NULL, unmapped pages, read-only
// pages, kernel addresses. Sessions are opened and closed along the way,
// some with allocations left behind, and real allocations are mapped with
// random offsets, lengths and flags. Every call must return (an alarm
// catches a hang). Afterwards the device must be back to its starting usage
// and must still serve a normal ALLOC / mmap / FREE. Exit status 0 when all
// of that holds.
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "emucxl_uapi.h"

namespace {

constexpr unsigned long kCommands[] = {EMUCXL_INIT,  EMUCXL_EXIT, EMUCXL_ALLOC,
				       EMUCXL_FREE, EMUCXL_STATS, EMUCXL_INFO};

struct Session {
	int fd = -1;
	std::vector<std::uint64_t> offsets;  // of allocations it made (for mmap)
	std::vector<std::pair<void *, std::size_t>> maps;
};

std::uint64_t device_allocated(const char *path, unsigned *sessions)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return UINT64_MAX;
	emucxl_stats st{};
	const int rc = ioctl(fd, EMUCXL_STATS, &st);
	close(fd);
	if (rc != 0)
		return UINT64_MAX;
	if (sessions)
		*sessions = st.sessions;
	return st.node[0].allocated + st.node[1].allocated;
}

void on_alarm(int) { _exit(3); }

}  // namespace

int main(int argc, char **argv)
{
	if (argc < 2) {
		std::fprintf(stderr, "usage: %s DEVICE [COUNT [SEED]]\n", argv[0]);
		return 2;
	}
	const char *path = argv[1];
	const long count = argc > 2 ? std::atol(argv[2]) : 100000;
	std::mt19937_64 rng(argc > 3 ? std::strtoull(argv[3], nullptr, 0) : 1);
	signal(SIGALRM, on_alarm);
	signal(SIGPIPE, SIG_IGN);

	unsigned sessions_before = 0;
	const std::uint64_t before = device_allocated(path, &sessions_before);
	if (before == UINT64_MAX) {
		std::fprintf(stderr, "ioctl fuzz: cannot read %s's stats: %s\n", path, std::strerror(errno));
		return 2;
	}
	int probe = open(path, O_RDONLY | O_CLOEXEC);
	emucxl_info info{};
	if (probe < 0 || ioctl(probe, EMUCXL_INFO, &info) != 0) {
		std::fprintf(stderr, "ioctl fuzz: EMUCXL_INFO on %s failed\n", path);
		return 2;
	}
	close(probe);
	const bool memfd_plane = info.caps & EMUCXL_CAP_MEMFD;

	// Argument targets: a good buffer, an unmapped page, a read-only page.
	alignas(8) static unsigned char buf[4096];
	const long page = sysconf(_SC_PAGESIZE);
	void *gone = mmap(nullptr, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(gone, page);
	void *ro = mmap(nullptr, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int memfd = memfd_plane ? memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING) : -1;

	std::vector<Session> sessions(4);
	std::map<int, long> results;  // errno (0 = success) -> count
	long allocs = 0, maps = 0;
	for (long i = 0; i < count; i++) {
		Session &s = sessions[rng() % sessions.size()];
		if (s.fd < 0 || rng() % 2000 == 0) {  // open, or drop a session with whatever it holds
			for (auto &m : s.maps)
				munmap(m.first, m.second);
			s.maps.clear();
			s.offsets.clear();
			if (s.fd >= 0)
				close(s.fd);
			s.fd = open(path, (rng() % 8 ? O_RDWR : O_RDONLY) | O_CLOEXEC);
			if (s.fd < 0) {
				std::fprintf(stderr, "ioctl fuzz: reopening %s failed: %s\n", path,
					     std::strerror(errno));
				return 1;
			}
			if (rng() % 4) {
				emucxl_init in{EMUCXL_ABI_VERSION, 0, {0, 0}};
				(void)ioctl(s.fd, EMUCXL_INIT, &in);
			}
		}

		// The command.
		unsigned long cmd;
		const unsigned kind = rng() % 10;
		if (kind < 6)
			cmd = kCommands[rng() % 6];
		else if (kind < 8)
			cmd = _IOC(rng() % 4, EMUCXL_IOC_MAGIC, rng() % 256, rng() % 512);
		else
			cmd = static_cast<std::uint32_t>(rng());

		// The payload: random bytes, or a valid struct with one thing wrong.
		for (auto &b : buf)
			b = static_cast<unsigned char>(rng());
		if (cmd == EMUCXL_ALLOC && rng() % 3) {
			emucxl_alloc a{};
			a.size = rng() % 4 ? 1 + rng() % (1 << 20) : rng();
			a.node = rng() % 8 ? rng() % 2 : static_cast<std::uint32_t>(rng());
			if (memfd_plane && rng() % 2) {
				a.flags = EMUCXL_ALLOC_MEMFD;
				a.memfd = rng() % 4 ? memfd : static_cast<std::int32_t>(rng() % 64) - 8;
				if (a.memfd == memfd) {
					// A fresh memfd, sized and (mostly) sealed as the
					// daemon requires; it never changes one itself.
					close(memfd);
					memfd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
					(void)ftruncate(memfd, static_cast<off_t>((a.size + page - 1) & ~(page - 1)));
					if (rng() % 8)
						(void)fcntl(memfd, F_ADD_SEALS,
							    F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
					a.memfd = memfd;
				}
			}
			if (rng() % 8 == 0)
				a.reserved[rng() % 2] = rng() | 1;
			std::memcpy(buf, &a, sizeof(a));
		} else if (cmd == EMUCXL_FREE && rng() % 2) {
			emucxl_free f{};
			f.handle = rng() % 64;
			std::memcpy(buf, &f, sizeof(f));
		} else if ((cmd == EMUCXL_INIT || cmd == EMUCXL_EXIT) && rng() % 2) {
			std::memset(buf, 0, 64);
			if (cmd == EMUCXL_INIT) {
				std::uint32_t v = rng() % 4 ? EMUCXL_ABI_VERSION : static_cast<std::uint32_t>(rng());
				std::memcpy(buf, &v, sizeof(v));
			}
		}
		void *arg = buf;
		switch (rng() % 20) {
		case 0: arg = nullptr; break;
		case 1: arg = gone; break;
		case 2: arg = ro; break;
		case 3: arg = reinterpret_cast<void *>(0xffff888000000000ULL); break;  // kernel space
		default: break;
		}

		alarm(10);
		errno = 0;
		const int rc = ioctl(s.fd, cmd, arg);
		alarm(0);
		results[rc == 0 ? 0 : errno]++;
		if (rc == 0 && cmd == EMUCXL_ALLOC && arg == buf) {
			emucxl_alloc a;
			std::memcpy(&a, buf, sizeof(a));
			allocs++;
			if (!memfd_plane)
				s.offsets.push_back(a.offset);
			if (!memfd_plane && rng() % 2) {  // map it, or a wrong part of it
				std::size_t len = rng() % 4 ? a.size : a.size + page * (rng() % 3);
				std::uint64_t off = rng() % 4 ? a.offset : a.offset + page;
				int flags = rng() % 8 ? MAP_SHARED : MAP_PRIVATE;
				void *p = mmap(nullptr, len, PROT_READ | PROT_WRITE, flags, s.fd,
					       static_cast<off_t>(off));
				if (p != MAP_FAILED) {
					maps++;
					static_cast<volatile unsigned char *>(p)[0] = 1;
					s.maps.emplace_back(p, len);
				}
			}
		}
		if (!s.maps.empty() && rng() % 16 == 0) {
			munmap(s.maps.back().first, s.maps.back().second);
			s.maps.pop_back();
		}
	}

	for (Session &s : sessions) {
		for (auto &m : s.maps)
			munmap(m.first, m.second);
		if (s.fd >= 0)
			close(s.fd);
	}
	if (memfd >= 0)
		close(memfd);

	// Releases reach a CUSE daemon asynchronously: allow up to 5 s.
	unsigned sessions_after = 0;
	std::uint64_t after = device_allocated(path, &sessions_after);
	for (int t = 0; t < 500 && (after != before || sessions_after != sessions_before); t++) {
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
		after = device_allocated(path, &sessions_after);
	}

	// And a normal client still gets served.
	bool serves = false;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	emucxl_init in{EMUCXL_ABI_VERSION, 0, {0, 0}};
	if (fd >= 0 && ioctl(fd, EMUCXL_INIT, &in) == 0) {
		emucxl_alloc a{};
		a.size = 1 << 20;
		a.node = 1;
		int mfd = -1;
		if (memfd_plane) {
			mfd = memfd_create("check", MFD_CLOEXEC | MFD_ALLOW_SEALING);
			(void)ftruncate(mfd, 1 << 20);
			(void)fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
			a.flags = EMUCXL_ALLOC_MEMFD;
			a.memfd = mfd;
		}
		if (ioctl(fd, EMUCXL_ALLOC, &a) == 0) {
			void *p = mmap(nullptr, a.size, PROT_READ | PROT_WRITE, MAP_SHARED,
				       memfd_plane ? mfd : fd, static_cast<off_t>(a.offset));
			if (p != MAP_FAILED) {
				serves = static_cast<unsigned char *>(p)[a.size - 1] == 0;
				munmap(p, a.size);
			}
			emucxl_free f{};
			f.handle = a.handle;
			serves = serves && ioctl(fd, EMUCXL_FREE, &f) == 0;
		}
		if (mfd >= 0)
			close(mfd);
	}
	if (fd >= 0)
		close(fd);

	std::printf("ioctl fuzz on %s (%s): %ld ioctls, %ld successful allocations, %ld mappings\n",
		    path, info.impl == EMUCXL_IMPL_KMOD ? "kmod" : "cuse", count, allocs, maps);
	for (auto [err, n] : results)
		std::printf("  %-16s %ld\n", err ? std::strerror(err) : "success", n);
	std::printf("  usage before %llu, after %llu bytes; still serves: %s\n",
		    static_cast<unsigned long long>(before), static_cast<unsigned long long>(after),
		    serves ? "yes" : "NO");
	std::printf("  sessions before %u, after %u\n", sessions_before, sessions_after);
	return after == before && sessions_after == sessions_before && serves ? 0 : 1;
}
