/*
 * zones/journal.c -- the per-zone change journal (zones/journal.h).
 *
 * The counters (limit, bytes in use, first and next sequence) live in the
 * zone value, which every commit rewrites anyway, so appending costs one put
 * and trimming one get and one delete per dropped record, all in the
 * commit's transaction.
 */
#include "zones/journal.h"

#include <stdlib.h>
#include <string.h>

#include "common/dname.h"
#include "common/error.h"
#include "common/wire.h"
#include "zones/internal.h"

static void journal_key(uint8_t *key, uint32_t zone_id, uint64_t seq)
{
	tal_wire_write_u32(key, zone_id);
	tal_wire_write_u64(key + 4, seq);
}

int tal__journal_append(tal_txn_t *txn, tal__zone_t *z, uint32_t serial_from, uint32_t serial_to,
                        const tal__buf_t *removed, uint32_t nremoved, const tal__buf_t *added,
                        uint32_t nadded)
{
	uint8_t key[TAL_JOURNAL_KEYLEN];
	uint32_t flags = 0;
	uint64_t len;
	uint8_t *dst;
	int rc;

	if (removed == NULL || added == NULL) {
		flags = TAL_JOURNAL_F_TOO_LARGE;
		nremoved = nadded = 0;
		len = TAL_JOURNAL_HDRLEN;
	} else {
		len = TAL_JOURNAL_HDRLEN + (uint64_t)removed->len + added->len;
		if (len > z->js.limit) {
			flags = TAL_JOURNAL_F_TOO_LARGE;
			nremoved = nadded = 0;
			len = TAL_JOURNAL_HDRLEN;
		}
	}
	/* Trim the oldest records so that the new one fits the limit. */
	while (z->js.first < z->js.next && z->js.bytes + len > z->js.limit) {
		tal_val_t v;
		journal_key(key, z->info.zone_id, z->js.first);
		rc = tal_txn_get(txn, TAL_DB_JOURNAL, key, sizeof(key), &v);
		if (rc == 0) {
			uint64_t old = v.len;
			rc = tal_txn_del(txn, TAL_DB_JOURNAL, key, sizeof(key));
			z->js.bytes = z->js.bytes > old ? z->js.bytes - old : 0;
		} else if (rc == TAL_ENOTFOUND) {
			rc = 0;
		}
		if (rc < 0) {
			return rc;
		}
		z->js.first++;
	}
	if (z->js.first == z->js.next) {
		z->js.bytes = 0;
	}
	journal_key(key, z->info.zone_id, z->js.next);
	rc = tal_txn_reserve(txn, TAL_DB_JOURNAL, key, sizeof(key), (size_t)len, &dst);
	if (rc < 0) {
		return rc;
	}
	tal_wire_write_u32(dst, serial_from);
	tal_wire_write_u32(dst + 4, serial_to);
	tal_wire_write_u32(dst + 8, flags);
	tal_wire_write_u32(dst + 12, nremoved);
	tal_wire_write_u32(dst + 16, nadded);
	if (!(flags & TAL_JOURNAL_F_TOO_LARGE)) {
		if (removed->len > 0) {
			memcpy(dst + TAL_JOURNAL_HDRLEN, removed->p, removed->len);
		}
		if (added->len > 0) {
			memcpy(dst + TAL_JOURNAL_HDRLEN + removed->len, added->p, added->len);
		}
	}
	z->js.bytes += len;
	z->js.next++;
	return 0;
}

int tal_journal_rr_next(const uint8_t *rrs, size_t len, size_t *off, tal_journal_rr_t *out)
{
	size_t p = *off;

	if (p >= len) {
		return TAL_ENOTFOUND;
	}
	int ol = tal_dname_wire_len(rrs + p, len - p);
	if (ol < 0 || len - p - (size_t)ol < 10) {
		return TAL_EMALF;
	}
	out->owner = rrs + p;
	out->owner_len = (size_t)ol;
	p += (size_t)ol;
	out->type = tal_wire_read_u16(rrs + p);
	out->rclass = tal_wire_read_u16(rrs + p + 2);
	out->ttl = tal_wire_read_u32(rrs + p + 4);
	out->rdlen = tal_wire_read_u16(rrs + p + 8);
	p += 10;
	if (len - p < out->rdlen) {
		return TAL_EMALF;
	}
	out->rdata = rrs + p;
	*off = p + out->rdlen;
	return 0;
}

/* Length of the first `count` RRs at `rrs`, or a negative error. */
static long rrs_span(const uint8_t *rrs, size_t len, uint32_t count)
{
	size_t off = 0;
	tal_journal_rr_t rr;

	for (uint32_t i = 0; i < count; i++) {
		if (tal_journal_rr_next(rrs, len, &off, &rr) < 0) {
			return TAL_ECORRUPT;
		}
	}
	return (long)off;
}

int tal_journal_foreach(tal_store_t *st, const char *apex,
                        int (*cb)(const tal_journal_rec_t *rec, void *arg), void *arg)
{
	tal_txn_t *txn = NULL;
	tal_cursor_t *cur = NULL;
	tal__zone_t *z = NULL;
	uint8_t key[TAL_JOURNAL_KEYLEN];
	tal_val_t k, v;
	int rc;

	rc = tal__zone_read_begin(st, apex, &txn, &z);
	if (rc < 0) {
		goto cleanup;
	}
	rc = tal_cursor_open(txn, TAL_DB_JOURNAL, &cur);
	if (rc < 0) {
		goto cleanup;
	}
	journal_key(key, z->info.zone_id, 0);
	rc = tal_cursor_seek(cur, key, sizeof(key), &k, &v);
	while (rc == 0 && k.len == TAL_JOURNAL_KEYLEN && memcmp(k.data, key, 4) == 0) {
		tal_journal_rec_t rec;
		if (v.len < TAL_JOURNAL_HDRLEN) {
			rc = TAL_ECORRUPT;
			break;
		}
		rec.seq = tal_wire_read_u64(k.data + 4);
		rec.serial_from = tal_wire_read_u32(v.data);
		rec.serial_to = tal_wire_read_u32(v.data + 4);
		rec.flags = tal_wire_read_u32(v.data + 8);
		rec.nremoved = tal_wire_read_u32(v.data + 12);
		rec.nadded = tal_wire_read_u32(v.data + 16);
		const uint8_t *body = v.data + TAL_JOURNAL_HDRLEN;
		size_t blen = v.len - TAL_JOURNAL_HDRLEN;
		long rl = rrs_span(body, blen, rec.nremoved);
		long al = rl < 0 ? rl : rrs_span(body + rl, blen - (size_t)rl, rec.nadded);
		if (rl < 0 || al < 0 || (size_t)rl + (size_t)al != blen) {
			rc = TAL_ECORRUPT;
			break;
		}
		rec.removed = body;
		rec.removed_len = (size_t)rl;
		rec.added = body + rl;
		rec.added_len = (size_t)al;
		rc = cb(&rec, arg);
		if (rc != 0) {
			break;
		}
		rc = tal_cursor_next(cur, &k, &v);
	}
	if (rc == TAL_ENOTFOUND) {
		rc = 0;
	}
cleanup:
	tal_cursor_close(cur);
	tal_txn_abort(txn);
	free(z);
	return rc;
}
