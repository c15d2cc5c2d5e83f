/*
 * zones/policy.c -- reading and changing tenant allowlists (zones/policy.h).
 *
 * A change is an array of fixed-size operation records plus one arena
 * for the domain keys and DKIM names they point into, so queuing a million
 * pairs is a million appends and a handful of reallocations.  Commit sorts
 * the records once by (key, order of addition) -- the key order is the
 * store's order, so the nodes are then read and written front to back -- and
 * settles each domain in one step: read the stored node, replay that
 * domain's operations on its tenant list, render the node and the journal
 * difference, write.  Replace mode adds one cursor walk over the zone to
 * find the policies the change does not name.
 *
 * The node of a policy keeps any RRsets it has besides the TXT RRset (a
 * name can be both a policy domain and the glue of a name server): only the
 * TXT RRset and the tenant section belong to the policy.
 */
#include "zones/policy.h"

#include <stdlib.h>
#include <string.h>

#include "common/dname.h"
#include "common/error.h"
#include "common/node.h"
#include "common/wire.h"
#include "zones/internal.h"
#include "zones/journal.h"
#include "zones/name.h"

enum {
	OP_ADD = 1,
	OP_ADD_NONE = 2,
	OP_REMOVE = 3,
	OP_REMOVE_DOMAIN = 4,
};

#define PFX_WORDS 3
#define PFX_LEN   (PFX_WORDS * 8)

typedef struct {
	/*
	 * The first PFX_LEN key octets, big-endian, zero-padded: keys never
	 * hold two zero octets in a row, so comparing these integers orders
	 * keys as memcmp does, and most comparisons end here.
	 */
	uint64_t pfx[PFX_WORDS];
	uint32_t key_off; /* domain key (relative to the apex) in the arena */
	uint32_t seq;     /* order of addition, for a stable sort */
	uint32_t dkim_off;
	uint8_t key_len;
	uint8_t kind;
	uint16_t dkim_len;
	uint8_t id[16];
} op_t;

struct tal_change {
	char apex[TAL_DOMAIN_TEXTSZ];
	bool replace;
	op_t *ops;
	size_t nops;
	size_t cap;
	tal__buf_t arena;
};

#define TXT_PREFIX     "v=TAL1"
#define TXT_TID        "; tid="
#define TXT_DKIM       "; dkim="
#define TXT_TENANT_LEN (sizeof(TXT_PREFIX) - 1 + sizeof(TXT_TID) - 1 + 36)
#define TXT_RR_MAX     (10 + 1 + 255)
#define DKIM_MAX       (255 - TXT_TENANT_LEN - (sizeof(TXT_DKIM) - 1))

/*
 * TXT parsing, shared with zone file import.
 */

static const uint8_t *skip_blanks(const uint8_t *p, const uint8_t *end)
{
	while (p < end && (*p == ' ' || *p == '\t')) {
		p++;
	}
	return p;
}

int tal__txt_parse(const uint8_t *s, size_t n, bool *has_tid, uint8_t id[16], char *dkim)
{
	const uint8_t *p = s;
	const uint8_t *end = s + n;
	size_t pl = sizeof(TXT_PREFIX) - 1;

	*has_tid = false;
	dkim[0] = '\0';
	if (n < pl || memcmp(s, TXT_PREFIX, pl) != 0) {
		return 0;
	}
	p = skip_blanks(s + pl, end);
	if (p < end && *p != ';') {
		return 0; /* "v=TAL10" or similar: not ours */
	}
	while (p < end) {
		char tag[16];
		char val[TAL_DOMAIN_TEXTSZ];
		const uint8_t *semi;
		p = skip_blanks(p + 1, end); /* past ';' */
		semi = memchr(p, ';', (size_t)(end - p));
		if (semi == NULL) {
			semi = end;
		}
		const uint8_t *eq = memchr(p, '=', (size_t)(semi - p));
		if (eq == NULL) {
			if (skip_blanks(p, semi) == semi) {
				p = semi;
				continue; /* empty element, e.g. a trailing ';' */
			}
			return TAL_ESYNTAX;
		}
		const uint8_t *te = eq;
		while (te > p && (te[-1] == ' ' || te[-1] == '\t')) {
			te--;
		}
		const uint8_t *vs = skip_blanks(eq + 1, semi);
		const uint8_t *ve = semi;
		while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t')) {
			ve--;
		}
		size_t tl = (size_t)(te - p);
		size_t vl = (size_t)(ve - vs);
		if (tl == 0 || tl >= sizeof(tag) || vl >= sizeof(val)) {
			if (tl == 3 && memcmp(p, "tid", 3) == 0) {
				return TAL_ETENANT;
			}
			if (tl == 4 && memcmp(p, "dkim", 4) == 0) {
				return TAL_EDKIM;
			}
			p = semi;
			continue;
		}
		memcpy(tag, p, tl);
		tag[tl] = '\0';
		memcpy(val, vs, vl);
		val[vl] = '\0';
		if (strcmp(tag, "tid") == 0) {
			if (*has_tid) {
				return TAL_ESYNTAX;
			}
			if (tal_tenant_parse(val, id) < 0) {
				return TAL_ETENANT;
			}
			*has_tid = true;
		} else if (strcmp(tag, "dkim") == 0) {
			if (tal_dkim_normalise(val, dkim) < 0) {
				return TAL_EDKIM;
			}
		}
		p = semi;
	}
	return 1;
}

/* Renders one TXT RR without owner (TYPE..RDATA); returns its length. */
static size_t txt_render(uint8_t *out, uint32_t ttl, const uint8_t *id, const char *dkim,
                         size_t dkim_len)
{
	uint8_t *s = out + 11;
	size_t n = sizeof(TXT_PREFIX) - 1;

	memcpy(s, TXT_PREFIX, n);
	if (id != NULL) {
		memcpy(s + n, TXT_TID, sizeof(TXT_TID) - 1);
		n += sizeof(TXT_TID) - 1;
		char g[TAL_TENANT_TEXTSZ];
		tal_tenant_format(id, g);
		memcpy(s + n, g, 36);
		n += 36;
		if (dkim_len > 0) {
			memcpy(s + n, TXT_DKIM, sizeof(TXT_DKIM) - 1);
			n += sizeof(TXT_DKIM) - 1;
			memcpy(s + n, dkim, dkim_len);
			n += dkim_len;
		}
	}
	tal_wire_write_u16(out, TAL_TYPE_TXT);
	tal_wire_write_u16(out + 2, TAL_CLASS_IN);
	tal_wire_write_u32(out + 4, ttl);
	tal_wire_write_u16(out + 8, (uint16_t)(n + 1));
	out[10] = (uint8_t)n;
	return 11 + n;
}

