// SPDX-License-Identifier: Apache-2.0
// driver_registry.cpp - EMUCXL_BACKEND -> a driver.
//
// auto: the kernel module if its device answers, else the CUSE daemon, else
// mbind (which works everywhere). A driver asked for by name that cannot run
// here fails init, with the reason and the next step logged at error level
// (driver_diagnosis.cpp). When auto passes over a device that is there but
// refused (node mapping, permissions), it says at warn level which driver it
// chose instead and why.
#include <cstring>

#include "driver.hpp"
#include "driver_diagnosis.hpp"
#include "log.hpp"

namespace emucxl {

namespace {

// Why auto went past a driver whose device is there.
const char *refusal(int err) noexcept
{
	switch (err) {
	case EINVAL:
		return "does not map the nodes EMUCXL_LOCAL_NODE/EMUCXL_REMOTE_NODE ask for "
		       "(see above)";
	case EACCES:
	case EPERM:
		return "cannot be opened by this user";
	case EPROTONOSUPPORT:
		return "speaks another ABI version";
	default:
		return std::strerror(err);
	}
}

}  // namespace

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

	// A node that does not exist is the same mistake on every driver.
	if (Status st = check_configured_nodes(config); !st)
		return Error{st.error()};

	const bool automatic = config.backend == "auto";
	const char *passed_over = nullptr;  // auto: a driver whose device is there but refused
	int passed_err = 0, last_err = ENODEV;
	for (const Entry &e : kDrivers) {
		if (!automatic && config.backend != e.name)
			continue;
		auto d = e.make(config);
		if (d) {
			if (passed_over)
				LOG_WARN("auto: running on the %s driver, not on %s, whose device is "
					 "there but %s; EMUCXL_BACKEND=%s makes that an error instead",
					 e.name, passed_over, refusal(passed_err), passed_over);
			else
				LOG_INFO("driver %s selected (EMUCXL_BACKEND=%s)", e.name,
					 config.backend.c_str());
			return d;
		}
		if (!automatic) {
			explain_unavailable_driver(e.name, config, d.error());
			return d;
		}
		LOG_INFO("auto: driver %s not available (%s), trying the next", e.name,
			 std::strerror(d.error()));
		// ENODEV: no such device; ENOTSUP: not in this build. Anything
		// else means a device answered and the configuration (or the
		// permissions) kept us from using it: worth saying.
		if (!passed_over && d.error() != ENODEV && d.error() != ENOTSUP) {
			passed_over = e.name;
			passed_err = d.error();
		}
		last_err = d.error();
	}
	// mbind, the last, runs anywhere: its error is the configuration's.
	return Error{last_err};
}

}  // namespace emucxl
