/*
 * server/net_notify.c -- the NOTIFY sender (contract in server/notify.h).
 *
 * Pending NOTIFYs are a small array (one per zone and target); the 250 ms
 * tick resends those whose time has come, and every fourth tick reads the
 * serials.  One UDP socket per address family, bound to an ephemeral port,
 * sends them and receives the answers, matched by message ID and address.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "common/dname.h"
#include "common/error.h"
#include "common/log.h"
#include "common/node.h"
#include "common/wire.h"
#include "server/notify.h"
#include "zones/tsig.h"
#include "zones/xfrconf.h"

#define TICK_MS        250
#define SCAN_TICKS     4
#define MAX_TRIES      6 /* the first send and five retries: 1, 2, 4, 8, 16 s */
#define MAX_ZONES      1024
#define MAX_PENDING    512
#define OPCODE_NOTIFY  4
#define NOTIFY_MSG_MAX 2048

typedef struct {
	uint8_t apex_key[TAL_KEY_MAXLEN];
	size_t apex_keylen;
	uint32_t serial;
} seen_t;

typedef struct {
	bool used;
	uint8_t apex_key[TAL_KEY_MAXLEN];
	size_t apex_keylen;
	char apex[TAL_DNAME_TEXTSZ];
	uint32_t serial;
	struct sockaddr_storage to;
	char to_text[INET6_ADDRSTRLEN + 8];
	uint16_t id;
	int tries;
	uint64_t next_ms;
	uint8_t msg[NOTIFY_MSG_MAX];
	size_t msg_len;
	bool keyed; /* signed: the answer must verify with key and mac */
	tal_tsig_key_t key;
	uint8_t mac[TAL_TSIG_MAC_MAX];
	size_t mac_len;
} pending_t;

struct tal_notify {
	tal_store_t *st;
	pthread_t thread;
	bool thread_started;
	uv_loop_t loop;
	uv_timer_t timer;
	uv_async_t stop;
	uv_udp_t udp4, udp6;
	bool udp4_ok, udp6_ok;
	unsigned ticks;
	seen_t *seen;
	int nseen;
	pending_t *pending;
	uint64_t sent, acked, gave_up;
	uint8_t rx[NOTIFY_MSG_MAX];
};

static uint64_t now_ms(const tal_notify_t *n)
{
	return uv_now((uv_loop_t *)&n->loop);
}

static uint16_t random_id(void)
{
	uint16_t id;

	if (uv_random(NULL, NULL, &id, sizeof(id), 0, NULL) != 0) {
		id = (uint16_t)rand();
	}
	return id;
}

static int entry_sockaddr(const tal_xfr_entry_t *e, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (e->family == 4) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(e->port);
		memcpy(&in->sin_addr, e->addr, 4);
		return 0;
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(e->port);
	memcpy(&in6->sin6_addr, e->addr, 16);
	return 0;
}

static void send_pending(tal_notify_t *n, pending_t *p)
{
	uv_udp_t *u = p->to.ss_family == AF_INET ? &n->udp4 : &n->udp6;
	bool ok = p->to.ss_family == AF_INET ? n->udp4_ok : n->udp6_ok;
	uv_buf_t b = uv_buf_init((char *)p->msg, (unsigned)p->msg_len);

	p->tries++;
	p->next_ms = now_ms(n) + (1000ULL << (p->tries - 1));
	if (!ok || uv_udp_try_send(u, &b, 1, (const struct sockaddr *)&p->to) < 0) {
		tal_log_debug("notify, %s serial %u to %s: send failed", p->apex, p->serial,
		              p->to_text);
		return;
	}
	n->sent++;
}

