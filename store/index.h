/*
 * store/index.h -- a hash index of the nodes database, for the server's
 * read path (private to store/).
 *
 * A B-tree lookup descends four or five pages and binary-searches each:
 * about a dozen dependent cache misses once the data outgrows the CPU's
 * caches.  The index maps the key of every node, and of every empty
 * non-terminal, to where that node lies in the memory map of one snapshot,
 * so a lookup is one probe into a table and one look at the key in the map.
 * It holds places, not data: 16 octets a slot, nothing copied.
 *
 * It knows nothing of LMDB.  store.c fills it from a cursor walk of one
 * snapshot and consults it only for readers on that same snapshot, where
 * the places are valid (store.c says why).  A table never changes once it
 * is filled, so any number of threads may read it.
 *
 * Misses are bounded: a lookup probes at most the longest run any stored
 * key needed when it was added, whatever name a client asks for.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct tal_index tal_index_t;

/* What a lookup found. */
enum {
	TAL_INDEX_ABSENT = 0, /* no node, and no key below it */
	TAL_INDEX_NODE = 1,   /* a node; *val is its value */
	TAL_INDEX_ENT = 2,    /* no node, but keys below it (empty non-terminal) */
	TAL_INDEX_TREE = 3,   /* a node the index cannot place: ask the B-tree */
};

/*
 * A new, empty index sized for about `expect` keys (it grows as needed);
 * `seed` keys the hash.  0 or TAL_ENOMEM.
 */
int tal_index_new(size_t expect, uint64_t seed, tal_index_t **out);
void tal_index_free(tal_index_t *ix);

/*
 * Adds a stored key and its value, as a cursor returns them: the index
 * keeps the key's address, so the key must stay where it is for as long as
 * the index is used.  A value that does not follow its key (LMDB keeps big
 * values on pages of their own) is recorded as TAL_INDEX_TREE.  Keys must
 * be distinct.  0, TAL_EINVAL (empty or longer than 511 octets), TAL_ENOMEM.
 */
int tal_index_add(tal_index_t *ix, const uint8_t *key, size_t klen, const uint8_t *val,
                  size_t vlen);

/*
 * Adds an empty non-terminal: `key` is the start of a stored key below it
 * (so it stays put as long as that key does).  A key already present is
 * left as it is.  0, TAL_EINVAL, TAL_ENOMEM.
 */
int tal_index_add_ent(tal_index_t *ix, const uint8_t *key, size_t klen);

/* Looks `key` up (any memory); one of TAL_INDEX_*.  *val, *vlen set for NODE. */
int tal_index_find(const tal_index_t *ix, const uint8_t *key, size_t klen, const uint8_t **val,
                   size_t *vlen);

/*
 * Prefetching, for a batch of lookups whose cache misses should overlap:
 * tal_index_hash, then tal_index_prefetch(..., 0) for every key of the
 * batch (starts fetching the slots), then tal_index_prefetch(..., 1) for
 * every key (reads the slots, starts fetching the nodes), then the finds.
 * Hints only: nothing is returned and no result changes.
 */
uint64_t tal_index_hash(const tal_index_t *ix, const uint8_t *key, size_t klen);
void tal_index_prefetch(const tal_index_t *ix, uint64_t h, int stage);

/*
 * Keys held (empty non-terminals among them), bytes of table, and the
 * longest probe run; for reports and tests.
 */
size_t tal_index_count(const tal_index_t *ix);
size_t tal_index_ents(const tal_index_t *ix);
size_t tal_index_bytes(const tal_index_t *ix);
unsigned tal_index_max_probe(const tal_index_t *ix);
