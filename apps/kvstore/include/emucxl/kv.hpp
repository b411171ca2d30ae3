// SPDX-License-Identifier: Apache-2.0
// kv.hpp - the EmuCXL paper's tiered key-value store (its "middleware"
// application), C++ API. The C API is in kv.h.
//
// Two tiers: local (emucxl node 0) and remote (node 1), each holding at most
// a configured number of items. Semantics, as in the paper:
//   PUT    stores into the local tier; when local is full its least recently
//          used item is demoted to remote first.
//   GET    looks in local, then in remote. What happens to an item found in
//          remote is the policy: it stays there, it is promoted to local
//          (demoting local's LRU item if local is full), or it is promoted on
//          its Nth remote hit.
//   DELETE removes the key from whichever tier holds it.
// When both tiers are full a PUT of a new key fails with Status::remote_full,
// or, if configured, evicts remote's LRU item (it is dropped).
//
// Value bytes live in emucxl memory on their tier's node, so a remote item's
// bytes really are in remote memory; keys, the hash index and the LRU links
// are ordinary memory. Every operation is O(1) expected: a hash lookup plus a
// constant number of list moves and, when an item changes tier, one copy of
// its value.
//
// Thread safety: a Store may be used from many threads. Every call takes the
// store's one mutex, because even GET changes shared state (LRU order,
// counters, and possibly tiers), so a reader-writer lock would buy nothing.
// Mutating calls never throw except std::bad_alloc from ordinary memory;
// a failed call leaves the store as it was.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace emucxl::kv {

enum class Tier : int { local = 0, remote = 1 }; // == the emucxl logical node

enum class Policy {
	stay,            // an item found in remote stays there (paper's policy 0)
	promote,         // it moves to local at once (paper's policy 1)
	promote_after_n, // it moves to local on its Nth remote hit (Config::promote_after)
};

struct Config {
	std::size_t local_capacity = 300;    // items, >= 1 (the paper's)
	std::size_t remote_capacity = 1000;  // items, may be 0 (the paper's)
	Policy policy = Policy::promote;
	unsigned promote_after = 2;          // N for promote_after_n, >= 1; counted since the item entered remote
	bool evict_when_remote_full = false; // false: PUT fails with remote_full
};

enum class Status {
	ok,
	not_found,        // no such key
	remote_full,      // local and remote are at capacity and eviction is off
	no_memory,        // emucxl could not place the value (errno ENOMEM from emucxl)
	buffer_too_small, // get into a buffer: value_size says what is needed; nothing recorded
};

const char *to_string(Status s) noexcept;

struct Counters {
	std::uint64_t local_hits = 0;  // GETs answered from local
	std::uint64_t remote_hits = 0; // GETs answered from remote (before any promotion)
	std::uint64_t misses = 0;      // GETs of absent keys
	std::uint64_t promotions = 0;  // remote -> local moves
	std::uint64_t demotions = 0;   // local -> remote moves
	std::uint64_t evictions = 0;   // items dropped because remote was full
	std::uint64_t puts = 0;        // successful PUTs (new keys and overwrites)
	std::uint64_t deletes = 0;     // successful DELETEs
};

class Store {
public:
	// Takes an emucxl_init reference for its lifetime. Throws
	// std::invalid_argument for a bad Config and std::system_error when
	// emucxl cannot be initialised.
	explicit Store(const Config &config = {});
	~Store();
	Store(const Store &) = delete;
	Store &operator=(const Store &) = delete;

	// PUT: insert or overwrite; the item becomes local's most recently used.
	Status put(std::string_view key, std::span<const std::byte> value);
	Status put(std::string_view key, std::string_view value) { return put(key, std::as_bytes(std::span(value))); }

	// GET: copy the value into `value` (reusing its capacity). Records the
	// access (hit counters, LRU order, policy).
	Status get(std::string_view key, std::string &value);
	std::optional<std::string> get(std::string_view key);
	// GET into a caller's buffer. When the value does not fit, returns
	// buffer_too_small with value_size set and records nothing, so the caller
	// can retry with a bigger buffer without skewing the counters.
	Status get(std::string_view key, std::span<std::byte> buffer, std::size_t &value_size);

	// DELETE.
	Status erase(std::string_view key);

	// Inspection; none of these records an access.
	std::optional<Tier> tier_of(std::string_view key) const;
	const void *value_address(std::string_view key) const; // the emucxl block, or nullptr
	std::size_t size(Tier tier) const;
	std::size_t size() const;
	std::vector<std::string> keys_by_recency(Tier tier) const; // most recently used first
	Counters counters() const;
	void reset_counters();
	const Config &config() const noexcept;

private:
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

} // namespace emucxl::kv
