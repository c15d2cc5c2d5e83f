/*
 * server/answer_xfr.c -- AXFR and IXFR streams from one read snapshot
 * (contract in server/xfr.h).
 *
 * The stream is a sequence of RRs produced by peek()/advance(): peek()
 * names the RR at the current position without moving, so an RR that does
 * not fit the message being written starts the next one.  Positions are a
 * phase (first SOA, nodes or journal records, last SOA) and, inside the
 * node walk, the cursor, the RRset iterator and the tenant index.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/dname.h"
#include "common/error.h"
#include "common/log.h"
#include "common/node.h"
#include "common/wire.h"
#include "server/query.h"
#include "server/xfr.h"
#include "zones/journal.h"
#include "zones/tsig.h"
#include "zones/xfrconf.h"

#define HDR_LEN    12
#define OPT_RR_LEN 11
#define FLAG_QR    0x8000
#define FLAG_AA    0x0400
#define FLAG_RD    0x0100
#define FLAG_CD    0x0010

enum {
	RCODE_NOERROR = 0,
	RCODE_FORMERR = 1,
	RCODE_SERVFAIL = 2,
	RCODE_REFUSED = 5,
	RCODE_NOTAUTH = 9,
};

enum kind {
	K_ERROR, /* one message with an rcode */
	K_SOA,   /* one message with the SOA (IXFR, up to date) */
	K_AXFR,  /* SOA, nodes, SOA */
	K_IXFR,  /* SOA, journal differences, SOA */
};

enum phase {
	P_SOA_FIRST,
	P_BODY,
	P_SOA_LAST,
	P_END,
};

/* Inside one journal record. */
enum jpart {
	J_OLD_SOA,
	J_REMOVED,
	J_NEW_SOA,
	J_ADDED,
};

/*
 * Compression table: hash of a name suffix -> offset of that suffix in the
 * message being written (open addressing, cleared by bumping the
 * generation).  Only offsets below 0x4000 can be pointed at.
 */
#define CTAB_SLOTS 2048

typedef struct {
	uint32_t gen;
	uint32_t hash;
	uint16_t off;
} cslot_t;

struct tal_xfr {
	/* The request. */
	uint16_t id;
	uint16_t flags;
	uint16_t qtype;
	uint8_t question[TAL_DNAME_MAXLEN + 4];
	size_t qlen;
	bool edns;
	char peer[INET6_ADDRSTRLEN + 8];
	char apex_text[TAL_DNAME_TEXTSZ];

	/* What to send. */
	enum kind kind;
	int rcode;
	enum phase phase;
	bool done;
	bool err_logged;

	/* TSIG. */
	bool tsig;                /* sign every message */
	bool tsig_error_unsigned; /* BADKEY/BADSIG: echo TSIG with an empty MAC */
	uint16_t tsig_error;
	tal_tsig_rr_t treq;
	tal_tsig_key_t key;
	uint8_t mac[TAL_TSIG_MAC_MAX];
	size_t mac_len;
	bool first_sent;
	uint64_t now;

	/* The snapshot. */
	tal_txn_t *txn;
	tal_cursor_t *cur;
	uint8_t apex_key[TAL_KEY_MAXLEN];
	size_t apex_keylen;
	uint8_t apex_wire[TAL_DNAME_MAXLEN];
	size_t apex_wirelen;
	uint32_t zone_id;
	uint32_t serial;
	const uint8_t *soa; /* owner-less SOA RR from the apex node */
	size_t soa_len;
	size_t soa_serial_off; /* offset of SERIAL inside soa */

	/* AXFR node walk. */
	bool started;
	bool have_node;
	tal_val_t nk, nv;
	uint8_t owner[TAL_DNAME_MAXLEN];
	size_t owner_len;
	bool at_apex;
	tal_node_iter_t it;
	bool have_set;
	bool sets_done;
	tal_rrset_view_t set;
	uint16_t rr_idx;
	size_t rr_off;
	tal_tenants_view_t tv;
	uint16_t tenant_idx;

	/* IXFR. */
	uint32_t client_serial;
	bool diff_larger; /* IXFR sent in full: the difference is larger than the zone */
	uint64_t jstart;  /* first sequence to send */
	tal_journal_rec_t rec;
	bool have_rec;
	enum jpart jpart;
	size_t joff;

	/* The RR peek() returns. */
	uint8_t scratch_owner[TAL_DNAME_MAXLEN];
	uint8_t scratch_rr[64 + 2 * TAL_DNAME_MAXLEN];

	/* Per message: name suffixes written so far, for compression. */
	uint32_t cgen; /* slots of older messages carry an older generation */
	cslot_t ctab[CTAB_SLOTS];

	uint64_t msgs, rrs, bytes;
};

static tal_store_t *xfr_store;
static _Atomic uint64_t c_axfr, c_ixfr, c_ixfr_full, c_uptodate, c_refused, c_notauth, c_msgs;

void tal_xfr_init(tal_store_t *st)
{
	xfr_store = st;
}

void tal_xfr_stats(tal_xfr_stats_t *out)
{
	out->axfr = atomic_load(&c_axfr);
	out->ixfr = atomic_load(&c_ixfr);
	out->ixfr_full = atomic_load(&c_ixfr_full);
	out->ixfr_uptodate = atomic_load(&c_uptodate);
	out->refused = atomic_load(&c_refused);
	out->notauth = atomic_load(&c_notauth);
	out->messages = atomic_load(&c_msgs);
}

