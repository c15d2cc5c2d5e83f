/*
 * tests/unit/test_zones.c -- zones, policies, the journal and zone files
 * (zones/zone.h, zones/policy.h, zones/journal.h, zones/zonefile.h) on a
 * real store in a temporary directory.
 *
 * The node bytes are checked with the readers of common/node.h, the same
 * code the server answers with, and exported zone files with ldns (and with
 * named-checkzone / ldns-read-zone when they are installed).
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "common/dname.h"
#include "common/error.h"
#include "common/node.h"
#include "store/store.h"
#include "tests/unit/tap.h"
#include "zones/csv.h"
#include "zones/journal.h"
#include "zones/name.h"
#include "zones/policy.h"
#include "zones/zone.h"
#include "zones/zonefile.h"

#define APEX "tenants.example.net"
#define T1   "72f988bf-86f1-41af-91ab-2d7cd011db47"
#define T2   "0f2a3b4c-5d6e-4f70-8192-a3b4c5d6e7f8"
#define T3   "9188040d-6c67-4c5b-b112-36a304b66dad"

static char tmpdir[64];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static tal_store_t *open_store(const char *sub)
{
	char path[128];
	tal_store_opts_t opts = { .flags = TAL_STORE_CREATE, .map_size = 1ULL << 32 };
	tal_store_t *st = NULL;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, sub);
	int rc = tal_store_open(path, &opts, &st);
	if (rc < 0) {
		printf("Bail out! cannot open store %s: %s\n", path, tal_strerror(rc));
		exit(1);
	}
	return st;
}

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static tal_tenant_t tenant(const char *id, const char *dkim)
{
	tal_tenant_t t;
	memset(&t, 0, sizeof(t));
	if (tal_tenant_parse(id, t.id) < 0) {
		printf("Bail out! bad test tenant %s\n", id);
		exit(1);
	}
	snprintf(t.dkim, sizeof(t.dkim), "%s", dkim ? dkim : "");
	return t;
}

/* Copies the node value at owner `name` into *out (malloc'd); returns its length or -1. */
static long get_node(tal_store_t *st, const char *name, uint8_t **out)
{
	uint8_t key[TAL_KEY_MAXLEN];
	tal_txn_t *txn = NULL;
	tal_val_t v;
	long len = -1;
	int kl = tal_key_from_text(name, key);

	*out = NULL;
	if (kl < 0 || tal_txn_begin(st, TAL_TXN_READ, &txn) < 0) {
		return -1;
	}
	if (tal_txn_get(txn, TAL_DB_NODES, key, (size_t)kl, &v) == 0) {
		*out = malloc(v.len);
		memcpy(*out, v.data, v.len);
		len = (long)v.len;
	}
	tal_txn_abort(txn);
	return len;
}

static uint32_t zone_serial(tal_store_t *st, const char *apex)
{
	tal_zone_info_t zi;
	if (tal_zone_resolve(st, apex, &zi) < 0) {
		return 0;
	}
	return zi.serial;
}

/* The SOA serial in the apex node. */
static uint32_t apex_soa_serial(tal_store_t *st, const char *apex)
{
	uint8_t *node;
	long len = get_node(st, apex, &node);
	tal_rrset_view_t rs;
	uint32_t serial = 0;

	if (len > 0 && tal_node_find(node, (size_t)len, TAL_TYPE_SOA, &rs) == 0) {
		const uint8_t *rd = rs.rrs + 10;
		uint16_t rdlen = tal_wire_read_u16(rs.rrs + 8);
		int m = tal_dname_wire_len(rd, rdlen);
		int r = tal_dname_wire_len(rd + m, rdlen - (size_t)m);
		serial = tal_wire_read_u32(rd + m + r);
	}
	free(node);
	return serial;
}

/* True when two apex nodes differ at most in the SOA serial. */
static bool same_but_serial(const uint8_t *a, const uint8_t *b, size_t len)
{
	tal_rrset_view_t rs;
	if (tal_node_find(a, len, TAL_TYPE_SOA, &rs) < 0) {
		return false;
	}
	const uint8_t *rd = rs.rrs + 10;
	int m = tal_dname_wire_len(rd, 255);
	int r = tal_dname_wire_len(rd + m, 255);
	size_t off = (size_t)(rd + m + r - a);
	return memcmp(a, b, off) == 0 && memcmp(a + off + 4, b + off + 4, len - off - 4) == 0 &&
	       memcmp(a + off, b + off, 4) != 0;
}

/* Offset of the serial in an SOA RR (TYPE..RDATA) at `rr`. */
static size_t soa_serial_off(const uint8_t *rr)
{
	const uint8_t *rd = rr + 10;
	int m = tal_dname_wire_len(rd, 255);
	int r = tal_dname_wire_len(rd + m, 255);
	return 10 + (size_t)m + (size_t)r;
}

/*
 * Forges the serial of a zone in the store (zone value, its negative SOA,
 * the apex SOA), as a zone that has seen 2^32 changes would have it.
 */
static void set_serial(tal_store_t *st, const char *apex, uint32_t serial)
{
	uint8_t key[TAL_KEY_MAXLEN];
	int kl = tal_key_from_text(apex, key);
	tal_txn_t *txn;
	tal_val_t v;
	uint8_t buf[4096];
	size_t len;

	tal_txn_begin(st, TAL_TXN_WRITE, &txn);
	tal_txn_get(txn, TAL_DB_ZONES, key, (size_t)kl, &v);
	len = v.len;
	memcpy(buf, v.data, len);
	tal_wire_write_u32(buf + 8, serial);
	tal_wire_write_u32(buf + TAL_ZONE_HDRLEN + soa_serial_off(buf + TAL_ZONE_HDRLEN), serial);
	tal_txn_put(txn, TAL_DB_ZONES, key, (size_t)kl, buf, len, 0);
	tal_txn_get(txn, TAL_DB_NODES, key, (size_t)kl, &v);
	len = v.len;
	memcpy(buf, v.data, len);
	tal_rrset_view_t rs;
	tal_node_find(buf, len, TAL_TYPE_SOA, &rs);
	size_t off = (size_t)(rs.rrs - buf);
	tal_wire_write_u32(buf + off + soa_serial_off(rs.rrs), serial);
	tal_txn_put(txn, TAL_DB_NODES, key, (size_t)kl, buf, len, 0);
	tal_txn_commit(txn);
}

