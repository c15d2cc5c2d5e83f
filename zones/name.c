/*
 * zones/name.c -- validation and normalisation of domains, tenant IDs and
 * DKIM signing domains (zones/name.h).
 *
 * Plain ASCII host names are checked and lowercased here in one pass, with
 * no allocation: an import normalises a domain per line, so this is on the
 * bulk path.  Only names with non-ASCII octets or A-labels ("xn--") go
 * through libidn2, which applies the UTS #46 mapping and validates the
 * Punycode, so "Bücher.example" and "xn--bcher-kva.example" normalise to the
 * same key and a broken A-label is refused instead of being published.
 */
#include "zones/name.h"

#include <idn2.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/node.h"

#define TAL_DOMAIN_MAXLEN 253

static bool has_non_ascii(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x80) {
			return true;
		}
	}
	return false;
}

static bool has_alabel(const char *s)
{
	const char *p = s;

	for (;;) {
		if ((p[0] | 0x20) == 'x' && (p[1] | 0x20) == 'n' && p[2] == '-' && p[3] == '-') {
			return true;
		}
		p = strchr(p, '.');
		if (p == NULL) {
			return false;
		}
		p++;
	}
}

/*
 * IDNA 2008 non-transitional processing is what current browsers and MTAs
 * do ("faß.de" stays distinct from "fass.de"); names that only transitional
 * processing accepts (some deviation characters in older registrations) are
 * still taken, as libidn2's own idn2 tool does.
 */
static int to_alabels(const char *text, char *out, size_t outsz)
{
	char *ascii = NULL;
	int rc = idn2_to_ascii_8z(text, &ascii, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);

	if (rc != IDN2_OK) {
		rc = idn2_to_ascii_8z(text, &ascii, IDN2_TRANSITIONAL | IDN2_NFC_INPUT);
	}
	if (rc != IDN2_OK) {
		return rc == IDN2_MALLOC ? TAL_ENOMEM : TAL_EIDN;
	}
	size_t n = strlen(ascii);
	if (n >= outsz) {
		idn2_free(ascii);
		return TAL_EDNAME_LEN;
	}
	memcpy(out, ascii, n + 1);
	idn2_free(ascii);
	return 0;
}

static bool is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

