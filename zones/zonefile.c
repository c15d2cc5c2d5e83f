/*
 * zones/zonefile.c -- a zone as an RFC 1035 master file (zones/zonefile.h).
 *
 * Export renders the stored wire RRs as text itself, line by line with
 * absolute owner names, because a million-policy zone must export in
 * seconds and every RR type we store (SOA, NS, A, AAAA, TXT) has a simple
 * presentation form; ldns is the reference the tests check the output
 * against.  The synthesised A view is merged into the walk so the output is
 * in DNS canonical order (RFC 4034 §6.1): "<guid>.D.Z" sorts after D.Z and
 * before any stored name below D.Z whose first label sorts after the GUID.
 *
 * Import goes through ldns_rr_new_frm_fp_l, so any master file syntax ldns
 * accepts ($ORIGIN, $TTL, relative names, parentheses) works, and errors
 * carry ldns' line numbers.
 */
#include "zones/zonefile.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldns/ldns.h>

#include "common/dname.h"
#include "common/error.h"
#include "common/node.h"
#include "common/wire.h"
#include "zones/internal.h"
#include "zones/name.h"

/*
 * Export.
 */

typedef struct {
	FILE *f;
	char line[8192];
	size_t n;
} out_t;

static void out_flush(out_t *o)
{
	if (o->n > 0) {
		fwrite(o->line, 1, o->n, o->f);
		o->n = 0;
	}
}

static void out_mem(out_t *o, const void *p, size_t n)
{
	if (sizeof(o->line) - o->n < n) {
		out_flush(o);
	}
	if (n > sizeof(o->line)) {
		fwrite(p, 1, n, o->f);
		return;
	}
	memcpy(o->line + o->n, p, n);
	o->n += n;
}

static void out_str(out_t *o, const char *s)
{
	out_mem(o, s, strlen(s));
}

static void out_u32(out_t *o, uint32_t v)
{
	char b[12];
	int n = snprintf(b, sizeof(b), "%u", v);
	out_mem(o, b, (size_t)n);
}

/* A wire name as absolute text; the root as ".". */
static int out_name(out_t *o, const uint8_t *wire)
{
	char text[TAL_DNAME_TEXTSZ];
	int n = tal_dname_to_text(wire, text, sizeof(text));

	if (n < 0) {
		return TAL_ECORRUPT;
	}
	out_mem(o, text, (size_t)n);
	if (!(n == 1 && text[0] == '.')) {
		out_mem(o, ".", 1);
	}
	return 0;
}

static void out_charstr(out_t *o, const uint8_t *s, size_t n)
{
	out_mem(o, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (c == '"' || c == '\\') {
			char b[2] = { '\\', (char)c };
			out_mem(o, b, 2);
		} else if (c < 0x20 || c >= 0x7f) {
			char b[5];
			snprintf(b, sizeof(b), "\\%03u", c);
			out_mem(o, b, 4);
		} else {
			out_mem(o, &c, 1);
		}
	}
	out_mem(o, "\"", 1);
}

/* Renders RDATA of one RR; names in RDATA are uncompressed. */
static int out_rdata(out_t *o, uint16_t type, const uint8_t *rd, uint16_t rdlen)
{
	char buf[INET6_ADDRSTRLEN];
	int m, r;

	switch (type) {
	case TAL_TYPE_A:
		if (rdlen != 4) {
			return TAL_ECORRUPT;
		}
		inet_ntop(AF_INET, rd, buf, sizeof(buf));
		out_str(o, buf);
		return 0;
	case TAL_TYPE_AAAA:
		if (rdlen != 16) {
			return TAL_ECORRUPT;
		}
		inet_ntop(AF_INET6, rd, buf, sizeof(buf));
		out_str(o, buf);
		return 0;
	case TAL_TYPE_NS:
		if (tal_dname_wire_len(rd, rdlen) != rdlen) {
			return TAL_ECORRUPT;
		}
		return out_name(o, rd);
	case TAL_TYPE_SOA:
		m = tal_dname_wire_len(rd, rdlen);
		r = m < 0 ? m : tal_dname_wire_len(rd + m, rdlen - (size_t)m);
		if (r < 0 || rdlen - (size_t)m - (size_t)r != 20) {
			return TAL_ECORRUPT;
		}
		out_name(o, rd);
		out_mem(o, " ", 1);
		out_name(o, rd + m);
		for (int i = 0; i < 5; i++) {
			out_mem(o, " ", 1);
			out_u32(o, tal_wire_read_u32(rd + m + r + 4 * i));
		}
		return 0;
	case TAL_TYPE_TXT:
		for (size_t p = 0; p < rdlen;) {
			size_t n = rd[p];
			if (rdlen - p - 1 < n) {
				return TAL_ECORRUPT;
			}
			if (p > 0) {
				out_mem(o, " ", 1);
			}
			out_charstr(o, rd + p + 1, n);
			p += 1 + n;
		}
		return 0;
	default:
		/* RFC 3597 generic form for anything else a later version stores. */
		out_str(o, "\\# ");
		out_u32(o, rdlen);
		for (size_t i = 0; i < rdlen; i++) {
			snprintf(buf, sizeof(buf), "%s%02x", i == 0 ? " " : "", rd[i]);
			out_str(o, buf);
		}
		return 0;
	}
}

