// SPDX-License-Identifier: Apache-2.0
// alloc_bench.cpp - emucxl against the allocators a user would pick instead
// (glibc calloc, a mimalloc heap in a node-bound arena, memkind: peers.hpp),
// in one process and one run, on the workloads of issue 11:
//   pair64     one 64 B alloc + free
//   queue15k   the paper's queue: 15,000 enqueues then 15,000 dequeues
//              (apps/queue's own Queue, one 16 B node per element)
//   random     free one of 10,000 live objects, allocate 16..4096 B in its place
//   prodcons   64 B objects allocated on one thread, freed on another
//   resident   1,000,000 live 16 B objects: resident bytes / requested bytes
// and emucxl's large path: 1 MiB alloc + free served by the large-extent
// cache (hit) and by a fresh driver map each time (uncached), next to
// numa_alloc_onnode.
//
// Run it with repetitions (the bench-alloc target does): the peer table it
// prints at the end is built from the medians, and states each target.
// Single-thread workloads are timed in CPU time (robust to other jobs on a
// shared machine), producer/consumer in the CPU time both threads spend
// in the allocator per object (BM_prodcons).
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <numa.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "emucxl/emucxl.h"
#include "emucxl/queue.hpp"
#include "peers.hpp"

namespace {

using namespace emucxl::bench;

// ---- workloads -------------------------------------------------------------------

template <class A> void BM_pair64(benchmark::State &state)
{
	for (auto _ : state) {
		void *p = A::alloc(64);
		benchmark::DoNotOptimize(p);
		A::release(p, 64);
	}
}

template <class A> struct QueueAlloc {
	void *allocate(std::size_t n) const noexcept { return A::alloc(n); }
	void deallocate(void *p, std::size_t n) const noexcept { A::release(p, n); }
};

constexpr int kQueueOps = 15000;  // the paper's experiment

template <class A> void BM_queue15k(benchmark::State &state)
{
	for (auto _ : state) {
		emucxl::queue::Queue<int, QueueAlloc<A>> q{QueueAlloc<A>{}};
		for (int i = 0; i < kQueueOps; ++i)
			if (!q.push(i)) {
				state.SkipWithError("enqueue failed");
				return;
			}
		long sum = 0;
		while (auto v = q.pop())
			sum += *v;
		benchmark::DoNotOptimize(sum);
	}
}

// The random workload's script, the same for every allocator: which live
// slot to replace and by how many bytes (uniform in [16, 4096]).
constexpr std::size_t kLive = 10000;
constexpr std::size_t kScript = std::size_t{1} << 16;
struct Step {
	std::uint32_t slot;
	std::uint32_t size;
};
const std::vector<Step> &script()
{
	static const std::vector<Step> s = [] {
		std::mt19937 rng(20261203);
		std::uniform_int_distribution<std::uint32_t> slot(0, kLive - 1), size(16, 4096);
		std::vector<Step> v(kScript);
		for (Step &st : v)
			st = {slot(rng), size(rng)};
		return v;
	}();
	return s;
}

template <class A> void BM_random(benchmark::State &state)
{
	const std::vector<Step> &steps = script();
	std::vector<void *> live(kLive);
	std::vector<std::uint32_t> sizes(kLive);
	for (std::size_t i = 0; i < kLive; ++i) {
		sizes[i] = steps[i].size;
		live[i] = A::alloc(sizes[i]);
	}
	std::size_t k = 0;
	for (auto _ : state) {
		const Step st = steps[k++ & (kScript - 1)];
		A::release(live[st.slot], sizes[st.slot]);
		live[st.slot] = A::alloc(st.size);
		sizes[st.slot] = st.size;
		benchmark::DoNotOptimize(live[st.slot]);
	}
	for (std::size_t i = 0; i < kLive; ++i)
		A::release(live[i], sizes[i]);
}

// Producer/consumer: the producer allocates batches of 64 B objects and
// hands each to the consumer, which frees it while the next is allocated.
// What is timed is the CPU the two threads spend allocating and freeing,
// per object (waits for each other excluded): on a machine shared with
// other jobs, wall time would mostly time the scheduler.
struct Handoff {
	static constexpr std::size_t kBatch = 1024, kDepth = 4;
	std::atomic<std::size_t> produced{0}, consumed{0};  // batches
	std::atomic<bool> done{false};
	std::atomic<std::int64_t> consumer_ns{0};  // freeing, not yet reported
	void *batch[kDepth][kBatch];
};

std::int64_t thread_cpu_ns() noexcept
{
	timespec ts{};
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// Spin a little, then let the other thread (or another job) run.
void wait_turn(unsigned &spins) noexcept
{
	if (++spins < 64)
		__builtin_ia32_pause();
	else
		sched_yield();
}

template <class A> void consume(Handoff &h)
{
	for (std::size_t c = 0;; ++c) {
		unsigned spins = 0;
		while (h.produced.load(std::memory_order_acquire) == c) {
			if (h.done.load(std::memory_order_acquire) && h.produced.load(std::memory_order_acquire) == c)
				return;
			wait_turn(spins);
		}
		const std::int64_t t0 = thread_cpu_ns();
		for (void *p : h.batch[c % Handoff::kDepth])
			A::release(p, 64);
		h.consumer_ns.fetch_add(thread_cpu_ns() - t0, std::memory_order_relaxed);
		h.consumed.store(c + 1, std::memory_order_release);
	}
}

template <class A> void BM_prodcons(benchmark::State &state)
{
	auto h = std::make_unique<Handoff>();
	std::thread consumer(consume<A>, std::ref(*h));
	std::size_t p = 0;
	for (auto _ : state) {
		unsigned spins = 0;
		while (p - h->consumed.load(std::memory_order_acquire) == Handoff::kDepth)
			wait_turn(spins);
		const std::int64_t t0 = thread_cpu_ns();
		for (void *&slot : h->batch[p % Handoff::kDepth])
			slot = A::alloc(64);
		const std::int64_t alloc_ns = thread_cpu_ns() - t0;
		h->produced.store(++p, std::memory_order_release);
		// The consumer's share arrives a batch late; over a run it adds up.
		const std::int64_t free_ns = h->consumer_ns.exchange(0, std::memory_order_relaxed);
		state.SetIterationTime(static_cast<double>(alloc_ns + free_ns) * 1e-9);
	}
	h->done.store(true, std::memory_order_release);
	consumer.join();
	state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * Handoff::kBatch));
}

