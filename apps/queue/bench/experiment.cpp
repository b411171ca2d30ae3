// SPDX-License-Identifier: Apache-2.0
#include "experiment.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <emucxl/queue.hpp>
#include <emucxl/queue_allocators.hpp>

namespace emucxl::queue::bench {

namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b)
{
	return std::chrono::duration<double, std::milli>(b - a).count();
}

struct RunTimes {
	double enqueue_ms;
	double dequeue_ms;
};

// One run: a fresh queue, `ops` enqueues of 0..ops-1, then `ops` dequeues
// checked for FIFO order. The check is inside the timed loop on purpose: it
// keeps the compiler from discarding the dequeued values, and it costs every
// allocator the same.
template <RawAllocator A> RunTimes run_once(const A &alloc, int ops)
{
	Queue<int, A> q(alloc);
	auto t0 = Clock::now();
	for (int i = 0; i < ops; ++i) {
		if (!q.push(i))
			throw std::runtime_error(std::string(A::name) + ": enqueue " + std::to_string(i) +
						 " failed: " + std::strerror(errno));
	}
	auto t1 = Clock::now();
	int out_of_order = 0;
	for (int i = 0; i < ops; ++i) {
		auto v = q.pop();
		out_of_order += !v || *v != i;
	}
	auto t2 = Clock::now();
	if (out_of_order)
		throw std::runtime_error(std::string(A::name) + ": queue lost FIFO order");
	return {ms_between(t0, t1), ms_between(t1, t2)};
}

struct Series {
	std::string allocator;
	int node;
	std::function<RunTimes(int)> run;
	std::vector<double> enqueue_ms{}, dequeue_ms{}, total_ms{};
};

} // namespace

Experiment run_experiment(const Options &opt)
{
	std::vector<Series> series;
	for (int node : {EMUCXL_LOCAL_NODE, EMUCXL_REMOTE_NODE})
		series.push_back({"emucxl", node, [a = EmucxlAllocator{node}](int n) { return run_once(a, n); }});
	// malloc has no node; it is first-touch on the running CPU's node, i.e. local.
	series.push_back({"malloc", EMUCXL_LOCAL_NODE, [](int n) { return run_once(MallocAllocator{}, n); }});
	if (opt.with_numa) {
		for (int node : {EMUCXL_LOCAL_NODE, EMUCXL_REMOTE_NODE})
			series.push_back({"numa_alloc_onnode", node,
					  [a = NumaOnnodeAllocator{opt.physical_node[node]}](int n) {
						  return run_once(a, n);
					  }});
	}

	// A series is measurably slower right after another allocator's run,
	// most of all after numa_alloc_onnode's 15,000 mmaps have flushed the
	// caches. A fixed order (or a rotation, which keeps each series' cyclic
	// predecessor) would always hand the same series that slot, so the order
	// is shuffled for every run, from a fixed seed.
	std::vector<Series *> order;
	for (auto &s : series)
		order.push_back(&s);
	std::mt19937 shuffle_rng(12345);
	for (int r = 0; r < opt.warmup_runs + opt.runs; ++r) {
		std::shuffle(order.begin(), order.end(), shuffle_rng);
		for (Series *s : order) {
			RunTimes t = s->run(opt.ops);
			if (r < opt.warmup_runs)
				continue;
			s->enqueue_ms.push_back(t.enqueue_ms);
			s->dequeue_ms.push_back(t.dequeue_ms);
			s->total_ms.push_back(t.enqueue_ms + t.dequeue_ms);
		}
	}

	Experiment e{opt.ops, opt.runs, opt.warmup_runs, {}};
	for (const auto &s : series)
		e.results.push_back({s.allocator, s.node,
				     {apps::summarize(s.enqueue_ms), apps::summarize(s.dequeue_ms),
				      apps::summarize(s.total_ms)}});
	return e;
}

} // namespace emucxl::queue::bench
