// SPDX-License-Identifier: Apache-2.0
#include "experiment.hpp"

#include <algorithm>

#include <chrono>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "paper.hpp"
#include "stats.hpp"

namespace emucxl::kv::bench {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b)
{
	return std::chrono::duration<double>(b - a).count();
}

// Seconds one run spent in its PUT and its GET phase.
struct PhaseSeconds {
	double put = 0, get = 0;
};

// Operations and time summed over the hot percentages. Each hot percentage
// contributes the best (shortest) of its timed repeats: a GET phase lasts
// about a millisecond, so on a shared machine a time slice lost to another
// process can double it, and such interference only ever adds time. The
// same estimator applies to the store and the map, run interleaved.
struct Tally {
	double put_s = 0, get_s = 0;
	std::uint64_t puts = 0, gets = 0;

	void add(const Workload &w, std::vector<PhaseSeconds> &repeats)
	{
		put_s += best(repeats, &PhaseSeconds::put);
		get_s += best(repeats, &PhaseSeconds::get);
		puts += w.keys.size();
		gets += w.gets.size();
		repeats.clear();
	}
	Rate rate() const { return {gets / get_s, puts / put_s}; }

private:
	static double best(const std::vector<PhaseSeconds> &v, double PhaseSeconds::*phase)
	{
		std::vector<double> xs;
		for (const auto &p : v)
			xs.push_back(p.*phase);
		return apps::summarize(xs).min;
	}
};

// GET results are summed into a sink the optimiser cannot drop, so the same
// work is done for both maps.
volatile std::size_t sink;

// Each GET of a latency run, timed alone, by where it found its key.
struct GetLatencies {
	std::vector<double> all, local, remote;
};

// One run of the workload on a fresh store: PUT phase, then GET phase. With
// @get_ns, each GET is also timed on its own and its latency appended.
Counters run_store(const Config &cfg, const Workload &w, PhaseSeconds &t, GetLatencies *get_ns = nullptr)
{
	Store store(cfg);
	auto t0 = Clock::now();
	for (std::size_t i = 0; i < w.keys.size(); ++i) {
		Status s = store.put(w.keys[i], w.values[i]);
		if (s != Status::ok)
			throw std::runtime_error("PUT " + w.keys[i] + ": " + to_string(s));
	}
	auto t1 = Clock::now();
	store.reset_counters(); // the paper's hit % is over the GETs only
	std::string value;
	std::size_t bytes = 0;
	for (std::uint32_t k : w.gets) {
		const std::uint64_t local_before = get_ns ? store.counters().local_hits : 0;
		const auto g0 = get_ns ? Clock::now() : Clock::time_point{};
		if (store.get(w.keys[k], value) != Status::ok)
			throw std::runtime_error("GET " + w.keys[k] + ": missing although every key fits");
		if (get_ns) {
			const double ns = 1e9 * seconds_between(g0, Clock::now());
			get_ns->all.push_back(ns);
			(store.counters().local_hits != local_before ? get_ns->local : get_ns->remote).push_back(ns);
		}
		bytes += value.size();
	}
	auto t2 = Clock::now();
	sink = sink + bytes;
	t = {seconds_between(t0, t1), seconds_between(t1, t2)};
	return store.counters();
}

// The same PUTs and GETs on std::unordered_map: the baseline a program would
// use if it had no tiers at all.
PhaseSeconds run_unordered_map(const Workload &w)
{
	std::unordered_map<std::string, std::string> map;
	auto t0 = Clock::now();
	for (std::size_t i = 0; i < w.keys.size(); ++i)
		map.insert_or_assign(w.keys[i], w.values[i]);
	auto t1 = Clock::now();
	std::string value;
	std::size_t bytes = 0;
	for (std::uint32_t k : w.gets) {
		auto it = map.find(w.keys[k]);
		if (it == map.end())
			throw std::runtime_error("unordered_map lost " + w.keys[k]);
		value.assign(it->second);
		bytes += value.size();
	}
	auto t2 = Clock::now();
	sink = sink + bytes;
	return {seconds_between(t0, t1), seconds_between(t1, t2)};
}

