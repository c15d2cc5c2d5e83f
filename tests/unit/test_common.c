/*
 * tests/unit/test_common.c -- the shared helpers in common/: names in wire,
 * text and key form (dname.h), the node and zone value readers (node.h),
 * GUID labels, the bounds-checked wire cursor (wire.h) and error names.
 *
 * Parsers are fed exact-size heap copies of their input, so a read one
 * octet past the end is an AddressSanitizer error, not a silent pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dname.h"
#include "common/error.h"
#include "common/node.h"
#include "common/wire.h"
#include "tests/unit/tap.h"

/* An exact-size heap copy of `len` octets (at least one byte is allocated). */
static uint8_t *dup_exact(const uint8_t *src, size_t len)
{
	uint8_t *p = malloc(len > 0 ? len : 1);
	if (p == NULL) {
		exit(2);
	}
	if (len > 0) {
		memcpy(p, src, len);
	}
	return p;
}

static void test_text_wire_key(void)
{
	uint8_t wire[TAL_DNAME_MAXLEN], wire2[TAL_DNAME_MAXLEN];
	uint8_t key[TAL_KEY_MAXLEN];
	char text[TAL_DNAME_TEXTSZ];

	int wl = tal_dname_from_text("www.Example.COM", wire);
	is_int(17, wl, "from_text: www.Example.COM is 17 wire octets");
	is_mem("\x03www\x07"
	       "Example\x03"
	       "COM\x00",
	       wire, 17, "from_text: wire form keeps case");
	is_int(17, tal_dname_wire_len(wire, (size_t)wl), "wire_len of it");
	is_int(15, tal_dname_to_text(wire, text, sizeof(text)), "to_text length");
	is_str("www.Example.COM", text, "to_text keeps case");
	int kl = tal_dname_to_key(wire, (size_t)wl, key);
	is_int(16, kl, "to_key: one octet shorter than the wire form");
	is_mem("com\0example\0www\0", key, 16, "to_key: labels reversed, lowercased, 0-terminated");
	int wl2 = tal_key_to_wire(key, (size_t)kl, wire2);
	is_int(17, wl2, "key_to_wire length");
	is_mem("\x03www\x07"
	       "example\x03"
	       "com\x00",
	       wire2, 17, "key_to_wire: lowercase wire");
	is_int(15, tal_key_to_text(key, (size_t)kl, text, sizeof(text)), "key_to_text length");
	is_str("www.example.com", text, "key_to_text is lowercase");

	uint8_t key2[TAL_KEY_MAXLEN];
	is_int(16, tal_key_from_text("WWW.EXAMPLE.COM.", key2), "key_from_text with trailing dot");
	is_mem(key, key2, 16, "key_from_text: case folded, trailing dot ignored");
	is_int(0, tal_key_labels(key, 0), "key_labels of the root is 0");
	is_int(3, tal_key_labels(key, (size_t)kl), "key_labels counts labels");

	/* The root. */
	is_int(1, tal_dname_from_text(".", wire), "from_text: . is the root");
	is_int(0, wire[0], "root wire is one zero octet");
	is_int(1, tal_dname_from_text("", wire), "from_text: empty text is the root");
	is_int(0, tal_key_from_text(".", key), "key of the root is empty");
	is_int(1, tal_dname_to_text(wire, text, sizeof(text)), "to_text of the root");
	is_str(".", text, "root prints as .");
	is_int(1, tal_key_to_wire(key, 0, wire2), "key_to_wire of the empty key");
	is_int(1, tal_key_to_text(key, 0, text, sizeof(text)), "key_to_text of the empty key");
	is_str(".", text, "empty key prints as .");

	/* Errors in text. */
	is_int(TAL_EINVAL, tal_dname_from_text(NULL, wire), "from_text: NULL is EINVAL");
	is_int(TAL_ELABEL_EMPTY, tal_dname_from_text("a..b", wire), "from_text: a..b");
	is_int(TAL_ELABEL_EMPTY, tal_dname_from_text(".a", wire), "from_text: leading dot");
	is_int(TAL_ELABEL_EMPTY, tal_dname_from_text("a..", wire), "from_text: a..");
	is_int(TAL_ELABEL_EMPTY, tal_dname_from_text("..", wire), "from_text: ..");

	char lab63[64], lab64[65], name[400];
	memset(lab63, 'a', 63);
	lab63[63] = '\0';
	memset(lab64, 'b', 64);
	lab64[64] = '\0';
	is_int(65, tal_dname_from_text(lab63, wire), "from_text: 63-octet label accepted");
	is_int(TAL_ELABEL_LEN, tal_dname_from_text(lab64, wire), "from_text: 64-octet label");
	snprintf(name, sizeof(name), "x.%s.y", lab64);
	is_int(TAL_ELABEL_LEN, tal_dname_from_text(name, wire), "from_text: long inner label");

	/* 3 * 64 + 62 + 1 = 255 wire octets is the limit; one more is not a name. */
	char lab61[62];
	memset(lab61, 'c', 61);
	lab61[61] = '\0';
	snprintf(name, sizeof(name), "%s.%s.%s.%s", lab63, lab63, lab63, lab61);
	is_int(255, tal_dname_from_text(name, wire), "from_text: 255-octet name accepted");
	is_int(255, tal_dname_wire_len(wire, 255), "wire_len: 255-octet name");
	is_int(254, tal_key_from_text(name, key), "key of a 255-octet name is 254 octets");
	is_int(255, tal_key_to_wire(key, 254, wire2), "key_to_wire of the longest key");
	is_mem(wire, wire2, 255, "longest name survives the round trip");
	snprintf(name, sizeof(name), "%s.%s.%s.%s.", lab63, lab63, lab63, lab61);
	is_int(255, tal_dname_from_text(name, wire), "from_text: 255 with trailing dot");
	snprintf(name, sizeof(name), "%s.%s.%s.%sc", lab63, lab63, lab63, lab61);
	is_int(TAL_EDNAME_LEN, tal_dname_from_text(name, wire), "from_text: 256 octets");
	snprintf(name, sizeof(name), "%s.%s.%s.%s.d", lab63, lab63, lab63, lab61);
	is_int(TAL_EDNAME_LEN, tal_dname_from_text(name, wire), "from_text: 257 octets");
	is_int(TAL_EDNAME_LEN, tal_key_from_text(name, key), "key_from_text passes the error");

	/* to_text escapes and buffer limits. */
	static const uint8_t odd[] = { 3, 'a', '.', 0x80, 2, ' ', 'z', 0 };
	is_int(15, tal_dname_to_text(odd, text, sizeof(text)), "to_text with escapes");
	is_str("a\\046\\128.\\032z", text, "to_text escapes dot, high octets, space");
	is_int(TAL_ESPACE, tal_dname_to_text(odd, text, 15), "to_text: no room for the NUL");
	is_int(15, tal_dname_to_text(odd, text, 16), "to_text: exact room");
	is_int(TAL_ESPACE, tal_dname_to_text(odd, text, 1), "to_text: one-octet buffer");
	is_int(TAL_ESPACE, tal_dname_to_text(wire2, text, 10), "to_text: long name, small buffer");
}