// ---- emucxl's large path ---------------------------------------------------------

constexpr std::size_t kLarge = std::size_t{1} << 20;  // 1 MiB
// Above the largest small class (32 KiB): its own extent of 36 KiB.
constexpr std::size_t kSmallestLarge = (std::size_t{32} << 10) + 1;

void BM_large_cached(benchmark::State &state)
{
	for (auto _ : state) {
		void *p = emucxl_alloc(kLarge, EMUCXL_LOCAL_NODE);
		benchmark::DoNotOptimize(p);
		emucxl_free(p, kLarge);
	}
}

std::uint64_t allocated_on_local() noexcept
{
	emucxl_node_usage u{};
	return emucxl_get_usage(EMUCXL_LOCAL_NODE, &u) == 0 ? u.allocated : 0;
}

// Blocks that keep the large-extent cache full while BM_large_uncached
// runs, and out of it otherwise (held live), so that the cached benchmark,
// interleaved with it, still finds its 1 MiB extent.
struct CacheFiller {
	std::size_t size;
	std::size_t count;
	std::vector<void *> held{};
	void fill()  // free them: the cache keeps what fits
	{
		if (held.empty())
			for (std::size_t i = 0; i < count; ++i)
				held.push_back(emucxl_alloc(size, EMUCXL_LOCAL_NODE));
		for (void *p : held)
			emucxl_free(p, size);
	}
	void empty()  // take them out again (cache hits, or fresh maps)
	{
		for (void *&p : held)
			p = emucxl_alloc(size, EMUCXL_LOCAL_NODE);
	}
};

