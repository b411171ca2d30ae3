// SPDX-License-Identifier: Apache-2.0
// config.hpp - emucxl's configuration, read once from the environment at init.
#pragma once

#include <string>

#include "result.hpp"

namespace emucxl {

enum class LogLevel { error = 0, warn = 1, info = 2, debug = 3 };

// The device kmod and cuse open when EMUCXL_DEVICE is unset; cuse then also
// tries the name vm/run (and the README) give the daemon beside the module.
#define EMUCXL_DEVICE_DEFAULT "/dev/emucxl"
#define EMUCXL_DEVICE_CUSE "/dev/emucxl-cuse"

struct Config {
	std::string backend = "auto";         // EMUCXL_BACKEND: auto|mbind|kmod|cuse
	std::string device = EMUCXL_DEVICE_DEFAULT;  // EMUCXL_DEVICE
	bool device_is_default = false;       // config_from_env: EMUCXL_DEVICE unset, so cuse
	                                      // also tries EMUCXL_DEVICE_CUSE (a Config built in
	                                      // code names exactly the device it means)
	int local_node = -1;                  // EMUCXL_LOCAL_NODE, -1: default
	int remote_node = -1;                 // EMUCXL_REMOTE_NODE, -1: default
	LogLevel log_level = LogLevel::warn;  // EMUCXL_LOG
};

// Parse the EMUCXL_* variables. EINVAL (logged) for a malformed value.
Result<Config> config_from_env() noexcept;

}  // namespace emucxl