static void test_wire_malformed(void)
{
	uint8_t key[TAL_KEY_MAXLEN];
	uint8_t wire[TAL_DNAME_MAXLEN];

	static const uint8_t ok_name[] = { 1, 'a', 2, 'b', 'c', 0 };
	static const uint8_t ptr[] = { 1, 'a', 0xc0, 0x0c };
	static const uint8_t reserved[] = { 0x41, 'a', 0 };
	static const uint8_t nozero[] = { 1, 'a', 1, 'b' };
	static const uint8_t over[] = { 5, 'a', 'b' };

	int bad = 0;
	for (size_t n = 0; n < sizeof(ok_name); n++) {
		uint8_t *p = dup_exact(ok_name, n);
		int r = tal_dname_wire_len(p, n);
		int k = tal_dname_to_key(p, n, key);
		free(p);
		if (r != TAL_EMALF || k != TAL_EMALF) {
			printf("# cut to %zu: wire_len %d, to_key %d\n", n, r, k);
			bad++;
		}
	}
	is_int(0, bad, "wire_len, to_key: every truncation of a name is EMALF");
	uint8_t *p = dup_exact(ok_name, sizeof(ok_name));
	is_int(6, tal_dname_wire_len(p, sizeof(ok_name)), "wire_len: whole name");
	is_int(5, tal_dname_to_key(p, 6, key), "to_key: whole name");
	is_int(TAL_EMALF, tal_dname_to_key(p, 5, key), "to_key: length one short");
	free(p);

	p = dup_exact(ptr, sizeof(ptr));
	is_int(TAL_EMALF, tal_dname_wire_len(p, sizeof(ptr)), "wire_len: compression pointer");
	is_int(TAL_EMALF, tal_dname_to_key(p, sizeof(ptr), key), "to_key: compression pointer");
	free(p);
	p = dup_exact(reserved, sizeof(reserved));
	is_int(TAL_EMALF, tal_dname_wire_len(p, sizeof(reserved)), "wire_len: label type 0x40");
	free(p);
	p = dup_exact(nozero, sizeof(nozero));
	is_int(TAL_EMALF, tal_dname_wire_len(p, sizeof(nozero)), "wire_len: no root octet");
	is_int(TAL_EMALF, tal_dname_to_key(p, sizeof(nozero), key), "to_key: no root octet");
	free(p);
	p = dup_exact(over, sizeof(over));
	is_int(TAL_EMALF, tal_dname_wire_len(p, sizeof(over)), "wire_len: label past the end");
	is_int(TAL_EMALF, tal_dname_to_key(p, sizeof(over), key), "to_key: label past the end");
	free(p);
	is_int(TAL_EMALF, tal_dname_to_key(ok_name, 0, key), "to_key: zero length");

	/* A 256-octet wire name: four 63-octet labels. */
	uint8_t big[300];
	size_t n = 0;
	for (int l = 0; l < 4; l++) {
		big[n++] = 63;
		memset(big + n, 'q', 63);
		n += 63;
	}
	big[n++] = 0;
	is_int(TAL_EMALF, tal_dname_wire_len(big, n), "wire_len: 257-octet name");
	is_int(TAL_EMALF, tal_dname_to_key(big, n, key), "to_key: 257-octet name");

	/* Keys that are not label sequences. */
	is_int(TAL_EMALF, tal_key_to_wire((const uint8_t *)"com", 3, wire),
	       "key_to_wire: missing terminator");
	is_int(TAL_EMALF, tal_key_to_wire((const uint8_t *)"com\0\0", 5, wire),
	       "key_to_wire: empty label");
	uint8_t longlab[70];
	memset(longlab, 'x', 64);
	longlab[64] = 0;
	is_int(TAL_EMALF, tal_key_to_wire(longlab, 65, wire), "key_to_wire: 64-octet label");
	is_int(TAL_EMALF, tal_key_to_wire(key, TAL_KEY_MAXLEN + 1, wire),
	       "key_to_wire: key too long");
	char text[TAL_DNAME_TEXTSZ];
	is_int(TAL_EMALF, tal_key_to_text((const uint8_t *)"com", 3, text, sizeof(text)),
	       "key_to_text passes EMALF");

	/* 0x00 inside a label becomes 0x01 and cannot end the label early. */
	static const uint8_t nul[] = { 3, 'a', 0, 'B', 3, 'c', 'o', 'm', 0 };
	is_int(8, tal_dname_to_key(nul, sizeof(nul), key), "to_key: label with a 0x00 octet");
	is_mem("com\0a\x01"
	       "b\0",
	       key, 8, "to_key: 0x00 maps to 0x01, case still folded");
	is_int(2, tal_key_labels(key, 8), "to_key: still two labels");
}

