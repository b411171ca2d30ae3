// SPDX-License-Identifier: Apache-2.0
// emucxlctl run [POLICY] [--report] -- COMMAND [ARGS...]: run an unmodified
// program with its heap on emulated CXL memory. Checks the policy, puts it
// into the environment libemucxl-preload.so reads (apps/preload/policy.hpp),
// prepends the preload to LD_PRELOAD and execs the command. The same
// variables work without this wrapper (README, "Transparent mode").
#include <emucxl/emucxl.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "commands.hpp"
#include "policy.hpp"

namespace emucxl::ctl {

namespace {

namespace fs = std::filesystem;
namespace pl = emucxl::preload;

constexpr const char *kRunFooter =
	"Exactly one policy (default --node remote). SIZE: bytes, or with K, M, G, T\n"
	"(binary). The policy reaches the program as environment variables\n"
	"(EMUCXL_PRELOAD_NODE, _LOCAL_LIMIT, _INTERLEAVE, _MIN_SIZE, _ON_FULL, _REPORT)\n"
	"and LD_PRELOAD=libemucxl-preload.so; children and exec'd programs inherit\n"
	"them. The driver is EMUCXL_BACKEND's, as for any emucxl program.\n"
	"Exit status: the command's; 2 bad command line or policy, 1 emucxl cannot\n"
	"start or the preload is missing, 126 the command cannot run, 127 not found.";

// Where libemucxl-preload.so is: $EMUCXL_PRELOAD_LIB, next to this binary
// in the build tree (apps/emucxlctl -> apps/preload) or the install tree
// (bin -> lib), or where it was installed.
std::string find_preload()
{
	if (const char *env = std::getenv("EMUCXL_PRELOAD_LIB"); env && *env)
		return fs::exists(env) ? fs::absolute(env).string() : std::string();
	std::error_code ec;
	const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
	std::vector<fs::path> candidates;
	if (!ec) {
		candidates.push_back(exe.parent_path() / "../preload/libemucxl-preload.so");
		candidates.push_back(exe.parent_path() / ".." / EMUCXL_INSTALL_LIBDIR /
				     "libemucxl-preload.so");
	}
	candidates.emplace_back(EMUCXL_PRELOAD_INSTALLED);
	for (const auto &c : candidates)
		if (fs::exists(c, ec))
			return fs::canonical(c, ec).string();
	return {};
}

int usage_error(const std::string &msg)
{
	std::cerr << "emucxlctl run: " << msg << "\n"
		  << "usage: emucxlctl run [--node local|remote | --local-limit SIZE | "
		     "--interleave L:R | --min-size SIZE] [--remote-full fallback|fail] "
		     "[--report] -- COMMAND [ARGS...]\n";
	return apps::exit_usage;
}

} // namespace

int cmd_run(int argc, char **argv)
{
	// Everything after the first "--" is the command, untouched by CLI11.
	int dash = 1;
	while (dash < argc && std::strcmp(argv[dash], "--") != 0)
		dash++;

	CLI::App app{"Run an unmodified program with its heap on emulated CXL memory.",
		     "emucxlctl run"};
	app.footer(kRunFooter);
	std::string node, local_limit, interleave, min_size, remote_full;
	bool report = false;
	auto *o_node = app.add_option("--node", node, "every allocation on this node")
			       ->check(CLI::IsMember({"local", "remote"}));
	auto *o_limit = app.add_option("--local-limit", local_limit,
				       "live heap up to SIZE on local, the rest on remote")
				->type_name("SIZE");
	auto *o_inter = app.add_option("--interleave", interleave,
				       "allocations interleaved over local:remote by bytes, weights L:R")
				->type_name("L:R");
	auto *o_min = app.add_option("--min-size", min_size,
				     "allocations of at least SIZE on remote, smaller ones local")
			      ->type_name("SIZE");
	const std::vector<CLI::Option *> policies{o_node, o_limit, o_inter, o_min};
	for (auto *a : policies)
		for (auto *b : policies)
			if (a != b)
				a->excludes(b);
	app.add_option("--remote-full", remote_full,
		       "when remote is full: place on local and count it (fallback, the "
		       "default), or fail the allocation (fail)")
		->check(CLI::IsMember({"fallback", "fail"}));
	app.add_flag("--report", report,
		     "on exit, print bytes placed, peak and allocations per node, failures "
		     "and fallbacks on stderr");
	try {
		app.parse(dash, argv);
	} catch (const CLI::CallForHelp &) {
		std::cout << app.help();
		return apps::exit_ok;
	} catch (const CLI::ParseError &e) {
		return usage_error(e.what());
	}
	if (dash >= argc - 1)
		return usage_error(dash >= argc ? "no command: put it after --" : "no command after --");

	std::uint64_t size = 0;
	std::uint32_t wl = 0, wr = 0;
	if (!local_limit.empty() && !pl::parse_size(local_limit.c_str(), &size))
		return usage_error("--local-limit " + local_limit +
				   ": expected a size such as 65536, 64K, 64M or 2G");
	if (!min_size.empty() && !pl::parse_size(min_size.c_str(), &size))
		return usage_error("--min-size " + min_size + ": expected a size such as 4096, 4K or 1M");
	if (!interleave.empty() && !pl::parse_weights(interleave.c_str(), &wl, &wr))
		return usage_error("--interleave " + interleave +
				   ": expected L:R, two weights 0..1000000, not both 0 (e.g. 1:3)");

	for (const char *v : {pl::kEnvNode, pl::kEnvLocalLimit, pl::kEnvInterleave, pl::kEnvMinSize})
		unsetenv(v);
	if (!local_limit.empty())
		setenv(pl::kEnvLocalLimit, local_limit.c_str(), 1);
	else if (!interleave.empty())
		setenv(pl::kEnvInterleave, interleave.c_str(), 1);
	else if (!min_size.empty())
		setenv(pl::kEnvMinSize, min_size.c_str(), 1);
	else
		setenv(pl::kEnvNode, node.empty() ? "remote" : node.c_str(), 1);
	if (!remote_full.empty())
		setenv(pl::kEnvOnFull, remote_full.c_str(), 1);
	if (report)
		setenv(pl::kEnvReport, "stderr", 1);
	// What the preload will read, checked once more by its own parser.
	pl::Policy policy;
	char err[256];
	if (!pl::policy_from_env(&policy, err, sizeof(err)))
		return usage_error(err);

	const std::string lib = find_preload();
	if (lib.empty()) {
		std::cerr << "emucxlctl run: libemucxl-preload.so not found (set EMUCXL_PRELOAD_LIB "
			     "to its path)\n";
		return apps::exit_failure;
	}
	// Fail here, with the library's own message, rather than in the program.
	if (emucxl_init() != 0) {
		std::cerr << "emucxlctl run: emucxl cannot start: " << std::strerror(errno) << "\n";
		return apps::exit_failure;
	}
	emucxl_exit();

	std::string preload = lib;
	if (const char *old = std::getenv("LD_PRELOAD"); old && *old)
		preload += std::string(" ") + old;
	setenv("LD_PRELOAD", preload.c_str(), 1);

	execvp(argv[dash + 1], argv + dash + 1);
	const int e = errno;
	std::cerr << "emucxlctl run: " << argv[dash + 1] << ": " << std::strerror(e) << "\n";
	return e == ENOENT ? 127 : 126;
}

} // namespace emucxl::ctl
