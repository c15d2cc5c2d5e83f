/*
 * tests/unit/test_query_parse.c -- tal_query_parse against ldns_wire2pkt.
 *
 * A corpus of valid queries (names of every shape, types, classes, EDNS with
 * and without options, records in every section, other opcodes) is mutated
 * deterministically (seeded PRNG: bit flips, truncations, inserted and
 * deleted octets, count changes, planted compression pointers and label
 * types, duplicated OPT records), and every message is parsed by both.
 * They must agree on accept versus reject and, when both accept, on the
 * question (name octets exactly, type, class) and the EDNS fields.
 *
 * tallow is stricter than ldns on purpose in a few places; each is
 * recognised here by an independent look at the message, named, counted
 * and printed.  Any other disagreement fails the test, and so does a class
 * of intended difference that the corpus never reaches (so the classifier
 * cannot silently swallow everything).
 *
 * Every input sits at the very end of a page followed by an inaccessible
 * page, so an over-read by either parser faults even without ASan.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "common/dname.h"
#include "server/query.h"
#include "tests/unit/tap.h"

#define MSG_MAX      4096
#define N_MUTATIONS  20000
#define HDR_LEN      12
#define TYPE_PRIVATE 65280 /* private use: ldns reads its RDATA as one opaque field */

enum {
	C_AGREE,
	C_RESPONSE,
	C_NOTIMP,
	C_QDCOUNT,
	C_QNAME_PTR,
	C_STRICT_PTR,
	C_TWO_OPT,
	C_OPT_OWNER,
	C_OPT_RDATA,
	C_RDATA,
	C_MAX,
};

/* ---- message builder ---------------------------------------------------- */

typedef struct {
	uint8_t b[MSG_MAX];
	size_t n;
	int expect; /* the class the corpus entry must get (C_AGREE for valid queries) */
} msg_t;

static void put8(msg_t *m, uint8_t v)
{
	m->b[m->n++] = v;
}

static void put16(msg_t *m, uint16_t v)
{
	put8(m, (uint8_t)(v >> 8));
	put8(m, (uint8_t)v);
}

static void put32(msg_t *m, uint32_t v)
{
	put16(m, (uint16_t)(v >> 16));
	put16(m, (uint16_t)v);
}

static void putmem(msg_t *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void putname(msg_t *m, const char *text)
{
	uint8_t w[TAL_DNAME_MAXLEN];
	int n = tal_dname_from_text(text, w);
	if (n < 0) {
		fprintf(stderr, "bad corpus name %s\n", text);
		exit(2);
	}
	putmem(m, w, (size_t)n);
}

static void header(msg_t *m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
                   uint16_t ar)
{
	m->n = 0;
	put16(m, id);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, ns);
	put16(m, ar);
}

static void question(msg_t *m, const char *name, uint16_t type, uint16_t cls)
{
	putname(m, name);
	put16(m, type);
	put16(m, cls);
}

/* An OPT record; `opts` are raw option bytes (code, length, data). */
static void opt(msg_t *m, uint16_t size, uint8_t ercode, uint8_t version, uint16_t flags,
                const uint8_t *opts, uint16_t optlen)
{
	put8(m, 0);
	put16(m, LDNS_RR_TYPE_OPT);
	put16(m, size);
	put8(m, ercode);
	put8(m, version);
	put16(m, flags);
	put16(m, optlen);
	if (optlen > 0) {
		putmem(m, opts, optlen);
	}
}

/* The SOA an IXFR query carries in its authority section, owner compressed. */
static void ixfr_soa(msg_t *m, uint32_t serial)
{
	put16(m, 0xC00C);
	put16(m, LDNS_RR_TYPE_SOA);
	put16(m, LDNS_RR_CLASS_IN);
	put32(m, 3600);
	size_t rdlen_at = m->n;
	put16(m, 0);
	size_t start = m->n;
	putname(m, "ns1");
	m->n--; /* "ns1" then a pointer to the question name */
	put16(m, 0xC00C);
	put16(m, 0xC00C);
	put32(m, serial);
	put32(m, 7200);
	put32(m, 900);
	put32(m, 1209600);
	put32(m, 300);
	size_t rdlen = m->n - start;
	m->b[rdlen_at] = (uint8_t)(rdlen >> 8);
	m->b[rdlen_at + 1] = (uint8_t)rdlen;
}

#define MAX_CORPUS 64
static msg_t corpus[MAX_CORPUS];
static size_t ncorpus;

static msg_t *next_corpus(void)
{
	if (ncorpus >= MAX_CORPUS) {
		fprintf(stderr, "corpus full\n");
		exit(2);
	}
	return &corpus[ncorpus++];
}