static void test_canonical_order(void)
{
	/* RFC 4034 §6.1, in its canonical order. */
	static const uint8_t n0[] = "\x07"
	                            "example\x00";
	static const uint8_t n1[] = "\x01"
	                            "a\x07"
	                            "example\x00";
	static const uint8_t n2[] = "\x08yljkjljk\x01"
	                            "a\x07"
	                            "example\x00";
	static const uint8_t n3[] = "\x01Z\x01"
	                            "a\x07"
	                            "example\x00";
	static const uint8_t n4[] = "\x04zABC\x01"
	                            "a\x07"
	                            "EXAMPLE\x00";
	static const uint8_t n5[] = "\x01z\x07"
	                            "example\x00";
	static const uint8_t n6[] = "\x01\x01\x01z\x07"
	                            "example\x00";
	static const uint8_t n7[] = "\x01*\x01z\x07"
	                            "example\x00";
	static const uint8_t n8[] = "\x01\x80\x01z\x07"
	                            "example\x00";
	static const struct {
		const uint8_t *w;
		size_t len;
	} names[] = {
		{ n0, sizeof(n0) - 1 }, { n1, sizeof(n1) - 1 }, { n2, sizeof(n2) - 1 },
		{ n3, sizeof(n3) - 1 }, { n4, sizeof(n4) - 1 }, { n5, sizeof(n5) - 1 },
		{ n6, sizeof(n6) - 1 }, { n7, sizeof(n7) - 1 }, { n8, sizeof(n8) - 1 },
	};
	uint8_t keys[9][TAL_KEY_MAXLEN];
	int lens[9];
	size_t count = sizeof(names) / sizeof(names[0]);

	for (size_t i = 0; i < count; i++) {
		lens[i] = tal_dname_to_key(names[i].w, names[i].len, keys[i]);
		is_int((int)names[i].len - 1, lens[i], "canonical: key %zu built", i);
	}
	for (size_t i = 0; i + 1 < count; i++) {
		size_t a = (size_t)lens[i], b = (size_t)lens[i + 1];
		int c = memcmp(keys[i], keys[i + 1], a < b ? a : b);
		ok(c < 0 || (c == 0 && a < b),
		   "canonical: name %zu sorts before name %zu by memcmp", i, i + 1);
	}
	ok(tal_key_is_below(keys[2], (size_t)lens[2], keys[1], (size_t)lens[1]),
	   "is_below: yljkjljk.a.example is below a.example");
	ok(tal_key_is_below(keys[1], (size_t)lens[1], keys[1], (size_t)lens[1]),
	   "is_below: a name is below itself");
	ok(!tal_key_is_below(keys[1], (size_t)lens[1], keys[2], (size_t)lens[2]),
	   "is_below: a parent is not below its child");
	ok(!tal_key_is_below(keys[5], (size_t)lens[5], keys[1], (size_t)lens[1]),
	   "is_below: z.example is not below a.example");
	ok(tal_key_is_below(keys[5], (size_t)lens[5], keys[0], 0),
	   "is_below: all is below the root");
}

