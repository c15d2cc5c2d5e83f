/*
 * server/net_worker.c -- worker threads, their loops, and the signal loop.
 *
 * Model: each worker thread initialises its own uv_loop_t, store reader and
 * buffers, opens its listeners, reports to the main thread that it is ready
 * (or why it is not), and runs its loop until told to stop.  Stopping is one
 * uv_async_send per worker: the worker closes its listeners and UDP polls,
 * lets TCP answers in flight finish, closes every connection, and its loop
 * runs dry.  The main thread's loop holds only the signal handles.
 *
 * Start-up is all-or-nothing: if any worker fails, the ones that started are
 * stopped and every thread is joined before tal_net_start returns the error.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "common/error.h"
#include "common/log.h"
#include "server/net_int.h"

struct tal_net {
	tal_store_t *st;
	const tal_conf_t *conf;
	tal_worker_t *workers;
	int nworkers;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	int nreported;

	uv_loop_t loop;
	bool loop_init;
	uv_signal_t sig_term, sig_int, sig_hup;
	int signum;
	bool stopped;
};

static int uv_to_tal(int rc)
{
	/* libuv's codes are negated errno values on Unix, as ours are. */
	return rc == UV_ENOMEM ? TAL_ENOMEM : rc == UV_EADDRINUSE ? TAL_EADDRINUSE : TAL_EIO;
}

static void close_fds(tal_net_sock_t *socks, int n)
{
	for (int i = 0; i < n; i++) {
		if (socks[i].udp_fd >= 0) {
			close(socks[i].udp_fd);
		}
		if (socks[i].tcp_fd >= 0) {
			close(socks[i].tcp_fd);
		}
	}
}

static void worker_stop_cb(uv_async_t *a)
{
	tal_worker_t *w = a->data;

	w->stopping = true;
	for (int i = 0; i < w->nlisteners; i++) {
		tal__udp_close(&w->listeners[i]);
		tal__tcp_close_listener(&w->listeners[i]);
	}
	tal__tcp_stop_conns(w);
	uv_close((uv_handle_t *)&w->stop_async, NULL);
}

static void worker_report(tal_worker_t *w, int err)
{
	struct tal_net *net = w->net;

	pthread_mutex_lock(&net->mu);
	w->start_err = err;
	net->nreported++;
	pthread_cond_signal(&net->cv);
	pthread_mutex_unlock(&net->mu);
}

static void *worker_main(void *arg)
{
	tal_worker_t *w = arg;
	struct tal_net *net = w->net;
	bool async_init = false;
	int rc;

	rc = uv_loop_init(&w->loop);
	if (rc < 0) {
		tal_log_err("worker %d: event loop: %s", w->id, uv_strerror(rc));
		worker_report(w, uv_to_tal(rc));
		goto out;
	}
	w->loop_init = true;
	rc = tal_reader_new(net->st, &w->reader);
	if (rc < 0) {
		tal_log_err("worker %d: database reader: %s", w->id, tal_strerror(rc));
		goto fail;
	}
	memset(&w->ans, 0, sizeof(w->ans));
	w->ans.reader = w->reader;
	w->udp = calloc(1, sizeof(*w->udp));
	if (w->udp == NULL) {
		rc = TAL_ENOMEM;
		tal_log_err("worker %d: buffers: %s", w->id, tal_strerror(rc));
		goto fail;
	}
	rc = uv_async_init(&w->loop, &w->stop_async, worker_stop_cb);
	if (rc < 0) {
		tal_log_err("worker %d: %s", w->id, uv_strerror(rc));
		rc = uv_to_tal(rc);
		goto fail;
	}
	async_init = true;
	w->stop_async.data = w;
	for (int i = 0; i < w->nlisteners; i++) {
		rc = tal__udp_start(w, &w->listeners[i]);
		if (rc == 0) {
			rc = tal__tcp_start(w, &w->listeners[i]);
		}
		if (rc < 0) {
			rc = uv_to_tal(rc);
			goto fail;
		}
	}
	worker_report(w, 0);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	goto out;

fail:
	worker_report(w, rc);
	w->stopping = true;
	for (int i = 0; i < w->nlisteners; i++) {
		tal__udp_close(&w->listeners[i]);
		tal__tcp_close_listener(&w->listeners[i]);
	}
	if (async_init) {
		uv_close((uv_handle_t *)&w->stop_async, NULL);
	}
	uv_run(&w->loop, UV_RUN_DEFAULT);
out:
	for (int i = 0; i < w->nlisteners; i++) {
		/* Descriptors no handle took over (a start that failed early). */
		close_fds(&w->listeners[i].sock, 1);
		w->listeners[i].sock.udp_fd = w->listeners[i].sock.tcp_fd = -1;
	}
	tal__tcp_free_pool(w);
	if (w->loop_init) {
		if (uv_loop_close(&w->loop) != 0) {
			tal_log_warnx("worker %d: event loop closed with handles open", w->id);
		}
		w->loop_init = false;
	}
	tal_reader_free(w->reader);
	w->reader = NULL;
	w->ans.reader = NULL;
	free(w->udp);
	w->udp = NULL;
	return NULL;
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct tal_net *net = s->data;

	if (signum == SIGHUP) {
		tal_log_info("signal SIGHUP ignored: every commit is served at once");
		return;
	}
	net->signum = signum;
	uv_stop(&net->loop);
}

