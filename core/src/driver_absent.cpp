// SPDX-License-Identifier: Apache-2.0
// driver_absent.cpp - factories of drivers left out of this build: they
// answer ENOTSUP, so EMUCXL_BACKEND=<name> fails init saying why.
#include "driver.hpp"
#include "log.hpp"

namespace emucxl {

#ifndef EMUCXL_HAVE_KMOD
Result<DriverPtr> make_kmod_driver(const Config &) noexcept
{
	LOG_INFO("kmod driver: not part of this build");
	return Error{ENOTSUP};
}
#endif

#ifndef EMUCXL_HAVE_CUSE
Result<DriverPtr> make_cuse_driver(const Config &) noexcept
{
	LOG_INFO("cuse driver: not part of this build");
	return Error{ENOTSUP};
}
#endif

}  // namespace emucxl