static void out_type(out_t *o, uint16_t type)
{
	switch (type) {
	case TAL_TYPE_A:
		out_str(o, "A");
		break;
	case TAL_TYPE_NS:
		out_str(o, "NS");
		break;
	case TAL_TYPE_SOA:
		out_str(o, "SOA");
		break;
	case TAL_TYPE_TXT:
		out_str(o, "TXT");
		break;
	case TAL_TYPE_AAAA:
		out_str(o, "AAAA");
		break;
	default:
		out_str(o, "TYPE");
		out_u32(o, type);
	}
}

/* One RRset's RRs under owner text `owner` (absolute, with the dot). */
static int out_rrset(out_t *o, const char *owner, size_t ownerlen, const tal_rrset_view_t *rs)
{
	size_t off = 0;

	for (uint16_t i = 0; i < rs->count; i++) {
		if (rs->rrs_len - off < 10) {
			return TAL_ECORRUPT;
		}
		const uint8_t *rr = rs->rrs + off;
		uint16_t type = tal_wire_read_u16(rr);
		uint16_t rclass = tal_wire_read_u16(rr + 2);
		uint16_t rdlen = tal_wire_read_u16(rr + 8);
		if (rs->rrs_len - off - 10 < rdlen) {
			return TAL_ECORRUPT;
		}
		out_mem(o, owner, ownerlen);
		out_mem(o, "\t", 1);
		out_u32(o, tal_wire_read_u32(rr + 4));
		out_str(o, rclass == TAL_CLASS_IN   ? "\tIN\t"
		           : rclass == TAL_CLASS_CH ? "\tCH\t"
		                                    : "\t");
		out_type(o, type);
		out_mem(o, "\t", 1);
		int rc = out_rdata(o, type, rr + 10, rdlen);
		if (rc < 0) {
			return rc;
		}
		out_mem(o, "\n", 1);
		off += 10 + (size_t)rdlen;
	}
	return 0;
}

/* A policy node whose synthesised A names are still to be written. */
typedef struct {
	uint8_t key[TAL_KEY_MAXLEN];
	size_t keylen;
	char owner[TAL_DNAME_TEXTSZ];
	size_t ownerlen;
	tal_tenants_view_t t;
	uint16_t next;
} pending_t;

/* Key order of "<guid>.K" against key `k`. */
static int akey_cmp(const pending_t *p, const uint8_t *k, size_t klen)
{
	uint8_t akey[TAL_KEY_MAXLEN + 38];
	char g[TAL_TENANT_TEXTSZ];

	memcpy(akey, p->key, p->keylen);
	tal_tenant_format(p->t.ids + (size_t)p->next * TAL_TENANT_IDLEN, g);
	memcpy(akey + p->keylen, g, 36);
	akey[p->keylen + 36] = 0;
	size_t alen = p->keylen + 37;
	size_t n = alen < klen ? alen : klen;
	int c = memcmp(akey, k, n);
	if (c != 0) {
		return c;
	}
	return alen < klen ? -1 : alen > klen;
}

