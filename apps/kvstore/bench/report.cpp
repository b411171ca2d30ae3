// SPDX-License-Identifier: Apache-2.0
#include "report.hpp"

#include <cstdio>
#include <string>

#include "json.hpp"

namespace emucxl::kv::bench {

namespace {

const HitResult *find_hit(const Results &r, int hot, const char *policy)
{
	for (const auto &h : r.hits)
		if (h.hot_percent == hot && h.policy == policy)
			return &h;
	return nullptr;
}

// Ours >= paper under promote at every hot percentage the paper published.
bool hit_target_met(const Results &r)
{
	bool any = false;
	for (const auto &h : r.hits) {
		if (h.policy != "promote" || !h.paper)
			continue;
		any = true;
		if (h.local_hit_percent < *h.paper)
			return false;
	}
	return any;
}

double get_ratio(const Results &r)
{
	const Rate *p = r.throughput.policy("promote");
	return p ? p->get_ops_per_s / r.throughput.unordered_map.get_ops_per_s : 0;
}

std::string cell(const std::optional<double> &v)
{
	if (!v)
		return "-";
	char buf[32];
	std::snprintf(buf, sizeof buf, "%.2f", *v);
	return buf;
}

std::string mops(double ops_per_s)
{
	char buf[32];
	std::snprintf(buf, sizeof buf, "%.2f M/s", ops_per_s / 1e6);
	return buf;
}

void print_rate(std::ostream &os, const std::string &label, const Rate &rate, const Rate &base)
{
	char line[200];
	std::snprintf(line, sizeof line, "  %-44s %12s %12s %8.2fx %8.2fx\n", label.c_str(),
		      mops(rate.get_ops_per_s).c_str(), mops(rate.put_ops_per_s).c_str(),
		      rate.get_ops_per_s / base.get_ops_per_s, rate.put_ops_per_s / base.put_ops_per_s);
	os << line;
}

apps::Json rate_json(const Rate &rate)
{
	return {{"get_ops_per_s", rate.get_ops_per_s}, {"put_ops_per_s", rate.put_ops_per_s}};
}

const char *met(bool ok) { return ok ? "MET" : "NOT MET"; }

constexpr const char *explanation =
	"Why ours and the paper's differ under promote: with a correct LRU, a hot set that fits in the\n"
	"local tier (10%: 100 keys, 20%: 200, 30%: 300 = local's capacity) is promoted on its first GET\n"
	"and then stays local, so only each hot key's first touch and the 5,000 cold GETs go to remote.\n"
	"A hot set larger than local (40%..90%) keeps about 300/hot of itself local under uniform\n"
	"access. The paper's promote column falls well below both bounds at 10%..70%, which points to\n"
	"its LRU not keeping recently used items resident. Under stay nothing moves to local after the\n"
	"PUTs, so both implementations hit only key701..key1000 and agree within sampling noise;\n"
	"at 0% (uniform) both policies sit at the LRU ceiling of 300/1000 = 30% in expectation.\n";

} // namespace

void print_table(std::ostream &os, const Results &r, const apps::Machine &m, const emucxl_info &info)
{
	const Options &o = r.options;
	os << "Tiered key-value store (middleware): local tier " << o.local_capacity << " items, remote tier "
	   << o.remote_capacity << " items;\nPUT key1..key" << o.shape.keys << " in order, then " << o.shape.gets
	   << " GETs per hot %"
	   << (o.shape.value_bytes ? ", values of " + std::to_string(o.shape.value_bytes) + " bytes" : std::string())
	   << "; seed " << o.seed << ", " << o.repeats << " timed repeats\n";
	apps::print_setup(os, m, info);

	const std::string pan = "promote-after-" + std::to_string(o.promote_after);
	char line[200];
	os << "\nlocal hit % (local hits / GETs)\n";
	std::snprintf(line, sizeof line, "%-14s %9s %9s   %9s %9s   %16s\n", "", "promote", "promote", "stay",
		      "stay", pan.c_str());
	os << line;
	std::snprintf(line, sizeof line, "%-14s %9s %9s   %9s %9s   %16s\n", "hot keys", "paper", "ours",
		      "paper", "ours", "ours");
	os << line;
	for (int hot : o.hot_percents) {
		const HitResult *p = find_hit(r, hot, "promote");
		const HitResult *s = find_hit(r, hot, "stay");
		const HitResult *n = find_hit(r, hot, "promote-after-N");
		std::string label = std::to_string(hot) + (hot == 0 ? "% (uniform)" : "%");
		std::snprintf(line, sizeof line, "%-14s %9s %9s   %9s %9s   %16s\n", label.c_str(),
			      cell(p ? p->paper : std::nullopt).c_str(),
			      cell(p ? std::optional(p->local_hit_percent) : std::nullopt).c_str(),
			      cell(s ? s->paper : std::nullopt).c_str(),
			      cell(s ? std::optional(s->local_hit_percent) : std::nullopt).c_str(),
			      cell(n ? std::optional(n->local_hit_percent) : std::nullopt).c_str());
		os << line;
	}
	if (is_paper_shape(o))
		os << "target: ours >= paper under promote at every hot %: " << met(hit_target_met(r)) << "\n\n"
		   << explanation;
	else
		os << "(not the paper's shape: no paper column, no target)\n";

	const Throughput &t = r.throughput;
	os << "\nthroughput: every PUT and GET phase above, same keys and GETs for every map, each phase\n"
	      "the best of " << o.repeats << " repeats (M ops/s)\n";
	std::snprintf(line, sizeof line, "  %-44s %12s %12s %9s %9s\n", "", "GET", "PUT", "GET/map", "PUT/map");
	os << line;
	print_rate(os, "std::unordered_map<std::string, std::string>", t.unordered_map, t.unordered_map);
	for (const auto &p : t.store)
		print_rate(os, "emucxl::kv::Store, " + (p.policy == "promote-after-N" ? pan : p.policy), p.rate,
			   t.unordered_map);
	print_rate(os, "emucxl::kv::Store, all keys fit in local", t.all_local, t.unordered_map);
	os << "target: Store GET (promote) >= " << get_target_ratio << "x unordered_map GET: "
	   << met(get_ratio(r) >= get_target_ratio) << "\n";
	os << "GET latency per policy, each GET timed alone in one more run per hot %, pooled (ns):\n";
	for (const auto &p : t.store) {
		std::snprintf(line, sizeof line,
			      "  %-44s p50 %10.0f   p99 %10.0f   p50 local hit %8.0f, remote hit %8.0f\n",
			      ("emucxl::kv::Store, " + (p.policy == "promote-after-N" ? pan : p.policy)).c_str(),
			      p.get_p50_ns, p.get_p99_ns, p.local_hit_p50_ns, p.remote_hit_p50_ns);
		os << line;
	}
	os << "(a Store GET also takes the store's mutex, updates the LRU order, copies the value out of\n"
	      " emucxl memory, and under promote moves values between tiers; unordered_map does none of that)\n";
}

void print_json(std::ostream &os, const Results &r, const apps::Machine &m, const emucxl_info &info)
{
	const Options &o = r.options;
	apps::Json j;
	j["benchmark"] = "kvstore";
	j["local_capacity"] = o.local_capacity;
	j["remote_capacity"] = o.remote_capacity;
	j["keys"] = o.shape.keys;
	j["value_bytes"] = o.shape.value_bytes;
	j["gets"] = o.shape.gets;
	j["seed"] = o.seed;
	j["promote_after_n"] = o.promote_after;
	j["repeats"] = o.repeats;
	j["machine"] = apps::machine_json(m);
	j["emucxl"] = apps::emucxl_json(info);

	apps::Json results = apps::Json::array();
	for (const auto &h : r.hits)
		results.push_back({{"hot_percent", h.hot_percent},
				   {"policy", h.policy},
				   {"local_hit_percent", h.local_hit_percent},
				   {"paper_local_hit_percent", apps::or_null(h.paper)},
				   {"counters",
				    {{"local_hits", h.counters.local_hits},
				     {"remote_hits", h.counters.remote_hits},
				     {"misses", h.counters.misses},
				     {"promotions", h.counters.promotions},
				     {"demotions", h.counters.demotions},
				     {"evictions", h.counters.evictions}}}});
	j["results"] = std::move(results);

	const Throughput &t = r.throughput;
	const Rate *promote = t.policy("promote");
	apps::Json tp;
	tp["policy"] = "promote";
	tp["statistic"] = "best of repeats";
	tp["emucxl_get_ops_per_s"] = promote ? promote->get_ops_per_s : 0.0;
	tp["unordered_map_get_ops_per_s"] = t.unordered_map.get_ops_per_s;
	tp["get_ratio"] = get_ratio(r);
	tp["emucxl_put_ops_per_s"] = promote ? promote->put_ops_per_s : 0.0;
	tp["unordered_map_put_ops_per_s"] = t.unordered_map.put_ops_per_s;
	tp["put_ratio"] = promote ? promote->put_ops_per_s / t.unordered_map.put_ops_per_s : 0.0;
	apps::Json by_policy = apps::Json::object();
	for (const auto &p : t.store)
		by_policy[p.policy] = {{"get_ops_per_s", p.rate.get_ops_per_s},
				       {"put_ops_per_s", p.rate.put_ops_per_s},
				       {"get_p50_ns", p.get_p50_ns},
				       {"get_p99_ns", p.get_p99_ns},
				       {"local_hit_p50_ns", p.local_hit_p50_ns},
				       {"remote_hit_p50_ns", p.remote_hit_p50_ns}};
	tp["by_policy"] = std::move(by_policy);
	tp["all_local"] = rate_json(t.all_local);
	j["throughput"] = std::move(tp);

	j["targets"] = {{"local_hit_at_least_paper_under_promote", hit_target_met(r)},
			{"get_ratio_min", get_target_ratio},
			{"get_ratio_met", get_ratio(r) >= get_target_ratio}};
	apps::print_json(os, j);
}

} // namespace emucxl::kv::bench