// Each 1 MiB alloc maps fresh pages and each free unmaps them. The large-
// extent cache (64 MiB a node, an extent reused for a request at most a
// quarter smaller) is first emptied of extents a 1 MiB request could reuse,
// by holding such requests until one needs a fresh map; then it is filled
// with extents no 1 MiB request can use (4 MiB ones, then 36 KiB ones for
// the rest) until less than 1 MiB of room is left. Checked through the
// driver's usage, so a change of the cache's policy cannot silently turn
// this into a hit-path benchmark.
void BM_large_uncached(benchmark::State &state)
{
	static CacheFiller big{std::size_t{4} << 20, 20};    // 80 MiB: < 4 MiB of room left
	static CacheFiller small{kSmallestLarge, 128};      // 4.5 MiB: < 36 KiB left
	std::vector<void *> reusable;
	for (;;) {
		const std::uint64_t before = allocated_on_local();
		reusable.push_back(emucxl_alloc(kLarge, EMUCXL_LOCAL_NODE));
		if (allocated_on_local() - before >= kLarge || reusable.size() > 1024)
			break;  // a fresh map: the cache holds none a 1 MiB request fits
	}
	big.fill();
	small.fill();
	for (void *p : reusable)
		emucxl_free(p, kLarge);
	void *probe = emucxl_alloc(kLarge, EMUCXL_LOCAL_NODE);
	const std::uint64_t held = allocated_on_local();
	emucxl_free(probe, kLarge);
	if (held - allocated_on_local() < kLarge) {
		state.SkipWithError("the freed 1 MiB extent stayed mapped (cached): not the uncached path");
	} else {
		for (auto _ : state) {
			void *p = emucxl_alloc(kLarge, EMUCXL_LOCAL_NODE);
			benchmark::DoNotOptimize(p);
			emucxl_free(p, kLarge);
		}
	}
	small.empty();
	big.empty();
}

// libnuma: an mmap + mbind per call and a munmap per free; touches nothing.
void BM_numa_onnode(benchmark::State &state)
{
	const auto size = static_cast<std::size_t>(state.range(0));
	for (auto _ : state) {
		void *p = numa_alloc_onnode(size, 0);
		benchmark::DoNotOptimize(p);
		numa_free(p, size);
	}
}

// ---- resident memory -------------------------------------------------------------

long resident_bytes()
{
	std::ifstream statm("/proc/self/statm");
	long pages_total = 0, pages_resident = 0;
	statm >> pages_total >> pages_resident;
	return pages_resident * sysconf(_SC_PAGESIZE);
}

constexpr std::size_t kResidentObjects = 1000000;

// Resident bytes per requested byte for 1M live 16 B objects. Measured
// before any benchmark runs, on memory none has touched (a reused page costs
// no new residency and would flatter the allocator), once: it does not vary
// from run to run.
template <class Alloc, class Free> double resident_ratio(Alloc alloc, Free release)
{
	std::vector<void *> v(kResidentObjects);
	const long before = resident_bytes();  // v itself is resident already
	for (auto &p : v) {
		p = alloc(16);
		std::memset(p, 1, 16);  // make every object resident
	}
	const long after = resident_bytes();
	for (void *p : v)
		release(p);
	return static_cast<double>(after - before) / static_cast<double>(kResidentObjects * 16);
}

std::map<std::string, double> measure_resident()
{
	std::map<std::string, double> r;
	r["emucxl"] = resident_ratio([](std::size_t n) { return Emucxl::alloc(n); },
				     [](void *p) { Emucxl::release(p, 16); });
	r["glibc"] = resident_ratio([](std::size_t n) { return Glibc::alloc(n); },
				    [](void *p) { Glibc::release(p, 16); });
	if (void *heap = MiArena::fresh_heap(std::size_t{256} << 20, 0))
		r["mimalloc-arena"] = resident_ratio([heap](std::size_t n) { return MiArena::heap_alloc(heap, n); },
						     [](void *p) { MiArena::release(p, 16); });
	r["memkind"] = resident_ratio([](std::size_t n) { return Memkind::alloc(n); },
				      [](void *p) { Memkind::release(p, 16); });
	return r;
}