static int signals_init(struct tal_net *net)
{
	int rc = uv_loop_init(&net->loop);
	if (rc < 0) {
		return rc;
	}
	net->loop_init = true;
	uv_signal_init(&net->loop, &net->sig_term);
	uv_signal_init(&net->loop, &net->sig_int);
	uv_signal_init(&net->loop, &net->sig_hup);
	net->sig_term.data = net->sig_int.data = net->sig_hup.data = net;
	if ((rc = uv_signal_start(&net->sig_term, on_signal, SIGTERM)) < 0 ||
	    (rc = uv_signal_start(&net->sig_int, on_signal, SIGINT)) < 0 ||
	    (rc = uv_signal_start(&net->sig_hup, on_signal, SIGHUP)) < 0) {
		return rc;
	}
	return 0;
}

static void signals_close(struct tal_net *net)
{
	if (!net->loop_init) {
		return;
	}
	uv_close((uv_handle_t *)&net->sig_term, NULL);
	uv_close((uv_handle_t *)&net->sig_int, NULL);
	uv_close((uv_handle_t *)&net->sig_hup, NULL);
	uv_run(&net->loop, UV_RUN_DEFAULT);
	uv_loop_close(&net->loop);
	net->loop_init = false;
}

int tal_net_start(tal_store_t *st, const tal_conf_t *conf, tal_net_sock_t *socks, int nsocks,
                  int nworkers, tal_net_t **out)
{
	struct tal_net *net;
	unsigned per_worker;
	int rc = 0, nstarted = 0;

	*out = NULL;
	net = calloc(1, sizeof(*net));
	if (net == NULL) {
		close_fds(socks, nsocks * nworkers);
		return TAL_ENOMEM;
	}
	net->st = st;
	net->conf = conf;
	net->nworkers = nworkers;
	pthread_mutex_init(&net->mu, NULL);
	pthread_cond_init(&net->cv, NULL);
	net->workers = calloc((size_t)nworkers, sizeof(*net->workers));
	if (net->workers == NULL) {
		close_fds(socks, nsocks * nworkers);
		tal_net_free(net);
		return TAL_ENOMEM;
	}
	per_worker = (conf->tcp_max_conns + (unsigned)nworkers - 1) / (unsigned)nworkers;
	for (int i = 0; i < nworkers; i++) {
		tal_worker_t *w = &net->workers[i];
		w->id = i;
		w->net = net;
		w->max_conns = per_worker;
		w->idle_ms = (uint64_t)conf->tcp_idle_sec * 1000;
		w->nlisteners = nsocks;
		w->listeners = calloc((size_t)nsocks, sizeof(*w->listeners));
		if (w->listeners == NULL) {
			rc = TAL_ENOMEM;
		}
	}
	for (int i = 0; i < nworkers; i++) {
		tal_worker_t *w = &net->workers[i];
		for (int j = 0; j < nsocks; j++) {
			if (w->listeners != NULL) {
				w->listeners[j].w = w;
				w->listeners[j].sock = socks[i * nsocks + j];
			} else {
				close_fds(&socks[i * nsocks + j], 1);
			}
		}
	}
	if (rc == 0 && (rc = signals_init(net)) < 0) {
		tal_log_err("signals: %s", uv_strerror(rc));
		rc = uv_to_tal(rc);
	}
	if (rc < 0) {
		for (int i = 0; i < nworkers; i++) {
			if (net->workers[i].listeners != NULL) {
				for (int j = 0; j < nsocks; j++) {
					close_fds(&net->workers[i].listeners[j].sock, 1);
				}
			}
		}
		net->stopped = true;
		tal_net_free(net);
		return rc;
	}

	for (int i = 0; i < nworkers; i++) {
		tal_worker_t *w = &net->workers[i];
		int prc = pthread_create(&w->thread, NULL, worker_main, w);
		if (prc != 0) {
			rc = tal_error_from_errno(prc);
			tal_log_err("worker %d: thread: %s", i, tal_strerror(rc));
			for (int k = i; k < nworkers; k++) {
				for (int j = 0; j < nsocks; j++) {
					close_fds(&net->workers[k].listeners[j].sock, 1);
				}
			}
			break;
		}
		w->thread_started = true;
		nstarted++;
		char name[16];
		snprintf(name, sizeof(name), "tallowd-w%u", (unsigned)i % 1000u);
		pthread_setname_np(w->thread, name);
	}

	pthread_mutex_lock(&net->mu);
	while (net->nreported < nstarted) {
		pthread_cond_wait(&net->cv, &net->mu);
	}
	pthread_mutex_unlock(&net->mu);
	for (int i = 0; i < nstarted; i++) {
		if (net->workers[i].start_err < 0 && rc == 0) {
			rc = net->workers[i].start_err;
		}
	}
	if (rc < 0) {
		tal_net_stop(net);
		tal_net_free(net);
		return rc;
	}
	*out = net;
	return 0;
}

