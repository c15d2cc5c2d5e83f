/*
 * tools/relay/txt.c -- the TAL1 TXT record parser and the per-zone decision.
 *
 * Records come from the network, so everything is bounded by the given
 * length: the text is never assumed to be NUL-terminated and may contain
 * NULs or any octet.  The parser only reads; it copies nothing but the dkim
 * domain, which is checked to fit before it is normalised.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "tools/relay/relay.h"

#define TAL1_VERSION "v=TAL1"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static void trim(const char **s, const char **e)
{
	while (*s < *e && is_blank(**s)) {
		(*s)++;
	}
	while (*e > *s && is_blank((*e)[-1])) {
		(*e)--;
	}
}

static bool tag_is(const char *s, size_t len, const char *name)
{
	size_t n = strlen(name);
	if (len != n) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (tolower((unsigned char)s[i]) != name[i]) {
			return false;
		}
	}
	return true;
}

/* Quotes at most 40 octets of untrusted text, escaping what is not printable. */
static void quote(char *out, size_t outsz, const char *s, size_t len)
{
	size_t o = 0;
	size_t max = len > 40 ? 40 : len;

	for (size_t i = 0; i < max && o + 5 < outsz; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			out[o++] = (char)c;
		} else {
			o += (size_t)snprintf(out + o, outsz - o, "\\%03o", c);
		}
	}
	if (max < len && o + 4 < outsz) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o < outsz ? o : outsz - 1] = '\0';
}

static void bad(tal_relay_txt_t *out, const char *what, const char *s, size_t len)
{
	char q[180];

	out->kind = TAL_RELAY_TXT_BAD;
	out->dkim[0] = '\0';
	memset(out->tid, 0, sizeof(out->tid));
	if (s != NULL) {
		quote(q, sizeof(q), s, len);
		snprintf(out->why, sizeof(out->why), "%s \"%s\"", what, q);
	} else {
		snprintf(out->why, sizeof(out->why), "%s", what);
	}
}

void tal_relay_txt_parse_text(const char *text, size_t len, tal_relay_txt_t *out)
{
	const size_t vlen = sizeof(TAL1_VERSION) - 1;
	const char *p, *end;
	bool have_tid = false, have_dkim = false;

	memset(out, 0, sizeof(*out));
	out->kind = TAL_RELAY_TXT_OTHER;
	if (text == NULL || len < vlen || memcmp(text, TAL1_VERSION, vlen) != 0) {
		return;
	}
	p = text + vlen;
	end = text + len;
	while (p < end && is_blank(*p)) {
		p++;
	}
	if (p < end && *p != ';') {
		/* "v=TAL10", "v=TAL1x", "v=TAL1 tid=...": not this version's record. */
		return;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c < 0x20 || c >= 0x7f) {
			if (c != '\t') {
				char why[64];
				snprintf(why, sizeof(why), "octet 0x%02x at offset %zu in", c, i);
				bad(out, why, text, len);
				return;
			}
		}
	}
	out->kind = TAL_RELAY_TXT_POLICY;
	while (p < end) {
		const char *term, *term_end, *eq;
		p++; /* the ';' */
		term = p;
		term_end = memchr(p, ';', (size_t)(end - p));
		if (term_end == NULL) {
			term_end = end;
		}
		p = term_end;
		trim(&term, &term_end);
		if (term == term_end) {
			continue;
		}
		eq = memchr(term, '=', (size_t)(term_end - term));
		if (eq == NULL) {
			bad(out, "term without '=':", term, (size_t)(term_end - term));
			return;
		}
		const char *tag = term, *tag_end = eq;
		const char *val = eq + 1, *val_end = term_end;
		trim(&tag, &tag_end);
		trim(&val, &val_end);
		size_t tlen = (size_t)(tag_end - tag), vl = (size_t)(val_end - val);
		if (tag_is(tag, tlen, "tid")) {
			if (have_tid) {
				bad(out, "tid given twice:", val, vl);
				return;
			}
			if (tal_relay_tenant_parse(val, vl, out->tid) != 0) {
				bad(out, "bad tid", val, vl);
				return;
			}
			have_tid = true;
		} else if (tag_is(tag, tlen, "dkim")) {
			char name[TAL_RELAY_NAMESZ];
			if (have_dkim) {
				bad(out, "dkim given twice:", val, vl);
				return;
			}
			if (vl == 0 || vl >= sizeof(name)) {
				bad(out, "bad dkim domain", val, vl);
				return;
			}
			memcpy(name, val, vl);
			name[vl] = '\0';
			if (tal_relay_domain_normalise(name, out->dkim) != 0) {
				bad(out, "bad dkim domain", val, vl);
				return;
			}
			have_dkim = true;
		} else if (tlen == 0) {
			bad(out, "term without a tag:", term, (size_t)(term_end - term));
			return;
		} else if (tag_is(tag, tlen, "v")) {
			bad(out, "v given twice:", val, vl);
			return;
		}
		/* Unknown tags are ignored so the format can grow (DESIGN.md). */
	}
	if (have_tid) {
		out->kind = TAL_RELAY_TXT_TENANT;
	} else if (have_dkim) {
		char dkim[TAL_RELAY_NAMESZ];
		memcpy(dkim, out->dkim, sizeof(dkim));
		bad(out, "dkim without tid", dkim, strlen(dkim));
	}
}

