// SPDX-License-Identifier: Apache-2.0
// emucxl-memlat: what the emulation gives, measured from inside, in the
// spirit of Intel MLC's idle latency and bandwidth matrix. Per logical node
// (0 local, 1 remote) it measures, on memory from emucxl_alloc:
//   - dependent-load latency: a pointer chase through a random cyclic
//     permutation of cache lines over a working set much larger than any
//     modelled last-level cache (default 128 MiB), ns per load;
//   - single-thread streaming read and write bandwidth (GB/s) over a buffer
//     of the same size, 8-byte loads/stores in address order.
// It is an independent observer of the timing model: it reads nothing from
// the model, only CLOCK_MONOTONIC around its own loops. Medians of --reps,
// the nodes' reps interleaved.
#include <emucxl/emucxl.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "cli.hpp"
#include "json.hpp"

namespace {

namespace apps = emucxl::apps;

constexpr std::size_t kLine = 64;

double now_ns()
{
	timespec ts{};
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

double median(std::vector<double> v)
{
	std::sort(v.begin(), v.end());
	const std::size_t n = v.size();
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Options {
	std::size_t mib = 128;
	std::size_t loads = 2'000'000;
	int reps = 5;
	bool json = false;
	std::vector<int> nodes{0, 1};
};

struct NodeResult {
	int node;
	double latency_ns;
	double read_gbs;
	double write_gbs;
	double best_latency_ns; // the fastest rep: what the machine can do
	double best_read_gbs;   // when nothing else competes for it
};

// One pointer per cache line, linked in a random cyclic order, so every
// load depends on the previous one and no prefetcher can guess the next.
void build_chase(char *buf, std::size_t bytes, std::uint64_t seed)
{
	const std::size_t lines = bytes / kLine;
	std::vector<std::uint32_t> order(lines);
	std::iota(order.begin(), order.end(), 0U);
	std::shuffle(order.begin() + 1, order.end(), std::mt19937_64(seed));
	for (std::size_t i = 0; i < lines; ++i) {
		char *from = buf + std::size_t(order[i]) * kLine;
		char *to = buf + std::size_t(order[(i + 1) % lines]) * kLine;
		*reinterpret_cast<char **>(from) = to;
	}
}

double chase_ns(char *start, std::size_t loads)
{
	char *p = start;
	const double t0 = now_ns();
	for (std::size_t i = 0; i < loads; ++i)
		p = *reinterpret_cast<char *volatile *>(p);
	const double t1 = now_ns();
	asm volatile("" : : "r"(p));
	return (t1 - t0) / double(loads);
}

double read_gbs(const char *buf, std::size_t bytes)
{
	const auto *w = reinterpret_cast<const volatile std::uint64_t *>(buf);
	std::uint64_t sum = 0;
	const double t0 = now_ns();
	for (std::size_t i = 0; i < bytes / 8; ++i)
		sum += w[i];
	const double t1 = now_ns();
	asm volatile("" : : "r"(sum));
	return double(bytes) / (t1 - t0);
}

// Stores to every word but each line's first, which holds the chase's link:
// every line is still dirtied (the same line traffic as a full write), and
// the chase survives, so it is built once per node (building it is most of
// this tool's time under TCG). Bandwidth counts the bytes stored.
double write_gbs(char *buf, std::size_t bytes)
{
	auto *w = reinterpret_cast<volatile std::uint64_t *>(buf);
	constexpr std::size_t words_per_line = kLine / 8;
	const double t0 = now_ns();
	for (std::size_t i = 0; i < bytes / 8; ++i)
		if (i % words_per_line != 0)
			w[i] = i;
	const double t1 = now_ns();
	return double(bytes - bytes / words_per_line) / (t1 - t0);
}

// One node's buffer and what its reps measured.
struct NodeRun {
	int node;
	char *buf = nullptr;
	std::vector<double> lat, rd, wr;
};

// Reps alternate between the nodes (node 0's rep r, node 1's rep r, ...):
// under the guest's timing model the host's own speed drifts over minutes,
// and comparing nodes measured in the same stretch of time keeps that drift
// out of their ratio.
int measure(const Options &o, std::vector<NodeResult> *out)
{
	const std::size_t bytes = o.mib << 20;
	std::vector<NodeRun> runs;
	int rc = 0;
	for (int node : o.nodes) {
		auto *buf = static_cast<char *>(emucxl_alloc(bytes, node));
		if (!buf) {
			std::fprintf(stderr, "emucxl-memlat: %zu MiB on node %d: %s\n", o.mib, node,
				     std::strerror(errno));
			rc = -1;
			break;
		}
		build_chase(buf, bytes, 42);
		chase_ns(buf, o.loads / 4);  // warm the TLBs
		runs.push_back({node, buf, {}, {}, {}});
	}
	for (int r = 0; rc == 0 && r < o.reps; ++r) {
		for (auto &n : runs) {
			n.lat.push_back(chase_ns(n.buf, o.loads));
			n.rd.push_back(read_gbs(n.buf, bytes));
			n.wr.push_back(write_gbs(n.buf, bytes));
		}
	}
	for (auto &n : runs) {
		if (rc == 0)
			out->push_back({n.node, median(n.lat), median(n.rd), median(n.wr),
					*std::min_element(n.lat.begin(), n.lat.end()),
					*std::max_element(n.rd.begin(), n.rd.end())});
		emucxl_free(n.buf, bytes);
	}
	return rc;
}

constexpr const char *synopsis = "emucxl-memlat [--mib N] [--loads N] [--reps N] [--node 0|1]... [--json]";

constexpr const char *description =
	"Per logical node (0 local, 1 remote), on memory from emucxl_alloc: dependent-load\n"
	"latency (a pointer chase through a random cyclic permutation of cache lines, ns\n"
	"per load) and single-thread streaming read and write bandwidth (GB/s). Medians\n"
	"of --reps, the nodes' reps interleaved.";

constexpr const char *footer =
	"--json prints {\"working_set_mib\", \"reps\", \"nodes\": [{\"node\", \"latency_ns\",\n"
	"\"read_gbs\", \"write_gbs\", \"best_latency_ns\", \"best_read_gbs\"}]}.\n"
	"The driver is chosen by EMUCXL_BACKEND (auto, mbind, kmod, cuse).\n"
	"Exit status: 0 done, 1 failed (emucxl cannot start, a node's memory cannot be\n"
	"allocated: then no node is measured), 2 bad command line.";

// x rounded to `decimals` places: the JSON's precision as it always was
// (latency to 0.01 ns, bandwidth to 0.001 GB/s), not the timer's noise.
double rounded(double x, int decimals)
{
	const double scale = std::pow(10.0, decimals);
	return std::round(x * scale) / scale;
}

void print_json(const Options &o, const std::vector<NodeResult> &res)
{
	apps::Json nodes = apps::Json::array();
	for (const auto &r : res)
		nodes.push_back({{"node", r.node},
				 {"latency_ns", rounded(r.latency_ns, 2)},
				 {"read_gbs", rounded(r.read_gbs, 3)},
				 {"write_gbs", rounded(r.write_gbs, 3)},
				 {"best_latency_ns", rounded(r.best_latency_ns, 2)},
				 {"best_read_gbs", rounded(r.best_read_gbs, 3)}});
	apps::print_json(std::cout, {{"working_set_mib", o.mib}, {"reps", o.reps}, {"nodes", std::move(nodes)}});
}

void print_table(const Options &o, const std::vector<NodeResult> &res)
{
	std::printf("working set %zu MiB, medians of %d reps\n", o.mib, o.reps);
	std::printf("%-6s %14s %14s %15s\n", "node", "latency (ns)", "read (GB/s)", "write (GB/s)");
	for (const auto &r : res)
		std::printf("%-6d %14.1f %14.3f %15.3f\n", r.node, r.latency_ns, r.read_gbs, r.write_gbs);
	std::fflush(stdout);
}

} // namespace

int main(int argc, char **argv)
{
	Options o;
	CLI::App app{description, "emucxl-memlat"};
	apps::use_conventions(app, synopsis);
	app.footer(footer);
	// A line index is 32 bits: at most 2^32 lines of 64 bytes, 256 GiB.
	app.add_option("--mib", o.mib, "working set per node in MiB (default 128)")
		->transform(apps::decimal<std::size_t>(1, 256 * 1024));
	app.add_option("--loads", o.loads, "dependent loads per latency rep (default 2000000)")
		->transform(apps::decimal<std::size_t>(1, 1'000'000'000'000));
	app.add_option("--reps", o.reps, "reps per node (default 5)")->transform(apps::decimal(1, 1'000'000));
	app.add_option("--node", o.nodes, "logical node to measure, repeatable (default: 0 and 1)")
		->transform(apps::decimal(0, 1))
		->type_name("0|1")
		->allow_extra_args(false)
		->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
	app.add_flag("--json", o.json, "print one JSON object on stdout instead of the table");
	if (const auto rc = apps::parse(app, argc, argv))
		return *rc;

	if (emucxl_init() != 0) {
		std::fprintf(stderr, "emucxl-memlat: emucxl_init: %s\n", std::strerror(errno));
		return apps::exit_failure;
	}
	std::vector<NodeResult> res;
	const int rc = measure(o, &res) != 0 ? apps::exit_failure : apps::exit_ok;
	emucxl_exit();
	if (o.json)
		print_json(o, res);
	else
		print_table(o, res);
	return rc;
}