int tal_net_wait_signal(tal_net_t *net)
{
	net->signum = 0;
	while (net->signum == 0) {
		uv_run(&net->loop, UV_RUN_DEFAULT);
	}
	return net->signum;
}

int tal_net_stop(tal_net_t *net)
{
	if (net == NULL || net->stopped) {
		return 0;
	}
	net->stopped = true;
	for (int i = 0; i < net->nworkers; i++) {
		tal_worker_t *w = &net->workers[i];
		/* A worker that failed to start has closed its async and is exiting alone. */
		if (w->thread_started && w->start_err == 0) {
			uv_async_send(&w->stop_async);
		}
	}
	for (int i = 0; i < net->nworkers; i++) {
		tal_worker_t *w = &net->workers[i];
		if (w->thread_started) {
			pthread_join(w->thread, NULL);
			w->thread_started = false;
		}
	}
	return 0;
}

void tal_net_stats(const tal_net_t *net, tal_query_stats_t *q, tal_net_stats_t *n)
{
	memset(q, 0, sizeof(*q));
	memset(n, 0, sizeof(*n));
	for (int i = 0; i < net->nworkers; i++) {
		const tal_query_stats_t *a = &net->workers[i].ans.stats;
		const tal_net_stats_t *b = &net->workers[i].stats;
		q->queries += a->queries;
		q->noerror += a->noerror;
		q->nxdomain += a->nxdomain;
		q->nodata += a->nodata;
		q->refused += a->refused;
		q->formerr += a->formerr;
		q->servfail += a->servfail;
		q->notimp += a->notimp;
		q->badvers += a->badvers;
		q->dropped += a->dropped;
		q->truncated += a->truncated;
		q->edns += a->edns;
		n->udp_recv += b->udp_recv;
		n->udp_batches += b->udp_batches;
		n->udp_sent += b->udp_sent;
		n->udp_send_drop += b->udp_send_drop;
		n->udp_send_err += b->udp_send_err;
		n->udp_oversize += b->udp_oversize;
		n->tcp_accepted += b->tcp_accepted;
		n->tcp_refused += b->tcp_refused;
		n->tcp_idle += b->tcp_idle;
		n->tcp_malformed += b->tcp_malformed;
		n->tcp_answers += b->tcp_answers;
	}
}

void tal_net_free(tal_net_t *net)
{
	if (net == NULL) {
		return;
	}
	tal_net_stop(net);
	signals_close(net);
	if (net->workers != NULL) {
		for (int i = 0; i < net->nworkers; i++) {
			free(net->workers[i].listeners);
		}
		free(net->workers);
	}
	pthread_cond_destroy(&net->cv);
	pthread_mutex_destroy(&net->mu);
	free(net);
}