static void out_a_view(out_t *o, pending_t *p)
{
	char g[TAL_TENANT_TEXTSZ];

	tal_tenant_format(p->t.ids + (size_t)p->next * TAL_TENANT_IDLEN, g);
	out_mem(o, g, 36);
	out_mem(o, ".", 1);
	out_mem(o, p->owner, p->ownerlen);
	out_mem(o, "\t", 1);
	out_u32(o, p->t.ttl);
	out_str(o, "\tIN\tA\t127.0.0.2\n");
	p->next++;
}

/* Writes pending A names that sort before key `k` (all of them when k is NULL). */
static void flush_pending(out_t *o, pending_t *stack, size_t *sp, const uint8_t *k, size_t klen)
{
	while (*sp > 0) {
		pending_t *top = &stack[*sp - 1];
		if (top->next >= top->t.count) {
			(*sp)--;
			continue;
		}
		if (k != NULL && akey_cmp(top, k, klen) > 0) {
			return;
		}
		out_a_view(o, top);
	}
}

#define PENDING_MAX 128 /* a key has at most 127 labels */

int tal_zonefile_export(tal_store_t *st, const char *apex, FILE *f)
{
	tal_txn_t *txn = NULL;
	tal_cursor_t *cur = NULL;
	tal__zone_t *z = malloc(sizeof(*z));
	pending_t *stack = malloc(PENDING_MAX * sizeof(*stack));
	out_t *o = malloc(sizeof(*o));
	size_t sp = 0;
	tal_val_t k, v;
	int rc;

	if (z == NULL || stack == NULL || o == NULL) {
		rc = TAL_ENOMEM;
		goto cleanup;
	}
	o->f = f;
	o->n = 0;
	rc = tal_reader_snapshot(st, &txn);
	if (rc < 0) {
		goto cleanup;
	}
	rc = tal__zone_load(txn, apex, z);
	if (rc < 0) {
		goto cleanup;
	}
	out_str(o, "$ORIGIN ");
	out_name(o, z->wire);
	out_str(o, "\n$TTL ");
	out_u32(o, z->info.ttl);
	out_str(o, "\n");
	rc = tal_cursor_open(txn, TAL_DB_NODES, &cur);
	if (rc < 0) {
		goto cleanup;
	}
	rc = tal_cursor_seek(cur, z->key, z->keylen, &k, &v);
	while (rc == 0 && tal_key_is_below(k.data, k.len, z->key, z->keylen)) {
		uint8_t wire[TAL_DNAME_MAXLEN];
		char owner[TAL_DNAME_TEXTSZ];
		tal_rrset_view_t rs;
		tal_node_iter_t it = { 0 };
		int wl = tal_key_to_wire(k.data, k.len, wire);
		if (wl < 0 || tal_dname_to_text(wire, owner, sizeof(owner) - 1) < 0) {
			rc = TAL_ECORRUPT;
			break;
		}
		size_t ol = strlen(owner);
		owner[ol++] = '.';
		owner[ol] = '\0';
		flush_pending(o, stack, &sp, k.data, k.len);
		bool at_apex = k.len == z->keylen;
		if (at_apex) {
			/* The SOA opens the zone (RFC 1035 §5.2). */
			rc = tal_node_find(v.data, v.len, TAL_TYPE_SOA, &rs);
			rc = rc < 0 ? TAL_ECORRUPT : out_rrset(o, owner, ol, &rs);
			if (rc < 0) {
				break;
			}
		}
		while ((rc = tal_node_next(v.data, v.len, &it, &rs)) == 0) {
			if (at_apex && rs.type == TAL_TYPE_SOA) {
				continue;
			}
			rc = out_rrset(o, owner, ol, &rs);
			if (rc < 0) {
				break;
			}
		}
		if (rc != TAL_ENOTFOUND) {
			rc = rc < 0 ? rc : TAL_ECORRUPT;
			break;
		}
		tal_tenants_view_t t;
		if (tal_node_tenants(v.data, v.len, &t) < 0) {
			rc = TAL_ECORRUPT;
			break;
		}
		if (t.present && t.count > 0) {
			if (sp == PENDING_MAX) {
				rc = TAL_ECORRUPT;
				break;
			}
			pending_t *p = &stack[sp++];
			memcpy(p->key, k.data, k.len);
			p->keylen = k.len;
			memcpy(p->owner, owner, ol + 1);
			p->ownerlen = ol;
			p->t = t;
			p->next = 0;
		}
		rc = tal_cursor_next(cur, &k, &v);
	}
	if (rc == TAL_ENOTFOUND || rc == 0) {
		flush_pending(o, stack, &sp, NULL, 0);
		rc = 0;
	}
	out_flush(o);
	if (rc == 0 && (fflush(f) != 0 || ferror(f))) {
		rc = TAL_EIO;
	}
cleanup:
	tal_cursor_close(cur);
	tal_txn_abort(txn);
	free(o);
	free(stack);
	free(z);
	return rc;
}

