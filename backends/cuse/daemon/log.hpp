// SPDX-License-Identifier: Apache-2.0
// log.hpp - emucxl-cused's messages: to stderr in the foreground, to syslog
// once daemonised (stderr is /dev/null then), at or above --log-level.
//
// Anything a client can trigger (bad arguments, a full node, quotas, a
// failed placement or punch) is logged at info or debug, below the default
// level (warn), so a misbehaving client cannot flood the log.
//
// Why not core's logger (core/src/log.hpp): that one belongs to libemucxl,
// takes its level from EMUCXL_LOG through core's config and writes to
// stderr only; the daemon does not link core, takes --log-level, and must
// switch to syslog once it has daemonised (stderr is /dev/null then).
#pragma once

namespace emucxl::cused {

enum class Level { error = 0, warn = 1, info = 2, debug = 3 };

// Parse "error", "warn", "info", "debug". false for anything else.
bool parse_level(const char *s, Level *out) noexcept;

void log_set_level(Level level) noexcept;
void log_to_syslog(bool on) noexcept;  // call after daemonising
bool log_enabled(Level level) noexcept;
void log_msg(Level level, const char *fmt, ...) noexcept __attribute__((format(printf, 2, 3)));

}  // namespace emucxl::cused

#define CUSED_LOG_AT(lvl, ...)                                                   \
	do {                                                                     \
		if (::emucxl::cused::log_enabled(::emucxl::cused::Level::lvl))   \
			::emucxl::cused::log_msg(::emucxl::cused::Level::lvl, __VA_ARGS__); \
	} while (0)
#define CLOG_ERROR(...) CUSED_LOG_AT(error, __VA_ARGS__)
#define CLOG_WARN(...) CUSED_LOG_AT(warn, __VA_ARGS__)
#define CLOG_INFO(...) CUSED_LOG_AT(info, __VA_ARGS__)
#define CLOG_DEBUG(...) CUSED_LOG_AT(debug, __VA_ARGS__)
