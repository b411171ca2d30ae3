// SPDX-License-Identifier: Apache-2.0
// store.cpp - emucxl::kv::Store: hash index + one intrusive LRU list per tier.
//
// Every public call locks, then works in two phases: first everything that
// can fail (allocations, emucxl migrations, capacity checks), then a commit
// that only relinks lists and updates counters. A failed call therefore
// leaves the store exactly as it was.
#include <emucxl/kv.hpp>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include <emucxl/emucxl.h>
#include <emucxl/emucxl.hpp>

#include "hash_index.hpp"
#include "lru_list.hpp"
#include "value_block.hpp"

namespace emucxl::kv {

const char *to_string(Status s) noexcept
{
	switch (s) {
	case Status::ok: return "ok";
	case Status::not_found: return "key not found";
	case Status::remote_full:
		return "both tiers are full: the local tier's LRU item cannot be demoted because the remote tier "
		       "is at capacity (enable evict_when_remote_full or raise remote_capacity)";
	case Status::no_memory: return "emucxl has no memory left on the tier's node";
	case Status::buffer_too_small: return "the value does not fit in the buffer";
	}
	return "unknown status";
}

namespace {

// One item. Owned by Store::Impl (created in put, deleted in erase_entry).
struct Entry {
	std::string name;         // the key
	std::size_t hash = 0;     // of name, kept for the index
	void *value = nullptr;    // emucxl block on the tier's node
	std::size_t capacity = 0; // bytes of that block: block_capacity(size) when it was allocated
	std::size_t size = 0;     // value bytes, <= capacity
	Tier tier = Tier::local;
	unsigned remote_hits = 0; // GETs answered from remote since the item entered remote
	Entry *prev = nullptr;    // LRU links within the item's tier
	Entry *next = nullptr;

	std::string_view key() const noexcept { return name; }
};

std::size_t hash_key(std::string_view key) noexcept { return std::hash<std::string_view>{}(key); }

constexpr int node_of(Tier t) { return static_cast<int>(t); }

void free_value(const Entry &e) noexcept { emucxl_free(e.value, e.capacity); }

} // namespace

struct Store::Impl {
	// First member, so destroyed last: the emucxl reference must outlive
	// every value block (~Impl frees them).
	Session session;

	const Config cfg;
	mutable std::mutex mu;
	detail::HashIndex<Entry> index;
	detail::LruList<Entry> lists[2]; // [Tier]
	Counters counters;

	explicit Impl(const Config &c) : cfg(c) {}
	~Impl()
	{
		index.for_each([](Entry *e) {
			free_value(*e);
			delete e;
		});
	}

	detail::LruList<Entry> &list(Tier t) { return lists[node_of(t)]; }

	Entry *find(std::string_view key) const { return index.find(key, hash_key(key)); }

	void erase_entry(Entry &e) noexcept
	{
		list(e.tier).unlink(&e);
		free_value(e);
		index.erase(e.key(), e.hash);
		delete &e;
	}

	// Relinks an entry into tier `to`; `value` is its block, already on that
	// tier's node (the caller updates capacity if the block size changed).
	void move_entry(Entry &e, Tier to, void *value)
	{
		list(e.tier).unlink(&e);
		e.value = value;
		e.tier = to;
		e.remote_hits = 0;
		list(to).push_front(&e);
		++(to == Tier::local ? counters.promotions : counters.demotions);
	}