/* Text of TXT RR i of a node (the single character-string). */
static void txt_of(const uint8_t *node, size_t len, int i, char *out, size_t outsz)
{
	tal_rrset_view_t rs;
	out[0] = '\0';
	if (tal_node_find(node, len, TAL_TYPE_TXT, &rs) < 0) {
		return;
	}
	size_t off = 0;
	for (int k = 0; k < rs.count; k++) {
		uint16_t rdlen = tal_wire_read_u16(rs.rrs + off + 8);
		if (k == i) {
			size_t n = rs.rrs[off + 10];
			snprintf(out, outsz, "%.*s", (int)n, (const char *)rs.rrs + off + 11);
			return;
		}
		off += 10 + rdlen;
	}
}

static void test_zone_create(tal_store_t *st)
{
	tal_zone_info_t cfg, zi;
	int rc;

	is_int(0, tal_zone_defaults(&cfg, "Tenants.Example.NET."), "defaults");
	is_str(APEX, cfg.apex, "defaults normalise the apex");
	is_str("ns1." APEX, cfg.ns[0].name, "default name server");
	is_str("hostmaster@" APEX, cfg.mbox, "default mailbox");
	is_int(TAL_ENOZONE, tal_zone_resolve(st, NULL, &zi), "no zone yet");

	cfg.nns = 2;
	cfg.ns[0].naddrs = 2;
	strcpy(cfg.ns[0].addrs[0], "192.0.2.53");
	strcpy(cfg.ns[0].addrs[1], "2001:DB8::53");
	strcpy(cfg.ns[1].name, "ns.example.org");
	cfg.ns[1].naddrs = 0;
	strcpy(cfg.mbox, "dns.admin@example.net");

	tal_zone_info_t bad = cfg;
	strcpy(bad.ns[0].addrs[0], "192.0.2.300");
	is_int(TAL_EADDR, tal_zone_create(st, &bad), "bad glue address refused");
	bad = cfg;
	bad.ns[1].naddrs = 1;
	strcpy(bad.ns[1].addrs[0], "192.0.2.1");
	is_int(TAL_EINVAL, tal_zone_create(st, &bad), "glue for an out-of-zone name refused");
	bad = cfg;
	strcpy(bad.mbox, "no-at-sign.example.net");
	is_int(TAL_EMBOX, tal_zone_create(st, &bad), "mailbox without @ refused");
	bad = cfg;
	bad.ttl = 0x80000000u;
	is_int(TAL_ETTL, tal_zone_create(st, &bad), "TTL over 2^31-1 refused");
	bad = cfg;
	strcpy(bad.ns[1].name, "ns1." APEX);
	is_int(TAL_EINVAL, tal_zone_create(st, &bad), "duplicate name server refused");

	uint32_t t0 = (uint32_t)time(NULL);
	is_int(0, tal_zone_create(st, &cfg), "zone created");
	is_int(TAL_EEXIST, tal_zone_create(st, &cfg), "same zone again -> EEXIST");
	tal_zone_info_t nest;
	tal_zone_defaults(&nest, "sub." APEX);
	is_int(TAL_EZONE_NEST, tal_zone_create(st, &nest), "zone below an existing one refused");
	tal_zone_defaults(&nest, "example.net");
	is_int(TAL_EZONE_NEST, tal_zone_create(st, &nest), "zone above an existing one refused");

	rc = tal_zone_resolve(st, NULL, &zi);
	is_int(0, rc, "the only zone resolves without a name");
	is_str(APEX, zi.apex, "resolved apex");
	ok(zi.serial >= t0 && zi.serial <= t0 + 2, "serial starts at the current time (%u)",
	   zi.serial);
	is_int(2, zi.nns, "two name servers kept");
	is_str("2001:db8::53", zi.ns[0].addrs[1], "IPv6 glue kept in canonical text");
	is_str("dns.admin@example.net", zi.mbox, "mailbox kept");
	is_int(3600, zi.ttl, "ttl");
	is_int(300, zi.negative_ttl, "negative ttl");

	/* The zone value, as the server reads it. */
	uint8_t key[TAL_KEY_MAXLEN];
	int kl = tal_key_from_text(APEX, key);
	tal_txn_t *txn;
	tal_val_t v;
	tal_txn_begin(st, TAL_TXN_READ, &txn);
	is_int(0, tal_txn_get(txn, TAL_DB_ZONES, key, (size_t)kl, &v), "zone value stored");
	tal_zone_view_t zv;
	is_int(0, tal_zone_parse(v.data, v.len, &zv), "zone value parses");
	is_int(zi.serial, zv.serial, "zone value serial");
	is_int(TAL_TYPE_SOA, tal_wire_read_u16(zv.neg_soa), "negative SOA type");
	is_int(300, tal_wire_read_u32(zv.neg_soa + 4), "negative SOA TTL = min(ttl, minimum)");
	ok(zv.zone_id > 0, "zone id assigned");
	tal_txn_abort(txn);

	/* Apex node: NS with glue, SOA with real TTL and the RNAME from the mailbox. */
	uint8_t *node;
	long len = get_node(st, APEX, &node);
	ok(len > 0, "apex node stored");
	tal_rrset_view_t rs;
	is_int(0, tal_node_find(node, (size_t)len, TAL_TYPE_NS, &rs), "apex NS RRset");
	is_int(2, rs.count, "two NS RRs");
	ok(rs.add != NULL && rs.add_len == (25 + 10 + 4) + (25 + 10 + 16),
	   "NS additional bytes hold the A and AAAA glue with owners (%u)", rs.add_len);
	is_int(0, tal_node_find(node, (size_t)len, TAL_TYPE_SOA, &rs), "apex SOA RRset");
	is_int(3600, tal_wire_read_u32(rs.rrs + 4), "SOA TTL is the zone TTL");
	const uint8_t *rd = rs.rrs + 10;
	int m = tal_dname_wire_len(rd, 255);
	char text[TAL_DNAME_TEXTSZ];
	tal_dname_to_text(rd, text, sizeof(text));
	is_str("ns1." APEX, text, "SOA MNAME is the first name server");
	tal_dname_to_text(rd + m, text, sizeof(text));
	is_str("dns\\046admin.example.net", text, "SOA RNAME keeps the dot of the local part");
	tal_tenants_view_t tv;
	tal_node_tenants(node, (size_t)len, &tv);
	ok(!tv.present, "apex has no tenant section");
	free(node);

	len = get_node(st, "ns1." APEX, &node);
	ok(len > 0, "glue node stored");
	is_int(0, tal_node_find(node, (size_t)len, TAL_TYPE_A, &rs), "glue A");
	is_int(0, tal_node_find(node, (size_t)len, TAL_TYPE_AAAA, &rs), "glue AAAA");
	free(node);

	/* A second zone makes the choice ambiguous. */
	tal_zone_info_t other;
	tal_zone_defaults(&other, "other.example");
	other.journal_limit = 4096;
	is_int(0, tal_zone_create(st, &other), "second zone");
	is_int(TAL_EZONE_AMBIG, tal_zone_resolve(st, NULL, &zi), "two zones -> EZONE_AMBIG");
	is_int(TAL_ENOZONE, tal_zone_resolve(st, "missing.example", &zi), "unknown zone");
	is_int(0, tal_zone_resolve(st, "OTHER.example.", &zi), "zone by name, any case");
	ok(zi.zone_id != zv.zone_id, "zone ids differ");
	is_int(4096, zi.journal_limit, "journal limit kept");
}