/* Checks an ASCII name (trailing dot already removed) and writes it lowercased. */
static int check_ascii(const char *s, size_t len, char *out)
{
	size_t start = 0;
	bool last_numeric = true;

	if (len == 0) {
		return TAL_EDNAME;
	}
	if (len > TAL_DOMAIN_MAXLEN) {
		return TAL_EDNAME_LEN;
	}
	while (start <= len) {
		const char *dot = memchr(s + start, '.', len - start);
		size_t end = dot != NULL ? (size_t)(dot - s) : len;
		size_t lablen = end - start;
		if (lablen == 0) {
			return TAL_ELABEL_EMPTY;
		}
		if (lablen > 63) {
			return TAL_ELABEL_LEN;
		}
		last_numeric = true;
		for (size_t i = start; i < end; i++) {
			unsigned char c = (unsigned char)s[i];
			if (!is_ldh(c)) {
				return TAL_ELABEL_CHAR;
			}
			if (c < '0' || c > '9') {
				last_numeric = false;
			}
			out[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
		}
		if (s[start] == '-' || s[end - 1] == '-') {
			return TAL_ELABEL_HYPHEN;
		}
		uint8_t id[16];
		if (lablen == 36 && tal_guid_label_parse((const uint8_t *)s + start, 36, id)) {
			return TAL_ELABEL_GUID;
		}
		if (end == len) {
			break;
		}
		out[end] = '.';
		start = end + 1;
	}
	/* An all-numeric top label is an IP address, never a mail domain (RFC 1123 §2.1). */
	if (last_numeric) {
		return TAL_EDNAME;
	}
	out[len] = '\0';
	return 0;
}

int tal_domain_normalise(const char *text, char *out)
{
	char buf[1024];
	const char *s = text;
	size_t len;

	if (text == NULL) {
		return TAL_EDNAME;
	}
	len = strlen(text);
	if (len >= sizeof(buf)) {
		return TAL_EDNAME_LEN;
	}
	if (has_non_ascii(text) || has_alabel(text)) {
		if (len > 0 && text[len - 1] == '.' && (len < 2 || text[len - 2] == '.')) {
			return TAL_ELABEL_EMPTY;
		}
		int rc = to_alabels(text, buf, sizeof(buf));
		if (rc < 0) {
			return rc;
		}
		s = buf;
		len = strlen(buf);
	}
	if (len > 0 && s[len - 1] == '.') {
		len--;
		if (len == 0) {
			return TAL_EDNAME;
		}
	}
	return check_ascii(s, len, out);
}

int tal_domain_fits_zone(const char *domain, const char *apex)
{
	/*
	 * Wire length of "<guid>.<domain>.<apex>": each text name of n
	 * characters takes n + 1 octets on the wire without the root, the
	 * GUID label 37, and the root one more.
	 */
	size_t wire = 37 + strlen(domain) + 1 + strlen(apex) + 1 + 1;

	return wire <= 255 ? 0 : TAL_EOWNER_LEN;
}

/* Hex digit values plus one; zero marks a non-digit.  Tenant IDs are parsed per CSV line. */
#define HX(c, v) [c] = (v) + 1
static const uint8_t hexv[256] = {
	HX('0', 0),  HX('1', 1),  HX('2', 2),  HX('3', 3),  HX('4', 4),  HX('5', 5),
	HX('6', 6),  HX('7', 7),  HX('8', 8),  HX('9', 9),  HX('a', 10), HX('b', 11),
	HX('c', 12), HX('d', 13), HX('e', 14), HX('f', 15), HX('A', 10), HX('B', 11),
	HX('C', 12), HX('D', 13), HX('E', 14), HX('F', 15),
};
#undef HX

/* Parses 16 hex pairs at the given offsets; false on any non-digit. */
static bool hex16(const unsigned char *s, const uint8_t *offs, uint8_t *id)
{
	unsigned bad = 0;

	for (int i = 0; i < 16; i++) {
		unsigned hi = hexv[s[offs[i]]];
		unsigned lo = hexv[s[offs[i] + 1]];
		bad |= (hi == 0) | (lo == 0);
		id[i] = (uint8_t)((hi - 1) << 4 | (lo - 1));
	}
	return bad == 0;
}

int tal_tenant_parse(const char *text, uint8_t id[16])
{
	size_t len;
	const char *s = text;
	uint8_t tmp[16];

	if (text == NULL) {
		return TAL_ETENANT;
	}
	len = strlen(text);
	if (len >= 2 && s[0] == '{' && s[len - 1] == '}') {
		s++;
		len -= 2;
	}
	static const uint8_t offs36[16] = { 0,  2,  4,  6,  9,  11, 14, 16,
		                            19, 21, 24, 26, 28, 30, 32, 34 };
	static const uint8_t offs32[16] = { 0,  2,  4,  6,  8,  10, 12, 14,
		                            16, 18, 20, 22, 24, 26, 28, 30 };
	const unsigned char *u = (const unsigned char *)s;
	if (len == 36) {
		if (u[8] != '-' || u[13] != '-' || u[18] != '-' || u[23] != '-' ||
		    !hex16(u, offs36, tmp)) {
			return TAL_ETENANT;
		}
	} else if (len == 32) {
		if (!hex16(u, offs32, tmp)) {
			return TAL_ETENANT;
		}
	} else {
		return TAL_ETENANT;
	}
	memcpy(id, tmp, 16);
	return 0;
}

void tal_tenant_format(const uint8_t id[16], char *out)
{
	static const char hex[] = "0123456789abcdef";
	static const uint8_t offs[16] = {
		0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34
	};

	for (size_t i = 0; i < 16; i++) {
		out[offs[i]] = hex[id[i] >> 4];
		out[offs[i] + 1] = hex[id[i] & 0x0f];
	}
	out[8] = out[13] = out[18] = out[23] = '-';
	out[36] = '\0';
}

int tal_dkim_normalise(const char *text, char *out)
{
	int rc = tal_domain_normalise(text, out);

	if (rc == TAL_ENOMEM) {
		return rc;
	}
	return rc < 0 ? TAL_EDKIM : 0;
}
