/*
 * server/answer.c -- from a parsed request to the response bytes.
 *
 * Model: one lookup and a copy.  The response is written front to back into
 * the caller's buffer: header (filled last), the question copied byte for
 * byte from the request (so the client's letter case survives and the name
 * sits at offset 12, where every owner compression pointer points), then the
 * answer or the negative SOA, then glue, then OPT.  Stored RRs carry no
 * owner (common/node.h), so each one costs a two-octet pointer and a memcpy.
 * All store bytes are copied before tal_reader_end, which invalidates them
 * (at the end of the query, or of the batch).
 *
 * Size: the OPT record is reserved up front, so it always fits.  When the
 * answer or authority section does not fit the client's limit, the
 * response keeps only the question (and OPT) and sets TC (RFC 1035 4.2.1,
 * RFC 7766).  Glue that does not fit is left out without TC (RFC 2181 9:
 * the additional section is optional; RFC 9471's TC rule covers referrals,
 * which tallow never sends).
 *
 * Counters (tal_query_stats_t): `noerror` counts answers with data, `nodata`
 * NOERROR answers without (including empty non-terminals), `dropped`
 * requests not answered; every other counter names the rcode sent.
 * `truncated` counts TC responses and `edns` requests with a valid OPT.
 */
#include <string.h>

#include "common/dname.h"
#include "common/error.h"
#include "common/node.h"
#include "common/wire.h"
#include "server/query.h"

#define HDR_LEN     12
#define OPT_RR_LEN  11 /* root owner, TYPE, CLASS, TTL, RDLENGTH 0 */
#define QNAME_PTR   0xC00C
#define GUID_LABLEN 36

#define FLAG_QR 0x8000
#define FLAG_AA 0x0400
#define FLAG_TC 0x0200
#define FLAG_RD 0x0100
#define FLAG_CD 0x0010

#define EDNS_DO 0x8000

enum {
	RCODE_NOERROR = 0,
	RCODE_FORMERR = 1,
	RCODE_SERVFAIL = 2,
	RCODE_NXDOMAIN = 3,
	RCODE_NOTIMP = 4,
	RCODE_REFUSED = 5,
	RCODE_BADVERS = 16,
};

enum {
	TYPE_MAILB = 253,
	TYPE_MAILA = 254,
};

/* The response being written. */
typedef struct {
	uint8_t *buf;
	size_t pos;
	size_t limit; /* octets usable before the reserved OPT record */
	uint16_t an, ns, ar;
	bool aa, tc;
	bool nodata;
} resp_t;

/*
 * Walks `count` owner-less RRs (TYPE..RDATA) of exactly `len` octets.
 * Returns false when the stored bytes do not describe them exactly.
 */
static bool rrs_valid(const uint8_t *rrs, size_t len, uint16_t count)
{
	size_t p = 0;

	for (uint16_t i = 0; i < count; i++) {
		if (len - p < 10) {
			return false;
		}
		size_t rdlen = tal_wire_read_u16(rrs + p + 8);
		p += 10;
		if (len - p < rdlen) {
			return false;
		}
		p += rdlen;
	}
	return p == len;
}

/*
 * Appends `count` owner-less RRs, each prefixed with the compression pointer
 * `owner`.  Returns 0, TAL_ESPACE (nothing written) or TAL_EMALF.
 */
static int put_rrs(resp_t *r, uint16_t owner, const uint8_t *rrs, size_t len, uint16_t count,
                   uint16_t *counter)
{
	size_t need = len + 2 * (size_t)count;

	if (!rrs_valid(rrs, len, count)) {
		return TAL_EMALF;
	}
	if (r->limit - r->pos < need || (size_t)*counter + count > UINT16_MAX) {
		return TAL_ESPACE;
	}
	uint8_t *out = r->buf + r->pos;
	size_t p = 0;
	for (uint16_t i = 0; i < count; i++) {
		size_t rrlen = 10 + (size_t)tal_wire_read_u16(rrs + p + 8);
		tal_wire_write_u16(out, owner);
		memcpy(out + 2, rrs + p, rrlen);
		out += 2 + rrlen;
		p += rrlen;
	}
	r->pos += need;
	*counter = (uint16_t)(*counter + count);
	return 0;
}

/*
 * Finds an uncompressed name equal to `name` as the whole RDATA of one of
 * the answer's NS records (written by put_rrs), so a glue owner can point
 * at it.  Returns the offset, or 0 when there is none.
 */
