// SPDX-License-Identifier: Apache-2.0
// log.cpp - EMUCXL_LOG messages on stderr, one write(2) per line so lines
// from several threads do not interleave.
#include "log.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>

namespace emucxl {

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::warn)};
constexpr const char *kNames[] = {"error", "warn", "info", "debug"};
}  // namespace

void log_set_level(LogLevel level) noexcept
{
	g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

bool log_enabled(LogLevel level) noexcept
{
	return static_cast<int>(level) <= g_level.load(std::memory_order_relaxed);
}

void log_msg(LogLevel level, const char *fmt, ...) noexcept
{
	char line[512];
	int n = std::snprintf(line, sizeof(line), "emucxl: %s: ",
			      kNames[static_cast<int>(level)]);
	va_list ap;
	va_start(ap, fmt);
	int m = std::vsnprintf(line + n, sizeof(line) - static_cast<size_t>(n) - 1, fmt, ap);
	va_end(ap);
	size_t len = static_cast<size_t>(n) + (m < 0 ? 0 : static_cast<size_t>(m));
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	ssize_t w = ::write(STDERR_FILENO, line, len);
	(void)w;  // nowhere left to report a failed log write
}

}  // namespace emucxl
