/*
 * server/net_udp.c -- the UDP fast path: batched recvmmsg/sendmmsg.
 *
 * Model: libuv stays the event loop, but UDP does not go through uv_udp_t,
 * which costs one callback and one system call per datagram.  A uv_poll_t
 * watches the socket; when it is readable the worker loops: recvmmsg up to
 * TAL_UDP_BATCH datagrams (MSG_DONTWAIT), answer each into its own TX slot
 * with tal_query_answer, and send all answers with one sendmmsg; until
 * EAGAIN, a short batch, or TAL_UDP_MAX_ROUNDS batches (so TCP and timers on
 * the same loop are not starved; the poll is level-triggered and fires again).
 * The buffers are the worker's, allocated once: nothing here allocates or
 * logs per packet, and per-packet events are counters.
 *
 * On a wildcard address (0.0.0.0, ::) the answer must leave from the address
 * the query was sent to, or a multi-homed host answers from the wrong one and
 * the client drops it.  Those sockets receive IP_PKTINFO/IPV6_PKTINFO and the
 * answer carries it back as the source (as NSD and Unbound do).
 *
 * Every answer passes the worker's response rate limiter (server/rrl.h)
 * before it joins the send batch: a limited answer is dropped or replaced by
 * its truncated form, against reflection and amplification.  The limiter's
 * clock is the loop time, so it costs no system call.
 *
 * Caveats: a full socket send buffer (EAGAIN) drops the rest of the batch,
 * counted in udp_send_drop; UDP offers no better back-pressure and a client
 * retries.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "common/log.h"
#include "server/net_int.h"

/*
 * Turns the destination address of a received datagram into the source
 * control message of its answer.  Returns the control length, 0 if none.
 */
static size_t pktinfo_reply(const struct msghdr *rx, uint8_t *out, size_t outsize)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(rx); c != NULL; c = CMSG_NXTHDR((struct msghdr *)rx, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
		    CMSG_SPACE(sizeof(struct in_pktinfo)) <= outsize) {
			struct in_pktinfo in, reply;
			memcpy(&in, CMSG_DATA(c), sizeof(in));
			memset(&reply, 0, sizeof(reply));
			reply.ipi_spec_dst = in.ipi_addr;
			struct cmsghdr *o = (struct cmsghdr *)out;
			memset(out, 0, CMSG_SPACE(sizeof(reply)));
			o->cmsg_level = IPPROTO_IP;
			o->cmsg_type = IP_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(reply));
			memcpy(CMSG_DATA(o), &reply, sizeof(reply));
			return CMSG_SPACE(sizeof(reply));
		}
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
		    CMSG_SPACE(sizeof(struct in6_pktinfo)) <= outsize) {
			struct in6_pktinfo in6;
			memcpy(&in6, CMSG_DATA(c), sizeof(in6));
			struct cmsghdr *o = (struct cmsghdr *)out;
			memset(out, 0, CMSG_SPACE(sizeof(in6)));
			o->cmsg_level = IPPROTO_IPV6;
			o->cmsg_type = IPV6_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(in6));
			memcpy(CMSG_DATA(o), &in6, sizeof(in6));
			return CMSG_SPACE(sizeof(in6));
		}
	}
	return 0;
}

/* Sends tx_msgs[0..n); a full buffer drops the rest, other errors skip one answer. */
static void send_batch(tal_worker_t *w, int fd, unsigned n)
{
	tal_udp_batch_t *b = w->udp;
	unsigned sent = 0;

	while (sent < n) {
		int r = sendmmsg(fd, &b->tx_msgs[sent], n - sent, MSG_DONTWAIT);
		if (r > 0) {
			sent += (unsigned)r;
			w->stats.udp_sent += (unsigned)r;
			continue;
		}
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
			w->stats.udp_send_drop += n - sent;
			return;
		}
		/* The first message failed (unreachable, bad address): skip it. */
		w->stats.udp_send_err++;
		sent++;
	}
}

/*
 * Points every RX slot at this listener's buffers.  Done once, and again only
 * when another listener of the worker uses the batch (the control buffer
 * depends on the socket); after a batch only the fields recvmmsg wrote are
 * reset (rx_reset), not all TAL_UDP_BATCH headers.
 */
