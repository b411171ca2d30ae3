// SPDX-License-Identifier: Apache-2.0
// cli.hpp - the conventions every apps/ command line follows, on CLI11:
//   - help (--help, -h) on stdout, exit 0, starting "usage: SYNOPSIS";
//   - a bad command line: "PROGRAM: what is wrong", the synopsis, on stderr,
//     exit 2 (exit_usage);
//   - an option given twice: the last one counts;
//   - integers are whole decimal numbers in a stated range (decimal()):
//     CLI11 alone would also take 010 as octal 8, 0x10, and clamp overflow.
#pragma once

#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <CLI/CLI.hpp>

namespace emucxl::apps {

// Exit codes of every app CLI.
inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1; // the work itself failed (no driver, allocation failure, ...)
inline constexpr int exit_usage = 2;   // bad command line

// A whole decimal integer in [lo, hi], or nullopt ("12x", "", "+1", overflow).
template <class Int> std::optional<Int> parse_int(std::string_view s, Int lo, Int hi)
{
	Int v{};
	auto res = std::from_chars(s.data(), s.data() + s.size(), v);
	if (res.ec != std::errc() || res.ptr != s.data() + s.size() || v < lo || v > hi)
		return std::nullopt;
	return v;
}

// For ->transform(): accepts what parse_int does and rewrites it in
// canonical decimal ("007" -> "7"), so CLI11 converts exactly what was checked.
template <class Int> CLI::Validator decimal(Int lo, Int hi)
{
	const std::string range = std::to_string(lo) + ".." + std::to_string(hi);
	return CLI::Validator(
		[lo, hi, range](std::string &s) -> std::string {
			const std::optional<Int> v = parse_int<Int>(s, lo, hi);
			if (!v)
				return "'" + s + "' is not a whole number in " + range;
			s = std::to_string(*v);
			return {};
		},
		"INT in " + range);
}

// Help as the apps have always printed it: "usage: SYNOPSIS" (the synopsis
// may span lines), the description, CLI11's option and subcommand lists, the
// footer. Set on an app or subcommand with use_conventions().
class Help : public CLI::Formatter {
public:
	explicit Help(std::string synopsis) : synopsis_(std::move(synopsis)) {}
	const std::string &synopsis() const { return synopsis_; }
	std::string make_help(const CLI::App *app, std::string name, CLI::AppFormatMode mode) const override;

private:
	std::string synopsis_;
};

// The conventions above, for app (a top-level app or a subcommand: call it
// for each, after adding the subcommand, with that command's synopsis).
void use_conventions(CLI::App &app, std::string synopsis);

// Parses argv[0..argc) into app. nullopt: go on; otherwise the process exit
// status, with the help or the error already printed.
std::optional<int> parse(CLI::App &app, int argc, const char *const *argv);

} // namespace emucxl::apps
