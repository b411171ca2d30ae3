// SPDX-License-Identifier: Apache-2.0
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1  // mremap
#endif
// fork.cpp - lift MADV_DONTFORK around fork() for the private mappings that
// hold emucxl memory (fork.hpp). Runs inside fork(): no allocation, fixed
// static storage, /proc/self/smaps read with read(2).
#include "fork.hpp"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>

namespace emucxl::preload::forking {

namespace {

struct Range {
	std::uintptr_t start, end;
	bool shared;  // a device or memfd mapping (kmod, cuse): copied in the child
};
constexpr std::size_t kMaxRanges = 8192;  // more emucxl mappings than this: the rest stay DONTFORK
constinit Range g_ranges[kMaxRanges];
constinit std::size_t g_count = 0;
constinit std::atomic_flag g_busy = ATOMIC_FLAG_INIT;  // one fork at a time in here
// The parent waits on this until the child has its private copies of the
// shared ranges (else the parent could change them halfway through a copy).
constinit int g_pipe[2] = {-1, -1};

std::uintptr_t parse_hex(const char *&p, const char *end)
{
	std::uintptr_t v = 0;
	for (; p < end; p++) {
		const char c = *p;
		unsigned d;
		if (c >= '0' && c <= '9')
			d = static_cast<unsigned>(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = static_cast<unsigned>(c - 'a' + 10);
		else
			break;
		v = v << 4 | d;
	}
	return v;
}

// One line of /proc/self/smaps. A mapping's header ("start-end perms offset
// dev inode [path]") is followed by its fields, the last being "VmFlags:".
struct Parser {
	bool (*is_emucxl)(void *);
	std::uintptr_t start = 0, end = 0;
	bool candidate = false;  // writable; private ones anonymous
	bool shared = false;

	void line(const char *s, const char *e)
	{
		if (e - s > 8 && std::memcmp(s, "VmFlags:", 8) == 0) {
			if (candidate && has_flag(s + 8, e, "dc") && g_count < kMaxRanges &&
			    is_emucxl(reinterpret_cast<void *>(start)) &&
			    madvise(reinterpret_cast<void *>(start), end - start, MADV_DOFORK) == 0)
				g_ranges[g_count++] = {start, end, shared};
			candidate = false;
			return;
		}
		const char *p = s;
		const std::uintptr_t a = parse_hex(p, e);
		if (p == s || p >= e || *p != '-')
			return;  // a field line
		p++;
		const std::uintptr_t b = parse_hex(p, e);
		// " rw-p 00000000 00:00 0" then spaces and an optional path
		candidate = e - p > 5 && p[1] == 'r' && p[2] == 'w' && (p[4] == 'p' || p[4] == 's');
		shared = candidate && p[4] == 's';
		if (candidate && !shared) {
			// inode 0: the field after perms, offset and dev
			int field = 0;
			const char *q = p;
			while (q < e && field < 3) {  // perms, offset, dev
				while (q < e && *q == ' ')
					q++;
				while (q < e && *q != ' ')
					q++;
				field++;
			}
			while (q < e && *q == ' ')
				q++;
			candidate = q < e && *q == '0' && (q + 1 == e || q[1] == ' ');
		}
		start = a;
		end = b;
	}

	static bool has_flag(const char *s, const char *e, const char *flag)
	{
		for (const char *p = s; p + 2 <= e; p++)
			if (p[0] == flag[0] && p[1] == flag[1] && (p == s || p[-1] == ' ') &&
			    (p + 2 == e || p[2] == ' '))
				return true;
		return false;
	}
};

}  // namespace

void prepare(bool (*is_emucxl)(void *)) noexcept
{
	while (g_busy.test_and_set(std::memory_order_acquire)) {
		// another thread is forking: wait for its parent() to run
	}
	g_count = 0;
	const int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;  // no /proc: children get no emucxl memory, as without the preload
	static char buf[1 << 16];
	std::size_t have = 0;
	Parser parser{is_emucxl};
	for (;;) {
		const ssize_t n = read(fd, buf + have, sizeof(buf) - have);
		if (n <= 0)
			break;
		have += static_cast<std::size_t>(n);
		std::size_t pos = 0;
		for (;;) {
			const void *nl = std::memchr(buf + pos, '\n', have - pos);
			if (!nl)
				break;
			const char *e = static_cast<const char *>(nl);
			parser.line(buf + pos, e);
			pos = static_cast<std::size_t>(e - buf) + 1;
		}
		if (pos == 0 && have == sizeof(buf))
			have = 0;  // a line longer than the buffer (a path): skip it
		std::memmove(buf, buf + pos, have - pos);
		have -= pos;
	}
	close(fd);
	for (std::size_t i = 0; i < g_count; i++)
		if (g_ranges[i].shared) {
			if (pipe2(g_pipe, O_CLOEXEC) != 0)
				g_pipe[0] = g_pipe[1] = -1;
			break;
		}
}

void parent() noexcept
{
	for (std::size_t i = 0; i < g_count; i++)
		(void)madvise(reinterpret_cast<void *>(g_ranges[i].start),
			      g_ranges[i].end - g_ranges[i].start, MADV_DONTFORK);
	if (g_pipe[0] >= 0) {
		close(g_pipe[1]);
		char c;
		// One byte when the child is done, or EOF if it died first.
		while (read(g_pipe[0], &c, 1) < 0 && errno == EINTR) {
		}
		close(g_pipe[0]);
		g_pipe[0] = g_pipe[1] = -1;
	}
	g_busy.clear(std::memory_order_release);
}

void child() noexcept
{
	// A shared range is the parent's memory: replace it here by a private
	// copy at the same address (the module and the daemon drop this
	// process's reference when the shared mapping goes).
	for (std::size_t i = 0; i < g_count; i++) {
		if (!g_ranges[i].shared)
			continue;
		const std::size_t len = g_ranges[i].end - g_ranges[i].start;
		void *old = reinterpret_cast<void *>(g_ranges[i].start);
		void *copy = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				  -1, 0);
		if (copy == MAP_FAILED) {
			static const char msg[] = "emucxl-preload: fork: no memory for the child's "
						  "copy of the heap\n";
			ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
			(void)w;
			abort();  // better than writing into the parent's heap
		}
		std::memcpy(copy, old, len);
		if (mremap(copy, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, old) == MAP_FAILED)
			abort();
	}
	if (g_pipe[0] >= 0) {
		close(g_pipe[0]);
		ssize_t w = write(g_pipe[1], "x", 1);
		(void)w;
		close(g_pipe[1]);
		g_pipe[0] = g_pipe[1] = -1;
	}
	// Ranges stay: they are what this child inherited. Its own children
	// fork with the real allocator's heap only, and keep these copies
	// (now ordinary memory) anyway.
	g_busy.clear(std::memory_order_release);
}

bool inherited(const void *p, std::size_t *room) noexcept
{
	const auto a = reinterpret_cast<std::uintptr_t>(p);
	for (std::size_t i = 0; i < g_count; i++)
		if (a >= g_ranges[i].start && a < g_ranges[i].end) {
			*room = g_ranges[i].end - a;
			return true;
		}
	return false;
}

}  // namespace emucxl::preload::forking
