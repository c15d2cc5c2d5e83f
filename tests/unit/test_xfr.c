/*
 * tests/unit/test_xfr.c -- zone transfers without sockets: the transfer
 * settings (zones/xfrconf.h), TSIG against ldns' independent
 * implementation (zones/tsig.h), and AXFR/IXFR streams (server/xfr.h) read
 * back with ldns, every message of a signed stream verified by
 * ldns_pkt_tsig_verify_next.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "common/dname.h"
#include "common/error.h"
#include "common/node.h"
#include "common/wire.h"
#include "server/query.h"
#include "server/xfr.h"
#include "store/store.h"
#include "tests/unit/tap.h"
#include "zones/name.h"
#include "zones/policy.h"
#include "zones/tsig.h"
#include "zones/xfrconf.h"
#include "zones/zone.h"

#define ZONE   "tenants.example.net"
#define SECRET "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=" /* 32 octets */
#define NDOM   400

static tal_tsig_key_t key;

static void make_key(void)
{
	memset(&key, 0, sizeof(key));
	strcpy(key.name, "xfr-key");
	key.alg = TAL_TSIG_HMAC_SHA256;
	memcpy(key.secret, "secret-secret-secret-secret-1234", 32); /* SECRET decoded */
	key.secret_len = 32;
}

static void test_prefixes(void)
{
	tal_xfr_entry_t e;
	char text[96];

	ok(tal_xfr_prefix_parse("192.0.2.77/24", &e) == 0 && e.family == 4 && e.prefix == 24,
	   "IPv4 prefix parses");
	tal_xfr_entry_text(&e, false, text, sizeof(text));
	is_str("192.0.2.0/24", text, "host bits are cleared");
	ok(tal_xfr_prefix_parse("2001:db8::1", &e) == 0 && e.family == 6 && e.prefix == 128,
	   "an IPv6 address is a /128");
	ok(tal_xfr_prefix_parse("192.0.2.1/33", &e) == TAL_EADDR, "/33 is refused");
	ok(tal_xfr_prefix_parse("192.0.2.1/", &e) == TAL_EADDR, "an empty length is refused");
	ok(tal_xfr_prefix_parse("example.com", &e) == TAL_EADDR, "a name is refused");
	ok(tal_xfr_target_parse("::1@5300", &e) == 0 && e.port == 5300 && e.family == 6,
	   "notify target with a port");
	ok(tal_xfr_target_parse("192.0.2.1", &e) == 0 && e.port == 53, "port 53 by default");
	ok(tal_xfr_target_parse("192.0.2.1@0", &e) == TAL_EADDR, "port 0 is refused");
	char n[TAL_XFR_KEYNAME_MAX + 1];
	ok(tal_tsig_name_normalise("Xfr-Key.Example.", n) == 0 && strcmp(n, "xfr-key.example") == 0,
	   "key names are lowercased, trailing dot dropped");
	ok(tal_tsig_name_normalise("bad key", n) == TAL_EDNAME,
	   "a key name with a space is refused");
}

static void test_acl(tal_store_t *st, uint32_t zone_id)
{
	tal_xfr_entry_t e;
	tal_txn_t *txn = NULL;
	uint8_t a1[4] = { 127, 0, 0, 1 }, a2[4] = { 127, 0, 0, 2 }, a3[4] = { 10, 0, 0, 1 };
	uint8_t v6[16] = { 0 };

	v6[15] = 1;
	tal_xfr_prefix_parse("127.0.0.0/8", &e);
	strcpy(e.key, "nosuch");
	is_int(TAL_ENOTFOUND, tal_xfr_list_add(st, zone_id, false, &e),
	       "a rule naming a missing key is refused");
	is_int(0, tal_tsig_key_put(st, &key), "key stored");
	is_int(TAL_EEXIST, tal_tsig_key_put(st, &key), "a second key of that name is refused");
	strcpy(e.key, "xfr-key");
	is_int(0, tal_xfr_list_add(st, zone_id, false, &e), "127/8 with key allowed");
	is_int(TAL_EEXIST, tal_xfr_list_add(st, zone_id, false, &e), "the same rule twice: EEXIST");
	tal_xfr_prefix_parse("::1", &e);
	is_int(0, tal_xfr_list_add(st, zone_id, false, &e), "::1 without key allowed");
	is_int(TAL_EBUSY, tal_tsig_key_del(st, "xfr-key"), "a key in use cannot be removed");

	tal_txn_begin(st, TAL_TXN_READ, &txn);
	is_int(1, tal_xfr_acl_check(txn, zone_id, 4, a1, "xfr-key"), "127.0.0.1 with key: allowed");
	is_int(1, tal_xfr_acl_check(txn, zone_id, 4, a2, "xfr-key"), "127.0.0.2 with key: allowed");
	is_int(0, tal_xfr_acl_check(txn, zone_id, 4, a1, NULL), "127.0.0.1 unsigned: refused");
	is_int(0, tal_xfr_acl_check(txn, zone_id, 4, a1, "other"), "127.0.0.1 other key: refused");
	is_int(0, tal_xfr_acl_check(txn, zone_id, 4, a3, "xfr-key"), "10.0.0.1: refused");
	is_int(1, tal_xfr_acl_check(txn, zone_id, 6, v6, NULL), "::1 unsigned: allowed");
	is_int(0, tal_xfr_acl_check(txn, zone_id + 1, 6, v6, NULL), "another zone: refused");
	tal_txn_abort(txn);
}

