/*
 * tests/unit/test_query.c -- answering without sockets (Knot's
 * test_process_query.c): wire queries in, wire responses out.
 *
 * A temporary store holds a zone written by hand in the value formats of
 * common/node.h (apex SOA and NS with glue, a glue node, policy nodes with
 * tenant sections, an empty non-terminal, a damaged node), a second zone
 * whose glue overflows 512 octets, and a third zone written through the
 * zones/ API, to prove both sides read the formats the same way.  Every
 * response must parse with ldns_wire2pkt; then rcode, flags, section
 * counts, RDATA, TTLs, owners, EDNS and the counters are checked as a
 * client would see them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "common/dname.h"
#include "common/node.h"
#include "common/wire.h"
#include "server/query.h"
#include "store/store.h"
#include "tests/unit/tap.h"
#include "zones/name.h"
#include "zones/policy.h"
#include "zones/zone.h"

#define ZONE      "tenants.example.net"
#define GUID1     "72f988bf-86f1-41af-91ab-2d7cd011db47"
#define GUID2     "11111111-2222-3333-4444-555555555555"
#define GUID_NONE "99999999-2222-3333-4444-555555555555"
#define SOA_TTL   3600
#define NEG_TTL   300
#define TXT_TTL   3600
#define A_TTL     1800
#define N_BIG     30
#define N_GLUE    20

/* ---- value builders (common/node.h) ---------------------------------------- */

typedef struct {
	uint8_t b[16384];
	size_t n;
} buf_t;

static void b8(buf_t *b, uint8_t v)
{
	b->b[b->n++] = v;
}

static void b16(buf_t *b, uint16_t v)
{
	tal_wire_write_u16(b->b + b->n, v);
	b->n += 2;
}

static void b32(buf_t *b, uint32_t v)
{
	tal_wire_write_u32(b->b + b->n, v);
	b->n += 4;
}

static void bmem(buf_t *b, const void *p, size_t n)
{
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void bname(buf_t *b, const char *text)
{
	uint8_t w[TAL_DNAME_MAXLEN];
	int n = tal_dname_from_text(text, w);
	if (n < 0) {
		fprintf(stderr, "bad name %s\n", text);
		exit(2);
	}
	bmem(b, w, (size_t)n);
}

/* Starts an RR (TYPE CLASS TTL RDLENGTH) and returns where RDLENGTH goes. */
static size_t rr_begin(buf_t *b, uint16_t type, uint32_t ttl)
{
	b16(b, type);
	b16(b, TAL_CLASS_IN);
	b32(b, ttl);
	b16(b, 0);
	return b->n;
}

static void rr_end(buf_t *b, size_t rdstart)
{
	tal_wire_write_u16(b->b + rdstart - 2, (uint16_t)(b->n - rdstart));
}

static void rr_txt(buf_t *b, const char *text)
{
	size_t s = rr_begin(b, TAL_TYPE_TXT, TXT_TTL);
	b8(b, (uint8_t)strlen(text));
	bmem(b, text, strlen(text));
	rr_end(b, s);
}

static void rr_a(buf_t *b, uint32_t ttl, uint32_t addr)
{
	size_t s = rr_begin(b, TAL_TYPE_A, ttl);
	b32(b, addr);
	rr_end(b, s);
}

static void rr_aaaa(buf_t *b, uint32_t ttl, uint16_t last)
{
	size_t s = rr_begin(b, TAL_TYPE_AAAA, ttl);
	b32(b, 0x20010db8);
	b32(b, 0);
	b32(b, 0);
	b16(b, 0);
	b16(b, last);
	rr_end(b, s);
}

static void rr_soa(buf_t *b, uint32_t ttl, uint32_t serial)
{
	size_t s = rr_begin(b, TAL_TYPE_SOA, ttl);
	bname(b, "ns1." ZONE);
	bname(b, "hostmaster.example.net");
	b32(b, serial);
	b32(b, 3600);
	b32(b, 600);
	b32(b, 1209600);
	b32(b, NEG_TTL);
	rr_end(b, s);
}

static void rr_ns(buf_t *b, const char *target)
{
	size_t s = rr_begin(b, TAL_TYPE_NS, SOA_TTL);
	bname(b, target);
	rr_end(b, s);
}

typedef struct {
	uint16_t type;
	uint16_t count;
	const buf_t *rrs;
	const buf_t *add; /* NULL: none */
} set_t;

/* Builds a node value; `ids` NULL means no tenant section. */
static void node_value(buf_t *out, const set_t *sets, int nsets, const uint8_t *ids, int nids,
                       uint32_t a_ttl)
{
	out->n = 0;
	b8(out, TAL_NODE_VERSION);
	b8(out, ids != NULL ? TAL_NODE_F_TENANTS : 0);
	b16(out, (uint16_t)nsets);
	for (int i = 0; i < nsets; i++) {
		b16(out, sets[i].type);
		b16(out, sets[i].count);
		b32(out, (uint32_t)sets[i].rrs->n);
		b16(out, (uint16_t)(sets[i].add ? sets[i].add->n : 0));
		bmem(out, sets[i].rrs->b, sets[i].rrs->n);
		if (sets[i].add) {
			bmem(out, sets[i].add->b, sets[i].add->n);
		}
	}
	if (ids != NULL) {
		b32(out, a_ttl);
		b16(out, (uint16_t)nids);
		bmem(out, ids, (size_t)nids * TAL_TENANT_IDLEN);
	}
}

static int put_value(tal_txn_t *txn, tal_db_t db, const char *name, const buf_t *v)
{
	uint8_t key[TAL_KEY_MAXLEN];
	int klen = tal_key_from_text(name, key);
	if (klen < 0) {
		return klen;
	}
	return tal_txn_put(txn, db, key, (size_t)klen, v->b, v->n, 0);
}

static void guid_bin(const char *text, uint8_t *id)
{
	if (!tal_guid_label_parse((const uint8_t *)text, strlen(text), id)) {
		fprintf(stderr, "bad guid %s\n", text);
		exit(2);
	}
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, TAL_TENANT_IDLEN);
}

/* The zone and apex of `apex` with the given SOA serial and NS RRset. */
static int put_zone(tal_txn_t *txn, const char *apex, uint32_t serial, const set_t *ns)
{
	buf_t soa = { .n = 0 }, zone = { .n = 0 }, neg = { .n = 0 }, node;
	int ret;

	rr_soa(&soa, SOA_TTL, serial);
	rr_soa(&neg, NEG_TTL, serial);
	b8(&zone, TAL_ZONE_VERSION);
	b8(&zone, 0);
	b16(&zone, 0);
	b32(&zone, 7);
	b32(&zone, serial);
	b16(&zone, (uint16_t)neg.n);
	bmem(&zone, neg.b, neg.n);
	bmem(&zone, "private", 7);
	set_t sets[2] = { *ns, { TAL_TYPE_SOA, 1, &soa, NULL } };
	node_value(&node, sets, 2, NULL, 0, 0);
	ret = put_value(txn, TAL_DB_ZONES, apex, &zone);
	if (ret == 0) {
		ret = put_value(txn, TAL_DB_NODES, apex, &node);
	}
	return ret;
}