/*
 * A node with A, NS (with glue) and TXT RRsets and a tenant section; the
 * offsets where each RRset ends are returned for the truncation test.
 */
static size_t build_node(uint8_t *buf, size_t size, size_t *ends)
{
	tal_wire_t w = tal_wire_init(buf, size);
	tal_wire_put_u8(&w, TAL_NODE_VERSION);
	tal_wire_put_u8(&w, TAL_NODE_F_TENANTS);
	tal_wire_put_u16(&w, 3);

	/* A: one RR. */
	tal_wire_put_u16(&w, TAL_TYPE_A);
	tal_wire_put_u16(&w, 1);
	tal_wire_put_u32(&w, 14);
	tal_wire_put_u16(&w, 0);
	tal_wire_put_u16(&w, TAL_TYPE_A);
	tal_wire_put_u16(&w, TAL_CLASS_IN);
	tal_wire_put_u32(&w, 300);
	tal_wire_put_u16(&w, 4);
	tal_wire_put_bytes(&w, "\x7f\x00\x00\x02", 4);
	ends[0] = w.pos;

	/* NS: one RR ns.x (rdata 6 octets) and glue "ns.x A 192.0.2.1" with owner. */
	static const uint8_t glue[] = { 2, 'n', 's', 1,  'x', 0, 0,   1, 0, 1,
		                        0, 0,   0,   60, 0,   4, 192, 0, 2, 1 };
	tal_wire_put_u16(&w, TAL_TYPE_NS);
	tal_wire_put_u16(&w, 1);
	tal_wire_put_u32(&w, 10 + 6);
	tal_wire_put_u16(&w, sizeof(glue));
	tal_wire_put_u16(&w, TAL_TYPE_NS);
	tal_wire_put_u16(&w, TAL_CLASS_IN);
	tal_wire_put_u32(&w, 3600);
	tal_wire_put_u16(&w, 6);
	tal_wire_put_bytes(&w, "\x02ns\x01x\x00", 6);
	tal_wire_put_bytes(&w, glue, sizeof(glue));
	ends[1] = w.pos;

	/* TXT: two RRs. */
	tal_wire_put_u16(&w, TAL_TYPE_TXT);
	tal_wire_put_u16(&w, 2);
	tal_wire_put_u32(&w, (10 + 6) + (10 + 4));
	tal_wire_put_u16(&w, 0);
	tal_wire_put_u16(&w, TAL_TYPE_TXT);
	tal_wire_put_u16(&w, TAL_CLASS_IN);
	tal_wire_put_u32(&w, 300);
	tal_wire_put_u16(&w, 6);
	tal_wire_put_bytes(&w, "\x05hello", 6);
	tal_wire_put_u16(&w, TAL_TYPE_TXT);
	tal_wire_put_u16(&w, TAL_CLASS_IN);
	tal_wire_put_u32(&w, 300);
	tal_wire_put_u16(&w, 4);
	tal_wire_put_bytes(&w,
	                   "\x03"
	                   "abc",
	                   4);
	ends[2] = w.pos;

	/* Tenants: three sorted IDs. */
	tal_wire_put_u32(&w, 3600);
	tal_wire_put_u16(&w, 3);
	for (uint8_t i = 1; i <= 3; i++) {
		uint8_t id[16];
		memset(id, i * 0x11, sizeof(id));
		tal_wire_put_bytes(&w, id, sizeof(id));
	}
	return w.error == 0 ? w.pos : 0;
}