static const char *const guid_name =
        "72F988BF-86f1-41af-91ab-2d7cd011db47.Contoso.COM.tenants.example.net";

static void build_corpus(void)
{
	static const uint8_t cookie[] = { 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t nsid[] = { 0, 3, 0, 0 };
	static const uint8_t ecs[] = { 0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2 };
	static const uint8_t pad[] = { 0, 12, 0, 6, 0, 0, 0, 0, 0, 0, 0, 99, 0, 1, 0xAB };
	char longname[300];
	char lab63[64];
	msg_t *m;

	memset(lab63, 'a', 63);
	lab63[63] = '\0';
	/* 63+63+63+61 octets of labels: 255 wire octets, the maximum. */
	snprintf(longname, sizeof(longname), "%s.%s.%s.%.61s", lab63, lab63, lab63, lab63);

	struct {
		const char *name;
		uint16_t type, cls, flags;
	} plain[] = {
		{ "example.com", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0x0100 },
		{ "Contoso.COM.tenants.example.net", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_IN, 0 },
		{ guid_name, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0x0110 },
		{ ".", LDNS_RR_TYPE_NS, LDNS_RR_CLASS_IN, 0 },
		{ longname, LDNS_RR_TYPE_AAAA, LDNS_RR_CLASS_IN, 0 },
		{ lab63, LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, 0x0020 },
		{ "tenants.example.net", LDNS_RR_TYPE_ANY, LDNS_RR_CLASS_IN, 0 },
		{ "version.bind", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH, 0 },
		{ "tenants.example.net", LDNS_RR_TYPE_AXFR, LDNS_RR_CLASS_IN, 0 },
		{ "x.tenants.example.net", 65535, 65535, 0x0040 },
		{ "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p", LDNS_RR_TYPE_MX, LDNS_RR_CLASS_ANY, 0 },
	};
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		m = next_corpus();
		header(m, (uint16_t)(0x1000 + i), plain[i].flags, 1, 0, 0, 0);
		question(m, plain[i].name, plain[i].type, plain[i].cls);

		/* The same question with EDNS: plain, DO, and with options. */
		m = next_corpus();
		header(m, (uint16_t)(0x2000 + i), plain[i].flags, 1, 0, 0, 1);
		question(m, plain[i].name, plain[i].type, plain[i].cls);
		opt(m, (uint16_t)(512 + 300 * i), 0, 0, i % 2 ? 0x8000 : 0, NULL, 0);
	}

	m = next_corpus();
	header(m, 7, 0x0100, 1, 0, 0, 1);
	question(m, "contoso.com.tenants.example.net", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_IN);
	uint8_t opts[64];
	size_t ol = 0;
	memcpy(opts + ol, cookie, sizeof(cookie));
	ol += sizeof(cookie);
	memcpy(opts + ol, nsid, sizeof(nsid));
	ol += sizeof(nsid);
	memcpy(opts + ol, ecs, sizeof(ecs));
	ol += sizeof(ecs);
	opt(m, 4096, 0, 0, 0x8000, opts, (uint16_t)ol);

	m = next_corpus();
	header(m, 8, 0, 1, 0, 0, 1);
	question(m, "example.net", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN);
	opt(m, 1400, 0, 1, 0x8000, pad, sizeof(pad)); /* version 1: BADVERS */

	m = next_corpus();
	header(m, 9, 0, 1, 0, 0, 1);
	question(m, "example.net", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN);
	opt(m, 0, 0, 0, 0, NULL, 0); /* size 0, all zero: still EDNS */

	/* IXFR: SOA in authority with compressed owner and RDATA names. */
	m = next_corpus();
	header(m, 10, 0, 1, 0, 1, 1);
	question(m, "Tenants.Example.net", LDNS_RR_TYPE_IXFR, LDNS_RR_CLASS_IN);
	ixfr_soa(m, 2024010101);
	opt(m, 1232, 0, 0, 0, cookie, sizeof(cookie));

	/* NOTIFY and UPDATE: other opcodes. */
	m = next_corpus();
	header(m, 11, 4 << 11 | 0x0400, 1, 1, 0, 0);
	question(m, "tenants.example.net", LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN);
	ixfr_soa(m, 5);
	m = next_corpus();
	header(m, 12, 5 << 11, 1, 0, 0, 1);
	question(m, "tenants.example.net", LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN);
	opt(m, 1232, 0, 0, 0, NULL, 0);

	/* An A record in the answer section and a TSIG-shaped record after OPT. */
	m = next_corpus();
	header(m, 13, 0, 1, 1, 0, 2);
	question(m, "host.example", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN);
	put16(m, 0xC00C);
	put16(m, LDNS_RR_TYPE_A);
	put16(m, LDNS_RR_CLASS_IN);
	put32(m, 60);
	put16(m, 4);
	put32(m, 0xC0000201);
	opt(m, 1232, 0, 0, 0, NULL, 0);
	putname(m, "key.example");
	put16(m, LDNS_RR_TYPE_TSIG);
	put16(m, LDNS_RR_CLASS_ANY);
	put32(m, 0);
	size_t tsig_rdlen_at = m->n;
	put16(m, 0);
	size_t tsig_start = m->n;
	putname(m, "hmac-sha256");
	put16(m, 0); /* time signed, 48 bits */
	put32(m, 1700000000);
	put16(m, 300); /* fudge */
	put16(m, 32);  /* MAC */
	for (int i = 0; i < 32; i++) {
		put8(m, (uint8_t)(i * 7));
	}
	put16(m, 13); /* original id */
	put16(m, 0);  /* error */
	put16(m, 0);  /* other length */
	size_t tsig_rdlen = m->n - tsig_start;
	m->b[tsig_rdlen_at] = (uint8_t)(tsig_rdlen >> 8);
	m->b[tsig_rdlen_at + 1] = (uint8_t)tsig_rdlen;

	/*
	 * Deliberate differences, valid for ldns: a skipped owner name that
	 * points forwards (to the additional record's owner), and one that
	 * points into the header (whose octets 4..5 read as a root name).
	 */
	m = next_corpus();
	m->expect = C_STRICT_PTR;
	header(m, 18, 0, 1, 1, 0, 1);
	question(m, "a.example", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN);
	size_t fwd_at = m->n;
	put16(m, 0);
	put16(m, LDNS_RR_TYPE_A);
	put16(m, LDNS_RR_CLASS_IN);
	put32(m, 60);
	put16(m, 4);
	put32(m, 0xC0000201);
	size_t target = m->n;
	putname(m, "key.example");
	put16(m, LDNS_RR_TYPE_A);
	put16(m, LDNS_RR_CLASS_IN);
	put32(m, 60);
	put16(m, 4);
	put32(m, 0xC0000202);
	m->b[fwd_at] = (uint8_t)(0xC0 | target >> 8);
	m->b[fwd_at + 1] = (uint8_t)target;
	m = next_corpus();
	m->expect = C_STRICT_PTR;
	header(m, 19, 0, 1, 1, 0, 0);
	/* QDCOUNT is 0x0001, so octet 4 reads as a root name. */
	question(m, "a.example", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN);
	put16(m, 0xC004);
	put16(m, LDNS_RR_TYPE_A);
	put16(m, LDNS_RR_CLASS_IN);
	put32(m, 60);
	put16(m, 4);
	put32(m, 0xC0000201);

	/* Binary octets inside labels. */
	m = next_corpus();
	header(m, 14, 0, 1, 0, 0, 0);
	put8(m, 4);
	putmem(m, "a\0.\xff", 4);
	put8(m, 3);
	putmem(m, "com", 3);
	put8(m, 0);
	put16(m, LDNS_RR_TYPE_A);
	put16(m, LDNS_RR_CLASS_IN);

	/* Header-only and two-question messages, and trailing octets. */
	m = next_corpus();
	header(m, 15, 0, 0, 0, 0, 0);
	m = next_corpus();
	header(m, 16, 0, 2, 0, 0, 0);
	question(m, "a.example", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN);
	question(m, "b.example", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN);
	m = next_corpus();
	header(m, 17, 0, 1, 0, 0, 0);
	question(m, "a.example", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN);
	putmem(m, "\0\0\0\0garbage", 11);

	/* A few built by ldns itself, independent of the builder above. */
	const char *lnames[] = { "www.example.org", "_dmarc.Example.COM", "xn--bcher-kva.example" };
	for (size_t i = 0; i < 3; i++) {
		ldns_pkt *p = NULL;
		if (ldns_pkt_query_new_frm_str(&p, lnames[i],
		                               i == 0 ? LDNS_RR_TYPE_AAAA : LDNS_RR_TYPE_TXT,
		                               LDNS_RR_CLASS_IN, LDNS_RD) != LDNS_STATUS_OK) {
			fprintf(stderr, "ldns query build failed\n");
			exit(2);
		}
		ldns_pkt_set_id(p, (uint16_t)(100 + i));
		if (i > 0) {
			ldns_pkt_set_edns_udp_size(p, 4096);
			ldns_pkt_set_edns_do(p, i == 2);
		}
		uint8_t *wire = NULL;
		size_t wlen = 0;
		if (ldns_pkt2wire(&wire, p, &wlen) != LDNS_STATUS_OK || wlen > MSG_MAX) {
			fprintf(stderr, "ldns pkt2wire failed\n");
			exit(2);
		}
		m = next_corpus();
		memcpy(m->b, wire, wlen);
		m->n = wlen;
		free(wire);
		ldns_pkt_free(p);
	}
}

