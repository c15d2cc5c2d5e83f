/*
 * common/dname.c -- conversions between wire, text and key forms of names.
 *
 * The key form is the heart of the store's layout (see dname.h).  Keys are
 * built label by label from the end of the wire name; the label offsets are
 * collected first because wire labels can only be walked forwards.
 */
#include <stdio.h>

#include "common/dname.h"
#include "common/error.h"

int tal_dname_from_text(const char *text, uint8_t *wire)
{
	size_t len = 0;
	const char *p;

	if (text == NULL) {
		return TAL_EINVAL;
	}
	if (text[0] == '\0' || (text[0] == '.' && text[1] == '\0')) {
		wire[0] = 0;
		return 1;
	}
	p = text;
	while (*p != '\0') {
		const char *dot = strchr(p, '.');
		size_t lablen = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (lablen == 0) {
			return TAL_ELABEL_EMPTY;
		}
		if (lablen > TAL_LABEL_MAXLEN) {
			return TAL_ELABEL_LEN;
		}
		if (len + 1 + lablen + 1 > TAL_DNAME_MAXLEN) {
			return TAL_EDNAME_LEN;
		}
		wire[len++] = (uint8_t)lablen;
		memcpy(wire + len, p, lablen);
		len += lablen;
		if (dot == NULL) {
			break;
		}
		p = dot + 1;
	}
	wire[len++] = 0;
	return (int)len;
}

int tal_dname_wire_len(const uint8_t *wire, size_t avail)
{
	size_t pos = 0;

	for (;;) {
		if (pos >= avail) {
			return TAL_EMALF;
		}
		uint8_t lab = wire[pos];
		if (lab == 0) {
			pos++;
			break;
		}
		if (lab > TAL_LABEL_MAXLEN) {
			return TAL_EMALF; /* compression pointer or reserved type */
		}
		pos += 1 + (size_t)lab;
		if (pos >= TAL_DNAME_MAXLEN) {
			return TAL_EMALF;
		}
	}
	return (int)pos;
}

int tal_dname_to_text(const uint8_t *wire, char *text, size_t textsize)
{
	size_t out = 0;
	size_t pos = 0;

	if (textsize < 2) {
		return TAL_ESPACE;
	}
	if (wire[0] == 0) {
		text[0] = '.';
		text[1] = '\0';
		return 1;
	}
	while (wire[pos] != 0) {
		uint8_t lab = wire[pos++];
		if (out > 0) {
			if (out + 1 >= textsize) {
				return TAL_ESPACE;
			}
			text[out++] = '.';
		}
		for (uint8_t i = 0; i < lab; i++) {
			uint8_t c = wire[pos++];
			if (c > 0x20 && c < 0x7f && c != '.' && c != '\\' && c != '"' && c != ';' &&
			    c != '(' && c != ')' && c != '$' && c != '@') {
				if (out + 1 >= textsize) {
					return TAL_ESPACE;
				}
				text[out++] = (char)c;
			} else {
				if (out + 4 >= textsize) {
					return TAL_ESPACE;
				}
				snprintf(text + out, 5, "\\%03u", c);
				out += 4;
			}
		}
	}
	text[out] = '\0';
	return (int)out;
}

int tal_dname_to_key(const uint8_t *wire, size_t wirelen, uint8_t *key)
{
	uint8_t offs[128];
	size_t nlabels = 0;
	size_t pos = 0;
	size_t out = 0;

	if (wirelen == 0 || wirelen > TAL_DNAME_MAXLEN) {
		return TAL_EMALF;
	}
	while (pos < wirelen && wire[pos] != 0) {
		if (wire[pos] > TAL_LABEL_MAXLEN || nlabels >= sizeof(offs)) {
			return TAL_EMALF;
		}
		offs[nlabels++] = (uint8_t)pos;
		pos += 1 + (size_t)wire[pos];
	}
	if (pos + 1 != wirelen) {
		return TAL_EMALF;
	}
	while (nlabels > 0) {
		size_t off = offs[--nlabels];
		uint8_t lab = wire[off];
		for (size_t i = 1; i <= lab; i++) {
			uint8_t c = wire[off + i];
			if (c >= 'A' && c <= 'Z') {
				c = (uint8_t)(c + ('a' - 'A'));
			} else if (c == 0) {
				c = 1;
			}
			key[out++] = c;
		}
		key[out++] = 0;
	}
	return (int)out;
}

int tal_key_to_wire(const uint8_t *key, size_t keylen, uint8_t *wire)
{
	size_t ends[128];
	size_t nlabels = 0;
	size_t start = 0;
	size_t out = 0;

	if (keylen > TAL_KEY_MAXLEN) {
		return TAL_EMALF;
	}
	for (size_t i = 0; i < keylen; i++) {
		if (key[i] == 0) {
			size_t lablen = i - start;
			if (lablen == 0 || lablen > TAL_LABEL_MAXLEN || nlabels >= 128) {
				return TAL_EMALF;
			}
			ends[nlabels++] = i;
			start = i + 1;
		}
	}
	if (start != keylen) {
		return TAL_EMALF;
	}
	while (nlabels > 0) {
		size_t end = ends[--nlabels];
		size_t begin = nlabels > 0 ? ends[nlabels - 1] + 1 : 0;
		wire[out++] = (uint8_t)(end - begin);
		memcpy(wire + out, key + begin, end - begin);
		out += end - begin;
	}
	wire[out++] = 0;
	return (int)out;
}

int tal_key_from_text(const char *text, uint8_t *key)
{
	uint8_t wire[TAL_DNAME_MAXLEN];
	int len = tal_dname_from_text(text, wire);
	if (len < 0) {
		return len;
	}
	return tal_dname_to_key(wire, (size_t)len, key);
}

int tal_key_to_text(const uint8_t *key, size_t keylen, char *text, size_t textsize)
{
	uint8_t wire[TAL_DNAME_MAXLEN];
	int len = tal_key_to_wire(key, keylen, wire);
	if (len < 0) {
		return len;
	}
	return tal_dname_to_text(wire, text, textsize);
}

int tal_key_labels(const uint8_t *key, size_t keylen)
{
	int n = 0;
	for (size_t i = 0; i < keylen; i++) {
		n += key[i] == 0;
	}
	return n;
}