/* A query for `qtype` at ZONE, optionally with an IXFR SOA, optionally signed; returns its wire. */
static uint8_t *make_request(uint16_t qtype, uint32_t ixfr_serial, bool sign, size_t *len,
                             ldns_rdf **mac)
{
	ldns_pkt *q = NULL;
	uint8_t *wire = NULL;

	ldns_pkt_query_new_frm_str(&q, ZONE, (ldns_rr_type)qtype, LDNS_RR_CLASS_IN, 0);
	ldns_pkt_set_id(q, 0x4242);
	if (qtype == TAL_TYPE_IXFR) {
		char text[256];
		ldns_rr *soa = NULL;
		snprintf(text, sizeof(text), "%s. 0 IN SOA ns1.%s. h.%s. %u 1 1 1 1", ZONE, ZONE,
		         ZONE, ixfr_serial);
		ldns_rr_new_frm_str(&soa, text, 0, NULL, NULL);
		ldns_pkt_push_rr(q, LDNS_SECTION_AUTHORITY, soa);
	}
	if (sign) {
		ldns_pkt_tsig_sign(q, "xfr-key.", SECRET, 300, "hmac-sha256.", NULL);
		*mac = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(q), 3));
	}
	ldns_pkt2wire(&wire, q, len);
	ldns_pkt_free(q);
	return wire;
}

typedef struct {
	int msgs;
	int rrs;
	int soas;
	uint32_t first_serial, last_serial;
	bool all_verified;
	bool last_is_soa;
	int rcode;
	int last_rcode;
	uint16_t tsig_error;
	int ancount_first;
	bool second_is_soa;
	uint32_t second_serial;
} stream_t;

static int64_t skew; /* seconds added to the server's clock */

static void run(const uint8_t *req, size_t len, const char *peer, ldns_rdf *mac, stream_t *s)
{
	struct sockaddr_storage ss;
	uint8_t *buf = malloc(TAL_MSG_MAXLEN);
	ldns_rdf *prior = mac != NULL ? ldns_rdf_clone(mac) : NULL;

	memset(&ss, 0, sizeof(ss));
	memset(s, 0, sizeof(*s));
	s->all_verified = true;
	if (strchr(peer, ':') != NULL) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, peer, &in6->sin6_addr);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		inet_pton(AF_INET, peer, &in->sin_addr);
	}
	tal_xfr_t *x = tal_xfr_new(req, len, (struct sockaddr *)&ss, (uint64_t)(time(NULL) + skew));
	size_t n;
	while (x != NULL && (n = tal_xfr_next(x, buf, TAL_MSG_MAXLEN)) > 0) {
		ldns_pkt *p = NULL;
		if (ldns_wire2pkt(&p, buf, n) != LDNS_STATUS_OK) {
			s->all_verified = false;
			break;
		}
		s->last_rcode = ldns_pkt_get_rcode(p);
		if (s->msgs == 0) {
			s->rcode = ldns_pkt_get_rcode(p);
			s->ancount_first = ldns_pkt_ancount(p);
		}
		if (ldns_pkt_tsig(p) != NULL) {
			ldns_rr *t = ldns_pkt_tsig(p);
			s->tsig_error = (uint16_t)ldns_rdf2native_int16(ldns_rr_rdf(t, 5));
			if (prior != NULL && s->tsig_error == 0) {
				if (!ldns_pkt_tsig_verify_next(p, buf, n, "xfr-key.", SECRET, prior,
				                               s->msgs > 0)) {
					s->all_verified = false;
				}
				ldns_rdf_deep_free(prior);
				prior = ldns_rdf_clone(ldns_rr_rdf(t, 3));
			}
		} else if (mac != NULL) {
			s->all_verified = false;
		}
		ldns_rr_list *an = ldns_pkt_answer(p);
		for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
			ldns_rr *rr = ldns_rr_list_rr(an, i);
			bool soa = ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA;
			if (soa) {
				uint32_t serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
				if (s->rrs == 0) {
					s->first_serial = serial;
				}
				if (s->rrs == 1) {
					s->second_is_soa = true;
					s->second_serial = serial;
				}
				s->last_serial = serial;
				s->soas++;
			}
			s->last_is_soa = soa;
			s->rrs++;
		}
		s->msgs++;
		ldns_pkt_free(p);
	}
	tal_xfr_free(x);
	ldns_rdf_deep_free(prior);
	free(buf);
}

