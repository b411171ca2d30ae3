// SPDX-License-Identifier: Apache-2.0
// timing.cpp - see timing.hpp.
#include "timing.hpp"

#include "timing_profiles.hpp" // generated from vm/profiles: kTimingProfiles

#include <cstdio>
#include <cstdlib>
#include <sstream>

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

// A number where the text is one ("-" in vm/profiles is null), else a string.
void number_or_text(apps::JsonWriter &w, const std::string &s)
{
	char *end = nullptr;
	const double d = std::strtod(s.c_str(), &end);
	if (s == "-")
		w.null();
	else if (!s.empty() && end && *end == '\0')
		w.value(d);
	else
		w.value(std::string_view(s));
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

void print_timing_json(apps::JsonWriter &w)
{
	const auto active = active_timing();
	w.key("timing").begin_object().field("emulated", active.has_value());
	w.key("active");
	if (active) {
		w.begin_object();
		for (const auto &[k, v] : *active) {
			w.key(k);
			number_or_text(w, v);
		}
		w.end_object();
	} else {
		w.null();
	}
	w.key("profiles").begin_array();
	for (const auto &p : timing_profiles()) {
		w.begin_object().field("name", std::string_view(p.name));
		const std::pair<const char *, const std::string *> numbers[] = {
			{"local_ns", &p.local_ns},
			{"remote_ns", &p.remote_ns},
			{"local_gbs", &p.local_gbs},
			{"remote_gbs", &p.remote_gbs}};
		for (const auto &[k, v] : numbers) {
			w.key(k);
			number_or_text(w, *v);
		}
		w.field("source", std::string_view(p.source)).end_object();
	}
	w.end_array().end_object();
}

} // namespace emucxl::ctl
