// SPDX-License-Identifier: Apache-2.0
// emucxl-queue-bench - reproduces the EmuCXL paper's queue experiment and
// runs the same queue on malloc and numa_alloc_onnode in the same process.
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
	"usage: emucxl-queue-bench [--json] [--short] [--ops N] [--runs N] [--warmup N] [--no-numa]\n"
	"\n"
	"The EmuCXL paper's direct-access experiment: a FIFO queue whose control block\n"
	"and nodes are allocated with emucxl (one emucxl_alloc per enqueue, one\n"
	"emucxl_free per dequeue); N enqueues then N dequeues, timed separately, on\n"
	"node 0 (local) and node 1 (remote). The same queue also runs on glibc malloc\n"
	"and on libnuma numa_alloc_onnode (on the physical nodes behind emucxl's\n"
	"logical nodes), and the paper's table is printed beside ours with the ratios.\n"
	"\n"
	"  --json       print one JSON object on stdout instead of the table\n"
	"  --ops N      enqueues (and dequeues) per run    (default 15000, the paper's)\n"
	"  --runs N     timed runs per series               (default 10, the paper's)\n"
	"  --warmup N   untimed runs before them            (default 1)\n"
	"  --short      --ops 2000 --runs 3: a quick smoke run\n"
	"  --no-numa    skip the numa_alloc_onnode series\n"
	"  --help       this text\n"
	"\n"
	"The driver is chosen by EMUCXL_BACKEND (auto, mbind, kmod, cuse).\n"
	"Exit status: 0 done, 1 failed, 2 bad command line.\n";

} // namespace

int main(int argc, char **argv)
{
	namespace apps = emucxl::apps;
	namespace qb = emucxl::queue::bench;
	qb::Options opt;
	bool json = false;

	for (int i = 1; i < argc; ++i) {
		std::string_view a = argv[i];
		auto number = [&](int lo, int hi) -> std::optional<int> {
			if (i + 1 >= argc)
				return std::nullopt;
			return apps::parse_int<int>(argv[++i], lo, hi);
		};
		std::optional<int> v;
		if (a == "--help" || a == "-h") {
			std::cout << usage;
			return apps::exit_ok;
		} else if (a == "--json") {
			json = true;
		} else if (a == "--short") {
			opt.ops = 2000;
			opt.runs = 3;
		} else if (a == "--no-numa") {
			opt.with_numa = false;
		} else if (a == "--ops" && (v = number(1, 10'000'000))) {
			opt.ops = *v;
		} else if (a == "--runs" && (v = number(1, 10'000))) {
			opt.runs = *v;
		} else if (a == "--warmup" && (v = number(0, 10'000))) {
			opt.warmup_runs = *v;
		} else {
			std::cerr << "emucxl-queue-bench: bad argument '" << a << "'\n" << usage;
			return apps::exit_usage;
		}
	}

	try {
		emucxl::Session session;
		emucxl_info info;
		if (!apps::get_emucxl_info(info)) {
			std::cerr << "emucxl-queue-bench: emucxl_get_info: " << std::strerror(errno) << "\n";
			return apps::exit_failure;
		}
		opt.physical_node[0] = info.node[0].physical_node;
		opt.physical_node[1] = info.node[1].physical_node;
		const apps::Machine machine = apps::describe_machine();
		const qb::Experiment e = qb::run_experiment(opt);
		if (json)
			qb::print_json(std::cout, e, machine, info);
		else
			qb::print_table(std::cout, e, machine, info);
		return std::cout.flush() ? apps::exit_ok : apps::exit_failure;
	} catch (const std::exception &ex) {
		std::cerr << "emucxl-queue-bench: " << ex.what() << "\n";
		return apps::exit_failure;
	}
}
