// SPDX-License-Identifier: Apache-2.0
// emucxl-kv-bench - reproduces the EmuCXL paper's tiered key-value store
// experiment (local hit % per hot-key percentage and policy) and compares the
// store's GET/PUT throughput with std::unordered_map in the same run.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <emucxl/emucxl.h>
#include <emucxl/emucxl.hpp>

#include "cli.hpp"
#include "environment.hpp"
#include "experiment.hpp"
#include "report.hpp"

namespace {

constexpr const char *synopsis =
	"emucxl-kv-bench [--json] [--short] [--repeats N] [--seed S] [--promote-after N]\n"
	"                       [--hot P,P,...] [--keys N] [--value-bytes B]";

constexpr const char *description =
	"The EmuCXL paper's middleware experiment: a tiered key-value store with a\n"
	"local tier of 300 items (emucxl node 0) and a remote tier of 1000 (node 1).\n"
	"PUT key1..key1000, then 50,000 GETs: uniform (hot 0%), or for hot X% 45,000\n"
	"GETs over the first 10*X keys and 5,000 over the rest. Prints the local hit %\n"
	"for the policies promote, stay and promote-after-N beside the paper's, and the\n"
	"store's GET/PUT throughput beside std::unordered_map on the same keys and GETs.";

constexpr const char *footer =
	"The driver is chosen by EMUCXL_BACKEND (auto, mbind, kmod, cuse).\n"
	"Exit status: 0 done, 1 failed, 2 bad command line.";

// "0,50,90": percentages 0..90, comma-separated, at least one.
std::optional<std::vector<int>> percent_list(std::string_view list)
{
	std::vector<int> out;
	for (std::size_t pos = 0; pos <= list.size();) {
		const std::size_t comma = std::min(list.find(',', pos), list.size());
		const auto h = emucxl::apps::parse_int<int>(list.substr(pos, comma - pos), 0, 90);
		if (!h)
			return std::nullopt;
		out.push_back(*h);
		pos = comma + 1;
	}
	return out;
}

} // namespace

int main(int argc, char **argv)
{
	namespace apps = emucxl::apps;
	namespace kb = emucxl::kv::bench;
	kb::Options opt;
	bool json = false, quick = false;

	CLI::App app{description, "emucxl-kv-bench"};
	apps::use_conventions(app, synopsis);
	app.footer(footer);
	app.add_flag("--json", json, "print one JSON object on stdout instead of the tables");
	auto *repeats = app.add_option("--repeats", opt.repeats,
				       "timed repetitions of every run (default 7; throughput is the best of "
				       "them; hit % do not change)")
				->transform(apps::decimal(1, 1000));
	app.add_flag("--short", quick, "--repeats 1 (unless given): a quick smoke run");
	app.add_option("--seed", opt.seed, "seed of the GET sequence (default 20230905)")
		->transform(apps::decimal<std::uint64_t>(0, UINT64_MAX));
	app.add_option("--promote-after", opt.promote_after, "N of the promote-after-N policy (default 2)")
		->transform(apps::decimal(1U, 1'000'000U));
	app.add_option_function<std::string>(
		   "--hot",
		   [&opt](const std::string &list) {
			   auto hot = percent_list(list);
			   if (!hot)
				   throw CLI::ValidationError("--hot", "wants percentages 0..90, comma-separated, not '" +
									      list + "'");
			   opt.hot_percents = std::move(*hot);
		   },
		   "the hot percentages to run, 0..90 (default all ten: 0,10,...,90; fewer for a quicker "
		   "run, e.g. in the timed guest)")
		->type_name("P,P,...");
	auto *keys = app.add_option("--keys", opt.shape.keys,
				    "N keys instead of 1000: local tier 30% of them, remote all, hot sets "
				    "scaled alike (no paper column then)")
			     ->transform(apps::decimal(100, 1'000'000));
	app.add_option("--value-bytes", opt.shape.value_bytes,
		       "pad every value to B bytes (default: the paper's \"valueN\"). With --keys, a data "
		       "set larger than a modelled last-level cache, so that the guest's timing model is paid")
		->transform(apps::decimal<std::size_t>(1, 1 << 20));
	if (const auto rc = apps::parse(app, argc, argv))
		return *rc;
	if (quick && !*repeats)
		opt.repeats = 1;
	if (*keys) {
		opt.local_capacity = static_cast<std::size_t>(opt.shape.keys) * 3 / 10;
		opt.remote_capacity = static_cast<std::size_t>(opt.shape.keys);
	}

	try {
		emucxl::Session session;
		emucxl_info info;
		if (!apps::get_emucxl_info(info)) {
			std::cerr << "emucxl-kv-bench: emucxl_get_info: " << std::strerror(errno) << "\n";
			return apps::exit_failure;
		}
		const apps::Machine machine = apps::describe_machine();
		const kb::Results r = kb::run_experiment(opt);
		if (json)
			kb::print_json(std::cout, r, machine, info);
		else
			kb::print_table(std::cout, r, machine, info);
		return std::cout.flush() ? apps::exit_ok : apps::exit_failure;
	} catch (const std::exception &ex) {
		std::cerr << "emucxl-kv-bench: " << ex.what() << "\n";
		return apps::exit_failure;
	}
}
