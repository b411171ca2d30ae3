// SPDX-License-Identifier: Apache-2.0
// emucxlctl end to end: the binary runs, its --json parses and says what the
// library says, and the text forms carry the promised information.
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include <emucxl/emucxl.h>

#include <nlohmann/json.hpp>

#include "run_command.hpp"

namespace {

using json = nlohmann::json;
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
	json doc = json::parse(r.out);
	EXPECT_EQ(doc.at("driver").get<std::string>(), info_.driver);
	EXPECT_EQ(doc.at("remote_is_separate").get<bool>(), info_.remote_is_separate);
	EXPECT_EQ(doc.at("pinned").get<bool>(), info_.pinned);
	const auto &nodes = doc.at("nodes");
	ASSERT_EQ(nodes.size(), 2u);
	for (int l : {0, 1}) {
		EXPECT_EQ(nodes[l].at("logical").get<double>(), l);
		EXPECT_EQ(nodes[l].at("physical_node").get<double>(), info_.node[l].physical_node);
		EXPECT_EQ(nodes[l].at("capacity_bytes").get<double>(), static_cast<double>(info_.node[l].capacity));
	}
	EXPECT_EQ(nodes[0].at("name").get<std::string>(), "local");
	EXPECT_EQ(nodes[1].at("name").get<std::string>(), "remote");
	// The distance matrix is square and 10 on the diagonal (SLIT).
	const auto &numa = doc.at("numa");
	if (numa.at("available").get<bool>()) {
		const auto &d = numa.at("distances");
		ASSERT_EQ(d.size(), numa.at("nodes").size());
		for (std::size_t i = 0; i < d.size(); ++i) {
			ASSERT_EQ(d[i].size(), d.size());
			EXPECT_EQ(d[i][i].get<double>(), 10);
		}
		EXPECT_TRUE(doc.at("local_remote_distance").is_number());
		if (!info_.remote_is_separate) {
			EXPECT_EQ(doc.at("local_remote_distance").get<double>(), 10);
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
	json doc = json::parse(r.out);
	EXPECT_EQ(doc.at("driver").get<std::string>(), info_.driver);
	const std::string scope = doc.at("scope").get<std::string>();
	EXPECT_TRUE(scope == "device" || scope == "process") << scope;
	const auto &nodes = doc.at("nodes");
	ASSERT_EQ(nodes.size(), 2u);
	for (const auto &n : nodes) {
		const double allocated = n.at("allocated_bytes").get<double>();
		EXPECT_LE(allocated, n.at("peak_bytes").get<double>());
		EXPECT_LE(allocated, n.at("capacity_bytes").get<double>());
		EXPECT_LE(n.at("free_bytes").get<double>(), n.at("capacity_bytes").get<double>());
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
	EXPECT_EQ(run_command(ctl + " info --bogus 2>/dev/null").exit_code, 2);
	EXPECT_EQ(run_command(ctl + " info -- x 2>/dev/null").exit_code, 2);
	EXPECT_EQ(run_command(ctl + " --json run -- true 2>/dev/null").exit_code, 2);
	const auto err = run_command(ctl + " frobnicate 2>&1");
	EXPECT_NE(err.out.find("emucxlctl: "), std::string::npos) << err.out;
	EXPECT_NE(err.out.find("frobnicate"), std::string::npos) << err.out;
	EXPECT_NE(err.out.find("usage: emucxlctl info"), std::string::npos) << err.out;
	const auto word = run_command(ctl + " help");
	EXPECT_EQ(word.exit_code, 0);
	EXPECT_NE(word.out.find("usage: emucxlctl info"), std::string::npos);
	const auto run_help = run_command(ctl + " run --help");
	EXPECT_EQ(run_help.exit_code, 0);
	EXPECT_NE(run_help.out.find("usage: emucxlctl run"), std::string::npos) << run_help.out;
}

// --json before or after the command, as always.
TEST(EmucxlctlCli, JsonBeforeOrAfterTheCommand)
{
	for (const char *args : {" --json info", " info --json", " --json stats", " stats --json"}) {
		auto r = run_command("EMUCXL_BACKEND=mbind " + ctl + args);
		ASSERT_EQ(r.exit_code, 0) << args;
		EXPECT_TRUE(json::parse(r.out).is_object()) << args;
	}
}

// The profile table is vm/profiles itself, read here independently of how
// emucxlctl gets it; the active profile is EMUCXL_TIMING (set by vm/run).
TEST(EmucxlctlTiming, ProfilesAreVmProfilesAndActiveComesFromTheEnvironment)
{
	std::ifstream f(VM_PROFILES);
	ASSERT_TRUE(f) << VM_PROFILES;
	std::string line;
	std::vector<std::vector<std::string>> rows;
	while (std::getline(f, line)) {
		if (line.empty() || line[0] == '#')
			continue;
		std::istringstream in(line);
		std::vector<std::string> row(5);
		in >> row[0] >> row[1] >> row[2] >> row[3] >> row[4];
		rows.push_back(row);
	}
	ASSERT_GE(rows.size(), 4U);

	auto off = run_command("env -u EMUCXL_TIMING EMUCXL_BACKEND=mbind " + ctl + " info --json");
	ASSERT_EQ(off.exit_code, 0) << off.out;
	const auto t = json::parse(off.out).at("timing");
	EXPECT_FALSE(t.at("emulated").get<bool>());
	EXPECT_TRUE(t.at("active").is_null());
	const auto &profiles = t.at("profiles");
	ASSERT_EQ(profiles.size(), rows.size());
	for (std::size_t i = 0; i < rows.size(); ++i) {
		EXPECT_EQ(profiles[i].at("name").get<std::string>(), rows[i][0]);
		const char *keys[] = {"local_ns", "remote_ns", "local_gbs", "remote_gbs"};
		for (int k = 0; k < 4; ++k) {
			if (rows[i][k + 1] == "-")
				EXPECT_TRUE(profiles[i].at(keys[k]).is_null()) << rows[i][0];
			else
				EXPECT_DOUBLE_EQ(profiles[i].at(keys[k]).get<double>(), std::stod(rows[i][k + 1]))
					<< rows[i][0] << " " << keys[k];
		}
	}
	for (const char *name : {"numa-remote", "cxl-direct", "cxl-far", "off"})
		EXPECT_NE(off.out.find(std::string("\"") + name + "\""), std::string::npos) << name;

	const std::string env = "EMUCXL_TIMING='profile=cxl-direct local_ns=105 remote_ns=250 local_gbs=100 "
				"remote_gbs=25 scale=4.5 tcg_load_ns=300 tcg_line_ns=200' EMUCXL_BACKEND=mbind ";
	auto on = run_command(env + ctl + " info --json");
	ASSERT_EQ(on.exit_code, 0) << on.out;
	const auto a = json::parse(on.out).at("timing");
	EXPECT_TRUE(a.at("emulated").get<bool>());
	EXPECT_EQ(a.at("active").at("profile").get<std::string>(), "cxl-direct");
	EXPECT_DOUBLE_EQ(a.at("active").at("remote_ns").get<double>(), 250);
	EXPECT_DOUBLE_EQ(a.at("active").at("scale").get<double>(), 4.5);

	auto text = run_command(env + ctl + " info");
	ASSERT_EQ(text.exit_code, 0);
	EXPECT_NE(text.out.find("timing: emulated, profile cxl-direct: local 105 ns 100 GB/s, remote 250 ns 25 GB/s"),
		  std::string::npos)
		<< text.out;
	auto plain = run_command("env -u EMUCXL_TIMING EMUCXL_BACKEND=mbind " + ctl + " info");
	EXPECT_NE(plain.out.find("timing: not emulated"), std::string::npos) << plain.out;
}

TEST(EmucxlctlCli, BackendChosenByEnvironment)
{
	// mbind needs nothing but a Linux kernel, so it is always available.
	auto r = run_command("EMUCXL_BACKEND=mbind " + ctl + " info --json");
	if (r.exit_code != 0)
		GTEST_SKIP() << "the mbind driver did not start here (exit " << r.exit_code << ")";
	EXPECT_EQ(json::parse(r.out).at("driver").get<std::string>(), "mbind");
}

} // namespace