static size_t find_ns_target(const resp_t *r, size_t an_start, const uint8_t *name, size_t namelen)
{
	size_t p = an_start;

	for (uint16_t i = 0; i < r->an; i++) {
		size_t rdlen = tal_wire_read_u16(r->buf + p + 10);
		size_t rd = p + 12;
		if (tal_wire_read_u16(r->buf + p + 2) == TAL_TYPE_NS && rdlen == namelen &&
		    rd < 0x4000 && memcmp(r->buf + rd, name, namelen) == 0) {
			return rd;
		}
		p = rd + rdlen;
	}
	return 0;
}

/*
 * Appends the glue of an NS RRset RR by RR, as many as fit.  Each stored RR
 * has a full uncompressed owner; when that owner is also an NS target in
 * the answer it becomes a pointer to it.  Returns 0 or TAL_EMALF.
 */
static int put_glue(resp_t *r, size_t an_start, const uint8_t *add, size_t len)
{
	size_t p = 0;

	while (p < len) {
		int nl = tal_dname_wire_len(add + p, len - p);
		if (nl < 0 || len - p - (size_t)nl < 10) {
			return TAL_EMALF;
		}
		size_t fixed = (size_t)nl + 10;
		size_t rdlen = tal_wire_read_u16(add + p + nl + 8);
		if (len - p - fixed < rdlen) {
			return TAL_EMALF;
		}
		size_t body = 10 + rdlen;
		size_t target = find_ns_target(r, an_start, add + p, (size_t)nl);
		size_t need = (target != 0 ? 2 : (size_t)nl) + body;
		if (r->limit - r->pos >= need && r->ar < UINT16_MAX) {
			uint8_t *out = r->buf + r->pos;
			if (target != 0) {
				tal_wire_write_u16(out, (uint16_t)(0xC000 | target));
				out += 2;
			} else {
				memcpy(out, add + p, (size_t)nl);
				out += nl;
			}
			memcpy(out, add + p + nl, body);
			r->pos += need;
			r->ar++;
		}
		p += fixed + rdlen;
	}
	return 0;
}

/* Appends the zone's negative SOA, owned by the apex suffix of the question name. */
static int put_neg_soa(resp_t *r, const tal_qinfo_t *qi, const tal_val_t *zone, size_t apex_keylen)
{
	tal_zone_view_t zv;

	if (tal_zone_parse(zone->data, zone->len, &zv) != 0 || apex_keylen + 1 > qi->qname_len) {
		return TAL_EMALF;
	}
	uint16_t owner = (uint16_t)(0xC000 | (HDR_LEN + qi->qname_len - (apex_keylen + 1)));
	return put_rrs(r, owner, zv.neg_soa, zv.neg_soa_len, 1, &r->ns);
}

/* Picks the smallest RRset of a node for a minimal ANY answer (RFC 8482 4.1). */
static int pick_any(const uint8_t *node, size_t len, tal_rrset_view_t *out)
{
	tal_node_iter_t it = { 0 };
	tal_rrset_view_t v;
	size_t best = SIZE_MAX;
	int ret;

	while ((ret = tal_node_next(node, len, &it, &v)) == 0) {
		size_t size = v.rrs_len + 2 * (size_t)v.count;
		if (v.count > 0 && size < best) {
			best = size;
			*out = v;
		}
	}
	if (ret != TAL_ENOTFOUND) {
		return ret;
	}
	return best == SIZE_MAX ? TAL_ENOTFOUND : 0;
}

/*
 * The synthesised A view "<guid>.D.Z A 127.0.0.2" (common/node.h): the name
 * exists iff the parent node D.Z lists the tenant.  Returns an rcode, or a
 * negative code for an internal failure.
 */
static int answer_guid(resp_t *r, const tal_qinfo_t *qi, const tal_lookup_t *lk, const uint8_t *id)
{
	tal_tenants_view_t tv = { 0 };

	if (lk->node.data != NULL) {
		int ret = tal_node_tenants(lk->node.data, lk->node.len, &tv);
		if (ret != 0) {
			return ret;
		}
	}
	if (!tv.present || !tal_tenants_contains(&tv, id)) {
		int ret = put_neg_soa(r, qi, &lk->zone, lk->apex_keylen);
		return ret == 0 || ret == TAL_ESPACE ? RCODE_NXDOMAIN : ret;
	}
	if (qi->qtype != TAL_TYPE_A && qi->qtype != TAL_TYPE_ANY) {
		r->nodata = true;
		int ret = put_neg_soa(r, qi, &lk->zone, lk->apex_keylen);
		return ret == 0 || ret == TAL_ESPACE ? RCODE_NOERROR : ret;
	}
	uint8_t rr[14];
	tal_wire_write_u16(rr, TAL_TYPE_A);
	tal_wire_write_u16(rr + 2, TAL_CLASS_IN);
	tal_wire_write_u32(rr + 4, tv.ttl);
	tal_wire_write_u16(rr + 8, 4);
	rr[10] = 127;
	rr[11] = 0;
	rr[12] = 0;
	rr[13] = 2;
	int ret = put_rrs(r, QNAME_PTR, rr, sizeof(rr), 1, &r->an);
	return ret == 0 || ret == TAL_ESPACE ? RCODE_NOERROR : ret;
}