	Status put(std::string_view key, std::span<const std::byte> bytes);
	Status overwrite_local(Entry &e, std::span<const std::byte> bytes);
	Entry *access(std::string_view key);
	void touch(Entry &e);
	void promote(Entry &e);
};

Status Store::Impl::overwrite_local(Entry &e, std::span<const std::byte> bytes)
{
	const std::size_t want = detail::block_capacity(bytes.size());
	void *p = e.value;
	if (want != e.capacity) {
		// emucxl_resize keeps the old block intact on failure.
		p = emucxl_resize(e.value, want);
		if (!p)
			return Status::no_memory;
	}
	if (!bytes.empty())
		std::memcpy(p, bytes.data(), bytes.size());
	e.value = p;
	e.capacity = want;
	e.size = bytes.size();
	list(Tier::local).move_to_front(&e);
	++counters.puts;
	return Status::ok;
}

Status Store::Impl::put(std::string_view key, std::span<const std::byte> bytes)
{
	const std::size_t hash = hash_key(key);
	Entry *existing = index.find(key, hash);
	if (existing && existing->tier == Tier::local)
		return overwrite_local(*existing, bytes);

	// A new key, or a key held in remote: either way the value goes to local
	// (PUT goes to the local tier), and a remote copy is dropped.

	// 1. Capacity: a full local tier demotes its LRU item, which needs a
	//    remote slot (overwriting a remote key frees one).
	Entry *victim = nullptr;
	bool evict_remote_lru = false, drop_victim = false;
	if (list(Tier::local).size() >= cfg.local_capacity) {
		victim = list(Tier::local).back();
		const std::size_t remote_after = list(Tier::remote).size() - (existing ? 1 : 0);
		if (remote_after >= cfg.remote_capacity) {
			if (!cfg.evict_when_remote_full)
				return Status::remote_full;
			// With no remote tier at all, the demoted item itself is what gets evicted.
			if (cfg.remote_capacity == 0)
				drop_victim = true;
			else
				evict_remote_lru = true;
		}
	}

	// 2. Everything that can fail. A new key's entry and index slot first:
	//    they may throw std::bad_alloc, and nothing has changed yet.
	std::unique_ptr<Entry> created;
	if (!existing) {
		created = std::make_unique<Entry>();
		created->name = key;
		created->hash = hash;
		index.reserve(index.size() + 1);
	}
	detail::ValueBlock fresh(bytes, Tier::local);
	if (!fresh)
		return Status::no_memory;
	void *victim_value = nullptr; // the victim's block once migrated to remote
	if (victim && !drop_victim) {
		victim_value = emucxl_migrate(victim->value, node_of(Tier::remote));
		if (!victim_value)
			return Status::no_memory;
	}

	// 3. Commit: nothing below can fail (the index slot is reserved).
	if (existing) {
		list(Tier::remote).unlink(existing);
		free_value(*existing);
	}
	if (victim) {
		if (drop_victim) {
			erase_entry(*victim);
			++counters.evictions;
		} else {
			if (evict_remote_lru) {
				erase_entry(*list(Tier::remote).back());
				++counters.evictions;
			}
			move_entry(*victim, Tier::remote, victim_value);
		}
	}
	Entry *e = existing;
	if (!e) {
		e = created.release();
		index.insert(e, hash);
	}
	e->capacity = fresh.capacity();
	e->value = fresh.release();
	e->size = bytes.size();
	e->tier = Tier::local;
	e->remote_hits = 0;
	list(Tier::local).push_front(e);
	++counters.puts;
	return Status::ok;
}

// Moves a remote item to local; if local is full, its LRU item goes to remote
// in exchange. When emucxl cannot place the copies, the item simply stays in
// remote: the GET has already been answered, so this is not an error.
void Store::Impl::promote(Entry &e)
{
	if (list(Tier::local).size() < cfg.local_capacity) {
		if (void *p = emucxl_migrate(e.value, node_of(Tier::local)))
			move_entry(e, Tier::local, p);
		else
			list(Tier::remote).move_to_front(&e);
		return;
	}
	Entry &victim = *list(Tier::local).back();
	if (e.capacity == victim.capacity) {
		// Same block size: trade contents through the blocks both already
		// have. Each value lands on its new tier; nothing is allocated.
		void *local_block = victim.value, *remote_block = e.value;
		detail::swap_contents(local_block, remote_block, std::max(e.size, victim.size));
		move_entry(victim, Tier::remote, remote_block);
		move_entry(e, Tier::local, local_block);
		return;
	}
	// Different sizes: the swap needs both new blocks or neither, which two
	// emucxl_migrate calls cannot promise (the second may fail after the
	// first moved), so allocate and copy both first and free the originals
	// only once both exist.
	detail::ValueBlock up({static_cast<const std::byte *>(e.value), e.size}, Tier::local);
	detail::ValueBlock down({static_cast<const std::byte *>(victim.value), victim.size}, Tier::remote);
	if (!up || !down) {
		list(Tier::remote).move_to_front(&e);
		return;
	}
	free_value(e);
	free_value(victim);
	e.capacity = up.capacity();
	victim.capacity = down.capacity();
	move_entry(victim, Tier::remote, down.release());
	move_entry(e, Tier::local, up.release());
}

// A GET: the lookup, then touch(). Returns the entry (with its value
// possibly moved) or nullptr on a miss.
Entry *Store::Impl::access(std::string_view key)
{
	Entry *e = find(key);
	if (!e) {
		++counters.misses;
		return nullptr;
	}
	touch(*e);
	return e;
}

// A GET's bookkeeping for a present key: counters, recency, remote policy.
void Store::Impl::touch(Entry &e)
{
	if (e.tier == Tier::local) {
		++counters.local_hits;
		list(Tier::local).move_to_front(&e);
		return;
	}
	++counters.remote_hits;
	++e.remote_hits;
	const bool promote_now = cfg.policy == Policy::promote ||
				 (cfg.policy == Policy::promote_after_n && e.remote_hits >= cfg.promote_after);
	if (promote_now)
		promote(e);
	else
		list(Tier::remote).move_to_front(&e);
}

Store::Store(const Config &config)
{
	if (config.local_capacity == 0)
		throw std::invalid_argument("emucxl::kv::Store: local_capacity must be at least 1");
	if (config.policy == Policy::promote_after_n && config.promote_after == 0)
		throw std::invalid_argument("emucxl::kv::Store: promote_after must be at least 1");
	impl_ = std::make_unique<Impl>(config);
}

Store::~Store() = default;

Status Store::put(std::string_view key, std::span<const std::byte> value)
{
	std::lock_guard lock(impl_->mu);
	return impl_->put(key, value);
}

Status Store::get(std::string_view key, std::string &value)
{
	std::lock_guard lock(impl_->mu);
	const Entry *e = impl_->access(key);
	if (!e)
		return Status::not_found;
	value.assign(static_cast<const char *>(e->value), e->size);
	return Status::ok;
}

std::optional<std::string> Store::get(std::string_view key)
{
	std::string v;
	if (get(key, v) != Status::ok)
		return std::nullopt;
	return v;
}

Status Store::get(std::string_view key, std::span<std::byte> buffer, std::size_t &value_size)
{
	std::lock_guard lock(impl_->mu);
	Entry *e = impl_->find(key);
	if (!e) {
		++impl_->counters.misses;
		return Status::not_found;
	}
	value_size = e->size;
	if (e->size > buffer.size())
		return Status::buffer_too_small; // checked before touch(): nothing recorded
	impl_->touch(*e);
	if (e->size)
		std::memcpy(buffer.data(), e->value, e->size);
	return Status::ok;
}

Status Store::erase(std::string_view key)
{
	std::lock_guard lock(impl_->mu);
	Entry *e = impl_->find(key);
	if (!e)
		return Status::not_found;
	impl_->erase_entry(*e);
	++impl_->counters.deletes;
	return Status::ok;
}

std::optional<Tier> Store::tier_of(std::string_view key) const
{
	std::lock_guard lock(impl_->mu);
	const Entry *e = impl_->find(key);
	return e ? std::optional(e->tier) : std::nullopt;
}

const void *Store::value_address(std::string_view key) const
{
	std::lock_guard lock(impl_->mu);
	const Entry *e = impl_->find(key);
	return e ? e->value : nullptr;
}

std::size_t Store::size(Tier tier) const
{
	std::lock_guard lock(impl_->mu);
	return impl_->list(tier).size();
}

std::size_t Store::size() const
{
	std::lock_guard lock(impl_->mu);
	return impl_->index.size();
}

std::vector<std::string> Store::keys_by_recency(Tier tier) const
{
	std::lock_guard lock(impl_->mu);
	std::vector<std::string> keys;
	keys.reserve(impl_->list(tier).size());
	for (const Entry *e = impl_->list(tier).front(); e; e = e->next)
		keys.emplace_back(e->key());
	return keys;
}

Counters Store::counters() const
{
	std::lock_guard lock(impl_->mu);
	return impl_->counters;
}

void Store::reset_counters()
{
	std::lock_guard lock(impl_->mu);
	impl_->counters = {};
}

const Config &Store::config() const noexcept { return impl_->cfg; }

} // namespace emucxl::kv