/* ---- deterministic PRNG (xorshift64*) -------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static size_t rndn(size_t n)
{
	return n == 0 ? 0 : (size_t)(rnd() % n);
}

/* Finds the first OPT record's offset by a plain walk, or 0. */
static size_t find_opt(const msg_t *m);

static void mutate(msg_t *m)
{
	int rounds = 1 + (int)rndn(3);

	for (int r = 0; r < rounds; r++) {
		switch (rndn(10)) {
		case 0:
		case 1: /* bit flips */
			if (m->n > 0) {
				m->b[rndn(m->n)] ^= (uint8_t)(1u << rndn(8));
			}
			break;
		case 2: /* truncation */
			m->n = rndn(m->n + 1);
			break;
		case 3: /* inserted octets */
			if (m->n + 4 < MSG_MAX) {
				size_t at = rndn(m->n + 1);
				size_t k = 1 + rndn(3);
				memmove(m->b + at + k, m->b + at, m->n - at);
				for (size_t i = 0; i < k; i++) {
					m->b[at + i] = (uint8_t)rnd();
				}
				m->n += k;
			}
			break;
		case 4: /* deleted octets */
			if (m->n > 0) {
				size_t at = rndn(m->n);
				size_t k = 1 + rndn(3);
				if (k > m->n - at) {
					k = m->n - at;
				}
				memmove(m->b + at, m->b + at + k, m->n - at - k);
				m->n -= k;
			}
			break;
		case 5: /* a count changed */
			if (m->n >= HDR_LEN) {
				size_t c = 4 + 2 * rndn(4);
				uint16_t v = (uint16_t)(m->b[c] << 8 | m->b[c + 1]);
				v = rndn(2) ? (uint16_t)(v + rndn(3) - 1) : (uint16_t)rndn(4);
				m->b[c] = (uint8_t)(v >> 8);
				m->b[c + 1] = (uint8_t)v;
			}
			break;
		case 6: /* a planted label octet: pointer, reserved type, odd lengths */
			if (m->n > HDR_LEN) {
				static const uint8_t special[] = { 0x00, 0x01, 0x3F, 0x40,
					                           0x80, 0xC0, 0xFF };
				size_t at = HDR_LEN + rndn(m->n - HDR_LEN);
				m->b[at] = special[rndn(sizeof(special))];
				if (m->b[at] == 0xC0 && at + 1 < m->n) {
					m->b[at + 1] = (uint8_t)rndn(m->n + 4);
				}
			}
			break;
		case 7: /* a second copy of the OPT record */
		{
			size_t o = find_opt(m);
			if (o != 0 && m->n + 11 < MSG_MAX && o + 11 <= m->n) {
				memcpy(m->b + m->n, m->b + o, 11);
				m->b[m->n + 9] = 0; /* no options in the copy */
				m->b[m->n + 10] = 0;
				m->n += 11;
				uint16_t ar = (uint16_t)(m->b[10] << 8 | m->b[11]);
				ar++;
				m->b[10] = (uint8_t)(ar >> 8);
				m->b[11] = (uint8_t)ar;
			}
			break;
		}
		case 8: /* the OPT's RDLENGTH or an option length changed */
		{
			size_t o = find_opt(m);
			if (o != 0 && o + 11 <= m->n) {
				size_t at = o + 9 + (rndn(2) && o + 15 <= m->n ? 4 : 0);
				m->b[at + 1] = (uint8_t)(m->b[at + 1] + rndn(5) - 2);
			}
			break;
		}
		default: /* a random octet */
			if (m->n > 0) {
				m->b[rndn(m->n)] = (uint8_t)rnd();
			}
			break;
		}
	}
}

