/*
 * server/net_int.h -- the worker's state, shared by net_worker.c, net_udp.c
 * and net_tcp.c (libuv's uv-common.h in spirit: internal, tal__ names).
 *
 * A worker thread owns everything in tal_worker_t; no other thread touches
 * it between start and join except through the stop uv_async_t.
 */
#pragma once

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "server/net.h"
#include "server/query.h"
#include "server/rrl.h"
#include "store/store.h"

/*
 * UDP batch: recvmmsg fills up to TAL_UDP_BATCH slots, each answered into its
 * own TX slot, and one sendmmsg sends them.  RX slots are larger than any
 * answer: queries with EDNS padding or cookies can exceed 512 octets, and a
 * datagram larger than the slot is dropped (MSG_TRUNC) rather than parsed
 * short.
 */
#define TAL_UDP_BATCH      64
#define TAL_UDP_RX_SLOT    4096
#define TAL_UDP_TX_SLOT    TAL_EDNS_UDP_SIZE
#define TAL_UDP_MAX_ROUNDS 8 /* batches per readable event, so TCP and timers get a turn */
#define TAL_UDP_CMSG_SPACE 64

typedef struct tal_worker tal_worker_t;
typedef struct tal_tcp_conn tal_tcp_conn_t;

typedef struct {
	struct mmsghdr rx_msgs[TAL_UDP_BATCH];
	struct mmsghdr tx_msgs[TAL_UDP_BATCH];
	struct iovec rx_iov[TAL_UDP_BATCH];
	struct iovec tx_iov[TAL_UDP_BATCH];
	struct sockaddr_storage addr[TAL_UDP_BATCH];
	_Alignas(struct cmsghdr) uint8_t rx_cmsg[TAL_UDP_BATCH][TAL_UDP_CMSG_SPACE];
	_Alignas(struct cmsghdr) uint8_t tx_cmsg[TAL_UDP_BATCH][TAL_UDP_CMSG_SPACE];
	uint8_t rx[TAL_UDP_BATCH][TAL_UDP_RX_SLOT];
	uint8_t tx[TAL_UDP_BATCH][TAL_UDP_TX_SLOT];
	const void *rx_owner; /* the listener rx_msgs are set up for (net_udp.c rx_setup) */
	tal_rrl_t rrl; /* this worker's response rate limiter, set up by the first listener */
	bool rrl_init;
} tal_udp_batch_t;

/* One listen address in one worker. */
typedef struct {
	tal_worker_t *w;
	tal_net_sock_t sock;
	uv_poll_t poll;    /* watches sock.udp_fd */
	uv_tcp_t listener; /* owns sock.tcp_fd once opened */
	bool poll_init, listener_init;
} tal_listener_t;

struct tal_worker {
	int id;
	struct tal_net *net;
	pthread_t thread;
	bool thread_started;
	uv_loop_t loop;
	bool loop_init;
	uv_async_t stop_async;
	bool stopping;

	tal_listener_t *listeners;
	int nlisteners;

	tal_reader_t *reader;
	tal_answerer_t ans;
	tal_net_stats_t stats;
	tal_udp_batch_t *udp; /* allocated once, at start */

	/* TCP. */
	tal_tcp_conn_t *conns;      /* open connections (doubly linked) */
	tal_tcp_conn_t *free_conns; /* closed connections kept for reuse */
	unsigned nconns, nfree, max_conns;
	uint64_t idle_ms;
	/* Set by net_tcp.c from tal_conf_active() when the first listener starts. */
	unsigned max_per_client;
	uint64_t read_ms;
	uint64_t tcp_slow;           /* connections closed by the read timeout */
	uint64_t tcp_client_refused; /* connections closed: over the per-client limit */

	int start_err; /* set by the thread before it reports ready */
};

/* Worker-side entry points of net_udp.c and net_tcp.c. */
int tal__udp_start(tal_worker_t *w, tal_listener_t *l);
void tal__udp_close(tal_listener_t *l);
int tal__tcp_start(tal_worker_t *w, tal_listener_t *l);
void tal__tcp_close_listener(tal_listener_t *l);
/* Closes every connection (after in-flight writes) and frees the free list. */
void tal__tcp_stop_conns(tal_worker_t *w);
void tal__tcp_free_pool(tal_worker_t *w);
