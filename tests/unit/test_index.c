/*
 * tests/unit/test_index.c -- the nodes hash index (store/index.h) on its
 * own: keys laid out in a buffer the way LMDB lays out leaf nodes (key,
 * then value), big values elsewhere, empty non-terminals, growth from a
 * table far too small, and lookups of names that are not there.  The
 * store's use of it (snapshots, rebuilds, readers) is in test_store.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "store/index.h"
#include "tests/unit/tap.h"

#define NKEYS 20000

/* A "map": each entry is key octets followed by value octets. */
typedef struct {
	uint8_t *buf;
	size_t used;
	const uint8_t *key[NKEYS];
	size_t klen[NKEYS];
	const uint8_t *val[NKEYS];
	size_t vlen[NKEYS];
} map_t;

/* Key i: "zone\0dNNNNN\0" style, label octets then 0x00, like dname keys. */
static size_t make_key(unsigned i, uint8_t *out)
{
	int n = sprintf((char *)out, "test%cd%05u%c", 0, i, 0);
	return (size_t)n;
}

static void map_fill(map_t *m)
{
	m->buf = calloc(NKEYS, 64);
	for (unsigned i = 0; i < NKEYS; i++) {
		uint8_t *p = m->buf + m->used;
		size_t kl = make_key(i, p);
		size_t vl = 5 + i % 20;
		memset(p + kl, (int)('a' + i % 26), vl);
		m->key[i] = p;
		m->klen[i] = kl;
		m->val[i] = p + kl;
		m->vlen[i] = vl;
		m->used += kl + vl;
	}
}