/* ---- an independent look at a message, for classification ----------------- */

/*
 * Walks a possibly compressed name the way ldns does (any pointer target
 * inside the message, at most 255 octets), and reports whether tallow's
 * stricter pointer rule (into the body, strictly before the current run of
 * labels, at most 127 hops) would refuse it.  Returns false when the name
 * is broken for ldns too.
 */
static bool walk_name(const uint8_t *b, size_t n, size_t *pos, bool *strict_bad, bool *has_ptr)
{
	size_t p = *pos, run = *pos, after = 0, total = 1;
	unsigned hops = 0;

	for (;;) {
		if (p >= n) {
			return false;
		}
		uint8_t l = b[p];
		if (l == 0) {
			p++;
			break;
		}
		if (l >= 0xC0) {
			if (p + 2 > n) {
				return false;
			}
			size_t t = (size_t)(l & 0x3F) << 8 | b[p + 1];
			*has_ptr = true;
			if (after == 0) {
				after = p + 2;
			}
			hops++;
			if (t < HDR_LEN || t >= run || hops > 127) {
				*strict_bad = true;
			}
			if (t == 0 || t >= n || hops > 65535) {
				return false;
			}
			p = run = t;
			continue;
		}
		if (l > 63 || p + 1 + l > n) {
			return false;
		}
		total += 1 + (size_t)l;
		if (total > 255) {
			return false;
		}
		p += 1 + (size_t)l;
	}
	*pos = after != 0 ? after : p;
	return true;
}

