/*
 * server/net.h -- tallowd's network workers, as seen by the start-up code.
 *
 * Model: N worker threads, each with its own libuv loop, its own UDP and
 * TCP sockets for every listen address (SO_REUSEPORT, so the kernel spreads
 * packets and connections over the workers), its own store reader and query
 * answerer.  Workers share nothing but the read-only store handle; each
 * keeps its own counters, summed after they stop.  The main thread runs a
 * small libuv loop that only waits for SIGTERM/SIGINT.
 *
 * The start-up code (server.c) creates and binds the sockets, so that it can
 * report a busy address by name and drop privileges before any worker runs;
 * tal_net_start() takes ownership of those descriptors.
 *
 * Lifecycle: tal_net_start -> tal_net_wait_signal -> tal_net_stop ->
 * tal_net_stats -> tal_net_free.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "server/conf.h"
#include "server/query.h"
#include "store/store.h"

/* One listen address's sockets for one worker. */
typedef struct {
	int udp_fd;       /* bound, non-blocking, SO_REUSEPORT */
	int tcp_fd;       /* bound and listening, non-blocking, SO_REUSEPORT */
	bool pktinfo;     /* wildcard address: reply from the address the query came to */
	const char *text; /* "127.0.0.1:53", borrowed from the conf */
} tal_net_sock_t;

/* Transport counters of one worker (plain integers, one writer). */
typedef struct {
	uint64_t udp_recv;      /* datagrams received */
	uint64_t udp_batches;   /* recvmmsg calls that returned datagrams */
	uint64_t udp_sent;      /* answers sent */
	uint64_t udp_send_drop; /* answers dropped: socket buffer full (EAGAIN) */
	uint64_t udp_send_err;  /* answers the kernel refused (unreachable, ...) */
	uint64_t udp_oversize;  /* datagrams larger than the receive slot, dropped */
	uint64_t tcp_accepted;  /* connections served */
	uint64_t tcp_refused;   /* connections closed at once: over the limit */
	uint64_t tcp_idle;      /* connections closed by the idle timeout */
	uint64_t tcp_malformed; /* connections closed for a zero-length frame */
	uint64_t tcp_answers;   /* answers written */
} tal_net_stats_t;

typedef struct tal_net tal_net_t;

/*
 * Starts `nworkers` worker threads.  socks[w * nsocks + i] are worker w's
 * sockets for listen address i; tal_net_start owns every descriptor from
 * the call on, whatever it returns.  Each worker makes its own store reader
 * (tal_reader_new) in its thread.  Returns once every worker is serving (0,
 * *out owns the handle), or when one failed to start: then the others are
 * stopped and joined, and the error is returned (TAL_ENOMEM, TAL_EREADERS,
 * a libuv failure mapped to TAL_EIO).
 */
int tal_net_start(tal_store_t *st, const tal_conf_t *conf, tal_net_sock_t *socks, int nsocks,
                  int nworkers, tal_net_t **out);

/*
 * Runs the main thread's loop until SIGTERM or SIGINT arrives (SIGHUP and
 * SIGPIPE are ignored).  Returns the signal number.
 */
int tal_net_wait_signal(tal_net_t *net);

/*
 * Stops every worker: listeners and UDP sockets close, TCP answers being
 * written are finished (bounded by the idle timeout), every handle is closed
 * in its close callback, readers are freed.  Joins the threads.  Safe to
 * call once; returns 0.
 */
int tal_net_stop(tal_net_t *net);

/* Sums the counters of all (stopped) workers. */
void tal_net_stats(const tal_net_t *net, tal_query_stats_t *q, tal_net_stats_t *n);

/* Frees the handle (after tal_net_stop).  NULL is a no-op. */
void tal_net_free(tal_net_t *net);