static int count_zone(const tal_zone_info_t *z, void *arg)
{
	char *names = arg;
	strcat(names, z->apex);
	strcat(names, " ");
	return 0;
}

/* Commits `ch`, checks it returned 0, frees it, and returns the result. */
static tal_commit_result_t commit(tal_store_t *st, tal_change_t *ch, const char *what)
{
	tal_commit_result_t res;
	int rc = tal_change_commit(st, ch, &res);
	is_int(0, rc, "commit: %s (%s)", what, tal_errname(rc));
	tal_change_free(ch);
	return res;
}

typedef struct {
	int n;
	tal_journal_rec_t last;
	uint32_t prev_to;
	bool chain_ok;
	uint8_t removed[4096];
	uint8_t added[4096];
	uint64_t total;
	int too_large;
} jstate_t;

static int journal_cb(const tal_journal_rec_t *rec, void *arg)
{
	jstate_t *js = arg;
	if (js->n > 0 && rec->serial_from != js->prev_to) {
		js->chain_ok = false;
	}
	js->prev_to = rec->serial_to;
	js->n++;
	js->last = *rec;
	js->total += TAL_JOURNAL_HDRLEN + rec->removed_len + rec->added_len;
	if (rec->flags & TAL_JOURNAL_F_TOO_LARGE) {
		js->too_large++;
	}
	if (rec->removed_len <= sizeof(js->removed) && rec->added_len <= sizeof(js->added)) {
		memcpy(js->removed, rec->removed, rec->removed_len);
		memcpy(js->added, rec->added, rec->added_len);
		js->last.removed = js->removed;
		js->last.added = js->added;
	} else {
		js->last.removed = js->last.added = NULL;
	}
	return 0;
}

static jstate_t journal(tal_store_t *st, const char *apex)
{
	jstate_t js;
	memset(&js, 0, sizeof(js));
	js.chain_ok = true;
	int rc = tal_journal_foreach(st, apex, journal_cb, &js);
	if (rc < 0) {
		printf("# journal_foreach: %s\n", tal_strerror(rc));
	}
	return js;
}

/* "owner TYPE rdata-summary" of each RR, joined by '|'. */
static void rr_summary(const uint8_t *rrs, size_t len, char *out, size_t outsz)
{
	size_t off = 0;
	tal_journal_rr_t rr;
	out[0] = '\0';
	while (tal_journal_rr_next(rrs, len, &off, &rr) == 0) {
		char owner[TAL_DNAME_TEXTSZ];
		char item[TAL_DNAME_TEXTSZ + 400];
		tal_dname_to_text(rr.owner, owner, sizeof(owner));
		if (rr.type == TAL_TYPE_TXT) {
			snprintf(item, sizeof(item), "%s TXT %.*s|", owner, (int)rr.rdata[0],
			         (const char *)rr.rdata + 1);
		} else if (rr.type == TAL_TYPE_A) {
			snprintf(item, sizeof(item), "%s A %u.%u.%u.%u|", owner, rr.rdata[0],
			         rr.rdata[1], rr.rdata[2], rr.rdata[3]);
		} else {
			snprintf(item, sizeof(item), "%s TYPE%u|", owner, rr.type);
		}
		if (strlen(out) + strlen(item) < outsz) {
			strcat(out, item);
		}
	}
}