bool tal_xfr_is_request(const uint8_t *req, size_t len)
{
	if (len < HDR_LEN + 5) {
		return false;
	}
	uint16_t flags = tal_wire_read_u16(req + 2);
	if ((flags & FLAG_QR) != 0 || ((flags >> 11) & 0x0F) != 0 ||
	    tal_wire_read_u16(req + 4) != 1) {
		return false;
	}
	size_t p = HDR_LEN;
	while (p < len && req[p] != 0) {
		if (req[p] > TAL_LABEL_MAXLEN) {
			return false;
		}
		p += 1 + (size_t)req[p];
	}
	if (p >= len || len - p < 5) {
		return false;
	}
	uint16_t qtype = tal_wire_read_u16(req + p + 1);
	return qtype == TAL_TYPE_AXFR || qtype == TAL_TYPE_IXFR;
}

/* Skips a possibly compressed name at *pos (bounded; pointers must go backwards). */
static bool skip_name(const uint8_t *msg, size_t len, size_t *pos)
{
	size_t p = *pos;

	for (;;) {
		if (p >= len) {
			return false;
		}
		if (msg[p] == 0) {
			*pos = p + 1;
			return true;
		}
		if ((msg[p] & 0xC0) == 0xC0) {
			if (len - p < 2) {
				return false;
			}
			*pos = p + 2;
			return true;
		}
		if (msg[p] > TAL_LABEL_MAXLEN) {
			return false;
		}
		p += 1 + (size_t)msg[p];
	}
}

/* The serial of the SOA in the authority section of an IXFR request. */
static bool ixfr_client_serial(const uint8_t *req, size_t len, const tal_qinfo_t *qi,
                               uint32_t *serial)
{
	size_t p = qi->question_end;

	for (uint16_t i = 0; i < qi->ancount; i++) {
		if (!skip_name(req, len, &p) || len - p < 10) {
			return false;
		}
		p += 10 + (size_t)tal_wire_read_u16(req + p + 8);
	}
	if (qi->nscount < 1 || !skip_name(req, len, &p) || len - p < 10 ||
	    tal_wire_read_u16(req + p) != TAL_TYPE_SOA) {
		return false;
	}
	size_t rdlen = tal_wire_read_u16(req + p + 8);
	size_t rd = p + 10;
	if (len - rd < rdlen) {
		return false;
	}
	size_t end = rd + rdlen;
	p = rd;
	if (!skip_name(req, end, &p) || !skip_name(req, end, &p) || end - p < 20) {
		return false;
	}
	*serial = tal_wire_read_u32(req + p);
	return true;
}

/* RFC 1982: true when a is newer than or equal to b. */
static bool serial_ge(uint32_t a, uint32_t b)
{
	return a == b || (int32_t)(a - b) > 0;
}

static void peer_text(const struct sockaddr *sa, char *buf, size_t size, int *family, uint8_t *addr)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	*family = 0;
	if (sa != NULL && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a));
		port = ntohs(in->sin_port);
		memcpy(addr, &in->sin_addr, 4);
		*family = 4;
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		port = ntohs(in6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			memcpy(addr, in6->sin6_addr.s6_addr + 12, 4);
			inet_ntop(AF_INET, addr, a, sizeof(a));
			*family = 4;
		} else {
			inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
			memcpy(addr, &in6->sin6_addr, 16);
			*family = 6;
		}
	}
	snprintf(buf, size, "%s#%u", a, port);
}

/* Finds the SOA of the apex node and where its SERIAL sits. */
static int load_soa(tal_xfr_t *x)
{
	tal_val_t apex;
	tal_rrset_view_t set;
	int rc;

	rc = tal_txn_get(x->txn, TAL_DB_NODES, x->apex_key, x->apex_keylen, &apex);
	if (rc != 0) {
		return rc == TAL_ENOTFOUND ? TAL_ECORRUPT : rc;
	}
	rc = tal_node_find(apex.data, apex.len, TAL_TYPE_SOA, &set);
	if (rc != 0 || set.count != 1 || set.rrs_len < 10) {
		return TAL_ECORRUPT;
	}
	size_t rdlen = tal_wire_read_u16(set.rrs + 8);
	if (set.rrs_len != 10 + rdlen) {
		return TAL_ECORRUPT;
	}
	const uint8_t *rd = set.rrs + 10;
	int m = tal_dname_wire_len(rd, rdlen);
	if (m < 0) {
		return TAL_ECORRUPT;
	}
	int r = tal_dname_wire_len(rd + m, rdlen - (size_t)m);
	if (r < 0 || rdlen - (size_t)m - (size_t)r < 20) {
		return TAL_ECORRUPT;
	}
	x->soa = set.rrs;
	x->soa_len = set.rrs_len;
	x->soa_serial_off = 10 + (size_t)m + (size_t)r;
	return 0;
}

/*
 * Returns 1 when the zone holds more than `limit` RRs, 0 when not, or a
 * negative code.  The walk stops as soon as it knows, so it costs no more
 * than sending the difference would.
 */