/*
 * Import.
 */

/* A (domain, tenant) pair seen in a TXT or an A-view RR, for the cross-check. */
typedef struct {
	uint32_t dom_off; /* NUL-terminated domain in the arena */
	uint8_t id[16];
	int line;
} pair_t;

typedef struct {
	pair_t *v;
	size_t n;
	size_t cap;
} pairs_t;

static int pairs_add(pairs_t *ps, tal__buf_t *arena, const char *domain, const uint8_t *id,
                     int line)
{
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 64;
		pair_t *v = realloc(ps->v, cap * sizeof(*v));
		if (v == NULL) {
			return TAL_ENOMEM;
		}
		ps->v = v;
		ps->cap = cap;
	}
	if (arena->len > UINT32_MAX - TAL_DOMAIN_TEXTSZ) {
		return TAL_ENOMEM;
	}
	pair_t *p = &ps->v[ps->n];
	p->dom_off = (uint32_t)arena->len;
	int rc = tal__buf_put(arena, domain, strlen(domain) + 1);
	if (rc < 0) {
		return rc;
	}
	memcpy(p->id, id, 16);
	p->line = line;
	ps->n++;
	return 0;
}

static int pair_cmp(const void *a, const void *b, void *arg)
{
	const pair_t *x = a;
	const pair_t *y = b;
	const char *arena = arg;
	int c = strcmp(arena + x->dom_off, arena + y->dom_off);

	return c != 0 ? c : memcmp(x->id, y->id, 16);
}