/* Builds the NOTIFY for zone apex (in `txn`) with its SOA, signed when `key` is given. */
static int build(tal_txn_t *txn, pending_t *p, const tal_tsig_key_t *key)
{
	uint8_t wire[TAL_DNAME_MAXLEN];
	tal_val_t apex;
	tal_rrset_view_t soa;
	int wl, rc;

	wl = tal_key_to_wire(p->apex_key, p->apex_keylen, wire);
	if (wl < 0) {
		return wl;
	}
	rc = tal_txn_get(txn, TAL_DB_NODES, p->apex_key, p->apex_keylen, &apex);
	if (rc != 0) {
		return rc;
	}
	rc = tal_node_find(apex.data, apex.len, TAL_TYPE_SOA, &soa);
	if (rc != 0 || soa.count != 1 || soa.rrs_len > 600) {
		return TAL_ECORRUPT;
	}
	uint8_t *m = p->msg;
	size_t pos = 12;
	tal_wire_write_u16(m, p->id);
	tal_wire_write_u16(m + 2, (uint16_t)((OPCODE_NOTIFY << 11) | 0x0400)); /* AA */
	tal_wire_write_u16(m + 4, 1);
	tal_wire_write_u16(m + 6, 1);
	tal_wire_write_u16(m + 8, 0);
	tal_wire_write_u16(m + 10, 0);
	memcpy(m + pos, wire, (size_t)wl);
	pos += (size_t)wl;
	tal_wire_write_u16(m + pos, TAL_TYPE_SOA);
	tal_wire_write_u16(m + pos + 2, TAL_CLASS_IN);
	pos += 4;
	/* The new SOA as a hint (RFC 1996 §3.7), owner pointing at the question. */
	tal_wire_write_u16(m + pos, 0xC00C);
	memcpy(m + pos + 2, soa.rrs, soa.rrs_len);
	pos += 2 + soa.rrs_len;
	p->msg_len = pos;
	if (key != NULL) {
		rc = tal_tsig_sign(key, m, &p->msg_len, sizeof(p->msg), NULL, 0, false,
		                   (uint64_t)time(NULL), 0, NULL, 0, p->mac, &p->mac_len);
		if (rc != 0) {
			return rc;
		}
		p->keyed = true;
		p->key = *key;
	}
	return 0;
}

typedef struct {
	tal_notify_t *n;
	tal_txn_t *txn;
	const uint8_t *apex_key;
	size_t apex_keylen;
	uint32_t serial;
} queue_arg_t;

static int queue_cb(const tal_xfr_entry_t *e, void *arg)
{
	queue_arg_t *q = arg;
	tal_notify_t *n = q->n;
	struct sockaddr_storage to;
	pending_t *p = NULL;
	tal_tsig_key_t key;
	bool keyed = false;

	entry_sockaddr(e, &to);
	for (int i = 0; i < MAX_PENDING; i++) {
		pending_t *c = &n->pending[i];
		if (c->used && c->apex_keylen == q->apex_keylen &&
		    memcmp(c->apex_key, q->apex_key, q->apex_keylen) == 0 &&
		    memcmp(&c->to, &to, sizeof(to)) == 0) {
			p = c; /* a newer serial replaces the pending one */
			break;
		}
	}
	for (int i = 0; p == NULL && i < MAX_PENDING; i++) {
		if (!n->pending[i].used) {
			p = &n->pending[i];
		}
	}
	if (p == NULL) {
		return 0;
	}
	memset(p, 0, sizeof(*p));
	memcpy(p->apex_key, q->apex_key, q->apex_keylen);
	p->apex_keylen = q->apex_keylen;
	tal_key_to_text(q->apex_key, q->apex_keylen, p->apex, sizeof(p->apex));
	p->serial = q->serial;
	p->to = to;
	tal_xfr_entry_text(e, true, p->to_text, sizeof(p->to_text));
	p->id = random_id();
	if (e->key[0] != '\0') {
		if (tal_tsig_key_get(q->txn, e->key, &key) != 0) {
			tal_log_warnx("notify, %s to %s: key %s does not exist", p->apex,
			              p->to_text, e->key);
			return 0;
		}
		keyed = true;
	}
	int rc = build(q->txn, p, keyed ? &key : NULL);
	memset(&key, 0, sizeof(key));
	if (rc != 0) {
		tal_log_warnx("notify, %s to %s: %s", p->apex, p->to_text, tal_strerror(rc));
		return 0;
	}
	p->used = true;
	tal_log_info("notify, %s serial %u to %s", p->apex, p->serial, p->to_text);
	send_pending(n, p);
	return 0;
}