static int zone_has_more_rrs(tal_xfr_t *x, uint64_t limit)
{
	tal_cursor_t *cur = NULL;
	tal_val_t k, v;
	uint64_t n = 1; /* the closing SOA */
	int rc = tal_cursor_open(x->txn, TAL_DB_NODES, &cur);

	if (rc != 0) {
		return rc;
	}
	for (rc = tal_cursor_seek(cur, x->apex_key, x->apex_keylen, &k, &v); rc == 0 && n <= limit;
	     rc = tal_cursor_next(cur, &k, &v)) {
		tal_node_iter_t it = { 0 };
		tal_rrset_view_t set;
		tal_tenants_view_t tv;
		if (!tal_key_is_below(k.data, k.len, x->apex_key, x->apex_keylen)) {
			break;
		}
		while (tal_node_next(v.data, v.len, &it, &set) == 0) {
			n += set.count;
		}
		if (tal_node_tenants(v.data, v.len, &tv) == 0 && tv.present) {
			n += tv.count;
		}
	}
	tal_cursor_close(cur);
	if (rc != 0 && rc != TAL_ENOTFOUND) {
		return rc;
	}
	return n > limit ? 1 : 0;
}

/*
 * Checks that the journal holds a continuous chain from the client's serial
 * to the current one, without a too-large marker.  Returns 1 and sets
 * x->jstart when it does, 0 when not, or a negative code.
 */
static int journal_reaches(tal_xfr_t *x)
{
	uint8_t k[TAL_JOURNAL_KEYLEN];
	tal_val_t kv, v;
	bool found = false;
	uint32_t expect = x->client_serial;
	uint64_t diff_rrs = 0;
	int rc;

	tal_wire_write_u32(k, x->zone_id);
	memset(k + 4, 0, 8);
	rc = tal_cursor_open(x->txn, TAL_DB_JOURNAL, &x->cur);
	if (rc != 0) {
		return rc;
	}
	for (rc = tal_cursor_seek(x->cur, k, 4, &kv, &v); rc == 0;
	     rc = tal_cursor_next(x->cur, &kv, &v)) {
		if (kv.len != TAL_JOURNAL_KEYLEN || memcmp(kv.data, k, 4) != 0) {
			break;
		}
		if (v.len < TAL_JOURNAL_HDRLEN) {
			rc = TAL_ECORRUPT;
			break;
		}
		uint32_t from = tal_wire_read_u32(v.data);
		uint32_t to = tal_wire_read_u32(v.data + 4);
		uint32_t flags = tal_wire_read_u32(v.data + 8);
		if (!found) {
			if (from != x->client_serial) {
				continue;
			}
			found = true;
			x->jstart = tal_wire_read_u64(kv.data + 4);
		}
		if (from != expect || (flags & TAL_JOURNAL_F_TOO_LARGE) != 0) {
			found = false;
			break;
		}
		expect = to;
		diff_rrs += 2 + (uint64_t)tal_wire_read_u32(v.data + 12) +
		            tal_wire_read_u32(v.data + 16);
	}
	tal_cursor_close(x->cur);
	x->cur = NULL;
	if (rc != 0 && rc != TAL_ENOTFOUND) {
		return rc;
	}
	if (!found || expect != x->serial) {
		return 0;
	}
	/* A difference larger than the zone is sent as the zone (RFC 1995 §2). */
	rc = zone_has_more_rrs(x, diff_rrs);
	if (rc == 0) {
		x->diff_larger = true;
	}
	return rc;
}

static void set_error(tal_xfr_t *x, int rcode)
{
	x->kind = K_ERROR;
	x->rcode = rcode;
	if (rcode == RCODE_REFUSED) {
		atomic_fetch_add(&c_refused, 1);
	} else if (rcode == RCODE_NOTAUTH) {
		atomic_fetch_add(&c_notauth, 1);
	}
}

