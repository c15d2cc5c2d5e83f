/*
 * server/net_tcp.c -- DNS over TCP per RFC 7766, on libuv streams.
 *
 * Model: one tal_tcp_conn_t per connection, holding its uv_tcp_t, its idle
 * timer, and two buffers sized for the largest DNS message: RX collects the
 * 2-octet-length-framed stream across partial reads, TX holds one framed
 * answer.  Connections come from a per-worker free list, so a busy worker
 * allocates only when it has more connections open than ever before; nothing
 * is allocated per query.
 *
 * Pipelining (RFC 7766 §6.2.1.1): a client may send many queries without
 * waiting.  They are answered strictly in order, one uv_write (length and
 * message together) at a time; while a write is in flight the connection
 * stops reading, so a client that does not read its answers cannot make the
 * server buffer without bound.  When the write completes, the next complete
 * query already in RX is answered, and reading resumes once RX holds none.
 *
 * A connection is closed on: a zero-length frame or a read error (malformed
 * framing), EOF once every complete query has been answered, the idle
 * timeout (RFC 7766 §6.2.3; restarted by every read and every completed
 * write), the read timeout, or worker shutdown (after the write in flight,
 * if any).  Beyond max_conns open connections per worker, or
 * max_per_client from one client address, new connections are accepted and
 * closed at once, so the listen queue does not fill with clients that will
 * never be served and one client cannot take every slot.
 *
 * Slow clients: while part of a message has arrived, the read timeout
 * (counted from its first octet) replaces the idle timeout, so a client
 * that trickles in a byte now and then, which would restart the idle timer
 * for ever, is closed once the message has taken too long (as Knot's
 * tcp-io-timeout).  A client that does not read its answers is bounded by
 * the idle timeout, since the write it blocks restarts nothing.  In flight
 * per connection there is at most one answer: pipelined queries wait in RX
 * (one maximum-size message of room) until the previous answer is written.
 *
 * Handles are freed only in their close callbacks: a connection has two (the
 * stream and the timer) and goes back to the free list when both are closed.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "common/log.h"
#include "common/wire.h"
#include "server/net_int.h"
#include "server/xfr.h"

#define TCP_BACKLOG   256
#define TCP_FRAME     (2 + TAL_MSG_MAXLEN)
#define TCP_FREE_KEEP 32 /* closed connections kept for reuse, per worker */

struct tal_tcp_conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t wreq;
	tal_worker_t *w;
	tal_tcp_conn_t *prev, *next;
	int open_handles; /* 0..2; freed when it drops to 0 after close */
	bool closing;
	bool writing;
	bool reading;
	bool eof;
	size_t rx_off, rx_len;        /* unconsumed bytes are rx[rx_off, rx_len) */
	tal_xfr_t *xfr;               /* a zone transfer being streamed (server/xfr.h), or NULL */
	bool partial;                 /* part of a message is in RX, since msg_start */
	uint64_t msg_start;           /* loop time of the partial message's first read */
	struct sockaddr_storage peer; /* client address (AF_UNSPEC if unknown) */
	uint8_t rx[TCP_FRAME];
	uint8_t tx[TCP_FRAME];
};

static void conn_process(tal_tcp_conn_t *c);

static void conn_unlink(tal_worker_t *w, tal_tcp_conn_t *c)
{
	if (c->prev != NULL) {
		c->prev->next = c->next;
	} else {
		w->conns = c->next;
	}
	if (c->next != NULL) {
		c->next->prev = c->prev;
	}
	c->prev = c->next = NULL;
}

static void conn_handle_closed(uv_handle_t *h)
{
	tal_tcp_conn_t *c = h->data;
	tal_worker_t *w = c->w;

	if (--c->open_handles > 0) {
		return;
	}
	conn_unlink(w, c);
	if (w->nfree < TCP_FREE_KEEP && !w->stopping) {
		c->next = w->free_conns;
		w->free_conns = c;
		w->nfree++;
	} else {
		free(c);
	}
}