std::optional<double> paper_value(int hot, Policy p)
{
	for (const auto &row : paper_local_hit)
		if (row.hot_percent == hot) {
			if (p == Policy::promote)
				return row.promote;
			if (p == Policy::stay)
				return row.stay;
		}
	return std::nullopt;
}

} // namespace

bool is_paper_shape(const Options &opt)
{
	const WorkloadShape paper;
	return opt.shape.keys == paper.keys && opt.shape.gets == paper.gets &&
	       opt.shape.value_bytes == 0 && opt.local_capacity == paper_local_capacity &&
	       opt.remote_capacity == paper_remote_capacity;
}

const char *policy_name(Policy p)
{
	switch (p) {
	case Policy::stay: return "stay";
	case Policy::promote: return "promote";
	case Policy::promote_after_n: return "promote-after-N";
	}
	return "?";
}

Results run_experiment(const Options &opt)
{
	constexpr Policy policies[] = {Policy::promote, Policy::stay, Policy::promote_after_n};
	auto config_for = [&](Policy p) {
		Config c;
		c.local_capacity = opt.local_capacity;
		c.remote_capacity = opt.remote_capacity;
		c.policy = p;
		c.promote_after = opt.promote_after;
		return c;
	};
	Config all_local = config_for(Policy::promote);
	all_local.local_capacity = static_cast<std::size_t>(opt.shape.keys);

	Results r{opt, {}, {}};
	Tally map_tally, local_tally, policy_tally[std::size(policies)];
	std::vector<PhaseSeconds> map_t, local_t, policy_t[std::size(policies)];
	GetLatencies get_ns[std::size(policies)];
	for (int hot : opt.hot_percents) {
		const Workload w = make_workload(opt.shape, hot, opt.seed);
		// Run 0 is an untimed warm-up; the hit counts are the same on every run.
		for (int run = 0; run <= opt.repeats; ++run) {
			const bool timed = run > 0;
			PhaseSeconds t = run_unordered_map(w);
			if (timed)
				map_t.push_back(t);
			run_store(all_local, w, t);
			if (timed)
				local_t.push_back(t);
			for (std::size_t p = 0; p < std::size(policies); ++p) {
				Counters c = run_store(config_for(policies[p]), w, t);
				if (timed)
					policy_t[p].push_back(t);
				if (run != opt.repeats)
					continue;
				const double gets = static_cast<double>(c.local_hits + c.remote_hits + c.misses);
				r.hits.push_back({hot, policy_name(policies[p]), 100.0 * c.local_hits / gets,
						  is_paper_shape(opt) ? paper_value(hot, policies[p]) : std::nullopt, c});
			}
		}
		for (std::size_t p = 0; p < std::size(policies); ++p) {
			PhaseSeconds untimed;
			run_store(config_for(policies[p]), w, untimed, &get_ns[p]);
		}
		map_tally.add(w, map_t);
		local_tally.add(w, local_t);
		for (std::size_t p = 0; p < std::size(policies); ++p)
			policy_tally[p].add(w, policy_t[p]);
	}
	r.throughput.unordered_map = map_tally.rate();
	r.throughput.all_local = local_tally.rate();
	auto at = [](std::vector<double> &ns, double q) {
		if (ns.empty())
			return 0.0;
		auto it = ns.begin() + static_cast<std::ptrdiff_t>(q * static_cast<double>(ns.size() - 1));
		std::nth_element(ns.begin(), it, ns.end());
		return *it;
	};
	for (std::size_t p = 0; p < std::size(policies); ++p) {
		auto &ns = get_ns[p];
		r.throughput.store.push_back({policy_name(policies[p]), policy_tally[p].rate(),
					      at(ns.all, 0.50), at(ns.all, 0.99), at(ns.local, 0.50),
					      at(ns.remote, 0.50)});
	}
	return r;
}

} // namespace emucxl::kv::bench