/*
 * Reading a policy node.
 */

/* One tenant of a node being worked on; the text it points to is borrowed. */
typedef struct {
	uint8_t id[16];
	const char *dkim; /* not NUL-terminated */
	uint16_t dkim_len;
	uint16_t rr_len; /* the stored TXT RR (TYPE..RDATA), when read from a node */
	const uint8_t *rr;
} wt_t;

typedef struct {
	wt_t *v;
	size_t n;
	size_t cap;
} wt_list_t;

static int wt_push(wt_list_t *l, wt_t **out)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		wt_t *v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL) {
			return TAL_ENOMEM;
		}
		l->v = v;
		l->cap = cap;
	}
	*out = &l->v[l->n++];
	return 0;
}

static int wt_cmp(const void *a, const void *b)
{
	return memcmp(((const wt_t *)a)->id, ((const wt_t *)b)->id, 16);
}

/*
 * Reads the tenants of a stored TXT RRset into `l` (appended); the deny-all
 * "v=TAL1" adds none.  The dkim and RR pointers point into the node and
 * live as long as it does.  0, TAL_ENOMEM or TAL_ECORRUPT.
 */
static int node_read_txt(const tal_rrset_view_t *rs, wt_list_t *l)
{
	size_t off = 0;

	for (uint16_t i = 0; i < rs->count; i++) {
		if (rs->rrs_len - off < 11) {
			return TAL_ECORRUPT;
		}
		const uint8_t *rr = rs->rrs + off;
		uint16_t rdlen = tal_wire_read_u16(rr + 8);
		if (rs->rrs_len - off - 10 < rdlen || rdlen < 1 || rr[10] + 1u != rdlen) {
			return TAL_ECORRUPT;
		}
		const uint8_t *s = rr + 11;
		size_t n = rr[10];
		off += 10 + (size_t)rdlen;
		/*
		 * Our own records: "v=TAL1; tid=<36>[; dkim=<d>]".  Read them by
		 * position rather than with the general tag parser; they are
		 * read for every touched domain of a bulk commit.
		 */
		if (n == sizeof(TXT_PREFIX) - 1) {
			continue;
		}
		if (n < TXT_TENANT_LEN || memcmp(s, TXT_PREFIX TXT_TID, 12) != 0) {
			return TAL_ECORRUPT;
		}
		wt_t *t;
		int rc = wt_push(l, &t);
		if (rc < 0) {
			return rc;
		}
		if (!tal_guid_label_parse(s + 12, 36, t->id)) {
			return TAL_ECORRUPT;
		}
		t->rr = rr;
		t->rr_len = (uint16_t)(10 + rdlen);
		t->dkim = NULL;
		t->dkim_len = 0;
		if (n > TXT_TENANT_LEN) {
			size_t dl = sizeof(TXT_DKIM) - 1;
			if (n < TXT_TENANT_LEN + dl ||
			    memcmp(s + TXT_TENANT_LEN, TXT_DKIM, dl) != 0) {
				return TAL_ECORRUPT;
			}
			t->dkim = (const char *)s + TXT_TENANT_LEN + dl;
			t->dkim_len = (uint16_t)(n - TXT_TENANT_LEN - dl);
		}
	}
	return off == rs->rrs_len ? 0 : TAL_ECORRUPT;
}

/* Fills a tal_policy_t's tenants from a node; `p->tenants` is grown as needed. */
static int policy_from_node(const uint8_t *node, size_t len, tal_policy_t *p, size_t *cap,
                            wt_list_t *scratch)
{
	tal_rrset_view_t rs;
	int rc = tal_node_find(node, len, TAL_TYPE_TXT, &rs);

	p->ntenants = 0;
	if (rc == TAL_ENOTFOUND) {
		return TAL_ECORRUPT;
	}
	if (rc < 0) {
		return TAL_ECORRUPT;
	}
	scratch->n = 0;
	rc = node_read_txt(&rs, scratch);
	if (rc < 0) {
		return rc;
	}
	if (scratch->n > *cap) {
		tal_tenant_t *t = realloc(p->tenants, scratch->n * sizeof(*t));
		if (t == NULL) {
			return TAL_ENOMEM;
		}
		p->tenants = t;
		*cap = scratch->n;
	}
	for (size_t i = 0; i < scratch->n; i++) {
		tal_tenant_t *t = &p->tenants[i];
		memcpy(t->id, scratch->v[i].id, 16);
		size_t dl = scratch->v[i].dkim_len;
		if (dl >= sizeof(t->dkim)) {
			return TAL_ECORRUPT;
		}
		if (dl > 0) {
			memcpy(t->dkim, scratch->v[i].dkim, dl);
		}
		t->dkim[dl] = '\0';
	}
	p->ntenants = (int)scratch->n;
	return 0;
}

static bool is_policy_node(const uint8_t *v, size_t len)
{
	return len >= TAL_NODE_HDRLEN && v[0] == TAL_NODE_VERSION && (v[1] & TAL_NODE_F_TENANTS);
}

int tal_policy_get(tal_store_t *st, const char *apex, const char *domain, tal_policy_t *out)
{
	tal_txn_t *txn = NULL;
	tal__zone_t *z = NULL;
	wt_list_t scratch = { 0 };
	uint8_t key[TAL_KEY_MAXLEN * 2];
	size_t cap = 0;
	tal_val_t v;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = tal__zone_read_begin(st, apex, &txn, &z);
	if (rc < 0) {
		goto cleanup;
	}
	memcpy(key, z->key, z->keylen);
	rc = tal__domain_key(domain, key + z->keylen);
	if (rc < 0 || z->keylen + (size_t)rc > TAL_KEY_MAXLEN) {
		rc = TAL_ENOPOLICY;
		goto cleanup;
	}
	rc = tal_txn_get(txn, TAL_DB_NODES, key, z->keylen + (size_t)rc, &v);
	if (rc == TAL_ENOTFOUND || (rc == 0 && !is_policy_node(v.data, v.len))) {
		rc = TAL_ENOPOLICY;
		goto cleanup;
	}
	if (rc < 0) {
		goto cleanup;
	}
	snprintf(out->domain, sizeof(out->domain), "%s", domain);
	rc = policy_from_node(v.data, v.len, out, &cap, &scratch);
cleanup:
	if (rc < 0) {
		tal_policy_deinit(out);
	}
	tal_txn_abort(txn);
	free(scratch.v);
	free(z);
	return rc;
}

