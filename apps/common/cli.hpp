// SPDX-License-Identifier: Apache-2.0
// cli.hpp - argument helpers shared by the apps' command lines.
#pragma once

#include <charconv>
#include <optional>
#include <string_view>

namespace emucxl::apps {

// A whole decimal integer in [lo, hi], or nullopt ("12x", "", overflow).
template <class Int> std::optional<Int> parse_int(std::string_view s, Int lo, Int hi)
{
	Int v{};
	auto res = std::from_chars(s.data(), s.data() + s.size(), v);
	if (res.ec != std::errc() || res.ptr != s.data() + s.size() || v < lo || v > hi)
		return std::nullopt;
	return v;
}

// Exit codes of every app CLI.
inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1; // the work itself failed (no driver, allocation failure, ...)
inline constexpr int exit_usage = 2;   // bad command line

} // namespace emucxl::apps