static int build_store(tal_store_t *st)
{
	static buf_t ns, glue, v, rrs, rrs2;
	tal_txn_t *txn = NULL;
	uint8_t ids[N_BIG][TAL_TENANT_IDLEN];
	int ret = tal_txn_begin(st, TAL_TXN_WRITE, &txn);
	if (ret != 0) {
		return ret;
	}

	/* Zone 1: apex with two NS, glue for the in-zone one. */
	ns.n = glue.n = 0;
	rr_ns(&ns, "ns1." ZONE);
	rr_ns(&ns, "ns2.other.example");
	bname(&glue, "ns1." ZONE);
	rr_a(&glue, SOA_TTL, 0xC0000235);
	bname(&glue, "ns1." ZONE);
	rr_aaaa(&glue, SOA_TTL, 0x53);
	set_t nsset = { TAL_TYPE_NS, 2, &ns, &glue };
	ret = put_zone(txn, ZONE, 2024010101, &nsset);

	/* The glue node itself. */
	rrs.n = rrs2.n = 0;
	rr_a(&rrs, SOA_TTL, 0xC0000235);
	rr_aaaa(&rrs2, SOA_TTL, 0x53);
	set_t gsets[2] = { { TAL_TYPE_A, 1, &rrs, NULL }, { TAL_TYPE_AAAA, 1, &rrs2, NULL } };
	node_value(&v, gsets, 2, NULL, 0, 0);
	ret = ret ? ret : put_value(txn, TAL_DB_NODES, "ns1." ZONE, &v);

	/* A policy with two tenants. */
	rrs.n = 0;
	rr_txt(&rrs, "v=TAL1; tid=" GUID2);
	rr_txt(&rrs, "v=TAL1; tid=" GUID1);
	guid_bin(GUID2, ids[0]);
	guid_bin(GUID1, ids[1]);
	set_t pset = { TAL_TYPE_TXT, 2, &rrs, NULL };
	node_value(&v, &pset, 1, ids[0], 2, A_TTL);
	ret = ret ? ret : put_value(txn, TAL_DB_NODES, "contoso.com." ZONE, &v);

	/* A deny-all policy. */
	rrs.n = 0;
	rr_txt(&rrs, "v=TAL1");
	pset.count = 1;
	node_value(&v, &pset, 1, ids[0], 0, A_TTL);
	ret = ret ? ret : put_value(txn, TAL_DB_NODES, "none.example." ZONE, &v);

	/* A policy too large for UDP: 30 tenants. */
	rrs.n = 0;
	for (int i = 0; i < N_BIG; i++) {
		char g[40], txt[64];
		snprintf(g, sizeof(g), "%08x-0000-4000-8000-%012x", 0x10000000u + (unsigned)i, i);
		snprintf(txt, sizeof(txt), "v=TAL1; tid=%s", g);
		rr_txt(&rrs, txt);
		guid_bin(g, ids[i]);
	}
	qsort(ids, N_BIG, TAL_TENANT_IDLEN, cmp_id);
	pset.count = N_BIG;
	node_value(&v, &pset, 1, ids[0], N_BIG, A_TTL);
	ret = ret ? ret : put_value(txn, TAL_DB_NODES, "big.example." ZONE, &v);

	/* b.a.Z exists, a.Z does not: a.Z is an empty non-terminal. */
	rrs.n = 0;
	rr_txt(&rrs, "v=TAL1");
	pset.count = 1;
	node_value(&v, &pset, 1, NULL, 0, 0);
	ret = ret ? ret : put_value(txn, TAL_DB_NODES, "b.a." ZONE, &v);

	/* The folded forms of '@' '[' and of 'A' 'Z' with the high bit. */
	rrs.n = 0;
	rr_txt(&rrs, "edge");
	pset.count = 1;
	node_value(&v, &pset, 1, NULL, 0, 0);
	ret = ret ? ret : put_value(txn, TAL_DB_NODES, "x`{\xe1\xfa." ZONE, &v);

	/* A damaged node: unknown version. */
	v.n = 0;
	b8(&v, 99);
	b8(&v, 0);
	b16(&v, 1);
	ret = ret ? ret : put_value(txn, TAL_DB_NODES, "broken." ZONE, &v);

	/* Zone 2: one in-zone NS with 20 AAAA glue records (over 512 octets). */
	ns.n = glue.n = 0;
	rr_ns(&ns, "ns1.bigns.test");
	for (int i = 0; i < N_GLUE; i++) {
		bname(&glue, "ns1.bigns.test");
		rr_aaaa(&glue, SOA_TTL, (uint16_t)(i + 1));
	}
	set_t ns2 = { TAL_TYPE_NS, 1, &ns, &glue };
	ret = ret ? ret : put_zone(txn, "bigns.test", 5, &ns2);

	if (ret != 0) {
		tal_txn_abort(txn);
		return ret;
	}
	return tal_txn_commit(txn);
}

/* ---- queries and responses ------------------------------------------------- */

typedef struct {
	const char *name;
	uint16_t type;
	uint16_t cls;
	uint16_t flags;  /* header flags word, opcode included */
	int edns;        /* 0: no OPT; else the UDP size in the OPT */
	uint8_t version; /* EDNS version */
	bool dnssec_ok;
} q_t;

static uint8_t qbuf[1024];
static size_t qlen;
static uint8_t rbuf[TAL_MSG_MAXLEN];
static size_t rlen;
static tal_answerer_t ans;
static uint16_t next_id = 1;

static void make_query(const q_t *q)
{
	static buf_t qb;
	buf_t *b = &qb;
	b->n = 0;
	b16(b, next_id++);
	b16(b, q->flags);
	b16(b, 1);
	b16(b, 0);
	b16(b, 0);
	b16(b, q->edns > 0 ? 1 : 0);
	bname(b, q->name);
	b16(b, q->type);
	b16(b, q->cls ? q->cls : TAL_CLASS_IN);
	if (q->edns > 0) {
		b8(b, 0);
		b16(b, TAL_TYPE_OPT);
		b16(b, (uint16_t)q->edns);
		b8(b, 0);
		b8(b, q->version);
		b16(b, q->dnssec_ok ? 0x8000 : 0);
		b16(b, 0);
	}
	memcpy(qbuf, b->b, b->n);
	qlen = b->n;
}

/* Answers the query in qbuf; returns the parsed response or NULL (none or unparseable). */
static ldns_pkt *answer(enum tal_transport t)
{
	ldns_pkt *pkt = NULL;

	rlen = tal_query_answer(&ans, qbuf, qlen, rbuf, sizeof(rbuf), t);
	if (rlen == 0) {
		return NULL;
	}
	if (ldns_wire2pkt(&pkt, rbuf, rlen) != LDNS_STATUS_OK) {
		return NULL;
	}
	return pkt;
}

static ldns_pkt *ask(const q_t *q, enum tal_transport t)
{
	make_query(q);
	return answer(t);
}

#define RCODE()   (rbuf[3] & 0x0F)
#define FLAG_AA() ((rbuf[2] & 0x04) != 0)
#define FLAG_TC() ((rbuf[2] & 0x02) != 0)
#define FLAG_RD() ((rbuf[2] & 0x01) != 0)
#define FLAG_RA() ((rbuf[3] & 0x80) != 0)
#define FLAG_AD() ((rbuf[3] & 0x20) != 0)
#define FLAG_CD() ((rbuf[3] & 0x10) != 0)

/* Text of an RR's owner, for comparisons. */
static const char *owner_text(const ldns_rr *rr)
{
	static char text[1100];
	char *s = ldns_rdf2str(ldns_rr_owner(rr));
	snprintf(text, sizeof(text), "%s", s ? s : "(null)");
	free(s);
	return text;
}