void tal_policy_deinit(tal_policy_t *p)
{
	if (p == NULL) {
		return;
	}
	free(p->tenants);
	p->tenants = NULL;
	p->ntenants = 0;
}

int tal_policy_foreach(tal_store_t *st, const char *apex,
                       int (*cb)(const tal_policy_t *p, void *arg), void *arg)
{
	tal_txn_t *txn = NULL;
	tal_cursor_t *cur = NULL;
	tal__zone_t *z = NULL;
	tal_policy_t p = { 0 };
	wt_list_t scratch = { 0 };
	size_t cap = 0;
	tal_val_t k, v;
	int rc;

	rc = tal__zone_read_begin(st, apex, &txn, &z);
	if (rc < 0) {
		goto cleanup;
	}
	rc = tal_cursor_open(txn, TAL_DB_NODES, &cur);
	if (rc < 0) {
		goto cleanup;
	}
	rc = tal_cursor_seek(cur, z->key, z->keylen, &k, &v);
	while (rc == 0 && tal_key_is_below(k.data, k.len, z->key, z->keylen)) {
		if (k.len > z->keylen && is_policy_node(v.data, v.len)) {
			if (tal_key_to_text(k.data + z->keylen, k.len - z->keylen, p.domain,
			                    sizeof(p.domain)) < 0) {
				rc = TAL_ECORRUPT;
				break;
			}
			rc = policy_from_node(v.data, v.len, &p, &cap, &scratch);
			if (rc < 0) {
				break;
			}
			rc = cb(&p, arg);
			if (rc != 0) {
				break;
			}
		}
		rc = tal_cursor_next(cur, &k, &v);
	}
	if (rc == TAL_ENOTFOUND) {
		rc = 0;
	}
cleanup:
	tal_cursor_close(cur);
	tal_txn_abort(txn);
	free(p.tenants);
	free(scratch.v);
	free(z);
	return rc;
}

/*
 * Building a change.
 */

int tal_change_new(const char *apex, tal_change_t **out)
{
	tal_change_t *ch = calloc(1, sizeof(*ch));

	if (ch == NULL) {
		return TAL_ENOMEM;
	}
	if (strlen(apex) >= sizeof(ch->apex)) {
		free(ch);
		return TAL_EDNAME_LEN;
	}
	strcpy(ch->apex, apex);
	*out = ch;
	return 0;
}

void tal_change_free(tal_change_t *ch)
{
	if (ch == NULL) {
		return;
	}
	free(ch->ops);
	tal__buf_free(&ch->arena);
	free(ch);
}

void tal_change_set_replace(tal_change_t *ch, bool replace)
{
	ch->replace = replace;
}

const char *tal__change_apex(const tal_change_t *ch)
{
	return ch->apex;
}

static int push_op(tal_change_t *ch, int kind, const char *domain, const uint8_t *id,
                   const char *dkim)
{
	uint8_t key[TAL_KEY_MAXLEN];
	size_t dkim_len = dkim != NULL ? strlen(dkim) : 0;
	int rc;

	rc = tal_domain_fits_zone(domain, ch->apex);
	if (rc < 0) {
		return rc;
	}
	if (dkim_len > DKIM_MAX) {
		return TAL_ETXT_LEN;
	}
	rc = tal__domain_key(domain, key);
	if (rc <= 0) {
		return rc < 0 ? rc : TAL_EDNAME;
	}
	if (ch->nops == ch->cap) {
		size_t cap = ch->cap ? ch->cap * 2 : 64;
		op_t *ops = realloc(ch->ops, cap * sizeof(*ops));
		if (ops == NULL) {
			return TAL_ENOMEM;
		}
		ch->ops = ops;
		ch->cap = cap;
	}
	if (ch->arena.len + (size_t)rc + dkim_len > UINT32_MAX || ch->nops >= UINT32_MAX) {
		return TAL_ENOMEM;
	}
	op_t *op = &ch->ops[ch->nops];
	uint8_t pad[PFX_LEN] = { 0 };
	memcpy(pad, key, (size_t)rc < sizeof(pad) ? (size_t)rc : sizeof(pad));
	for (int w = 0; w < PFX_WORDS; w++) {
		op->pfx[w] = tal_wire_read_u64(pad + 8 * w);
	}
	op->key_off = (uint32_t)ch->arena.len;
	op->key_len = (uint8_t)rc;
	op->seq = (uint32_t)ch->nops;
	op->kind = (uint8_t)kind;
	rc = tal__buf_put(&ch->arena, key, op->key_len);
	if (rc < 0) {
		return rc;
	}
	op->dkim_off = (uint32_t)ch->arena.len;
	op->dkim_len = (uint16_t)dkim_len;
	if (dkim_len > 0) {
		rc = tal__buf_put(&ch->arena, dkim, dkim_len);
		if (rc < 0) {
			return rc;
		}
	}
	if (id != NULL) {
		memcpy(op->id, id, 16);
	} else {
		memset(op->id, 0, 16);
	}
	ch->nops++;
	return 0;
}

int tal_change_add(tal_change_t *ch, const char *domain, const tal_tenant_t *tenant)
{
	return push_op(ch, OP_ADD, domain, tenant->id, tenant->dkim);
}

int tal_change_add_none(tal_change_t *ch, const char *domain)
{
	return push_op(ch, OP_ADD_NONE, domain, NULL, NULL);
}

int tal_change_remove(tal_change_t *ch, const char *domain, const uint8_t id[16])
{
	return push_op(ch, OP_REMOVE, domain, id, NULL);
}

int tal_change_remove_domain(tal_change_t *ch, const char *domain)
{
	return push_op(ch, OP_REMOVE_DOMAIN, domain, NULL, NULL);
}

