// SPDX-License-Identifier: Apache-2.0
// report.cpp - the exit report of `emucxlctl run --report`: one write(2),
// formatted without allocating (it runs from the preload's destructor).
#include <unistd.h>

#include <cstdio>

#include "counters.hpp"

namespace emucxl::preload {

void write_report(int fd, const Counters &c, const Policy &p, const char *driver,
		  bool remote_is_separate) noexcept
{
	char policy[64];
	describe(p, policy, sizeof(policy));
	char buf[1024];
	int n = std::snprintf(buf, sizeof(buf),
			      "emucxl-run: pid=%d driver=%s policy=%s on_remote_full=%s "
			      "remote_is_separate=%d\n",
			      static_cast<int>(getpid()), driver, policy,
			      p.fallback ? "fallback" : "fail", remote_is_separate ? 1 : 0);
	static constexpr const char *kNames[] = {"local", "remote"};
	for (int i = 0; i < 2 && n > 0 && static_cast<std::size_t>(n) < sizeof(buf); i++) {
		const NodeCounters &nc = c.node[i];
		n += std::snprintf(buf + n, sizeof(buf) - static_cast<std::size_t>(n),
				   "emucxl-run: node=%s placed_bytes=%llu allocations=%llu "
				   "live_bytes=%lld peak_bytes=%lld\n",
				   kNames[i],
				   static_cast<unsigned long long>(nc.placed.load()),
				   static_cast<unsigned long long>(nc.allocations.load()),
				   static_cast<long long>(nc.live.load()),
				   static_cast<long long>(nc.peak.load()));
	}
	if (n > 0 && static_cast<std::size_t>(n) < sizeof(buf))
		n += std::snprintf(buf + n, sizeof(buf) - static_cast<std::size_t>(n),
				   "emucxl-run: failures=%llu fallbacks=%llu foreign_allocations=%llu "
				   "foreign_frees=%llu\n",
				   static_cast<unsigned long long>(c.failures.load()),
				   static_cast<unsigned long long>(c.fallbacks.load()),
				   static_cast<unsigned long long>(c.foreign_allocations.load()),
				   static_cast<unsigned long long>(c.foreign_frees.load()));
	if (n <= 0)
		return;
	if (static_cast<std::size_t>(n) >= sizeof(buf))
		n = sizeof(buf) - 1;
	ssize_t w = write(fd, buf, static_cast<std::size_t>(n));
	(void)w;  // nowhere left to report a failed report
}

}  // namespace emucxl::preload
