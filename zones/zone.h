/*
 * zones/zone.h -- policy zones: creation, settings, listing.
 *
 * A zone is created once ("tallowctl init") with its apex, name servers
 * (each with optional glue addresses when inside the zone), the SOA mailbox,
 * the TTL of its records and the negative TTL (SOA MINIMUM, RFC 2308).  The
 * serial starts at the current Unix time (a common convention that keeps it
 * ahead of a zone recreated later) and then increases by one per committed
 * change, wrapping per RFC 1982.
 *
 * Creation writes the zone value (TAL_DB_ZONES), the apex node (SOA, NS with
 * glue) and glue nodes in one transaction.  Zones never nest
 * (TAL_EZONE_NEST).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "zones/name.h"

#define TAL_ZONE_MAX_NS    13
#define TAL_ZONE_MAX_ADDRS 8

typedef struct {
	char name[TAL_DOMAIN_TEXTSZ];
	int naddrs;
	char addrs[TAL_ZONE_MAX_ADDRS][48]; /* textual IPv4/IPv6 glue addresses */
} tal_ns_t;

typedef struct {
	char apex[TAL_DOMAIN_TEXTSZ]; /* normalised */
	int nns;
	tal_ns_t ns[TAL_ZONE_MAX_NS];
	char mbox[TAL_DOMAIN_TEXTSZ];    /* SOA RNAME as a mailbox, "hostmaster@example.net" */
	uint32_t ttl;                    /* TTL of TXT, A, NS, SOA records; default 3600 */
	uint32_t negative_ttl;           /* SOA MINIMUM; default 300 */
	uint32_t refresh, retry, expire; /* SOA timers; defaults 3600, 600, 1209600 */
	uint32_t serial;                 /* read: current serial; ignored on create */
	uint32_t zone_id;                /* read only */
	uint64_t journal_limit; /* bytes of journal kept (zones/journal.h); 0: the default */
} tal_zone_info_t;

/*
 * Fills `cfg` with the defaults for `apex` (which it normalises):
 * ns = "ns1.<apex>" without glue, mbox = "hostmaster@<apex>", TTLs as above,
 * journal_limit = TAL_JOURNAL_LIMIT_DEFAULT (zones/journal.h).
 * 0 or a tal_domain_normalise error.
 */
int tal_zone_defaults(tal_zone_info_t *cfg, const char *apex);

/*
 * Creates a zone.  Validates every field (names, addresses: TAL_EADDR;
 * mailbox: TAL_EMBOX; TTLs: TAL_ETTL; glue given for an out-of-zone name:
 * TAL_EINVAL; an in-zone NS without glue is allowed but warned about by the
 * caller).  TAL_EEXIST if the zone exists, TAL_EZONE_NEST if it would nest.
 */
int tal_zone_create(tal_store_t *st, const tal_zone_info_t *cfg);

/*
 * Resolves which zone a command acts on: `apex` when given (normalised;
 * TAL_ENOZONE if absent), otherwise the only zone in the database
 * (TAL_ENOZONE when there is none, TAL_EZONE_AMBIG when several).
 * Fills `out` with the zone's settings and current serial.
 */
int tal_zone_resolve(tal_store_t *st, const char *apex, tal_zone_info_t *out);

/* Calls `cb` for every zone, in canonical order; stops early on non-zero and returns it. */
int tal_zone_foreach(tal_store_t *st, int (*cb)(const tal_zone_info_t *zone, void *arg), void *arg);
