// SPDX-License-Identifier: Apache-2.0
// driver_diagnosis.hpp - the checks and messages of driver selection that a
// user sees at the default log level (driver_registry.cpp calls them).
#pragma once

#include "config.hpp"
#include "result.hpp"

namespace emucxl {

// EMUCXL_BACKEND=<name> asked for a driver whose factory failed with `err`:
// log at error level why (no device node, module not loaded, this kernel
// cannot load modules, no CUSE, no daemon, permissions, another server) and
// what to do next.
void explain_unavailable_driver(const char *name, const Config &config, int err) noexcept;

// EMUCXL_LOCAL_NODE / EMUCXL_REMOTE_NODE name a NUMA node this machine does
// not have: EINVAL, logged once, whatever the driver (so auto, mbind, kmod
// and cuse give the same answer to the same mistake).
Status check_configured_nodes(const Config &config) noexcept;

}  // namespace emucxl
