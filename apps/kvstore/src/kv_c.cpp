// SPDX-License-Identifier: Apache-2.0
// kv_c.cpp - the C API over emucxl::kv::Store. Every entry point catches
// everything: no C++ exception may cross into a C caller.
#include <emucxl/kv.h>

#include <cerrno>
#include <new>
#include <stdexcept>
#include <string_view>
#include <system_error>

#include <emucxl/kv.hpp>

struct emucxl_kv {
	emucxl::kv::Store store;
};

namespace {

using emucxl::kv::Status;

int fail(int err)
{
	errno = err;
	return -1;
}

int status_to_errno(Status s)
{
	switch (s) {
	case Status::ok: return 0;
	case Status::not_found: return ENOENT;
	case Status::remote_full: return ENOSPC;
	case Status::no_memory: return ENOMEM;
	case Status::buffer_too_small: return ERANGE;
	}
	return EIO;
}

int result(Status s) { return s == Status::ok ? 0 : fail(status_to_errno(s)); }

// A byte string from (pointer, length); NULL is fine only with length 0.
bool valid_bytes(const void *p, std::size_t n) { return p || n == 0; }

std::string_view as_key(const void *key, std::size_t len)
{
	return len ? std::string_view(static_cast<const char *>(key), len) : std::string_view();
}

// Runs f, turning any exception into -1 + errno.
template <class F> int guarded(F &&f) noexcept
{
	try {
		return f();
	} catch (const std::bad_alloc &) {
		return fail(ENOMEM);
	} catch (const std::system_error &e) {
		return fail(e.code().value() ? e.code().value() : EIO);
	} catch (const std::invalid_argument &) {
		return fail(EINVAL);
	} catch (...) {
		return fail(EIO);
	}
}

} // namespace

extern "C" {

void emucxl_kv_config_default(struct emucxl_kv_config *config)
{
	if (!config)
		return;
	const emucxl::kv::Config d;
	*config = {d.local_capacity, d.remote_capacity, static_cast<int>(d.policy), d.promote_after,
		   d.evict_when_remote_full};
}

emucxl_kv *emucxl_kv_create(const struct emucxl_kv_config *config)
{
	if (!config || config->policy < EMUCXL_KV_STAY || config->policy > EMUCXL_KV_PROMOTE_AFTER_N) {
		errno = EINVAL;
		return nullptr;
	}
	emucxl::kv::Config c;
	c.local_capacity = config->local_capacity;
	c.remote_capacity = config->remote_capacity;
	c.policy = static_cast<emucxl::kv::Policy>(config->policy);
	c.promote_after = config->promote_after;
	c.evict_when_remote_full = config->evict_when_remote_full;
	emucxl_kv *kv = nullptr;
	guarded([&] {
		kv = new emucxl_kv{emucxl::kv::Store(c)};
		return 0;
	});
	return kv;
}

void emucxl_kv_destroy(emucxl_kv *kv) { delete kv; }

int emucxl_kv_put(emucxl_kv *kv, const void *key, size_t key_len, const void *value, size_t value_len)
{
	if (!kv || !valid_bytes(key, key_len) || !valid_bytes(value, value_len))
		return fail(EINVAL);
	return guarded([&] {
		return result(kv->store.put(as_key(key, key_len),
					    {static_cast<const std::byte *>(value), value_len}));
	});
}

int emucxl_kv_get(emucxl_kv *kv, const void *key, size_t key_len, void *buf, size_t buf_len, size_t *value_len)
{
	if (!kv || !valid_bytes(key, key_len) || !valid_bytes(buf, buf_len))
		return fail(EINVAL);
	return guarded([&] {
		std::size_t n = 0;
		Status s = kv->store.get(as_key(key, key_len), {static_cast<std::byte *>(buf), buf_len}, n);
		if (value_len && (s == Status::ok || s == Status::buffer_too_small))
			*value_len = n;
		return result(s);
	});
}

int emucxl_kv_delete(emucxl_kv *kv, const void *key, size_t key_len)
{
	if (!kv || !valid_bytes(key, key_len))
		return fail(EINVAL);
	return guarded([&] { return result(kv->store.erase(as_key(key, key_len))); });
}

int emucxl_kv_tier(const emucxl_kv *kv, const void *key, size_t key_len)
{
	if (!kv || !valid_bytes(key, key_len))
		return fail(EINVAL);
	return guarded([&] {
		auto t = kv->store.tier_of(as_key(key, key_len));
		return t ? static_cast<int>(*t) : fail(ENOENT);
	});
}

size_t emucxl_kv_count(const emucxl_kv *kv, int tier)
{
	if (!kv || (tier != 0 && tier != 1))
		return 0;
	return kv->store.size(static_cast<emucxl::kv::Tier>(tier));
}

int emucxl_kv_get_counters(const emucxl_kv *kv, struct emucxl_kv_counters *counters)
{
	if (!kv || !counters)
		return fail(EINVAL);
	return guarded([&] {
		const emucxl::kv::Counters c = kv->store.counters();
		*counters = {c.local_hits, c.remote_hits, c.misses, c.promotions,
			     c.demotions, c.evictions, c.puts, c.deletes};
		return 0;
	});
}

} // extern "C"