static void test_node(void)
{
	uint8_t buf[512];
	size_t ends[3];
	size_t len = build_node(buf, sizeof(buf), ends);
	tal_rrset_view_t rs;
	tal_tenants_view_t tv;

	ok(len == ends[2] + 6 + 48, "node: built %zu octets", len);
	uint8_t *node = dup_exact(buf, len);

	is_int(0, tal_node_find(node, len, TAL_TYPE_TXT, &rs), "node: find TXT");
	ok(rs.type == TAL_TYPE_TXT && rs.count == 2 && rs.rrs_len == 30 && rs.add == NULL &&
	           rs.add_len == 0,
	   "node: TXT view");
	ok(rs.rrs == node + ends[1] + TAL_RRSET_HDRLEN, "node: TXT RRs borrowed in place");
	is_int(0, tal_node_find(node, len, TAL_TYPE_NS, &rs), "node: find NS");
	ok(rs.count == 1 && rs.add != NULL && rs.add_len == 20 && rs.add == rs.rrs + rs.rrs_len,
	   "node: NS view with glue");
	is_int(TAL_ENOTFOUND, tal_node_find(node, len, TAL_TYPE_AAAA, &rs),
	       "node: no AAAA is ENOTFOUND");

	tal_node_iter_t it = { 0 };
	uint16_t types[4] = { 0 };
	int n = 0, ret;
	while ((ret = tal_node_next(node, len, &it, &rs)) == 0 && n < 4) {
		types[n++] = rs.type;
	}
	is_int(TAL_ENOTFOUND, ret, "node: iteration ends with ENOTFOUND");
	ok(n == 3 && types[0] == TAL_TYPE_A && types[1] == TAL_TYPE_NS && types[2] == TAL_TYPE_TXT,
	   "node: iteration yields A, NS, TXT in order");
	is_int(TAL_ENOTFOUND, tal_node_next(node, len, &it, &rs), "node: iteration stays ended");

	is_int(0, tal_node_tenants(node, len, &tv), "node: tenants");
	ok(tv.present && tv.ttl == 3600 && tv.count == 3, "node: tenant section header");
	uint8_t id[16];
	memset(id, 0x22, sizeof(id));
	ok(tal_tenants_contains(&tv, id), "tenants: contains the middle id");
	memset(id, 0x11, sizeof(id));
	ok(tal_tenants_contains(&tv, id), "tenants: contains the first id");
	memset(id, 0x33, sizeof(id));
	ok(tal_tenants_contains(&tv, id), "tenants: contains the last id");
	memset(id, 0x23, sizeof(id));
	ok(!tal_tenants_contains(&tv, id), "tenants: an id between is absent");
	memset(id, 0x00, sizeof(id));
	ok(!tal_tenants_contains(&tv, id), "tenants: an id before all is absent");
	memset(id, 0xff, sizeof(id));
	ok(!tal_tenants_contains(&tv, id), "tenants: an id after all is absent");
	tal_tenants_view_t none = { true, 60, 0, NULL };
	ok(!tal_tenants_contains(&none, id), "tenants: a deny-all section contains nothing");
	free(node);

	/* Without the flag the tenant bytes are not read. */
	buf[1] = 0;
	node = dup_exact(buf, ends[2]);
	is_int(0, tal_node_tenants(node, ends[2], &tv), "node: no tenant flag");
	ok(!tv.present, "node: no tenant section");
	free(node);
	buf[1] = TAL_NODE_F_TENANTS;

	/* Every truncation is EMALF where the missing bytes are needed. */
	int bad = 0;
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *p = dup_exact(buf, cut);
		int want_a = cut < ends[0] ? TAL_EMALF : 0;
		int want_txt = cut < ends[2] ? TAL_EMALF : 0;
		int want_aaaa = cut < ends[2] ? TAL_EMALF : TAL_ENOTFOUND;
		if (tal_node_find(p, cut, TAL_TYPE_A, &rs) != want_a ||
		    tal_node_find(p, cut, TAL_TYPE_TXT, &rs) != want_txt ||
		    tal_node_find(p, cut, TAL_TYPE_AAAA, &rs) != want_aaaa) {
			printf("# find wrong at cut %zu\n", cut);
			bad++;
		}
		tal_node_iter_t i2 = { 0 };
		int steps = 0;
		while ((ret = tal_node_next(p, cut, &i2, &rs)) == 0 && steps < 10) {
			steps++;
		}
		if (ret != (cut < ends[2] ? TAL_EMALF : TAL_ENOTFOUND)) {
			printf("# iteration wrong at cut %zu\n", cut);
			bad++;
		}
		if (tal_node_tenants(p, cut, &tv) != TAL_EMALF) {
			printf("# tenants wrong at cut %zu\n", cut);
			bad++;
		}
		free(p);
	}
	is_int(0, bad, "node: all %zu truncations answered correctly", len);

	/* Lengths that overflow 32 bits of arithmetic and a wrong version. */
	uint8_t evil[TAL_NODE_HDRLEN + TAL_RRSET_HDRLEN] = {
		TAL_NODE_VERSION, 0, 0, 1, 0, 1, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
	};
	node = dup_exact(evil, sizeof(evil));
	is_int(TAL_EMALF, tal_node_find(node, sizeof(evil), TAL_TYPE_A, &rs),
	       "node: huge RR length is EMALF");
	it = (tal_node_iter_t){ 0 };
	is_int(TAL_EMALF, tal_node_next(node, sizeof(evil), &it, &rs),
	       "node: huge RR length in iteration is EMALF");
	is_int(TAL_EMALF, tal_node_tenants(node, sizeof(evil), &tv),
	       "node: huge RR length before tenants is EMALF");
	free(node);
	buf[0] = TAL_NODE_VERSION + 1;
	node = dup_exact(buf, len);
	is_int(TAL_EMALF, tal_node_find(node, len, TAL_TYPE_A, &rs), "node: other version");
	free(node);
	buf[0] = TAL_NODE_VERSION;

	/* A tenant count larger than the bytes present. */
	buf[ends[2] + 5] = 4;
	node = dup_exact(buf, len);
	is_int(TAL_EMALF, tal_node_tenants(node, len, &tv), "node: tenant count past the end");
	free(node);
}