/*
 * Commit.
 */

/* Key order of two operations: memcmp order, a key before its extensions. */
static int op_key_cmp(const op_t *x, const op_t *y, const uint8_t *arena)
{
	for (int w = 0; w < PFX_WORDS; w++) {
		if (x->pfx[w] != y->pfx[w]) {
			return x->pfx[w] < y->pfx[w] ? -1 : 1;
		}
	}
	if (x->key_len <= PFX_LEN || y->key_len <= PFX_LEN) {
		return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
	}
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(arena + x->key_off + PFX_LEN, arena + y->key_off + PFX_LEN, n - PFX_LEN);
	if (c != 0) {
		return c;
	}
	return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

/*
 * Sorting the operations.  A million records through qsort's callback cost
 * more than the rest of a commit's CPU, so the sort is an LSD radix sort of
 * small (prefix, index) records on the PFX_LEN prefix octets, skipping octets
 * that are the same in every key (the TLD of a mostly-.com list, say).
 * Radix sorting is stable, so operations on one domain keep the order in
 * which they were added.  Runs with equal prefixes and keys longer than the
 * prefix are then finished by comparison, and the operations are gathered
 * into the sorted order once.
 */
typedef struct {
	uint64_t pfx[PFX_WORDS];
	uint32_t idx;
	uint32_t len;
} sortrec_t;

static int sortrec_cmp(const void *a, const void *b, void *arg)
{
	const tal_change_t *ch = arg;
	const sortrec_t *x = a;
	const sortrec_t *y = b;
	int c = op_key_cmp(&ch->ops[x->idx], &ch->ops[y->idx], ch->arena.p);

	if (c != 0) {
		return c;
	}
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int sort_ops(tal_change_t *ch)
{
	size_t n = ch->nops;
	sortrec_t *a = malloc(n * sizeof(*a));
	sortrec_t *b = malloc(n * sizeof(*b));
	op_t *sorted = NULL;
	size_t(*count)[256] = calloc(PFX_LEN, sizeof(*count));
	int rc = TAL_ENOMEM;

	if (a == NULL || b == NULL || count == NULL) {
		goto cleanup;
	}
	/* All histograms in one read of the operations. */
	for (size_t i = 0; i < n; i++) {
		for (int w = 0; w < PFX_WORDS; w++) {
			uint64_t v = ch->ops[i].pfx[w];
			a[i].pfx[w] = v;
			for (int k = 0; k < 8; k++) {
				count[w * 8 + k][(v >> (56 - 8 * k)) & 0xff]++;
			}
		}
		a[i].idx = (uint32_t)i;
		a[i].len = ch->ops[i].key_len;
	}
	for (int d = PFX_LEN - 1; d >= 0; d--) {
		int word = d / 8;
		int shift = (7 - d % 8) * 8;
		size_t *cnt = count[d];
		if (cnt[(a[0].pfx[word] >> shift) & 0xff] == n) {
			continue; /* the same octet in every key */
		}
		size_t sum = 0;
		for (int k = 0; k < 256; k++) {
			size_t c = cnt[k];
			cnt[k] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++) {
			b[cnt[(a[i].pfx[word] >> shift) & 0xff]++] = a[i];
		}
		sortrec_t *t = a;
		a = b;
		b = t;
	}
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		bool longkey = a[i].len > PFX_LEN;
		while (j < n && memcmp(a[j].pfx, a[i].pfx, sizeof(a[i].pfx)) == 0) {
			longkey = longkey || a[j].len > PFX_LEN;
			j++;
		}
		if (longkey && j - i > 1) {
			qsort_r(a + i, j - i, sizeof(*a), sortrec_cmp, ch);
		}
		i = j;
	}
	free(b);
	b = NULL;
	sorted = malloc(ch->cap * sizeof(*sorted));
	if (sorted == NULL) {
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		sorted[i] = ch->ops[a[i].idx];
		sorted[i].seq = (uint32_t)i;
	}
	free(ch->ops);
	ch->ops = sorted;
	rc = 0;
cleanup:
	free(a);
	free(b);
	free(count);
	return rc;
}

typedef struct {
	tal_txn_t *txn;
	tal__zone_t *z;
	const uint8_t *arena;
	bool replace;
	/* Scratch reused for every domain. */
	wt_list_t old;
	wt_list_t cur;
	tal__buf_t node;
	/* Journal difference; once it exceeds the limit only the marker is kept. */
	tal__buf_t removed;
	tal__buf_t added;
	uint32_t nremoved;
	uint32_t nadded;
	bool too_large;
	bool changed;
	tal_commit_result_t *res;
	/*
	 * Dense loading (see set_aside_infrastructure): the greatest key in
	 * the nodes database, so a put of a greater key can append, and the
	 * zone's non-policy nodes set aside while policies are appended, each
	 * stored as [u8 keylen][key][u32 vallen][value].
	 */
	uint8_t last[TAL_KEY_MAXLEN + 1];
	size_t lastlen;
	bool have_last;
	tal__buf_t aside;
	size_t aside_off;
} commit_t;

/* memcmp order with the shorter key first on a tie: LMDB's default order. */
static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int r = memcmp(a, b, alen < blen ? alen : blen);
	return r != 0 ? r : (alen > blen) - (alen < blen);
}

/*
 * Puts a node, appending when the key sorts after every key in the
 * database.  LMDB splits a full page in the middle unless told that the
 * insert is an append; a bulk load of sorted keys then leaves pages half
 * full and the file about 1.7 times the size it needs to be.
 */
static int put_node(commit_t *c, const uint8_t *key, size_t keylen, const uint8_t *val,
                    size_t vallen)
{
	unsigned flags = 0;

	if (!c->have_last || key_cmp(key, keylen, c->last, c->lastlen) > 0) {
		flags = TAL_PUT_APPEND;
		memcpy(c->last, key, keylen);
		c->lastlen = keylen;
		c->have_last = true;
	}
	return tal_txn_put(c->txn, TAL_DB_NODES, key, keylen, val, vallen, flags);
}

/* One set-aside node: [u8 restored][u8 keylen][key][u32 vallen][value]. */
typedef struct {
	uint8_t *flag;
	const uint8_t *key;
	size_t keylen;
	const uint8_t *val;
	size_t vallen;
	size_t next;
} aside_t;