static void test_policies(tal_store_t *st)
{
	tal_change_t *ch;
	tal_commit_result_t res;
	tal_tenant_t t1 = tenant(T1, "contoso.onmicrosoft.com");
	tal_tenant_t t2 = tenant(T2, NULL);
	tal_policy_t p;
	char buf[4096];
	uint32_t s0 = zone_serial(st, APEX);

	char names[256] = "";
	tal_zone_foreach(st, count_zone, names);
	is_str("other.example " APEX " ", names, "zones listed in canonical order");

	/* Validation at queue time. */
	tal_change_new(APEX, &ch);
	tal_tenant_t longdkim = tenant(T1, NULL);
	memset(longdkim.dkim, 'a', 60);
	memset(longdkim.dkim + 61, 'b', 60);
	memset(longdkim.dkim + 122, 'c', 60);
	memset(longdkim.dkim + 183, 'd', 20);
	longdkim.dkim[60] = longdkim.dkim[121] = longdkim.dkim[182] = '.';
	longdkim.dkim[203] = '\0';
	is_int(TAL_ETXT_LEN, tal_change_add(ch, "example.com", &longdkim),
	       "dkim domain making the TXT string over 255 octets refused");
	longdkim.dkim[200] = '\0';
	is_int(0, tal_change_add(ch, "example.com", &longdkim), "dkim of 200 octets fits exactly");
	char longdom[300];
	snprintf(longdom, sizeof(longdom), "%.60s.%.60s.%.60s.%.15s", longdkim.dkim,
	         longdkim.dkim + 61, longdkim.dkim + 122, "eeeeeeeeeeeeeeeeeeee");
	is_int(TAL_EOWNER_LEN, tal_change_add(ch, longdom, &t2), "domain too long for the zone");
	tal_change_free(ch);

	/* add, add_none */
	tal_change_new(APEX, &ch);
	tal_change_add(ch, "example.com", &t1);
	tal_change_add(ch, "example.com", &t2);
	tal_change_add_none(ch, "example.org");
	res = commit(st, ch, "add two tenants and a deny-all policy");
	ok(res.changed, "first commit changed records");
	is_int(s0, res.serial_before, "serial before");
	is_int(s0 + 1, res.serial_after, "serial + 1");
	is_int(s0 + 1, zone_serial(st, APEX), "zone value serial + 1");
	is_int(s0 + 1, apex_soa_serial(st, APEX), "apex SOA serial + 1");
	is_int(2, res.domains_added, "two policies created");
	is_int(2, res.tenants_added, "two tenants added");

	/* Node bytes as the server reads them. */
	uint8_t *node;
	long len = get_node(st, "example.com." APEX, &node);
	ok(len > 0, "policy node stored");
	tal_rrset_view_t rs;
	is_int(0, tal_node_find(node, (size_t)len, TAL_TYPE_TXT, &rs), "policy TXT RRset");
	is_int(2, rs.count, "one TXT RR per tenant");
	is_int(3600, tal_wire_read_u32(rs.rrs + 4), "TXT TTL is the zone TTL");
	is_int(TAL_CLASS_IN, tal_wire_read_u16(rs.rrs + 2), "TXT class IN");
	txt_of(node, (size_t)len, 0, buf, sizeof(buf));
	is_str("v=TAL1; tid=" T2, buf, "first TXT is the lower tenant ID");
	txt_of(node, (size_t)len, 1, buf, sizeof(buf));
	is_str("v=TAL1; tid=" T1 "; dkim=contoso.onmicrosoft.com", buf, "TXT with dkim tag");
	tal_tenants_view_t tv;
	is_int(0, tal_node_tenants(node, (size_t)len, &tv), "tenant section parses");
	ok(tv.present, "tenant section present");
	is_int(2, tv.count, "two tenants in the section");
	is_int(3600, tv.ttl, "A view TTL is the zone TTL");
	ok(memcmp(tv.ids, t2.id, 16) == 0 && memcmp(tv.ids + 16, t1.id, 16) == 0,
	   "tenant IDs sorted");
	ok(tal_tenants_contains(&tv, t1.id), "tenant lookup finds T1");
	free(node);

	len = get_node(st, "example.org." APEX, &node);
	ok(len > 0, "deny-all node stored");
	is_int(0, tal_node_find(node, (size_t)len, TAL_TYPE_TXT, &rs), "deny-all TXT RRset");
	is_int(1, rs.count, "deny-all has one TXT RR");
	txt_of(node, (size_t)len, 0, buf, sizeof(buf));
	is_str("v=TAL1", buf, "deny-all TXT");
	tal_node_tenants(node, (size_t)len, &tv);
	ok(tv.present && tv.count == 0, "deny-all has an empty tenant section");
	free(node);

	is_int(0, tal_policy_get(st, APEX, "example.com", &p), "policy read back");
	is_int(2, p.ntenants, "two tenants read back");
	ok(p.ntenants == 2 && memcmp(p.tenants[1].id, t1.id, 16) == 0, "sorted by id");
	is_str("contoso.onmicrosoft.com", p.ntenants == 2 ? p.tenants[1].dkim : "",
	       "dkim read back");
	is_str("", p.ntenants == 2 ? p.tenants[0].dkim : "x", "no dkim read back as empty");
	tal_policy_deinit(&p);
	is_int(TAL_ENOPOLICY, tal_policy_get(st, APEX, "example.net", &p), "no policy");
	is_int(TAL_ENOPOLICY, tal_policy_get(st, APEX, "ns1", &p), "glue is not a policy");

	jstate_t js = journal(st, APEX);
	is_int(1, js.n, "one journal record");
	is_int(s0, js.last.serial_from, "journal serial from");
	is_int(s0 + 1, js.last.serial_to, "journal serial to");
	is_int(0, js.last.nremoved, "nothing removed");
	is_int(5, js.last.nadded, "2 TXT + 2 A + 1 deny-all TXT added");
	rr_summary(js.last.added, js.last.added_len, buf, sizeof(buf));
	is_str("example.com." APEX " TXT v=TAL1; tid=" T2 "|" T2 ".example.com." APEX
	       " A 127.0.0.2|example.com." APEX " TXT v=TAL1; tid=" T1
	       "; dkim=contoso.onmicrosoft.com|" T1 ".example.com." APEX
	       " A 127.0.0.2|example.org." APEX " TXT v=TAL1|",
	       buf, "journal added RRs");

	/* The same again changes nothing. */
	tal_change_new(APEX, &ch);
	tal_change_add(ch, "example.com", &t1);
	tal_change_add_none(ch, "example.org");
	tal_change_add_none(ch, "example.com");
	res = commit(st, ch, "idempotent re-add");
	ok(!res.changed, "no record changed");
	is_int(s0 + 1, res.serial_after, "serial unchanged");
	is_int(s0 + 1, zone_serial(st, APEX), "stored serial unchanged");
	is_int(1, journal(st, APEX).n, "no journal record for a no-op");

	/* A new dkim for a listed tenant replaces the old one. */
	tal_change_new(APEX, &ch);
	tal_tenant_t t1b = tenant(T1, "fabrikam.onmicrosoft.com");
	tal_change_add(ch, "example.com", &t1b);
	res = commit(st, ch, "dkim change");
	ok(res.changed && res.tenants_added == 0, "dkim change is a change but no new tenant");
	js = journal(st, APEX);
	rr_summary(js.last.removed, js.last.removed_len, buf, sizeof(buf));
	is_str("example.com." APEX " TXT v=TAL1; tid=" T1 "; dkim=contoso.onmicrosoft.com|", buf,
	       "journal removes the old TXT");
	rr_summary(js.last.added, js.last.added_len, buf, sizeof(buf));
	is_str("example.com." APEX " TXT v=TAL1; tid=" T1 "; dkim=fabrikam.onmicrosoft.com|", buf,
	       "journal adds the new TXT, A view unchanged");

	/* remove, down to deny-all. */
	tal_change_new(APEX, &ch);
	tal_change_remove(ch, "example.com", t2.id);
	tal_change_remove(ch, "example.com", t1.id);
	tal_change_remove(ch, "example.com", t1.id);
	tal_change_remove(ch, "missing.example", t1.id);
	res = commit(st, ch, "remove both tenants");
	is_int(2, res.tenants_removed, "two tenants removed");
	is_int(0, res.domains_removed, "the policy stays");
	is_int(1, res.domains_missing, "remove from a domain without policy counted");
	is_int(s0 + 3, res.serial_after, "serial + 1 per changed commit");
	is_int(0, tal_policy_get(st, APEX, "example.com", &p), "policy still there");
	is_int(0, p.ntenants, "now deny-all");
	tal_policy_deinit(&p);
	js = journal(st, APEX);
	is_int(4, js.last.nremoved, "2 TXT + 2 A removed");
	is_int(1, js.last.nadded, "deny-all TXT added");
	ok(js.chain_ok, "journal serials chain");

	/* remove_domain */
	tal_change_new(APEX, &ch);
	tal_change_remove_domain(ch, "example.com");
	tal_change_remove_domain(ch, "never.example");
	res = commit(st, ch, "remove_domain");
	is_int(1, res.domains_removed, "policy deleted");
	is_int(1, res.domains_missing, "missing domain counted");
	is_int(TAL_ENOPOLICY, tal_policy_get(st, APEX, "example.com", &p), "policy gone");
	len = get_node(st, "example.com." APEX, &node);
	is_int(-1, len, "node deleted");
	free(node);

	/* Operations on one domain apply in order. */
	tal_change_new(APEX, &ch);
	tal_change_add(ch, "order.example", &t1);
	tal_change_remove_domain(ch, "order.example");
	tal_change_add(ch, "order.example", &t2);
	tal_change_add(ch, "order.example", &t1);
	tal_change_remove(ch, "order.example", t1.id);
	commit(st, ch, "ordered operations");
	is_int(0, tal_policy_get(st, APEX, "order.example", &p), "ordered policy");
	ok(p.ntenants == 1 && memcmp(p.tenants[0].id, t2.id, 16) == 0, "only T2 remains");
	tal_policy_deinit(&p);

	/* Keys sharing their first 24 octets still sort and group correctly. */
	tal_change_new(APEX, &ch);
	char d[64];
	for (int round = 0; round < 3; round++) {
		for (int i = 39; i >= 0; i--) {
			snprintf(d, sizeof(d), "d%d.longlabelprefixforsorting.example", i);
			if (round == 0) {
				tal_change_add(ch, d, &t1);
			} else if (round == 1 && i % 2 == 0) {
				tal_change_remove_domain(ch, d);
			} else if (round == 2 && i % 4 == 0) {
				tal_change_add(ch, d, &t2);
			}
		}
	}
	res = commit(st, ch, "long shared key prefixes");
	is_int(30, res.domains_added, "30 policies survive their operations");
	bool all = true;
	for (int i = 0; i < 40; i++) {
		snprintf(d, sizeof(d), "d%d.longlabelprefixforsorting.example", i);
		int rc = tal_policy_get(st, APEX, d, &p);
		if (i % 4 == 0) {
			all = all && rc == 0 && p.ntenants == 1 &&
			      memcmp(p.tenants[0].id, t2.id, 16) == 0;
		} else if (i % 2 == 0) {
			all = all && rc == TAL_ENOPOLICY;
		} else {
			all = all && rc == 0 && p.ntenants == 1 &&
			      memcmp(p.tenants[0].id, t1.id, 16) == 0;
		}
		tal_policy_deinit(&p);
	}
	ok(all, "each domain's operations applied in order");
	tal_change_new(APEX, &ch);
	for (int i = 0; i < 40; i++) {
		snprintf(d, sizeof(d), "d%d.longlabelprefixforsorting.example", i);
		tal_change_remove_domain(ch, d);
	}
	res = commit(st, ch, "remove them again");
	is_int(30, res.domains_removed, "30 policies removed");
	is_int(10, res.domains_missing, "10 were not there");

	/* A policy at a glue name keeps the glue. */
	tal_change_new(APEX, &ch);
	tal_change_add(ch, "ns1", &t2);
	commit(st, ch, "policy at the glue name");
	len = get_node(st, "ns1." APEX, &node);
	ok(len > 0 && tal_node_find(node, (size_t)len, TAL_TYPE_A, &rs) == 0 &&
	           tal_node_find(node, (size_t)len, TAL_TYPE_AAAA, &rs) == 0 &&
	           tal_node_find(node, (size_t)len, TAL_TYPE_TXT, &rs) == 0,
	   "glue node holds A, TXT and AAAA");
	tal_node_iter_t it = { 0 };
	int types[4] = { 0 }, nt = 0;
	while (len > 0 && nt < 4 && tal_node_next(node, (size_t)len, &it, &rs) == 0) {
		types[nt++] = rs.type;
	}
	ok(nt == 3 && types[0] == 1 && types[1] == 16 && types[2] == 28, "RRsets sorted by type");
	free(node);

	/* Replace mode. */
	uint8_t *apex_before;
	long apex_len = get_node(st, APEX, &apex_before);
	uint32_t sr = zone_serial(st, APEX);
	tal_change_new(APEX, &ch);
	tal_change_set_replace(ch, true);
	tal_change_add(ch, "fabrikam.example", &t2);
	tal_change_add(ch, "order.example", &t1);
	res = commit(st, ch, "replace");
	is_int(sr + 1, res.serial_after, "replace bumps the serial once");
	is_int(2, res.domains_removed, "replace drops example.org and ns1");
	is_int(1, res.domains_added, "replace creates fabrikam.example");
	is_int(TAL_ENOPOLICY, tal_policy_get(st, APEX, "example.org", &p), "example.org dropped");
	is_int(TAL_ENOPOLICY, tal_policy_get(st, APEX, "ns1", &p), "ns1 policy dropped");
	is_int(0, tal_policy_get(st, APEX, "order.example", &p), "order.example kept");
	ok(p.ntenants == 1 && memcmp(p.tenants[0].id, t1.id, 16) == 0,
	   "order.example lists exactly the tenants of the change");
	tal_policy_deinit(&p);
	len = get_node(st, "ns1." APEX, &node);
	ok(len > 0 && tal_node_find(node, (size_t)len, TAL_TYPE_A, &rs) == 0 &&
	           tal_node_find(node, (size_t)len, TAL_TYPE_TXT, &rs) == TAL_ENOTFOUND,
	   "glue node kept without the TXT");
	tal_node_tenants(node, (size_t)len, &tv);
	ok(!tv.present, "glue node has no tenant section any more");
	free(node);
	uint8_t *apex_after;
	long apex_len2 = get_node(st, APEX, &apex_after);
	ok(apex_len == apex_len2 && apex_len > 40, "apex node kept");
	/* Only the SOA serial differs. */
	ok(apex_len == apex_len2 && same_but_serial(apex_before, apex_after, (size_t)apex_len),
	   "apex differs only in the serial");
	free(apex_before);
	free(apex_after);

	tal_change_new(APEX, &ch);
	tal_change_set_replace(ch, true);
	tal_change_add(ch, "fabrikam.example", &t2);
	tal_change_add(ch, "order.example", &t1);
	res = commit(st, ch, "same replace again");
	ok(!res.changed, "identical replace changes nothing");

	js = journal(st, APEX);
	ok(js.chain_ok, "journal serials chain over %d records", js.n);
	is_int(zone_serial(st, APEX), js.prev_to, "last journal serial is the zone serial");
}