/* Everything tal_xfr_new decides; leaves x->kind and friends set. */
static void decide(tal_xfr_t *x, const uint8_t *req, size_t len, const struct sockaddr *peer)
{
	tal_qinfo_t qi;
	tal_val_t zone;
	tal_zone_view_t zv;
	uint8_t addr[16] = { 0 };
	char keyname[TAL_XFR_KEYNAME_MAX + 1] = "";
	int family, rc;

	peer_text(peer, x->peer, sizeof(x->peer), &family, addr);
	rc = tal_query_parse(req, len, &qi);
	x->id = qi.id;
	x->flags = qi.flags;
	if (qi.question_end > HDR_LEN && qi.question_end - HDR_LEN <= sizeof(x->question)) {
		x->qlen = qi.question_end - HDR_LEN;
		memcpy(x->question, req + HDR_LEN, x->qlen);
	}
	x->qtype = qi.qtype;
	if (rc != TAL_PARSE_OK && rc != TAL_PARSE_BADVERS) {
		set_error(x, RCODE_FORMERR);
		return;
	}
	x->edns = qi.has_edns;
	if (tal_dname_to_text(qi.qname, x->apex_text, sizeof(x->apex_text)) < 0) {
		set_error(x, RCODE_FORMERR);
		return;
	}
	if (qi.qtype == TAL_TYPE_IXFR && !ixfr_client_serial(req, len, &qi, &x->client_serial)) {
		set_error(x, RCODE_FORMERR);
		return;
	}
	rc = tal_tsig_find(req, len, &x->treq);
	if (rc == TAL_EMALF) {
		set_error(x, RCODE_FORMERR);
		return;
	}
	bool has_tsig = rc == 0;

	if (xfr_store == NULL || tal_reader_snapshot(xfr_store, &x->txn) != 0) {
		set_error(x, RCODE_SERVFAIL);
		return;
	}
	if (has_tsig) {
		if (tal_tsig_rr_keyname(&x->treq, keyname, sizeof(keyname)) != 0 ||
		    tal_tsig_key_get(x->txn, keyname, &x->key) != 0) {
			x->tsig_error = TAL_TSIG_BADKEY;
		} else {
			x->tsig_error = (uint16_t)tal_tsig_verify(&x->key, req, len, &x->treq, NULL,
			                                          0, false, x->now);
		}
		if (x->tsig_error == TAL_TSIG_NOERROR || x->tsig_error == TAL_TSIG_BADTIME) {
			/* Signed answers: the first one digests the request's MAC. */
			x->tsig = true;
			memcpy(x->mac, x->treq.mac, x->treq.mac_len);
			x->mac_len = x->treq.mac_len;
		} else {
			x->tsig_error_unsigned = true;
		}
		if (x->tsig_error != TAL_TSIG_NOERROR) {
			tal_log_info("xfr, %s of %s from %s: TSIG key %s: %s",
			             x->qtype == TAL_TYPE_IXFR ? "IXFR" : "AXFR", x->apex_text,
			             x->peer, keyname[0] != '\0' ? keyname : "?",
			             x->tsig_error == TAL_TSIG_BADKEY     ? "BADKEY"
			             : x->tsig_error == TAL_TSIG_BADTIME  ? "BADTIME"
			             : x->tsig_error == TAL_TSIG_BADTRUNC ? "BADTRUNC"
			                                                  : "BADSIG");
			x->err_logged = true;
			set_error(x, RCODE_NOTAUTH);
			return;
		}
	}
	if (qi.qclass != TAL_CLASS_IN) {
		set_error(x, RCODE_REFUSED);
		return;
	}
	int klen = tal_query_key(qi.qname, qi.qname_len, x->apex_key);
	if (klen <= 0) {
		set_error(x, RCODE_NOTAUTH);
		return;
	}
	x->apex_keylen = (size_t)klen;
	rc = tal_txn_get(x->txn, TAL_DB_ZONES, x->apex_key, x->apex_keylen, &zone);
	if (rc == TAL_ENOTFOUND) {
		set_error(x, RCODE_NOTAUTH);
		return;
	}
	if (rc != 0 || tal_zone_parse(zone.data, zone.len, &zv) != 0) {
		set_error(x, RCODE_SERVFAIL);
		return;
	}
	x->zone_id = zv.zone_id;
	x->serial = zv.serial;
	if (tal_key_to_text(x->apex_key, x->apex_keylen, x->apex_text, sizeof(x->apex_text)) < 0) {
		set_error(x, RCODE_SERVFAIL);
		return;
	}
	rc = tal_xfr_acl_check(x->txn, x->zone_id, family, addr, has_tsig ? keyname : NULL);
	if (rc != 1) {
		tal_log_info("xfr, %s of %s from %s%s%s: refused",
		             x->qtype == TAL_TYPE_IXFR ? "IXFR" : "AXFR", x->apex_text, x->peer,
		             has_tsig ? ", key " : "", has_tsig ? keyname : "");
		x->err_logged = true;
		set_error(x, RCODE_REFUSED);
		return;
	}
	int wl = tal_key_to_wire(x->apex_key, x->apex_keylen, x->apex_wire);
	if (wl < 0 || load_soa(x) != 0) {
		set_error(x, RCODE_SERVFAIL);
		return;
	}
	x->apex_wirelen = (size_t)wl;
	x->kind = K_AXFR;
	if (qi.qtype == TAL_TYPE_IXFR) {
		if (serial_ge(x->client_serial, x->serial)) {
			x->kind = K_SOA;
			atomic_fetch_add(&c_uptodate, 1);
		} else {
			rc = journal_reaches(x);
			if (rc < 0) {
				set_error(x, RCODE_SERVFAIL);
				return;
			}
			x->kind = rc == 1 ? K_IXFR : K_AXFR;
			atomic_fetch_add(rc == 1 ? &c_ixfr : &c_ixfr_full, 1);
		}
	} else {
		atomic_fetch_add(&c_axfr, 1);
	}
	if (x->kind == K_IXFR || x->kind == K_AXFR) {
		int cr = tal_cursor_open(x->txn, x->kind == K_IXFR ? TAL_DB_JOURNAL : TAL_DB_NODES,
		                         &x->cur);
		if (cr != 0) {
			set_error(x, RCODE_SERVFAIL);
		}
	}
}

tal_xfr_t *tal_xfr_new(const uint8_t *req, size_t len, const struct sockaddr *peer, uint64_t now)
{
	tal_xfr_t *x = calloc(1, sizeof(*x));

	if (x == NULL) {
		return NULL;
	}
	x->now = now;
	decide(x, req, len, peer);
	return x;
}

/* The SOA with `serial` into scratch (owner: apex). */
static void soa_with(tal_xfr_t *x, uint32_t serial, const uint8_t **rr, size_t *rr_len)
{
	memcpy(x->scratch_rr, x->soa, x->soa_len);
	tal_wire_write_u32(x->scratch_rr + x->soa_serial_off, serial);
	*rr = x->scratch_rr;
	*rr_len = x->soa_len;
}