static void test_tsig_direct(void)
{
	ldns_pkt *q = NULL;
	uint8_t *wire = NULL;
	size_t len;
	tal_tsig_rr_t t;

	/* ldns signs, we verify. */
	ldns_pkt_query_new_frm_str(&q, ZONE, LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, 0);
	ldns_pkt_tsig_sign(q, "xfr-key.", SECRET, 300, "hmac-sha256.", NULL);
	ldns_pkt2wire(&wire, q, &len);
	ldns_pkt_free(q);
	is_int(0, tal_tsig_find(wire, len, &t), "TSIG found in an ldns-signed query");
	is_int(TAL_TSIG_NOERROR, tal_tsig_verify(&key, wire, len, &t, NULL, 0, false, time(NULL)),
	       "an ldns signature verifies");
	is_int(TAL_TSIG_BADTIME,
	       tal_tsig_verify(&key, wire, len, &t, NULL, 0, false, time(NULL) + 301),
	       "301 s later: BADTIME");
	tal_tsig_key_t other = key;
	other.alg = TAL_TSIG_HMAC_SHA512;
	is_int(TAL_TSIG_BADKEY, tal_tsig_verify(&other, wire, len, &t, NULL, 0, false, time(NULL)),
	       "another algorithm: BADKEY");
	other = key;
	other.secret[0] ^= 1;
	is_int(TAL_TSIG_BADSIG, tal_tsig_verify(&other, wire, len, &t, NULL, 0, false, time(NULL)),
	       "another secret: BADSIG");
	wire[12 + 1] ^= 0x20; /* flip the case of a question letter */
	is_int(TAL_TSIG_BADSIG, tal_tsig_verify(&key, wire, len, &t, NULL, 0, false, time(NULL)),
	       "a changed message: BADSIG");
	free(wire);

	/* We sign, ldns verifies. */
	uint8_t msg[512];
	size_t mlen;
	uint8_t mac[TAL_TSIG_MAC_MAX];
	size_t mac_len;
	ldns_pkt_query_new_frm_str(&q, ZONE, LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, 0);
	ldns_pkt2wire(&wire, q, &mlen);
	ldns_pkt_free(q);
	memcpy(msg, wire, mlen);
	free(wire);
	is_int(0,
	       tal_tsig_sign(&key, msg, &mlen, sizeof(msg), NULL, 0, false, time(NULL), 0, NULL, 0,
	                     mac, &mac_len),
	       "signed");
	is_int(32, (int)mac_len, "an HMAC-SHA256 MAC is 32 octets");
	ldns_pkt *p = NULL;
	ok(ldns_wire2pkt(&p, msg, mlen) == LDNS_STATUS_OK &&
	           ldns_pkt_tsig_verify(p, msg, mlen, "xfr-key.", SECRET, NULL),
	   "ldns verifies our signature");
	ldns_pkt_free(p);
}

static int add_domains(tal_store_t *st, int from, int to)
{
	tal_change_t *ch = NULL;
	tal_commit_result_t res;
	int rc = tal_change_new(ZONE, &ch);

	for (int i = from; rc == 0 && i < to; i++) {
		char d[64], g[64];
		tal_tenant_t t;
		snprintf(d, sizeof(d), "d%04d.example", i);
		snprintf(g, sizeof(g), "%08x-1111-4222-8333-%012x", i, i);
		memset(&t, 0, sizeof(t));
		rc = tal_tenant_parse(g, t.id);
		if (rc == 0) {
			rc = tal_change_add(ch, d, &t);
		}
	}
	if (rc == 0) {
		rc = tal_change_commit(st, ch, &res);
	}
	tal_change_free(ch);
	return rc;
}