/* A tenant ID derived from a number, for bulk tests. */
static void bulk_id(uint32_t n, uint8_t id[16])
{
	uint64_t x = n * 0x9e3779b97f4a7c15ULL + 1;
	for (int i = 0; i < 16; i++) {
		x ^= x >> 29;
		x *= 0xbf58476d1ce4e5b9ULL;
		id[i] = (uint8_t)(x >> 56);
	}
	id[6] = (uint8_t)((id[6] & 0x0f) | 0x40);
}

static void test_journal_bounds(tal_store_t *st)
{
	const char *apex = "other.example";
	tal_change_t *ch;
	tal_commit_result_t res;
	char dom[64];

	/* Each commit adds one tenant: TXT (~100 octets) and A (~90) per record. */
	for (int i = 0; i < 40; i++) {
		tal_tenant_t t = tenant(T1, NULL);
		bulk_id((uint32_t)i, t.id);
		snprintf(dom, sizeof(dom), "d%d.example", i);
		tal_change_new(apex, &ch);
		tal_change_add(ch, dom, &t);
		res = tal_change_commit(st, ch, &res) == 0 ? res : res;
		tal_change_free(ch);
	}
	jstate_t js = journal(st, apex);
	ok(js.n > 1 && js.n < 40, "old records trimmed (%d kept of 40)", js.n);
	ok(js.total <= 4096, "journal within its limit (%llu octets)",
	   (unsigned long long)js.total);
	ok(js.chain_ok, "kept records chain");
	is_int(zone_serial(st, apex), js.prev_to, "newest record ends at the zone serial");

	/* A change larger than the whole limit leaves a marker. */
	tal_change_new(apex, &ch);
	for (int i = 0; i < 100; i++) {
		tal_tenant_t t = tenant(T1, NULL);
		bulk_id((uint32_t)(1000 + i), t.id);
		tal_change_add(ch, "big.example", &t);
	}
	res = commit(st, ch, "change larger than the journal");
	ok(res.changed, "large change committed");
	js = journal(st, apex);
	ok(js.last.flags & TAL_JOURNAL_F_TOO_LARGE, "last record is the too-large marker");
	is_int(0, js.last.nadded + js.last.nremoved, "marker holds no RRs");
	is_int(res.serial_after, js.last.serial_to, "marker ends at the new serial");
	is_int(res.serial_before, js.last.serial_from, "marker starts at the old serial");
	ok(js.chain_ok, "chain continuous across the marker");

	/* Serial arithmetic wraps per RFC 1982: 2^32 - 1 is followed by 0. */
	set_serial(st, apex, UINT32_MAX);
	is_int(UINT32_MAX, zone_serial(st, apex), "serial set to 2^32 - 1");
	tal_change_new(apex, &ch);
	tal_change_add_none(ch, "wrap.example");
	res = commit(st, ch, "change at the top of the serial space");
	is_int(UINT32_MAX, res.serial_before, "serial before the wrap");
	is_int(0, res.serial_after, "serial wraps to 0");
	is_int(0, zone_serial(st, apex), "zone value serial 0");
	is_int(0, apex_soa_serial(st, apex), "apex SOA serial 0");
	js = journal(st, apex);
	ok(js.last.serial_from == UINT32_MAX && js.last.serial_to == 0, "journal records the wrap");
}