static const char *rdf_text(const ldns_rr *rr, size_t i)
{
	static char text[1100];
	char *s = ldns_rdf2str(ldns_rr_rdf(rr, i));
	snprintf(text, sizeof(text), "%s", s ? s : "(null)");
	free(s);
	return text;
}

/* The OPT record of a response, raw: returns its offset or 0. */
static size_t find_opt(void)
{
	if (rlen < 11 + 12) {
		return 0;
	}
	size_t o = rlen - 11; /* ours is always last and has no options */
	return rbuf[o] == 0 && tal_wire_read_u16(rbuf + o + 1) == TAL_TYPE_OPT ? o : 0;
}

/* Checks the negative SOA: one authority RR, owner and TTL. */
static void check_neg_soa(ldns_pkt *p, const char *owner, uint32_t ttl, const char *what)
{
	ldns_rr_list *auth = ldns_pkt_authority(p);
	is_int(1, ldns_rr_list_rr_count(auth), "%s: one authority RR", what);
	ldns_rr *soa = ldns_rr_list_rr(auth, 0);
	if (soa == NULL) {
		return;
	}
	is_int(LDNS_RR_TYPE_SOA, ldns_rr_get_type(soa), "%s: it is the SOA", what);
	is_str(owner, owner_text(soa), "%s: SOA owner is the apex, in the client's case", what);
	is_int(ttl, ldns_rr_ttl(soa), "%s: SOA TTL is the negative TTL", what);
}

/* ---- the cases --------------------------------------------------------- */

static void test_positive(void)
{
	q_t q = { .name = "CoNtOsO.com.TENANTS.example.NET",
		  .type = TAL_TYPE_TXT,
		  .flags = 0x0100 };
	ldns_pkt *p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p != NULL, "TXT policy: response parses");
	if (p == NULL) {
		return;
	}
	is_int(0, RCODE(), "TXT policy: NOERROR");
	ok(FLAG_AA() && !FLAG_TC() && !FLAG_RA(), "TXT policy: AA, no TC, no RA");
	ok(FLAG_RD(), "TXT policy: RD copied");
	is_int(qbuf[0] << 8 | qbuf[1], ldns_pkt_id(p), "TXT policy: id echoed");
	is_int(1, ldns_pkt_qdcount(p), "TXT policy: one question");
	is_mem(qbuf + 12, rbuf + 12, qlen - 12, "TXT policy: question echoed byte for byte");
	is_int(2, ldns_pkt_ancount(p), "TXT policy: two answers");
	is_int(0, ldns_pkt_nscount(p), "TXT policy: empty authority");
	is_int(0, ldns_pkt_arcount(p), "TXT policy: empty additional");
	ok(find_opt() == 0, "TXT policy: no OPT without EDNS in the query");
	ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(p), 0);
	is_str("CoNtOsO.com.TENANTS.example.NET.", owner_text(rr),
	       "TXT policy: owner points to the question (client's case)");
	is_int(TXT_TTL, ldns_rr_ttl(rr), "TXT policy: TTL");
	is_str("\"v=TAL1; tid=" GUID2 "\"", rdf_text(rr, 0), "TXT policy: first RDATA");
	rr = ldns_rr_list_rr(ldns_pkt_answer(p), 1);
	is_str("\"v=TAL1; tid=" GUID1 "\"", rdf_text(rr, 0), "TXT policy: second RDATA");
	is_int(12 + 33 + 4 + 2 * (2 + 10 + 1 + 48), rlen, "TXT policy: owners compressed");
	ldns_pkt_free(p);

	q = (q_t){ .name = "none.example." ZONE, .type = TAL_TYPE_TXT };
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 0 && ldns_pkt_ancount(p) == 1, "deny-all policy: one TXT");
	if (p) {
		is_str("\"v=TAL1\"", rdf_text(ldns_rr_list_rr(ldns_pkt_answer(p), 0), 0),
		       "deny-all policy: v=TAL1 alone");
		ok(!FLAG_RD(), "deny-all policy: RD clear when the query had none");
	}
	ldns_pkt_free(p);

	q = (q_t){ .name = "ns1." ZONE, .type = TAL_TYPE_AAAA };
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 0 && ldns_pkt_ancount(p) == 1, "glue node: AAAA answer");
	if (p) {
		is_str("2001:db8::53", rdf_text(ldns_rr_list_rr(ldns_pkt_answer(p), 0), 0),
		       "glue node: AAAA RDATA");
	}
	ldns_pkt_free(p);
}

static void test_apex(void)
{
	q_t q = { .name = ZONE, .type = TAL_TYPE_NS, .edns = 1232 };
	ldns_pkt *p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p != NULL, "apex NS: response parses");
	if (p == NULL) {
		return;
	}
	is_int(0, RCODE(), "apex NS: NOERROR");
	is_int(2, ldns_pkt_ancount(p), "apex NS: two NS");
	is_int(2, ldns_pkt_arcount(p), "apex NS: two glue RRs (plus OPT)");
	is_int(3, rbuf[10] << 8 | rbuf[11], "apex NS: ARCOUNT on the wire includes OPT");
	ldns_rr_list *add = ldns_pkt_additional(p);
	ldns_rr *g = ldns_rr_list_rr(add, 0);
	ok(g && ldns_rr_get_type(g) == LDNS_RR_TYPE_A, "apex NS: glue A first");
	if (g) {
		is_str("ns1." ZONE ".", owner_text(g), "apex NS: glue owner");
		is_str("192.0.2.53", rdf_text(g, 0), "apex NS: glue address");
	}
	g = ldns_rr_list_rr(add, 1);
	ok(g && ldns_rr_get_type(g) == LDNS_RR_TYPE_AAAA, "apex NS: glue AAAA second");
	/* Owner of each glue RR is a pointer to the NS RDATA naming it. */
	size_t qend = 12 + 21 + 4, ns1_rdata = qend + 12;
	size_t glue_at = qend + 2 * 12 + 25 + 19;
	is_int(0xC000 | ns1_rdata, tal_wire_read_u16(rbuf + glue_at),
	       "apex NS: glue owner compressed");
	ldns_pkt_free(p);

	q = (q_t){ .name = ZONE, .type = TAL_TYPE_SOA };
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 0 && ldns_pkt_ancount(p) == 1, "apex SOA: one SOA");
	if (p) {
		ldns_rr *soa = ldns_rr_list_rr(ldns_pkt_answer(p), 0);
		is_int(SOA_TTL, ldns_rr_ttl(soa), "apex SOA: SOA TTL, not the negative one");
		is_str("2024010101", rdf_text(soa, 2), "apex SOA: serial");
	}
	ldns_pkt_free(p);

	/*
	 * RFC 8482: one RRset for ANY, the smallest: here the NS RRset (68
	 * octets of RRs) rather than the SOA (81), and without its glue.
	 */
	q = (q_t){ .name = ZONE, .type = TAL_TYPE_ANY };
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 0 && FLAG_AA(), "apex ANY: NOERROR, AA");
	if (p) {
		ldns_rr_list *an = ldns_pkt_answer(p);
		is_int(2, ldns_pkt_ancount(p), "apex ANY: one RRset only");
		ok(ldns_rr_get_type(ldns_rr_list_rr(an, 0)) == LDNS_RR_TYPE_NS &&
		           ldns_rr_get_type(ldns_rr_list_rr(an, 1)) == LDNS_RR_TYPE_NS,
		   "apex ANY: the smallest RRset (NS)");
		is_int(0, ldns_pkt_arcount(p), "apex ANY: no glue");
	}
	ldns_pkt_free(p);

	q = (q_t){ .name = "contoso.com." ZONE, .type = TAL_TYPE_ANY };
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 0 && ldns_pkt_ancount(p) == 2 &&
	           ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(p), 0)) == LDNS_RR_TYPE_TXT,
	   "policy ANY: the TXT RRset");
	ldns_pkt_free(p);
}

