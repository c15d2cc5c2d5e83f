/*
 * common/node.h -- the answer-ready value formats shared by zones/ (which
 * writes them) and server/ (which answers from them).  The store keeps them
 * as opaque bytes.
 *
 * All integers are big-endian.  Resource records are kept as they go on the
 * wire *without their owner name*: TYPE(2) CLASS(2) TTL(4) RDLENGTH(2)
 * RDATA, with names inside RDATA uncompressed.  The server writes the owner
 * as a compression pointer to the question name (or to the apex suffix of
 * it) and then copies the stored bytes, so answering is a lookup and a copy,
 * as rbldnsd pre-digests its data.
 *
 * NODE VALUE (nodes DB, key = the owner's key, see common/dname.h)
 *
 *   off size
 *   0   1    TAL_NODE_VERSION
 *   1   1    flags: TAL_NODE_F_TENANTS if a tenant section follows the RRsets
 *   2   2    number of RRsets (at most one per type, sorted by type)
 *   4   ...  RRsets, each:
 *              2  TYPE
 *              2  number of RRs
 *              4  length of the RR bytes that follow (all RRs)
 *              2  length of the additional bytes after them (0 unless NS)
 *              .. RRs, each TYPE CLASS TTL RDLENGTH RDATA (no owner)
 *              .. additional RRs, each with a full uncompressed owner name:
 *                 the glue A/AAAA of in-zone name servers (NS RRsets only)
 *   then, if TAL_NODE_F_TENANTS (policy nodes, D.Z):
 *              4  TTL of the synthesised A records
 *              2  number of tenants n (0 for a deny-all policy)
 *              16*n tenant IDs, binary GUIDs, sorted by memcmp ascending
 *
 * A policy node D.Z carries the TXT RRset of DESIGN.md and the tenant
 * section.  The A view "<guid>.D.Z A 127.0.0.2" is NOT stored as nodes: it
 * is synthesised from the tenant section, so one node serves both views.  To
 * keep that unambiguous, zones/ refuses any stored name with a label shaped
 * like a GUID (TAL_ELABEL_GUID): a query whose first label is a GUID is
 * answered from the parent node alone.  Export, AXFR and NSEC render the
 * synthesised names explicitly.  The policy TXT RRset is kept sorted by
 * tenant ID, so renders are deterministic.
 *
 * ZONE VALUE (zones DB, key = the apex key)
 *
 *   0   1    TAL_ZONE_VERSION
 *   1   3    reserved, zero
 *   4   4    zone id (unique in the database, never reused; journal keys use it)
 *   8   4    serial (the same as in the SOA RDATA)
 *   12  2    length s of the negative-answer SOA RR that follows
 *   14  s    the SOA RR (TYPE..RDATA, no owner) with TTL = min(SOA TTL, MINIMUM)
 *            (RFC 2308 §3), ready for the authority section of NXDOMAIN/NODATA
 *   14+s ..  zones/-private configuration (TTLs, NS list, journal limits),
 *            which the server never reads.
 *
 * The apex node (nodes DB, key = apex key) holds the apex SOA and NS RRsets
 * (with glue in the NS RRset's additional bytes); glue names inside the zone
 * are ordinary nodes with A/AAAA RRsets.
 *
 * Nothing here allocates.  Views borrow the value bytes and live as long as
 * they do (for the store: until the read transaction is reset).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/wire.h"

#define TAL_NODE_VERSION  1
#define TAL_ZONE_VERSION  1
#define TAL_NODE_F_TENANTS 0x01

#define TAL_NODE_HDRLEN	  4
#define TAL_RRSET_HDRLEN  10
#define TAL_ZONE_HDRLEN	  14
#define TAL_TENANT_IDLEN  16

/* RR types and classes tallow uses. */
enum {
	TAL_TYPE_A = 1,
	TAL_TYPE_NS = 2,
	TAL_TYPE_SOA = 6,
	TAL_TYPE_TXT = 16,
	TAL_TYPE_AAAA = 28,
	TAL_TYPE_OPT = 41,
	TAL_TYPE_IXFR = 251,
	TAL_TYPE_AXFR = 252,
	TAL_TYPE_ANY = 255,
	TAL_CLASS_IN = 1,
	TAL_CLASS_CH = 3,
	TAL_CLASS_ANY = 255,
};

/* One RRset of a node, borrowed. */
typedef struct {
	uint16_t type;
	uint16_t count;
	const uint8_t *rrs; /* count RRs, TYPE..RDATA each */
	uint32_t rrs_len;
	const uint8_t *add; /* additional RRs with owners; NULL if none */
	uint16_t add_len;
} tal_rrset_view_t;

/* The tenant section of a policy node, borrowed. */
typedef struct {
	bool present;
	uint32_t ttl;
	uint16_t count;
	const uint8_t *ids; /* count * 16 octets, sorted */
} tal_tenants_view_t;

/*
 * Finds the RRset of `type` in a node value.  Returns 0 and fills `out`,
 * TAL_ENOTFOUND if the node has no such RRset, TAL_EMALF if the value is
 * not a well-formed node.
 */
int tal_node_find(const uint8_t *node, size_t len, uint16_t type, tal_rrset_view_t *out);

/* Iteration state over a node's RRsets; zero-initialise before the first call. */
typedef struct {
	size_t off;
	uint16_t idx;
} tal_node_iter_t;

/*
 * Iterates the RRsets in stored (type) order: each call fills `out` and
 * advances `it`.  Returns 0, TAL_ENOTFOUND after the last one, or TAL_EMALF.
 */
int tal_node_next(const uint8_t *node, size_t len, tal_node_iter_t *it, tal_rrset_view_t *out);

/*
 * Reads the tenant section.  Returns 0 (out->present false when the node has
 * none) or TAL_EMALF.
 */
int tal_node_tenants(const uint8_t *node, size_t len, tal_tenants_view_t *out);

/* True when the 16-octet id is in the (sorted) tenant section. */
bool tal_tenants_contains(const tal_tenants_view_t *t, const uint8_t *id);

/* Zone value accessors.  Return 0 or TAL_EMALF. */
typedef struct {
	uint32_t zone_id;
	uint32_t serial;
	const uint8_t *neg_soa; /* TYPE..RDATA */
	uint16_t neg_soa_len;
	const uint8_t *priv; /* zones/-private bytes */
	size_t priv_len;
} tal_zone_view_t;

int tal_zone_parse(const uint8_t *val, size_t len, tal_zone_view_t *out);

/*
 * Parses a GUID-shaped label of exactly 36 octets (8-4-4-4-12 hex digits,
 * either case) into 16 octets.  Returns true on success.  Used on the query
 * path and by validation; it never allocates.
 */
bool tal_guid_label_parse(const uint8_t *label, size_t len, uint8_t *id);
