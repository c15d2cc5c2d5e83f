/*
 * store/index.c -- the nodes hash index (store/index.h).
 *
 * Open addressing with linear probing in a power-of-two table of 16-octet
 * slots, at most 70 % full.  A slot holds 32 bits of the key's hash (a
 * cheap first test), the key's length, what the key is and the value's
 * length, and the key's address in the map; the value of a node starts
 * where its key ends.  Empty slots are all zero (a key is never empty).
 *
 * The table is anonymous memory with transparent huge pages requested: it
 * is read at random, and 2 MiB pages keep its TLB misses few.
 */
#include "store/index.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/error.h"

#define KLEN_BITS 9
#define KIND_BITS 2
#define VLEN_BITS 21
#define KLEN_MAX  ((1u << KLEN_BITS) - 1)
#define VLEN_MAX  ((1u << VLEN_BITS) - 1)
#define MIN_SLOTS 1024
#define LOAD_NUM  7 /* at most LOAD_NUM / LOAD_DEN of the slots in use */
#define LOAD_DEN  10

typedef struct {
	uint32_t tag;  /* high half of the hash */
	uint32_t info; /* key length | kind << 9 | value length << 11; 0: empty */
	uint64_t addr; /* where the key is, in the map */
} slot_t;

struct tal_index {
	uint64_t seed;
	slot_t *slots;
	size_t mask; /* slots - 1 */
	size_t count;
	size_t ents;        /* of them empty non-terminals */
	unsigned max_probe; /* longest run from a key's home slot to its slot */
};

static inline uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

/* The 64-bit finaliser of MurmurHash3: every input bit reaches every output bit. */
static inline uint64_t fmix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* Eight octets at a time, keyed by the seed; keys are at most 511 octets. */
static uint64_t hash(uint64_t seed, const uint8_t *k, size_t n)
{
	const uint64_t m = 0x9e3779b97f4a7c15ULL;
	uint64_t h = seed ^ (n * m);
	uint64_t w;

	while (n >= 8) {
		memcpy(&w, k, 8);
		h = rotl(h ^ (w * m), 31) * 0xbf58476d1ce4e5b9ULL;
		k += 8;
		n -= 8;
	}
	if (n > 0) {
		w = 0;
		memcpy(&w, k, n);
		h = rotl(h ^ (w * m), 31) * 0xbf58476d1ce4e5b9ULL;
	}
	return fmix(h);
}

static slot_t *table_alloc(size_t nslots)
{
	size_t bytes = nslots * sizeof(slot_t);
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		return NULL;
	}
#ifdef MADV_HUGEPAGE
	if (bytes >= (2u << 20)) {
		(void)madvise(p, bytes, MADV_HUGEPAGE); /* advice only */
	}
#endif
	return p;
}

static void table_free(slot_t *slots, size_t nslots)
{
	if (slots != NULL) {
		munmap(slots, nslots * sizeof(slot_t));
	}
}

static inline const uint8_t *at(uint64_t addr)
{
	return (const uint8_t *)(uintptr_t)addr;
}

static inline unsigned slot_klen(uint32_t info)
{
	return info & KLEN_MAX;
}

static inline unsigned slot_kind(uint32_t info)
{
	return (info >> KLEN_BITS) & ((1u << KIND_BITS) - 1);
}

static inline size_t slot_vlen(uint32_t info)
{
	return info >> (KLEN_BITS + KIND_BITS);
}

/* Puts a slot known to be absent into `slots`; updates max_probe. */
static void place(tal_index_t *ix, slot_t *slots, size_t mask, uint64_t h, slot_t s)
{
	size_t i = h & mask;
	unsigned d = 0;

	while (slots[i].info != 0) {
		i = (i + 1) & mask;
		d++;
	}
	slots[i] = s;
	if (d > ix->max_probe) {
		ix->max_probe = d;
	}
}

static int grow(tal_index_t *ix)
{
	size_t nslots = (ix->mask + 1) * 2;
	slot_t *slots = table_alloc(nslots);
	if (slots == NULL) {
		return TAL_ENOMEM;
	}
	ix->max_probe = 0;
	for (size_t i = 0; i <= ix->mask; i++) {
		slot_t s = ix->slots[i];
		if (s.info != 0) {
			place(ix, slots, nslots - 1, hash(ix->seed, at(s.addr), slot_klen(s.info)),
			      s);
		}
	}
	table_free(ix->slots, ix->mask + 1);
	ix->slots = slots;
	ix->mask = nslots - 1;
	return 0;
}

