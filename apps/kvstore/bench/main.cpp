// SPDX-License-Identifier: Apache-2.0
// emucxl-kv-bench - reproduces the EmuCXL paper's tiered key-value store
// experiment (local hit % per hot-key percentage and policy) and compares the
// store's GET/PUT throughput with std::unordered_map in the same run.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <iostream>
#include <optional>
#include <string_view>

#include <emucxl/emucxl.h>
#include <emucxl/emucxl.hpp>

#include "cli.hpp"
#include "environment.hpp"
#include "experiment.hpp"
#include "report.hpp"

namespace {

constexpr std::string_view usage =
	"usage: emucxl-kv-bench [--json] [--short] [--repeats N] [--seed S] [--promote-after N]\n"
	"                       [--hot P,P,...] [--keys N] [--value-bytes B]\n"
	"\n"
	"The EmuCXL paper's middleware experiment: a tiered key-value store with a\n"
	"local tier of 300 items (emucxl node 0) and a remote tier of 1000 (node 1).\n"
	"PUT key1..key1000, then 50,000 GETs: uniform (hot 0%), or for hot X% 45,000\n"
	"GETs over the first 10*X keys and 5,000 over the rest. Prints the local hit %\n"
	"for the policies promote, stay and promote-after-N beside the paper's, and the\n"
	"store's GET/PUT throughput beside std::unordered_map on the same keys and GETs.\n"
	"\n"
	"  --json             print one JSON object on stdout instead of the tables\n"
	"  --repeats N        timed repetitions of every run (default 7; throughput is the\n"
	"                     best of them; hit % do not change)\n"
	"  --short            --repeats 1: a quick smoke run\n"
	"  --seed S           seed of the GET sequence (default 20230905)\n"
	"  --promote-after N  N of the promote-after-N policy (default 2)\n"
	"  --hot P,P,...      the hot percentages to run, 0..90 (default all ten: 0,10,...,90;\n"
	"                     fewer for a quicker run, e.g. in the timed guest)\n"
	"  --keys N           N keys instead of 1000 (100..1000000): local tier 30% of them,\n"
	"                     remote all, hot sets scaled alike (no paper column then)\n"
	"  --value-bytes B    pad every value to B bytes (up to 1048576; default: the paper's\n"
	"                     \"valueN\"). With --keys, a data set larger than a modelled\n"
	"                     last-level cache, so that the guest's timing model is paid\n"
	"  --help             this text\n"
	"\n"
	"The driver is chosen by EMUCXL_BACKEND (auto, mbind, kmod, cuse).\n"
	"Exit status: 0 done, 1 failed, 2 bad command line.\n";

} // namespace

int main(int argc, char **argv)
{
	namespace apps = emucxl::apps;
	namespace kb = emucxl::kv::bench;
	kb::Options opt;
	bool json = false;

	for (int i = 1; i < argc; ++i) {
		std::string_view a = argv[i];
		auto next = [&]() -> std::string_view { return i + 1 < argc ? argv[++i] : ""; };
		if (a == "--help" || a == "-h") {
			std::cout << usage;
			return apps::exit_ok;
		} else if (a == "--json") {
			json = true;
		} else if (a == "--short") {
			opt.repeats = 1;
		} else if (auto r = a == "--repeats" ? apps::parse_int<int>(next(), 1, 1000) : std::nullopt) {
			opt.repeats = *r;
		} else if (auto s = a == "--seed" ? apps::parse_int<std::uint64_t>(next(), 0, UINT64_MAX)
						  : std::nullopt) {
			opt.seed = *s;
		} else if (auto n = a == "--promote-after" ? apps::parse_int<unsigned>(next(), 1, 1000000)
							   : std::nullopt) {
			opt.promote_after = *n;
		} else if (auto k = a == "--keys" ? apps::parse_int<int>(next(), 100, 1000000) : std::nullopt) {
			opt.shape.keys = *k;
			opt.local_capacity = static_cast<std::size_t>(*k) * 3 / 10;
			opt.remote_capacity = static_cast<std::size_t>(*k);
		} else if (auto b = a == "--value-bytes" ? apps::parse_int<std::size_t>(next(), 1, 1 << 20)
							 : std::nullopt) {
			opt.shape.value_bytes = *b;
		} else if (a == "--hot") {
			const std::string list(next());
			opt.hot_percents.clear();
			std::size_t pos = 0;
			while (pos <= list.size()) {
				const std::size_t comma = std::min(list.find(',', pos), list.size());
				const auto h = apps::parse_int<int>(std::string_view(list).substr(pos, comma - pos), 0, 90);
				if (!h) {
					std::cerr << "emucxl-kv-bench: --hot wants percentages 0..90, comma-separated, not '"
						  << list << "'\n";
					return apps::exit_usage;
				}
				opt.hot_percents.push_back(*h);
				pos = comma + 1;
			}
		} else {
			std::cerr << "emucxl-kv-bench: bad argument '" << a << "'\n" << usage;
			return apps::exit_usage;
		}
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