/* Answers from a node (or its absence).  Returns an rcode or a negative code. */
static int answer_node(resp_t *r, const tal_qinfo_t *qi, const tal_lookup_t *lk)
{
	tal_rrset_view_t set;
	int ret = TAL_ENOTFOUND;

	if (lk->node.data == NULL && !lk->has_children) {
		ret = put_neg_soa(r, qi, &lk->zone, lk->apex_keylen);
		return ret == 0 || ret == TAL_ESPACE ? RCODE_NXDOMAIN : ret;
	}
	if (lk->node.data != NULL) {
		if (qi->qtype == TAL_TYPE_ANY) {
			ret = pick_any(lk->node.data, lk->node.len, &set);
		} else {
			ret = tal_node_find(lk->node.data, lk->node.len, qi->qtype, &set);
			if (ret == 0 && set.count == 0) {
				ret = TAL_ENOTFOUND;
			}
		}
		if (ret != 0 && ret != TAL_ENOTFOUND) {
			return ret;
		}
	}
	if (ret == TAL_ENOTFOUND) {
		r->nodata = true;
		ret = put_neg_soa(r, qi, &lk->zone, lk->apex_keylen);
		return ret == 0 || ret == TAL_ESPACE ? RCODE_NOERROR : ret;
	}
	size_t an_start = r->pos;
	ret = put_rrs(r, QNAME_PTR, set.rrs, set.rrs_len, set.count, &r->an);
	if (ret != 0) {
		return ret == TAL_ESPACE ? RCODE_NOERROR : ret;
	}
	/* Glue only for NS queries: an ANY answer stays minimal (RFC 8482). */
	if (qi->qtype == TAL_TYPE_NS && set.add != NULL) {
		ret = put_glue(r, an_start, set.add, set.add_len);
		if (ret != 0) {
			return ret;
		}
	}
	return RCODE_NOERROR;
}

/*
 * The store key the question is looked up under: the name's own or, for
 * the A view (a GUID first label, parsed into `id`), its parent's.
 */
static int question_key(const tal_qinfo_t *qi, uint8_t *key, uint8_t *id, bool *guid)
{
	*guid = qi->qname[0] == GUID_LABLEN && tal_guid_label_parse(qi->qname + 1, GUID_LABLEN, id);
	size_t skip = *guid ? GUID_LABLEN + 1 : 0;
	return tal_query_key(qi->qname + skip, qi->qname_len - skip, key);
}

/* Opens the reader's snapshot unless this batch already has; false if it cannot. */
static bool snap_open(tal_answerer_t *a)
{
	if (a->reader == NULL || (!a->snap && tal_reader_begin(a->reader) != 0)) {
		return false;
	}
	a->snap = true;
	return true;
}

/*
 * Looks the question up and writes the sections.  Returns the rcode; TC is
 * set in `r` when a required section did not fit.
 */