static void rx_setup(tal_udp_batch_t *b, const tal_listener_t *l)
{
	for (unsigned i = 0; i < TAL_UDP_BATCH; i++) {
		struct msghdr *h = &b->rx_msgs[i].msg_hdr;
		h->msg_name = &b->addr[i];
		h->msg_namelen = sizeof(b->addr[i]);
		h->msg_iov = &b->rx_iov[i];
		h->msg_iovlen = 1;
		h->msg_control = l->sock.pktinfo ? b->rx_cmsg[i] : NULL;
		h->msg_controllen = l->sock.pktinfo ? TAL_UDP_CMSG_SPACE : 0;
		h->msg_flags = 0;
	}
	b->rx_owner = l;
}

static void rx_reset(tal_udp_batch_t *b, const tal_listener_t *l, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct msghdr *h = &b->rx_msgs[i].msg_hdr;
		h->msg_namelen = sizeof(b->addr[i]);
		h->msg_controllen = l->sock.pktinfo ? TAL_UDP_CMSG_SPACE : 0;
		h->msg_flags = 0;
	}
}

/*
 * Answers received datagrams [0, n) into TX slots and returns how many
 * answers to send.  The whole batch is answered from one store snapshot
 * (tal_query_batch_begin): a renew per batch, not per query, and a commit
 * is still served by the next batch, microseconds later.
 */
static unsigned answer_batch(tal_worker_t *w, const tal_listener_t *l, unsigned n)
{
	tal_udp_batch_t *b = w->udp;
	uint64_t now = uv_now(&w->loop);
	unsigned nout = 0;

	tal_query_batch_begin(&w->ans);
	if (n > 1) {
		for (unsigned i = 0; i < n; i++) {
			if (!(b->rx_msgs[i].msg_hdr.msg_flags & MSG_TRUNC)) {
				tal_query_prefetch(&w->ans, b->rx[i], b->rx_msgs[i].msg_len);
			}
		}
		tal_query_prefetch_nodes(&w->ans);
	}
	for (unsigned i = 0; i < n; i++) {
		struct msghdr *h = &b->rx_msgs[i].msg_hdr;
		if (h->msg_flags & MSG_TRUNC) {
			w->stats.udp_oversize++;
			continue;
		}
		size_t len = tal_query_answer(&w->ans, b->rx[i], b->rx_msgs[i].msg_len, b->tx[nout],
		                              TAL_UDP_TX_SLOT, TAL_TRANSPORT_UDP);
		if (len == 0) {
			continue;
		}
		tal_rrl_action_t act =
		        tal_rrl_check(&b->rrl, (const struct sockaddr *)&b->addr[i], now);
		if (act == TAL_RRL_DROP) {
			continue;
		}
		if (act == TAL_RRL_SLIP && (len = tal_rrl_truncate(b->tx[nout], len)) == 0) {
			continue;
		}
		struct msghdr *t = &b->tx_msgs[nout].msg_hdr;
		b->tx_iov[nout].iov_base = b->tx[nout];
		b->tx_iov[nout].iov_len = len;
		t->msg_name = &b->addr[i];
		t->msg_namelen = h->msg_namelen;
		t->msg_iov = &b->tx_iov[nout];
		t->msg_iovlen = 1;
		t->msg_flags = 0;
		t->msg_control = NULL;
		t->msg_controllen = 0;
		if (l->sock.pktinfo) {
			size_t cl = pktinfo_reply(h, b->tx_cmsg[nout], TAL_UDP_CMSG_SPACE);
			if (cl > 0) {
				t->msg_control = b->tx_cmsg[nout];
				t->msg_controllen = cl;
			}
		}
		nout++;
	}
	tal_query_batch_end(&w->ans);
	return nout;
}

static void udp_readable(uv_poll_t *poll, int status, int events)
{
	tal_listener_t *l = poll->data;
	tal_worker_t *w = l->w;
	tal_udp_batch_t *b = w->udp;
	int fd = l->sock.udp_fd;

	(void)events;
	if (status < 0 || w->stopping) {
		return;
	}
	if (b->rx_owner != l) {
		rx_setup(b, l);
	}
	for (int round = 0; round < TAL_UDP_MAX_ROUNDS; round++) {
		int n = recvmmsg(fd, b->rx_msgs, TAL_UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			/* EAGAIN: drained.  Anything else (ICMP errors) is retried on the next
			 * event. */
			return;
		}
		w->stats.udp_recv += (unsigned)n;
		w->stats.udp_batches++;
		unsigned nout = answer_batch(w, l, (unsigned)n);
		rx_reset(b, l, (unsigned)n);
		if (nout > 0) {
			send_batch(w, fd, nout);
		}
		if (n < TAL_UDP_BATCH) {
			return;
		}
	}
}

