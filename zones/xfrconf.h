/*
 * zones/xfrconf.h -- zone transfer settings kept in the database
 * (TAL_DB_CONFIG): TSIG keys, per-zone transfer access lists and per-zone
 * NOTIFY targets.  tallowctl writes them; tallowd reads them inside the
 * read transaction of each transfer request, so a change is effective for
 * the next request, without a restart, and the database file holds the
 * whole truth.
 *
 * Keys in TAL_DB_CONFIG:
 *
 *   "tsig" 0x00 <key name, normalised text>     -> TSIG key value
 *   "xacl" 0x00 <zone id, u32 big-endian>       -> access list value
 *   "ntfy" 0x00 <zone id, u32 big-endian>       -> notify list value
 *
 * TSIG key value:    1 version (1), 1 algorithm (enum tal_tsig_alg),
 *                    2 secret length n, n secret octets.
 * Access list value: 1 version (1), then entries, each
 *                    1 family (4 or 6), 1 prefix length, 16 address
 *                    (IPv4 in the first 4 octets, the rest zero),
 *                    1 key name length k, k key name octets (0: no key).
 * Notify list value: 1 version (1), then entries, each
 *                    1 family (4 or 6), 2 port, 16 address,
 *                    1 key name length k, k key name octets.
 *
 * Access rule: a transfer is allowed when some entry's prefix contains the
 * client's address and, if the entry names a key, the request was signed
 * (and verified) with that key.  No entry: refused.
 *
 * Secrets are never logged; only `tal_tsig_key_get` and the foreach calls
 * return them, and the callers decide what to print.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/dname.h"
#include "store/store.h"

#define TAL_TSIG_SECRET_MAX 128
#define TAL_XFR_KEYNAME_MAX 254 /* text octets of a key name, no trailing dot */
#define TAL_XFR_MAX_ENTRIES 256 /* per zone and list */

enum tal_tsig_alg {
	TAL_TSIG_HMAC_SHA1 = 1,
	TAL_TSIG_HMAC_SHA224 = 2,
	TAL_TSIG_HMAC_SHA256 = 3,
	TAL_TSIG_HMAC_SHA384 = 4,
	TAL_TSIG_HMAC_SHA512 = 5,
};

typedef struct {
	char name[TAL_XFR_KEYNAME_MAX + 1]; /* normalised: lowercase, no trailing dot */
	int alg;                            /* enum tal_tsig_alg */
	uint8_t secret[TAL_TSIG_SECRET_MAX];
	size_t secret_len;
} tal_tsig_key_t;

/* An address with a prefix length (the ACL) or a port (notify targets). */
typedef struct {
	int family; /* 4 or 6 */
	uint8_t addr[16];
	int prefix;                        /* ACL: 0..32 or 0..128 */
	uint16_t port;                     /* notify: 53 unless given */
	char key[TAL_XFR_KEYNAME_MAX + 1]; /* "" when none */
} tal_xfr_entry_t;

/* Algorithm name ("hmac-sha256") to enum and back.  0 / NULL when unknown. */
int tal_tsig_alg_from_text(const char *text);
const char *tal_tsig_alg_name(int alg);

/*
 * Normalises a key name (a domain name: lowercase, no trailing dot) into
 * `out` (TAL_XFR_KEYNAME_MAX + 1 octets).  0 or TAL_EDNAME.
 */
int tal_tsig_name_normalise(const char *text, char *out);

/*
 * Parses "ADDRESS[/LEN]" (ACL) into `e` (family, addr with host bits
 * cleared, prefix; no LEN means a host prefix).  0 or TAL_EADDR.
 */
int tal_xfr_prefix_parse(const char *text, tal_xfr_entry_t *e);

/*
 * Parses "ADDRESS[@PORT]" (notify target; an IPv6 ADDRESS may be in
 * brackets, "[2001:db8::53]@5300") into `e`.  0 or TAL_EADDR.
 */
int tal_xfr_target_parse(const char *text, tal_xfr_entry_t *e);

/* Writes "ADDRESS/LEN" or "ADDRESS@PORT" (notify != 0) into buf (>= 64 octets). */
void tal_xfr_entry_text(const tal_xfr_entry_t *e, bool notify, char *buf, size_t size);

/*
 * Management (tallowctl): each call is one write transaction.
 *   tal_tsig_key_put: stores `key` (TAL_EEXIST if a key of that name exists).
 *   tal_tsig_key_del: TAL_ENOTFOUND when absent; TAL_EBUSY when an access
 *                     list or notify target of some zone still names it.
 *   tal_xfr_list_add: appends `e` to the zone's ACL (notify false) or notify
 *                     list; TAL_EEXIST if an equal entry exists, TAL_ENOTFOUND
 *                     if it names a key that does not exist, TAL_ERANGE when
 *                     the list is full.
 *   tal_xfr_list_del: removes the equal entry; TAL_ENOTFOUND when absent.
 * Other errors are store errors.
 */
int tal_tsig_key_put(tal_store_t *st, const tal_tsig_key_t *key);
int tal_tsig_key_del(tal_store_t *st, const char *name);
int tal_xfr_list_add(tal_store_t *st, uint32_t zone_id, bool notify, const tal_xfr_entry_t *e);
int tal_xfr_list_del(tal_store_t *st, uint32_t zone_id, bool notify, const tal_xfr_entry_t *e);

/* Reads key `name` (normalised) in `txn`.  0, TAL_ENOTFOUND, TAL_ECORRUPT. */
int tal_tsig_key_get(tal_txn_t *txn, const char *name, tal_tsig_key_t *key);

/* Calls `cb` for every key, in name order; stops early on non-zero and returns it. */
int tal_tsig_key_foreach(tal_txn_t *txn, int (*cb)(const tal_tsig_key_t *key, void *arg),
                         void *arg);

/*
 * Calls `cb` for every entry of a zone's ACL or notify list, in the order
 * added; stops early on non-zero and returns it.  0 (also when the list is
 * empty), TAL_ECORRUPT, or a store error.
 */
int tal_xfr_list_foreach(tal_txn_t *txn, uint32_t zone_id, bool notify,
                         int (*cb)(const tal_xfr_entry_t *e, void *arg), void *arg);

/*
 * The access decision for a transfer of zone `zone_id` requested from
 * `addr` (family 4 or 6, 4 or 16 octets), signed with key `key` (already
 * verified; NULL or "" when unsigned).  Returns 1 allowed, 0 refused, or a
 * negative code (TAL_ECORRUPT, store errors) which callers treat as refused.
 */
int tal_xfr_acl_check(tal_txn_t *txn, uint32_t zone_id, int family, const uint8_t *addr,
                      const char *key);

/*
 * Drops the oldest journal records (zones/journal.h) of zone `apex`
 * (normalised) so that at most `keep` remain, in one write transaction that
 * also updates the zone's journal counters.  A secondary whose serial is no
 * longer covered then gets the full zone in answer to IXFR.  Sets *dropped
 * to the number of records removed.  0, TAL_ENOZONE, or a store error.
 */
int tal_xfr_journal_trim(tal_store_t *st, const char *apex, uint64_t keep, uint64_t *dropped);