/* Reads every zone's serial; queues NOTIFYs for the ones that changed. */
static void scan(tal_notify_t *n)
{
	tal_txn_t *txn = NULL;
	tal_cursor_t *cur = NULL;
	tal_val_t k, v;
	int rc;

	if (tal_reader_snapshot(n->st, &txn) != 0) {
		return;
	}
	if (tal_cursor_open(txn, TAL_DB_ZONES, &cur) != 0) {
		tal_txn_abort(txn);
		return;
	}
	for (rc = tal_cursor_seek(cur, NULL, 0, &k, &v); rc == 0;
	     rc = tal_cursor_next(cur, &k, &v)) {
		tal_zone_view_t zv;
		if (k.len > TAL_KEY_MAXLEN || tal_zone_parse(v.data, v.len, &zv) != 0) {
			continue;
		}
		seen_t *s = NULL;
		for (int i = 0; i < n->nseen; i++) {
			if (n->seen[i].apex_keylen == k.len &&
			    memcmp(n->seen[i].apex_key, k.data, k.len) == 0) {
				s = &n->seen[i];
			}
		}
		if (s != NULL && s->serial == zv.serial) {
			continue;
		}
		if (s == NULL) {
			if (n->nseen == MAX_ZONES) {
				continue;
			}
			s = &n->seen[n->nseen++];
			memcpy(s->apex_key, k.data, k.len);
			s->apex_keylen = k.len;
		}
		s->serial = zv.serial;
		queue_arg_t q = { n, txn, s->apex_key, s->apex_keylen, zv.serial };
		(void)tal_xfr_list_foreach(txn, zv.zone_id, true, queue_cb, &q);
	}
	tal_cursor_close(cur);
	tal_txn_abort(txn);
}

static void on_tick(uv_timer_t *t)
{
	tal_notify_t *n = t->data;
	uint64_t now = now_ms(n);

	if (n->ticks++ % SCAN_TICKS == 0) {
		scan(n);
	}
	for (int i = 0; i < MAX_PENDING; i++) {
		pending_t *p = &n->pending[i];
		if (!p->used || p->next_ms > now) {
			continue;
		}
		if (p->tries >= MAX_TRIES) {
			tal_log_warnx("notify, %s serial %u to %s: no answer after %d tries",
			              p->apex, p->serial, p->to_text, p->tries);
			n->gave_up++;
			p->used = false;
			memset(&p->key, 0, sizeof(p->key));
			continue;
		}
		send_pending(n, p);
	}
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family) {
		return false;
	}
	if (b->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
	const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
	return x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	tal_notify_t *n = h->data;

	(void)suggested;
	buf->base = (char *)n->rx;
	buf->len = sizeof(n->rx);
}

/*
 * RFC 8945 §5.3: the answer to a signed NOTIFY must be signed with the same
 * key over our MAC.  An answer whose TSIG reports an error (the secondary
 * does not know our key or our signature) cannot be signed; it is logged
 * and taken as final, as retrying cannot help.
 */
static bool answer_verifies(pending_t *p, const uint8_t *m, size_t len)
{
	tal_tsig_rr_t t;

	if (tal_tsig_find(m, len, &t) != 0) {
		tal_log_debug("notify, %s to %s: unsigned answer ignored", p->apex, p->to_text);
		return false;
	}
	if (t.error != TAL_TSIG_NOERROR && t.mac_len == 0) {
		tal_log_warnx("notify, %s serial %u to %s: key %s refused (TSIG error %u)", p->apex,
		              p->serial, p->to_text, p->key.name, t.error);
		p->used = false;
		memset(&p->key, 0, sizeof(p->key));
		return false;
	}
	int err = tal_tsig_verify(&p->key, m, len, &t, p->mac, p->mac_len, false,
	                          (uint64_t)time(NULL));
	if (err != TAL_TSIG_NOERROR) {
		tal_log_debug("notify, %s to %s: answer fails TSIG (%d), ignored", p->apex,
		              p->to_text, err);
		return false;
	}
	return true;
}

