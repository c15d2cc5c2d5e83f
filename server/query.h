/*
 * server/query.h -- from a request buffer to a response buffer.
 *
 * Model: the query layer knows nothing of sockets or libuv (Knot's
 * query/layer.h).  A network worker hands it the bytes of one DNS message
 * and a buffer for the answer, and gets back how many bytes to send (or 0:
 * send nothing).  The layer parses the header, question and OPT record with
 * a bounds-checked cursor (tal_query_parse), looks the name up through the
 * worker's tal_reader_t, and writes the answer from the answer-ready node
 * bytes (common/node.h).  The read snapshot is renewed per query, or once
 * per batch between tal_query_batch_begin/end (a UDP receive batch): either
 * way a commit by tallowctl is served by the next query or batch.
 *
 * It performs no allocation, no system call and no logging at default
 * level; per-query events are counters in tal_query_stats_t.  It never
 * aborts on input: malformed -> FORMERR or drop, internal failure ->
 * SERVFAIL.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dname.h"
#include "common/node.h"
#include "store/store.h"

#define TAL_EDNS_UDP_SIZE 1232 /* advertised and used cap, per the DNS flag day 2020 */
#define TAL_UDP_MIN_SIZE  512
#define TAL_MSG_MAXLEN    65535

enum tal_transport {
	TAL_TRANSPORT_UDP = 0,
	TAL_TRANSPORT_TCP = 1,
};

/* What tal_query_parse found in a request. */
typedef struct {
	uint16_t id;
	uint16_t flags; /* header flags word as received */
	uint8_t opcode;
	uint16_t qdcount, ancount, nscount, arcount;
	const uint8_t *qname; /* points into the request; uncompressed wire name */
	uint8_t qname_len;    /* wire octets, root included */
	uint16_t qtype;
	uint16_t qclass;
	size_t question_end; /* offset just past the question */
	bool has_edns;
	uint8_t edns_version;
	uint16_t edns_udp_size; /* as requested (0 when no OPT) */
	bool edns_do;
	uint16_t edns_flags; /* the 16 flag bits of the OPT TTL field */
	uint8_t edns_ext_rcode;
} tal_qinfo_t;

/*
 * Result of parsing, in order of precedence.  Values below TAL_PARSE_OK
 * mean "drop"; others are answered with the given rcode.
 */
enum tal_parse_result {
	TAL_PARSE_DROP = -1,    /* too short for a header, or QR=1: send nothing */
	TAL_PARSE_OK = 0,       /* a well-formed query */
	TAL_PARSE_FORMERR = 1,  /* answer FORMERR (question echoed when it parsed) */
	TAL_PARSE_NOTIMP = 4,   /* opcode other than QUERY */
	TAL_PARSE_BADVERS = 16, /* EDNS version > 0 */
};

/*
 * Parses header, question and the additional section (OPT; exactly one at
 * most; anything else there is skipped, TSIG later).  Never reads outside
 * [req, req + len).  Returns an enum tal_parse_result and fills what it
 * could of `qi`.
 */
int tal_query_parse(const uint8_t *req, size_t len, tal_qinfo_t *qi);

/*
 * Builds the store key of a question name (common/dname.h), exactly as
 * tal_dname_to_key does, but faster on the hot path.  `name` must be an
 * uncompressed wire name of `len` octets (as tal_query_parse leaves in
 * qi->qname) and `key` must hold TAL_KEY_MAXLEN octets.  Returns the key
 * length (len - 1), or TAL_EMALF when `name` is not such a name.
 */
int tal_query_key(const uint8_t *name, size_t len, uint8_t *key);

/* Per-worker counters (plain integers: one writer, the worker). */
typedef struct {
	uint64_t queries;
	uint64_t noerror, nxdomain, nodata, refused, formerr, servfail, notimp, badvers;
	uint64_t dropped;
	uint64_t truncated;
	uint64_t edns;
} tal_query_stats_t;

#define TAL_QUERY_PREFETCH_MAX 64

/* A request of a batch, parsed and its key built ahead (tal_query_prefetch). */
typedef struct {
	const uint8_t *req;
	size_t reqlen;
	int parse; /* tal_query_parse's result */
	tal_qinfo_t qi;
	int klen;  /* length of `key`; < 0: none built */
	bool guid; /* the A view: `key` is the parent's, `id` the tenant */
	uint8_t id[TAL_TENANT_IDLEN];
	uint8_t key[TAL_KEY_MAXLEN];
	uint64_t token; /* the store's prefetch token */
} tal_prepared_t;

/* A worker's answering state; transparent so it lives in the worker struct. */
typedef struct {
	tal_reader_t *reader; /* borrowed; owned by the worker */
	tal_query_stats_t stats;
	bool batch;     /* inside tal_query_batch_begin/end */
	bool snap;      /* the reader's snapshot is open */
	unsigned nprep; /* requests prepared in this batch */
	unsigned next;  /* the first of them not answered yet */
	tal_prepared_t prep[TAL_QUERY_PREFETCH_MAX];
} tal_answerer_t;

/*
 * Brackets requests answered from one snapshot of the store: the first
 * lookup opens it, tal_query_batch_end closes it.  A batch must be short
 * (one receive batch, microseconds): a held snapshot keeps the pages of
 * older commits from being reused.
 */
void tal_query_batch_begin(tal_answerer_t *a);
void tal_query_batch_end(tal_answerer_t *a);

/*
 * Optional, inside a batch: tal_query_prefetch for each request (up to
 * TAL_QUERY_PREFETCH_MAX), then tal_query_prefetch_nodes once, then the
 * answers, in the same order (requests may be skipped).  Each request is
 * parsed and its key built once, and the memory the lookups will read is
 * fetched for all of them at once, so their cache misses overlap.  The
 * answers are the same with or without; a request's bytes must not change
 * between its prefetch and its answer.  Without the store's index nothing
 * is prepared (there is nothing to fetch ahead).
 */
void tal_query_prefetch(tal_answerer_t *a, const uint8_t *req, size_t reqlen);
void tal_query_prefetch_nodes(tal_answerer_t *a);

/*
 * Answers one request.  `resp` must hold `respcap` octets, at least
 * TAL_MSG_MAXLEN for TCP and TAL_EDNS_UDP_SIZE for UDP.  For UDP the answer
 * is limited to the client's size (512 without EDNS, min(its EDNS size,
 * TAL_EDNS_UDP_SIZE) with it, never below 512) and truncated with TC when it
 * does not fit; for TCP it is limited to 65535.  Returns the response length
 * to send, or 0 to send nothing.
 */
size_t tal_query_answer(tal_answerer_t *a, const uint8_t *req, size_t reqlen, uint8_t *resp,
                        size_t respcap, enum tal_transport transport);