/* xorshift32: a fixed sequence, so a failure reproduces. */
static uint32_t rng_state = 2463534242u;

static uint32_t rng(void)
{
	uint32_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return rng_state = x;
}

/*
 * Random wire names, valid and not, in exact-size buffers: the readers must
 * agree with each other and never read past the end.
 */
static void test_dname_random(void)
{
	int bad = 0, valid = 0;

	for (int round = 0; round < 20000; round++) {
		uint8_t buf[300];
		size_t len = rng() % 280;
		bool well_formed = rng() % 2;
		size_t n = 0;
		if (well_formed) {
			/* Labels of 1..63 random octets while they fit, then the root. */
			while (n < len) {
				size_t lab = 1 + rng() % 63;
				if (n + 1 + lab + 1 > len) {
					break;
				}
				buf[n++] = (uint8_t)lab;
				for (size_t i = 0; i < lab; i++) {
					buf[n++] = (uint8_t)rng();
				}
			}
			buf[n++] = 0;
			len = n;
		} else {
			for (size_t i = 0; i < len; i++) {
				buf[i] = (uint8_t)(rng() % 4 == 0 ? rng() % 8 : rng());
			}
		}
		uint8_t *p = dup_exact(buf, len);
		uint8_t key[TAL_KEY_MAXLEN], wire[TAL_DNAME_MAXLEN];
		char text[TAL_DNAME_TEXTSZ];
		int wl = tal_dname_wire_len(p, len);
		if (wl > 0) {
			valid++;
			int kl = tal_dname_to_key(p, (size_t)wl, key);
			int rl = kl < 0 ? kl : tal_key_to_wire(key, (size_t)kl, wire);
			int tl = tal_dname_to_text(p, text, sizeof(text));
			bool same = rl == wl;
			/* The round trip lowercases ASCII and maps 0x00 to 0x01. */
			for (int i = 0, next = 0; same && i < wl; i++) {
				uint8_t c = p[i];
				if (i == next) {
					next = i + 1 + c;
				} else if (c >= 'A' && c <= 'Z') {
					c = (uint8_t)(c + 32);
				} else if (c == 0) {
					c = 1;
				}
				same = wire[i] == c;
			}
			if (kl != wl - 1 || !same || tl <= 0 || (size_t)tl != strlen(text)) {
				bad++;
			}
		} else if (wl != TAL_EMALF || (well_formed && len <= TAL_DNAME_MAXLEN)) {
			bad++;
		} else if (tal_dname_to_key(p, len, key) != TAL_EMALF) {
			bad++;
		}
		free(p);
	}
	is_int(0, bad, "random names: wire_len, to_key, key_to_wire and to_text agree");
	ok(valid > 5000, "random names: %d of 20000 were names", valid);
}