static void conn_close(tal_tcp_conn_t *c)
{
	if (c->closing) {
		return;
	}
	c->closing = true;
	/*
	 * The limit counts live connections: this one stops counting now, not
	 * in its close callback, which runs only after this loop iteration has
	 * already polled for (and maybe refused) new connections.
	 */
	c->w->nconns--;
	tal_xfr_free(c->xfr);
	c->xfr = NULL;
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

static void conn_idle(uv_timer_t *t)
{
	tal_tcp_conn_t *c = t->data;

	c->w->stats.tcp_idle++;
	conn_close(c);
}

static void conn_touch(tal_tcp_conn_t *c)
{
	uv_timer_start(&c->timer, conn_idle, c->w->idle_ms, 0);
}

static void conn_slow(uv_timer_t *t)
{
	tal_tcp_conn_t *c = t->data;

	c->w->tcp_slow++;
	conn_close(c);
}

/*
 * Sets the timer after a read or a completed write: the idle timeout while
 * no message is under way (or an answer is being written), else the read
 * timeout left for the message that has begun.
 */
static void conn_arm(tal_tcp_conn_t *c)
{
	uint64_t now = uv_now(&c->w->loop);

	if (c->closing) {
		return;
	}
	if (c->writing || c->rx_len == c->rx_off) {
		c->partial = false;
		conn_touch(c);
		return;
	}
	if (!c->partial) {
		c->partial = true;
		c->msg_start = now;
	}
	uint64_t deadline = c->msg_start + c->w->read_ms;
	uv_timer_start(&c->timer, conn_slow, deadline > now ? deadline - now : 0, 0);
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	tal_tcp_conn_t *c = h->data;

	/* Make room: keep the unconsumed tail at the front of RX. */
	if (c->rx_off > 0) {
		memmove(c->rx, c->rx + c->rx_off, c->rx_len - c->rx_off);
		c->rx_len -= c->rx_off;
		c->rx_off = 0;
	}
	buf->base = (char *)c->rx + c->rx_len;
	buf->len = sizeof(c->rx) - c->rx_len;
}

static void conn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	tal_tcp_conn_t *c = s->data;

	if (nread == 0) {
		return;
	}
	if (nread == UV_EOF) {
		/* Half-close after sending: still answer what arrived complete. */
		uv_read_stop(s);
		c->reading = false;
		c->eof = true;
		conn_process(c);
		return;
	}
	if (nread < 0) {
		conn_close(c);
		return;
	}
	c->rx_len += (size_t)nread;
	conn_process(c);
	conn_arm(c);
}

static void conn_written(uv_write_t *req, int status)
{
	tal_tcp_conn_t *c = req->data;

	c->writing = false;
	if (status < 0 || c->closing) {
		conn_close(c);
		return;
	}
	c->w->stats.tcp_answers++;
	if (c->w->stopping) {
		conn_close(c);
		return;
	}
	conn_process(c);
	conn_arm(c);
}

/*
 * Zone transfers (server/xfr.h): a request starts a stream, answered one
 * message per write, so the connection reads nothing more until it ends.
 */
static size_t conn_answer(tal_tcp_conn_t *c, const uint8_t *req, size_t len)
{
	struct sockaddr_storage peer;
	int plen = sizeof(peer);

	if (tal_xfr_is_request(req, len)) {
		if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &plen) < 0) {
			peer.ss_family = AF_UNSPEC;
		}
		c->xfr = tal_xfr_new(req, len, (struct sockaddr *)&peer, (uint64_t)time(NULL));
		if (c->xfr != NULL) {
			return 0; /* the stream's first message is sent by conn_process */
		}
	}
	return tal_query_answer(&c->w->ans, req, len, c->tx + 2, TAL_MSG_MAXLEN, TAL_TRANSPORT_TCP);
}

/* Writes the transfer's next message, or ends the stream.  False when closed. */
static bool conn_xfr_send(tal_tcp_conn_t *c)
{
	size_t alen = tal_xfr_next(c->xfr, c->tx + 2, TAL_MSG_MAXLEN);

	if (alen == 0) {
		tal_xfr_free(c->xfr);
		c->xfr = NULL;
		return true;
	}
	tal_wire_write_u16(c->tx, (uint16_t)alen);
	uv_buf_t b = uv_buf_init((char *)c->tx, (unsigned)(2 + alen));
	if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, conn_written) < 0) {
		conn_close(c);
		return false;
	}
	c->writing = true;
	return true;
}

