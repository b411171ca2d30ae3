// SPDX-License-Identifier: Apache-2.0
// limits.cpp - see limits.hpp.
#include "limits.hpp"

#include <algorithm>
#include <cstdio>

namespace emucxl::cused {

Limits default_limits() noexcept
{
	std::uint64_t max_maps = 65530;  // the kernel's default
	if (FILE *f = std::fopen("/proc/sys/vm/max_map_count", "re")) {
		unsigned long long v = 0;
		if (std::fscanf(f, "%llu", &v) == 1 && v > 0)
			max_maps = v;
		std::fclose(f);
	}
	// The daemon's own mappings (libraries, heap, thread stacks, libfuse's
	// buffers) need a few hundred; keep 1/16, at least 1024.
	const std::uint64_t reserve = std::max<std::uint64_t>(1024, max_maps / 16);
	Limits l;
	l.allocations = max_maps > reserve + 64 ? max_maps - reserve : 64;
	l.uid_allocations = std::max<std::uint64_t>(1, l.allocations / 2);
	l.session_allocations = l.uid_allocations;
	return l;
}

}  // namespace emucxl::cused
