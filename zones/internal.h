/*
 * zones/internal.h -- helpers shared by the zones/ sources, not part of any
 * contract outside the module (tal__ prefix, as libuv's uv__).
 *
 * The zone value's private part (after the negative SOA, common/node.h) is
 * laid out as
 *
 *   1  private format version (1)
 *   4  ttl, 4 negative ttl, 4 refresh, 4 retry, 4 expire
 *   8  journal limit (bytes), 8 journal bytes in use,
 *   8  first journal sequence, 8 next journal sequence
 *   1+n mailbox text ("user@domain")
 *   1  number of name servers, each: 1+n name, 1 number of addresses,
 *      each 1+n address text
 *
 * and is rewritten whole with every commit, which also keeps the journal
 * counters in the same value as the serial they belong to.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/dname.h"
#include "store/store.h"
#include "zones/zone.h"

/* A growing byte buffer; one owner, freed with tal__buf_free. */
typedef struct {
	uint8_t *p;
	size_t len;
	size_t cap;
} tal__buf_t;

int tal__buf_reserve(tal__buf_t *b, size_t more);
void tal__buf_free(tal__buf_t *b);

static inline int tal__buf_put(tal__buf_t *b, const void *src, size_t n)
{
	if (n == 0) {
		return 0;
	}
	if (b->cap - b->len < n) {
		int rc = tal__buf_reserve(b, n);
		if (rc < 0) {
			return rc;
		}
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
	return 0;
}

/* The journal counters kept in the zone value's private part. */
typedef struct {
	uint64_t limit;
	uint64_t bytes;
	uint64_t first;
	uint64_t next;
} tal__jstate_t;

/* A zone as loaded inside a transaction. */
typedef struct {
	tal_zone_info_t info;
	tal__jstate_t js;
	uint8_t key[TAL_KEY_MAXLEN];
	size_t keylen;
	uint8_t wire[TAL_DNAME_MAXLEN];
	size_t wirelen;
} tal__zone_t;

/*
 * Loads zone `apex` (normalised text) in `txn`.  0, TAL_ENOZONE,
 * TAL_ECORRUPT, or a store error.
 */
int tal__zone_load(tal_txn_t *txn, const char *apex, tal__zone_t *z);

/*
 * Opens a read transaction and loads zone `apex` in it, for the readers of
 * policies and the journal.  On 0 the caller owns *txn (tal_txn_abort) and
 * *z (free); on error both are NULL.  Errors as tal__zone_load, TAL_ENOMEM.
 */
int tal__zone_read_begin(tal_store_t *st, const char *apex, tal_txn_t **txn, tal__zone_t **z);

/* Parses a zone value into `z` (key fields are left alone).  0 or TAL_ECORRUPT. */
int tal__zone_decode(const uint8_t *val, size_t len, tal__zone_t *z);

/*
 * Builds the zone value (header, negative SOA, private part) for `z` with
 * serial z->info.serial into `out` (appended).  0 or TAL_ENOMEM/TAL_EINVAL.
 */
int tal__zone_encode(const tal__zone_t *z, tal__buf_t *out);

/*
 * Overwrites the serial in the SOA RR of a node value (the apex node), in
 * place.  0, TAL_ECORRUPT.
 */
int tal__node_set_soa_serial(uint8_t *node, size_t len, uint32_t serial);

/*
 * Parses one TXT character-string payload.  Returns 1 when it is a TAL1
 * record (then *has_tid says whether a tid tag was present, `id` and `dkim`
 * are filled, dkim "" when absent), 0 when it does not start with "v=TAL1"
 * (a foreign TXT, ignored by clients), or TAL_ETENANT / TAL_EDKIM /
 * TAL_ESYNTAX when a TAL1 record's tags are malformed.
 */
int tal__txt_parse(const uint8_t *s, size_t n, bool *has_tid, uint8_t id[16], char *dkim);

/* The apex a change was made for (normalised text, owned by the change). */
struct tal_change;
const char *tal__change_apex(const struct tal_change *ch);

/* Key of a normalised domain (labels reversed, 0x00 after each); returns its length. */
int tal__domain_key(const char *domain, uint8_t *key);

/*
 * Appends the journal record for a commit and trims old records to the
 * zone's limit, updating z->js.  `removed`/`added` hold the RRs; when either
 * is NULL the change was too large to keep and a TAL_JOURNAL_F_TOO_LARGE
 * marker is stored instead.
 */
int tal__journal_append(tal_txn_t *txn, tal__zone_t *z, uint32_t serial_from, uint32_t serial_to,
                        const tal__buf_t *removed, uint32_t nremoved, const tal__buf_t *added,
                        uint32_t nadded);

/* Serial arithmetic of RFC 1982 §3.1 for SERIAL_BITS = 32. */
static inline uint32_t tal__serial_next(uint32_t s)
{
	return (uint32_t)((uint64_t)s + 1);
}