static void on_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
                    unsigned flags)
{
	tal_notify_t *n = u->data;
	const uint8_t *m = (const uint8_t *)buf->base;

	(void)flags;
	if (nread < 12 || from == NULL) {
		return;
	}
	uint16_t id = tal_wire_read_u16(m);
	uint16_t fl = tal_wire_read_u16(m + 2);
	if ((fl & 0x8000) == 0 || ((fl >> 11) & 0x0F) != OPCODE_NOTIFY) {
		return;
	}
	for (int i = 0; i < MAX_PENDING; i++) {
		pending_t *p = &n->pending[i];
		if (p->used && p->id == id && same_addr(&p->to, from)) {
			int rcode = fl & 0x0F;
			if (p->keyed && !answer_verifies(p, m, (size_t)nread)) {
				return; /* not from the holder of the key: keep trying */
			}
			if (rcode == 0) {
				tal_log_info("notify, %s serial %u to %s: acknowledged", p->apex,
				             p->serial, p->to_text);
				n->acked++;
			} else {
				tal_log_warnx("notify, %s serial %u to %s: answered with rcode %d",
				              p->apex, p->serial, p->to_text, rcode);
			}
			p->used = false;
			memset(&p->key, 0, sizeof(p->key));
			return;
		}
	}
}

static void on_stop(uv_async_t *a)
{
	tal_notify_t *n = a->data;

	uv_close((uv_handle_t *)&n->timer, NULL);
	uv_close((uv_handle_t *)&n->stop, NULL);
	if (n->udp4_ok) {
		uv_close((uv_handle_t *)&n->udp4, NULL);
	}
	if (n->udp6_ok) {
		uv_close((uv_handle_t *)&n->udp6, NULL);
	}
}

static bool open_udp(tal_notify_t *n, uv_udp_t *u, int family)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		uv_ip4_addr("0.0.0.0", 0, (struct sockaddr_in *)&ss);
	} else {
		uv_ip6_addr("::", 0, (struct sockaddr_in6 *)&ss);
	}
	if (uv_udp_init(&n->loop, u) < 0) {
		return false;
	}
	u->data = n;
	if (uv_udp_bind(u, (const struct sockaddr *)&ss, family == AF_INET6 ? UV_UDP_IPV6ONLY : 0) <
	            0 ||
	    uv_udp_recv_start(u, on_alloc, on_recv) < 0) {
		uv_close((uv_handle_t *)u, NULL);
		return false;
	}
	return true;
}

static void *notify_main(void *arg)
{
	tal_notify_t *n = arg;

	uv_run(&n->loop, UV_RUN_DEFAULT);
	return NULL;
}

int tal_notify_start(tal_store_t *st, tal_notify_t **out)
{
	tal_notify_t *n = calloc(1, sizeof(*n));

	*out = NULL;
	if (n == NULL) {
		return TAL_ENOMEM;
	}
	n->st = st;
	n->seen = calloc(MAX_ZONES, sizeof(*n->seen));
	n->pending = calloc(MAX_PENDING, sizeof(*n->pending));
	if (n->seen == NULL || n->pending == NULL || uv_loop_init(&n->loop) < 0) {
		free(n->seen);
		free(n->pending);
		free(n);
		return TAL_ENOMEM;
	}
	n->udp4_ok = open_udp(n, &n->udp4, AF_INET);
	n->udp6_ok = open_udp(n, &n->udp6, AF_INET6);
	uv_timer_init(&n->loop, &n->timer);
	n->timer.data = n;
	uv_async_init(&n->loop, &n->stop, on_stop);
	n->stop.data = n;
	uv_timer_start(&n->timer, on_tick, 0, TICK_MS);
	if (pthread_create(&n->thread, NULL, notify_main, n) != 0) {
		on_stop(&n->stop);
		uv_run(&n->loop, UV_RUN_DEFAULT);
		uv_loop_close(&n->loop);
		free(n->seen);
		free(n->pending);
		free(n);
		return TAL_EIO;
	}
	n->thread_started = true;
	*out = n;
	return 0;
}

void tal_notify_stop(tal_notify_t *n)
{
	if (n == NULL) {
		return;
	}
	if (n->thread_started) {
		uv_async_send(&n->stop);
		pthread_join(n->thread, NULL);
	}
	uv_loop_close(&n->loop);
	tal_log_info("stats, notify: sent %llu, acknowledged %llu, given up %llu",
	             (unsigned long long)n->sent, (unsigned long long)n->acked,
	             (unsigned long long)n->gave_up);
	free(n->seen);
	free(n->pending);
	free(n);
}
