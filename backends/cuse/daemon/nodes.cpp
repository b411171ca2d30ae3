// SPDX-License-Identifier: Apache-2.0
// nodes.cpp - node states and node memory, from sysfs.
//
// Read directly rather than through libnuma: the module's defaults are
// stated in the kernel's terms (N_MEMORY, N_CPU) and these files are
// exactly those; and the daemon reads node memory on every ALLOC, where one
// small read() is worth having.
#include "nodes.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <bitset>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "log.hpp"

namespace emucxl::cused {

namespace {

constexpr int kCpuPercent = 50;      // default capacity, node with CPUs
constexpr int kCpulessPercent = 90;  // default capacity, memory-only node
constexpr int kMaxNodes = 1024;

// The nodes of a sysfs node list such as "0-1,4", as a bitmap. A missing
// file (a kernel without NUMA) lists node 0 only.
std::bitset<kMaxNodes> read_node_list(const char *path) noexcept
{
	std::bitset<kMaxNodes> nodes;
	FILE *f = std::fopen(path, "re");
	if (!f) {
		nodes.set(0);
		return nodes;
	}
	char buf[4096] = {};
	const bool ok = std::fgets(buf, sizeof(buf), f) != nullptr;
	std::fclose(f);
	if (!ok)
		return nodes;
	for (char *p = buf; *p && *p != '\n';) {
		char *end;
		const long lo = std::strtol(p, &end, 10);
		if (end == p)
			break;
		long hi = lo;
		if (*end == '-') {
			p = end + 1;
			hi = std::strtol(p, &end, 10);
			if (end == p)
				break;
		}
		for (long n = lo; n <= hi && n < kMaxNodes; n++)
			if (n >= 0)
				nodes.set(static_cast<std::size_t>(n));
		p = *end == ',' ? end + 1 : end;
	}
	return nodes;
}

bool in_node_list(const char *path, int nid) noexcept
{
	return nid >= 0 && nid < kMaxNodes && read_node_list(path).test(static_cast<std::size_t>(nid));
}

}  // namespace

bool node_has_memory(int nid) noexcept
{
	return in_node_list("/sys/devices/system/node/has_memory", nid);
}

bool node_has_cpus(int nid) noexcept
{
	return in_node_list("/sys/devices/system/node/has_cpu", nid);
}

// The node's MemTotal and MemFree (managed and free pages of all its zones)
// from /sys/devices/system/node/node<N>/meminfo, whose lines read
// "Node 1 MemTotal:  1031612 kB". A kernel without NUMA has no such file:
// node 0 is then /proc/meminfo's "MemTotal:  ... kB".
NodeMemory node_memory(int nid) noexcept
{
	NodeMemory m;
	char path[96];
	std::snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", nid);
	int fd = ::open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && nid == 0)
		fd = ::open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return m;
	char buf[8192];
	std::size_t len = 0;
	for (ssize_t n; len < sizeof(buf) - 1 &&
			(n = ::read(fd, buf + len, sizeof(buf) - 1 - len)) > 0;)
		len += static_cast<std::size_t>(n);
	::close(fd);
	buf[len] = '\0';
	auto field = [&](const char *name) -> std::uint64_t {
		const char *p = std::strstr(buf, name);
		return p ? std::strtoull(p + std::strlen(name), nullptr, 10) << 10 : 0;  // kB
	};
	m.usable = field("MemTotal:");
	m.free = field("MemFree:");
	return m;
}

namespace {

const char kHasMemory[] = "/sys/devices/system/node/has_memory";
const char kHasCpu[] = "/sys/devices/system/node/has_cpu";

int default_local() noexcept
{
	const auto memory = read_node_list(kHasMemory), cpus = read_node_list(kHasCpu);
	int first_memory = -1;
	for (int n = 0; n < kMaxNodes; n++) {
		if (!memory.test(static_cast<std::size_t>(n)))
			continue;
		if (cpus.test(static_cast<std::size_t>(n)))
			return n;
		if (first_memory < 0)
			first_memory = n;
	}
	return first_memory < 0 ? 0 : first_memory;
}

int default_remote(int local) noexcept
{
	const auto memory = read_node_list(kHasMemory), cpus = read_node_list(kHasCpu);
	int other = -1;
	for (int n = 0; n < kMaxNodes; n++) {
		if (n == local || !memory.test(static_cast<std::size_t>(n)))
			continue;
		if (!cpus.test(static_cast<std::size_t>(n)))
			return n;  // a memory-only node: what CXL memory looks like
		other = n;         // else the highest other node
	}
	return other < 0 ? local : other;
}

Status setup_one(unsigned lnode, int nid, unsigned long capacity_mb, NodeSetup *out) noexcept
{
	if (nid < 0 || nid >= kMaxNodes || !node_has_memory(nid)) {
		CLOG_ERROR("logical node %u: %d is not a node with memory", lnode, nid);
		return Error{EINVAL};
	}
	const NodeMemory mem = node_memory(nid);
	if (!mem.usable) {
		CLOG_ERROR("logical node %u: node %d reports no memory", lnode, nid);
		return Error{EINVAL};
	}
	if (capacity_mb > (UINT64_MAX >> 20)) {
		CLOG_ERROR("logical node %u: capacity %lu MiB is too large", lnode, capacity_mb);
		return Error{EINVAL};
	}
	const bool cpus = node_has_cpus(nid);
	// Default: most of a memory-only node, which nothing else uses, but
	// only half of a node with CPUs, where the rest of the system lives.
	// (The module's arithmetic, so both report the same capacity.)
	if (!capacity_mb)
		capacity_mb = static_cast<unsigned long>(
			mem.usable / 100 * (cpus ? kCpuPercent : kCpulessPercent) / (1ULL << 20));
	if (!capacity_mb) {
		CLOG_ERROR("logical node %u: node %d is smaller than 1 MiB", lnode, nid);
		return Error{EINVAL};
	}
	out->nid = nid;
	out->capacity = static_cast<std::uint64_t>(capacity_mb) << 20;
	out->usable = mem.usable;
	out->has_cpus = cpus;
	return {};
}

}  // namespace

Status setup_nodes(int local_node, int remote_node, unsigned long local_capacity_mb,
		   unsigned long remote_capacity_mb, NodeSetup out[2]) noexcept
{
	// -1 is "not given" (NUMA_NO_NODE, as for the module); any other
	// negative number is refused below.
	if (local_node == -1)
		local_node = default_local();
	if (remote_node == -1)
		remote_node = default_remote(local_node);
	if (Status s = setup_one(0, local_node, local_capacity_mb, &out[0]); !s)
		return s;
	return setup_one(1, remote_node, remote_capacity_mb, &out[1]);
}

}  // namespace emucxl::cused