int tal_relay_txt_parse_rdata(const uint8_t *rdata, size_t len, tal_relay_txt_t *out)
{
	/* TXT RDATA is at most 65535 octets; its text is shorter. */
	static __thread char text[65536];
	size_t tlen = 0, off = 0;

	while (off < len) {
		size_t n = rdata[off++];
		if (n > len - off) {
			memset(out, 0, sizeof(*out));
			bad(out, "TXT character-string runs past the end of the record", NULL, 0);
			return TAL_EMALF;
		}
		memcpy(text + tlen, rdata + off, n);
		tlen += n;
		off += n;
	}
	tal_relay_txt_parse_text(text, tlen, out);
	return 0;
}

static void append(char *buf, size_t bufsz, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void append(char *buf, size_t bufsz, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 1 < bufsz) {
		va_start(ap, fmt);
		vsnprintf(buf + used, bufsz - used, fmt, ap);
		va_end(ap);
	}
}

void tal_relay_decide(const uint8_t *const *rdata, const size_t *rdlen, size_t n,
                      const uint8_t tenant[16], const char *owner, tal_relay_result_t *res)
{
	tal_relay_txt_t txt;
	unsigned policies = 0, tenants = 0, malformed = 0;
	bool listed = false;
	char first_bad[256] = "";

	res->dkim[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		tal_relay_txt_parse_rdata(rdata[i], rdlen[i], &txt);
		switch (txt.kind) {
		case TAL_RELAY_TXT_OTHER:
			break;
		case TAL_RELAY_TXT_POLICY:
			policies++;
			break;
		case TAL_RELAY_TXT_TENANT:
			policies++;
			tenants++;
			if (!listed && memcmp(txt.tid, tenant, 16) == 0) {
				listed = true;
				snprintf(res->dkim, sizeof(res->dkim), "%s", txt.dkim);
			}
			break;
		case TAL_RELAY_TXT_BAD:
			if (malformed++ == 0) {
				snprintf(first_bad, sizeof(first_bad), "%s", txt.why);
			}
			break;
		}
	}
	res->ntenants = tenants;
	if (listed) {
		res->decision = TAL_RELAY_ALLOW;
		snprintf(res->reason, sizeof(res->reason), "tenant listed at %s", owner);
		if (res->dkim[0] != '\0') {
			append(res->reason, sizeof(res->reason), " (dkim=%s)", res->dkim);
		}
	} else if (policies > 0 || malformed > 0) {
		res->decision = TAL_RELAY_DENY;
		if (tenants == 0) {
			snprintf(res->reason, sizeof(res->reason), "policy at %s allows no tenant",
			         owner);
		} else {
			snprintf(res->reason, sizeof(res->reason),
			         "tenant not listed in the policy at %s (%u tenants listed)", owner,
			         tenants);
		}
	} else {
		res->decision = TAL_RELAY_NONE;
		snprintf(res->reason, sizeof(res->reason), "no TAL1 record at %s", owner);
	}
	if (malformed > 0) {
		append(res->reason, sizeof(res->reason), "; ignored %u malformed TAL1 record%s: %s",
		       malformed, malformed > 1 ? "s" : "", first_bad);
	}
}
