// SPDX-License-Identifier: Apache-2.0
// timing.hpp - the timing section of `emucxlctl info`: the profiles of
// vm/profiles (compiled in from that one file) and the one the guest runs
// with, which vm/run passes as EMUCXL_TIMING="profile=.. local_ns=.. ...".
#pragma once

#include "json.hpp"

#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace emucxl::ctl {

struct TimingProfile {
	std::string name;
	std::string local_ns, remote_ns, local_gbs, remote_gbs; // "-" for off
	std::string source;
};

// The profiles table (vm/profiles, without its comments).
std::vector<TimingProfile> timing_profiles();

// EMUCXL_TIMING split into key -> value; nullopt when it is unset or empty.
std::optional<std::map<std::string, std::string>> active_timing();

void print_timing_text(std::ostream &os);
apps::Json timing_json(); // info --json's "timing" object

} // namespace emucxl::ctl
