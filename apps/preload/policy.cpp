// SPDX-License-Identifier: Apache-2.0
// policy.cpp - parsing of the transparent-mode environment (policy.hpp).
#include "policy.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace emucxl::preload {

namespace {

// Decimal digits only; false on overflow past `max` or no digits.
bool parse_decimal(const char *s, const char **end, std::uint64_t max, std::uint64_t *out)
{
	std::uint64_t v = 0;
	const char *p = s;
	for (; *p >= '0' && *p <= '9'; p++) {
		const auto d = static_cast<std::uint64_t>(*p - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (p == s)
		return false;
	*end = p;
	*out = v;
	return true;
}

bool equals_ci(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a >= 'A' && *a <= 'Z' ? static_cast<char>(*a - 'A' + 'a') : *a;
		if (x != *b)
			return false;
	}
	return *a == *b;
}

}  // namespace

bool parse_size(const char *s, std::uint64_t *out) noexcept
{
	constexpr std::uint64_t kMax = std::uint64_t{1} << 62;
	if (!s)
		return false;
	const char *end = nullptr;
	std::uint64_t v = 0;
	if (!parse_decimal(s, &end, kMax, &v) || v == 0)
		return false;
	unsigned shift = 0;
	if (*end) {
		switch (*end | 0x20) {  // lower case
		case 'k': shift = 10; break;
		case 'm': shift = 20; break;
		case 'g': shift = 30; break;
		case 't': shift = 40; break;
		default: return false;
		}
		end++;
		// "64M", "64MiB", "64MB" (binary all the same: this is memory)
		if (*end && !equals_ci(end, "ib") && !equals_ci(end, "b"))
			return false;
	}
	if (v > (kMax >> shift))
		return false;
	*out = v << shift;
	return true;
}

bool parse_weights(const char *s, std::uint32_t *local, std::uint32_t *remote) noexcept
{
	constexpr std::uint64_t kMax = 1000000;
	if (!s)
		return false;
	const char *end = nullptr;
	std::uint64_t l = 0, r = 0;
	if (!parse_decimal(s, &end, kMax, &l) || *end != ':')
		return false;
	if (!parse_decimal(end + 1, &end, kMax, &r) || *end || (l == 0 && r == 0))
		return false;
	*local = static_cast<std::uint32_t>(l);
	*remote = static_cast<std::uint32_t>(r);
	return true;
}

bool policy_from_env(Policy *out, char *err, std::size_t errlen) noexcept
{
	static constexpr const char *kVars[] = {kEnvNode, kEnvLocalLimit, kEnvInterleave,
						kEnvMinSize};
	const char *var = nullptr, *v = nullptr;
	for (const char *name : kVars) {
		const char *value = std::getenv(name);
		if (!value)
			continue;
		if (var) {
			std::snprintf(err, errlen, "%s and %s are both set: choose one policy", var,
				      name);
			return false;
		}
		var = name;
		v = value;
	}

	Policy p;  // nothing set: node=remote
	if (var == kEnvNode) {
		p.kind = Kind::node;
		if (std::strcmp(v, "local") == 0) {
			p.node = 0;
		} else if (std::strcmp(v, "remote") == 0) {
			p.node = 1;
		} else {
			std::snprintf(err, errlen, "%s=\"%s\": expected local or remote", var, v);
			return false;
		}
	} else if (var == kEnvLocalLimit || var == kEnvMinSize) {
		p.kind = var == kEnvLocalLimit ? Kind::local_limit : Kind::min_size;
		if (!parse_size(v, &p.limit)) {
			std::snprintf(err, errlen,
				      "%s=\"%s\": expected a size such as 65536, 64K, 64M or 2G", var, v);
			return false;
		}
	} else if (var == kEnvInterleave) {
		p.kind = Kind::interleave;
		if (!parse_weights(v, &p.weight_local, &p.weight_remote)) {
			std::snprintf(err, errlen,
				      "%s=\"%s\": expected L:R, two weights 0..1000000 (not both 0), "
				      "such as 1:3", var, v);
			return false;
		}
	}
	if (const char *f = std::getenv(kEnvOnFull)) {
		if (std::strcmp(f, "fallback") == 0) {
			p.fallback = true;
		} else if (std::strcmp(f, "fail") == 0) {
			p.fallback = false;
		} else {
			std::snprintf(err, errlen, "%s=\"%s\": expected fallback or fail", kEnvOnFull, f);
			return false;
		}
	}
	*out = p;
	return true;
}

void describe(const Policy &p, char *buf, std::size_t len) noexcept
{
	switch (p.kind) {
	case Kind::node:
		std::snprintf(buf, len, "node=%s", p.node ? "remote" : "local");
		break;
	case Kind::local_limit:
		std::snprintf(buf, len, "local-limit=%llu", static_cast<unsigned long long>(p.limit));
		break;
	case Kind::interleave:
		std::snprintf(buf, len, "interleave=%u:%u", p.weight_local, p.weight_remote);
		break;
	case Kind::min_size:
		std::snprintf(buf, len, "min-size=%llu", static_cast<unsigned long long>(p.limit));
		break;
	}
}

}  // namespace emucxl::preload
