/*
 * tools/relay/name.c -- domain and tenant ID normalisation for the relay
 * side.
 *
 * The relay must build exactly the owner name the server publishes, so the
 * rules are those of zones/name.h (lowercase A-labels, LDH, 253 characters,
 * GUID any case with optional braces).  They are repeated here so that the
 * relay tools link libunbound and libidn2 only, not the store and ldns.
 */
#include <ctype.h>
#include <idn2.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tools/relay/relay.h"

static bool is_ascii(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x80) {
			return false;
		}
	}
	return true;
}

static int check_ldh(const char *name)
{
	size_t total = strlen(name);

	if (total == 0) {
		return TAL_EDNAME;
	}
	if (total > 253) {
		return TAL_EDNAME_LEN;
	}
	const char *label = name;
	for (;;) {
		const char *dot = strchr(label, '.');
		size_t len = dot != NULL ? (size_t)(dot - label) : strlen(label);
		if (len == 0) {
			return TAL_ELABEL_EMPTY;
		}
		if (len > 63) {
			return TAL_ELABEL_LEN;
		}
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)label[i];
			if (!isalnum(c) && c != '-') {
				return TAL_ELABEL_CHAR;
			}
		}
		if (label[0] == '-' || label[len - 1] == '-') {
			return TAL_ELABEL_HYPHEN;
		}
		if (dot == NULL) {
			return 0;
		}
		label = dot + 1;
	}
}

int tal_relay_domain_normalise(const char *text, char *out)
{
	char buf[TAL_RELAY_NAMESZ * 4];
	size_t len;
	int rc;

	if (text == NULL || out == NULL) {
		return TAL_EDNAME;
	}
	len = strlen(text);
	if (len == 0) {
		return TAL_EDNAME;
	}
	if (len >= sizeof(buf)) {
		return TAL_EDNAME_LEN;
	}
	memcpy(buf, text, len + 1);
	if (len > 1 && buf[len - 1] == '.') {
		buf[--len] = '\0';
	}
	if (is_ascii(buf)) {
		if (len >= TAL_RELAY_NAMESZ) {
			return TAL_EDNAME_LEN;
		}
		for (size_t i = 0; i <= len; i++) {
			out[i] = (char)tolower((unsigned char)buf[i]);
		}
	} else {
		char *ace = NULL;
		if (idn2_to_ascii_8z(buf, &ace, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) != IDN2_OK) {
			return TAL_EIDN;
		}
		size_t alen = strlen(ace);
		if (alen >= TAL_RELAY_NAMESZ) {
			idn2_free(ace);
			return TAL_EDNAME_LEN;
		}
		for (size_t i = 0; i <= alen; i++) {
			out[i] = (char)tolower((unsigned char)ace[i]);
		}
		idn2_free(ace);
	}
	rc = check_ldh(out);
	if (rc != 0) {
		out[0] = '\0';
	}
	return rc;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	c = tolower(c);
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	return -1;
}

int tal_relay_tenant_parse(const char *text, size_t len, uint8_t id[16])
{
	if (text == NULL) {
		return TAL_ETENANT;
	}
	if (len == 38 && text[0] == '{' && text[37] == '}') {
		text++;
		len -= 2;
	}
	if (len != 36) {
		return TAL_ETENANT;
	}
	size_t n = 0;
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (text[i] != '-') {
				return TAL_ETENANT;
			}
			continue;
		}
		int hi = hexval((unsigned char)text[i]);
		int lo = hexval((unsigned char)text[i + 1]);
		if (hi < 0 || lo < 0) {
			return TAL_ETENANT;
		}
		id[n++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	return 0;
}

void tal_relay_tenant_format(const uint8_t id[16], char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10) {
			out[o++] = '-';
		}
		out[o++] = hex[id[i] >> 4];
		out[o++] = hex[id[i] & 0x0f];
	}
	out[o] = '\0';
}
