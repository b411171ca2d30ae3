// SPDX-License-Identifier: Apache-2.0
// emucxl-queue-bench - reproduces the EmuCXL paper's queue experiment and
// runs the same queue on malloc and numa_alloc_onnode in the same process.
#include <cerrno>
#include <cstring>
#include <exception>
#include <iostream>

#include <emucxl/emucxl.h>
#include <emucxl/emucxl.hpp>

#include "cli.hpp"
#include "environment.hpp"
#include "experiment.hpp"
#include "report.hpp"

namespace {

constexpr const char *synopsis =
	"emucxl-queue-bench [--json] [--short] [--ops N] [--runs N] [--warmup N] [--no-numa]";

constexpr const char *description =
	"The EmuCXL paper's direct-access experiment: a FIFO queue whose control block\n"
	"and nodes are allocated with emucxl (one emucxl_alloc per enqueue, one\n"
	"emucxl_free per dequeue); N enqueues then N dequeues, timed separately, on\n"
	"node 0 (local) and node 1 (remote). The same queue also runs on glibc malloc\n"
	"and on libnuma numa_alloc_onnode (on the physical nodes behind emucxl's\n"
	"logical nodes), and the paper's table is printed beside ours with the ratios.";

constexpr const char *footer =
	"The driver is chosen by EMUCXL_BACKEND (auto, mbind, kmod, cuse).\n"
	"Exit status: 0 done, 1 failed, 2 bad command line.";

} // namespace

int main(int argc, char **argv)
{
	namespace apps = emucxl::apps;
	namespace qb = emucxl::queue::bench;
	qb::Options opt;
	bool json = false, quick = false, no_numa = false;

	CLI::App app{description, "emucxl-queue-bench"};
	apps::use_conventions(app, synopsis);
	app.footer(footer);
	app.add_flag("--json", json, "print one JSON object on stdout instead of the table");
	auto *ops = app.add_option("--ops", opt.ops, "enqueues (and dequeues) per run (default 15000, the paper's)")
			    ->transform(apps::decimal(1, 10'000'000));
	auto *runs = app.add_option("--runs", opt.runs, "timed runs per series (default 10, the paper's)")
			     ->transform(apps::decimal(1, 10'000));
	app.add_option("--warmup", opt.warmup_runs, "untimed runs before them (default 1)")
		->transform(apps::decimal(0, 10'000));
	app.add_flag("--short", quick, "--ops 2000 --runs 3 (unless given): a quick smoke run");
	app.add_flag("--no-numa", no_numa, "skip the numa_alloc_onnode series");
	if (const auto rc = apps::parse(app, argc, argv))
		return *rc;
	opt.with_numa = !no_numa;
	if (quick) {
		if (!*ops)
			opt.ops = 2000;
		if (!*runs)
			opt.runs = 3;
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