static int ldns_check(const char *path, const char *apex, size_t *nrr, bool *canonical)
{
	FILE *f = fopen(path, "r");
	ldns_zone *z = NULL;
	int line = 0;
	char origin_text[300];
	snprintf(origin_text, sizeof(origin_text), "%s.", apex);
	ldns_rdf *origin = ldns_dname_new_frm_str(origin_text);
	ldns_status s = ldns_zone_new_frm_fp_l(&z, f, origin, 3600, LDNS_RR_CLASS_IN, &line);
	fclose(f);
	ldns_rdf_deep_free(origin);
	if (s != LDNS_STATUS_OK) {
		printf("# ldns: %s at line %d\n", ldns_get_errorstr_by_id(s), line);
		return -1;
	}
	ldns_rr_list *rrs = ldns_zone_rrs(z);
	/* ldns keeps the SOA apart from the other RRs. */
	*nrr = ldns_rr_list_rr_count(rrs) + (ldns_zone_soa(z) != NULL);
	*canonical = true;
	for (size_t i = 1; i < ldns_rr_list_rr_count(rrs); i++) {
		if (ldns_dname_compare(ldns_rr_owner(ldns_rr_list_rr(rrs, i - 1)),
		                       ldns_rr_owner(ldns_rr_list_rr(rrs, i))) > 0) {
			*canonical = false;
		}
	}
	ldns_zone_deep_free(z);
	return 0;
}