static void test_streams(tal_store_t *st, uint32_t serial0)
{
	stream_t s;
	ldns_rdf *mac = NULL;
	size_t len;
	uint8_t *req;

	/* Unsigned from ::1 (allowed by address). */
	req = make_request(TAL_TYPE_AXFR, 0, false, &len, NULL);
	run(req, len, "::1", NULL, &s);
	free(req);
	ok(s.rcode == 0 && s.msgs > 1, "AXFR of %d domains takes %d messages", NDOM, s.msgs);
	is_int(2 * NDOM + 4, s.rrs, "SOA, NS, glue A, TXT and A per domain, SOA");
	ok(s.soas == 2 && s.last_is_soa && s.first_serial == s.last_serial &&
	           s.first_serial == serial0,
	   "SOA first and last, one serial");

	/* Signed from 127.0.0.1: every message verifies. */
	req = make_request(TAL_TYPE_AXFR, 0, true, &len, &mac);
	run(req, len, "127.0.0.1", mac, &s);
	free(req);
	ok(s.rcode == 0 && s.all_verified && s.msgs > 1,
	   "signed AXFR: ldns verifies all %d messages", s.msgs);
	ldns_rdf_deep_free(mac);

	/* Unsigned from 127.0.0.1: refused; from 10.0.0.1 even signed: refused. */
	req = make_request(TAL_TYPE_AXFR, 0, false, &len, NULL);
	run(req, len, "127.0.0.1", NULL, &s);
	free(req);
	ok(s.rcode == LDNS_RCODE_REFUSED && s.msgs == 1 && s.rrs == 0,
	   "unsigned from 127/8: REFUSED");
	req = make_request(TAL_TYPE_AXFR, 0, true, &len, &mac);
	run(req, len, "10.0.0.1", mac, &s);
	free(req);
	ok(s.rcode == LDNS_RCODE_REFUSED && s.all_verified,
	   "signed from 10.0.0.1: REFUSED, signed");
	ldns_rdf_deep_free(mac);

	/* A wrong secret: NOTAUTH, TSIG error BADSIG, unsigned. */
	req = make_request(TAL_TYPE_AXFR, 0, true, &len, &mac);
	req[len - 10] ^= 0x01; /* inside the MAC */
	run(req, len, "127.0.0.1", NULL, &s);
	free(req);
	ok(s.rcode == LDNS_RCODE_NOTAUTH && s.tsig_error == TAL_TSIG_BADSIG,
	   "a damaged MAC: NOTAUTH, BADSIG");
	ldns_rdf_deep_free(mac);

	/* The server's clock 1000 s ahead: NOTAUTH, BADTIME, signed with its time. */
	req = make_request(TAL_TYPE_AXFR, 0, true, &len, &mac);
	skew = 1000;
	run(req, len, "127.0.0.1", mac, &s);
	skew = 0;
	free(req);
	ok(s.rcode == LDNS_RCODE_NOTAUTH && s.tsig_error == TAL_TSIG_BADTIME && s.rrs == 0,
	   "a request 1000 s old: NOTAUTH, BADTIME");
	ldns_rdf_deep_free(mac);

	/* A transfer older than TAL_XFR_MAX_SECONDS ends with SERVFAIL. */
	req = make_request(TAL_TYPE_AXFR, 0, false, &len, NULL);
	skew = -(TAL_XFR_MAX_SECONDS + 10);
	run(req, len, "::1", NULL, &s);
	skew = 0;
	free(req);
	ok(s.rcode == 0 && s.msgs == 2 && s.last_rcode == LDNS_RCODE_SERVFAIL,
	   "a transfer past its time limit ends with SERVFAIL after its message in flight");

	/* IXFR: up to date, incremental, and in full across a trimmed journal. */
	int rc = add_domains(st, NDOM, NDOM + 2);
	is_int(0, rc, "two domains added (%s)", tal_errname(rc));
	req = make_request(TAL_TYPE_IXFR, serial0 + 1, false, &len, NULL);
	run(req, len, "::1", NULL, &s);
	free(req);
	ok(s.rcode == 0 && s.rrs == 1 && s.soas == 1, "IXFR from the current serial: one SOA");
	req = make_request(TAL_TYPE_IXFR, serial0, true, &len, &mac);
	run(req, len, "127.0.0.1", mac, &s);
	free(req);
	ldns_rdf_deep_free(mac);
	ok(s.rcode == 0 && s.all_verified && s.second_is_soa && s.second_serial == serial0 &&
	           s.first_serial == serial0 + 1 && s.soas == 4 && s.rrs == 4 + 4,
	   "signed IXFR: new SOA, old SOA, new SOA, 2 TXT + 2 A, new SOA (%d RRs)", s.rrs);
	uint64_t dropped = 0;
	is_int(0, tal_xfr_journal_trim(st, ZONE, 0, &dropped), "journal trimmed");
	ok(dropped >= 1, "records dropped: %llu", (unsigned long long)dropped);
	req = make_request(TAL_TYPE_IXFR, serial0, false, &len, NULL);
	run(req, len, "::1", NULL, &s);
	free(req);
	ok(s.rcode == 0 && !s.second_is_soa && s.rrs == 2 * (NDOM + 2) + 4,
	   "IXFR behind the journal: the whole zone (%d RRs)", s.rrs);

	/* Not a zone: NOTAUTH. */
	ldns_pkt *q = NULL;
	uint8_t *wire = NULL;
	ldns_pkt_query_new_frm_str(&q, "d0001.example." ZONE, LDNS_RR_TYPE_AXFR, LDNS_RR_CLASS_IN,
	                           0);
	ldns_pkt2wire(&wire, q, &len);
	ldns_pkt_free(q);
	run(wire, len, "::1", NULL, &s);
	free(wire);
	ok(s.rcode == LDNS_RCODE_NOTAUTH, "AXFR of a name below the apex: NOTAUTH");
}