static aside_t aside_at(const commit_t *c, size_t off)
{
	uint8_t *p = c->aside.p + off;
	aside_t a = { p, p + 2, p[1], NULL, 0, 0 };
	a.vallen = tal_wire_read_u32(p + 2 + a.keylen);
	a.val = p + 2 + a.keylen + 4;
	a.next = off + 2 + a.keylen + 4 + a.vallen;
	return a;
}

/*
 * A zone that holds no policy yet (a first import) keeps only its apex and
 * the glue of in-zone name servers.  Glue such as ns1.Z sorts among the
 * policies, so with it in place most policies land before an existing key
 * and cannot be appended.  Such nodes are copied aside and deleted here,
 * and put back (an ordinary insert of a few keys) once the policies are in,
 * or just before the policy of the same name needs them.  A zone that
 * already has policies is left alone: rewriting it would cost more than the
 * space it saves.
 */
static int set_aside_infrastructure(commit_t *c)
{
	tal_cursor_t *cur = NULL;
	const tal__zone_t *z = c->z;
	tal_val_t k, v;
	size_t n = 0;
	int rc = tal_cursor_open(c->txn, TAL_DB_NODES, &cur);

	if (rc < 0) {
		return rc;
	}
	rc = tal_cursor_seek(cur, z->key, z->keylen, &k, &v);
	while (rc == 0 && tal_key_is_below(k.data, k.len, z->key, z->keylen)) {
		if (is_policy_node(v.data, v.len) || ++n > 64) {
			c->aside.len = 0;
			rc = TAL_ENOTFOUND;
			break;
		}
		if (k.len > z->keylen) {
			uint8_t hdr[6];
			hdr[0] = 0;
			hdr[1] = (uint8_t)k.len;
			tal_wire_write_u32(hdr + 2, (uint32_t)v.len);
			rc = tal__buf_put(&c->aside, hdr, 2);
			rc = rc < 0 ? rc : tal__buf_put(&c->aside, k.data, k.len);
			rc = rc < 0 ? rc : tal__buf_put(&c->aside, hdr + 2, 4);
			rc = rc < 0 ? rc : tal__buf_put(&c->aside, v.data, v.len);
			if (rc < 0) {
				break;
			}
		}
		rc = tal_cursor_next(cur, &k, &v);
	}
	tal_cursor_close(cur);
	if (rc < 0 && rc != TAL_ENOTFOUND) {
		return rc;
	}
	for (size_t off = 0; off < c->aside.len;) {
		aside_t a = aside_at(c, off);
		rc = tal_txn_del(c->txn, TAL_DB_NODES, a.key, a.keylen);
		if (rc < 0) {
			return rc;
		}
		off = a.next;
	}
	rc = tal_cursor_open(c->txn, TAL_DB_NODES, &cur);
	if (rc < 0) {
		return rc;
	}
	rc = tal_cursor_last(cur, &k, &v);
	if (rc == 0 && k.len <= TAL_KEY_MAXLEN) {
		memcpy(c->last, k.data, k.len);
		c->lastlen = k.len;
		c->have_last = true;
	}
	tal_cursor_close(cur);
	return rc == TAL_ENOTFOUND ? 0 : rc;
}

/*
 * Before the policy at `key` is settled: if a node set aside has the same
 * name, put it back first so the policy keeps that node's other RRsets.
 * Both lists are sorted, so one forward pass serves the whole commit.
 */
static int restore_aside_at(commit_t *c, const uint8_t *key, size_t keylen)
{
	while (c->aside_off < c->aside.len) {
		aside_t a = aside_at(c, c->aside_off);
		int cmp = key_cmp(a.key, a.keylen, key, keylen);
		if (cmp > 0) {
			return 0;
		}
		c->aside_off = a.next;
		if (cmp == 0) {
			*a.flag = 1;
			return put_node(c, a.key, a.keylen, a.val, a.vallen);
		}
	}
	return 0;
}

/* Puts back every node set aside that has not been put back yet. */
static int restore_aside_all(commit_t *c)
{
	for (size_t off = 0; off < c->aside.len;) {
		aside_t a = aside_at(c, off);
		if (*a.flag == 0) {
			int rc = put_node(c, a.key, a.keylen, a.val, a.vallen);
			if (rc < 0) {
				return rc;
			}
		}
		off = a.next;
	}
	return 0;
}

static int journal_rr(commit_t *c, bool add, const uint8_t *owner, size_t ownerlen,
                      const uint8_t *rr, size_t rrlen)
{
	tal__buf_t *b = add ? &c->added : &c->removed;
	int rc;

	c->changed = true;
	if (add) {
		c->nadded++;
	} else {
		c->nremoved++;
	}
	if (c->too_large) {
		return 0;
	}
	if (c->removed.len + c->added.len + ownerlen + rrlen + TAL_JOURNAL_HDRLEN >
	    c->z->js.limit) {
		c->too_large = true;
		tal__buf_free(&c->removed);
		tal__buf_free(&c->added);
		return 0;
	}
	rc = tal__buf_put(b, owner, ownerlen);
	return rc < 0 ? rc : tal__buf_put(b, rr, rrlen);
}

static int journal_a(commit_t *c, bool add, const uint8_t *id, const uint8_t *owner,
                     size_t ownerlen)
{
	uint8_t name[TAL_DNAME_MAXLEN + 37];
	uint8_t rr[14];
	char g[TAL_TENANT_TEXTSZ];

	tal_tenant_format(id, g);
	name[0] = 36;
	memcpy(name + 1, g, 36);
	memcpy(name + 37, owner, ownerlen);
	tal_wire_write_u16(rr, TAL_TYPE_A);
	tal_wire_write_u16(rr + 2, TAL_CLASS_IN);
	tal_wire_write_u32(rr + 4, c->z->info.ttl);
	tal_wire_write_u16(rr + 8, 4);
	rr[10] = 127;
	rr[11] = 0;
	rr[12] = 0;
	rr[13] = 2;
	return journal_rr(c, add, name, 37 + ownerlen, rr, sizeof(rr));
}

static bool dkim_eq(const wt_t *a, const wt_t *b)
{
	return a->dkim_len == b->dkim_len &&
	       (a->dkim_len == 0 || memcmp(a->dkim, b->dkim, a->dkim_len) == 0);
}

