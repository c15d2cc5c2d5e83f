/*
 * zones/tsig.c -- TSIG sign and verify (RFC 8945) with libcrypto's HMAC.
 */
/* HMAC_CTX is the HMAC interface of both OpenSSL 1.1 and 3.x. */
#define OPENSSL_API_COMPAT 0x10100000L

#include "zones/tsig.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "common/error.h"
#include "common/wire.h"

#define HDR_LEN   12
#define CLASS_ANY 255
#define MAX_HOPS  127

static const EVP_MD *alg_md(int alg)
{
	switch (alg) {
	case TAL_TSIG_HMAC_SHA1:
		return EVP_sha1();
	case TAL_TSIG_HMAC_SHA224:
		return EVP_sha224();
	case TAL_TSIG_HMAC_SHA256:
		return EVP_sha256();
	case TAL_TSIG_HMAC_SHA384:
		return EVP_sha384();
	case TAL_TSIG_HMAC_SHA512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

/* Wire form of the algorithm name ("hmac-sha256."); returns its length or 0. */
static size_t alg_wire(int alg, uint8_t *out)
{
	const char *name = tal_tsig_alg_name(alg);

	if (name == NULL) {
		return 0;
	}
	int n = tal_dname_from_text(name, out);
	return n > 0 ? (size_t)n : 0;
}

/*
 * Reads a possibly compressed name at *pos into `out` (lowercased,
 * uncompressed); advances *pos past it in place.  False when malformed.
 */
static bool read_name(const uint8_t *msg, size_t len, size_t *pos, uint8_t *out, size_t *outlen)
{
	size_t p = *pos, o = 0, after = 0;
	unsigned hops = 0;

	for (;;) {
		if (p >= len) {
			return false;
		}
		uint8_t lab = msg[p];
		if (lab == 0) {
			if (o + 1 > TAL_DNAME_MAXLEN) {
				return false;
			}
			out[o++] = 0;
			p++;
			break;
		}
		if ((lab & 0xC0) == 0xC0) {
			if (len - p < 2 || ++hops > MAX_HOPS) {
				return false;
			}
			if (after == 0) {
				after = p + 2;
			}
			size_t target = ((size_t)(lab & 0x3F) << 8) | msg[p + 1];
			if (target >= p) {
				return false;
			}
			p = target;
			continue;
		}
		if (lab > 63 || len - p < 1 + (size_t)lab || o + 1 + lab + 1 > TAL_DNAME_MAXLEN) {
			return false;
		}
		out[o++] = lab;
		for (size_t i = 0; i < lab; i++) {
			out[o++] = (uint8_t)tolower(msg[p + 1 + i]);
		}
		p += 1 + (size_t)lab;
	}
	*pos = after != 0 ? after : p;
	*outlen = o;
	return true;
}

int tal_tsig_find(const uint8_t *msg, size_t len, tal_tsig_rr_t *out)
{
	uint8_t name[TAL_DNAME_MAXLEN];
	size_t nlen, pos = HDR_LEN;

	if (len < HDR_LEN) {
		return TAL_EMALF;
	}
	uint32_t qd = tal_wire_read_u16(msg + 4);
	uint32_t rrs = (uint32_t)tal_wire_read_u16(msg + 6) + tal_wire_read_u16(msg + 8) +
	               tal_wire_read_u16(msg + 10);
	for (uint32_t i = 0; i < qd; i++) {
		if (!read_name(msg, len, &pos, name, &nlen) || len - pos < 4) {
			return TAL_EMALF;
		}
		pos += 4;
	}
	for (uint32_t i = 0; i < rrs; i++) {
		size_t start = pos;
		if (!read_name(msg, len, &pos, name, &nlen) || len - pos < 10) {
			return TAL_EMALF;
		}
		uint16_t type = tal_wire_read_u16(msg + pos);
		size_t rdlen = tal_wire_read_u16(msg + pos + 8);
		size_t rd = pos + 10;
		if (len - rd < rdlen) {
			return TAL_EMALF;
		}
		if (type == TAL_TYPE_TSIG) {
			if (i != rrs - 1 || tal_wire_read_u16(msg + 10) == 0) {
				return TAL_EMALF;
			}
			memset(out, 0, sizeof(*out));
			out->rr_off = start;
			memcpy(out->name, name, nlen);
			out->name_len = nlen;
			size_t p = rd, end = rd + rdlen;
			if (!read_name(msg, end, &p, out->alg, &out->alg_len) || end - p < 10) {
				return TAL_EMALF;
			}
			out->time_signed = ((uint64_t)tal_wire_read_u16(msg + p) << 32) |
			                   tal_wire_read_u32(msg + p + 2);
			out->fudge = tal_wire_read_u16(msg + p + 6);
			out->mac_len = tal_wire_read_u16(msg + p + 8);
			p += 10;
			if (end - p < (size_t)out->mac_len + 6) {
				return TAL_EMALF;
			}
			out->mac = msg + p;
			p += out->mac_len;
			out->orig_id = tal_wire_read_u16(msg + p);
			out->error = tal_wire_read_u16(msg + p + 2);
			out->other_len = tal_wire_read_u16(msg + p + 4);
			p += 6;
			if (end - p != out->other_len) {
				return TAL_EMALF;
			}
			out->other = msg + p;
			return 0;
		}
		pos = rd + rdlen;
	}
	return TAL_ENOTFOUND;
}

int tal_tsig_rr_keyname(const tal_tsig_rr_t *t, char *out, size_t size)
{
	char text[TAL_DNAME_TEXTSZ];

	if (tal_dname_to_text(t->name, text, sizeof(text)) < 0) {
		return TAL_EMALF;
	}
	return tal_tsig_name_normalise(text, out) == 0 && strlen(out) < size ? 0 : TAL_EMALF;
}

/* The TSIG variables of RFC 8945 §4.3.3 (or the timers alone), into `out`. */
static size_t variables(uint8_t *out, const uint8_t *name, size_t name_len, const uint8_t *alg,
                        size_t alg_len, uint64_t time_signed, uint16_t fudge, uint16_t error,
                        const uint8_t *other, size_t other_len, bool timers_only)
{
	size_t p = 0;

	if (!timers_only) {
		memcpy(out, name, name_len);
		p = name_len;
		tal_wire_write_u16(out + p, CLASS_ANY);
		tal_wire_write_u32(out + p + 2, 0);
		p += 6;
		memcpy(out + p, alg, alg_len);
		p += alg_len;
	}
	tal_wire_write_u16(out + p, (uint16_t)(time_signed >> 32));
	tal_wire_write_u32(out + p + 2, (uint32_t)time_signed);
	tal_wire_write_u16(out + p + 6, fudge);
	p += 8;
	if (!timers_only) {
		tal_wire_write_u16(out + p, error);
		tal_wire_write_u16(out + p + 2, (uint16_t)other_len);
		p += 4;
		if (other_len > 0) {
			memcpy(out + p, other, other_len);
		}
		p += other_len;
	}
	return p;
}

/*
 * HMAC over prior MAC (with its length), the message with `id` and
 * `arcount` in its header, and the variables.  Returns the MAC length or 0.
 */
static unsigned compute(const tal_tsig_key_t *key, const uint8_t *prior, size_t prior_len,
                        const uint8_t *msg, size_t len, uint16_t id, uint16_t arcount,
                        const uint8_t *vars, size_t vars_len, uint8_t *mac)
{
	const EVP_MD *md = alg_md(key->alg);
	HMAC_CTX *ctx = NULL;
	unsigned maclen = 0;
	uint8_t hdr[HDR_LEN], plen[2];
	bool ok;

	if (md == NULL || len < HDR_LEN) {
		return 0;
	}
	ctx = HMAC_CTX_new();
	if (ctx == NULL) {
		return 0;
	}
	memcpy(hdr, msg, HDR_LEN);
	tal_wire_write_u16(hdr, id);
	tal_wire_write_u16(hdr + 10, arcount);
	tal_wire_write_u16(plen, (uint16_t)prior_len);
	ok = HMAC_Init_ex(ctx, key->secret, (int)key->secret_len, md, NULL) == 1;
	if (ok && prior != NULL) {
		ok = HMAC_Update(ctx, plen, 2) == 1 && HMAC_Update(ctx, prior, prior_len) == 1;
	}
	ok = ok && HMAC_Update(ctx, hdr, HDR_LEN) == 1 &&
	     HMAC_Update(ctx, msg + HDR_LEN, len - HDR_LEN) == 1 &&
	     HMAC_Update(ctx, vars, vars_len) == 1 && HMAC_Final(ctx, mac, &maclen) == 1;
	HMAC_CTX_free(ctx);
	return ok ? maclen : 0;
}

int tal_tsig_verify(const tal_tsig_key_t *key, const uint8_t *msg, size_t len,
                    const tal_tsig_rr_t *t, const uint8_t *prior, size_t prior_len,
                    bool timers_only, uint64_t now)
{
	uint8_t alg[TAL_DNAME_MAXLEN];
	uint8_t vars[2 * TAL_DNAME_MAXLEN + 32 + 65536];
	uint8_t mac[EVP_MAX_MD_SIZE];
	size_t alen = alg_wire(key->alg, alg);

	(void)len;
	if (alen == 0 || alen != t->alg_len || memcmp(alg, t->alg, alen) != 0) {
		return TAL_TSIG_BADKEY;
	}
	size_t vlen = variables(vars, t->name, t->name_len, t->alg, t->alg_len, t->time_signed,
	                        t->fudge, t->error, t->other, t->other_len, timers_only);
	uint16_t arcount = (uint16_t)(tal_wire_read_u16(msg + 10) - 1);
	unsigned maclen = compute(key, prior, prior_len, msg, t->rr_off, t->orig_id, arcount, vars,
	                          vlen, mac);
	if (maclen == 0) {
		return TAL_TSIG_BADSIG;
	}
	/* RFC 8945 §5.2.2.1: a truncated MAC must keep at least half, and 10 octets. */
	if (t->mac_len > maclen || t->mac_len == 0) {
		return TAL_TSIG_BADSIG;
	}
	if (t->mac_len < maclen && (t->mac_len < 10 || t->mac_len < maclen / 2)) {
		return TAL_TSIG_BADSIG;
	}
	if (CRYPTO_memcmp(mac, t->mac, t->mac_len) != 0) {
		return TAL_TSIG_BADSIG;
	}
	if (t->mac_len < maclen) {
		return TAL_TSIG_BADTRUNC;
	}
	uint64_t d = now > t->time_signed ? now - t->time_signed : t->time_signed - now;
	if (d > t->fudge) {
		return TAL_TSIG_BADTIME;
	}
	return TAL_TSIG_NOERROR;
}

/* Appends a TSIG RR with the given fields; ARCOUNT + 1. */
static int append_rr(uint8_t *msg, size_t *len, size_t cap, const uint8_t *name, size_t name_len,
                     const uint8_t *alg, size_t alg_len, uint64_t time_signed, uint16_t fudge,
                     const uint8_t *mac, size_t mac_len, uint16_t error, const uint8_t *other,
                     size_t other_len)
{
	size_t rdlen = alg_len + 10 + mac_len + 6 + other_len;
	size_t need = name_len + 10 + rdlen;
	size_t p = *len;

	if (cap < p || cap - p < need) {
		return TAL_ESPACE;
	}
	memcpy(msg + p, name, name_len);
	p += name_len;
	tal_wire_write_u16(msg + p, TAL_TYPE_TSIG);
	tal_wire_write_u16(msg + p + 2, CLASS_ANY);
	tal_wire_write_u32(msg + p + 4, 0);
	tal_wire_write_u16(msg + p + 8, (uint16_t)rdlen);
	p += 10;
	memcpy(msg + p, alg, alg_len);
	p += alg_len;
	tal_wire_write_u16(msg + p, (uint16_t)(time_signed >> 32));
	tal_wire_write_u32(msg + p + 2, (uint32_t)time_signed);
	tal_wire_write_u16(msg + p + 6, fudge);
	tal_wire_write_u16(msg + p + 8, (uint16_t)mac_len);
	p += 10;
	if (mac_len > 0) {
		memcpy(msg + p, mac, mac_len);
	}
	p += mac_len;
	tal_wire_write_u16(msg + p, tal_wire_read_u16(msg)); /* original ID */
	tal_wire_write_u16(msg + p + 2, error);
	tal_wire_write_u16(msg + p + 4, (uint16_t)other_len);
	p += 6;
	if (other_len > 0) {
		memcpy(msg + p, other, other_len);
	}
	p += other_len;
	tal_wire_write_u16(msg + 10, (uint16_t)(tal_wire_read_u16(msg + 10) + 1));
	*len = p;
	return 0;
}

int tal_tsig_sign(const tal_tsig_key_t *key, uint8_t *msg, size_t *len, size_t cap,
                  const uint8_t *prior, size_t prior_len, bool timers_only, uint64_t now,
                  uint16_t error, const uint8_t *other, size_t other_len, uint8_t *mac_out,
                  size_t *mac_len)
{
	uint8_t name[TAL_DNAME_MAXLEN], alg[TAL_DNAME_MAXLEN];
	uint8_t vars[2 * TAL_DNAME_MAXLEN + 32 + 64];
	uint8_t mac[EVP_MAX_MD_SIZE];
	int nlen = tal_dname_from_text(key->name, name);
	size_t alen = alg_wire(key->alg, alg);

	if (nlen <= 0 || alen == 0 || other_len > 64 || *len < HDR_LEN) {
		return TAL_EINVAL;
	}
	size_t vlen = variables(vars, name, (size_t)nlen, alg, alen, now, TAL_TSIG_FUDGE, error,
	                        other, other_len, timers_only);
	unsigned m = compute(key, prior, prior_len, msg, *len, tal_wire_read_u16(msg),
	                     tal_wire_read_u16(msg + 10), vars, vlen, mac);
	if (m == 0 || m > TAL_TSIG_MAC_MAX) {
		return TAL_EIO;
	}
	int rc = append_rr(msg, len, cap, name, (size_t)nlen, alg, alen, now, TAL_TSIG_FUDGE, mac,
	                   m, error, other, other_len);
	if (rc != 0) {
		return rc;
	}
	memcpy(mac_out, mac, m);
	*mac_len = m;
	return 0;
}

int tal_tsig_append_error(const tal_tsig_rr_t *t, uint8_t *msg, size_t *len, size_t cap,
                          uint64_t now, uint16_t error)
{
	return append_rr(msg, len, cap, t->name, t->name_len, t->alg, t->alg_len, now,
	                 TAL_TSIG_FUDGE, NULL, 0, error, NULL, 0);
}
