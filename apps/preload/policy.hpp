// SPDX-License-Identifier: Apache-2.0
// policy.hpp - where transparent mode puts each allocation, and the
// environment variables that carry the choice from `emucxlctl run` (or a
// user's own LD_PRELOAD line) into libemucxl-preload.so. Parsed without
// allocating, so the preload can use it before it serves malloc.
#pragma once

#include <cstddef>
#include <cstdint>

namespace emucxl::preload {

// The environment behind `emucxlctl run` (README, "Transparent mode").
// At most one of the four policy variables may be set; none means node=remote.
inline constexpr const char kEnvNode[] = "EMUCXL_PRELOAD_NODE";               // local | remote
inline constexpr const char kEnvLocalLimit[] = "EMUCXL_PRELOAD_LOCAL_LIMIT";  // SIZE
inline constexpr const char kEnvInterleave[] = "EMUCXL_PRELOAD_INTERLEAVE";   // L:R
inline constexpr const char kEnvMinSize[] = "EMUCXL_PRELOAD_MIN_SIZE";        // SIZE
inline constexpr const char kEnvOnFull[] = "EMUCXL_PRELOAD_ON_FULL";          // fallback | fail
inline constexpr const char kEnvReport[] = "EMUCXL_PRELOAD_REPORT";           // stderr | FILE

enum class Kind : std::uint8_t {
	node,         // every allocation on `node`
	local_limit,  // live heap up to `limit` bytes on local, the rest remote
	interleave,   // bytes placed split weight_local : weight_remote
	min_size,     // allocations >= `limit` bytes remote, smaller local
};

struct Policy {
	Kind kind = Kind::node;
	int node = 1;                    // Kind::node: 0 local, 1 remote
	std::uint64_t limit = 0;         // Kind::local_limit, Kind::min_size: bytes
	std::uint32_t weight_local = 0;  // Kind::interleave
	std::uint32_t weight_remote = 0;
	bool fallback = true;            // remote full: place on local (counted), else fail
};

// "123", "64K", "64M", "1G", "2T" (binary multiples; "64MiB" and lower case
// accepted). False for anything else, 0 included, or past 2^62.
bool parse_size(const char *s, std::uint64_t *out) noexcept;

// "L:R" with L, R in [0, 1000000] and not both 0.
bool parse_weights(const char *s, std::uint32_t *local, std::uint32_t *remote) noexcept;

// The policy the environment describes. False with a one-line reason in err
// (naming the variable and what it expected) for a bad value or two
// policies at once.
bool policy_from_env(Policy *out, char *err, std::size_t errlen) noexcept;

// "node=remote", "local-limit=67108864", "interleave=1:3", "min-size=4096".
void describe(const Policy &p, char *buf, std::size_t len) noexcept;

}  // namespace emucxl::preload