static void test_zonefile(tal_store_t *st)
{
	tal_change_t *ch;
	tal_tenant_t t1 = tenant(T1, "contoso.onmicrosoft.com");
	tal_tenant_t t2 = tenant(T2, NULL);
	tal_tenant_t t3 = tenant(T3, NULL);
	char path[128], path2[128], cmd[512];

	/* Nested policy domains exercise the canonical merge of the A view. */
	tal_change_new(APEX, &ch);
	tal_change_add(ch, "example.com", &t1);
	tal_change_add(ch, "example.com", &t2);
	tal_change_add(ch, "a.example.com", &t3);
	tal_change_add(ch, "zz.example.com", &t3);
	tal_change_add(ch, "0.example.com", &t3);
	tal_change_add_none(ch, "deny.example");
	commit(st, ch, "policies for export");

	snprintf(path, sizeof(path), "%s/zone.txt", tmpdir);
	FILE *f = fopen(path, "w");
	is_int(0, tal_zonefile_export(st, APEX, f), "zone exported");
	fclose(f);
	size_t nrr = 0;
	bool canonical = false;
	is_int(0, ldns_check(path, APEX, &nrr, &canonical), "ldns parses the exported zone");
	/* SOA, 2 NS, glue A+AAAA, policies: fabrikam (1+1), order (1+1),
	 * example.com (2+2), a/zz/0 (1+1 each), deny (1). */
	is_int(1 + 2 + 2 + 2 + 2 + 4 + 6 + 1, nrr, "every RR exported");
	ok(canonical, "owner names in canonical order");
	is_int(TAL_ENOZONE, tal_zonefile_export(st, "nope.example", stdout), "unknown zone");

	if (access("/usr/bin/named-checkzone", X_OK) == 0) {
		snprintf(cmd, sizeof(cmd), "/usr/bin/named-checkzone -q %s %s", APEX, path);
		is_int(0, system(cmd), "named-checkzone accepts the export");
	} else {
		printf("# named-checkzone not installed\n");
	}
	if (access("/usr/bin/ldns-read-zone", X_OK) == 0) {
		snprintf(cmd, sizeof(cmd), "/usr/bin/ldns-read-zone %s >/dev/null", path);
		is_int(0, system(cmd), "ldns-read-zone accepts the export");
	}

	/* Import of the export with replace changes nothing. */
	tal_change_new(APEX, &ch);
	tal_change_set_replace(ch, true);
	int line = -1;
	char msg[256];
	f = fopen(path, "r");
	is_int(0, tal_zonefile_import(f, path, ch, &line, msg, sizeof(msg)), "export re-imports");
	fclose(f);
	tal_commit_result_t res = commit(st, ch, "re-import");
	ok(!res.changed, "export -> import --replace is a no-op");

	/* Relative names, foreign TXT records and an apex TXT are fine. */
	snprintf(path2, sizeof(path2), "%s/good.zone", tmpdir);
	f = fopen(path2, "w");
	fputs("$ORIGIN " APEX ".\n$TTL 300\n@ SOA ns1 hostmaster ( 1 2 3 4 5 )\n@ NS ns1\n"
	      "@ TXT \"v=spf1 -all\"\nns1 A 192.0.2.53\n"
	      "Mixed.Example TXT \"v=TAL1;tid={" T1 "} ; dkim=Contoso.onmicrosoft.com\"\n"
	      "mixed.example TXT \"some other record\"\n" T1 ".mixed.example A 127.0.0.2\n"
	      "none.example TXT \"v=TAL1\"\n",
	      f);
	fclose(f);
	tal_change_new(APEX, &ch);
	f = fopen(path2, "r");
	int grc = tal_zonefile_import(f, path2, ch, &line, msg, sizeof(msg));
	fclose(f);
	is_int(0, grc, "hand-written zone imports (%s)", msg);
	commit(st, ch, "hand-written zone");
	tal_policy_t p;
	is_int(0, tal_policy_get(st, APEX, "mixed.example", &p), "imported policy");
	ok(p.ntenants == 1 && memcmp(p.tenants[0].id, t1.id, 16) == 0 &&
	           strcmp(p.tenants[0].dkim, "contoso.onmicrosoft.com") == 0,
	   "tenant and dkim normalised from the TXT");
	tal_policy_deinit(&p);
	is_int(0, tal_policy_get(st, APEX, "none.example", &p), "deny-all imported");
	tal_policy_deinit(&p);
	tal_change_new(APEX, &ch);
	tal_change_remove_domain(ch, "mixed.example");
	tal_change_remove_domain(ch, "none.example");
	commit(st, ch, "drop the hand-written policies");

	/* Import errors carry the line. */
	snprintf(path2, sizeof(path2), "%s/bad.zone", tmpdir);
	struct {
		const char *body;
		int rc;
		int line;
	} bad[] = {
		{ "$ORIGIN " APEX
		  ".\n@ 60 SOA ns1 h 1 2 3 4 5\nx.example 60 TXT \"v=TAL1; tid=xyz\"\n",
		  TAL_ETENANT, 3 },
		{ "$ORIGIN " APEX ".\n@ 60 SOA ns1 h 1 2 3 4 5\nx.example 60 TXT \"v=TAL1; tid=" T1
		  "\"\n",
		  TAL_EZONEFILE, 3 },
		{ "$ORIGIN " APEX
		  ".\n@ 60 SOA ns1 h 1 2 3 4 5\n\nwww.example.org. 60 TXT \"v=TAL1\"\n",
		  TAL_ENOTINZONE, 4 },
		{ "$ORIGIN " APEX ".\n@ 60 SOA ns1 h 1 2 3 4 5\nx_y.example 60 TXT \"v=TAL1\"\n",
		  TAL_ELABEL_CHAR, 3 },
		{ "$ORIGIN " APEX ".\n@ 60 SOA ns1 h 1 2 3 4 5\nx.example 60 A 1.2.3\n",
		  TAL_EZONEFILE, 3 },
		{ "$ORIGIN " APEX ".\n@ 60 SOA ns1 h 1 2 3 4 5\nx.example 60 MX 10 mail\n",
		  TAL_EZONEFILE, 3 },
		{ "$ORIGIN " APEX ".\n@ 60 SOA ns1 h 1 2 3 4 5\nx.example 60 TXT \"v=TAL1\"\n" T1
		  ".x.example 60 A 127.0.0.2\n",
		  TAL_EZONEFILE, 4 },
		{ "$ORIGIN " APEX ".\n@ 60 SOA ns1 h 1 2 3 4 5\n" T1 ".x.example 60 A 127.0.0.3\n",
		  TAL_EZONEFILE, 3 },
		{ "$ORIGIN " APEX ".\nx.example 60 TXT \"v=TAL1\"\n", TAL_EZONEFILE, 2 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f = fopen(path2, "w");
		fputs(bad[i].body, f);
		fclose(f);
		tal_change_new(APEX, &ch);
		f = fopen(path2, "r");
		line = -1;
		msg[0] = '\0';
		int rc = tal_zonefile_import(f, path2, ch, &line, msg, sizeof(msg));
		fclose(f);
		tal_change_free(ch);
		ok(rc == bad[i].rc, "bad zone %zu -> %s (got %s: %s)", i, tal_errname(bad[i].rc),
		   tal_errname(rc), msg);
		is_int(bad[i].line, line, "bad zone %zu reports line %d", i, bad[i].line);
	}
}

typedef struct {
	FILE *f;
	int n;
} csv_out_t;

static int csv_cb(const tal_policy_t *p, void *arg)
{
	csv_out_t *o = arg;
	o->n++;
	return tal_csv_write_policy(o->f, p);
}

static char *export_csv(tal_store_t *st, const char *apex, int *npol)
{
	char *mem = NULL;
	size_t len = 0;
	csv_out_t o = { open_memstream(&mem, &len), 0 };
	int rc = tal_policy_foreach(st, apex, csv_cb, &o);
	fclose(o.f);
	if (rc < 0) {
		printf("# policy_foreach: %s\n", tal_strerror(rc));
	}
	*npol = o.n;
	return mem;
}

/* Parses CSV text into a change; returns the number of pairs or a negative error. */
static long import_csv(char *text, tal_change_t *ch)
{
	long n = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		tal_csv_line_t l;
		int rc = tal_csv_parse_line(line, &l);
		if (rc < 0) {
			return rc;
		}
		if (l.kind == TAL_CSV_TENANT) {
			rc = tal_change_add(ch, l.domain, &l.tenant);
		} else if (l.kind == TAL_CSV_NONE) {
			rc = tal_change_add_none(ch, l.domain);
		}
		if (rc < 0) {
			return rc;
		}
		n++;
	}
	return n;
}

