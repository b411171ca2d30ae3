/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The last-level cache model of the cxltiming plugin (cxltiming.c):
 * set-associative, true LRU, 64-byte lines, write-back. Free of QEMU's
 * headers, so that tests/unit/cache_model_test.cpp checks it on the host.
 *
 * A set is two host cache lines: the plugin looks one up on every guest
 * access that is not a repeat of the previous line, and a random miss (a
 * pointer chase) then costs the host two cache misses, not one per array.
 */
#ifndef CXLTIMING_CACHE_MODEL_H
#define CXLTIMING_CACHE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CACHE_MAX_WAYS 16 /* a way's recency rank fits a nibble */

/*
 * tag[w]: the line's number without the set's bits, plus one (0: empty).
 * order: the ways from most to least recently used, a nibble each (nibble
 * 0 the MRU, nibble ways-1 the LRU: the next victim); nibbles from ways up
 * are 0. dirty, remote: a bit per way: written since filled; node 1's line.
 */
struct cache_set {
	uint32_t tag[CACHE_MAX_WAYS];
	uint64_t order;
	uint16_t dirty, remote;
} __attribute__((aligned(128)));

struct cache_geometry {
	unsigned sets, set_bits, ways;
	/* set = (line ^ line >> hash_shift) & (sets - 1); hash_shift >= set_bits,
	 * so the tag (line >> set_bits) names the line within its set */
	unsigned hash_shift;
};

enum cache_outcome { CACHE_HIT, CACHE_MISS, CACHE_UNMODELLED };

/* @sets (a power of two) of @ways (1..CACHE_MAX_WAYS); false if not. */
static inline bool cache_geometry_init(struct cache_geometry *g, unsigned sets, unsigned ways)
{
	if (!sets || (sets & (sets - 1)) || !ways || ways > CACHE_MAX_WAYS)
		return false;
	g->sets = sets;
	g->ways = ways;
	g->set_bits = (unsigned)__builtin_ctz(sets);
	g->hash_shift = g->set_bits > 17 ? g->set_bits : 17;
	return true;
}

/* Which set @line lives in. */
static inline size_t cache_set_of(const struct cache_geometry *g, uint64_t line)
{
	return (size_t)((line ^ (line >> g->hash_shift)) & (g->sets - 1));
}

/* An empty set: no tags, ways in index order. */
static inline void cache_set_init(struct cache_set *s, unsigned ways)
{
	memset(s, 0, sizeof(*s));
	for (unsigned w = 0; w < ways; w++)
		s->order |= (uint64_t)w << (4 * w);
}

/* The recency rank of way @w in @order: its nibble's position (SWAR: the
 * lowest nibble equal to w; borrows can only flag nibbles above it). */
static inline unsigned cache_rank_of(uint64_t order, unsigned w)
{
	const uint64_t ones = 0x1111111111111111ull;
	uint64_t x = order ^ (ones * w);

	return (unsigned)__builtin_ctzll((x - ones) & ~x & (ones << 3)) / 4;
}

/* @order with the way at rank @r moved to the front (most recently used). */
static inline uint64_t cache_to_front(uint64_t order, unsigned r)
{
	uint64_t w = (order >> (4 * r)) & 15;
	uint64_t below = order & ((1ull << (4 * r)) - 1);
	uint64_t above = r + 1 < CACHE_MAX_WAYS ? order >> (4 * (r + 1)) << (4 * (r + 1)) : 0;

	return above | below << 4 | w;
}

/*
 * Access @line (a 64-byte line number) of node @remote (0 or 1) in @sets,
 * writing if @store. On a hit it becomes its set's MRU; on a miss it
 * replaces the LRU way and *@wb_node is the node of a dirty line that
 * eviction writes back (-1: none). *@dirty_after: the line is dirty now.
 * CACHE_UNMODELLED: a line beyond 2^(38 + set_bits) bytes, not cached.
 */
static inline enum cache_outcome cache_access(struct cache_set *sets, const struct cache_geometry *g,
					      uint64_t line, int remote, bool store, bool *dirty_after,
					      int *wb_node)
{
	struct cache_set *s = &sets[cache_set_of(g, line)];
	const uint64_t high = line >> g->set_bits;
	const uint32_t key = (uint32_t)high + 1;
	unsigned w, r;

	*wb_node = -1;
	if (high >= UINT32_MAX) {
		*dirty_after = false;
		return CACHE_UNMODELLED;
	}
	for (w = 0; w < g->ways; w++) {
		if (s->tag[w] == key) {
			s->order = cache_to_front(s->order, cache_rank_of(s->order, w));
			s->dirty |= (uint16_t)((unsigned)store << w);
			*dirty_after = s->dirty >> w & 1;
			return CACHE_HIT;
		}
	}
	r = g->ways - 1;
	w = (s->order >> (4 * r)) & 15;
	if (s->tag[w] && (s->dirty >> w & 1))
		*wb_node = s->remote >> w & 1;
	s->tag[w] = key;
	s->order = cache_to_front(s->order, r);
	s->dirty = (uint16_t)((s->dirty & ~(1u << w)) | (unsigned)store << w);
	s->remote = (uint16_t)((s->remote & ~(1u << w)) | (unsigned)(remote != 0) << w);
	*dirty_after = store;
	return CACHE_MISS;
}

#endif /* CXLTIMING_CACHE_MODEL_H */