static void test_negative(void)
{
	q_t q = { .name = "nosuch.Tenants.Example.Net", .type = TAL_TYPE_TXT };
	ldns_pkt *p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p != NULL, "NXDOMAIN: response parses");
	if (p) {
		is_int(3, RCODE(), "NXDOMAIN: rcode");
		ok(FLAG_AA() && !FLAG_RA(), "NXDOMAIN: AA, no RA");
		is_int(0, ldns_pkt_ancount(p), "NXDOMAIN: no answer");
		check_neg_soa(p, "Tenants.Example.Net.", NEG_TTL, "NXDOMAIN");
	}
	ldns_pkt_free(p);

	q = (q_t){ .name = "contoso.com." ZONE, .type = TAL_TYPE_A };
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 0 && FLAG_AA() && ldns_pkt_ancount(p) == 0,
	   "NODATA: NOERROR, AA, empty");
	if (p) {
		check_neg_soa(p, ZONE ".", NEG_TTL, "NODATA");
	}
	ldns_pkt_free(p);

	q = (q_t){ .name = "A." ZONE, .type = TAL_TYPE_TXT };
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 0 && ldns_pkt_ancount(p) == 0,
	   "empty non-terminal: NODATA, not NXDOMAIN (RFC 8020)");
	if (p) {
		check_neg_soa(p, ZONE ".", NEG_TTL, "empty non-terminal");
	}
	ldns_pkt_free(p);

	q = (q_t){ .name = "b.a." ZONE, .type = TAL_TYPE_TXT };
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 0 && ldns_pkt_ancount(p) == 1, "below the empty non-terminal: data");
	ldns_pkt_free(p);

	q = (q_t){ .name = "x.b.a." ZONE, .type = TAL_TYPE_TXT };
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 3, "below a leaf: NXDOMAIN");
	ldns_pkt_free(p);
}

/* Only A-Z fold: the octets next to them and above 0x7f must not. */
static void test_case_folding(void)
{
	static const char *const unfolded[] = {
		"x@{\xe1\xfa." ZONE,
		"x`[\xe1\xfa." ZONE,
		"x`{\xc1\xfa." ZONE,
		"x`{\xe1\xda." ZONE,
	};
	q_t q = { .name = "X`{\xe1\xfa." ZONE, .type = TAL_TYPE_TXT };
	ldns_pkt *p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 0 && ldns_pkt_ancount(p) == 1, "case folding: X matches x");
	ldns_pkt_free(p);
	/* Each differs from the stored name in one octet, 0x20 below it. */
	for (size_t i = 0; i < sizeof(unfolded) / sizeof(unfolded[0]); i++) {
		q.name = unfolded[i];
		p = ask(&q, TAL_TRANSPORT_UDP);
		ok(p && RCODE() == 3, "case folding: octet %zu of the label is not a letter",
		   i + 2);
		ldns_pkt_free(p);
	}
}

static void test_a_view(void)
{
	q_t q = { .name = GUID1 ".contoso.com." ZONE, .type = TAL_TYPE_A };
	ldns_pkt *p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 0 && FLAG_AA() && ldns_pkt_ancount(p) == 1, "A view hit: one A");
	if (p) {
		ldns_rr *a = ldns_rr_list_rr(ldns_pkt_answer(p), 0);
		is_str("127.0.0.2", rdf_text(a, 0), "A view hit: 127.0.0.2");
		is_int(A_TTL, ldns_rr_ttl(a), "A view hit: the tenant section's TTL");
		is_str(GUID1 ".contoso.com." ZONE ".", owner_text(a), "A view hit: owner");
	}
	ldns_pkt_free(p);

	q.name = "72F988BF-86F1-41AF-91AB-2D7CD011DB47.CONTOSO.com." ZONE;
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 0 && ldns_pkt_ancount(p) == 1, "A view: an uppercase GUID matches");
	if (p) {
		is_str("72F988BF-86F1-41AF-91AB-2D7CD011DB47.CONTOSO.com." ZONE ".",
		       owner_text(ldns_rr_list_rr(ldns_pkt_answer(p), 0)),
		       "A view: owner keeps the client's case");
	}
	ldns_pkt_free(p);

	q.name = GUID2 ".contoso.com." ZONE;
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 0 && ldns_pkt_ancount(p) == 1, "A view: the second tenant too");
	ldns_pkt_free(p);

	q.name = GUID_NONE ".contoso.com." ZONE;
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 3 && ldns_pkt_ancount(p) == 0, "A view miss: NXDOMAIN");
	if (p) {
		check_neg_soa(p, ZONE ".", NEG_TTL, "A view miss");
	}
	ldns_pkt_free(p);

	q.name = GUID1 ".none.example." ZONE;
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 3, "A view of a deny-all policy: NXDOMAIN");
	ldns_pkt_free(p);

	q.name = GUID1 ".nopolicy.example." ZONE;
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 3, "A view without a policy: NXDOMAIN");
	ldns_pkt_free(p);

	q.name = GUID1 ".b.a." ZONE; /* a node without a tenant section */
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 3, "A view under a node that is not a policy: NXDOMAIN");
	ldns_pkt_free(p);

	q = (q_t){ .name = GUID1 ".contoso.com." ZONE, .type = TAL_TYPE_TXT };
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 0 && ldns_pkt_ancount(p) == 0, "A view name, TXT: NODATA");
	if (p) {
		check_neg_soa(p, ZONE ".", NEG_TTL, "A view NODATA");
	}
	ldns_pkt_free(p);

	q.type = TAL_TYPE_ANY;
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 0 && ldns_pkt_ancount(p) == 1 &&
	           ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(p), 0)) == LDNS_RR_TYPE_A,
	   "A view name, ANY: the A RR");
	ldns_pkt_free(p);

	/* 37 octets but not a GUID: an ordinary (absent) name. */
	q = (q_t){ .name = "72f988bf-86f1-41af-91ab-2d7cd011db4x.contoso.com." ZONE,
		   .type = TAL_TYPE_A };
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 3, "not quite a GUID: NXDOMAIN");
	ldns_pkt_free(p);
}

