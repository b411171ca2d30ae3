// SPDX-License-Identifier: Apache-2.0
// emucxl-queue-bench end to end: --json prints one well-formed object with
// the fields the issue promises, and --help / bad arguments behave.
#include <set>
#include <string>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "run_command.hpp"

namespace {

using json = nlohmann::json;
using emucxl::apps::run_command;

const std::string bench = EMUCXL_QUEUE_BENCH;

TEST(QueueBench, JsonHasEverySeriesAndTheIssuesFields)
{
	auto r = run_command(bench + " --json --ops 300 --runs 2 --warmup 0");
	ASSERT_EQ(r.exit_code, 0) << r.out;
	json doc = json::parse(r.out);
	EXPECT_EQ(doc.at("ops").get<double>(), 300);
	EXPECT_EQ(doc.at("runs").get<double>(), 2);
	std::set<std::pair<std::string, int>> seen;
	for (const auto &res : doc.at("results")) {
		seen.emplace(res.at("allocator").get<std::string>(), static_cast<int>(res.at("node").get<double>()));
		for (const char *phase : {"enqueue_ms", "dequeue_ms"}) {
			EXPECT_GT(res.at(phase).at("mean").get<double>(), 0.0);
			EXPECT_GE(res.at(phase).at("stddev").get<double>(), 0.0);
		}
	}
	const std::set<std::pair<std::string, int>> expected = {
		{"emucxl", 0}, {"emucxl", 1}, {"malloc", 0}, {"numa_alloc_onnode", 0}, {"numa_alloc_onnode", 1}};
	EXPECT_EQ(seen, expected);
	EXPECT_TRUE(doc.at("emucxl").at("remote_is_separate").is_boolean());
	EXPECT_GT(doc.at("ratios").at("emucxl_over_malloc").at("local").at("total").get<double>(), 0.0);
	EXPECT_TRUE(doc.at("targets").at("emucxl_over_malloc_met").is_boolean());
	EXPECT_EQ(doc.at("paper").at("results").size(), 2u);
}

TEST(QueueBench, NoNumaDropsThatSeries)
{
	auto r = run_command(bench + " --json --ops 100 --runs 1 --no-numa");
	ASSERT_EQ(r.exit_code, 0);
	json doc = json::parse(r.out);
	EXPECT_EQ(doc.at("results").size(), 3u);
	EXPECT_TRUE(doc.at("targets").at("numa_alloc_onnode_over_emucxl_met").is_null());
}

TEST(QueueBench, TableNamesTheDriverAndThePaper)
{
	auto r = run_command(bench + " --ops 100 --runs 1");
	ASSERT_EQ(r.exit_code, 0);
	EXPECT_NE(r.out.find("paper (EmuCXL)"), std::string::npos);
	EXPECT_NE(r.out.find("emucxl: driver "), std::string::npos);
	EXPECT_NE(r.out.find("emucxl / malloc, local"), std::string::npos);
}

TEST(QueueBench, HelpAndBadArguments)
{
	auto help = run_command(bench + " --help");
	EXPECT_EQ(help.exit_code, 0);
	EXPECT_NE(help.out.find("usage: emucxl-queue-bench"), std::string::npos);
	EXPECT_EQ(run_command(bench + " --ops 0 2>/dev/null").exit_code, 2);
	EXPECT_EQ(run_command(bench + " --ops 12x 2>/dev/null").exit_code, 2);
	EXPECT_EQ(run_command(bench + " --bogus 2>/dev/null").exit_code, 2);
	// Whole decimal numbers only: no hex, no overflow clamped to a maximum.
	for (const char *bad : {"--ops 0x10", "--ops 99999999999999999999", "--ops ' 5'", "--runs +2", "--ops"})
		EXPECT_EQ(run_command(bench + " " + bad + " 2>/dev/null").exit_code, 2) << bad;
	// The message names the program and what is wrong.
	const auto err = run_command(bench + " --bogus 2>&1");
	EXPECT_NE(err.out.find("emucxl-queue-bench: "), std::string::npos) << err.out;
	EXPECT_NE(err.out.find("--bogus"), std::string::npos) << err.out;
	EXPECT_NE(err.out.find("usage: emucxl-queue-bench"), std::string::npos) << err.out;
}

// Leading zeros are decimal (not octal), "=" works, the last of a repeated
// option counts, and --short leaves an explicit --ops alone.
TEST(QueueBench, NumbersAreDecimalAndTheLastOneCounts)
{
	auto r = run_command(bench + " --json --ops=010 --ops 020 --runs 1 --warmup 0 --no-numa --short");
	ASSERT_EQ(r.exit_code, 0);
	const json doc = json::parse(r.out);
	EXPECT_EQ(doc.at("ops"), 20);
	EXPECT_EQ(doc.at("runs"), 1);
	EXPECT_EQ(doc.at("warmup_runs"), 0);
}

} // namespace
