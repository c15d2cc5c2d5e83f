/*
 * zones/zone.c -- policy zones: creation, settings, listing (zones/zone.h),
 * and the zone value codec shared with policy.c.
 *
 * A zone is three kinds of records in the store, all written by one
 * transaction at creation: the zone value (TAL_DB_ZONES: id, serial, the
 * negative-answer SOA, and our private settings), the apex node (SOA and NS,
 * the NS RRset carrying the glue of in-zone name servers as additional
 * records), and one node per in-zone name server with its A/AAAA RRsets.
 * Zone ids come from a counter in TAL_DB_CONFIG and are never reused, so a
 * zone deleted and created again cannot inherit its predecessor's journal.
 */
#include "zones/zone.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/dname.h"
#include "common/error.h"
#include "common/node.h"
#include "common/wire.h"
#include "zones/internal.h"
#include "zones/journal.h"

#define TTL_MAX        0x7fffffffu
#define PRIV_VERSION   1
#define CONFIG_ZONE_ID "zones.next-zone-id"
#define MBOX_USER_MAX  63

int tal__buf_reserve(tal__buf_t *b, size_t more)
{
	if (b->cap - b->len >= more) {
		return 0;
	}
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < more) {
		if (cap > SIZE_MAX / 2) {
			return TAL_ENOMEM;
		}
		cap *= 2;
	}
	uint8_t *p = realloc(b->p, cap);
	if (p == NULL) {
		return TAL_ENOMEM;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void tal__buf_free(tal__buf_t *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static int buf_u8(tal__buf_t *b, uint8_t v)
{
	return tal__buf_put(b, &v, 1);
}

static int buf_u16(tal__buf_t *b, uint16_t v)
{
	uint8_t x[2];
	tal_wire_write_u16(x, v);
	return tal__buf_put(b, x, 2);
}

static int buf_u32(tal__buf_t *b, uint32_t v)
{
	uint8_t x[4];
	tal_wire_write_u32(x, v);
	return tal__buf_put(b, x, 4);
}

static int buf_u64(tal__buf_t *b, uint64_t v)
{
	uint8_t x[8];
	tal_wire_write_u64(x, v);
	return tal__buf_put(b, x, 8);
}

static int buf_str8(tal__buf_t *b, const char *s)
{
	size_t n = strlen(s);
	if (n > 255) {
		return TAL_EINVAL;
	}
	int rc = buf_u8(b, (uint8_t)n);
	return rc < 0 ? rc : tal__buf_put(b, s, n);
}

int tal__domain_key(const char *domain, uint8_t *key)
{
	return tal_key_from_text(domain, key);
}

int tal_zone_defaults(tal_zone_info_t *cfg, const char *apex)
{
	char norm[TAL_DOMAIN_TEXTSZ];
	int rc = tal_domain_normalise(apex, norm);

	if (rc < 0) {
		return rc;
	}
	memset(cfg, 0, sizeof(*cfg));
	memcpy(cfg->apex, norm, sizeof(norm));
	cfg->nns = 1;
	snprintf(cfg->ns[0].name, sizeof(cfg->ns[0].name), "ns1.%.250s", norm);
	snprintf(cfg->mbox, sizeof(cfg->mbox), "hostmaster@%.243s", norm);
	cfg->ttl = 3600;
	cfg->negative_ttl = 300;
	cfg->refresh = 3600;
	cfg->retry = 600;
	cfg->expire = 1209600;
	cfg->journal_limit = TAL_JOURNAL_LIMIT_DEFAULT;
	return 0;
}

/*
 * Mailbox "user@domain" to the SOA RNAME (RFC 1035 §8): the local part is
 * the first label, so a dot in it stays inside that label (written "\." in
 * master files).  The domain is normalised into `norm`.
 */
static int mbox_parse(const char *mbox, char *norm, uint8_t *wire, size_t *wirelen)
{
	const char *at = strrchr(mbox, '@');
	char dom[TAL_DOMAIN_TEXTSZ];
	size_t ulen;
	int rc;

	if (at == NULL || at == mbox) {
		return TAL_EMBOX;
	}
	ulen = (size_t)(at - mbox);
	if (ulen > MBOX_USER_MAX) {
		return TAL_EMBOX;
	}
	for (size_t i = 0; i < ulen; i++) {
		unsigned char c = (unsigned char)mbox[i];
		if (c <= 0x20 || c >= 0x7f || strchr("@\\\"(),;:<>[]", c) != NULL) {
			return TAL_EMBOX;
		}
	}
	if (tal_domain_normalise(at + 1, dom) < 0) {
		return TAL_EMBOX;
	}
	uint8_t dw[TAL_DNAME_MAXLEN];
	rc = tal_dname_from_text(dom, dw);
	if (rc < 0 || 1 + ulen + (size_t)rc > TAL_DNAME_MAXLEN || ulen + 1 + strlen(dom) >= 256) {
		return TAL_EMBOX;
	}
	wire[0] = (uint8_t)ulen;
	memcpy(wire + 1, mbox, ulen);
	memcpy(wire + 1 + ulen, dw, (size_t)rc);
	*wirelen = 1 + ulen + (size_t)rc;
	if (norm != NULL) {
		memcpy(norm, mbox, ulen);
		norm[ulen] = '@';
		memcpy(norm + ulen + 1, dom, strlen(dom) + 1);
	}
	return 0;
}

/* SOA RDATA (RFC 1035 §3.3.13) for the zone's settings and current serial. */
static int soa_rdata(const tal_zone_info_t *info, uint8_t *out, size_t *outlen)
{
	uint8_t rname[TAL_DNAME_MAXLEN];
	size_t rnlen;
	int mlen;
	int rc;

	mlen = tal_dname_from_text(info->ns[0].name, out);
	if (mlen < 0) {
		return TAL_ECORRUPT;
	}
	rc = mbox_parse(info->mbox, NULL, rname, &rnlen);
	if (rc < 0) {
		return rc;
	}
	size_t p = (size_t)mlen;
	memcpy(out + p, rname, rnlen);
	p += rnlen;
	tal_wire_write_u32(out + p, info->serial);
	tal_wire_write_u32(out + p + 4, info->refresh);
	tal_wire_write_u32(out + p + 8, info->retry);
	tal_wire_write_u32(out + p + 12, info->expire);
	tal_wire_write_u32(out + p + 16, info->negative_ttl);
	*outlen = p + 20;
	return 0;
}

#define SOA_RDATA_MAX (2 * TAL_DNAME_MAXLEN + 20)

int tal__zone_encode(const tal__zone_t *z, tal__buf_t *out)
{
	const tal_zone_info_t *info = &z->info;
	uint8_t rdata[SOA_RDATA_MAX];
	size_t rdlen;
	int rc;

	rc = soa_rdata(info, rdata, &rdlen);
	if (rc < 0) {
		return rc;
	}
	uint32_t negttl = info->ttl < info->negative_ttl ? info->ttl : info->negative_ttl;
	uint8_t hdr[TAL_ZONE_HDRLEN] = { TAL_ZONE_VERSION, 0, 0, 0 };
	tal_wire_write_u32(hdr + 4, info->zone_id);
	tal_wire_write_u32(hdr + 8, info->serial);
	tal_wire_write_u16(hdr + 12, (uint16_t)(10 + rdlen));
	rc = tal__buf_put(out, hdr, sizeof(hdr));
	rc = rc < 0 ? rc : buf_u16(out, TAL_TYPE_SOA);
	rc = rc < 0 ? rc : buf_u16(out, TAL_CLASS_IN);
	rc = rc < 0 ? rc : buf_u32(out, negttl);
	rc = rc < 0 ? rc : buf_u16(out, (uint16_t)rdlen);
	rc = rc < 0 ? rc : tal__buf_put(out, rdata, rdlen);
	rc = rc < 0 ? rc : buf_u8(out, PRIV_VERSION);
	rc = rc < 0 ? rc : buf_u32(out, info->ttl);
	rc = rc < 0 ? rc : buf_u32(out, info->negative_ttl);
	rc = rc < 0 ? rc : buf_u32(out, info->refresh);
	rc = rc < 0 ? rc : buf_u32(out, info->retry);
	rc = rc < 0 ? rc : buf_u32(out, info->expire);
	rc = rc < 0 ? rc : buf_u64(out, z->js.limit);
	rc = rc < 0 ? rc : buf_u64(out, z->js.bytes);
	rc = rc < 0 ? rc : buf_u64(out, z->js.first);
	rc = rc < 0 ? rc : buf_u64(out, z->js.next);
	rc = rc < 0 ? rc : buf_str8(out, info->mbox);
	rc = rc < 0 ? rc : buf_u8(out, (uint8_t)info->nns);
	for (int i = 0; rc == 0 && i < info->nns; i++) {
		rc = buf_str8(out, info->ns[i].name);
		rc = rc < 0 ? rc : buf_u8(out, (uint8_t)info->ns[i].naddrs);
		for (int j = 0; rc == 0 && j < info->ns[i].naddrs; j++) {
			rc = buf_str8(out, info->ns[i].addrs[j]);
		}
	}
	return rc;
}

static void get_str8(tal_wire_t *w, char *out, size_t outsz)
{
	uint8_t n = tal_wire_get_u8(w);
	if (n >= outsz) {
		w->error = TAL_EMALF;
		return;
	}
	out[0] = '\0';
	tal_wire_get_bytes(w, out, n);
	if (w->error == 0) {
		out[n] = '\0';
	}
}

int tal__zone_decode(const uint8_t *val, size_t len, tal__zone_t *z)
{
	tal_zone_view_t v;
	tal_zone_info_t *info = &z->info;

	if (tal_zone_parse(val, len, &v) < 0) {
		return TAL_ECORRUPT;
	}
	info->zone_id = v.zone_id;
	info->serial = v.serial;
	tal_wire_t w = tal_wire_init_const(v.priv, v.priv_len);
	if (tal_wire_get_u8(&w) != PRIV_VERSION) {
		return TAL_ECORRUPT;
	}
	info->ttl = tal_wire_get_u32(&w);
	info->negative_ttl = tal_wire_get_u32(&w);
	info->refresh = tal_wire_get_u32(&w);
	info->retry = tal_wire_get_u32(&w);
	info->expire = tal_wire_get_u32(&w);
	uint8_t x[32] = { 0 };
	tal_wire_get_bytes(&w, x, sizeof(x));
	z->js.limit = tal_wire_read_u64(x);
	z->js.bytes = tal_wire_read_u64(x + 8);
	z->js.first = tal_wire_read_u64(x + 16);
	z->js.next = tal_wire_read_u64(x + 24);
	info->journal_limit = z->js.limit;
	get_str8(&w, info->mbox, sizeof(info->mbox));
	info->nns = tal_wire_get_u8(&w);
	if (info->nns < 1 || info->nns > TAL_ZONE_MAX_NS) {
		return TAL_ECORRUPT;
	}
	for (int i = 0; i < info->nns && w.error == 0; i++) {
		tal_ns_t *ns = &info->ns[i];
		get_str8(&w, ns->name, sizeof(ns->name));
		ns->naddrs = tal_wire_get_u8(&w);
		if (ns->naddrs > TAL_ZONE_MAX_ADDRS) {
			return TAL_ECORRUPT;
		}
		for (int j = 0; j < ns->naddrs; j++) {
			get_str8(&w, ns->addrs[j], sizeof(ns->addrs[j]));
		}
	}
	return w.error ? TAL_ECORRUPT : 0;
}

int tal__zone_load(tal_txn_t *txn, const char *apex, tal__zone_t *z)
{
	tal_val_t v;
	int rc;

	memset(z, 0, sizeof(*z));
	rc = tal_dname_from_text(apex, z->wire);
	if (rc < 0) {
		return TAL_ENOZONE;
	}
	z->wirelen = (size_t)rc;
	rc = tal_dname_to_key(z->wire, z->wirelen, z->key);
	if (rc < 0) {
		return TAL_ENOZONE;
	}
	z->keylen = (size_t)rc;
	rc = tal_txn_get(txn, TAL_DB_ZONES, z->key, z->keylen, &v);
	if (rc == TAL_ENOTFOUND) {
		return TAL_ENOZONE;
	}
	if (rc < 0) {
		return rc;
	}
	rc = tal__zone_decode(v.data, v.len, z);
	if (rc < 0) {
		return rc;
	}
	snprintf(z->info.apex, sizeof(z->info.apex), "%s", apex);
	return 0;
}

int tal__zone_read_begin(tal_store_t *st, const char *apex, tal_txn_t **txn, tal__zone_t **z)
{
	tal__zone_t *zone = malloc(sizeof(*zone));
	tal_txn_t *t = NULL;
	int rc;

	*txn = NULL;
	*z = NULL;
	if (zone == NULL) {
		return TAL_ENOMEM;
	}
	rc = tal_txn_begin(st, TAL_TXN_READ, &t);
	if (rc == 0) {
		rc = tal__zone_load(t, apex, zone);
	}
	if (rc < 0) {
		tal_txn_abort(t);
		free(zone);
		return rc;
	}
	*txn = t;
	*z = zone;
	return 0;
}

int tal__node_set_soa_serial(uint8_t *node, size_t len, uint32_t serial)
{
	tal_rrset_view_t rs;

	if (tal_node_find(node, len, TAL_TYPE_SOA, &rs) < 0 || rs.count < 1) {
		return TAL_ECORRUPT;
	}
	size_t off = (size_t)(rs.rrs - node);
	if (rs.rrs_len < 10) {
		return TAL_ECORRUPT;
	}
	uint16_t rdlen = tal_wire_read_u16(node + off + 8);
	const uint8_t *rd = node + off + 10;
	if (rdlen > rs.rrs_len - 10) {
		return TAL_ECORRUPT;
	}
	int m = tal_dname_wire_len(rd, rdlen);
	if (m < 0) {
		return TAL_ECORRUPT;
	}
	int r = tal_dname_wire_len(rd + m, rdlen - (size_t)m);
	if (r < 0 || rdlen - (size_t)m - (size_t)r < 20) {
		return TAL_ECORRUPT;
	}
	tal_wire_write_u32(node + off + 10 + (size_t)m + (size_t)r, serial);
	return 0;
}

/* Validated settings, ready to write. */
typedef struct {
	tal__zone_t z;
	uint8_t ns_wire[TAL_ZONE_MAX_NS][TAL_DNAME_MAXLEN];
	size_t ns_wirelen[TAL_ZONE_MAX_NS];
	uint8_t ns_key[TAL_ZONE_MAX_NS][TAL_KEY_MAXLEN];
	size_t ns_keylen[TAL_ZONE_MAX_NS];
	bool in_zone[TAL_ZONE_MAX_NS];
	/* Parsed glue: family and address octets. */
	int af[TAL_ZONE_MAX_NS][TAL_ZONE_MAX_ADDRS];
	uint8_t addr[TAL_ZONE_MAX_NS][TAL_ZONE_MAX_ADDRS][16];
} zone_plan_t;

static int ttl_ok(uint32_t v)
{
	return v <= TTL_MAX ? 0 : TAL_ETTL;
}

static int plan_zone(const tal_zone_info_t *cfg, zone_plan_t *pl)
{
	tal_zone_info_t *info = &pl->z.info;
	int rc;

	memset(pl, 0, sizeof(*pl));
	rc = tal_domain_normalise(cfg->apex, info->apex);
	if (rc < 0) {
		return rc;
	}
	rc = tal_dname_from_text(info->apex, pl->z.wire);
	if (rc < 0) {
		return rc;
	}
	pl->z.wirelen = (size_t)rc;
	pl->z.keylen = (size_t)tal_dname_to_key(pl->z.wire, pl->z.wirelen, pl->z.key);
	if (cfg->nns < 1 || cfg->nns > TAL_ZONE_MAX_NS) {
		return TAL_EINVAL;
	}
	if ((rc = ttl_ok(cfg->ttl)) < 0 || (rc = ttl_ok(cfg->negative_ttl)) < 0 ||
	    (rc = ttl_ok(cfg->refresh)) < 0 || (rc = ttl_ok(cfg->retry)) < 0 ||
	    (rc = ttl_ok(cfg->expire)) < 0) {
		return rc;
	}
	info->ttl = cfg->ttl;
	info->negative_ttl = cfg->negative_ttl;
	info->refresh = cfg->refresh;
	info->retry = cfg->retry;
	info->expire = cfg->expire;
	uint8_t rname[TAL_DNAME_MAXLEN];
	size_t rnlen;
	rc = mbox_parse(cfg->mbox, info->mbox, rname, &rnlen);
	if (rc < 0) {
		return rc;
	}
	info->nns = cfg->nns;
	for (int i = 0; i < cfg->nns; i++) {
		tal_ns_t *ns = &info->ns[i];
		rc = tal_domain_normalise(cfg->ns[i].name, ns->name);
		if (rc < 0) {
			return rc;
		}
		rc = tal_dname_from_text(ns->name, pl->ns_wire[i]);
		if (rc < 0) {
			return rc;
		}
		pl->ns_wirelen[i] = (size_t)rc;
		pl->ns_keylen[i] =
		        (size_t)tal_dname_to_key(pl->ns_wire[i], pl->ns_wirelen[i], pl->ns_key[i]);
		for (int k = 0; k < i; k++) {
			if (strcmp(info->ns[k].name, ns->name) == 0) {
				return TAL_EINVAL;
			}
		}
		pl->in_zone[i] =
		        tal_key_is_below(pl->ns_key[i], pl->ns_keylen[i], pl->z.key, pl->z.keylen);
		if (cfg->ns[i].naddrs < 0 || cfg->ns[i].naddrs > TAL_ZONE_MAX_ADDRS) {
			return TAL_EINVAL;
		}
		if (cfg->ns[i].naddrs > 0 && !pl->in_zone[i]) {
			return TAL_EINVAL;
		}
		for (int j = 0; j < cfg->ns[i].naddrs; j++) {
			const char *a = cfg->ns[i].addrs[j];
			uint8_t bin[16];
			int af;
			if (memchr(a, '\0', sizeof(cfg->ns[i].addrs[j])) == NULL) {
				return TAL_EADDR;
			}
			if (inet_pton(AF_INET, a, bin) == 1) {
				af = AF_INET;
			} else if (inet_pton(AF_INET6, a, bin) == 1) {
				af = AF_INET6;
			} else {
				return TAL_EADDR;
			}
			bool dup = false;
			for (int k = 0; k < ns->naddrs; k++) {
				if (pl->af[i][k] == af &&
				    memcmp(pl->addr[i][k], bin, af == AF_INET ? 4 : 16) == 0) {
					dup = true;
				}
			}
			if (dup) {
				continue;
			}
			int k = ns->naddrs++;
			pl->af[i][k] = af;
			memcpy(pl->addr[i][k], bin, 16);
			/* Store the canonical text so export and listing agree. */
			inet_ntop(af, bin, ns->addrs[k], sizeof(ns->addrs[k]));
		}
	}
	pl->z.js.limit = cfg->journal_limit ? cfg->journal_limit : TAL_JOURNAL_LIMIT_DEFAULT;
	pl->z.js.first = 1;
	pl->z.js.next = 1;
	return 0;
}

static int put_rr(tal__buf_t *b, const uint8_t *owner, size_t ownerlen, uint16_t type, uint32_t ttl,
                  const uint8_t *rdata, size_t rdlen)
{
	int rc = 0;
	if (owner != NULL) {
		rc = tal__buf_put(b, owner, ownerlen);
	}
	rc = rc < 0 ? rc : buf_u16(b, type);
	rc = rc < 0 ? rc : buf_u16(b, TAL_CLASS_IN);
	rc = rc < 0 ? rc : buf_u32(b, ttl);
	rc = rc < 0 ? rc : buf_u16(b, (uint16_t)rdlen);
	rc = rc < 0 ? rc : tal__buf_put(b, rdata, rdlen);
	return rc;
}

/* Glue RRs of name server i of one family, with or without owner names. */
static int put_glue(tal__buf_t *b, const zone_plan_t *pl, int i, int af, bool owner,
                    uint16_t *count)
{
	int rc = 0;
	for (int j = 0; rc == 0 && j < pl->z.info.ns[i].naddrs; j++) {
		if (pl->af[i][j] != af) {
			continue;
		}
		rc = put_rr(b, owner ? pl->ns_wire[i] : NULL, pl->ns_wirelen[i],
		            af == AF_INET ? TAL_TYPE_A : TAL_TYPE_AAAA, pl->z.info.ttl,
		            pl->addr[i][j], af == AF_INET ? 4 : 16);
		(*count)++;
	}
	return rc;
}

static int put_rrset(tal__buf_t *node, uint16_t type, uint16_t count, const tal__buf_t *rrs,
                     const tal__buf_t *add, uint16_t *nsets)
{
	if (count == 0) {
		return 0;
	}
	if (add != NULL && add->len > UINT16_MAX) {
		return TAL_EINVAL;
	}
	int rc = buf_u16(node, type);
	rc = rc < 0 ? rc : buf_u16(node, count);
	rc = rc < 0 ? rc : buf_u32(node, (uint32_t)rrs->len);
	rc = rc < 0 ? rc : buf_u16(node, add != NULL ? (uint16_t)add->len : 0);
	rc = rc < 0 ? rc : tal__buf_put(node, rrs->p, rrs->len);
	if (rc == 0 && add != NULL) {
		rc = tal__buf_put(node, add->p, add->len);
	}
	(*nsets)++;
	return rc;
}

/* A node with the glue of name server i (and, at the apex, SOA and NS). */
static int build_node(const zone_plan_t *pl, int glue_ns, bool apex, tal__buf_t *node)
{
	tal__buf_t a = { 0 }, aaaa = { 0 }, ns = { 0 }, add = { 0 }, soa = { 0 };
	uint16_t na = 0, naaaa = 0, nns = 0, nadd = 0, nsoa = 0, nsets = 0;
	const tal_zone_info_t *info = &pl->z.info;
	int rc = 0;

	node->len = 0;
	rc = tal__buf_put(node, (uint8_t[4]){ TAL_NODE_VERSION, 0, 0, 0 }, 4);
	if (rc == 0 && glue_ns >= 0) {
		rc = put_glue(&a, pl, glue_ns, AF_INET, false, &na);
		rc = rc < 0 ? rc : put_glue(&aaaa, pl, glue_ns, AF_INET6, false, &naaaa);
	}
	if (rc == 0 && apex) {
		for (int i = 0; rc == 0 && i < info->nns; i++) {
			rc = put_rr(&ns, NULL, 0, TAL_TYPE_NS, info->ttl, pl->ns_wire[i],
			            pl->ns_wirelen[i]);
			nns++;
		}
		for (int i = 0; rc == 0 && i < info->nns; i++) {
			rc = put_glue(&add, pl, i, AF_INET, true, &nadd);
			rc = rc < 0 ? rc : put_glue(&add, pl, i, AF_INET6, true, &nadd);
		}
		uint8_t rdata[SOA_RDATA_MAX];
		size_t rdlen;
		if (rc == 0) {
			rc = soa_rdata(info, rdata, &rdlen);
		}
		if (rc == 0) {
			rc = put_rr(&soa, NULL, 0, TAL_TYPE_SOA, info->ttl, rdata, rdlen);
			nsoa = 1;
		}
	}
	/* RRsets sorted by type: A, NS, SOA, AAAA. */
	rc = rc < 0 ? rc : put_rrset(node, TAL_TYPE_A, na, &a, NULL, &nsets);
	rc = rc < 0 ? rc : put_rrset(node, TAL_TYPE_NS, nns, &ns, &add, &nsets);
	rc = rc < 0 ? rc : put_rrset(node, TAL_TYPE_SOA, nsoa, &soa, NULL, &nsets);
	rc = rc < 0 ? rc : put_rrset(node, TAL_TYPE_AAAA, naaaa, &aaaa, NULL, &nsets);
	if (rc == 0) {
		tal_wire_write_u16(node->p + 2, nsets);
	}
	tal__buf_free(&a);
	tal__buf_free(&aaaa);
	tal__buf_free(&ns);
	tal__buf_free(&add);
	tal__buf_free(&soa);
	return rc;
}

/* Zones never nest: no existing apex may be a prefix of the new one or below it. */
static int check_nesting(tal_txn_t *txn, const uint8_t *key, size_t keylen)
{
	tal_cursor_t *cur = NULL;
	tal_val_t k, v;
	int rc = tal_cursor_open(txn, TAL_DB_ZONES, &cur);

	if (rc < 0) {
		return rc;
	}
	rc = tal_cursor_seek(cur, NULL, 0, &k, &v);
	while (rc == 0) {
		if (k.len == keylen && memcmp(k.data, key, keylen) == 0) {
			rc = TAL_EEXIST;
			break;
		}
		if (tal_key_is_below(key, keylen, k.data, k.len) ||
		    tal_key_is_below(k.data, k.len, key, keylen)) {
			rc = TAL_EZONE_NEST;
			break;
		}
		rc = tal_cursor_next(cur, &k, &v);
	}
	tal_cursor_close(cur);
	return rc == TAL_ENOTFOUND ? 0 : rc;
}

static int next_zone_id(tal_txn_t *txn, uint32_t *id)
{
	tal_val_t v;
	uint8_t x[4];
	int rc = tal_txn_get(txn, TAL_DB_CONFIG, (const uint8_t *)CONFIG_ZONE_ID,
	                     strlen(CONFIG_ZONE_ID), &v);

	if (rc == TAL_ENOTFOUND) {
		*id = 1;
	} else if (rc < 0) {
		return rc;
	} else if (v.len != 4) {
		return TAL_ECORRUPT;
	} else {
		*id = tal_wire_read_u32(v.data);
	}
	if (*id == 0 || *id == UINT32_MAX) {
		return TAL_ERANGE;
	}
	tal_wire_write_u32(x, *id + 1);
	return tal_txn_put(txn, TAL_DB_CONFIG, (const uint8_t *)CONFIG_ZONE_ID,
	                   strlen(CONFIG_ZONE_ID), x, 4, 0);
}

int tal_zone_create(tal_store_t *st, const tal_zone_info_t *cfg)
{
	zone_plan_t *pl = calloc(1, sizeof(*pl));
	tal__buf_t buf = { 0 };
	tal_txn_t *txn = NULL;
	bool apex_glue = false;
	int rc;

	if (pl == NULL) {
		return TAL_ENOMEM;
	}
	rc = plan_zone(cfg, pl);
	if (rc < 0) {
		goto cleanup;
	}
	rc = tal_txn_begin(st, TAL_TXN_WRITE, &txn);
	if (rc < 0) {
		goto cleanup;
	}
	rc = check_nesting(txn, pl->z.key, pl->z.keylen);
	if (rc < 0) {
		goto cleanup;
	}
	rc = next_zone_id(txn, &pl->z.info.zone_id);
	if (rc < 0) {
		goto cleanup;
	}
	pl->z.info.serial = (uint32_t)time(NULL);
	rc = tal__zone_encode(&pl->z, &buf);
	if (rc < 0) {
		goto cleanup;
	}
	rc = tal_txn_put(txn, TAL_DB_ZONES, pl->z.key, pl->z.keylen, buf.p, buf.len, 0);
	if (rc < 0) {
		goto cleanup;
	}
	for (int i = 0; i < pl->z.info.nns; i++) {
		if (pl->in_zone[i] && pl->ns_keylen[i] == pl->z.keylen) {
			apex_glue = true;
			rc = build_node(pl, i, true, &buf);
			break;
		}
	}
	if (!apex_glue) {
		rc = build_node(pl, -1, true, &buf);
	}
	rc = rc < 0 ? rc
	            : tal_txn_put(txn, TAL_DB_NODES, pl->z.key, pl->z.keylen, buf.p, buf.len, 0);
	for (int i = 0; rc == 0 && i < pl->z.info.nns; i++) {
		if (!pl->in_zone[i] || pl->ns_keylen[i] == pl->z.keylen ||
		    pl->z.info.ns[i].naddrs == 0) {
			continue;
		}
		rc = build_node(pl, i, false, &buf);
		rc = rc < 0 ? rc
		            : tal_txn_put(txn, TAL_DB_NODES, pl->ns_key[i], pl->ns_keylen[i], buf.p,
		                          buf.len, 0);
	}
	if (rc < 0) {
		goto cleanup;
	}
	rc = tal_txn_commit(txn);
	txn = NULL;
cleanup:
	tal_txn_abort(txn);
	tal__buf_free(&buf);
	free(pl);
	return rc;
}

typedef struct {
	tal_zone_info_t *zones;
	size_t n;
	size_t cap;
} zone_list_t;

/* Reads every zone's settings in one snapshot, so callbacks run with no transaction open. */
static int zone_list(tal_store_t *st, zone_list_t *zl)
{
	tal_txn_t *txn = NULL;
	tal_cursor_t *cur = NULL;
	tal__zone_t *z = malloc(sizeof(*z));
	tal_val_t k, v;
	int rc;

	memset(zl, 0, sizeof(*zl));
	if (z == NULL) {
		return TAL_ENOMEM;
	}
	rc = tal_txn_begin(st, TAL_TXN_READ, &txn);
	if (rc < 0) {
		goto cleanup;
	}
	rc = tal_cursor_open(txn, TAL_DB_ZONES, &cur);
	if (rc < 0) {
		goto cleanup;
	}
	rc = tal_cursor_seek(cur, NULL, 0, &k, &v);
	while (rc == 0) {
		memset(z, 0, sizeof(*z));
		rc = tal__zone_decode(v.data, v.len, z);
		if (rc == 0 &&
		    tal_key_to_text(k.data, k.len, z->info.apex, sizeof(z->info.apex)) < 0) {
			rc = TAL_ECORRUPT;
		}
		if (rc < 0) {
			break;
		}
		if (zl->n == zl->cap) {
			size_t cap = zl->cap ? zl->cap * 2 : 4;
			tal_zone_info_t *nz = realloc(zl->zones, cap * sizeof(*nz));
			if (nz == NULL) {
				rc = TAL_ENOMEM;
				break;
			}
			zl->zones = nz;
			zl->cap = cap;
		}
		zl->zones[zl->n++] = z->info;
		rc = tal_cursor_next(cur, &k, &v);
	}
	if (rc == TAL_ENOTFOUND) {
		rc = 0;
	}
cleanup:
	tal_cursor_close(cur);
	tal_txn_abort(txn);
	free(z);
	if (rc < 0) {
		free(zl->zones);
		memset(zl, 0, sizeof(*zl));
	}
	return rc;
}

int tal_zone_resolve(tal_store_t *st, const char *apex, tal_zone_info_t *out)
{
	int rc;

	if (apex != NULL && apex[0] != '\0') {
		char norm[TAL_DOMAIN_TEXTSZ];
		tal_txn_t *txn = NULL;
		tal__zone_t *z;
		if (tal_domain_normalise(apex, norm) < 0) {
			return TAL_ENOZONE;
		}
		z = malloc(sizeof(*z));
		if (z == NULL) {
			return TAL_ENOMEM;
		}
		rc = tal_txn_begin(st, TAL_TXN_READ, &txn);
		if (rc == 0) {
			rc = tal__zone_load(txn, norm, z);
		}
		if (rc == 0) {
			*out = z->info;
		}
		tal_txn_abort(txn);
		free(z);
		return rc;
	}
	zone_list_t zl;
	rc = zone_list(st, &zl);
	if (rc < 0) {
		return rc;
	}
	if (zl.n == 0) {
		rc = TAL_ENOZONE;
	} else if (zl.n > 1) {
		rc = TAL_EZONE_AMBIG;
	} else {
		*out = zl.zones[0];
	}
	free(zl.zones);
	return rc;
}

int tal_zone_foreach(tal_store_t *st, int (*cb)(const tal_zone_info_t *zone, void *arg), void *arg)
{
	zone_list_t zl;
	int rc = zone_list(st, &zl);

	for (size_t i = 0; rc == 0 && i < zl.n; i++) {
		rc = cb(&zl.zones[i], arg);
	}
	free(zl.zones);
	return rc;
}
