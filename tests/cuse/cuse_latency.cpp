// SPDX-License-Identifier: Apache-2.0
// cuse_latency.cpp - alloc/free latency of the three drivers, side by side:
//   driver level   one Driver::map + Driver::unmap (for cuse: memfd_create,
//                  ALLOC, mmap, FREE, munmap, close; for kmod: ALLOC, mmap,
//                  FREE, munmap; for mbind: mmap, mbind, populate, mlock,
//                  munmap)
//   library level  one emucxl_alloc + emucxl_free of the same size through
//                  libemucxl with EMUCXL_BACKEND set (in a child per driver)
// for 4 KiB, 1 MiB and 64 MiB on logical node 1 (the remote node).
// Not a test: it prints a table. tests/vm/cuse_latency.sh runs it in the
// guest; drivers that cannot run there are reported as such.
//
//   emucxl_cuse_latency [--node N] [--rounds-scale F] [--only DRIVER]
// Devices: EMUCXL_KMOD_DEVICE (default /dev/emucxl), EMUCXL_DEVICE (default
// /dev/emucxl-cuse).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "driver.hpp"
#include "emucxl/emucxl.h"

using namespace emucxl;
using Clock = std::chrono::steady_clock;

namespace {

struct Case {
	std::size_t size;
	const char *label;
	int rounds;
};
const Case kCases[] = {{4096, "4 KiB", 1000}, {1 << 20, "1 MiB", 200}, {64 << 20, "64 MiB", 10}};

const char *kmod_device()
{
	const char *p = std::getenv("EMUCXL_KMOD_DEVICE");
	return p && *p ? p : "/dev/emucxl";
}

// (Not abi_util.hpp's: the uapi header and emucxl.h both name a struct
// emucxl_info, so this file keeps to the public API.)
const char *cuse_device()
{
	const char *p = std::getenv("EMUCXL_DEVICE");
	return p && *p ? p : "/dev/emucxl-cuse";
}

const char *device_for(const std::string &driver)
{
	return driver == "cuse" ? cuse_device() : kmod_device();
}

double us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

struct Summary {
	double median = 0, p90 = 0, mean = 0;
};

Summary summarise(std::vector<double> v)
{
	Summary s;
	if (v.empty())
		return s;
	std::sort(v.begin(), v.end());
	s.median = v[v.size() / 2];
	s.p90 = v[v.size() * 9 / 10];
	for (double x : v)
		s.mean += x;
	s.mean /= static_cast<double>(v.size());
	return s;
}

void driver_level(const std::string &name, int node, double scale)
{
	Config c;
	c.backend = name;
	c.device = device_for(name);
	Result<DriverPtr> made = name == "mbind"  ? make_mbind_driver(c)
				 : name == "kmod" ? make_kmod_driver(c)
						  : make_cuse_driver(c);
	if (!made) {
		std::printf("%-6s %-7s  unavailable here: %s\n", name.c_str(), "-",
			    std::strerror(made.error()));
		return;
	}
	DriverPtr d = std::move(made).value();
	for (const Case &k : kCases) {
		const int rounds = std::max(3, static_cast<int>(k.rounds * scale));
		std::vector<double> map_us, unmap_us, total_us;
		for (int i = 0; i < rounds + 2; i++) {
			const auto t0 = Clock::now();
			auto e = d->map(k.size, node);
			const auto t1 = Clock::now();
			if (!e) {
				std::printf("%-6s %-7s  map failed: %s\n", name.c_str(), k.label,
					    std::strerror(e.error()));
				return;
			}
			(void)d->unmap(e.value());
			const auto t2 = Clock::now();
			if (i < 2)
				continue;  // warm-up
			map_us.push_back(us(t1 - t0));
			unmap_us.push_back(us(t2 - t1));
			total_us.push_back(us(t2 - t0));
		}
		const Summary m = summarise(map_us), u = summarise(unmap_us), t = summarise(total_us);
		std::printf("%-6s %-7s  map %10.1f  unmap %10.1f  map+unmap median %10.1f  p90 %10.1f  "
			    "mean %10.1f us  (%d rounds)\n",
			    name.c_str(), k.label, m.median, u.median, t.median, t.p90, t.mean, rounds);
	}
}

// In a child, so each driver gets a fresh libemucxl with its own
// EMUCXL_BACKEND.
void library_level(const std::string &name, int node, double scale)
{
	std::fflush(stdout);
	const pid_t pid = ::fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		::setenv("EMUCXL_BACKEND", name.c_str(), 1);
		::setenv("EMUCXL_DEVICE", device_for(name), 1);
		::setenv("EMUCXL_LOG", "error", 1);
		if (emucxl_init() != 0) {
			std::printf("%-6s %-7s  unavailable here: %s\n", name.c_str(), "-",
				    std::strerror(errno));
			std::fflush(stdout);
			_exit(0);
		}
		for (const Case &k : kCases) {
			const int rounds = std::max(3, static_cast<int>(k.rounds * scale));
			std::vector<double> total_us;
			for (int i = 0; i < rounds + 2; i++) {
				const auto t0 = Clock::now();
				void *p = emucxl_alloc(k.size, node);
				if (!p) {
					std::printf("%-6s %-7s  emucxl_alloc failed: %s\n", name.c_str(),
						    k.label, std::strerror(errno));
					break;
				}
				emucxl_free(p, k.size);
				const auto t1 = Clock::now();
				if (i >= 2)
					total_us.push_back(us(t1 - t0));
			}
			const Summary t = summarise(total_us);
			std::printf("%-6s %-7s  emucxl_alloc+emucxl_free median %10.1f  p90 %10.1f  "
				    "mean %10.1f us  (%d rounds)\n",
				    name.c_str(), k.label, t.median, t.p90, t.mean, rounds);
		}
		emucxl_exit();
		std::fflush(stdout);
		_exit(0);
	}
	::waitpid(pid, nullptr, 0);
}

}  // namespace

int main(int argc, char **argv)
{
	int node = 1;
	double scale = 1.0;
	std::vector<std::string> drivers;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (std::strcmp(argv[i], "--node") == 0) {
			node = std::atoi(argv[i + 1]);
		} else if (std::strcmp(argv[i], "--rounds-scale") == 0) {
			scale = std::atof(argv[i + 1]);
		} else if (std::strcmp(argv[i], "--only") == 0) {
			drivers.emplace_back(argv[i + 1]);
		} else {
			std::fprintf(stderr, "usage: %s [--node N] [--rounds-scale F] [--only DRIVER]...\n",
				     argv[0]);
			return 2;
		}
	}
	if (drivers.empty())
		drivers = {"mbind", "kmod", "cuse"};
	std::printf("== driver level: Driver::map + Driver::unmap on logical node %d ==\n", node);
	for (const auto &d : drivers)
		driver_level(d, node, scale);
	std::printf("== library level: emucxl_alloc + emucxl_free on logical node %d ==\n", node);
	for (const auto &d : drivers)
		library_level(d, node, scale);
	return 0;
}
