// SPDX-License-Identifier: Apache-2.0
// placement.hpp - where pages really are, asked from outside the driver.
//
// move_pages(2) with nodes == NULL moves nothing and reports the node of each
// page (or -errno for a page that is not present), straight from the page
// tables: the driver's own bookkeeping plays no part.
#pragma once

#include <numa.h>
#include <numaif.h>
#include <unistd.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace emucxl::test {

inline std::size_t page_size() { return static_cast<std::size_t>(sysconf(_SC_PAGESIZE)); }

// Node of every page overlapping [p, p + len); -errno for pages not present.
inline std::vector<int> page_nodes(const void *p, std::size_t len)
{
	const std::size_t ps = page_size();
	auto first = reinterpret_cast<std::uintptr_t>(p) & ~(ps - 1);
	auto last = (reinterpret_cast<std::uintptr_t>(p) + len - 1) & ~(ps - 1);
	std::vector<void *> pages;
	for (std::uintptr_t a = first; a <= last; a += ps)
		pages.push_back(reinterpret_cast<void *>(a));
	std::vector<int> status(pages.size(), -1);
	constexpr std::size_t kBatch = 16384;
	for (std::size_t i = 0; i < pages.size(); i += kBatch) {
		unsigned long n = std::min(kBatch, pages.size() - i);
		if (move_pages(0, n, pages.data() + i, nullptr, status.data() + i, 0) != 0)
			for (std::size_t j = i; j < i + n; j++)
				status[j] = -errno;
	}
	return status;
}

// "N pages on node 0, M on node 1" style histogram for failure messages.
inline std::string describe(const std::vector<int> &nodes)
{
	std::map<int, std::size_t> h;
	for (int n : nodes)
		h[n]++;
	std::string s;
	for (auto [node, count] : h)
		s += std::to_string(count) + " page(s) on " +
		     (node >= 0 ? "node " + std::to_string(node) : "error " + std::to_string(-node)) +
		     "; ";
	return s;
}

inline bool all_on(const std::vector<int> &nodes, int node)
{
	for (int n : nodes)
		if (n != node)
			return false;
	return !nodes.empty();
}

}  // namespace emucxl::test