/* Random corruptions of a valid node: answers stay within the contract. */
static void test_node_random(void)
{
	uint8_t buf[512];
	size_t ends[3];
	size_t len = build_node(buf, sizeof(buf), ends);
	int bad = 0;

	for (int round = 0; round < 20000; round++) {
		uint8_t m[512];
		memcpy(m, buf, len);
		int flips = 1 + (int)(rng() % 4);
		for (int f = 0; f < flips; f++) {
			m[rng() % len] = (uint8_t)rng();
		}
		size_t mlen = rng() % 8 == 0 ? rng() % (len + 1) : len;
		uint8_t *p = dup_exact(m, mlen);
		tal_rrset_view_t rs;
		tal_tenants_view_t tv;
		tal_node_iter_t it = { 0 };
		int r = tal_node_find(p, mlen, (uint16_t)(rng() % 20), &rs);
		if (r != 0 && r != TAL_ENOTFOUND && r != TAL_EMALF) {
			bad++;
		}
		if (r == 0 && (rs.rrs < p || rs.rrs + rs.rrs_len + rs.add_len > p + mlen)) {
			bad++;
		}
		int steps = 0;
		while ((r = tal_node_next(p, mlen, &it, &rs)) == 0 && steps++ < 70000) {
			if (rs.rrs < p || rs.rrs + rs.rrs_len + rs.add_len > p + mlen) {
				bad++;
			}
		}
		if (r != TAL_ENOTFOUND && r != TAL_EMALF) {
			bad++;
		}
		r = tal_node_tenants(p, mlen, &tv);
		if (r == 0 && tv.present) {
			if (tv.ids + (size_t)tv.count * TAL_TENANT_IDLEN > p + mlen) {
				bad++;
			}
			uint8_t id[16];
			memset(id, (int)(rng() & 0xff), sizeof(id));
			(void)tal_tenants_contains(&tv, id);
		} else if (r != 0 && r != TAL_EMALF) {
			bad++;
		}
		free(p);
	}
	is_int(0, bad, "random node corruptions: every answer stays inside the value");
}

static void test_zone_value(void)
{
	uint8_t buf[64];
	tal_zone_view_t zv;
	tal_wire_t w = tal_wire_init(buf, sizeof(buf));
	tal_wire_put_u8(&w, TAL_ZONE_VERSION);
	tal_wire_put_bytes(&w, "\0\0\0", 3);
	tal_wire_put_u32(&w, 7);
	tal_wire_put_u32(&w, 2024010101);
	tal_wire_put_u16(&w, 10);
	tal_wire_put_bytes(&w, "SOASOASOA!", 10);
	tal_wire_put_bytes(&w, "priv", 4);
	size_t len = w.pos;

	uint8_t *z = dup_exact(buf, len);
	is_int(0, tal_zone_parse(z, len, &zv), "zone: parse");
	ok(zv.zone_id == 7 && zv.serial == 2024010101 && zv.neg_soa_len == 10 &&
	           zv.neg_soa == z + TAL_ZONE_HDRLEN && zv.priv_len == 4 &&
	           memcmp(zv.priv, "priv", 4) == 0,
	   "zone: fields");
	free(z);
	int bad = 0;
	for (size_t cut = 0; cut < len; cut++) {
		z = dup_exact(buf, cut);
		int want = cut < TAL_ZONE_HDRLEN + 10 ? TAL_EMALF : 0;
		if (tal_zone_parse(z, cut, &zv) != want) {
			bad++;
		}
		free(z);
	}
	is_int(0, bad, "zone: every truncation answered correctly");
	buf[0] = TAL_ZONE_VERSION + 1;
	is_int(TAL_EMALF, tal_zone_parse(buf, len, &zv), "zone: other version");
}

