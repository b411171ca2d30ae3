// SPDX-License-Identifier: Apache-2.0
#include "report.hpp"

#include <cmath>
#include <cstdio>
#include <optional>
#include <string>

#include "json.hpp"
#include "paper.hpp"
#include "ratios.hpp"

namespace emucxl::queue::bench {

namespace {

// A time in ms, or "-" for a missing series or an unpublished statistic.
std::string ms(const Summary *s, double Summary::*stat)
{
	if (!s || std::isnan(s->*stat))
		return "-";
	char buf[64];
	std::snprintf(buf, sizeof buf, "%.3f", s->*stat);
	return buf;
}

// One series as table rows: mean, std. dev. (the paper's) and median.
void print_series(std::ostream &os, const std::string &label, const PhaseTimes *local,
		  const PhaseTimes *remote, bool with_median = true)
{
	const struct {
		const char *name;
		double Summary::*stat;
	} rows[] = {{"mean", &Summary::mean}, {"std. dev.", &Summary::stddev}, {"median", &Summary::median}};
	for (const auto &row : rows) {
		if (row.stat == &Summary::median && !with_median)
			continue;
		auto cell = [&](const PhaseTimes *t, Summary PhaseTimes::*phase) {
			return ms(t ? &(t->*phase) : nullptr, row.stat);
		};
		char line[160];
		std::snprintf(line, sizeof line, "%-19s %-9s %14s %15s %14s %15s\n",
			      row.stat == &Summary::mean ? label.c_str() : "", row.name,
			      cell(local, &PhaseTimes::enqueue).c_str(), cell(remote, &PhaseTimes::enqueue).c_str(),
			      cell(local, &PhaseTimes::dequeue).c_str(), cell(remote, &PhaseTimes::dequeue).c_str());
		os << line;
	}
}

void print_ratio(std::ostream &os, const char *label, const std::optional<Ratio> &r,
		 const char *suffix = "")
{
	if (!r)
		return;
	auto x = [](double v) {
		char buf[32];
		if (std::isnan(v))
			return std::string("-");
		std::snprintf(buf, sizeof buf, "%.2fx", v);
		return std::string(buf);
	};
	char line[200];
	std::snprintf(line, sizeof line, "  %-36s %9s %9s %9s %10s %9s%s\n", label, x(r->enqueue).c_str(),
		      x(r->dequeue).c_str(), x(r->total).c_str(), x(r->total_median).c_str(),
		      x(r->total_best).c_str(), suffix);
	os << line;
}

const PhaseTimes *times_of(const Experiment &e, const char *allocator, int node)
{
	const Result *r = e.find(allocator, node);
	return r ? &r->times : nullptr;
}

// Unpublished (NaN) statistics come out as null.
apps::Json summary_json(const Summary &s)
{
	return {{"mean", s.mean}, {"stddev", s.stddev}, {"median", s.median}, {"min", s.min}};
}

void add_phases(apps::Json &j, const PhaseTimes &t)
{
	j["enqueue_ms"] = summary_json(t.enqueue);
	j["dequeue_ms"] = summary_json(t.dequeue);
	j["total_ms"] = summary_json(t.total);
}

apps::Json ratio_json(const std::optional<Ratio> &r)
{
	if (!r)
		return nullptr;
	return {{"enqueue", r->enqueue},
		{"dequeue", r->dequeue},
		{"total", r->total},
		{"total_median", r->total_median},
		{"total_best", r->total_best}};
}

apps::Json per_node_json(const std::optional<Ratio> (&r)[2])
{
	return {{"local", ratio_json(r[0])}, {"remote", ratio_json(r[1])}};
}

const char *met(bool ok) { return ok ? "MET" : "NOT MET"; }

} // namespace

void print_table(std::ostream &os, const Experiment &e, const apps::Machine &m, const emucxl_info &info)
{
	const Ratios r = compute_ratios(e);
	os << "Queue (direct access): " << e.ops << " enqueues then " << e.ops << " dequeues, " << e.runs
	   << " timed runs (after " << e.warmup_runs << " untimed warm-up), times in ms\n";
	apps::print_setup(os, m, info);
	os << "\n";
	char head[200];
	std::snprintf(head, sizeof head, "%-29s %14s %15s %14s %15s\n", "execution time (ms)",
		      "enqueue local", "enqueue remote", "dequeue local", "dequeue remote");
	os << head;
	print_series(os, "paper (EmuCXL)", &paper_results[0], &paper_results[1], false);
	print_series(os, "emucxl", times_of(e, "emucxl", 0), times_of(e, "emucxl", 1));
	print_series(os, "malloc", times_of(e, "malloc", 0), nullptr);
	if (times_of(e, "numa_alloc_onnode", 0))
		print_series(os, "numa_alloc_onnode", times_of(e, "numa_alloc_onnode", 0),
			     times_of(e, "numa_alloc_onnode", 1));
	if (e.ops != paper_ops || e.runs != paper_runs)
		os << "(short run: the paper used " << paper_ops << " ops and " << paper_runs
		   << " runs, so no ratios to the paper are given)\n";

	char ratio_head[200];
	std::snprintf(ratio_head, sizeof ratio_head, "\n%-38s %9s %9s %9s %10s %9s\n%-38s %9s %9s %9s %10s %9s\n",
		      "ratios", "mean", "mean", "mean", "median", "best", "", "enqueue", "dequeue", "enq+deq",
		      "enq+deq", "enq+deq");
	os << ratio_head;
	print_ratio(os, "paper / emucxl, local", r.paper_over_emucxl[0]);
	print_ratio(os, "paper / emucxl, remote", r.paper_over_emucxl[1]);
	print_ratio(os, "remote / local, paper", r.remote_over_local_paper);
	print_ratio(os, "remote / local, emucxl", r.remote_over_local_emucxl,
		    info.remote_is_separate ? "" : "   (same physical node)");
	print_ratio(os, "remote / local, numa_alloc_onnode", r.remote_over_local_numa,
		    info.remote_is_separate ? "" : "   (same physical node)");
	print_ratio(os, "emucxl / malloc, local", r.emucxl_over_malloc[0]);
	print_ratio(os, "emucxl / malloc, remote", r.emucxl_over_malloc[1]);
	print_ratio(os, "numa_alloc_onnode / emucxl, local", r.numa_over_emucxl[0]);
	print_ratio(os, "numa_alloc_onnode / emucxl, remote", r.numa_over_emucxl[1]);

	os << "\ntargets (on the best enqueue + dequeue time of a run, both nodes):\n"
	   << "  emucxl queue within " << malloc_target_max << "x of the malloc queue: "
	   << met(r.malloc_target_met) << "\n";
	if (r.numa_target_met)
		os << "  emucxl queue at least " << numa_target_min
		   << "x faster than the numa_alloc_onnode queue: " << met(*r.numa_target_met) << "\n";
	os << "\nWhy the paper's times are so much longer than ours: its prototype kept every allocation in\n"
	      "a linked list that each emucxl_alloc/emucxl_free walked, and went to its kernel module per\n"
	      "call; emucxl serves a 16-byte queue node from a size class in user space, as malloc does.\n"
	      "numa_alloc_onnode pays mmap + mbind per enqueue and munmap per dequeue, a page each.\n"
	      "Medians and the best run are given because a busy or virtual machine preempts the odd\n"
	      "run, which moves a sub-millisecond mean a lot; interference only ever adds time, so the\n"
	      "targets compare the best runs, every series measured the same way in the same run.\n";
}

void print_json(std::ostream &os, const Experiment &e, const apps::Machine &m, const emucxl_info &info)
{
	const Ratios r = compute_ratios(e);
	apps::Json j;
	j["benchmark"] = "queue";
	j["ops"] = e.ops;
	j["runs"] = e.runs;
	j["warmup_runs"] = e.warmup_runs;
	j["machine"] = apps::machine_json(m);
	j["emucxl"] = apps::emucxl_json(info);

	apps::Json results = apps::Json::array();
	for (const auto &res : e.results) {
		apps::Json one{{"allocator", res.allocator}, {"node", res.node}};
		add_phases(one, res.times);
		results.push_back(std::move(one));
	}
	j["results"] = std::move(results);

	apps::Json paper{{"ops", paper_ops}, {"runs", paper_runs}, {"results", apps::Json::array()}};
	for (int node : {0, 1}) {
		apps::Json one{{"allocator", "emucxl"}, {"node", node}};
		add_phases(one, paper_results[node]);
		paper["results"].push_back(std::move(one));
	}
	j["paper"] = std::move(paper);

	j["ratios"] = {{"paper_over_emucxl", per_node_json(r.paper_over_emucxl)},
		       {"emucxl_over_malloc", per_node_json(r.emucxl_over_malloc)},
		       {"numa_alloc_onnode_over_emucxl", per_node_json(r.numa_over_emucxl)},
		       {"remote_over_local",
			{{"paper", ratio_json(r.remote_over_local_paper)},
			 {"emucxl", ratio_json(r.remote_over_local_emucxl)},
			 {"numa_alloc_onnode", ratio_json(r.remote_over_local_numa)}}}};
	j["targets"] = {{"emucxl_over_malloc_max", malloc_target_max},
			{"emucxl_over_malloc_met", r.malloc_target_met},
			{"numa_alloc_onnode_over_emucxl_min", numa_target_min},
			{"numa_alloc_onnode_over_emucxl_met", apps::or_null(r.numa_target_met)}};
	apps::print_json(os, j);
}

} // namespace emucxl::queue::bench