/*
 * Answers the next complete query in RX, if any, and arranges what comes
 * next: wait for the write, read more, or close.
 */
static void conn_process(tal_tcp_conn_t *c)
{
	tal_worker_t *w = c->w;

	while (!c->writing && !c->closing) {
		if (c->xfr != NULL) {
			if (!conn_xfr_send(c)) {
				return;
			}
			continue;
		}
		size_t avail = c->rx_len - c->rx_off;
		if (avail < 2) {
			break;
		}
		uint16_t mlen = tal_wire_read_u16(c->rx + c->rx_off);
		if (mlen == 0) {
			w->stats.tcp_malformed++;
			conn_close(c);
			return;
		}
		if (avail < 2 + (size_t)mlen) {
			break;
		}
		size_t alen = conn_answer(c, c->rx + c->rx_off + 2, mlen);
		c->rx_off += 2 + (size_t)mlen;
		c->partial = false; /* what follows is the next message */
		if (c->rx_off == c->rx_len) {
			c->rx_off = c->rx_len = 0;
		}
		if (alen == 0) {
			continue;
		}
		tal_wire_write_u16(c->tx, (uint16_t)alen);
		uv_buf_t b = uv_buf_init((char *)c->tx, (unsigned)(2 + alen));
		if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, conn_written) < 0) {
			conn_close(c);
			return;
		}
		c->writing = true;
	}
	if (c->closing) {
		return;
	}
	if (c->writing) {
		if (c->reading) {
			uv_read_stop((uv_stream_t *)&c->tcp);
			c->reading = false;
		}
		return;
	}
	if (c->eof || w->stopping) {
		conn_close(c);
		return;
	}
	if (!c->reading) {
		if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read) < 0) {
			conn_close(c);
			return;
		}
		c->reading = true;
	}
}

static void reject_closed(uv_handle_t *h)
{
	free(h);
}

/* Over the limit: accept and close at once, so the client learns without waiting. */
static void conn_reject(uv_stream_t *server)
{
	uv_tcp_t *t = malloc(sizeof(*t));

	if (t == NULL || uv_tcp_init(server->loop, t) < 0) {
		free(t);
		return;
	}
	/* Accepting is what lets libuv watch the listener again; then FIN at once. */
	(void)uv_accept(server, (uv_stream_t *)t);
	uv_close((uv_handle_t *)t, reject_closed);
}

static bool same_client(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family) {
		return false;
	}
	if (a->ss_family == AF_INET) {
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		              &((const struct sockaddr_in *)b)->sin_addr,
		              sizeof(struct in_addr)) == 0;
	}
	if (a->ss_family == AF_INET6) {
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		              &((const struct sockaddr_in6 *)b)->sin6_addr,
		              sizeof(struct in6_addr)) == 0;
	}
	return false;
}

/*
 * Records the client's address and tells whether it already has its share
 * of this worker's connections.  A linear walk: connections per worker are
 * few (max_conns) and this runs once per connection, not per query.
 */
static bool over_client_limit(tal_worker_t *w, tal_tcp_conn_t *c)
{
	int plen = sizeof(c->peer);
	unsigned n = 0;

	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &plen) < 0) {
		c->peer.ss_family = AF_UNSPEC;
		return false;
	}
	for (const tal_tcp_conn_t *o = w->conns; o != NULL; o = o->next) {
		if (o != c && !o->closing && same_client(&o->peer, &c->peer)) {
			n++;
		}
	}
	return n >= w->max_per_client;
}

