// SPDX-License-Identifier: Apache-2.0
// config.cpp - parse the EMUCXL_* environment (see docs/DESIGN.md, "Configuration").
#include "config.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "log.hpp"

namespace emucxl {

namespace {

// A NUMA node id: a decimal integer in [0, 1023]. Unset or empty: -1.
Result<int> parse_node(const char *var)
{
	const char *s = std::getenv(var);
	if (!s || !*s)
		return -1;
	char *end = nullptr;
	errno = 0;
	long v = std::strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > 1023) {
		LOG_ERROR("%s=\"%s\" is not a NUMA node number (0..1023)", var, s);
		return Error{EINVAL};
	}
	return static_cast<int>(v);
}

}  // namespace

Result<Config> config_from_env() noexcept
{
	Config c;

	if (const char *lvl = std::getenv("EMUCXL_LOG"); lvl && *lvl) {
		static constexpr struct {
			const char *name;
			LogLevel level;
		} kLevels[] = {{"error", LogLevel::error}, {"warn", LogLevel::warn},
			       {"info", LogLevel::info}, {"debug", LogLevel::debug}};
		bool found = false;
		for (const auto &l : kLevels) {
			if (std::strcmp(lvl, l.name) == 0) {
				c.log_level = l.level;
				found = true;
			}
		}
		if (!found) {
			LOG_ERROR("EMUCXL_LOG=\"%s\": expected error, warn, info or debug", lvl);
			return Error{EINVAL};
		}
	}
	log_set_level(c.log_level);

	if (const char *b = std::getenv("EMUCXL_BACKEND"); b && *b) {
		if (std::strcmp(b, "auto") && std::strcmp(b, "mbind") && std::strcmp(b, "kmod") &&
		    std::strcmp(b, "cuse")) {
			LOG_ERROR("EMUCXL_BACKEND=\"%s\": expected auto, mbind, kmod or cuse", b);
			return Error{EINVAL};
		}
		c.backend = b;
	}
	if (const char *d = std::getenv("EMUCXL_DEVICE"); d && *d)
		c.device = d;
	else
		c.device_is_default = true;

	auto local = parse_node("EMUCXL_LOCAL_NODE");
	if (!local)
		return Error{local.error()};
	auto remote = parse_node("EMUCXL_REMOTE_NODE");
	if (!remote)
		return Error{remote.error()};
	c.local_node = local.value();
	c.remote_node = remote.value();
	return c;
}

}  // namespace emucxl