/*
 * Damaged requests: random octet changes and truncations of a signed IXFR
 * request.  Whatever the server makes of them, every message it writes
 * must parse, and a stream must end.
 */
static void test_mutations(uint32_t serial)
{
	ldns_rdf *mac = NULL;
	size_t len;
	uint8_t *req = make_request(TAL_TYPE_IXFR, serial - 1, true, &len, &mac);
	uint8_t *buf = malloc(TAL_MSG_MAXLEN);
	uint8_t m[1024];
	struct sockaddr_in in;
	unsigned seed = 12345;
	int bad = 0, streams = 0;

	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_addr.s_addr = htonl(0x7F000001);
	for (int i = 0; i < 3000 && len <= sizeof(m); i++) {
		memcpy(m, req, len);
		size_t mlen = len;
		int edits = 1 + (int)(rand_r(&seed) % 4);
		for (int e = 0; e < edits; e++) {
			m[rand_r(&seed) % mlen] = (uint8_t)rand_r(&seed);
		}
		if (rand_r(&seed) % 4 == 0) {
			mlen = 12 + rand_r(&seed) % (mlen - 12);
		}
		if (!tal_xfr_is_request(m, mlen)) {
			continue;
		}
		tal_xfr_t *x = tal_xfr_new(m, mlen, (struct sockaddr *)&in, (uint64_t)time(NULL));
		size_t n;
		int msgs = 0;
		streams++;
		while (x != NULL && msgs < 1000 && (n = tal_xfr_next(x, buf, TAL_MSG_MAXLEN)) > 0) {
			ldns_pkt *p = NULL;
			if (ldns_wire2pkt(&p, buf, n) != LDNS_STATUS_OK) {
				bad++;
			}
			ldns_pkt_free(p);
			msgs++;
		}
		if (msgs >= 1000) {
			bad++;
		}
		tal_xfr_free(x);
	}
	ok(streams > 500 && bad == 0, "%d damaged requests answered with messages that parse",
	   streams);
	free(req);
	free(buf);
	ldns_rdf_deep_free(mac);
}

int main(void)
{
	char dir[] = "/tmp/tal-test-xfr-XXXXXX";
	tal_store_t *st = NULL;
	tal_store_opts_t opts = { .flags = TAL_STORE_CREATE, .map_size = 64 << 20 };
	tal_zone_info_t z;

	make_key();
	test_prefixes();
	test_tsig_direct();
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	int rc = tal_store_open(dir, &opts, &st);
	is_int(0, rc, "store opened");
	if (rc == 0) {
		tal_zone_defaults(&z, ZONE);
		strcpy(z.ns[0].addrs[0], "127.0.0.1");
		z.ns[0].naddrs = 1;
		rc = tal_zone_create(st, &z);
		is_int(0, rc, "zone created (%s)", tal_errname(rc));
	}
	if (rc == 0) {
		rc = add_domains(st, 0, NDOM);
		is_int(0, rc, "%d domains added", NDOM);
		tal_zone_resolve(st, ZONE, &z);
	}
	if (rc == 0) {
		test_acl(st, z.zone_id);
		tal_xfr_init(st);
		test_streams(st, z.serial);
		test_mutations(z.serial);
	}
	tal_store_close(st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0) {
		perror("rm");
	}
	return tap_done();
}
