// SPDX-License-Identifier: Apache-2.0
// log.hpp - messages to stderr at or above EMUCXL_LOG's level.
#pragma once

#include "config.hpp"

namespace emucxl {

void log_set_level(LogLevel level) noexcept;
bool log_enabled(LogLevel level) noexcept;
void log_msg(LogLevel level, const char *fmt, ...) noexcept
	__attribute__((format(printf, 2, 3)));

#define EMUCXL_LOG_AT(lvl, ...)                                    \
	do {                                                       \
		if (::emucxl::log_enabled(::emucxl::LogLevel::lvl)) \
			::emucxl::log_msg(::emucxl::LogLevel::lvl, __VA_ARGS__); \
	} while (0)
#define LOG_ERROR(...) EMUCXL_LOG_AT(error, __VA_ARGS__)
#define LOG_WARN(...) EMUCXL_LOG_AT(warn, __VA_ARGS__)
#define LOG_INFO(...) EMUCXL_LOG_AT(info, __VA_ARGS__)
#define LOG_DEBUG(...) EMUCXL_LOG_AT(debug, __VA_ARGS__)

}  // namespace emucxl