// ---- registration and the peer table ---------------------------------------------

const char *const kAllocators[] = {Emucxl::name, Glibc::name, MiArena::name, Memkind::name};

template <class A> void register_peer()
{
	const std::string a = A::name;
	benchmark::RegisterBenchmark(("pair64/" + a).c_str(), BM_pair64<A>);
	benchmark::RegisterBenchmark(("queue15k/" + a).c_str(), BM_queue15k<A>)->Unit(benchmark::kMicrosecond);
	benchmark::RegisterBenchmark(("random/" + a).c_str(), BM_random<A>);
	// One iteration is a batch of Handoff::kBatch objects (BM_prodcons).
	benchmark::RegisterBenchmark(("prodcons/" + a).c_str(), BM_prodcons<A>)
		->UseManualTime()->Unit(benchmark::kMicrosecond);
}

void register_all()
{
	register_peer<Emucxl>();
	register_peer<Glibc>();
	register_peer<MiArena>();
	register_peer<Memkind>();
	benchmark::RegisterBenchmark("large1m_cached/emucxl", BM_large_cached)->Unit(benchmark::kMicrosecond);
	benchmark::RegisterBenchmark("large1m_uncached/emucxl", BM_large_uncached)->Unit(benchmark::kMicrosecond);
	benchmark::RegisterBenchmark("onnode/numa_alloc_onnode", BM_numa_onnode)
		->Arg(64)->Arg(kLarge)->Unit(benchmark::kMicrosecond);
}

// Keeps each benchmark's median (or, without repetitions, its one run) in
// ns per iteration while printing the usual table.
class Capture : public benchmark::ConsoleReporter {
public:
	void ReportRuns(const std::vector<Run> &runs) override
	{
		for (const Run &r : runs) {
			// Manual time (prodcons) is reported as real time.
			const bool real = r.run_name.time_type == "real_time" || r.run_name.time_type == "manual_time";
			const double t = (real ? r.GetAdjustedRealTime() : r.GetAdjustedCPUTime()) *
					 to_ns(r.time_unit);
			std::string name = r.run_name.function_name;
			if (!r.run_name.args.empty())
				name += "/" + r.run_name.args;
			if (r.error_occurred)
				continue;
			if (r.run_type == Run::RT_Aggregate && r.aggregate_name == "median")
				median_[name] = t;
			else if (r.run_type == Run::RT_Iteration && !median_.count(name))
				median_[name] = t;  // replaced by the median when there is one
		}
		ConsoleReporter::ReportRuns(runs);
	}
	double ns(const std::string &name) const
	{
		auto it = median_.find(name);
		return it == median_.end() ? 0.0 : it->second;
	}

private:
	static double to_ns(benchmark::TimeUnit u)
	{
		switch (u) {
		case benchmark::kSecond: return 1e9;
		case benchmark::kMillisecond: return 1e6;
		case benchmark::kMicrosecond: return 1e3;
		default: return 1.0;
		}
	}
	std::map<std::string, double> median_;
};

// "1.23x <= 1.00 ok" or "... MISSED"; "-" without both results.
std::string verdict(double ratio, double limit, bool at_most)
{
	if (!(ratio > 0) || ratio == __builtin_inf())
		return "-";
	char buf[64];
	const bool ok = at_most ? ratio <= limit : ratio >= limit;
	std::snprintf(buf, sizeof(buf), "%6.2fx %s %.2f %s", ratio, at_most ? "<=" : ">=", limit,
		      ok ? "ok" : "MISSED");
	return buf;
}