static void test_edns(void)
{
	q_t q = {
		.name = "contoso.com." ZONE, .type = TAL_TYPE_TXT, .edns = 4096, .dnssec_ok = true
	};
	ldns_pkt *p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 0 && ldns_pkt_ancount(p) == 2, "EDNS: answer");
	size_t o = find_opt();
	ok(o != 0, "EDNS: OPT in the response");
	if (p && o) {
		ok(ldns_pkt_edns(p), "EDNS: ldns sees the OPT");
		is_int(TAL_EDNS_UDP_SIZE, ldns_pkt_edns_udp_size(p), "EDNS: our UDP size is 1232");
		is_int(0, ldns_pkt_edns_version(p), "EDNS: version 0");
		ok(ldns_pkt_edns_do(p), "EDNS: DO echoed");
		is_int(0x8000, tal_wire_read_u16(rbuf + o + 7), "EDNS: no other flag");
		is_int(0, tal_wire_read_u16(rbuf + o + 9), "EDNS: no options");
	}
	ldns_pkt_free(p);

	q.dnssec_ok = false;
	p = ask(&q, TAL_TRANSPORT_UDP);
	o = find_opt();
	ok(p && o && !ldns_pkt_edns_do(p), "EDNS: DO clear when the query had none");
	ldns_pkt_free(p);

	q.version = 1;
	q.dnssec_ok = true;
	p = ask(&q, TAL_TRANSPORT_UDP);
	o = find_opt();
	ok(p != NULL && o != 0, "BADVERS: response with OPT");
	if (p && o) {
		is_int(0, RCODE(), "BADVERS: header rcode bits 0");
		is_int(1, rbuf[o + 5], "BADVERS: extended rcode 1 (16 >> 4)");
		is_int(0, rbuf[o + 6], "BADVERS: our version 0");
		is_int(16, ldns_pkt_get_rcode(p) | ldns_pkt_edns_extended_rcode(p) << 4,
		       "BADVERS: full rcode 16");
		is_int(0, ldns_pkt_ancount(p), "BADVERS: no answer");
		is_int(1, ldns_pkt_qdcount(p), "BADVERS: question echoed");
		ok(!FLAG_AA(), "BADVERS: no AA");
	}
	ldns_pkt_free(p);

	/* An unknown option is ignored (RFC 6891 6.1.2). */
	make_query(&(q_t){ .name = "contoso.com." ZONE, .type = TAL_TYPE_TXT, .edns = 1232 });
	static const uint8_t option[] = { 0xFD, 0xE9, 0, 3, 'x', 'y', 'z' };
	memcpy(qbuf + qlen, option, sizeof(option));
	tal_wire_write_u16(qbuf + qlen - 2, sizeof(option));
	qlen += sizeof(option);
	p = answer(TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 0 && ldns_pkt_ancount(p) == 2 && find_opt() != 0,
	   "EDNS: an unknown option is ignored");
	ldns_pkt_free(p);
}

static void test_flags(void)
{
	/* RD and CD copied; AD, Z and RA never set; opcode and id echoed. */
	q_t q = { .name = "contoso.com." ZONE, .type = TAL_TYPE_TXT, .flags = 0x0100 | 0x0070 };
	ldns_pkt *p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p != NULL, "flags: response parses");
	if (p) {
		ok(FLAG_RD() && FLAG_CD(), "flags: RD and CD copied");
		ok(!FLAG_AD() && !FLAG_RA() && !(rbuf[3] & 0x40), "flags: AD, RA and Z clear");
		ok(rbuf[2] & 0x80, "flags: QR set");
		is_mem(qbuf, rbuf, 2, "flags: id echoed");
	}
	ldns_pkt_free(p);
}

static void test_refused_and_meta(void)
{
	q_t q = { .name = "example.org", .type = TAL_TYPE_A, .flags = 0x0100 };
	ldns_pkt *p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 5 && !FLAG_AA() && !FLAG_RA(),
	   "outside our zones: REFUSED, no AA, no RA");
	ok(p && ldns_pkt_ancount(p) == 0 && ldns_pkt_nscount(p) == 0, "REFUSED: empty sections");
	ldns_pkt_free(p);

	q = (q_t){ .name = "net", .type = TAL_TYPE_NS };
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 5, "a parent of our zone: REFUSED");
	ldns_pkt_free(p);

	q = (q_t){ .name = ".", .type = TAL_TYPE_NS };
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 5, "the root: REFUSED");
	ldns_pkt_free(p);

	q = (q_t){ .name = "version.bind", .type = TAL_TYPE_TXT, .cls = TAL_CLASS_CH };
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 5 && ldns_pkt_ancount(p) == 0, "CH version.bind: REFUSED, no version");
	ldns_pkt_free(p);

	q = (q_t){ .name = "contoso.com." ZONE, .type = TAL_TYPE_TXT, .cls = TAL_CLASS_CH };
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 5, "CH for a name in the zone: REFUSED");
	ldns_pkt_free(p);

	q.cls = TAL_CLASS_ANY;
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 5, "class ANY: REFUSED");
	ldns_pkt_free(p);

	struct {
		uint16_t type;
		int rcode;
		const char *what;
	} meta[] = {
		{ TAL_TYPE_AXFR, 5, "AXFR over UDP: REFUSED" },
		{ TAL_TYPE_IXFR, 5, "IXFR: REFUSED" },
		{ TAL_TYPE_OPT, 1, "qtype OPT: FORMERR" },
		{ 250, 1, "qtype TSIG: FORMERR" },
		{ 200, 1, "unassigned meta qtype: FORMERR" },
		{ 253, 4, "qtype MAILB: NOTIMP" },
		{ 254, 4, "qtype MAILA: NOTIMP" },
		{ 65280, 0, "private qtype: ordinary NODATA" },
	};
	for (size_t i = 0; i < sizeof(meta) / sizeof(meta[0]); i++) {
		q = (q_t){ .name = "contoso.com." ZONE, .type = meta[i].type };
		p = ask(&q, TAL_TRANSPORT_UDP);
		ok(p && RCODE() == meta[i].rcode && ldns_pkt_qdcount(p) == 1 &&
		           ldns_pkt_ancount(p) == 0,
		   "%s", meta[i].what);
		ldns_pkt_free(p);
	}
	q = (q_t){ .name = ZONE, .type = TAL_TYPE_AXFR };
	p = ask(&q, TAL_TRANSPORT_TCP);
	ok(p && RCODE() == 5, "AXFR over TCP: REFUSED (no transfers yet)");
	ldns_pkt_free(p);
}

