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
 * write), or worker shutdown (after the write in flight, if any).  Beyond
 * max_conns open connections per worker, new connections are accepted and
 * closed at once, so the listen queue does not fill with clients that will
 * never be served.
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
	size_t rx_off, rx_len; /* unconsumed bytes are rx[rx_off, rx_len) */
	tal_xfr_t *xfr;        /* a zone transfer being streamed (server/xfr.h), or NULL */
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
	conn_touch(c);
	conn_process(c);
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
	conn_touch(c);
	conn_process(c);
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
	return tal_query_answer(&c->w->ans, req, len, c->tx + 2, TAL_MSG_MAXLEN,
	                        TAL_TRANSPORT_TCP);
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
	w->stats.tcp_accepted++;
	uv_tcp_nodelay(&c->tcp, 1);
	conn_touch(c);
	conn_process(c);
}

int tal__tcp_start(tal_worker_t *w, tal_listener_t *l)
{
	int rc;

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
	while (w->free_conns != NULL) {
		tal_tcp_conn_t *c = w->free_conns;
		w->free_conns = c->next;
		free(c);
	}
	w->nfree = 0;
}