static int answer_query(tal_answerer_t *a, resp_t *r, const tal_qinfo_t *qi,
                        const tal_prepared_t *prep)
{
	uint8_t keybuf[TAL_KEY_MAXLEN];
	uint8_t idbuf[TAL_TENANT_IDLEN];
	const uint8_t *key = keybuf, *id = idbuf;
	tal_lookup_t lk;
	tal_qinfo_t ixfr_soa;
	size_t start = r->pos;

	/* Only IN data exists here; CH gets no version or id strings (no leak). */
	if (qi->qclass != TAL_CLASS_IN) {
		return RCODE_REFUSED;
	}
	/* Meta types as qtype, as BIND does: OPT, TSIG, TKEY and unassigned are FORMERR. */
	if (qi->qtype >= 128 && qi->qtype <= 254) {
		if (qi->qtype == TYPE_MAILA || qi->qtype == TYPE_MAILB) {
			return RCODE_NOTIMP;
		}
		if (qi->qtype == TAL_TYPE_IXFR) {
			/*
			 * Only UDP gets here (TCP transfers are server/xfr.h's): answer
			 * the current SOA, so the client goes on over TCP (RFC 1995 §2).
			 */
			ixfr_soa = *qi;
			ixfr_soa.qtype = TAL_TYPE_SOA;
			qi = &ixfr_soa;
		} else if (qi->qtype == TAL_TYPE_AXFR) {
			return RCODE_REFUSED;
		} else {
			return RCODE_FORMERR;
		}
	}
	if (qi->qtype == TAL_TYPE_OPT) {
		return RCODE_FORMERR;
	}

	bool guid;
	int klen;
	if (prep != NULL && prep->klen >= 0) {
		key = prep->key;
		id = prep->id;
		guid = prep->guid;
		klen = prep->klen;
	} else {
		klen = question_key(qi, keybuf, idbuf, &guid);
	}
	if (klen < 0) {
		return RCODE_SERVFAIL;
	}
	size_t lookup_len = (size_t)klen;

	if (!snap_open(a)) {
		return RCODE_SERVFAIL;
	}
	int rc = tal_reader_lookup(a->reader, key, lookup_len, &lk);
	if (rc == 0) {
		if (lk.zone.data == NULL ||
		    (qi == &ixfr_soa && (guid || lk.apex_keylen != lookup_len))) {
			rc = RCODE_REFUSED; /* IXFR of a name that is no zone apex, too */
		} else {
			r->aa = true;
			rc = guid ? answer_guid(r, qi, &lk, id) : answer_node(r, qi, &lk);
		}
	}
	if (!a->batch) {
		tal_reader_end(a->reader);
		a->snap = false;
	}

	if (rc < 0) {
		/* Damaged store values: nothing half-written goes out. */
		r->pos = start;
		r->an = r->ns = r->ar = 0;
		r->aa = false;
		r->nodata = false;
		return RCODE_SERVFAIL;
	}
	if ((rc == RCODE_NOERROR || rc == RCODE_NXDOMAIN) && r->an == 0 && r->ns == 0) {
		/* The answer, or the SOA of a negative answer, did not fit. */
		r->tc = true;
		r->pos = start;
		r->ar = 0;
	}
	return rc;
}

void tal_query_batch_begin(tal_answerer_t *a)
{
	a->batch = true;
}

void tal_query_prefetch(tal_answerer_t *a, const uint8_t *req, size_t reqlen)
{
	/*
	 * Without a snapshot the answer will say SERVFAIL; without the index
	 * there is nothing to fetch ahead.
	 */
	if (!a->batch || a->nprep == TAL_QUERY_PREFETCH_MAX || !snap_open(a) ||
	    !tal_reader_indexed(a->reader)) {
		return;
	}
	tal_prepared_t *p = &a->prep[a->nprep++];
	p->req = req;
	p->reqlen = reqlen;
	p->klen = -1;
	p->token = 0;
	p->parse = tal_query_parse(req, reqlen, &p->qi);
	if (p->parse == TAL_PARSE_OK && p->qi.qclass == TAL_CLASS_IN) {
		p->klen = question_key(&p->qi, p->key, p->id, &p->guid);
		if (p->klen > 0) {
			p->token = tal_reader_prefetch(a->reader, p->key, (size_t)p->klen);
		}
	}
}

void tal_query_prefetch_nodes(tal_answerer_t *a)
{
	for (unsigned i = 0; i < a->nprep; i++) {
		if (a->prep[i].token != 0) {
			tal_reader_prefetch_node(a->reader, a->prep[i].token);
		}
	}
}

/*
 * The prepared form of `req`, if this batch has one.  Answers come in the
 * order of preparation, some skipped, so the search starts after the last
 * one taken; a request that was not prepared takes none.
 */
static const tal_prepared_t *prepared(tal_answerer_t *a, const uint8_t *req, size_t reqlen)
{
	for (unsigned i = a->next; i < a->nprep; i++) {
		if (a->prep[i].req == req && a->prep[i].reqlen == reqlen) {
			a->next = i + 1;
			return &a->prep[i];
		}
	}
	return NULL;
}

void tal_query_batch_end(tal_answerer_t *a)
{
	a->nprep = a->next = 0;
	if (a->snap) {
		tal_reader_end(a->reader);
		a->snap = false;
	}
	a->batch = false;
}

