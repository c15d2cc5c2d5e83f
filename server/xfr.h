/*
 * server/xfr.h -- zone transfers out of tallowd: AXFR (RFC 5936) and IXFR
 * (RFC 1995) over TCP, with access control and TSIG (RFC 8945).
 *
 * Model: a transfer is a stream of response messages produced one at a
 * time.  The TCP layer asks tal_xfr_is_request() about each request; for a
 * transfer it makes a tal_xfr_t and then calls tal_xfr_next() each time the
 * previous message has been written, until it returns 0.  Between messages
 * the worker's loop serves other clients, so a long transfer blocks nobody.
 *
 * Consistency: tal_xfr_new() opens one read snapshot (tal_reader_snapshot)
 * that every message of the transfer reads, so the zone sent is exactly the
 * zone of one commit, whatever tallowctl commits meanwhile.  The snapshot
 * is released by tal_xfr_free().  A transfer still being read after
 * TAL_XFR_MAX_SECONDS ends with a SERVFAIL message, so no client can keep a
 * snapshot (and the pages it pins) open for ever.
 *
 * Decisions taken in tal_xfr_new(), in this order: malformed request
 * (FORMERR); question not a zone apex in the database (NOTAUTH); TSIG
 * present but its key unknown, signature or time wrong (NOTAUTH with the
 * TSIG error, RFC 8945 §5.2); address and key not allowed by the zone's
 * access list (REFUSED, zones/xfrconf.h); otherwise AXFR, or for IXFR: one
 * SOA when the client is up to date, the journal's differences when they
 * reach from the client's serial to the current one and hold fewer RRs than
 * the zone, else the full zone in AXFR form.  Every message of a signed transfer is signed.
 *
 * The AXFR stream is SOA, every node's RRsets (the apex SOA only at the
 * ends) and the synthesised A view of each policy (common/node.h), SOA;
 * owner names are compressed against the question (the apex) and the
 * previous owner; messages are at most TAL_XFR_MSG_TARGET octets unless a
 * single RR needs more.
 *
 * Threads: tal_xfr_init once before workers start; a tal_xfr_t belongs to
 * the thread that made it.  Counters are process-wide atomics.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "store/store.h"

#define TAL_XFR_MSG_TARGET  16384 /* compression pointers reach 16383 */
#define TAL_XFR_MAX_SECONDS 3600  /* a transfer still running after this ends with SERVFAIL */

typedef struct tal_xfr tal_xfr_t;

/* Process-wide transfer counters. */
typedef struct {
	uint64_t axfr;          /* full transfers sent for AXFR requests */
	uint64_t ixfr;          /* incremental transfers sent from the journal */
	uint64_t ixfr_full;     /* IXFR answered with the full zone (journal too short) */
	uint64_t ixfr_uptodate; /* IXFR answered with one SOA */
	uint64_t refused;       /* REFUSED by the access list */
	uint64_t notauth;       /* NOTAUTH: not a zone, or a TSIG failure */
	uint64_t messages;      /* response messages written */
} tal_xfr_stats_t;

/* Sets the store that transfers read (borrowed; outlives every transfer). */
void tal_xfr_init(tal_store_t *st);

/* True when `req` is a QUERY for type AXFR or IXFR (anything else: the query path). */
bool tal_xfr_is_request(const uint8_t *req, size_t len);

/*
 * Starts answering the transfer request `req` from `peer` at Unix time
 * `now`.  Returns the stream (owned by the caller, free with tal_xfr_free),
 * or NULL when out of memory.  The request bytes are not kept.
 */
tal_xfr_t *tal_xfr_new(const uint8_t *req, size_t len, const struct sockaddr *peer, uint64_t now);

/*
 * Writes the next response message into resp (cap octets, at least
 * TAL_MSG_MAXLEN).  Returns its length, or 0 when the stream is over.
 */
size_t tal_xfr_next(tal_xfr_t *x, uint8_t *resp, size_t cap);

/* Ends the stream (logging its summary) and releases its snapshot.  NULL is a no-op. */
void tal_xfr_free(tal_xfr_t *x);

/* Reads the process-wide counters. */
void tal_xfr_stats(tal_xfr_stats_t *out);