/* Loads the journal record at the cursor (after seek or next). */
static int load_rec(tal_xfr_t *x, int rc, const tal_val_t *kv, const tal_val_t *v)
{
	if (rc != 0) {
		return rc;
	}
	if (kv->len != TAL_JOURNAL_KEYLEN || tal_wire_read_u32(kv->data) != x->zone_id) {
		return TAL_ENOTFOUND;
	}
	if (v->len < TAL_JOURNAL_HDRLEN) {
		return TAL_ECORRUPT;
	}
	memset(&x->rec, 0, sizeof(x->rec));
	x->rec.serial_from = tal_wire_read_u32(v->data);
	x->rec.serial_to = tal_wire_read_u32(v->data + 4);
	x->rec.nremoved = tal_wire_read_u32(v->data + 12);
	x->rec.nadded = tal_wire_read_u32(v->data + 16);
	/* Find where the removed RRs end by walking them. */
	const uint8_t *rrs = v->data + TAL_JOURNAL_HDRLEN;
	size_t len = v->len - TAL_JOURNAL_HDRLEN, off = 0;
	tal_journal_rr_t rr;
	for (uint32_t i = 0; i < x->rec.nremoved; i++) {
		if (tal_journal_rr_next(rrs, len, &off, &rr) != 0) {
			return TAL_ECORRUPT;
		}
	}
	x->rec.removed = rrs;
	x->rec.removed_len = off;
	x->rec.added = rrs + off;
	x->rec.added_len = len - off;
	x->jpart = J_OLD_SOA;
	x->joff = 0;
	x->have_rec = true;
	return 0;
}

/* The next RR of an IXFR body.  0, TAL_ENOTFOUND at its end, or an error. */
static int peek_ixfr(tal_xfr_t *x, const uint8_t **owner, size_t *owner_len, const uint8_t **rr,
                     size_t *rr_len)
{
	tal_val_t kv, v;
	tal_journal_rr_t jr;
	int rc;

	for (;;) {
		if (!x->have_rec) {
			if (!x->started) {
				uint8_t k[TAL_JOURNAL_KEYLEN];
				tal_wire_write_u32(k, x->zone_id);
				tal_wire_write_u64(k + 4, x->jstart);
				x->started = true;
				rc = tal_cursor_seek(x->cur, k, sizeof(k), &kv, &v);
			} else {
				rc = tal_cursor_next(x->cur, &kv, &v);
			}
			rc = load_rec(x, rc, &kv, &v);
			if (rc != 0) {
				return rc;
			}
		}
		*owner = x->apex_wire;
		*owner_len = x->apex_wirelen;
		switch (x->jpart) {
		case J_OLD_SOA:
			soa_with(x, x->rec.serial_from, rr, rr_len);
			return 0;
		case J_NEW_SOA:
			soa_with(x, x->rec.serial_to, rr, rr_len);
			return 0;
		case J_REMOVED:
		case J_ADDED: {
			const uint8_t *rrs = x->jpart == J_REMOVED ? x->rec.removed : x->rec.added;
			size_t len = x->jpart == J_REMOVED ? x->rec.removed_len : x->rec.added_len;
			size_t off = x->joff;
			rc = tal_journal_rr_next(rrs, len, &off, &jr);
			if (rc == TAL_ENOTFOUND) {
				if (x->jpart == J_REMOVED) {
					x->jpart = J_NEW_SOA;
				} else {
					x->have_rec = false;
				}
				continue;
			}
			if (rc != 0) {
				return TAL_ECORRUPT;
			}
			*owner = jr.owner;
			*owner_len = jr.owner_len;
			*rr = jr.owner + jr.owner_len;
			*rr_len = 10 + (size_t)jr.rdlen;
			return 0;
		}
		}
	}
}

static void advance_ixfr(tal_xfr_t *x)
{
	tal_journal_rr_t jr;

	switch (x->jpart) {
	case J_OLD_SOA:
		x->jpart = J_REMOVED;
		x->joff = 0;
		break;
	case J_NEW_SOA:
		x->jpart = J_ADDED;
		x->joff = 0;
		break;
	case J_REMOVED:
		(void)tal_journal_rr_next(x->rec.removed, x->rec.removed_len, &x->joff, &jr);
		break;
	case J_ADDED:
		(void)tal_journal_rr_next(x->rec.added, x->rec.added_len, &x->joff, &jr);
		break;
	}
}

static void guid_text(const uint8_t *id, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10) {
			out[o++] = '-';
		}
		out[o++] = hex[id[i] >> 4];
		out[o++] = hex[id[i] & 15];
	}
}