typedef struct {
	bool walked;         /* every counted record was found */
	bool qname_ptr;      /* the question name uses a pointer */
	bool strict_ptr;     /* a name outside the question breaks tallow's pointer rule */
	int n_opt;           /* OPT records in the additional section */
	bool opt_owner;      /* an OPT with an owner other than the root */
	bool opt_rdata;      /* an OPT whose options do not tile its RDATA */
	size_t type_at[512]; /* offsets of TYPE fields of non-OPT records outside the question */
	size_t ntypes;
} look_t;

static void look(const msg_t *m, look_t *lk)
{
	const uint8_t *b = m->b;
	size_t n = m->n, pos = HDR_LEN;
	bool dummy = false;

	memset(lk, 0, sizeof(*lk));
	if (n < HDR_LEN) {
		return;
	}
	unsigned qd = b[4] << 8 | b[5];
	unsigned cnt[3] = { b[6] << 8 | b[7], b[8] << 8 | b[9], b[10] << 8 | b[11] };
	for (unsigned i = 0; i < qd; i++) {
		bool p = false;
		if (!walk_name(b, n, &pos, &dummy, &p) || pos + 4 > n) {
			return;
		}
		lk->qname_ptr |= p && i == 0;
		pos += 4;
	}
	for (int s = 0; s < 3; s++) {
		for (unsigned i = 0; i < cnt[s]; i++) {
			size_t owner = pos;
			bool p = false;
			if (!walk_name(b, n, &pos, &lk->strict_ptr, &p) || pos + 10 > n) {
				return;
			}
			unsigned type = b[pos] << 8 | b[pos + 1];
			size_t rdlen = (size_t)(b[pos + 8] << 8 | b[pos + 9]);
			if (pos + 10 + rdlen > n) {
				return;
			}
			if (s == 2 && type == LDNS_RR_TYPE_OPT) {
				lk->n_opt++;
				lk->opt_owner |= b[owner] != 0;
				size_t o = pos + 10, end = pos + 10 + rdlen;
				while (o < end) {
					if (end - o < 4 ||
					    end - o - 4 < (size_t)(b[o + 2] << 8 | b[o + 3])) {
						lk->opt_rdata = true;
						break;
					}
					o += 4 + (size_t)(b[o + 2] << 8 | b[o + 3]);
				}
			} else if (lk->ntypes < sizeof(lk->type_at) / sizeof(lk->type_at[0])) {
				lk->type_at[lk->ntypes++] = pos;
			}
			pos += 10 + rdlen;
		}
	}
	lk->walked = true;
}

static size_t find_opt(const msg_t *m)
{
	look_t lk;
	const uint8_t *b = m->b;
	size_t n = m->n, pos = HDR_LEN;
	bool dummy = false, p = false;

	look(m, &lk);
	if (!lk.walked || lk.n_opt == 0) {
		return 0;
	}
	/* Walk again to the first additional OPT. */
	unsigned qd = b[4] << 8 | b[5];
	unsigned an = (unsigned)(b[6] << 8 | b[7]) + (unsigned)(b[8] << 8 | b[9]);
	unsigned ar = b[10] << 8 | b[11];
	for (unsigned i = 0; i < qd; i++) {
		walk_name(b, n, &pos, &dummy, &p);
		pos += 4;
	}
	for (unsigned i = 0; i < an + ar; i++) {
		size_t owner = pos;
		walk_name(b, n, &pos, &dummy, &p);
		if (i >= an && (b[pos] << 8 | b[pos + 1]) == LDNS_RR_TYPE_OPT) {
			return owner;
		}
		pos += 10 + (size_t)(b[pos + 8] << 8 | b[pos + 9]);
	}
	return 0;
}