static void test_malformed(void)
{
	static uint8_t short_hdr[11] = { 0x12, 0x34 };
	ldns_pkt *p;

	memcpy(qbuf, short_hdr, sizeof(short_hdr));
	qlen = sizeof(short_hdr);
	is_int(0, tal_query_answer(&ans, qbuf, qlen, rbuf, sizeof(rbuf), TAL_TRANSPORT_UDP),
	       "short header: no response");
	is_int(0, tal_query_answer(&ans, qbuf, 0, rbuf, sizeof(rbuf), TAL_TRANSPORT_UDP),
	       "empty message: no response");

	make_query(&(q_t){ .name = "contoso.com." ZONE, .type = TAL_TYPE_TXT });
	qbuf[2] |= 0x80;
	is_int(0, tal_query_answer(&ans, qbuf, qlen, rbuf, sizeof(rbuf), TAL_TRANSPORT_UDP),
	       "QR=1: no response");

	/* QDCOUNT 0: FORMERR with no question. */
	make_query(&(q_t){ .name = "contoso.com." ZONE, .type = TAL_TYPE_TXT });
	qbuf[5] = 0;
	qlen = 12;
	p = answer(TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 1 && ldns_pkt_qdcount(p) == 0 && rlen == 12, "QDCOUNT 0: bare FORMERR");
	ldns_pkt_free(p);

	make_query(&(q_t){ .name = "contoso.com." ZONE, .type = TAL_TYPE_TXT });
	qbuf[5] = 2;
	memcpy(qbuf + qlen, qbuf + 12, qlen - 12);
	qlen += qlen - 12;
	p = answer(TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 1 && ldns_pkt_qdcount(p) == 0 && !FLAG_AA(), "QDCOUNT 2: FORMERR");
	ldns_pkt_free(p);

	/* "a" + pointer to offset 12 in the question. */
	static const uint8_t ptrq[] = { 0, 1, 0, 0,   0,    1,  0, 0, 0, 0,
		                        0, 0, 1, 'a', 0xC0, 12, 0, 1, 0, 1 };
	memcpy(qbuf, ptrq, sizeof(ptrq));
	qlen = sizeof(ptrq);
	p = answer(TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 1 && ldns_pkt_qdcount(p) == 0, "pointer in the question: FORMERR");
	ldns_pkt_free(p);

	make_query(&(q_t){ .name = "contoso.com." ZONE, .type = TAL_TYPE_TXT });
	qlen -= 3;
	p = answer(TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 1 && ldns_pkt_qdcount(p) == 0, "truncated question: FORMERR");
	ldns_pkt_free(p);
	make_query(&(q_t){ .name = "contoso.com." ZONE, .type = TAL_TYPE_TXT });
	qlen = 20;
	p = answer(TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 1, "question cut inside the name: FORMERR");
	ldns_pkt_free(p);

	/* A reserved label type (0x40) in the question. */
	make_query(&(q_t){ .name = "contoso.com." ZONE, .type = TAL_TYPE_TXT });
	qbuf[12] = 0x47;
	p = answer(TAL_TRANSPORT_UDP);
	ok(rlen > 0 && RCODE() == 1, "reserved label type: FORMERR");
	ldns_pkt_free(p);

	/* Two OPT records. */
	make_query(&(q_t){ .name = "contoso.com." ZONE, .type = TAL_TYPE_TXT, .edns = 1232 });
	memcpy(qbuf + qlen, qbuf + qlen - 11, 11);
	qlen += 11;
	qbuf[11] = 2;
	p = answer(TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 1 && find_opt() == 0 && ldns_pkt_ancount(p) == 0,
	   "two OPT: FORMERR without OPT");
	ldns_pkt_free(p);

	/* OPT RDLENGTH past the end, and options that do not tile RDATA. */
	make_query(&(q_t){ .name = "contoso.com." ZONE, .type = TAL_TYPE_TXT, .edns = 1232 });
	qbuf[qlen - 1] = 4;
	p = answer(TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 1, "OPT RDLENGTH beyond the message: FORMERR");
	ldns_pkt_free(p);
	make_query(&(q_t){ .name = "contoso.com." ZONE, .type = TAL_TYPE_TXT, .edns = 1232 });
	qbuf[qlen - 1] = 3;
	memcpy(qbuf + qlen, "\0\x0a\0", 3);
	qlen += 3;
	p = answer(TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 1, "OPT option header cut short: FORMERR");
	ldns_pkt_free(p);
	make_query(&(q_t){ .name = "contoso.com." ZONE, .type = TAL_TYPE_TXT, .edns = 1232 });
	qbuf[qlen - 1] = 6;
	memcpy(qbuf + qlen, "\0\x0a\0\x08zz", 6);
	qlen += 6;
	p = answer(TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 1, "OPT option longer than RDATA: FORMERR");
	ldns_pkt_free(p);

	/* OPT owned by something else than the root. */
	make_query(&(q_t){ .name = "contoso.com." ZONE, .type = TAL_TYPE_TXT, .edns = 1232 });
	memmove(qbuf + qlen - 10, qbuf + qlen - 11, 11);
	qbuf[qlen - 11] = 0xC0;
	qbuf[qlen - 10] = 12;
	qlen++;
	p = answer(TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 1, "OPT owner not the root: FORMERR");
	ldns_pkt_free(p);

	/* Trailing garbage after the counted records is ignored. */
	make_query(&(q_t){ .name = "contoso.com." ZONE, .type = TAL_TYPE_TXT });
	memcpy(qbuf + qlen, "\xff\xff\xff", 3);
	qlen += 3;
	p = answer(TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 0 && ldns_pkt_ancount(p) == 2, "trailing octets: ignored");
	ldns_pkt_free(p);

	/* Other opcodes: NOTIMP with the question echoed. */
	make_query(&(q_t){ .name = "contoso.com." ZONE,
	                   .type = TAL_TYPE_SOA,
	                   .flags = 2 << 11,
	                   .edns = 1232 });
	p = answer(TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 4 && ldns_pkt_qdcount(p) == 1 && !FLAG_AA(), "STATUS opcode: NOTIMP");
	ok(p && ldns_pkt_get_opcode(p) == LDNS_PACKET_STATUS, "NOTIMP: opcode echoed");
	ok(find_opt() != 0, "NOTIMP: OPT kept");
	ldns_pkt_free(p);
	make_query(&(q_t){ .name = ZONE, .type = TAL_TYPE_SOA, .flags = 4 << 11 });
	p = answer(TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 4 && ldns_pkt_qdcount(p) == 1, "NOTIFY: NOTIMP (no secondaries yet)");
	ldns_pkt_free(p);

	/* A damaged stored value: SERVFAIL, nothing half-written. */
	make_query(&(q_t){ .name = "broken." ZONE, .type = TAL_TYPE_TXT });
	p = answer(TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 2 && ldns_pkt_ancount(p) == 0 && ldns_pkt_nscount(p) == 0 && !FLAG_AA(),
	   "damaged node: SERVFAIL");
	ldns_pkt_free(p);
}

static void test_truncation(void)
{
	q_t q = { .name = "big.example." ZONE, .type = TAL_TYPE_TXT };
	ldns_pkt *p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && FLAG_TC() && RCODE() == 0, "30 tenants over UDP: TC");
	if (p) {
		ok(rlen <= 512, "30 tenants over UDP: within 512 octets (%zu)", rlen);
		is_int(1, ldns_pkt_qdcount(p), "TC: question kept");
		ok(ldns_pkt_ancount(p) == 0 && ldns_pkt_nscount(p) == 0 && ldns_pkt_arcount(p) == 0,
		   "TC: sections empty");
		ok(FLAG_AA(), "TC: still authoritative");
	}
	ldns_pkt_free(p);

	q.edns = 1232;
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && FLAG_TC() && find_opt() != 0 && ldns_pkt_ancount(p) == 0,
	   "30 tenants, EDNS 1232: TC, OPT kept");
	ldns_pkt_free(p);

	q.edns = 100; /* below 512: treated as 512 */
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && FLAG_TC() && rlen <= 512 && find_opt() != 0, "EDNS size under 512: 512 used");
	ldns_pkt_free(p);

	q.edns = 0;
	p = ask(&q, TAL_TRANSPORT_TCP);
	ok(p && !FLAG_TC() && RCODE() == 0, "30 tenants over TCP: no TC");
	if (p) {
		is_int(N_BIG, ldns_pkt_ancount(p), "30 tenants over TCP: every TXT");
		ok(rlen > TAL_EDNS_UDP_SIZE, "over TCP: larger than any UDP answer (%zu)", rlen);
	}
	ldns_pkt_free(p);

	/* Glue that does not fit is left out, without TC (the NS RRset is the answer). */
	q = (q_t){ .name = "bigns.test", .type = TAL_TYPE_NS };
	p = ask(&q, TAL_TRANSPORT_UDP);
	ok(p && !FLAG_TC() && RCODE() == 0 && ldns_pkt_ancount(p) == 1,
	   "glue over 512: answer, no TC");
	if (p) {
		size_t ar = ldns_pkt_arcount(p);
		ok(ar > 0 && ar < N_GLUE, "glue over 512: only what fits (%zu of %d)", ar, N_GLUE);
		ok(rlen <= 512, "glue over 512: within 512 octets (%zu)", rlen);
	}
	ldns_pkt_free(p);
	p = ask(&q, TAL_TRANSPORT_TCP);
	ok(p && ldns_pkt_arcount(p) == N_GLUE, "glue over TCP: all %d", N_GLUE);
	if (p) {
		ldns_rr *g = ldns_rr_list_rr(ldns_pkt_additional(p), N_GLUE - 1);
		is_str("ns1.bigns.test.", owner_text(g), "glue over TCP: owners decompress");
	}
	ldns_pkt_free(p);

	/* A small response buffer for UDP: never written past. */
	q = (q_t){ .name = "big.example." ZONE, .type = TAL_TYPE_TXT, .edns = 4096 };
	make_query(&q);
	memset(rbuf, 0xEE, sizeof(rbuf));
	rlen = tal_query_answer(&ans, qbuf, qlen, rbuf, TAL_EDNS_UDP_SIZE, TAL_TRANSPORT_UDP);
	ok(rlen > 0 && rlen <= TAL_EDNS_UDP_SIZE && rbuf[TAL_EDNS_UDP_SIZE] == 0xEE,
	   "UDP: the 1232-octet buffer is respected");
}

