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

constexpr const char *kRunSynopsis =
	"emucxlctl run [--node local|remote | --local-limit SIZE | --interleave L:R | --min-size SIZE]\n"
	"                     [--remote-full fallback|fail] [--report] -- COMMAND [ARGS...]";

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
		  << "usage: " << kRunSynopsis << "\n";
	return apps::exit_usage;
}

} // namespace

CLI::App *add_run_command(CLI::App &parent, RunOptions &o)
{
	CLI::App *app = parent.add_subcommand(
		"run", "run COMMAND unmodified with its heap on emulated CXL memory");
	apps::use_conventions(*app, kRunSynopsis);
	app->footer(kRunFooter);
	auto *o_node = app->add_option("--node", o.node, "every allocation on this node")
			       ->check(CLI::IsMember({"local", "remote"}));
	auto *o_limit = app->add_option("--local-limit", o.local_limit,
					"live heap up to SIZE on local, the rest on remote")
				->type_name("SIZE");
	auto *o_inter = app->add_option("--interleave", o.interleave,
					"allocations interleaved over local:remote by bytes, weights L:R")
				->type_name("L:R");
	auto *o_min = app->add_option("--min-size", o.min_size,
				      "allocations of at least SIZE on remote, smaller ones local")
			      ->type_name("SIZE");
	const std::vector<CLI::Option *> policies{o_node, o_limit, o_inter, o_min};
	for (auto *a : policies)
		for (auto *b : policies)
			if (a != b)
				a->excludes(b);
	app->add_option("--remote-full", o.remote_full,
			"when remote is full: place on local and count it (fallback, the "
			"default), or fail the allocation (fail)")
		->check(CLI::IsMember({"fallback", "fail"}));
	app->add_flag("--report", o.report,
		      "on exit, print bytes placed, peak and allocations per node, failures "
		      "and fallbacks on stderr");
	return app;
}

int cmd_run(const RunOptions &o, char **command)
{
	if (!command)
		return usage_error("no command: put it after --");
	if (!command[0])
		return usage_error("no command after --");

	const std::string &local_limit = o.local_limit, &interleave = o.interleave, &min_size = o.min_size;
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
		setenv(pl::kEnvNode, o.node.empty() ? "remote" : o.node.c_str(), 1);
	if (!o.remote_full.empty())
		setenv(pl::kEnvOnFull, o.remote_full.c_str(), 1);
	if (o.report)
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

	execvp(command[0], command);
	const int e = errno;
	std::cerr << "emucxlctl run: " << command[0] << ": " << std::strerror(e) << "\n";
	return e == ENOENT ? 127 : 126;
}

} // namespace emucxl::ctl