/* Copies the node's RRsets of types below (or above) TXT. */
static int copy_other_rrsets(tal__buf_t *out, const uint8_t *node, size_t len, bool below,
                             uint16_t *nsets)
{
	tal_node_iter_t it = { 0 };
	tal_rrset_view_t rs;
	int rc;

	if (node == NULL) {
		return 0;
	}
	while ((rc = tal_node_next(node, len, &it, &rs)) == 0) {
		if (rs.type == TAL_TYPE_TXT ||
		    (below ? rs.type > TAL_TYPE_TXT : rs.type < TAL_TYPE_TXT)) {
			continue;
		}
		const uint8_t *start = rs.rrs - TAL_RRSET_HDRLEN;
		rc = tal__buf_put(out, start, TAL_RRSET_HDRLEN + rs.rrs_len + rs.add_len);
		if (rc < 0) {
			return rc;
		}
		(*nsets)++;
	}
	return rc == TAL_ENOTFOUND ? 0 : TAL_ECORRUPT;
}

static int build_policy_node(commit_t *c, const uint8_t *old, size_t oldlen, bool exists,
                             uint16_t *nsets_out)
{
	tal__buf_t *b = &c->node;
	uint16_t nsets = 0;
	uint32_t ttl = c->z->info.ttl;
	int rc;

	b->len = 0;
	rc = tal__buf_put(
	        b, (uint8_t[4]){ TAL_NODE_VERSION, exists ? TAL_NODE_F_TENANTS : 0, 0, 0 }, 4);
	rc = rc < 0 ? rc : copy_other_rrsets(b, old, oldlen, true, &nsets);
	if (rc == 0 && exists) {
		size_t hdr = b->len;
		uint16_t count = c->cur.n > 0 ? (uint16_t)c->cur.n : 1;
		rc = tal__buf_reserve(b, TAL_RRSET_HDRLEN + (size_t)count * TXT_RR_MAX);
		if (rc < 0) {
			return rc;
		}
		b->len += TAL_RRSET_HDRLEN;
		if (c->cur.n == 0) {
			b->len += txt_render(b->p + b->len, ttl, NULL, NULL, 0);
		}
		for (size_t i = 0; i < c->cur.n; i++) {
			const wt_t *t = &c->cur.v[i];
			b->len += txt_render(b->p + b->len, ttl, t->id, t->dkim, t->dkim_len);
		}
		tal_wire_write_u16(b->p + hdr, TAL_TYPE_TXT);
		tal_wire_write_u16(b->p + hdr + 2, count);
		tal_wire_write_u32(b->p + hdr + 4, (uint32_t)(b->len - hdr - TAL_RRSET_HDRLEN));
		tal_wire_write_u16(b->p + hdr + 8, 0);
		nsets++;
	}
	rc = rc < 0 ? rc : copy_other_rrsets(b, old, oldlen, false, &nsets);
	if (rc == 0 && exists) {
		rc = tal__buf_reserve(b, 6 + c->cur.n * 16);
		if (rc < 0) {
			return rc;
		}
		tal_wire_write_u32(b->p + b->len, ttl);
		tal_wire_write_u16(b->p + b->len + 4, (uint16_t)c->cur.n);
		b->len += 6;
		for (size_t i = 0; i < c->cur.n; i++) {
			memcpy(b->p + b->len, c->cur.v[i].id, 16);
			b->len += 16;
		}
	}
	if (rc == 0) {
		tal_wire_write_u16(b->p + 2, nsets);
		*nsets_out = nsets;
	}
	return rc;
}

static wt_t *wt_find(wt_list_t *l, const uint8_t *id)
{
	for (size_t i = 0; i < l->n; i++) {
		if (memcmp(l->v[i].id, id, 16) == 0) {
			return &l->v[i];
		}
	}
	return NULL;
}

/*
 * Settles one domain: `ops` are its operations in order (none for a policy
 * that replace mode drops).  `key` is the full owner key.
 */
/*
 * The TXT RRset of a policy must fit in one DNS message, or no client could
 * ever read it, even over TCP (RFC 7766 caps a message at 65,535 octets).
 * The answer carries a header, the question (up to 255 octets of name plus
 * type and class), an OPT record, and each RR with a two-octet compressed
 * owner.
 */
#define POLICY_ANSWER_MAX (65535 - 12 - (255 + 4) - 11)

/* Names the domain of `key` in the result, for the caller's message; returns err. */
static int failed_domain(commit_t *c, const uint8_t *key, size_t keylen, int err)
{
	char *out = c->res->failed_domain;
	size_t zl = c->z->keylen;

	if (keylen <= zl || tal_key_to_text(key + zl, keylen - zl, out, TAL_DOMAIN_TEXTSZ) < 0) {
		out[0] = '\0';
	}
	return err;
}

static size_t policy_answer_size(const commit_t *c)
{
	size_t total = 0;

	for (size_t i = 0; i < c->cur.n; i++) {
		const wt_t *t = &c->cur.v[i];
		/* owner, TYPE..RDLENGTH, the length octet, "v=TAL1; tid=" and the GUID */
		total += 2 + 10 + 1 + 12 + 36;
		if (t->dkim_len > 0) {
			total += 7 + t->dkim_len; /* "; dkim=" and the domain */
		}
	}
	return total;
}