/* Configures the worker's rate limiter from the process configuration. */
static void rrl_setup(tal_worker_t *w)
{
	const tal_conf_t *conf = tal_conf_active();
	tal_rrl_conf_t rc = { .rate = TAL_RRL_RATE_DEFAULT,
		              .slip = TAL_RRL_SLIP_DEFAULT,
		              .v4_prefix = TAL_RRL_IPV4_PREFIX,
		              .v6_prefix = TAL_RRL_IPV6_PREFIX };
	uint8_t seed[16];

	if (conf != NULL) {
		rc.rate = conf->rrl_rate;
		rc.slip = conf->rrl_slip;
		rc.v4_prefix = (uint8_t)conf->rrl_v4_prefix;
		rc.v6_prefix = (uint8_t)conf->rrl_v6_prefix;
		rc.loopback = conf->rrl_loopback;
	}
	/*
	 * The hash key only has to be unknown to clients; if the kernel has no
	 * entropy to give yet, the clock and the buffer's address still are.
	 */
	if (getrandom(seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
		struct timespec ts;
		uintptr_t p = (uintptr_t)w->udp;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		memcpy(seed, &ts, sizeof(ts) < 8 ? sizeof(ts) : 8);
		memcpy(seed + 8, &p, sizeof(p) < 8 ? sizeof(p) : 8);
	}
	tal_rrl_init(&w->udp->rrl, &rc, seed);
	w->udp->rrl_init = true;
}

int tal__udp_start(tal_worker_t *w, tal_listener_t *l)
{
	tal_udp_batch_t *b = w->udp;
	int rc;

	for (unsigned i = 0; i < TAL_UDP_BATCH; i++) {
		b->rx_iov[i].iov_base = b->rx[i];
		b->rx_iov[i].iov_len = TAL_UDP_RX_SLOT;
	}
	if (!b->rrl_init) {
		rrl_setup(w);
	}
	rc = uv_poll_init_socket(&w->loop, &l->poll, l->sock.udp_fd);
	if (rc < 0) {
		tal_log_err("listen, udp %s: %s", l->sock.text, uv_strerror(rc));
		return rc;
	}
	l->poll_init = true;
	l->poll.data = l;
	rc = uv_poll_start(&l->poll, UV_READABLE, udp_readable);
	if (rc < 0) {
		tal_log_err("listen, udp %s: %s", l->sock.text, uv_strerror(rc));
		return rc;
	}
	return 0;
}

static void udp_closed(uv_handle_t *h)
{
	tal_listener_t *l = h->data;

	/* uv_poll_t does not own the descriptor. */
	if (l->sock.udp_fd >= 0) {
		close(l->sock.udp_fd);
		l->sock.udp_fd = -1;
	}
}

void tal__udp_close(tal_listener_t *l)
{
	tal_worker_t *w = l->w;

	/* Once per worker, with its last listener: the limiter's counters. */
	if (w != NULL && w->udp != NULL && w->udp->rrl_init &&
	    l == &w->listeners[w->nlisteners - 1]) {
		const tal_rrl_stats_t *rs = &w->udp->rrl.stats;
		tal_log_info("stats, rrl, worker %d: answers sent %llu, dropped %llu, sent "
		             "truncated %llu, buckets reused %llu",
		             w->id, (unsigned long long)rs->passed, (unsigned long long)rs->dropped,
		             (unsigned long long)rs->slipped, (unsigned long long)rs->evicted);
	}
	if (l->poll_init) {
		if (!uv_is_closing((uv_handle_t *)&l->poll)) {
			uv_close((uv_handle_t *)&l->poll, udp_closed);
		}
	} else if (l->sock.udp_fd >= 0) {
		close(l->sock.udp_fd);
		l->sock.udp_fd = -1;
	}
}
