/*
 * zones/xfrconf.c -- TSIG keys, transfer access lists and notify targets in
 * TAL_DB_CONFIG (layout in zones/xfrconf.h).
 *
 * Lists are small (at most TAL_XFR_MAX_ENTRIES), so a change rewrites the
 * whole value of one zone's list in one transaction.
 */
#include "zones/xfrconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/wire.h"
#include "zones/internal.h"
#include "zones/journal.h"

#define CONF_VERSION 1
#define ACL_FIXED    19 /* family, prefix, address, key length */
#define NTFY_FIXED   20 /* family, port, address, key length */

static const struct {
	int alg;
	const char *name;
} algs[] = {
	{ TAL_TSIG_HMAC_SHA1, "hmac-sha1" },     { TAL_TSIG_HMAC_SHA224, "hmac-sha224" },
	{ TAL_TSIG_HMAC_SHA256, "hmac-sha256" }, { TAL_TSIG_HMAC_SHA384, "hmac-sha384" },
	{ TAL_TSIG_HMAC_SHA512, "hmac-sha512" },
};

int tal_tsig_alg_from_text(const char *text)
{
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		if (strcasecmp(text, algs[i].name) == 0) {
			return algs[i].alg;
		}
	}
	return 0;
}

const char *tal_tsig_alg_name(int alg)
{
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		if (algs[i].alg == alg) {
			return algs[i].name;
		}
	}
	return NULL;
}

int tal_tsig_name_normalise(const char *text, char *out)
{
	uint8_t wire[TAL_DNAME_MAXLEN];
	size_t n = strlen(text);

	if (n > 0 && text[n - 1] == '.') {
		n--;
	}
	if (n == 0 || n > TAL_XFR_KEYNAME_MAX) {
		return TAL_EDNAME;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.') {
			return TAL_EDNAME;
		}
		out[i] = (char)tolower(c);
	}
	out[n] = '\0';
	if (tal_dname_from_text(out, wire) < 0) {
		return TAL_EDNAME;
	}
	return 0;
}

static int parse_addr(const char *text, tal_xfr_entry_t *e)
{
	memset(e->addr, 0, sizeof(e->addr));
	if (inet_pton(AF_INET, text, e->addr) == 1) {
		e->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, text, e->addr) == 1) {
		e->family = 6;
		return 0;
	}
	return TAL_EADDR;
}