static void on_connection(uv_stream_t *server, int status)
{
	tal_listener_t *l = server->data;
	tal_worker_t *w = l->w;
	tal_tcp_conn_t *c;

	if (status < 0 || w->stopping) {
		return;
	}
	if (w->nconns >= w->max_conns) {
		w->stats.tcp_refused++;
		conn_reject(server);
		return;
	}
	if (w->free_conns != NULL) {
		c = w->free_conns;
		w->free_conns = c->next;
		w->nfree--;
	} else {
		c = malloc(sizeof(*c));
		if (c == NULL) {
			w->stats.tcp_refused++;
			conn_reject(server);
			return;
		}
	}
	c->w = w;
	c->prev = NULL;
	c->open_handles = 0;
	c->closing = c->writing = c->reading = c->eof = false;
	c->rx_off = c->rx_len = 0;
	c->xfr = NULL;
	c->partial = false;
	c->peer.ss_family = AF_UNSPEC;
	c->wreq.data = c;

	/* Linked first: from here on the close callbacks unlink it. */
	c->next = w->conns;
	if (w->conns != NULL) {
		w->conns->prev = c;
	}
	w->conns = c;
	w->nconns++;

	uv_tcp_init(&w->loop, &c->tcp);
	c->tcp.data = c;
	c->open_handles++;
	uv_timer_init(&w->loop, &c->timer);
	c->timer.data = c;
	c->open_handles++;

	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
		conn_close(c);
		return;
	}
	if (over_client_limit(w, c)) {
		w->tcp_client_refused++;
		conn_close(c);
		return;
	}
	w->stats.tcp_accepted++;
	uv_tcp_nodelay(&c->tcp, 1);
	conn_touch(c);
	conn_process(c);
}

int tal__tcp_start(tal_worker_t *w, tal_listener_t *l)
{
	int rc;

	if (w->read_ms == 0) {
		/* Shared out among workers as --tcp-max-connections is. */
		const tal_conf_t *conf = tal_conf_active();
		unsigned per_client = TAL_CONF_TCP_PER_CLIENT_DEFAULT;
		unsigned nworkers = 1, read_sec = TAL_CONF_TCP_READ_DEFAULT;
		if (conf != NULL) {
			per_client = conf->tcp_max_per_client;
			nworkers = conf->threads > 0 ? (unsigned)conf->threads : 1;
			read_sec = conf->tcp_read_sec;
		}
		w->max_per_client = (per_client + nworkers - 1) / nworkers;
		w->read_ms = (uint64_t)read_sec * 1000;
	}

	rc = uv_tcp_init(&w->loop, &l->listener);
	if (rc < 0) {
		goto fail;
	}
	l->listener_init = true;
	l->listener.data = l;
	rc = uv_tcp_open(&l->listener, l->sock.tcp_fd);
	if (rc < 0) {
		goto fail;
	}
	l->sock.tcp_fd = -1; /* the handle owns it now */
	rc = uv_listen((uv_stream_t *)&l->listener, TCP_BACKLOG, on_connection);
	if (rc < 0) {
		goto fail;
	}
	return 0;
fail:
	tal_log_err("listen, tcp %s: %s", l->sock.text, uv_strerror(rc));
	return rc;
}

void tal__tcp_close_listener(tal_listener_t *l)
{
	if (l->listener_init) {
		if (!uv_is_closing((uv_handle_t *)&l->listener)) {
			uv_close((uv_handle_t *)&l->listener, NULL);
		}
	}
	if (l->sock.tcp_fd >= 0) {
		close(l->sock.tcp_fd);
		l->sock.tcp_fd = -1;
	}
}

void tal__tcp_stop_conns(tal_worker_t *w)
{
	tal_tcp_conn_t *c, *next;

	for (c = w->conns; c != NULL; c = next) {
		next = c->next;
		/* A write in flight is finished first; its callback closes. */
		if (!c->writing) {
			conn_close(c);
		}
	}
}

void tal__tcp_free_pool(tal_worker_t *w)
{
	tal_log_info("stats, tcp limits, worker %d: closed by the read timeout %llu, refused over "
	             "the per-client limit %llu",
	             w->id, (unsigned long long)w->tcp_slow,
	             (unsigned long long)w->tcp_client_refused);
	while (w->free_conns != NULL) {
		tal_tcp_conn_t *c = w->free_conns;
		w->free_conns = c->next;
		free(c);
	}
	w->nfree = 0;
}