static void test_guid(void)
{
	uint8_t id[16];
	static const uint8_t want[16] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
		                          0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
	const char *g = "12345678-9abc-DEF0-0123-456789abcdef";

	ok(tal_guid_label_parse((const uint8_t *)g, 36, id), "guid: parses, mixed case");
	is_mem(want, id, 16, "guid: binary value");
	ok(!tal_guid_label_parse((const uint8_t *)g, 35, id), "guid: 35 octets refused");
	ok(!tal_guid_label_parse((const uint8_t *)"12345678-9abc-def0-0123-456789abcdeg", 36, id),
	   "guid: non-hex refused");
	ok(!tal_guid_label_parse((const uint8_t *)"123456789-abc-def0-0123-456789abcdef", 36, id),
	   "guid: dash misplaced refused");
	ok(!tal_guid_label_parse((const uint8_t *)"12345678-9abc-def0-0123_456789abcdef", 36, id),
	   "guid: other separator refused");
	ok(!tal_guid_label_parse((const uint8_t *)"123456789abcdef00123456789abcdef0000", 36, id),
	   "guid: no dashes refused");
	uint8_t *p = dup_exact((const uint8_t *)g, 36);
	ok(tal_guid_label_parse(p, 36, id), "guid: exact-size buffer");
	free(p);

	/* Every octet value, in a high and a low digit position: only hex digits pass. */
	int wrong = 0;
	for (unsigned c = 0; c < 256; c++) {
		uint8_t label[36];
		bool hex =
		        (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
		for (size_t at = 0; at < 2; at++) {
			memcpy(label, g, 36);
			label[34 + at] = (uint8_t)c;
			bool got = tal_guid_label_parse(label, 36, id);
			unsigned v = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
			if (got != hex || (hex && (at == 0 ? id[15] >> 4 : id[15] & 0x0F) != v)) {
				wrong++;
			}
		}
	}
	is_int(0, wrong,
	       "guid: each of the 256 octet values accepted iff a hex digit, valued right");
}

static void test_wire_cursor(void)
{
	uint8_t buf[7] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07 };
	uint8_t *p = dup_exact(buf, sizeof(buf));
	tal_wire_t w = tal_wire_init_const(p, sizeof(buf));

	is_int(0x0102, tal_wire_get_u16(&w), "wire: get_u16");
	is_int(0x03040506, tal_wire_get_u32(&w), "wire: get_u32");
	is_int(1, tal_wire_avail(&w), "wire: one octet left");
	is_int(0, tal_wire_get_u16(&w), "wire: short read yields 0");
	is_int(TAL_EMALF, w.error, "wire: short read sets EMALF");
	is_int(0, tal_wire_get_u8(&w), "wire: later reads yield 0 although an octet is there");
	is_int(0, tal_wire_avail(&w), "wire: avail is 0 after an error");
	uint8_t dst[2] = { 0xaa, 0xbb };
	tal_wire_get_bytes(&w, dst, 1);
	ok(dst[0] == 0xaa && dst[1] == 0xbb, "wire: failed get_bytes leaves dst untouched");
	is_int(TAL_EMALF, w.error, "wire: error is sticky");
	free(p);

	uint8_t out[5];
	tal_wire_t o = tal_wire_init(out, sizeof(out));
	tal_wire_put_u32(&o, 0xdeadbeef);
	is_int(0, o.error, "wire: put_u32 fits");
	tal_wire_put_u16(&o, 0x1234);
	is_int(TAL_ESPACE, o.error, "wire: put past the end is ESPACE");
	is_int(4, o.pos, "wire: failed put does not move");
	tal_wire_put_u8(&o, 0x99);
	is_int(4, o.pos, "wire: later puts do nothing");
	is_int(TAL_ESPACE, o.error, "wire: ESPACE is sticky");
	is_mem("\xde\xad\xbe\xef", out, 4, "wire: big-endian output");
	is_int(0xdeadbeef, tal_wire_read_u32(out), "wire: read_u32");
	uint8_t b8[8];
	tal_wire_write_u64(b8, 0x0102030405060708ULL);
	ok(tal_wire_read_u64(b8) == 0x0102030405060708ULL && b8[0] == 1 && b8[7] == 8,
	   "wire: u64 round trip");
	tal_wire_t s = tal_wire_init_const(buf, sizeof(buf));
	tal_wire_skip(&s, 7);
	is_int(0, s.error, "wire: skip to the end");
	tal_wire_skip(&s, 1);
	is_int(TAL_EMALF, s.error, "wire: skip past the end is EMALF");
}

static void test_errors(void)
{
	is_str("out of memory", tal_strerror(TAL_ENOMEM), "strerror ENOMEM");
	is_str("not a tallow database", tal_strerror(TAL_EFOREIGN), "strerror EFOREIGN");
	is_str("success", tal_strerror(0), "strerror 0");
	is_str("unknown error", tal_strerror(-99999), "strerror of an unknown code");
	is_str("EFOREIGN", tal_errname(TAL_EFOREIGN), "errname EFOREIGN");
	is_str("EMAPFULL", tal_errname(TAL_EMAPFULL), "errname EMAPFULL");
	is_str("ENOSPC", tal_errname(TAL_ENOSPC), "errname ENOSPC");
	is_str("EOK", tal_errname(0), "errname 0");
	is_str("EUNKNOWN", tal_errname(12345), "errname of an unknown code");
	is_int(TAL_ENOSPC, tal_error_from_errno(ENOSPC), "from_errno ENOSPC");
	is_int(TAL_EACCES, tal_error_from_errno(EACCES), "from_errno EACCES");
	is_int(TAL_EIO, tal_error_from_errno(ELOOP), "from_errno of an unmapped errno is EIO");
	is_int(TAL_EIO, tal_error_from_errno(1000), "from_errno never yields a project code");
	is_int(-ENOMEM, TAL_ENOMEM, "errno codes are negated errno");
}

int main(void)
{
	test_text_wire_key();
	test_wire_malformed();
	test_canonical_order();
	test_node();
	test_dname_random();
	test_node_random();
	test_zone_value();
	test_guid();
	test_wire_cursor();
	test_errors();
	return tap_done();
}
