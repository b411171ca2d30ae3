// SPDX-License-Identifier: Apache-2.0
// alloc_bench.cpp - emucxl_alloc + emucxl_free against glibc malloc/free and
// libnuma numa_alloc_onnode/numa_free, in one process, and the resident
// memory of 1,000,000 live 16-byte objects. Prints Google Benchmark's table,
// then the ratios the targets are stated in:
//   64 B alloc+free: emucxl / malloc       target <= 1.5
//   64 B alloc+free: numa_alloc / emucxl   target >= 50
//   1M x 16 B: resident bytes / requested  target <= 1.25 (glibc: ~2)
#include <benchmark/benchmark.h>
#include <numa.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "emucxl/emucxl.h"

namespace {

void BM_emucxl(benchmark::State &state)
{
	const auto size = static_cast<std::size_t>(state.range(0));
	const int node = static_cast<int>(state.range(1));
	for (auto _ : state) {
		void *p = emucxl_alloc(size, node);
		benchmark::DoNotOptimize(p);
		emucxl_free(p, size);
	}
}

void BM_malloc(benchmark::State &state)
{
	const auto size = static_cast<std::size_t>(state.range(0));
	for (auto _ : state) {
		void *p = std::malloc(size);
		benchmark::DoNotOptimize(p);
		std::free(p);
	}
}

void BM_numa_alloc_onnode(benchmark::State &state)
{
	const auto size = static_cast<std::size_t>(state.range(0));
	const int node = static_cast<int>(state.range(1));
	for (auto _ : state) {
		void *p = numa_alloc_onnode(size, node);
		benchmark::DoNotOptimize(p);
		numa_free(p, size);
	}
}

const std::vector<int64_t> kSizes = {16, 64, 4096, 1 << 20};

BENCHMARK(BM_malloc)->ArgsProduct({kSizes, {0}})->ArgNames({"size", "node"});
BENCHMARK(BM_emucxl)->ArgsProduct({kSizes, {0, 1}})->ArgNames({"size", "node"});
BENCHMARK(BM_numa_alloc_onnode)->ArgsProduct({kSizes, {0}})->ArgNames({"size", "node"});

long resident_bytes()
{
	std::ifstream statm("/proc/self/statm");
	long pages_total = 0, pages_resident = 0;
	statm >> pages_total >> pages_resident;
	return pages_resident * sysconf(_SC_PAGESIZE);
}

// Resident bytes per requested byte for `count` live objects of `size`.
template <class Alloc, class Free>
double resident_ratio(std::size_t count, std::size_t size, Alloc alloc, Free release)
{
	std::vector<void *> v(count);
	const long before = resident_bytes();  // v itself is resident already
	for (auto &p : v) {
		p = alloc(size);
		std::memset(p, 1, size);  // make every object resident
	}
	const long after = resident_bytes();
	for (void *p : v)
		release(p, size);
	return static_cast<double>(after - before) / static_cast<double>(count * size);
}

// Captures each run's time per iteration while printing the usual table.
class Capture : public benchmark::ConsoleReporter {
public:
	void ReportRuns(const std::vector<Run> &runs) override
	{
		for (const Run &r : runs)
			// CPU time: the ratio should not depend on what else runs on the box.
			ns[r.benchmark_name()] = r.GetAdjustedCPUTime();
		ConsoleReporter::ReportRuns(runs);
	}
	std::map<std::string, double> ns;
};

}  // namespace

int main(int argc, char **argv)
{
	if (emucxl_init() != 0) {
		std::perror("emucxl_init");
		return 1;
	}
	emucxl_info info{};
	(void)emucxl_get_info(&info);
	benchmark::Initialize(&argc, argv);
	Capture capture;
	benchmark::RunSpecifiedBenchmarks(&capture);

	auto t = [&](const char *name) {
		auto it = capture.ns.find(name);
		return it == capture.ns.end() ? 0.0 : it->second;
	};
	std::printf("\nemucxl driver: %s; remote %s\n", info.driver,
		    info.remote_is_separate ? "is a separate node" : "shares node 0 (one-node host)");
	std::printf("%-44s %10s %10s\n", "ratio (same process, same run)", "measured", "target");
	for (const char *size : {"16", "64", "4096", "1048576"}) {
		const std::string s = size;
		const double e = t(("BM_emucxl/size:" + s + "/node:0").c_str());
		const double m = t(("BM_malloc/size:" + s + "/node:0").c_str());
		const double n = t(("BM_numa_alloc_onnode/size:" + s + "/node:0").c_str());
		if (e > 0 && m > 0)
			std::printf("%-44s %10.2f %10s\n", ("emucxl / malloc, " + s + " B").c_str(), e / m,
				    s == "64" ? "<= 1.5" : "-");
		if (e > 0 && n > 0)
			std::printf("%-44s %10.1f %10s\n", ("numa_alloc_onnode / emucxl, " + s + " B").c_str(),
				    n / e, s == "64" ? ">= 50" : "-");
	}

	constexpr std::size_t kObjects = 1000000;
	const double ours = resident_ratio(
		kObjects, 16, [](std::size_t n) { return emucxl_alloc(n, 1); },
		[](void *p, std::size_t n) { emucxl_free(p, n); });
	const double glibc = resident_ratio(
		kObjects, 16, [](std::size_t n) { return std::malloc(n); },
		[](void *p, std::size_t) { std::free(p); });
	std::printf("%-44s %10.3f %10s\n", "1M x 16 B resident / requested, emucxl", ours, "<= 1.25");
	std::printf("%-44s %10.3f %10s\n", "1M x 16 B resident / requested, malloc", glibc, "(~2)");
	emucxl_exit();
	benchmark::Shutdown();
	return 0;
}