void print_peer_table(const Capture &c, const std::map<std::string, double> &resident)
{
	std::printf("\nPeer table (medians; ns per operation, queue15k in us per run, prodcons in CPU ns\n"
		    "per object: alloc on one thread + free on another, waits excluded)\n");
	std::printf("%-10s %11s %11s %15s %11s | %-24s %-24s %-24s\n", "workload", "emucxl", "glibc",
		    "mimalloc-arena", "memkind", "emucxl/glibc", "emucxl/mimalloc", "memkind/emucxl");
	for (const char *w : {"pair64", "queue15k", "random", "prodcons"}) {
		const std::string ws = w;
		const double scale = ws == "queue15k" ? 1e-3 : ws == "prodcons" ? 1.0 / Handoff::kBatch : 1.0;
		double t[4];
		for (int i = 0; i < 4; ++i)
			t[i] = c.ns(ws + "/" + kAllocators[i]) * scale;
		std::printf("%-10s %11.1f %11.1f %15.1f %11.1f | ", w, t[0], t[1], t[2], t[3]);
		if (t[0] <= 0) {
			std::printf("(no emucxl result)\n");
			continue;
		}
		if (ws == "prodcons") {
			// Target: no slower than memkind (memkind / emucxl >= 1).
			std::printf("%-24s %-24s %-24s\n", "-", "-", verdict(t[3] / t[0], 1.0, false).c_str());
			continue;
		}
		std::printf("%-24s %-24s %-24s\n", verdict(t[0] / t[1], 1.0, true).c_str(),
			    verdict(t[0] / t[2], 1.1, true).c_str(), verdict(t[3] / t[0], 3.0, false).c_str());
	}
	std::printf("%-10s", "resident");
	for (const char *a : kAllocators) {
		auto it = resident.find(a);
		std::printf(" %s=%.3f", a, it == resident.end() ? 0.0 : it->second);
	}
	const auto e = resident.find("emucxl");
	std::printf(" | emucxl resident/requested %s\n",
		    e == resident.end() ? "-" : verdict(e->second, 1.10, true).c_str());

	const double cached = c.ns("large1m_cached/emucxl"), uncached = c.ns("large1m_uncached/emucxl");
	std::printf("\n1 MiB alloc+free, emucxl: cache hit %.2f us, uncached (fresh map) %.2f us; "
		    "numa_alloc_onnode (touches nothing) %.2f us\n",
		    cached / 1e3, uncached / 1e3, c.ns("onnode/numa_alloc_onnode/1048576") / 1e3);
	const double on64 = c.ns("onnode/numa_alloc_onnode/64"), e64 = c.ns("pair64/emucxl");
	if (on64 > 0 && e64 > 0)
		std::printf("64 B alloc+free, numa_alloc_onnode / emucxl: %.0fx (target >= 50)\n", on64 / e64);
}

}  // namespace

int main(int argc, char **argv)
{
	if (emucxl_init() != 0) {
		std::perror("emucxl_init");
		return 1;
	}
	emucxl_info info{};
	info.struct_size = sizeof(info);
	(void)emucxl_get_info(&info);
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	// Enough for the random workload's live set and mimalloc's segments.
	if (std::string err = MiArena::setup(std::size_t{1} << 30, 0); !err.empty()) {
		std::fprintf(stderr, "mimalloc arena: %s\n", err.c_str());
		return 1;
	}
	if (void *p = MiArena::alloc(64); !MiArena::in_arena(p)) {
		std::fprintf(stderr, "mimalloc: the heap allocated outside its node-bound arena\n");
		return 1;
	} else {
		MiArena::release(p, 64);
	}

	const auto resident = measure_resident();
	for (const auto &[name, ratio] : resident)
		benchmark::AddCustomContext("resident_per_requested_1M_x_16B." + name, std::to_string(ratio));
	benchmark::AddCustomContext("emucxl_driver", info.driver);

	register_all();
	Capture capture;
	benchmark::RunSpecifiedBenchmarks(&capture);

	std::printf("\nemucxl driver: %s, node 0; remote %s. Peers bound to physical node 0.\n", info.driver,
		    info.remote_is_separate ? "is a separate node" : "shares node 0 (one-node host)");
	print_peer_table(capture, resident);
	emucxl_exit();
	benchmark::Shutdown();
	return 0;
}
