/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kv.h - C API of the emucxl tiered key-value store (see kv.hpp for the
 * semantics; this is a thin wrapper over emucxl::kv::Store).
 *
 * Keys and values are byte strings of any length (a NULL pointer is allowed
 * with length 0). Calls return 0 on success, or -1 with errno:
 *   ENOENT  no such key
 *   ENOSPC  PUT: both tiers are full and eviction is off
 *   ENOMEM  emucxl (or the process) is out of memory
 *   ERANGE  GET: the value does not fit in the buffer; *value_len says how big
 *           it is and nothing was recorded
 *   EINVAL  a NULL store, NULL pointer with a length, or a bad config
 *   ENODEV  emucxl could not be initialised (create)
 * A store is thread-safe (one mutex per store).
 */
#ifndef EMUCXL_KV_H
#define EMUCXL_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct emucxl_kv emucxl_kv;

enum emucxl_kv_policy {
	EMUCXL_KV_STAY = 0,            /* found in remote: stays there (paper's policy 0) */
	EMUCXL_KV_PROMOTE = 1,         /* found in remote: moves to local (paper's policy 1) */
	EMUCXL_KV_PROMOTE_AFTER_N = 2, /* moves to local on its promote_after-th remote hit */
};

struct emucxl_kv_config {
	size_t local_capacity;       /* items, >= 1 */
	size_t remote_capacity;      /* items, may be 0 */
	int policy;                  /* enum emucxl_kv_policy */
	unsigned promote_after;      /* N for EMUCXL_KV_PROMOTE_AFTER_N, >= 1 */
	bool evict_when_remote_full; /* false: PUT fails with ENOSPC when both tiers are full */
};

struct emucxl_kv_counters {
	uint64_t local_hits;
	uint64_t remote_hits;
	uint64_t misses;
	uint64_t promotions;
	uint64_t demotions;
	uint64_t evictions;
	uint64_t puts;
	uint64_t deletes;
};

/* The paper's configuration: 300 local items, 1000 remote, promote, no eviction. */
void emucxl_kv_config_default(struct emucxl_kv_config *config);

/* NULL + errno on failure. Holds an emucxl_init reference until destroy. */
emucxl_kv *emucxl_kv_create(const struct emucxl_kv_config *config);
void emucxl_kv_destroy(emucxl_kv *kv);

int emucxl_kv_put(emucxl_kv *kv, const void *key, size_t key_len, const void *value, size_t value_len);
int emucxl_kv_get(emucxl_kv *kv, const void *key, size_t key_len, void *buf, size_t buf_len,
		  size_t *value_len);
int emucxl_kv_delete(emucxl_kv *kv, const void *key, size_t key_len);

/* The tier (0 local, 1 remote) holding key, without recording an access; -1 + ENOENT. */
int emucxl_kv_tier(const emucxl_kv *kv, const void *key, size_t key_len);
/* Items in a tier (0 or 1); 0 for a bad argument. */
size_t emucxl_kv_count(const emucxl_kv *kv, int tier);
int emucxl_kv_get_counters(const emucxl_kv *kv, struct emucxl_kv_counters *counters);

#ifdef __cplusplus
}
#endif

#endif /* EMUCXL_KV_H */