static int settle(commit_t *c, const uint8_t *key, size_t keylen, const op_t *ops, size_t nops)
{
	tal_val_t v = { NULL, 0 };
	bool old_exists = false;
	bool named = false;
	int rc;

	rc = tal_txn_get(c->txn, TAL_DB_NODES, key, keylen, &v);
	if (rc == TAL_ENOTFOUND) {
		v.data = NULL;
		v.len = 0;
	} else if (rc < 0) {
		return rc;
	}
	rc = 0;
	c->old.n = 0;
	if (v.data != NULL && is_policy_node(v.data, v.len)) {
		tal_rrset_view_t rs;
		if (tal_node_find(v.data, v.len, TAL_TYPE_TXT, &rs) < 0) {
			return TAL_ECORRUPT;
		}
		rc = node_read_txt(&rs, &c->old);
		if (rc < 0) {
			return rc;
		}
		old_exists = true;
	}
	for (size_t i = 0; i < nops; i++) {
		if (ops[i].kind == OP_ADD || ops[i].kind == OP_ADD_NONE) {
			named = true;
		}
	}

	/* Replay the operations on the tenant list. */
	bool exists = old_exists;
	c->cur.n = 0;
	if (c->replace) {
		exists = false;
	} else {
		for (size_t i = 0; i < c->old.n; i++) {
			wt_t *t;
			rc = wt_push(&c->cur, &t);
			if (rc < 0) {
				return rc;
			}
			*t = c->old.v[i];
		}
	}
	for (size_t i = 0; i < nops; i++) {
		const op_t *op = &ops[i];
		wt_t *t;
		switch (op->kind) {
		case OP_ADD:
			exists = true;
			t = wt_find(&c->cur, op->id);
			if (t == NULL) {
				if (c->cur.n >= TAL_POLICY_MAX_TENANTS) {
					return failed_domain(c, key, keylen, TAL_ERANGE);
				}
				rc = wt_push(&c->cur, &t);
				if (rc < 0) {
					return rc;
				}
				memcpy(t->id, op->id, 16);
				t->rr = NULL;
				t->rr_len = 0;
			}
			t->dkim = (const char *)c->arena + op->dkim_off;
			t->dkim_len = op->dkim_len;
			break;
		case OP_ADD_NONE:
			exists = true;
			break;
		case OP_REMOVE:
			if (!exists) {
				c->res->domains_missing++;
				break;
			}
			t = wt_find(&c->cur, op->id);
			if (t != NULL) {
				*t = c->cur.v[--c->cur.n];
			}
			break;
		case OP_REMOVE_DOMAIN:
			if (!exists) {
				c->res->domains_missing++;
			}
			exists = false;
			c->cur.n = 0;
			break;
		}
	}
	if (c->replace && !named) {
		exists = false;
		c->cur.n = 0;
	}
	if (!exists) {
		c->cur.n = 0;
	}
	if (c->cur.n > 1) {
		qsort(c->cur.v, c->cur.n, sizeof(wt_t), wt_cmp);
	}
	if (policy_answer_size(c) > POLICY_ANSWER_MAX) {
		return failed_domain(c, key, keylen, TAL_EPOLICY_SIZE);
	}

	/* The difference, as RRs for the journal. */
	uint8_t owner[TAL_DNAME_MAXLEN];
	int ol = tal_key_to_wire(key, keylen, owner);
	if (ol < 0) {
		return TAL_ECORRUPT;
	}
	size_t ownerlen = (size_t)ol;
	bool before = c->changed;
	c->changed = false;
	uint8_t rr[TXT_RR_MAX];
	uint32_t ttl = c->z->info.ttl;
	bool old_deny = old_exists && c->old.n == 0;
	bool new_deny = exists && c->cur.n == 0;
	if (old_deny && !new_deny) {
		size_t n = txt_render(rr, ttl, NULL, NULL, 0);
		rc = journal_rr(c, false, owner, ownerlen, rr, n);
	} else if (!old_deny && new_deny) {
		size_t n = txt_render(rr, ttl, NULL, NULL, 0);
		rc = journal_rr(c, true, owner, ownerlen, rr, n);
	}
	size_t i = 0, j = 0;
	while (rc == 0 && (i < c->old.n || j < c->cur.n)) {
		const wt_t *o = i < c->old.n ? &c->old.v[i] : NULL;
		const wt_t *n = j < c->cur.n ? &c->cur.v[j] : NULL;
		int cmp = o == NULL ? 1 : n == NULL ? -1 : memcmp(o->id, n->id, 16);
		if (cmp < 0) {
			rc = journal_rr(c, false, owner, ownerlen, o->rr, o->rr_len);
			rc = rc < 0 ? rc : journal_a(c, false, o->id, owner, ownerlen);
			c->res->tenants_removed++;
			i++;
		} else if (cmp > 0) {
			size_t len = txt_render(rr, ttl, n->id, n->dkim, n->dkim_len);
			rc = journal_rr(c, true, owner, ownerlen, rr, len);
			rc = rc < 0 ? rc : journal_a(c, true, n->id, owner, ownerlen);
			c->res->tenants_added++;
			j++;
		} else {
			if (!dkim_eq(o, n)) {
				size_t len = txt_render(rr, ttl, n->id, n->dkim, n->dkim_len);
				rc = journal_rr(c, false, owner, ownerlen, o->rr, o->rr_len);
				rc = rc < 0 ? rc : journal_rr(c, true, owner, ownerlen, rr, len);
			}
			i++;
			j++;
		}
	}
	if (rc < 0) {
		return rc;
	}
	bool differs = c->changed;
	c->changed = before || differs;
	if (!differs) {
		return 0;
	}
	if (!old_exists && exists) {
		c->res->domains_added++;
	} else if (old_exists && !exists) {
		c->res->domains_removed++;
	}

	uint16_t nsets = 0;
	rc = build_policy_node(c, v.data, v.len, exists, &nsets);
	if (rc < 0) {
		return rc;
	}
	if (nsets == 0 && !exists) {
		return v.data != NULL ? tal_txn_del(c->txn, TAL_DB_NODES, key, keylen) : 0;
	}
	return put_node(c, key, keylen, c->node.p, c->node.len);
}

/* Replace mode: collects the keys of the zone's policies that no operation names. */
static int collect_unnamed(commit_t *c, const tal_change_t *ch, tal__buf_t *keys)
{
	tal_cursor_t *cur = NULL;
	const tal__zone_t *z = c->z;
	tal_val_t k, v;
	size_t i = 0;
	int rc = tal_cursor_open(c->txn, TAL_DB_NODES, &cur);

	if (rc < 0) {
		return rc;
	}
	rc = tal_cursor_seek(cur, z->key, z->keylen, &k, &v);
	while (rc == 0 && tal_key_is_below(k.data, k.len, z->key, z->keylen)) {
		if (k.len > z->keylen && is_policy_node(v.data, v.len)) {
			const uint8_t *rk = k.data + z->keylen;
			size_t rl = k.len - z->keylen;
			int cmp = 1;
			/* Advance through the sorted operations to this key. */
			while (i < ch->nops) {
				const op_t *op = &ch->ops[i];
				size_t n = op->key_len < rl ? op->key_len : rl;
				cmp = memcmp(ch->arena.p + op->key_off, rk, n);
				if (cmp == 0) {
					cmp = op->key_len < rl ? -1 : op->key_len > rl;
				}
				if (cmp >= 0) {
					break;
				}
				i++;
			}
			if (i >= ch->nops || cmp != 0) {
				uint8_t len = (uint8_t)k.len;
				rc = tal__buf_put(keys, &len, 1);
				rc = rc < 0 ? rc : tal__buf_put(keys, k.data, k.len);
				if (rc < 0) {
					break;
				}
			}
		}
		rc = tal_cursor_next(cur, &k, &v);
	}
	tal_cursor_close(cur);
	return rc == TAL_ENOTFOUND || rc == 0 ? 0 : rc;
}

