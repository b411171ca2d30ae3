// SPDX-License-Identifier: Apache-2.0
// emucxlctl end to end: the binary runs, its --json parses and says what the
// library says, and the text forms carry the promised information.
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include <emucxl/emucxl.h>

#include "json_reader.hpp"
#include "run_command.hpp"

namespace {

namespace json = emucxl::apps::json;
using emucxl::apps::run_command;

const std::string ctl = EMUCXLCTL;

// What this process's emucxl says, to compare the CLI against.
class Emucxlctl : public ::testing::Test {
protected:
	void SetUp() override
	{
		ASSERT_EQ(emucxl_init(), 0);
		ASSERT_EQ(emucxl_get_info(&info_), 0);
	}
	void TearDown() override { emucxl_exit(); }
	emucxl_info info_{};
};

TEST_F(Emucxlctl, InfoJsonMatchesTheLibrary)
{
	auto r = run_command(ctl + " info --json");
	ASSERT_EQ(r.exit_code, 0) << r.out;
	json::Value doc = json::parse(r.out);
	EXPECT_EQ(doc.at("driver").string(), info_.driver);
	EXPECT_EQ(doc.at("remote_is_separate").boolean(), info_.remote_is_separate);
	EXPECT_EQ(doc.at("pinned").boolean(), info_.pinned);
	const auto &nodes = doc.at("nodes").array();
	ASSERT_EQ(nodes.size(), 2u);
	for (int l : {0, 1}) {
		EXPECT_EQ(nodes[l].at("logical").number(), l);
		EXPECT_EQ(nodes[l].at("physical_node").number(), info_.node[l].physical_node);
		EXPECT_EQ(nodes[l].at("capacity_bytes").number(), static_cast<double>(info_.node[l].capacity));
	}
	EXPECT_EQ(nodes[0].at("name").string(), "local");
	EXPECT_EQ(nodes[1].at("name").string(), "remote");
	// The distance matrix is square and 10 on the diagonal (SLIT).
	const auto &numa = doc.at("numa");
	if (numa.at("available").boolean()) {
		const auto &d = numa.at("distances").array();
		ASSERT_EQ(d.size(), numa.at("nodes").array().size());
		for (std::size_t i = 0; i < d.size(); ++i) {
			ASSERT_EQ(d[i].array().size(), d.size());
			EXPECT_EQ(d[i].array()[i].number(), 10);
		}
		EXPECT_TRUE(doc.at("local_remote_distance").is_number());
		if (!info_.remote_is_separate) {
			EXPECT_EQ(doc.at("local_remote_distance").number(), 10);
		}
	}
}

TEST_F(Emucxlctl, InfoTextSaysWhetherRemoteIsSeparate)
{
	auto r = run_command(ctl + " info");
	ASSERT_EQ(r.exit_code, 0);
	EXPECT_NE(r.out.find(std::string("driver:              ") + info_.driver), std::string::npos);
	EXPECT_NE(r.out.find(info_.remote_is_separate ? "remote is separate:  yes" : "remote is separate:  NO"),
		  std::string::npos);
	EXPECT_NE(r.out.find("NUMA node distances"), std::string::npos);
}

TEST_F(Emucxlctl, StatsJsonHasBothNodesWithConsistentNumbers)
{
	auto r = run_command(ctl + " stats --json");
	ASSERT_EQ(r.exit_code, 0) << r.out;
	json::Value doc = json::parse(r.out);
	EXPECT_EQ(doc.at("driver").string(), info_.driver);
	const std::string scope = doc.at("scope").string();
	EXPECT_TRUE(scope == "device" || scope == "process") << scope;
	const auto &nodes = doc.at("nodes").array();
	ASSERT_EQ(nodes.size(), 2u);
	for (const auto &n : nodes) {
		const double allocated = n.at("allocated_bytes").number();
		EXPECT_LE(allocated, n.at("peak_bytes").number());
		EXPECT_LE(allocated, n.at("capacity_bytes").number());
		EXPECT_LE(n.at("free_bytes").number(), n.at("capacity_bytes").number());
		if (scope == "process") {
			EXPECT_EQ(allocated, 0); // emucxlctl itself allocates nothing
		}
	}
}

TEST_F(Emucxlctl, StatsTextIsATablePerNode)
{
	auto r = run_command(ctl + " stats");
	ASSERT_EQ(r.exit_code, 0);
	for (const char *s : {"local (node 0)", "remote (node 1)", "Allocated (MiB)", "Capacity (MiB)", "Free (MiB)"})
		EXPECT_NE(r.out.find(s), std::string::npos) << s;
}

TEST(EmucxlctlCli, HelpAndBadArguments)
{
	auto help = run_command(ctl + " --help");
	EXPECT_EQ(help.exit_code, 0);
	EXPECT_NE(help.out.find("usage: emucxlctl info"), std::string::npos);
	EXPECT_EQ(run_command(ctl + " 2>/dev/null").exit_code, 2);
	EXPECT_EQ(run_command(ctl + " frobnicate 2>/dev/null").exit_code, 2);
	EXPECT_EQ(run_command(ctl + " info stats 2>/dev/null").exit_code, 2);
}

TEST(EmucxlctlCli, BackendChosenByEnvironment)
{
	// mbind needs nothing but a Linux kernel, so it is always available.
	auto r = run_command("EMUCXL_BACKEND=mbind " + ctl + " info --json");
	if (r.exit_code != 0)
		GTEST_SKIP() << "the mbind driver did not start here (exit " << r.exit_code << ")";
	EXPECT_EQ(json::parse(r.out).at("driver").string(), "mbind");
}

} // namespace
