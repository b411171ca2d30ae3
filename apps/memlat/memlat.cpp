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
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace {

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

int usage(const char *why)
{
	std::fprintf(stderr,
		     "emucxl-memlat: %s\nusage: emucxl-memlat [--mib N] [--loads N] [--reps N] "
		     "[--node 0|1]... [--json]\n",
		     why);
	return 2;
}

bool parse_size(const char *s, std::size_t *v)
{
	char *end = nullptr;
	errno = 0;
	const unsigned long long n = std::strtoull(s, &end, 10);
	if (errno || end == s || *end || n == 0)
		return false;
	*v = n;
	return true;
}

} // namespace

int main(int argc, char **argv)
{
	Options o;
	bool nodes_given = false;
	for (int i = 1; i < argc; ++i) {
		const std::string a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : nullptr;
		std::size_t n = 0;
		if (a == "--json") {
			o.json = true;
			continue;
		}
		if (!v)
			return usage(("option " + a + " needs a value").c_str());
		if (!parse_size(v, &n) && !(a == "--node" && std::strcmp(v, "0") == 0))
			return usage(("bad value for " + a).c_str());
		if (a == "--mib")
			o.mib = n;
		else if (a == "--loads")
			o.loads = n;
		else if (a == "--reps")
			o.reps = int(n);
		else if (a == "--node") {
			if (n > 1)
				return usage("--node wants 0 or 1");
			if (!nodes_given)
				o.nodes.clear();
			nodes_given = true;
			o.nodes.push_back(int(n));
		} else
			return usage(("unknown option " + a).c_str());
		++i;
	}
	if (emucxl_init() != 0) {
		std::fprintf(stderr, "emucxl-memlat: emucxl_init: %s\n", std::strerror(errno));
		return 1;
	}
	std::vector<NodeResult> res;
	const int rc = measure(o, &res) != 0 ? 1 : 0;
	emucxl_exit();
	if (o.json) {
		std::printf("{\"working_set_mib\": %zu, \"reps\": %d, \"nodes\": [", o.mib, o.reps);
		for (std::size_t i = 0; i < res.size(); ++i)
			std::printf("%s{\"node\": %d, \"latency_ns\": %.2f, \"read_gbs\": %.3f, "
				    "\"write_gbs\": %.3f, \"best_latency_ns\": %.2f, "
				    "\"best_read_gbs\": %.3f}",
				    i ? ", " : "", res[i].node, res[i].latency_ns, res[i].read_gbs,
				    res[i].write_gbs, res[i].best_latency_ns, res[i].best_read_gbs);
		std::printf("]}\n");
	} else {
		std::printf("working set %zu MiB, medians of %d reps\n", o.mib, o.reps);
		std::printf("%-6s %14s %14s %15s\n", "node", "latency (ns)", "read (GB/s)",
			    "write (GB/s)");
		for (const auto &r : res)
			std::printf("%-6d %14.1f %14.3f %15.3f\n", r.node, r.latency_ns, r.read_gbs,
				    r.write_gbs);
	}
	return rc;
}
