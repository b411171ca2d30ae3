// SPDX-License-Identifier: Apache-2.0
// experiment.hpp - the paper's local-hit experiment for every hot percentage
// and policy, timed, with std::unordered_map run on the same keys and GETs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <emucxl/kv.hpp>

#include "workload.hpp"

namespace emucxl::kv::bench {

struct Options {
	WorkloadShape shape;
	std::uint64_t seed = default_seed;
	std::size_t local_capacity = 300;  // items (the paper's; 30% of --keys)
	std::size_t remote_capacity = 1000; // items (the paper's; all --keys)
	unsigned promote_after = 2;         // N of the promote-after-N policy
	int repeats = 7;                    // timed repetitions (after one untimed warm-up)
	std::vector<int> hot_percents = {0, 10, 20, 30, 40, 50, 60, 70, 80, 90};
};

struct HitResult {
	int hot_percent = 0;
	std::string policy;              // "stay", "promote", "promote-after-N"
	double local_hit_percent = 0;    // local hits / GETs
	std::optional<double> paper;     // the paper's local hit %, if it published one
	Counters counters;               // of the GET phase
};

struct Rate {
	double get_ops_per_s = 0;
	double put_ops_per_s = 0;
};

struct PolicyRate {
	std::string policy;
	Rate rate;
	// One GET's latency, each GET timed on its own in one extra run per hot
	// percentage (not the throughput runs: the clock reads would slow them),
	// pooled over the hot percentages: what tiering does to the tail.
	double get_p50_ns = 0, get_p99_ns = 0;
	// The same GETs split by where the key was found: what a local and a
	// remote hit cost (under the guest's timing model, the remote tier's
	// latency shows here first). 0 when no GET was of that kind.
	double local_hit_p50_ns = 0, remote_hit_p50_ns = 0;
};

struct Throughput {
	// Each: operations / time over all hot percentages, each hot percentage
	// timed as the best of its repeats.
	Rate unordered_map;              // std::unordered_map<std::string, std::string>, same keys and GETs
	std::vector<PolicyRate> store;   // per policy, the paper's capacities
	Rate all_local;                  // the store with every key fitting in local: no tier moves
	const Rate *policy(const std::string &name) const
	{
		for (const auto &p : store)
			if (p.policy == name)
				return &p.rate;
		return nullptr;
	}
};

struct Results {
	Options options;
	std::vector<HitResult> hits;
	Throughput throughput;
};

// The paper's own shape (1000 keys, its values and capacities): only then
// are its published hit percentages a comparison.
bool is_paper_shape(const Options &opt);

// Throws std::runtime_error if a PUT fails or a GET misses (all keys fit).
Results run_experiment(const Options &opt);

const char *policy_name(Policy p);

} // namespace emucxl::kv::bench