/* The next RR of the AXFR node walk.  0, TAL_ENOTFOUND at its end, or an error. */
static int peek_nodes(tal_xfr_t *x, const uint8_t **owner, size_t *owner_len, const uint8_t **rr,
                      size_t *rr_len)
{
	int rc;

	for (;;) {
		if (!x->have_node) {
			if (!x->started) {
				x->started = true;
				rc = tal_cursor_seek(x->cur, x->apex_key, x->apex_keylen, &x->nk,
				                     &x->nv);
			} else {
				rc = tal_cursor_next(x->cur, &x->nk, &x->nv);
			}
			if (rc != 0) {
				return rc;
			}
			if (!tal_key_is_below(x->nk.data, x->nk.len, x->apex_key, x->apex_keylen)) {
				return TAL_ENOTFOUND;
			}
			int wl = tal_key_to_wire(x->nk.data, x->nk.len, x->owner);
			if (wl < 0 || tal_node_tenants(x->nv.data, x->nv.len, &x->tv) != 0) {
				return TAL_ECORRUPT;
			}
			x->owner_len = (size_t)wl;
			x->at_apex = x->nk.len == x->apex_keylen;
			memset(&x->it, 0, sizeof(x->it));
			x->have_node = true;
			x->have_set = false;
			x->sets_done = false;
			x->tenant_idx = 0;
		}
		if (!x->sets_done && !x->have_set) {
			rc = tal_node_next(x->nv.data, x->nv.len, &x->it, &x->set);
			if (rc == TAL_ENOTFOUND) {
				x->sets_done = true;
				continue;
			}
			if (rc != 0) {
				return TAL_ECORRUPT;
			}
			if (x->set.count == 0 || (x->at_apex && x->set.type == TAL_TYPE_SOA)) {
				continue;
			}
			x->have_set = true;
			x->rr_idx = 0;
			x->rr_off = 0;
		}
		if (x->have_set) {
			if (x->rr_idx >= x->set.count) {
				x->have_set = false;
				continue;
			}
			if (x->set.rrs_len - x->rr_off < 10) {
				return TAL_ECORRUPT;
			}
			size_t rdlen = tal_wire_read_u16(x->set.rrs + x->rr_off + 8);
			if (x->set.rrs_len - x->rr_off - 10 < rdlen) {
				return TAL_ECORRUPT;
			}
			*owner = x->owner;
			*owner_len = x->owner_len;
			*rr = x->set.rrs + x->rr_off;
			*rr_len = 10 + rdlen;
			return 0;
		}
		if (x->tv.present && x->tenant_idx < x->tv.count) {
			if (x->owner_len + 37 > TAL_DNAME_MAXLEN) {
				return TAL_ECORRUPT;
			}
			x->scratch_owner[0] = 36;
			guid_text(x->tv.ids + 16 * (size_t)x->tenant_idx,
			          (char *)x->scratch_owner + 1);
			memcpy(x->scratch_owner + 37, x->owner, x->owner_len);
			uint8_t *a = x->scratch_rr;
			tal_wire_write_u16(a, TAL_TYPE_A);
			tal_wire_write_u16(a + 2, TAL_CLASS_IN);
			tal_wire_write_u32(a + 4, x->tv.ttl);
			tal_wire_write_u16(a + 8, 4);
			a[10] = 127;
			a[11] = 0;
			a[12] = 0;
			a[13] = 2;
			*owner = x->scratch_owner;
			*owner_len = x->owner_len + 37;
			*rr = a;
			*rr_len = 14;
			return 0;
		}
		x->have_node = false;
	}
}

static void advance_nodes(tal_xfr_t *x, size_t rr_len)
{
	if (x->have_set) {
		x->rr_idx++;
		x->rr_off += rr_len;
	} else {
		x->tenant_idx++;
	}
}

/* The RR at the current position.  0, TAL_ENOTFOUND when the stream is over, or an error. */
static int peek(tal_xfr_t *x, const uint8_t **owner, size_t *owner_len, const uint8_t **rr,
                size_t *rr_len)
{
	for (;;) {
		switch (x->phase) {
		case P_SOA_FIRST:
		case P_SOA_LAST:
			*owner = x->apex_wire;
			*owner_len = x->apex_wirelen;
			soa_with(x, x->serial, rr, rr_len);
			return 0;
		case P_BODY: {
			int rc = x->kind == K_IXFR ? peek_ixfr(x, owner, owner_len, rr, rr_len)
			                           : peek_nodes(x, owner, owner_len, rr, rr_len);
			if (rc == TAL_ENOTFOUND) {
				x->phase = P_SOA_LAST;
				continue;
			}
			return rc;
		}
		case P_END:
			return TAL_ENOTFOUND;
		}
	}
}

static void advance(tal_xfr_t *x, size_t rr_len)
{
	switch (x->phase) {
	case P_SOA_FIRST:
		x->phase = x->kind == K_SOA ? P_END : P_BODY;
		break;
	case P_BODY:
		if (x->kind == K_IXFR) {
			advance_ixfr(x);
		} else {
			advance_nodes(x, rr_len);
		}
		break;
	case P_SOA_LAST:
	case P_END:
		x->phase = P_END;
		break;
	}
}

/* Label-aligned offsets of a wire name's suffixes; returns how many. */
static int label_offsets(const uint8_t *name, size_t len, size_t *offs)
{
	int n = 0;
	size_t p = 0;

	while (p < len && name[p] != 0) {
		offs[n++] = p;
		p += 1 + (size_t)name[p];
	}
	return n;
}

static inline uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/*
 * Finds the label-aligned suffixes of a name (offs, returns how many) and
 * hashes them all in one pass from its end (FNV-1a over the octets in
 * reverse, any case): hs[i] is the hash of the suffix at offs[i].
 */
static int name_suffixes(const uint8_t *name, size_t len, size_t *offs, uint32_t *hs)
{
	uint32_t h = 2166136261u;
	int n = label_offsets(name, len, offs);
	size_t p = len;

	for (int i = n - 1; i >= 0; i--) {
		while (p > offs[i]) {
			p--;
			h = (h ^ lower(name[p])) * 16777619u;
		}
		hs[i] = h;
	}
	return n;
}

