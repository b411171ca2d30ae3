// SPDX-License-Identifier: Apache-2.0
// emucxl-memlat's command line, end to end on the host (mbind): its options
// parse, bad input is exit 2 with a message, --json is one JSON object with
// the documented fields, and a node the machine does not have is an error
// (exit 1, no numbers), never a measurement of something else. Working sets
// of a few MiB, so the whole suite takes about a second.
#include <algorithm>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <numa.h>

#include <nlohmann/json.hpp>

#include "run_command.hpp"

namespace {

using json = nlohmann::json;
using emucxl::apps::run_command;

const std::string memlat = std::string("EMUCXL_BACKEND=mbind EMUCXL_LOG=warn ") + EMUCXL_MEMLAT;
const std::string small = " --mib 4 --loads 20000 --reps 3";

// stdout and stderr together, for the error cases (which print nothing on stdout).
emucxl::apps::CommandResult run_both(const std::string &args)
{
	return run_command(memlat + " " + args + " 2>&1");
}

TEST(MemlatCli, HelpNamesEveryOption)
{
	const auto r = run_command(memlat + " --help");
	ASSERT_EQ(r.exit_code, 0);
	EXPECT_EQ(r.out.rfind("usage: emucxl-memlat", 0), 0U) << r.out;
	for (const char *opt : {"--mib", "--loads", "--reps", "--node", "--json"})
		EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
}

TEST(MemlatCli, BadInputIsExitTwoWithAMessage)
{
	for (const char *bad : {"--mib 0", "--mib x", "--mib 12x", "--mib -1", "--mib 262145", "--loads 0",
				"--loads 1e6", "--reps 0", "--reps ''", "--node 2", "--node -1", "--node local",
				"--node 0 1", "--node", "--mib", "--bogus", "extra", "--json=maybe"}) {
		const auto r = run_both(bad);
		EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.out;
		EXPECT_NE(r.out.find("emucxl-memlat: "), std::string::npos) << bad << ": " << r.out;
		EXPECT_NE(r.out.find("usage: emucxl-memlat"), std::string::npos) << bad << ": " << r.out;
		// Nothing was measured: no table, no JSON.
		EXPECT_EQ(r.out.find("working set"), std::string::npos) << bad;
		EXPECT_EQ(r.out.find('{'), std::string::npos) << bad;
	}
	// The message says what is wrong.
	EXPECT_NE(run_both("--node 2").out.find("'2' is not a whole number in 0..1"), std::string::npos);
	EXPECT_NE(run_both("--bogus").out.find("--bogus"), std::string::npos);
}

TEST(MemlatCli, JsonHasTheDocumentedFields)
{
	const auto r = run_command(memlat + " --json --node 0" + small + " 2>/dev/null");
	ASSERT_EQ(r.exit_code, 0) << r.out;
	// One object on one line.
	ASSERT_FALSE(r.out.empty());
	EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << r.out;
	const json doc = json::parse(r.out);
	ASSERT_TRUE(doc.is_object());
	std::set<std::string> keys;
	for (const auto &[k, v] : doc.items())
		keys.insert(k);
	EXPECT_EQ(keys, (std::set<std::string>{"working_set_mib", "reps", "nodes"}));
	EXPECT_EQ(doc.at("working_set_mib"), 4);
	EXPECT_EQ(doc.at("reps"), 3);
	const auto &nodes = doc.at("nodes");
	ASSERT_EQ(nodes.size(), 1U) << r.out;
	const auto &n = nodes[0];
	std::set<std::string> fields;
	for (const auto &[k, v] : n.items()) {
		fields.insert(k);
		EXPECT_TRUE(v.is_number()) << k;
	}
	EXPECT_EQ(fields, (std::set<std::string>{"node", "latency_ns", "read_gbs", "write_gbs", "best_latency_ns",
						 "best_read_gbs"}));
	EXPECT_EQ(n.at("node"), 0);
	for (const char *f : {"latency_ns", "read_gbs", "write_gbs", "best_latency_ns", "best_read_gbs"})
		EXPECT_GT(n.at(f).get<double>(), 0) << f;
	// The best rep is at least as good as the median.
	EXPECT_LE(n.at("best_latency_ns").get<double>(), n.at("latency_ns").get<double>());
	EXPECT_GE(n.at("best_read_gbs").get<double>(), n.at("read_gbs").get<double>());
}

TEST(MemlatCli, NodesAreMeasuredInTheOrderGiven)
{
	// Default: both logical nodes; --node replaces that list, repeatable.
	const auto both = run_command(memlat + " --json" + small + " 2>/dev/null");
	ASSERT_EQ(both.exit_code, 0);
	const json d = json::parse(both.out);
	ASSERT_EQ(d.at("nodes").size(), 2U);
	EXPECT_EQ(d.at("nodes")[0].at("node"), 0);
	EXPECT_EQ(d.at("nodes")[1].at("node"), 1);

	const auto rev = run_command(memlat + " --json --node 1 --node 0" + small + " 2>/dev/null");
	ASSERT_EQ(rev.exit_code, 0);
	const json r = json::parse(rev.out);
	ASSERT_EQ(r.at("nodes").size(), 2U);
	EXPECT_EQ(r.at("nodes")[0].at("node"), 1);
	EXPECT_EQ(r.at("nodes")[1].at("node"), 0);
}

TEST(MemlatCli, TableWithoutJson)
{
	const auto r = run_command(memlat + " --node 0" + small + " 2>/dev/null");
	ASSERT_EQ(r.exit_code, 0);
	EXPECT_EQ(r.out.rfind("working set 4 MiB, medians of 3 reps\n", 0), 0U) << r.out;
	EXPECT_NE(r.out.find("latency (ns)"), std::string::npos);
	EXPECT_NE(r.out.find("\n0 "), std::string::npos) << r.out;
}

// Logical node 1 on a machine with one NUMA node: emucxl maps it onto node 0
// and says so (warn level), and memlat measures it as node 1 -- which is why
// only node 0 means anything on such a host.
TEST(MemlatCli, RemoteOnAOneNodeMachineSharesNodeZeroAndSaysSo)
{
	if (numa_available() < 0 || numa_num_configured_nodes() != 1)
		GTEST_SKIP() << "this machine has a separate NUMA node for remote";
	const auto err = run_command(memlat + " --json --node 1" + small + " 2>&1 >/dev/null");
	EXPECT_EQ(err.exit_code, 0);
	EXPECT_NE(err.out.find("remote memory shares physical node 0"), std::string::npos) << err.out;
	const auto r = run_command(memlat + " --json --node 1" + small + " 2>/dev/null");
	ASSERT_EQ(r.exit_code, 0);
	EXPECT_EQ(json::parse(r.out).at("nodes")[0].at("node"), 1);
}

// A physical node that does not exist behind remote: emucxl_init refuses it,
// memlat says why and exits 1 before measuring anything (no JSON at all).
TEST(MemlatCli, MissingNodeIsAnErrorNotAMeasurement)
{
	ASSERT_GE(numa_available(), 0);
	const std::string missing = std::to_string(numa_max_node() + 1);
	const auto r = run_command("EMUCXL_REMOTE_NODE=" + missing + " " + memlat + " --json" + small + " 2>&1");
	EXPECT_EQ(r.exit_code, 1) << r.out;
	EXPECT_NE(r.out.find("node " + missing + " does not exist"), std::string::npos) << r.out;
	EXPECT_NE(r.out.find("emucxl-memlat: emucxl_init: "), std::string::npos) << r.out;
	EXPECT_EQ(r.out.find('{'), std::string::npos) << r.out;
}

// A working set the node cannot hold (more than all the machine's memory):
// exit 1 with the allocation's error, and no node measured (the JSON's list
// is empty rather than partial).
TEST(MemlatCli, AWorkingSetTooLargeForTheNodeIsExitOne)
{
	ASSERT_GE(numa_available(), 0);
	long long total = 0;
	for (int n = 0; n <= numa_max_node(); ++n)
		total += std::max(0LL, numa_node_size64(n, nullptr));
	const std::string mib = std::to_string(total / (1 << 20) + 1);
	if (total / (1 << 20) + 1 > 262144)
		GTEST_SKIP() << "more memory than --mib can ask for";
	const std::string args = " --node 0 --mib " + mib + " --loads 1 --reps 1";
	const auto r = run_command(memlat + " --json" + args + " 2>/dev/null");
	EXPECT_EQ(r.exit_code, 1) << r.out;
	const json doc = json::parse(r.out);
	EXPECT_TRUE(doc.at("nodes").empty()) << r.out;
	const auto err = run_both(args);
	EXPECT_EQ(err.exit_code, 1);
	EXPECT_NE(err.out.find("emucxl-memlat: " + mib + " MiB on node 0: Cannot allocate memory"), std::string::npos)
		<< err.out;
}

} // namespace