/* ---- running both parsers --------------------------------------------------- */

static uint8_t *guard_page_end; /* one past the last readable octet */

/* Copies the message against the guard page and returns its new address. */
static const uint8_t *place(const msg_t *m)
{
	uint8_t *p = guard_page_end - m->n;
	memcpy(p, m->b, m->n);
	return p;
}

static ldns_status ldns_parse(const msg_t *m, ldns_pkt **pkt)
{
	*pkt = NULL;
	return ldns_wire2pkt(pkt, place(m), m->n);
}

static const char *const class_why[C_MAX] = {
	[C_AGREE] = "both parsers agree",
	[C_RESPONSE] =
	        "QR=1: a server drops responses instead of parsing them (no reflection loops)",
	[C_NOTIMP] = "opcode other than QUERY: answered NOTIMP from the header and question alone",
	[C_QDCOUNT] = "QDCOUNT != 1: FORMERR for a query (RFC 9619), ldns reads any count",
	[C_QNAME_PTR] =
	        "compression pointer in the question: refused, a query has nothing to point to",
	[C_STRICT_PTR] =
	        "pointer in a skipped name not strictly backwards into the body (loop-proof rule)",
	[C_TWO_OPT] = "two OPT records: FORMERR per RFC 6891 6.1.1, ldns keeps the last",
	[C_OPT_OWNER] =
	        "OPT owner not the root: FORMERR per RFC 6891 6.1.2, ldns ignores the owner",
	[C_OPT_RDATA] =
	        "OPT options do not tile its RDATA: FORMERR per RFC 6891 6.1.2, ldns keeps a blob",
	[C_RDATA] =
	        ("RDATA of skipped records: tallow trusts RDLENGTH (RFC 1035 4.1.3), ldns parses "
	         "fields by type and desynchronises when they disagree"),
};

/* Is ldns's verdict different once skipped records' types are made opaque? */
static ldns_status ldns_parse_opaque(const msg_t *m, const look_t *lk, ldns_pkt **pkt)
{
	static msg_t copy;

	copy = *m;
	for (size_t i = 0; i < lk->ntypes; i++) {
		copy.b[lk->type_at[i]] = TYPE_PRIVATE >> 8;
		copy.b[lk->type_at[i] + 1] = TYPE_PRIVATE & 0xFF;
	}
	return ldns_parse(&copy, pkt);
}

static bool ldns_accepts_opaque(const msg_t *m, const look_t *lk)
{
	ldns_pkt *pkt;
	ldns_status st = ldns_parse_opaque(m, lk, &pkt);
	ldns_pkt_free(pkt);
	return st == LDNS_STATUS_OK;
}

/* Compares the fields both parsers extracted; returns a failure text or NULL. */
static const char *compare_fields(const tal_qinfo_t *qi, ldns_pkt *pkt)
{
	ldns_rr *q = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
	if (q == NULL) {
		return "ldns has no question";
	}
	ldns_rdf *owner = ldns_rr_owner(q);
	if (ldns_rdf_size(owner) != qi->qname_len ||
	    memcmp(ldns_rdf_data(owner), qi->qname, qi->qname_len) != 0) {
		return "question name differs";
	}
	if (ldns_rr_get_type(q) != qi->qtype) {
		return "qtype differs";
	}
	if (ldns_rr_get_class(q) != qi->qclass) {
		return "qclass differs";
	}
	if (ldns_pkt_id(pkt) != qi->id) {
		return "id differs";
	}
	if (ldns_pkt_edns(pkt) != qi->has_edns) {
		return "EDNS presence differs";
	}
	if (qi->has_edns) {
		if (ldns_pkt_edns_udp_size(pkt) != qi->edns_udp_size) {
			return "EDNS UDP size differs";
		}
		if (ldns_pkt_edns_version(pkt) != qi->edns_version) {
			return "EDNS version differs";
		}
		if (ldns_pkt_edns_do(pkt) != qi->edns_do) {
			return "EDNS DO differs";
		}
		if (ldns_pkt_edns_extended_rcode(pkt) != qi->edns_ext_rcode) {
			return "EDNS extended rcode differs";
		}
	}
	return NULL;
}

/*
 * Classifies one message.  Returns a C_* class, or -1 with *why set for an
 * unexplained disagreement.
 */
