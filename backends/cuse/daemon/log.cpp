// SPDX-License-Identifier: Apache-2.0
// log.cpp - see log.hpp.
#include "log.hpp"

#include <syslog.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace emucxl::cused {

namespace {

std::atomic<int> g_level{static_cast<int>(Level::warn)};
std::atomic<bool> g_syslog{false};

const char *const kNames[] = {"error", "warn", "info", "debug"};
const int kPriorities[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

}  // namespace

bool parse_level(const char *s, Level *out) noexcept
{
	for (int i = 0; i <= static_cast<int>(Level::debug); i++) {
		if (s && std::strcmp(s, kNames[i]) == 0) {
			*out = static_cast<Level>(i);
			return true;
		}
	}
	return false;
}

void log_set_level(Level level) noexcept { g_level = static_cast<int>(level); }

void log_to_syslog(bool on) noexcept
{
	if (on && !g_syslog)
		openlog("emucxl-cused", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	g_syslog = on;
}

bool log_enabled(Level level) noexcept { return static_cast<int>(level) <= g_level; }

void log_msg(Level level, const char *fmt, ...) noexcept
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	std::vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	const int i = static_cast<int>(level);
	if (g_syslog)
		syslog(kPriorities[i], "%s", buf);
	else
		std::fprintf(stderr, "emucxl-cused: %s: %s\n", kNames[i], buf);
}

}  // namespace emucxl::cused