int tal_xfr_prefix_parse(const char *text, tal_xfr_entry_t *e)
{
	char buf[64];
	char *slash, *end;
	long len;

	memset(e, 0, sizeof(*e));
	if (strlen(text) >= sizeof(buf)) {
		return TAL_EADDR;
	}
	strcpy(buf, text);
	slash = strchr(buf, '/');
	if (slash != NULL) {
		*slash = '\0';
	}
	if (parse_addr(buf, e) != 0) {
		return TAL_EADDR;
	}
	int max = e->family == 4 ? 32 : 128;
	e->prefix = max;
	if (slash != NULL) {
		if (slash[1] < '0' || slash[1] > '9') {
			return TAL_EADDR;
		}
		len = strtol(slash + 1, &end, 10);
		if (*end != '\0' || len < 0 || len > max) {
			return TAL_EADDR;
		}
		e->prefix = (int)len;
	}
	/* Host bits cleared, so equal prefixes compare equal. */
	for (int bit = e->prefix; bit < 128; bit++) {
		e->addr[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
	}
	return 0;
}

int tal_xfr_target_parse(const char *text, tal_xfr_entry_t *e)
{
	char buf[64];
	char *at, *end;
	long port = 53;

	memset(e, 0, sizeof(*e));
	if (strlen(text) >= sizeof(buf)) {
		return TAL_EADDR;
	}
	strcpy(buf, text);
	at = strrchr(buf, '@');
	if (at != NULL && strchr(at, ']') != NULL) {
		at = NULL;
	}
	if (at != NULL) {
		*at = '\0';
		if (at[1] < '0' || at[1] > '9') {
			return TAL_EADDR;
		}
		port = strtol(at + 1, &end, 10);
		if (*end != '\0' || port < 1 || port > 65535) {
			return TAL_EADDR;
		}
	}
	char *addr = buf;
	size_t n = strlen(buf);
	if (n > 2 && buf[0] == '[' && buf[n - 1] == ']') {
		/* "[2001:db8::53]@5300": the brackets of an IPv6 address with a port. */
		buf[n - 1] = '\0';
		addr = buf + 1;
	}
	if (parse_addr(addr, e) != 0) {
		return TAL_EADDR;
	}
	e->port = (uint16_t)port;
	e->prefix = e->family == 4 ? 32 : 128;
	return 0;
}

void tal_xfr_entry_text(const tal_xfr_entry_t *e, bool notify, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(e->family == 4 ? AF_INET : AF_INET6, e->addr, a, sizeof(a));
	if (notify) {
		snprintf(buf, size, "%s@%u", a, e->port);
	} else {
		snprintf(buf, size, "%s/%d", a, e->prefix);
	}
}

/* Config keys. */
static size_t key_tsig(const char *name, uint8_t *key)
{
	size_t n = strlen(name);

	memcpy(key, "tsig", 5); /* with its 0x00 */
	memcpy(key + 5, name, n);
	return 5 + n;
}

static size_t key_list(uint32_t zone_id, bool notify, uint8_t *key)
{
	memcpy(key, notify ? "ntfy" : "xacl", 5);
	tal_wire_write_u32(key + 5, zone_id);
	return 9;
}

static int key_decode(const uint8_t *v, size_t len, const char *name, tal_tsig_key_t *key)
{
	if (len < 4 || v[0] != CONF_VERSION) {
		return TAL_ECORRUPT;
	}
	size_t n = tal_wire_read_u16(v + 2);
	if (n > TAL_TSIG_SECRET_MAX || len != 4 + n || tal_tsig_alg_name(v[1]) == NULL) {
		return TAL_ECORRUPT;
	}
	memset(key, 0, sizeof(*key));
	snprintf(key->name, sizeof(key->name), "%s", name);
	key->alg = v[1];
	memcpy(key->secret, v + 4, n);
	key->secret_len = n;
	return 0;
}

int tal_tsig_key_get(tal_txn_t *txn, const char *name, tal_tsig_key_t *key)
{
	uint8_t k[8 + TAL_XFR_KEYNAME_MAX];
	tal_val_t v;

	if (strlen(name) > TAL_XFR_KEYNAME_MAX || name[0] == '\0') {
		return TAL_ENOTFOUND;
	}
	size_t klen = key_tsig(name, k);
	int rc = tal_txn_get(txn, TAL_DB_CONFIG, k, klen, &v);
	if (rc != 0) {
		return rc;
	}
	return key_decode(v.data, v.len, name, key);
}

int tal_tsig_key_foreach(tal_txn_t *txn, int (*cb)(const tal_tsig_key_t *key, void *arg), void *arg)
{
	tal_cursor_t *cur = NULL;
	tal_val_t k, v;
	tal_tsig_key_t key;
	char name[TAL_XFR_KEYNAME_MAX + 1];
	int rc;

	rc = tal_cursor_open(txn, TAL_DB_CONFIG, &cur);
	if (rc != 0) {
		return rc;
	}
	rc = tal_cursor_seek(cur, (const uint8_t *)"tsig", 5, &k, &v);
	while (rc == 0) {
		if (k.len < 6 || memcmp(k.data, "tsig", 5) != 0) {
			break;
		}
		if (k.len - 5 > TAL_XFR_KEYNAME_MAX) {
			rc = TAL_ECORRUPT;
			goto cleanup;
		}
		memcpy(name, k.data + 5, k.len - 5);
		name[k.len - 5] = '\0';
		rc = key_decode(v.data, v.len, name, &key);
		if (rc == 0) {
			rc = cb(&key, arg);
		}
		if (rc != 0) {
			goto cleanup;
		}
		rc = tal_cursor_next(cur, &k, &v);
	}
	rc = rc == TAL_ENOTFOUND || rc == 0 ? 0 : rc;
cleanup:
	tal_cursor_close(cur);
	return rc;
}

/* Decodes entry `*off` of a list value; advances *off.  0, TAL_ENOTFOUND at the end. */
static int entry_next(const uint8_t *v, size_t len, bool notify, size_t *off, tal_xfr_entry_t *e)
{
	size_t p = *off;
	size_t fixed = notify ? NTFY_FIXED : ACL_FIXED;

	if (p == len) {
		return TAL_ENOTFOUND;
	}
	if (len - p < fixed) {
		return TAL_ECORRUPT;
	}
	memset(e, 0, sizeof(*e));
	e->family = v[p];
	if (notify) {
		e->port = tal_wire_read_u16(v + p + 1);
		e->prefix = e->family == 4 ? 32 : 128;
	} else {
		e->prefix = v[p + 1];
	}
	memcpy(e->addr, v + p + 2 + (notify ? 1 : 0), 16);
	size_t kl = v[p + fixed - 1];
	if ((e->family != 4 && e->family != 6) || e->prefix > (e->family == 4 ? 32 : 128) ||
	    len - p - fixed < kl) {
		return TAL_ECORRUPT;
	}
	memcpy(e->key, v + p + fixed, kl);
	e->key[kl] = '\0';
	*off = p + fixed + kl;
	return 0;
}

static void entry_encode(const tal_xfr_entry_t *e, bool notify, uint8_t *out, size_t *len)
{
	size_t kl = strlen(e->key);

	out[0] = (uint8_t)e->family;
	if (notify) {
		tal_wire_write_u16(out + 1, e->port);
		memcpy(out + 3, e->addr, 16);
		out[19] = (uint8_t)kl;
		memcpy(out + 20, e->key, kl);
		*len = NTFY_FIXED + kl;
	} else {
		out[1] = (uint8_t)e->prefix;
		memcpy(out + 2, e->addr, 16);
		out[18] = (uint8_t)kl;
		memcpy(out + 19, e->key, kl);
		*len = ACL_FIXED + kl;
	}
}

static bool entry_equal(const tal_xfr_entry_t *a, const tal_xfr_entry_t *b)
{
	return a->family == b->family && a->prefix == b->prefix && a->port == b->port &&
	       memcmp(a->addr, b->addr, 16) == 0 && strcmp(a->key, b->key) == 0;
}

int tal_xfr_list_foreach(tal_txn_t *txn, uint32_t zone_id, bool notify,
                         int (*cb)(const tal_xfr_entry_t *e, void *arg), void *arg)
{
	uint8_t k[16];
	tal_val_t v;
	tal_xfr_entry_t e;
	size_t off = 1;
	int rc;

	rc = tal_txn_get(txn, TAL_DB_CONFIG, k, key_list(zone_id, notify, k), &v);
	if (rc == TAL_ENOTFOUND) {
		return 0;
	}
	if (rc != 0) {
		return rc;
	}
	if (v.len < 1 || v.data[0] != CONF_VERSION) {
		return TAL_ECORRUPT;
	}
	while ((rc = entry_next(v.data, v.len, notify, &off, &e)) == 0) {
		rc = cb(&e, arg);
		if (rc != 0) {
			return rc;
		}
	}
	return rc == TAL_ENOTFOUND ? 0 : rc;
}

static bool prefix_match(const tal_xfr_entry_t *e, int family, const uint8_t *addr)
{
	int bits = e->prefix;

	if (family != e->family) {
		return false;
	}
	if (memcmp(e->addr, addr, (size_t)bits / 8) != 0) {
		return false;
	}
	if (bits % 8 != 0) {
		uint8_t mask = (uint8_t)(0xFF << (8 - bits % 8));
		return (e->addr[bits / 8] & mask) == (addr[bits / 8] & mask);
	}
	return true;
}

typedef struct {
	int family;
	uint8_t addr[16];
	const char *key;
	bool allowed;
} acl_arg_t;

static int acl_cb(const tal_xfr_entry_t *e, void *arg)
{
	acl_arg_t *a = arg;

	if (prefix_match(e, a->family, a->addr) &&
	    (e->key[0] == '\0' || (a->key != NULL && strcmp(e->key, a->key) == 0))) {
		a->allowed = true;
		return 1;
	}
	return 0;
}

int tal_xfr_acl_check(tal_txn_t *txn, uint32_t zone_id, int family, const uint8_t *addr,
                      const char *key)
{
	acl_arg_t a = { .family = family, .key = key, .allowed = false };

	memset(a.addr, 0, sizeof(a.addr));
	memcpy(a.addr, addr, family == 4 ? 4 : 16);
	if (key != NULL && key[0] == '\0') {
		a.key = NULL;
	}
	int rc = tal_xfr_list_foreach(txn, zone_id, false, acl_cb, &a);
	if (rc < 0) {
		return rc;
	}
	return a.allowed ? 1 : 0;
}

/*
 * Management.
 */

int tal_tsig_key_put(tal_store_t *st, const tal_tsig_key_t *key)
{
	uint8_t k[8 + TAL_XFR_KEYNAME_MAX];
	uint8_t v[4 + TAL_TSIG_SECRET_MAX];
	tal_txn_t *txn = NULL;
	tal_val_t old;
	int rc;

	if (key->secret_len == 0 || key->secret_len > TAL_TSIG_SECRET_MAX ||
	    tal_tsig_alg_name(key->alg) == NULL || key->name[0] == '\0') {
		return TAL_EINVAL;
	}
	size_t klen = key_tsig(key->name, k);
	v[0] = CONF_VERSION;
	v[1] = (uint8_t)key->alg;
	tal_wire_write_u16(v + 2, (uint16_t)key->secret_len);
	memcpy(v + 4, key->secret, key->secret_len);

	rc = tal_txn_begin(st, TAL_TXN_WRITE, &txn);
	if (rc != 0) {
		return rc;
	}
	rc = tal_txn_get(txn, TAL_DB_CONFIG, k, klen, &old);
	if (rc == 0) {
		rc = TAL_EEXIST;
		goto cleanup;
	}
	if (rc != TAL_ENOTFOUND) {
		goto cleanup;
	}
	rc = tal_txn_put(txn, TAL_DB_CONFIG, k, klen, v, 4 + key->secret_len, 0);
	if (rc != 0) {
		goto cleanup;
	}
	return tal_txn_commit(txn);
cleanup:
	tal_txn_abort(txn);
	return rc;
}

static int uses_key_cb(const tal_xfr_entry_t *e, void *arg)
{
	return strcmp(e->key, arg) == 0 ? 1 : 0;
}

/* Returns 1 when any list of any zone names `name`. */
static int key_in_use(tal_txn_t *txn, const char *name)
{
	tal_cursor_t *cur = NULL;
	tal_val_t k, v;
	int rc = tal_cursor_open(txn, TAL_DB_CONFIG, &cur);

	if (rc != 0) {
		return rc;
	}
	for (rc = tal_cursor_seek(cur, NULL, 0, &k, &v); rc == 0;
	     rc = tal_cursor_next(cur, &k, &v)) {
		bool acl = k.len == 9 && memcmp(k.data, "xacl", 5) == 0;
		bool ntfy = k.len == 9 && memcmp(k.data, "ntfy", 5) == 0;
		if (!acl && !ntfy) {
			continue;
		}
		size_t off = 1;
		tal_xfr_entry_t e;
		int r;
		while ((r = entry_next(v.data, v.len, ntfy, &off, &e)) == 0) {
			if (uses_key_cb(&e, (void *)name)) {
				tal_cursor_close(cur);
				return 1;
			}
		}
	}
	tal_cursor_close(cur);
	return rc == TAL_ENOTFOUND ? 0 : rc;
}

int tal_tsig_key_del(tal_store_t *st, const char *name)
{
	uint8_t k[8 + TAL_XFR_KEYNAME_MAX];
	tal_txn_t *txn = NULL;
	int rc;

	if (strlen(name) > TAL_XFR_KEYNAME_MAX) {
		return TAL_ENOTFOUND;
	}
	size_t klen = key_tsig(name, k);
	rc = tal_txn_begin(st, TAL_TXN_WRITE, &txn);
	if (rc != 0) {
		return rc;
	}
	rc = key_in_use(txn, name);
	if (rc != 0) {
		rc = rc > 0 ? TAL_EBUSY : rc;
		goto cleanup;
	}
	rc = tal_txn_del(txn, TAL_DB_CONFIG, k, klen);
	if (rc != 0) {
		goto cleanup;
	}
	return tal_txn_commit(txn);
cleanup:
	tal_txn_abort(txn);
	return rc;
}

/* Rewrites a list: keeps every entry but `drop` (when given), appends `add` (when given). */
static int list_edit(tal_store_t *st, uint32_t zone_id, bool notify, const tal_xfr_entry_t *add,
                     const tal_xfr_entry_t *drop)
{
	uint8_t k[16];
	size_t klen = key_list(zone_id, notify, k);
	tal_txn_t *txn = NULL;
	tal_val_t v;
	tal_xfr_entry_t e;
	uint8_t *out = NULL;
	size_t olen = 1, off = 1, n = 0;
	bool found = false;
	int rc;

	rc = tal_txn_begin(st, TAL_TXN_WRITE, &txn);
	if (rc != 0) {
		return rc;
	}
	if (add != NULL && add->key[0] != '\0') {
		tal_tsig_key_t key;
		rc = tal_tsig_key_get(txn, add->key, &key);
		memset(&key, 0, sizeof(key));
		if (rc != 0) {
			goto cleanup;
		}
	}
	rc = tal_txn_get(txn, TAL_DB_CONFIG, k, klen, &v);
	if (rc == TAL_ENOTFOUND) {
		v.data = (const uint8_t *)"\x01";
		v.len = 1;
	} else if (rc != 0) {
		goto cleanup;
	} else if (v.len < 1 || v.data[0] != CONF_VERSION) {
		rc = TAL_ECORRUPT;
		goto cleanup;
	}
	out = malloc(v.len + NTFY_FIXED + TAL_XFR_KEYNAME_MAX);
	if (out == NULL) {
		rc = TAL_ENOMEM;
		goto cleanup;
	}
	out[0] = CONF_VERSION;
	while ((rc = entry_next(v.data, v.len, notify, &off, &e)) == 0) {
		if (add != NULL && entry_equal(&e, add)) {
			rc = TAL_EEXIST;
			goto cleanup;
		}
		if (drop != NULL && entry_equal(&e, drop)) {
			found = true;
			continue;
		}
		size_t el;
		entry_encode(&e, notify, out + olen, &el);
		olen += el;
		n++;
	}
	if (rc != TAL_ENOTFOUND) {
		goto cleanup;
	}
	if (drop != NULL && !found) {
		rc = TAL_ENOTFOUND;
		goto cleanup;
	}
	if (add != NULL) {
		if (n >= TAL_XFR_MAX_ENTRIES) {
			rc = TAL_ERANGE;
			goto cleanup;
		}
		size_t el;
		entry_encode(add, notify, out + olen, &el);
		olen += el;
	}
	rc = olen == 1 ? tal_txn_del(txn, TAL_DB_CONFIG, k, klen)
	               : tal_txn_put(txn, TAL_DB_CONFIG, k, klen, out, olen, 0);
	if (rc != 0) {
		goto cleanup;
	}
	free(out);
	return tal_txn_commit(txn);
cleanup:
	free(out);
	tal_txn_abort(txn);
	return rc;
}

int tal_xfr_list_add(tal_store_t *st, uint32_t zone_id, bool notify, const tal_xfr_entry_t *e)
{
	return list_edit(st, zone_id, notify, e, NULL);
}

int tal_xfr_list_del(tal_store_t *st, uint32_t zone_id, bool notify, const tal_xfr_entry_t *e)
{
	return list_edit(st, zone_id, notify, NULL, e);
}

int tal_xfr_journal_trim(tal_store_t *st, const char *apex, uint64_t keep, uint64_t *dropped)
{
	tal_txn_t *txn = NULL;
	tal__zone_t z;
	tal__buf_t buf = { 0 };
	uint8_t key[TAL_JOURNAL_KEYLEN];
	int rc;

	*dropped = 0;
	rc = tal_txn_begin(st, TAL_TXN_WRITE, &txn);
	if (rc != 0) {
		return rc;
	}
	rc = tal__zone_load(txn, apex, &z);
	if (rc != 0) {
		goto cleanup;
	}
	while (z.js.first < z.js.next && z.js.next - z.js.first > keep) {
		tal_val_t v;
		tal_wire_write_u32(key, z.info.zone_id);
		tal_wire_write_u64(key + 4, z.js.first);
		rc = tal_txn_get(txn, TAL_DB_JOURNAL, key, sizeof(key), &v);
		if (rc == 0) {
			uint64_t old = v.len;
			rc = tal_txn_del(txn, TAL_DB_JOURNAL, key, sizeof(key));
			z.js.bytes = z.js.bytes > old ? z.js.bytes - old : 0;
			(*dropped)++;
		} else if (rc == TAL_ENOTFOUND) {
			rc = 0;
		}
		if (rc != 0) {
			goto cleanup;
		}
		z.js.first++;
	}
	if (z.js.first == z.js.next) {
		z.js.bytes = 0;
	}
	rc = tal__zone_encode(&z, &buf);
	if (rc == 0) {
		rc = tal_txn_put(txn, TAL_DB_ZONES, z.key, z.keylen, buf.p, buf.len, 0);
	}
	tal__buf_free(&buf);
	if (rc != 0) {
		goto cleanup;
	}
	return tal_txn_commit(txn);
cleanup:
	tal_txn_abort(txn);
	return rc;
}