static int check_one(const msg_t *m, const char **why)
{
	tal_qinfo_t qi;
	ldns_pkt *pkt = NULL;
	look_t lk;
	int cls = -1;

	int ours = tal_query_parse(place(m), m->n, &qi);
	ldns_status st = ldns_parse(m, &pkt);
	bool l_ok = st == LDNS_STATUS_OK;
	*why = "unclassified disagreement";

	if (m->n < HDR_LEN) {
		cls = ours == TAL_PARSE_DROP && !l_ok ? C_AGREE : -1;
		goto out;
	}
	if (m->b[2] & 0x80) {
		cls = ours == TAL_PARSE_DROP ? C_RESPONSE : -1;
		*why = "QR=1 not dropped";
		goto out;
	}
	if ((m->b[2] >> 3 & 0x0F) != 0) {
		if (ours != TAL_PARSE_NOTIMP) {
			*why = "other opcode not NOTIMP";
			goto out;
		}
		/* When both read a question it must be the same one. */
		if (l_ok && qi.qname != NULL && ldns_pkt_qdcount(pkt) == 1) {
			ldns_rdf *o = ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(pkt), 0));
			if (ldns_rdf_size(o) != qi.qname_len ||
			    memcmp(ldns_rdf_data(o), qi.qname, qi.qname_len) != 0) {
				*why = "NOTIMP question differs";
				goto out;
			}
		}
		cls = C_NOTIMP;
		goto out;
	}
	if (ours == TAL_PARSE_DROP || ours == TAL_PARSE_NOTIMP) {
		*why = "unexpected drop or NOTIMP for a QUERY";
		goto out;
	}
	bool t_ok = ours == TAL_PARSE_OK || ours == TAL_PARSE_BADVERS;
	if (ours == TAL_PARSE_BADVERS && !(qi.has_edns && qi.edns_version > 0)) {
		*why = "BADVERS without an EDNS version";
		goto out;
	}
	if (t_ok && l_ok) {
		const char *diff = compare_fields(&qi, pkt);
		cls = C_AGREE;
		if (diff != NULL) {
			/* Both accept but read different records: ldns out of step? */
			ldns_pkt *opaque = NULL;
			look(m, &lk);
			cls = -1;
			*why = diff;
			if (lk.walked && ldns_parse_opaque(m, &lk, &opaque) == LDNS_STATUS_OK &&
			    compare_fields(&qi, opaque) == NULL) {
				cls = C_RDATA;
			}
			ldns_pkt_free(opaque);
		}
		goto out;
	}
	if (!t_ok && !l_ok) {
		cls = C_AGREE;
		goto out;
	}
	if ((m->b[4] << 8 | m->b[5]) != 1) {
		cls = !t_ok ? C_QDCOUNT : -1;
		goto out;
	}
	look(m, &lk);
	if (!t_ok) {
		/* We refuse what ldns accepts: one of our stricter rules must apply. */
		if (lk.qname_ptr) {
			cls = C_QNAME_PTR;
		} else if (lk.walked && lk.strict_ptr) {
			cls = C_STRICT_PTR;
		} else if (lk.walked && lk.n_opt > 1) {
			cls = C_TWO_OPT;
		} else if (lk.walked && lk.opt_owner) {
			cls = C_OPT_OWNER;
		} else if (lk.walked && lk.opt_rdata) {
			cls = C_OPT_RDATA;
		} else if (!lk.walked || !ldns_accepts_opaque(m, &lk)) {
			/* ldns only got through by reading RDATA fields out of step. */
			cls = C_RDATA;
		}
		goto out;
	}
	/* We accept what ldns refuses: only RDATA interpretation may explain it. */
	if (lk.walked && ldns_accepts_opaque(m, &lk)) {
		cls = C_RDATA;
	}
out:
	ldns_pkt_free(pkt);
	return cls;
}

/* tal_query_key must build exactly the key tal_dname_to_key builds. */
static unsigned key_checks, key_mismatches;

static void check_key(const uint8_t *name, size_t len)
{
	uint8_t k1[TAL_KEY_MAXLEN + 8], k2[TAL_KEY_MAXLEN + 8];
	int l1 = tal_dname_to_key(name, len, k1);
	int l2 = tal_query_key(name, len, k2);
	key_checks++;
	if (l1 != l2 || (l1 > 0 && memcmp(k1, k2, (size_t)l1) != 0)) {
		key_mismatches++;
	}
}

