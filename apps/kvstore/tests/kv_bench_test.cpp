// SPDX-License-Identifier: Apache-2.0
// emucxl-kv-bench end to end: --json is one well-formed object with every
// (hot %, policy) row, and the hit percentages show the expected LRU shape.
#include <set>
#include <string>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "run_command.hpp"

namespace {

using json = nlohmann::json;
using emucxl::apps::run_command;

const std::string bench = EMUCXL_KV_BENCH;

class KvBench : public ::testing::Test {
protected:
	static void SetUpTestSuite()
	{
		auto r = run_command(bench + " --json --short");
		ASSERT_EQ(r.exit_code, 0) << r.out;
		doc_ = new json(json::parse(r.out));
	}
	static void TearDownTestSuite() { delete doc_; }

	static double hit(int hot, const std::string &policy)
	{
		for (const auto &row : doc_->at("results"))
			if (row.at("hot_percent").get<double>() == hot && row.at("policy").get<std::string>() == policy)
				return row.at("local_hit_percent").get<double>();
		ADD_FAILURE() << "no row for " << hot << "% " << policy;
		return -1;
	}

	static inline json *doc_ = nullptr;
};

TEST_F(KvBench, EveryHotPercentAndPolicyHasARow)
{
	ASSERT_NE(doc_, nullptr);
	std::set<std::pair<int, std::string>> seen;
	for (const auto &row : doc_->at("results")) {
		const int hot = static_cast<int>(row.at("hot_percent").get<double>());
		const std::string policy = row.at("policy").get<std::string>();
		seen.emplace(hot, policy);
		const auto &paper = row.at("paper_local_hit_percent");
		EXPECT_EQ(paper.is_null(), policy == "promote-after-N") << hot << " " << policy;
		EXPECT_EQ(row.at("counters").at("misses").get<double>(), 0);
	}
	EXPECT_EQ(seen.size(), 30u);
}

TEST_F(KvBench, ThroughputFieldsArePositive)
{
	ASSERT_NE(doc_, nullptr);
	const auto &t = doc_->at("throughput");
	for (const char *f : {"emucxl_get_ops_per_s", "unordered_map_get_ops_per_s", "emucxl_put_ops_per_s",
			      "unordered_map_put_ops_per_s"})
		EXPECT_GT(t.at(f).get<double>(), 0) << f;
}

// Every policy reports its GET latency percentiles, p50 <= p99, both > 0.
TEST_F(KvBench, GetLatencyPercentilesPerPolicy)
{
	ASSERT_NE(doc_, nullptr);
	const auto &bp = doc_->at("throughput").at("by_policy");
	for (const char *p : {"promote", "stay", "promote-after-N"}) {
		const double p50 = bp.at(p).at("get_p50_ns").get<double>(), p99 = bp.at(p).at("get_p99_ns").get<double>();
		EXPECT_GT(p50, 0) << p;
		EXPECT_LE(p50, p99) << p;
	}
}

TEST_F(KvBench, StayMatchesThePapersArithmetic)
{
	ASSERT_NE(doc_, nullptr);
	// Under stay, local holds key701..key1000 for good. At 70% hot, only the
	// 5,000 cold GETs (over exactly those keys) are local: 10%.
	EXPECT_DOUBLE_EQ(hit(70, "stay"), 10.0);
	// At 10% hot: 5,000 cold GETs over 900 keys, 300 of them local: ~3.33%.
	EXPECT_NEAR(hit(10, "stay"), 100.0 * 5000 * 300 / 900 / 50000, 0.3);
}

TEST_F(KvBench, PromoteKeepsAFittingHotSetLocal)
{
	ASSERT_NE(doc_, nullptr);
	EXPECT_GT(hit(10, "promote"), 90.0);
	EXPECT_GT(hit(20, "promote"), 89.0);
	// Uniform access over 1000 keys with 300 local slots: ~30% whatever the policy.
	EXPECT_NEAR(hit(0, "promote"), 30.0, 1.5);
	EXPECT_NEAR(hit(0, "stay"), 30.0, 1.5);
	// promote-after-2 lies between stay and promote when the hot set fits.
	EXPECT_GT(hit(10, "promote-after-N"), hit(10, "stay"));
	EXPECT_LE(hit(10, "promote-after-N"), hit(10, "promote"));
}

TEST(KvBenchCli, HelpAndBadArguments)
{
	auto help = run_command(bench + " --help");
	EXPECT_EQ(help.exit_code, 0);
	EXPECT_NE(help.out.find("usage: emucxl-kv-bench"), std::string::npos);
	EXPECT_EQ(run_command(bench + " --repeats 0 2>/dev/null").exit_code, 2);
	EXPECT_EQ(run_command(bench + " --promote-after x 2>/dev/null").exit_code, 2);
	EXPECT_EQ(run_command(bench + " --nope 2>/dev/null").exit_code, 2);
	for (const char *bad : {"--keys 99", "--keys 1000001", "--keys x", "--value-bytes 0",
				"--value-bytes 1048577"})
		EXPECT_EQ(run_command(bench + " " + bad + " 2>/dev/null").exit_code, 2) << bad;
	for (const char *bad : {"--seed -1", "--seed 18446744073709551616", "--repeats 010x"})
		EXPECT_EQ(run_command(bench + " " + bad + " 2>/dev/null").exit_code, 2) << bad;
	for (const char *bad : {"", "5,x", "95", "-1", "10,,20", ",", "10,"})
		EXPECT_EQ(run_command(bench + " --hot '" + bad + "' 2>/dev/null").exit_code, 2) << bad;
}

TEST(KvBenchCli, HotListRunsOnlyThosePercentages)
{
	auto r = run_command(bench + " --short --json --hot 0,90");
	ASSERT_EQ(r.exit_code, 0);
	std::set<int> hots;
	const json doc = json::parse(r.out); // lives through the loop
	for (const auto &row : doc.at("results"))
		hots.insert(static_cast<int>(row.at("hot_percent").get<double>()));
	EXPECT_EQ(hots, (std::set<int>{0, 90}));
}

// A data set past a modelled last-level cache: --keys scales the tiers
// (local 30%, remote all) and the hot sets, --value-bytes pads the values;
// the paper's column is dropped (it is of another shape), and each GET's
// latency is also split by the tier it hit.
TEST(KvBenchCli, KeysAndValueBytesScaleTheDataSet)
{
	auto r = run_command(bench + " --short --json --hot 0,20 --keys 2000 --value-bytes 512");
	ASSERT_EQ(r.exit_code, 0) << r.out;
	const json doc = json::parse(r.out);
	EXPECT_EQ(doc.at("keys").get<double>(), 2000);
	EXPECT_EQ(doc.at("value_bytes").get<double>(), 512);
	EXPECT_EQ(doc.at("local_capacity").get<double>(), 600);
	EXPECT_EQ(doc.at("remote_capacity").get<double>(), 2000);
	for (const auto &row : doc.at("results")) {
		EXPECT_TRUE(row.at("paper_local_hit_percent").is_null());
		EXPECT_EQ(row.at("counters").at("misses").get<double>(), 0);
		// 20% hot: 400 hot keys fit in 600 local: promote keeps them local.
		if (row.at("hot_percent").get<double>() == 20 && row.at("policy").get<std::string>() == "promote") {
			EXPECT_GT(row.at("local_hit_percent").get<double>(), 80);
		}
	}
	for (const char *policy : {"promote", "stay"}) {
		const auto &p = doc.at("throughput").at("by_policy").at(policy);
		EXPECT_GT(p.at("local_hit_p50_ns").get<double>(), 0) << policy;
		EXPECT_GT(p.at("remote_hit_p50_ns").get<double>(), 0) << policy;
	}
}

} // namespace