/* True when the (maybe compressed) name at msg[off] equals the uncompressed `s`, any case. */
static bool name_at_equals(const uint8_t *msg, size_t off, const uint8_t *s, size_t len)
{
	size_t p = off, i = 0;
	int hops = 0;

	for (;;) {
		uint8_t l = msg[p];
		if ((l & 0xC0) == 0xC0) {
			if (++hops > 127) {
				return false;
			}
			p = ((size_t)(l & 0x3F) << 8) | msg[p + 1];
			continue;
		}
		if (i >= len || s[i] != l) {
			return false;
		}
		if (l == 0) {
			return i + 1 == len;
		}
		if (len - i < 1 + (size_t)l) {
			return false;
		}
		for (size_t k = 1; k <= l; k++) {
			if (lower(msg[p + k]) != lower(s[i + k])) {
				return false;
			}
		}
		p += 1 + (size_t)l;
		i += 1 + (size_t)l;
	}
}

static uint16_t ctab_find(const tal_xfr_t *x, const uint8_t *msg, const uint8_t *s, size_t len,
                          uint32_t h)
{
	for (uint32_t i = 0; i < CTAB_SLOTS; i++) {
		const cslot_t *c = &x->ctab[(h + i) & (CTAB_SLOTS - 1)];
		if (c->gen != x->cgen) {
			return 0;
		}
		if (c->hash == h && name_at_equals(msg, c->off, s, len)) {
			return c->off;
		}
	}
	return 0;
}

static void ctab_add(tal_xfr_t *x, size_t off, uint32_t h)
{
	for (uint32_t i = 0; i < CTAB_SLOTS / 2; i++) {
		cslot_t *c = &x->ctab[(h + i) & (CTAB_SLOTS - 1)];
		if (c->gen != x->cgen) {
			c->gen = x->cgen;
			c->hash = h;
			c->off = (uint16_t)off;
			return;
		}
	}
	/* Table crowded: this suffix is simply not offered for compression. */
}

/* Starts a message's table: the question name (the apex) is at offset 12. */
static void ctab_reset(tal_xfr_t *x, const uint8_t *msg)
{
	size_t offs[128];
	uint32_t hs[128];

	if (++x->cgen == 0) {
		memset(x->ctab, 0, sizeof(x->ctab));
		x->cgen = 1;
	}
	if (x->qlen <= 4) {
		return;
	}
	int n = name_suffixes(msg + HDR_LEN, x->qlen - 4, offs, hs);
	for (int i = 0; i < n; i++) {
		ctab_add(x, HDR_LEN + offs[i], hs[i]);
	}
}

/*
 * Writes `owner` at msg[pos]: its labels up to the longest suffix already
 * in the message, then a pointer; the suffixes written in full join the
 * table.  Returns the encoded length, or 0 (nothing written) when that is
 * more than `room`.
 */
static size_t put_owner(tal_xfr_t *x, uint8_t *msg, size_t pos, const uint8_t *owner, size_t len,
                        size_t room)
{
	size_t offs[128];
	uint32_t hs[128];
	int n = name_suffixes(owner, len, offs, hs);
	int k = n;
	uint16_t ptr = 0;

	for (int i = 0; i < n; i++) {
		ptr = ctab_find(x, msg, owner + offs[i], len - offs[i], hs[i]);
		if (ptr != 0) {
			k = i;
			break;
		}
	}
	size_t lit = k < n ? offs[k] : len;
	size_t el = lit + (k < n ? 2 : 0);
	if (el > room) {
		return 0;
	}
	memcpy(msg + pos, owner, lit);
	if (k < n) {
		tal_wire_write_u16(msg + pos + lit, (uint16_t)(0xC000 | ptr));
	}
	for (int i = 0; i < k; i++) {
		if (pos + offs[i] < 0x4000) {
			ctab_add(x, pos + offs[i], hs[i]);
		}
	}
	return el;
}

static size_t write_header(tal_xfr_t *x, uint8_t *resp, int rcode)
{
	uint16_t flags = (uint16_t)(FLAG_QR | (x->flags & (FLAG_RD | FLAG_CD)) | (rcode & 0x0F));

	if (rcode == RCODE_NOERROR) {
		flags |= FLAG_AA;
	}
	tal_wire_write_u16(resp, x->id);
	tal_wire_write_u16(resp + 2, flags);
	tal_wire_write_u16(resp + 4, x->qlen > 0 ? 1 : 0);
	memset(resp + 6, 0, 6);
	memcpy(resp + HDR_LEN, x->question, x->qlen);
	return HDR_LEN + x->qlen;
}