static void test_nodes_and_misses(void)
{
	map_t *m = calloc(1, sizeof(*m));
	tal_index_t *ix;
	map_fill(m);

	/* expect = 1: the table must grow many times and keep every key. */
	is_int(0, tal_index_new(1, 42, &ix), "new");
	int ret = 0;
	for (unsigned i = 0; i < NKEYS; i++) {
		ret |= tal_index_add(ix, m->key[i], m->klen[i], m->val[i], m->vlen[i]);
	}
	is_int(0, ret, "%d keys added", NKEYS);
	is_int(NKEYS, (int)tal_index_count(ix), "count");
	ok(tal_index_count(ix) * 10 <= tal_index_bytes(ix) / 16 * 7,
	   "at most 70%% full after growing");

	unsigned bad = 0;
	for (unsigned i = 0; i < NKEYS; i++) {
		const uint8_t *v = NULL;
		size_t vl = 0;
		uint8_t copy[32];
		/* Look up through a copy: the index compares octets, not addresses. */
		memcpy(copy, m->key[i], m->klen[i]);
		int r = tal_index_find(ix, copy, m->klen[i], &v, &vl);
		if (r != TAL_INDEX_NODE || v != m->val[i] || vl != m->vlen[i]) {
			bad++;
		}
	}
	is_int(0, (int)bad, "every key found, with its value's place and length");

	/* Names that are not there: other numbers, prefixes, extensions. */
	uint8_t k[64];
	const uint8_t *v;
	size_t vl;
	bad = 0;
	for (unsigned i = NKEYS; i < 3 * NKEYS; i++) {
		size_t kl = make_key(i, k);
		bad += tal_index_find(ix, k, kl, &v, &vl) != TAL_INDEX_ABSENT;
	}
	is_int(0, (int)bad, "%d absent keys are absent", 2 * NKEYS);
	size_t kl = make_key(7, k);
	is_int(TAL_INDEX_ABSENT, tal_index_find(ix, k, kl - 1, &v, &vl),
	       "a key minus its last octet");
	k[kl] = 'x';
	is_int(TAL_INDEX_ABSENT, tal_index_find(ix, k, kl + 1, &v, &vl), "a key plus an octet");
	is_int(TAL_INDEX_ABSENT, tal_index_find(ix, k, 5, &v, &vl), "the parent, never added");

	/* An empty non-terminal is the start of a stored key. */
	is_int(0, tal_index_add_ent(ix, m->key[0], 5), "add the parent as an empty non-terminal");
	is_int(0, tal_index_add_ent(ix, m->key[1], 5), "adding it again is a no-op");
	is_int(NKEYS + 1, (int)tal_index_count(ix), "one key more");
	is_int(TAL_INDEX_ENT, tal_index_find(ix, (const uint8_t *)"test", 5, &v, &vl),
	       "the parent is found as an empty non-terminal");
	is_int(0, tal_index_add_ent(ix, m->key[3], m->klen[3]), "an ENT over a node is ignored");
	is_int(TAL_INDEX_NODE, tal_index_find(ix, m->key[3], m->klen[3], &v, &vl),
	       "that key is still a node");

	/* A value that does not follow its key (LMDB's overflow pages). */
	static const uint8_t big_key[] = "big\0";
	static uint8_t elsewhere[4000];
	is_int(0, tal_index_add(ix, big_key, 4, elsewhere, sizeof(elsewhere)), "add a big value");
	is_int(TAL_INDEX_TREE, tal_index_find(ix, big_key, 4, &v, &vl), "it is left to the tree");

	is_int(TAL_EINVAL, tal_index_add(ix, big_key, 0, big_key, 0), "an empty key is refused");
	static uint8_t long_key[600];
	is_int(TAL_EINVAL, tal_index_add(ix, long_key, 512, long_key + 512, 1),
	       "a key over 511 octets is refused");
	is_int(TAL_INDEX_TREE, tal_index_find(ix, long_key, 0, &v, &vl), "the root is the tree's");

	printf("# longest probe run %u in %zu slots\n", tal_index_max_probe(ix),
	       tal_index_bytes(ix) / 16);
	ok(tal_index_max_probe(ix) < 64, "probe runs stay short");

	/* Prefetching is a hint: after it, the same answers. */
	for (unsigned i = 0; i < 8; i++) {
		tal_index_prefetch(ix, tal_index_hash(ix, m->key[i], m->klen[i]), 0);
	}
	for (unsigned i = 0; i < 8; i++) {
		tal_index_prefetch(ix, tal_index_hash(ix, m->key[i], m->klen[i]), 1);
	}
	tal_index_prefetch(ix, tal_index_hash(ix, k, 3), 1);
	is_int(TAL_INDEX_NODE, tal_index_find(ix, m->key[5], m->klen[5], &v, &vl),
	       "find after prefetch");
	tal_index_free(ix);
	tal_index_free(NULL);
	free(m->buf);
	free(m);
}

/* Two seeds place keys differently, and both find everything. */
static void test_seeds(void)
{
	map_t *m = calloc(1, sizeof(*m));
	tal_index_t *a, *b;
	map_fill(m);
	is_int(0, tal_index_new(NKEYS, 1, &a), "seed 1");
	is_int(0, tal_index_new(NKEYS, 2, &b), "seed 2");
	for (unsigned i = 0; i < NKEYS; i++) {
		tal_index_add(a, m->key[i], m->klen[i], m->val[i], m->vlen[i]);
		tal_index_add(b, m->key[i], m->klen[i], m->val[i], m->vlen[i]);
	}
	ok(tal_index_hash(a, m->key[0], m->klen[0]) != tal_index_hash(b, m->key[0], m->klen[0]),
	   "the seed changes the hash");
	unsigned bad = 0;
	for (unsigned i = 0; i < NKEYS; i++) {
		const uint8_t *v;
		size_t vl;
		bad += tal_index_find(a, m->key[i], m->klen[i], &v, &vl) != TAL_INDEX_NODE;
		bad += tal_index_find(b, m->key[i], m->klen[i], &v, &vl) != TAL_INDEX_NODE;
	}
	is_int(0, (int)bad, "both find every key");
	tal_index_free(a);
	tal_index_free(b);
	free(m->buf);
	free(m);
}

int main(void)
{
	test_nodes_and_misses();
	test_seeds();
	return tap_done();
}
