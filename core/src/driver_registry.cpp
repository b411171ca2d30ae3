// SPDX-License-Identifier: Apache-2.0
// driver_registry.cpp - EMUCXL_BACKEND -> a driver.
//
// auto: the kernel module if its device answers, else the CUSE daemon, else
// mbind (which works everywhere). A driver asked for by name that cannot run
// here fails init, with the reason logged at error level.
#include <cstring>

#include "driver.hpp"
#include "log.hpp"

namespace emucxl {

Result<DriverPtr> select_driver(const Config &config) noexcept
{
	struct Entry {
		const char *name;
		Result<DriverPtr> (*make)(const Config &) noexcept;
	};
	static constexpr Entry kDrivers[] = {
		{"kmod", make_kmod_driver},
		{"cuse", make_cuse_driver},
		{"mbind", make_mbind_driver},
	};

	const bool automatic = config.backend == "auto";
	for (const Entry &e : kDrivers) {
		if (!automatic && config.backend != e.name)
			continue;
		auto d = e.make(config);
		if (d) {
			LOG_INFO("driver %s selected (EMUCXL_BACKEND=%s)", e.name,
				 config.backend.c_str());
			return d;
		}
		if (!automatic) {
			LOG_ERROR("EMUCXL_BACKEND=%s: driver cannot run here: %s", e.name,
				  std::strerror(d.error()));
			return d;
		}
		LOG_INFO("auto: driver %s not available (%s), trying the next", e.name,
			 std::strerror(d.error()));
	}
	return Error{ENODEV};
}

}  // namespace emucxl
