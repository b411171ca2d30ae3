// SPDX-License-Identifier: Apache-2.0
// timing.cpp - see timing.hpp.
#include "timing.hpp"

#include "timing_profiles.hpp" // generated from vm/profiles: kTimingProfiles

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "cli.hpp"

namespace emucxl::ctl {

std::vector<TimingProfile> timing_profiles()
{
	std::vector<TimingProfile> out;
	std::istringstream in{std::string(kTimingProfiles)};
	std::string line;
	while (std::getline(in, line)) {
		if (line.empty() || line[0] == '#')
			continue;
		std::istringstream f(line);
		TimingProfile p;
		if (!(f >> p.name >> p.local_ns >> p.remote_ns >> p.local_gbs >> p.remote_gbs))
			continue;
		std::getline(f >> std::ws, p.source);
		out.push_back(std::move(p));
	}
	return out;
}

std::optional<std::map<std::string, std::string>> active_timing()
{
	const char *env = std::getenv("EMUCXL_TIMING");
	if (!env || !*env)
		return std::nullopt;
	std::map<std::string, std::string> kv;
	std::istringstream in(env);
	std::string word;
	while (in >> word) {
		const auto eq = word.find('=');
		if (eq != std::string::npos)
			kv[word.substr(0, eq)] = word.substr(eq + 1);
	}
	return kv;
}

namespace {

std::string get(const std::map<std::string, std::string> &kv, const char *key)
{
	const auto it = kv.find(key);
	return it == kv.end() ? "?" : it->second;
}

// A number where the text is one ("-" in vm/profiles is null), else a
// string. Whole numbers stay integers ("105" -> 105, not 105.0), as written.
apps::Json number_or_text(const std::string &s)
{
	if (s == "-")
		return nullptr;
	if (const auto i = apps::parse_int<std::int64_t>(s, INT64_MIN, INT64_MAX))
		return *i;
	char *end = nullptr;
	const double d = std::strtod(s.c_str(), &end);
	if (!s.empty() && end && *end == '\0')
		return d;
	return s;
}

} // namespace

void print_timing_text(std::ostream &os)
{
	const auto active = active_timing();
	os << "\ntiming: ";
	if (active) {
		const auto &t = *active;
		os << "emulated, profile " << get(t, "profile") << ": local " << get(t, "local_ns") << " ns "
		   << get(t, "local_gbs") << " GB/s, remote " << get(t, "remote_ns") << " ns "
		   << get(t, "remote_gbs") << " GB/s\n"
		   << "  every access to guest memory goes through the cxltiming model (vm/README.md, \"Timing\");\n"
		   << "  latencies are stretched x" << get(t, "scale")
		   << " on both nodes (TCG alone is slower than the profile), ratios and bandwidths are the profile's;\n"
		   << "  TCG's own cost, calibrated: " << get(t, "tcg_load_ns") << " ns per dependent load, "
		   << get(t, "tcg_line_ns") << " ns per streamed 64 B line\n";
	} else {
		os << "not emulated: memory runs at this machine's own speed (real NUMA timing on a\n"
		   << "  multi-socket machine; none under vm/'s TCG guest, where both nodes run alike).\n"
		   << "  vm/run --cxl-profile NAME or --cxl-timing L,R,LG,RG times node 1 like CXL memory.\n";
	}
	os << "\ntiming profiles (vm/profiles):\n";
	char line[160];
	std::snprintf(line, sizeof line, "  %-12s %9s %9s %10s %10s\n", "name", "local ns", "remote ns", "local GB/s",
		      "remote GB/s");
	os << line;
	for (const auto &p : timing_profiles()) {
		std::snprintf(line, sizeof line, "  %-12s %9s %9s %10s %10s\n", p.name.c_str(), p.local_ns.c_str(),
			      p.remote_ns.c_str(), p.local_gbs.c_str(), p.remote_gbs.c_str());
		os << line << "      source: " << p.source << "\n";
	}
}

apps::Json timing_json()
{
	const auto active = active_timing();
	apps::Json j;
	j["emulated"] = active.has_value();
	if (active) {
		apps::Json a = apps::Json::object();
		for (const auto &[k, v] : *active)
			a[k] = number_or_text(v);
		j["active"] = std::move(a);
	} else {
		j["active"] = nullptr;
	}
	apps::Json profiles = apps::Json::array();
	for (const auto &p : timing_profiles())
		profiles.push_back({{"name", p.name},
				    {"local_ns", number_or_text(p.local_ns)},
				    {"remote_ns", number_or_text(p.remote_ns)},
				    {"local_gbs", number_or_text(p.local_gbs)},
				    {"remote_gbs", number_or_text(p.remote_gbs)},
				    {"source", p.source}});
	j["profiles"] = std::move(profiles);
	return j;
}

} // namespace emucxl::ctl