/* Appends OPT and TSIG as the request asked; returns the final length (0 on failure). */
static size_t finish(tal_xfr_t *x, uint8_t *resp, size_t pos, size_t cap, int rcode)
{
	if (x->edns) {
		uint8_t *o = resp + pos;
		o[0] = 0;
		tal_wire_write_u16(o + 1, TAL_TYPE_OPT);
		tal_wire_write_u16(o + 3, TAL_EDNS_UDP_SIZE);
		o[5] = (uint8_t)(rcode >> 4);
		o[6] = 0;
		tal_wire_write_u16(o + 7, 0);
		tal_wire_write_u16(o + 9, 0);
		pos += OPT_RR_LEN;
		tal_wire_write_u16(resp + 10, (uint16_t)(tal_wire_read_u16(resp + 10) + 1));
	}
	if (x->tsig_error_unsigned) {
		if (tal_tsig_append_error(&x->treq, resp, &pos, cap, x->now, x->tsig_error) != 0) {
			return 0;
		}
	} else if (x->tsig) {
		uint8_t other[6];
		size_t other_len = 0;
		if (x->tsig_error == TAL_TSIG_BADTIME) {
			tal_wire_write_u16(other, (uint16_t)(x->now >> 32));
			tal_wire_write_u32(other + 2, (uint32_t)x->now);
			other_len = 6;
		}
		uint8_t prior[TAL_TSIG_MAC_MAX];
		size_t prior_len = x->mac_len;
		memcpy(prior, x->mac, prior_len);
		if (tal_tsig_sign(&x->key, resp, &pos, cap, prior, prior_len, x->first_sent, x->now,
		                  x->tsig_error, other, other_len, x->mac, &x->mac_len) != 0) {
			return 0;
		}
	}
	x->first_sent = true;
	x->msgs++;
	x->bytes += pos;
	atomic_fetch_add(&c_msgs, 1);
	return pos;
}

size_t tal_xfr_next(tal_xfr_t *x, uint8_t *resp, size_t cap)
{
	if (x->done) {
		return 0;
	}
	if (cap > TAL_MSG_MAXLEN) {
		cap = TAL_MSG_MAXLEN;
	}
	size_t reserve = (x->edns ? OPT_RR_LEN : 0) +
	                 (x->tsig || x->tsig_error_unsigned ? TAL_TSIG_RR_MAX : 0);
	if (x->kind == K_ERROR) {
		x->done = true;
		size_t pos = write_header(x, resp, x->rcode);
		return finish(x, resp, pos, cap, x->rcode);
	}
	if (x->msgs > 0 && (uint64_t)time(NULL) > x->now + TAL_XFR_MAX_SECONDS) {
		/* Too slow a reader would pin the snapshot: end with SERVFAIL (RFC 5936 §2.2). */
		tal_log_warnx("xfr, %s to %s: stopped after %d s, %llu messages", x->apex_text,
		              x->peer, TAL_XFR_MAX_SECONDS, (unsigned long long)x->msgs);
		x->done = true;
		x->err_logged = true;
		size_t pos = write_header(x, resp, RCODE_SERVFAIL);
		return finish(x, resp, pos, cap, RCODE_SERVFAIL);
	}

	size_t pos = write_header(x, resp, RCODE_NOERROR);
	size_t target = TAL_XFR_MSG_TARGET - reserve;
	size_t hard = cap - reserve;
	uint16_t an = 0;
	const uint8_t *owner, *rr;
	size_t owner_len, rr_len;
	int rc;

	ctab_reset(x, resp);
	while ((rc = peek(x, &owner, &owner_len, &rr, &rr_len)) == 0) {
		size_t limit = an == 0 ? hard : target;
		if (pos + rr_len >= limit || an == UINT16_MAX) {
			break;
		}
		size_t el = put_owner(x, resp, pos, owner, owner_len, limit - pos - rr_len);
		if (el == 0) {
			break;
		}
		memcpy(resp + pos + el, rr, rr_len);
		pos += el + rr_len;
		an++;
		x->rrs++;
		advance(x, rr_len);
	}
	if (rc != 0 && rc != TAL_ENOTFOUND) {
		/* A damaged value: end the stream with SERVFAIL, nothing half-sent. */
		tal_log_err("xfr, %s to %s: reading the snapshot: %s", x->apex_text, x->peer,
		            tal_strerror(rc));
		x->done = true;
		x->err_logged = true;
		pos = write_header(x, resp, RCODE_SERVFAIL);
		return finish(x, resp, pos, cap, RCODE_SERVFAIL);
	}
	if (rc == TAL_ENOTFOUND) {
		x->done = true;
	}
	if (an == 0) {
		return 0;
	}
	tal_wire_write_u16(resp + 6, an);
	return finish(x, resp, pos, cap, RCODE_NOERROR);
}

void tal_xfr_free(tal_xfr_t *x)
{
	if (x == NULL) {
		return;
	}
	if (x->kind != K_ERROR && !x->err_logged) {
		const char *what = x->kind == K_SOA    ? "up to date"
		                   : x->kind == K_IXFR ? "incremental"
		                   : x->diff_larger    ? "full (difference larger than the zone)"
		                   : x->qtype == TAL_TYPE_IXFR ? "full (journal does not reach)"
		                                               : "full";
		tal_log_info(
		        "xfr, %s of %s to %s%s%s: %s, serial %u%s, %llu messages, %llu records, "
		        "%llu octets",
		        x->qtype == TAL_TYPE_IXFR ? "IXFR" : "AXFR", x->apex_text, x->peer,
		        x->tsig ? ", key " : "", x->tsig ? x->key.name : "", what, x->serial,
		        x->done ? "" : ", cut short", (unsigned long long)x->msgs,
		        (unsigned long long)x->rrs, (unsigned long long)x->bytes);
	} else if (x->kind == K_ERROR && !x->err_logged) {
		tal_log_info("xfr, %s of %s from %s: rcode %d",
		             x->qtype == TAL_TYPE_IXFR ? "IXFR" : "AXFR", x->apex_text, x->peer,
		             x->rcode);
	}
	tal_cursor_close(x->cur);
	tal_txn_abort(x->txn);
	memset(&x->key, 0, sizeof(x->key));
	free(x);
}