static void set_err(int *errline, int line, char *errmsg, size_t errmsgsz, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

static void set_err(int *errline, int line, char *errmsg, size_t errmsgsz, const char *fmt, ...)
{
	if (errline != NULL) {
		*errline = line;
	}
	if (errmsg != NULL && errmsgsz > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(errmsg, errmsgsz, fmt, ap);
		va_end(ap);
	}
}

/*
 * The domain D of an owner D.Z, as normalised text; `owner` is below the
 * apex.  0 or a tal_domain_normalise error (with the text in `raw`).
 */
static int owner_domain(const ldns_rdf *owner, size_t skip_labels, const ldns_rdf *apex,
                        char *domain, char *raw, size_t rawsz)
{
	size_t olabels = ldns_dname_label_count(owner);
	size_t alabels = ldns_dname_label_count(apex);
	const uint8_t *w = ldns_rdf_data(owner);
	size_t p = 0;
	char text[TAL_DNAME_TEXTSZ];
	size_t t = 0;

	for (size_t i = 0; i < skip_labels; i++) {
		p += 1 + (size_t)w[p];
	}
	for (size_t i = skip_labels; i + alabels < olabels; i++) {
		uint8_t len = w[p];
		if (t > 0) {
			text[t++] = '.';
		}
		for (uint8_t j = 0; j < len; j++) {
			uint8_t c = w[p + 1 + j];
			if (c > 0x20 && c < 0x7f && c != '.' && c != '\\') {
				text[t++] = (char)c;
			} else {
				t += (size_t)snprintf(text + t, 5, "\\%03u", c);
			}
		}
		p += 1 + (size_t)len;
	}
	text[t] = '\0';
	snprintf(raw, rawsz, "%s", text);
	return tal_domain_normalise(text, domain);
}

static const char *type_name(ldns_rr_type t, char *buf, size_t bufsz)
{
	const ldns_rr_descriptor *d = ldns_rr_descript((uint16_t)t);
	if (d != NULL && d->_name != NULL) {
		return d->_name;
	}
	snprintf(buf, bufsz, "TYPE%u", (unsigned)t);
	return buf;
}

int tal_zonefile_import(FILE *f, const char *fname, tal_change_t *ch, int *errline, char *errmsg,
                        size_t errmsgsz)
{
	const char *apex_text = tal__change_apex(ch);
	ldns_rdf *apex = NULL;
	ldns_rdf *origin = NULL;
	ldns_rdf *prev = NULL;
	ldns_rr *rr = NULL;
	tal__buf_t arena = { 0 };
	pairs_t txt = { 0 }, aview = { 0 };
	uint32_t ttl = 3600;
	int line = 0;
	int rc = 0;
	bool saw_soa = false;
	char dname[TAL_DOMAIN_TEXTSZ];
	char raw[TAL_DNAME_TEXTSZ];
	char tbuf[16];

	(void)fname;
	if (errline != NULL) {
		*errline = 0;
	}
	if (errmsg != NULL && errmsgsz > 0) {
		errmsg[0] = '\0';
	}
	char apexdot[TAL_DOMAIN_TEXTSZ + 2];
	snprintf(apexdot, sizeof(apexdot), "%s.", apex_text);
	apex = ldns_dname_new_frm_str(apexdot);
	origin = ldns_dname_new_frm_str(apexdot);
	if (apex == NULL || origin == NULL) {
		rc = TAL_ENOMEM;
		goto cleanup;
	}
	ldns_dname2canonical(apex);
	while (!feof(f)) {
		ldns_status s = ldns_rr_new_frm_fp_l(&rr, f, &ttl, &origin, &prev, &line);
		if (s == LDNS_STATUS_SYNTAX_EMPTY || s == LDNS_STATUS_SYNTAX_TTL ||
		    s == LDNS_STATUS_SYNTAX_ORIGIN) {
			continue;
		}
		if (s != LDNS_STATUS_OK) {
			rc = s == LDNS_STATUS_MEM_ERR ? TAL_ENOMEM : TAL_EZONEFILE;
			set_err(errline, line, errmsg, errmsgsz, "%s", ldns_get_errorstr_by_id(s));
			goto cleanup;
		}
		ldns_rdf *owner = ldns_rr_owner(rr);
		ldns_rr_type type = ldns_rr_get_type(rr);
		ldns_dname2canonical(owner);
		bool at_apex = ldns_dname_compare(owner, apex) == 0;
		if (!at_apex && !ldns_dname_is_subdomain(owner, apex)) {
			char *o = ldns_rdf2str(owner);
			rc = TAL_ENOTINZONE;
			set_err(errline, line, errmsg, errmsgsz, "\"%s\" %s", o ? o : "?",
			        tal_strerror(rc));
			free(o);
			goto cleanup;
		}
		if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
			rc = TAL_EZONEFILE;
			set_err(errline, line, errmsg, errmsgsz, "only class IN is supported");
			goto cleanup;
		}
		if (type == LDNS_RR_TYPE_SOA) {
			if (!at_apex) {
				rc = TAL_EZONEFILE;
				set_err(errline, line, errmsg, errmsgsz,
				        "SOA record below the apex");
				goto cleanup;
			}
			saw_soa = true;
		} else if (type == LDNS_RR_TYPE_NS) {
			if (!at_apex) {
				rc = TAL_EZONEFILE;
				set_err(errline, line, errmsg, errmsgsz,
				        "NS record below the apex (tallow zones have no "
				        "delegations)");
				goto cleanup;
			}
		} else if (type == LDNS_RR_TYPE_TXT && !at_apex) {
			uint8_t str[LDNS_MAX_RDFLEN];
			size_t n = 0;
			for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
				const ldns_rdf *rd = ldns_rr_rdf(rr, i);
				const uint8_t *d = ldns_rdf_data(rd);
				if (ldns_rdf_size(rd) < 1 || n + d[0] > sizeof(str)) {
					continue;
				}
				memcpy(str + n, d + 1, d[0]);
				n += d[0];
			}
			tal_tenant_t tenant;
			bool has_tid;
			int pr = tal__txt_parse(str, n, &has_tid, tenant.id, tenant.dkim);
			if (pr == 0) {
				ldns_rr_free(rr);
				rr = NULL;
				continue; /* not a TAL1 record */
			}
			if (pr < 0) {
				rc = pr == TAL_ESYNTAX ? TAL_EZONEFILE : pr;
				set_err(errline, line, errmsg, errmsgsz, "\"%.*s\" %s", (int)n, str,
				        pr == TAL_ESYNTAX ? "is not a valid TAL1 record"
				                          : tal_strerror(pr));
				goto cleanup;
			}
			rc = owner_domain(owner, 0, apex, dname, raw, sizeof(raw));
			if (rc < 0) {
				set_err(errline, line, errmsg, errmsgsz, "\"%s\" %s", raw,
				        tal_strerror(rc));
				goto cleanup;
			}
			if (has_tid) {
				rc = tal_change_add(ch, dname, &tenant);
				rc = rc < 0 ? rc : pairs_add(&txt, &arena, dname, tenant.id, line);
			} else {
				rc = tal_change_add_none(ch, dname);
			}
			if (rc < 0) {
				set_err(errline, line, errmsg, errmsgsz, "\"%s\" %s", dname,
				        tal_strerror(rc));
				goto cleanup;
			}
		} else if (type == LDNS_RR_TYPE_TXT) {
			/* A TXT at the apex is no policy; keep the import going. */
		} else if (type == LDNS_RR_TYPE_A && !at_apex) {
			const uint8_t *w = ldns_rdf_data(owner);
			uint8_t id[16];
			if (w[0] == 36 && tal_guid_label_parse(w + 1, 36, id)) {
				const ldns_rdf *rd = ldns_rr_rdf(rr, 0);
				static const uint8_t a127[4] = { 127, 0, 0, 2 };
				if (rd == NULL || ldns_rdf_size(rd) != 4 ||
				    memcmp(ldns_rdf_data(rd), a127, 4) != 0) {
					rc = TAL_EZONEFILE;
					set_err(errline, line, errmsg, errmsgsz,
					        "an A-view record must have the address 127.0.0.2");
					goto cleanup;
				}
				rc = owner_domain(owner, 1, apex, dname, raw, sizeof(raw));
				rc = rc < 0 ? rc : pairs_add(&aview, &arena, dname, id, line);
				if (rc < 0) {
					set_err(errline, line, errmsg, errmsgsz, "\"%s\" %s", raw,
					        tal_strerror(rc));
					goto cleanup;
				}
			}
		} else if (type != LDNS_RR_TYPE_A && type != LDNS_RR_TYPE_AAAA) {
			rc = TAL_EZONEFILE;
			set_err(errline, line, errmsg, errmsgsz,
			        "record type %s is not supported here",
			        type_name(type, tbuf, sizeof(tbuf)));
			goto cleanup;
		}
		ldns_rr_free(rr);
		rr = NULL;
	}
	if (!saw_soa) {
		rc = TAL_EZONEFILE;
		set_err(errline, line, errmsg, errmsgsz, "no SOA record for %s", apex_text);
		goto cleanup;
	}
	/* The A view must say exactly what the TXT RRs say. */
	if (txt.n > 1) {
		qsort_r(txt.v, txt.n, sizeof(pair_t), pair_cmp, arena.p);
	}
	if (aview.n > 1) {
		qsort_r(aview.v, aview.n, sizeof(pair_t), pair_cmp, arena.p);
	}
	size_t i = 0, j = 0;
	while (i < txt.n || j < aview.n) {
		int c = i == txt.n     ? 1
		        : j == aview.n ? -1
		                       : pair_cmp(&txt.v[i], &aview.v[j], arena.p);
		if (c == 0) {
			i++;
			j++;
			continue;
		}
		const pair_t *p = c < 0 ? &txt.v[i] : &aview.v[j];
		char g[TAL_TENANT_TEXTSZ];
		tal_tenant_format(p->id, g);
		rc = TAL_EZONEFILE;
		set_err(errline, p->line, errmsg, errmsgsz,
		        c < 0 ? "tenant %s of %s has a TXT record but no A record"
		              : "tenant %s of %s has an A record but no TXT record",
		        g, (const char *)arena.p + p->dom_off);
		goto cleanup;
	}
cleanup:
	ldns_rr_free(rr);
	ldns_rdf_deep_free(apex);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	tal__buf_free(&arena);
	free(txt.v);
	free(aview.v);
	return rc;
}