static void test_csv_roundtrip(tal_store_t *st)
{
	int n1, n2;
	char *a = export_csv(st, APEX, &n1);
	ok(a != NULL && strstr(a, "deny.example,none\n") != NULL, "deny-all exported as none");
	ok(a != NULL && strstr(a, "example.com," T2 "\nexample.com," T1
	                          ",contoso.onmicrosoft.com\n") != NULL,
	   "tenants exported sorted, dkim as third field");
	char *copy = strdup(a);
	tal_change_t *ch;
	tal_change_new(APEX, &ch);
	tal_change_set_replace(ch, true);
	ok(import_csv(copy, ch) > 0, "CSV export parses");
	tal_commit_result_t res = commit(st, ch, "CSV import --replace of the export");
	ok(!res.changed, "CSV round trip changes nothing");
	char *b = export_csv(st, APEX, &n2);
	is_str(a, b, "CSV export identical after the round trip");
	is_int(n1, n2, "same number of policies");
	free(copy);
	free(b);

	/* Into a fresh zone: the same CSV gives the same export. */
	tal_zone_info_t cfg;
	tal_zone_defaults(&cfg, "copy.example");
	is_int(0, tal_zone_create(st, &cfg), "third zone");
	copy = strdup(a);
	tal_change_new("copy.example", &ch);
	tal_change_set_replace(ch, true);
	import_csv(copy, ch);
	commit(st, ch, "CSV import into another zone");
	b = export_csv(st, "copy.example", &n2);
	is_str(a, b, "CSV export of the copy is identical");
	free(copy);
	free(a);
	free(b);
}

static void test_timing(void)
{
	tal_store_t *st = open_store("bulk");
	tal_zone_info_t cfg;
	/* TAL_BENCH_PAIRS raises the count for a manual benchmark run. */
	const char *env = getenv("TAL_BENCH_PAIRS");
	const int npairs = env != NULL && atoi(env) > 0 ? atoi(env) : 100000;

	tal_zone_defaults(&cfg, "bulk.example");
	tal_zone_create(st, &cfg);

	/* CSV text in random domain order, 1 to 3 tenants per domain. */
	size_t cap = (size_t)npairs * 80;
	char *text = malloc(cap);
	size_t len = 0;
	uint64_t x = 88172645463325252ULL;
	int pairs = 0;
	for (uint32_t d = 0; pairs < npairs; d++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int k = 1 + (int)(x % 3);
		for (int i = 0; i < k && pairs < npairs; i++, pairs++) {
			uint8_t id[16];
			char g[TAL_TENANT_TEXTSZ];
			bulk_id(d * 3 + (uint32_t)i, id);
			tal_tenant_format(id, g);
			len += (size_t)snprintf(text + len, cap - len, "d%08llx.example,%s\n",
			                        (unsigned long long)(x & 0xffffffffULL) ^ d, g);
		}
	}
	double t0 = now(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	tal_change_t *ch;
	tal_change_new("bulk.example", &ch);
	long n = import_csv(text, ch);
	double t1 = now(), c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	tal_commit_result_t res;
	int rc = tal_change_commit(st, ch, &res);
	double t2 = now(), c2 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	tal_change_free(ch);
	is_int(npairs, n, "bulk CSV parsed");
	is_int(0, rc, "bulk commit");
	is_int(npairs, res.tenants_added, "every pair added");
	printf("# %d pairs: parse+queue %.3f s (cpu %.3f), commit %.3f s (cpu %.3f), "
	       "%.0f pairs/s end to end\n",
	       npairs, t1 - t0, c1 - c0, t2 - t1, c2 - c1, npairs / (t2 - t0));
	free(text);
	tal_store_close(st);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tal-zones-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	tal_store_t *st = open_store("db");
	test_zone_create(st);
	test_policies(st);
	test_journal_bounds(st);
	test_zonefile(st);
	test_csv_roundtrip(st);
	tal_store_close(st);
	test_timing();
	if (getenv("TAL_KEEP_TMP") == NULL) {
		rm_tree(tmpdir);
	} else {
		printf("# kept %s\n", tmpdir);
	}
	return tap_done();
}