static void count_rcode(tal_query_stats_t *s, int rcode, bool nodata)
{
	switch (rcode) {
	case RCODE_NOERROR:
		if (nodata) {
			s->nodata++;
		} else {
			s->noerror++;
		}
		break;
	case RCODE_FORMERR:
		s->formerr++;
		break;
	case RCODE_SERVFAIL:
		s->servfail++;
		break;
	case RCODE_NXDOMAIN:
		s->nxdomain++;
		break;
	case RCODE_NOTIMP:
		s->notimp++;
		break;
	case RCODE_REFUSED:
		s->refused++;
		break;
	case RCODE_BADVERS:
		s->badvers++;
		break;
	default:
		break;
	}
}

size_t tal_query_answer(tal_answerer_t *a, const uint8_t *req, size_t reqlen, uint8_t *resp,
                        size_t respcap, enum tal_transport transport)
{
	tal_qinfo_t qi;
	resp_t r = { 0 };
	int rcode;

	a->stats.queries++;
	const tal_prepared_t *prep = a->batch ? prepared(a, req, reqlen) : NULL;
	int pr;
	if (prep != NULL) {
		pr = prep->parse;
		qi = prep->qi;
	} else {
		pr = tal_query_parse(req, reqlen, &qi);
	}
	if (pr < TAL_PARSE_OK) {
		a->stats.dropped++;
		return 0;
	}
	if (qi.has_edns) {
		a->stats.edns++;
	}

	size_t cap = TAL_MSG_MAXLEN;
	if (transport != TAL_TRANSPORT_TCP) {
		cap = TAL_UDP_MIN_SIZE;
		if (qi.has_edns && qi.edns_udp_size > TAL_UDP_MIN_SIZE) {
			cap = qi.edns_udp_size < TAL_EDNS_UDP_SIZE ? qi.edns_udp_size
			                                           : TAL_EDNS_UDP_SIZE;
		}
	}
	if (cap > respcap) {
		cap = respcap;
	}
	size_t opt_len = qi.has_edns ? OPT_RR_LEN : 0;
	size_t qlen = qi.question_end > 0 ? qi.question_end - HDR_LEN : 0;
	if (cap < HDR_LEN + qlen + opt_len) {
		a->stats.dropped++;
		return 0; /* the caller broke the buffer contract */
	}
	r.buf = resp;
	r.limit = cap - opt_len;
	r.pos = HDR_LEN;
	if (qlen > 0) {
		memcpy(resp + HDR_LEN, req + HDR_LEN, qlen);
		r.pos += qlen;
	}

	switch (pr) {
	case TAL_PARSE_OK:
		rcode = answer_query(a, &r, &qi, prep);
		break;
	case TAL_PARSE_BADVERS:
		rcode = RCODE_BADVERS;
		break;
	case TAL_PARSE_NOTIMP:
		rcode = RCODE_NOTIMP;
		break;
	default:
		rcode = RCODE_FORMERR;
		break;
	}
	count_rcode(&a->stats, rcode, r.nodata);
	if (r.tc) {
		a->stats.truncated++;
	}

	uint16_t flags =
	        (uint16_t)(FLAG_QR | (qi.flags & (0x7800 | FLAG_RD | FLAG_CD)) | (rcode & 0x0F));
	if (r.aa) {
		flags |= FLAG_AA;
	}
	if (r.tc) {
		flags |= FLAG_TC;
	}
	if (qi.has_edns) {
		/* RFC 6891 6.1.3: our size, version 0, DO echoed, no options. */
		uint8_t *o = resp + r.pos;
		o[0] = 0;
		tal_wire_write_u16(o + 1, TAL_TYPE_OPT);
		tal_wire_write_u16(o + 3, TAL_EDNS_UDP_SIZE);
		o[5] = (uint8_t)(rcode >> 4);
		o[6] = 0;
		tal_wire_write_u16(o + 7, qi.edns_do ? EDNS_DO : 0);
		tal_wire_write_u16(o + 9, 0);
		r.pos += OPT_RR_LEN;
		r.ar++;
	}
	tal_wire_write_u16(resp, qi.id);
	tal_wire_write_u16(resp + 2, flags);
	tal_wire_write_u16(resp + 4, qlen > 0 ? 1 : 0);
	tal_wire_write_u16(resp + 6, r.an);
	tal_wire_write_u16(resp + 8, r.ns);
	tal_wire_write_u16(resp + 10, r.ar);
	return r.pos;
}