static void test_no_reader(void)
{
	tal_answerer_t none = { 0 };
	make_query(&(q_t){ .name = "contoso.com." ZONE, .type = TAL_TYPE_TXT });
	rlen = tal_query_answer(&none, qbuf, qlen, rbuf, sizeof(rbuf), TAL_TRANSPORT_UDP);
	ok(rlen > 0 && RCODE() == 2, "no reader: SERVFAIL");
	is_int(1, none.stats.servfail, "no reader: counted");
}

/* A zone made through zones/, answered by server/: the formats agree. */
/*
 * Adds tenant `guid` to `domain` in zone `apex` through the zones API; the
 * commit's result goes to *res when res is not NULL.
 */
static int add_policy(tal_store_t *st, const char *apex, const char *domain, const char *guid,
                      tal_commit_result_t *res)
{
	tal_change_t *ch = NULL;
	tal_commit_result_t r = { 0 };
	tal_tenant_t t = { .dkim = "" };

	guid_bin(guid, t.id);
	int ret = tal_change_new(apex, &ch);
	if (ret == 0) {
		ret = tal_change_add(ch, domain, &t);
	}
	if (ret == 0) {
		ret = tal_change_commit(st, ch, res != NULL ? res : &r);
	}
	tal_change_free(ch);
	return ret;
}

static void test_zones_api(tal_store_t *st)
{
	tal_zone_info_t cfg;
	tal_commit_result_t res = { 0 };

	int ret = tal_zone_defaults(&cfg, "api.example");
	if (ret == 0) {
		cfg.nns = 1;
		snprintf(cfg.ns[0].name, sizeof(cfg.ns[0].name), "ns1.api.example");
		cfg.ns[0].naddrs = 1;
		snprintf(cfg.ns[0].addrs[0], sizeof(cfg.ns[0].addrs[0]), "192.0.2.1");
		cfg.ttl = 3000;
		cfg.negative_ttl = 120;
		ret = tal_zone_create(st, &cfg);
	}
	is_int(0, ret, "zones API: zone created (%s)", tal_errname(ret));
	ret = add_policy(st, "api.example", "fabrikam.com", GUID1, &res);
	is_int(0, ret, "zones API: policy committed (%s)", tal_errname(ret));

	ldns_pkt *p = ask(&(q_t){ .name = "Fabrikam.com.api.example", .type = TAL_TYPE_TXT },
	                  TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 0 && FLAG_AA() && ldns_pkt_ancount(p) == 1, "zones API: TXT answered");
	if (p) {
		ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(p), 0);
		is_str("\"v=TAL1; tid=" GUID1 "\"", rdf_text(rr, 0), "zones API: TXT RDATA");
		is_int(3000, ldns_rr_ttl(rr), "zones API: TXT TTL");
	}
	ldns_pkt_free(p);

	p = ask(&(q_t){ .name = GUID1 ".fabrikam.com.api.example", .type = TAL_TYPE_A },
	        TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 0 && ldns_pkt_ancount(p) == 1, "zones API: A view hit");
	if (p) {
		is_str("127.0.0.2", rdf_text(ldns_rr_list_rr(ldns_pkt_answer(p), 0), 0),
		       "zones API: 127.0.0.2");
	}
	ldns_pkt_free(p);

	p = ask(&(q_t){ .name = GUID2 ".fabrikam.com.api.example", .type = TAL_TYPE_A },
	        TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 3, "zones API: A view miss is NXDOMAIN");
	if (p) {
		check_neg_soa(p, "api.example.", 120, "zones API NXDOMAIN");
		ldns_rr *soa = ldns_rr_list_rr(ldns_pkt_authority(p), 0);
		if (soa) {
			char serial[16];
			snprintf(serial, sizeof(serial), "%u", res.serial_after);
			is_str(serial, rdf_text(soa, 2),
			       "zones API: SOA serial is the committed one");
		}
	}
	ldns_pkt_free(p);

	p = ask(&(q_t){ .name = "api.example", .type = TAL_TYPE_NS }, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 0 && ldns_pkt_ancount(p) == 1 && ldns_pkt_arcount(p) == 1,
	   "zones API: apex NS with its glue");
	if (p) {
		ldns_rr *g = ldns_rr_list_rr(ldns_pkt_additional(p), 0);
		is_str("ns1.api.example.", owner_text(g), "zones API: glue owner");
		is_str("192.0.2.1", rdf_text(g, 0), "zones API: glue address");
	}
	ldns_pkt_free(p);
}

/*
 * A batch (one UDP receive batch) is answered from one snapshot: a commit
 * made meanwhile is served from the next batch on, and a zone created
 * meanwhile is found then too (the reader's zone table is rebuilt).
 */
static void test_batch(tal_store_t *st)
{
	const q_t view = { .name = GUID2 ".fabrikam.com.api.example", .type = TAL_TYPE_A };
	const q_t other = { .name = "contoso.com.batch.example", .type = TAL_TYPE_TXT };
	tal_zone_info_t cfg;

	tal_query_batch_begin(&ans);
	ldns_pkt *p = ask(&view, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 3, "batch: tenant not listed yet: NXDOMAIN");
	ldns_pkt_free(p);
	is_int(0, add_policy(st, "api.example", "fabrikam.com", GUID2, NULL),
	       "batch: tenant committed");
	int ret = tal_zone_defaults(&cfg, "batch.example");
	if (ret == 0) {
		cfg.nns = 1;
		snprintf(cfg.ns[0].name, sizeof(cfg.ns[0].name), "ns1.example.net");
		ret = tal_zone_create(st, &cfg);
	}
	is_int(0, ret, "batch: zone created (%s)", tal_errname(ret));
	if (ret == 0) {
		ret = add_policy(st, "batch.example", "contoso.com", GUID1, NULL);
	}
	is_int(0, ret, "batch: policy in the new zone committed (%s)", tal_errname(ret));
	p = ask(&view, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 3, "batch: same batch, same snapshot: still NXDOMAIN");
	ldns_pkt_free(p);
	p = ask(&other, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 5, "batch: same batch: the new zone is not there yet (REFUSED)");
	ldns_pkt_free(p);
	tal_query_batch_end(&ans);

	tal_query_batch_begin(&ans);
	p = ask(&view, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 0 && ldns_pkt_ancount(p) == 1, "batch: next batch serves the commit");
	ldns_pkt_free(p);
	p = ask(&other, TAL_TRANSPORT_UDP);
	ok(p && RCODE() == 0 && FLAG_AA() && ldns_pkt_ancount(p) == 1,
	   "batch: next batch answers from the new zone");
	ldns_pkt_free(p);
	tal_query_batch_end(&ans);
	tal_query_batch_end(&ans); /* ending twice is harmless */

	/* Outside a batch every query renews: the reader is free again. */
	p = ask(&view, TAL_TRANSPORT_TCP);
	ok(p && RCODE() == 0, "batch: after the batch, queries answered one by one");
	ldns_pkt_free(p);
	ok(!ans.snap, "batch: no snapshot held after a query outside a batch");
}