static int bump_serial(commit_t *c, uint32_t serial)
{
	tal__zone_t *z = c->z;
	tal_val_t v;
	int rc;

	rc = tal_txn_get(c->txn, TAL_DB_NODES, z->key, z->keylen, &v);
	if (rc < 0) {
		return rc == TAL_ENOTFOUND ? TAL_ECORRUPT : rc;
	}
	c->node.len = 0;
	rc = tal__buf_put(&c->node, v.data, v.len);
	rc = rc < 0 ? rc : tal__node_set_soa_serial(c->node.p, c->node.len, serial);
	rc = rc < 0 ? rc
	            : tal_txn_put(c->txn, TAL_DB_NODES, z->key, z->keylen, c->node.p, c->node.len,
	                          0);
	if (rc < 0) {
		return rc;
	}
	uint32_t from = z->info.serial;
	z->info.serial = serial;
	if (c->too_large) {
		rc = tal__journal_append(c->txn, z, from, serial, NULL, 0, NULL, 0);
	} else {
		rc = tal__journal_append(c->txn, z, from, serial, &c->removed, c->nremoved,
		                         &c->added, c->nadded);
	}
	if (rc < 0) {
		return rc;
	}
	c->node.len = 0;
	rc = tal__zone_encode(z, &c->node);
	return rc < 0 ? rc
	              : tal_txn_put(c->txn, TAL_DB_ZONES, z->key, z->keylen, c->node.p, c->node.len,
	                            0);
}

int tal_change_commit(tal_store_t *st, tal_change_t *ch, tal_commit_result_t *res)
{
	commit_t c = { 0 };
	tal_commit_result_t dummy;
	tal__buf_t drops = { 0 };
	uint8_t key[TAL_KEY_MAXLEN * 2];
	int rc;

	if (res == NULL) {
		res = &dummy;
	}
	memset(res, 0, sizeof(*res));
	c.res = res;
	c.replace = ch->replace;
	c.z = malloc(sizeof(*c.z));
	if (c.z == NULL) {
		return TAL_ENOMEM;
	}
	if (ch->nops > 1) {
		rc = sort_ops(ch);
		if (rc < 0) {
			goto cleanup;
		}
	}
	c.arena = ch->arena.p;
	rc = tal_txn_begin(st, TAL_TXN_WRITE, &c.txn);
	if (rc < 0) {
		goto cleanup;
	}
	rc = tal__zone_load(c.txn, ch->apex, c.z);
	if (rc < 0) {
		goto cleanup;
	}
	res->serial_before = res->serial_after = c.z->info.serial;
	if (c.replace) {
		rc = collect_unnamed(&c, ch, &drops);
		if (rc < 0) {
			goto cleanup;
		}
	}
	rc = set_aside_infrastructure(&c);
	if (rc < 0) {
		goto cleanup;
	}
	memcpy(key, c.z->key, c.z->keylen);
	for (size_t i = 0; i < ch->nops;) {
		const op_t *op = &ch->ops[i];
		size_t j = i + 1;
		while (j < ch->nops && op_key_cmp(&ch->ops[j], op, ch->arena.p) == 0) {
			j++;
		}
		if (c.z->keylen + op->key_len > TAL_KEY_MAXLEN) {
			rc = TAL_EOWNER_LEN;
			goto cleanup;
		}
		/*
		 * The key's first octets are in the record; the arena (in
		 * the order of addition, so a cache miss per domain once the
		 * operations are sorted) is read only for longer keys.
		 */
		uint8_t *dst = key + c.z->keylen;
		for (int w = 0; w < PFX_WORDS; w++) {
			tal_wire_write_u64(dst + 8 * w, op->pfx[w]);
		}
		if (op->key_len > PFX_LEN) {
			memcpy(dst + PFX_LEN, ch->arena.p + op->key_off + PFX_LEN,
			       op->key_len - PFX_LEN);
		}
		rc = restore_aside_at(&c, key, c.z->keylen + op->key_len);
		rc = rc < 0 ? rc : settle(&c, key, c.z->keylen + op->key_len, op, j - i);
		if (rc < 0) {
			goto cleanup;
		}
		i = j;
	}
	rc = restore_aside_all(&c);
	if (rc < 0) {
		goto cleanup;
	}
	for (size_t off = 0; off < drops.len;) {
		size_t len = drops.p[off];
		rc = settle(&c, drops.p + off + 1, len, NULL, 0);
		if (rc < 0) {
			goto cleanup;
		}
		off += 1 + len;
	}
	if (!c.changed) {
		goto cleanup; /* nothing differs: write nothing, keep the serial */
	}
	res->serial_after = tal__serial_next(c.z->info.serial);
	rc = bump_serial(&c, res->serial_after);
	if (rc < 0) {
		goto cleanup;
	}
	rc = tal_txn_commit(c.txn);
	c.txn = NULL;
	if (rc == 0) {
		res->changed = true;
	}
cleanup:
	tal_txn_abort(c.txn);
	if (rc < 0) {
		/* Nothing was written: only the name of the failing domain stays. */
		char failed[TAL_DOMAIN_TEXTSZ];
		memcpy(failed, res->failed_domain, sizeof(failed));
		memset(res, 0, sizeof(*res));
		memcpy(res->failed_domain, failed, sizeof(failed));
	}
	tal__buf_free(&drops);
	tal__buf_free(&c.aside);
	tal__buf_free(&c.node);
	tal__buf_free(&c.removed);
	tal__buf_free(&c.added);
	free(c.old.v);
	free(c.cur.v);
	free(c.z);
	return rc;
}