int tal_index_new(size_t expect, uint64_t seed, tal_index_t **out)
{
	size_t nslots = MIN_SLOTS;

	*out = NULL;
	while (nslots / LOAD_DEN * LOAD_NUM < expect && nslots < ((size_t)1 << 40)) {
		nslots *= 2;
	}
	tal_index_t *ix = calloc(1, sizeof(*ix));
	if (ix == NULL) {
		return TAL_ENOMEM;
	}
	ix->slots = table_alloc(nslots);
	if (ix->slots == NULL) {
		free(ix);
		return TAL_ENOMEM;
	}
	ix->seed = seed;
	ix->mask = nslots - 1;
	*out = ix;
	return 0;
}

void tal_index_free(tal_index_t *ix)
{
	if (ix == NULL) {
		return;
	}
	table_free(ix->slots, ix->mask + 1);
	free(ix);
}

/* The slot holding `key`, or NULL; `h` is its hash. */
static const slot_t *probe(const tal_index_t *ix, uint64_t h, const uint8_t *key, size_t klen)
{
	uint32_t tag = (uint32_t)(h >> 32);
	size_t i = h & ix->mask;

	for (unsigned d = 0; d <= ix->max_probe; d++, i = (i + 1) & ix->mask) {
		const slot_t *s = &ix->slots[i];
		if (s->info == 0) {
			return NULL;
		}
		if (s->tag == tag && slot_klen(s->info) == klen &&
		    memcmp(at(s->addr), key, klen) == 0) {
			return s;
		}
	}
	return NULL;
}

static int add(tal_index_t *ix, const uint8_t *key, size_t klen, unsigned kind, size_t vlen,
               bool if_absent)
{
	if (klen == 0 || klen > KLEN_MAX) {
		return TAL_EINVAL;
	}
	uint64_t h = hash(ix->seed, key, klen);
	if (if_absent && probe(ix, h, key, klen) != NULL) {
		return 0;
	}
	if ((ix->count + 1) * LOAD_DEN > (ix->mask + 1) * LOAD_NUM) {
		int ret = grow(ix);
		if (ret != 0) {
			return ret;
		}
	}
	slot_t s = {
		.tag = (uint32_t)(h >> 32),
		.info = (uint32_t)(klen | kind << KLEN_BITS | vlen << (KLEN_BITS + KIND_BITS)),
		.addr = (uint64_t)(uintptr_t)key,
	};
	place(ix, ix->slots, ix->mask, h, s);
	ix->count++;
	ix->ents += kind == TAL_INDEX_ENT;
	return 0;
}

int tal_index_add(tal_index_t *ix, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	bool inline_val = val == key + klen && vlen <= VLEN_MAX;
	return add(ix, key, klen, inline_val ? TAL_INDEX_NODE : TAL_INDEX_TREE,
	           inline_val ? vlen : 0, false);
}

int tal_index_add_ent(tal_index_t *ix, const uint8_t *key, size_t klen)
{
	return add(ix, key, klen, TAL_INDEX_ENT, 0, true);
}

int tal_index_find(const tal_index_t *ix, const uint8_t *key, size_t klen, const uint8_t **val,
                   size_t *vlen)
{
	if (klen == 0 || klen > KLEN_MAX) {
		return TAL_INDEX_TREE;
	}
	const slot_t *s = probe(ix, hash(ix->seed, key, klen), key, klen);
	if (s == NULL) {
		return TAL_INDEX_ABSENT;
	}
	unsigned kind = slot_kind(s->info);
	if (kind == TAL_INDEX_NODE) {
		*val = at(s->addr) + klen;
		*vlen = slot_vlen(s->info);
	}
	return (int)kind;
}

uint64_t tal_index_hash(const tal_index_t *ix, const uint8_t *key, size_t klen)
{
	return hash(ix->seed, key, klen);
}

void tal_index_prefetch(const tal_index_t *ix, uint64_t h, int stage)
{
	size_t i = h & ix->mask;

	if (stage == 0) {
		__builtin_prefetch(&ix->slots[i]);
		return;
	}
	/* The home slot and the rest of its cache line, where most keys are. */
	uint32_t tag = (uint32_t)(h >> 32);
	for (unsigned d = 0; d < 4 && d <= ix->max_probe; d++, i = (i + 1) & ix->mask) {
		const slot_t *s = &ix->slots[i];
		if (s->info == 0) {
			return;
		}
		if (s->tag == tag) {
			const uint8_t *p = at(s->addr);
			__builtin_prefetch(p);
			__builtin_prefetch(p + 64);
			__builtin_prefetch(p + 128);
			return;
		}
	}
}

size_t tal_index_count(const tal_index_t *ix)
{
	return ix->count;
}

size_t tal_index_ents(const tal_index_t *ix)
{
	return ix->ents;
}

size_t tal_index_bytes(const tal_index_t *ix)
{
	return (ix->mask + 1) * sizeof(slot_t);
}

unsigned tal_index_max_probe(const tal_index_t *ix)
{
	return ix->max_probe;
}