/*
 * With the nodes index (store.h) and a prefetched batch, as the UDP path
 * answers, every answer is the one the B-tree gave, octet for octet.
 */
static void test_index(tal_store_t *st)
{
	static const q_t qs[] = {
		{ .name = "contoso.com." ZONE, .type = TAL_TYPE_TXT, .edns = 1232 },
		{ .name = "CONTOSO.com." ZONE, .type = TAL_TYPE_ANY },
		{ .name = GUID1 ".contoso.com." ZONE, .type = TAL_TYPE_A },
		{ .name = GUID_NONE ".contoso.com." ZONE, .type = TAL_TYPE_A },
		{ .name = GUID1 ".nobody.example." ZONE, .type = TAL_TYPE_A },
		{ .name = "none.example." ZONE, .type = TAL_TYPE_TXT },
		{ .name = "big.example." ZONE, .type = TAL_TYPE_TXT, .edns = 4096 },
		{ .name = "a." ZONE, .type = TAL_TYPE_TXT },
		{ .name = "b.a." ZONE, .type = TAL_TYPE_A },
		{ .name = "c.b.a." ZONE, .type = TAL_TYPE_TXT },
		{ .name = "nobody.example." ZONE, .type = TAL_TYPE_TXT },
		{ .name = ZONE, .type = TAL_TYPE_SOA },
		{ .name = "ns1." ZONE, .type = TAL_TYPE_A },
		{ .name = "example.net", .type = TAL_TYPE_TXT },
		{ .name = "contoso.com.api.example", .type = TAL_TYPE_TXT },
	};
	enum { N = sizeof(qs) / sizeof(qs[0]) };
	static uint8_t req[N][512], want[N][TAL_EDNS_UDP_SIZE];
	static uint8_t got[TAL_EDNS_UDP_SIZE];
	size_t reqlen[N], wantlen[N];

	for (int i = 0; i < N; i++) {
		make_query(&qs[i]);
		memcpy(req[i], qbuf, qlen);
		reqlen[i] = qlen;
		wantlen[i] = tal_query_answer(&ans, req[i], reqlen[i], want[i], sizeof(want[i]),
		                              TAL_TRANSPORT_UDP);
	}
	is_int(0, tal_store_index_start(st), "index: started");
	is_int(0, tal_store_index_wait(st, 10000), "index: built");

	tal_query_batch_begin(&ans);
	for (int i = 0; i < N; i++) {
		tal_query_prefetch(&ans, req[i], reqlen[i]);
	}
	tal_query_prefetch(&ans, (const uint8_t *)"\1\2", 2); /* junk is skipped */
	tal_query_prefetch_nodes(&ans);
	ok(ans.snap && tal_reader_indexed(ans.reader), "index: the batch answers from the index");
	int bad = 0;
	for (int i = 0; i < N; i++) {
		size_t n = tal_query_answer(&ans, req[i], reqlen[i], got, sizeof(got),
		                            TAL_TRANSPORT_UDP);
		if (n != wantlen[i] || memcmp(got, want[i], n) != 0) {
			printf("# %s: answer differs\n", qs[i].name);
			bad++;
		}
	}
	tal_query_batch_end(&ans);
	is_int(0, bad, "index: %d answers as the B-tree gave them", N);

	/* Requests skipped, and one never prefetched, between prepared ones. */
	tal_query_batch_begin(&ans);
	for (int i = 0; i < N; i++) {
		tal_query_prefetch(&ans, req[i], reqlen[i]);
	}
	tal_query_prefetch_nodes(&ans);
	bad = 0;
	for (int i = 0; i < N; i += 3) {
		int j = i == 6 ? 7 : i; /* out of order once */
		size_t n = tal_query_answer(&ans, req[j], reqlen[j], got, sizeof(got),
		                            TAL_TRANSPORT_UDP);
		bad += n != wantlen[j] || memcmp(got, want[j], n) != 0;
		if (i == 3) {
			make_query(&qs[4]); /* a copy: another buffer, not prepared */
			n = tal_query_answer(&ans, qbuf, qlen, got, sizeof(got), TAL_TRANSPORT_UDP);
			bad += n != wantlen[4] || memcmp(got + 2, want[4] + 2, n - 2) != 0;
		}
	}
	tal_query_batch_end(&ans);
	is_int(0, bad, "index: answers right with requests skipped or not prefetched");
}

static void test_stats(const tal_query_stats_t *before)
{
	const tal_query_stats_t *s = &ans.stats;
	ok(s->queries > before->queries, "stats: queries counted (%llu)",
	   (unsigned long long)s->queries);
	uint64_t sum = s->noerror + s->nodata + s->nxdomain + s->refused + s->formerr +
	               s->servfail + s->notimp + s->badvers + s->dropped;
	is_int(s->queries, sum, "stats: every query lands in exactly one outcome");
	ok(s->truncated >= 3, "stats: truncations counted");
	ok(s->edns > 0 && s->badvers == 1, "stats: EDNS and BADVERS counted");
	ok(s->dropped == 3 && s->nodata > 0 && s->nxdomain > 0, "stats: drops, NODATA, NXDOMAIN");
}

static void rm_store(const char *dir)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	char dir[] = "/tmp/tal-test-query-XXXXXX";
	tal_store_t *st = NULL;
	tal_reader_t *rd = NULL;
	tal_store_opts_t opts = { .flags = TAL_STORE_CREATE, .map_size = 64 << 20 };

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	int ret = tal_store_open(dir, &opts, &st);
	is_int(0, ret, "store opened (%s)", tal_errname(ret));
	if (ret == 0) {
		ret = build_store(st);
		is_int(0, ret, "hand-written zone stored (%s)", tal_errname(ret));
	}
	if (ret == 0) {
		ret = tal_reader_new(st, &rd);
		is_int(0, ret, "reader made");
	}
	if (ret == 0) {
		tal_query_stats_t before = ans.stats;
		ans.reader = rd;
		test_positive();
		test_apex();
		test_negative();
		test_case_folding();
		test_a_view();
		test_edns();
		test_flags();
		test_refused_and_meta();
		test_malformed();
		test_truncation();
		test_stats(&before);
		test_no_reader();
		test_zones_api(st);
		test_batch(st);
		test_index(st);
	}
	tal_reader_free(rd);
	tal_store_close(st);
	rm_store(dir);
	return tap_done();
}