/* Every octet value at every position of an eight-octet word, and long names. */
static void check_key_octets(void)
{
	uint8_t name[TAL_DNAME_MAXLEN];

	for (unsigned v = 0; v < 256; v++) {
		for (size_t at = 1; at <= 17; at++) {
			name[0] = 17;
			memcpy(name + 1, "AbCdEfGhIjKlMnOpQ", 17);
			name[at] = (uint8_t)v;
			name[18] = 2;
			name[19] = 'Z';
			name[20] = (uint8_t)v;
			name[21] = 0;
			check_key(name, 22);
		}
	}
	for (size_t labels = 1; labels <= 127; labels++) {
		size_t n = 0;
		for (size_t i = 0; i < labels; i++) {
			name[n++] = 1;
			name[n++] = (uint8_t)('A' + i % 26);
		}
		name[n++] = 0;
		check_key(name, n);
	}
}

static void hexdump(const msg_t *m)
{
	printf("#   ");
	for (size_t i = 0; i < m->n && i < 160; i++) {
		printf("%02x", m->b[i]);
	}
	printf("%s\n", m->n > 160 ? "..." : "");
}

/*
 * Usage: test_query_parse [seed [count]]; the defaults are what CI runs, the
 * arguments let a developer explore further.
 */
int main(int argc, char **argv)
{
	unsigned n_mut = N_MUTATIONS;
	if (argc > 1) {
		rng_state = strtoull(argv[1], NULL, 0) | 1;
	}
	if (argc > 2) {
		n_mut = (unsigned)strtoul(argv[2], NULL, 0);
	}
	long pg = sysconf(_SC_PAGESIZE);
	size_t region = ((MSG_MAX + (size_t)pg - 1) / (size_t)pg + 1) * (size_t)pg;
	uint8_t *mem =
	        mmap(NULL, region, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || mprotect(mem + region - (size_t)pg, (size_t)pg, PROT_NONE) != 0) {
		perror("mmap");
		return 2;
	}
	guard_page_end = mem + region - (size_t)pg;

	build_corpus();

	unsigned counts[C_MAX] = { 0 };
	unsigned unexplained = 0, accepted_both = 0;
	msg_t m;

	/* The corpus itself must parse the same in both, with no excuses. */
	unsigned corpus_bad = 0;
	for (size_t i = 0; i < ncorpus; i++) {
		const char *why;
		int c = check_one(&corpus[i], &why);
		bool header_class = corpus[i].b[4] != 0 || corpus[i].b[5] != 1 ||
		                    (corpus[i].b[2] >> 3 & 0x0F) != 0;
		if (c < 0 || (c != corpus[i].expect && !header_class)) {
			corpus_bad++;
			printf("# corpus %zu: %s (class %d)\n", i, c < 0 ? why : "classified", c);
			hexdump(&corpus[i]);
		}
	}
	is_int(0, corpus_bad, "all %zu corpus queries parse identically in tallow and ldns",
	       ncorpus);

	for (unsigned i = 0; i < n_mut; i++) {
		m = corpus[rndn(ncorpus)];
		mutate(&m);
		const char *why;
		int c = check_one(&m, &why);
		if (c < 0) {
			if (unexplained < 10) {
				printf("# mutation %u: %s\n", i, why);
				hexdump(&m);
			}
			unexplained++;
			continue;
		}
		counts[c]++;
		tal_qinfo_t qi;
		int r = tal_query_parse(place(&m), m.n, &qi);
		if (c == C_AGREE) {
			accepted_both += r == TAL_PARSE_OK || r == TAL_PARSE_BADVERS;
		}
		if (qi.qname != NULL) {
			check_key(qi.qname, qi.qname_len);
		}
	}

	for (int c = 0; c < C_MAX; c++) {
		printf("# %6u  %s\n", counts[c], class_why[c]);
	}
	printf("# %6u  of the agreements were accepted by both\n", accepted_both);
	is_int(0, unexplained, "no unexplained disagreement in %u mutated messages", n_mut);
	ok(counts[C_AGREE] > n_mut / 2, "most mutations are judged identically (%u)",
	   counts[C_AGREE]);
	ok(accepted_both > 500, "the mutations include many messages both accept (%u)",
	   accepted_both);
	ok(counts[C_AGREE] - accepted_both > 500, "and many both reject (%u)",
	   counts[C_AGREE] - accepted_both);
	check_key_octets();
	is_int(0, key_mismatches, "tal_query_key equals tal_dname_to_key on %u names", key_checks);
	for (int c = C_RESPONSE; c < C_MAX; c++) {
		ok(counts[c] > 0, "the corpus reaches the intended difference: %s", class_why[c]);
	}

	munmap(mem, region);
	return tap_done();
}
