/*
 * zones/journal.h -- the per-zone change journal, for IXFR (RFC 1995) and
 * for inspecting what each commit did.
 *
 * Every commit that changes records (zones/policy.h) appends one record in
 * the same write transaction that bumps the serial, so the journal and the
 * zone can never disagree.  Records live in TAL_DB_JOURNAL under
 *
 *   key   = zone id (u32, big-endian) || sequence number (u64, big-endian)
 *
 * so one zone's records are one contiguous key range, oldest first.  The
 * value is
 *
 *   off size
 *   0   4    serial before the change
 *   4   4    serial after it
 *   8   4    flags: TAL_JOURNAL_F_TOO_LARGE
 *   12  4    number of removed RRs r
 *   16  4    number of added RRs a
 *   20  ...  r removed RRs, then a added RRs, each in full uncompressed wire
 *            form: OWNER TYPE CLASS TTL RDLENGTH RDATA
 *
 * The RRs are the difference of the published data: policy TXT RRs and the
 * synthesised A-view RRs ("<guid>.D.Z A 127.0.0.2"); the SOA is not
 * included (an IXFR sender adds the old and new SOA itself).
 *
 * The journal of a zone is bounded (the zone's journal limit, default
 * TAL_JOURNAL_LIMIT_DEFAULT bytes of record values): appending trims the
 * oldest records in the same transaction.  A change whose record alone
 * exceeds the limit is stored as a marker with TAL_JOURNAL_F_TOO_LARGE and
 * no RRs, so the chain of serials stays continuous and an IXFR server knows
 * to fall back to AXFR across it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define TAL_JOURNAL_LIMIT_DEFAULT (64ULL << 20)
#define TAL_JOURNAL_HDRLEN        20
#define TAL_JOURNAL_KEYLEN        12
#define TAL_JOURNAL_F_TOO_LARGE   0x00000001u

/* One journal record, borrowed from the store for the duration of a callback. */
typedef struct {
	uint64_t seq;
	uint32_t serial_from;
	uint32_t serial_to;
	uint32_t flags; /* TAL_JOURNAL_F_* */
	uint32_t nremoved;
	uint32_t nadded;
	const uint8_t *removed; /* nremoved RRs, back to back */
	size_t removed_len;
	const uint8_t *added; /* nadded RRs, back to back */
	size_t added_len;
} tal_journal_rec_t;

/*
 * Calls `cb` for every journal record of zone `apex` (normalised), oldest
 * first, from one read snapshot.  Stops early on non-zero and returns it.
 * 0, TAL_ENOZONE, TAL_ECORRUPT (a record that does not parse), or a store
 * error.
 */
int tal_journal_foreach(tal_store_t *st, const char *apex,
                        int (*cb)(const tal_journal_rec_t *rec, void *arg), void *arg);

/* One RR of a record, borrowed from the record's bytes. */
typedef struct {
	const uint8_t *owner; /* uncompressed wire name */
	size_t owner_len;
	uint16_t type;
	uint16_t rclass;
	uint32_t ttl;
	const uint8_t *rdata;
	uint16_t rdlen;
} tal_journal_rr_t;

/*
 * Reads the RR at *off in [rrs, rrs + len) and advances *off past it.
 * 0, TAL_ENOTFOUND at the end, TAL_EMALF if the bytes do not parse.
 */
int tal_journal_rr_next(const uint8_t *rrs, size_t len, size_t *off, tal_journal_rr_t *out);
