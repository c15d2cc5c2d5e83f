/*
 * server/server.c -- tallowd's start-up and shutdown sequence.
 *
 * The order matters and is the point of this file:
 *   1. options, then the database (read-only) and its zones: a server with
 *      nothing to serve refuses to start rather than answer REFUSED to all;
 *   2. probe each listen address with plain sockets, no SO_REUSEPORT: with
 *      SO_REUSEPORT a second tallowd would silently share the port (and half
 *      the queries) with the first, so an occupied port must fail here;
 *   3. bind the real sockets (SO_REUSEPORT, one set per worker) while still
 *      privileged, open the pidfile, then drop to -u USER;
 *   4. start the workers; only when all serve, write the pidfile and log the
 *      start-up line, so "pidfile exists" means "answering".
 * Shutdown runs it backwards.  No libuv here: that is net_*.c's.
 */
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/dname.h"
#include "common/error.h"
#include "common/log.h"
#include "server/conf.h"
#include "server/net.h"
#include "server/notify.h"
#include "server/xfr.h"
#include "store/store.h"

#define ZONES_LISTED 8 /* zone names shown in the start-up line */
#define UDP_RCVBUF   (4 << 20)

static void startup_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void startup_error(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "tallowd: %s\n", line);
}

/* The zones in the database: how many, and the first names for the log. */
typedef struct {
	int count;
	char names[256];
} zone_list_t;

static int list_zones(tal_store_t *st, zone_list_t *zl)
{
	tal_txn_t *txn = NULL;
	tal_cursor_t *cur = NULL;
	tal_val_t k, v;
	size_t used = 0;
	int rc;

	memset(zl, 0, sizeof(*zl));
	rc = tal_txn_begin(st, TAL_TXN_READ, &txn);
	if (rc < 0) {
		goto cleanup;
	}
	rc = tal_cursor_open(txn, TAL_DB_ZONES, &cur);
	if (rc < 0) {
		goto cleanup;
	}
	for (rc = tal_cursor_seek(cur, NULL, 0, &k, &v); rc == 0;
	     rc = tal_cursor_next(cur, &k, &v)) {
		char text[TAL_DNAME_TEXTSZ];
		if (zl->count < ZONES_LISTED &&
		    tal_key_to_text(k.data, k.len, text, sizeof(text)) > 0) {
			int n = snprintf(zl->names + used, sizeof(zl->names) - used, "%s%s",
			                 used > 0 ? ", " : "", text);
			if (n > 0 && (size_t)n < sizeof(zl->names) - used) {
				used += (size_t)n;
			}
		}
		zl->count++;
	}
	if (rc == TAL_ENOTFOUND) {
		rc = 0;
	}
	if (zl->count > ZONES_LISTED && used < sizeof(zl->names)) {
		snprintf(zl->names + used, sizeof(zl->names) - used, " and %d more",
		         zl->count - ZONES_LISTED);
	}
cleanup:
	tal_cursor_close(cur);
	tal_txn_abort(txn);
	return rc;
}

static int open_store(const tal_conf_t *conf, tal_store_t **st, zone_list_t *zl)
{
	tal_store_opts_t opts = { .flags = TAL_STORE_RDONLY };
	int rc;

	rc = tal_store_open(conf->dbdir, &opts, st);
	if (rc < 0) {
		if (rc == TAL_ENODB) {
			startup_error("%s: %s (create one with 'tallowctl -d %s init ZONE')",
			              conf->dbdir, tal_strerror(rc), conf->dbdir);
		} else {
			startup_error("%s: %s", conf->dbdir, tal_strerror(rc));
		}
		return rc;
	}
	rc = list_zones(*st, zl);
	if (rc < 0) {
		startup_error("%s: reading the zones: %s", conf->dbdir, tal_strerror(rc));
		return rc;
	}
	if (zl->count == 0) {
		startup_error("%s: the database holds no zone (create one with 'tallowctl -d %s "
		              "init ZONE')",
		              conf->dbdir, conf->dbdir);
		return TAL_ENOZONE;
	}
	return 0;
}

static bool is_wildcard(const tal_listen_t *l)
{
	if (l->addr.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&l->addr;
		return sin->sin_addr.s_addr == htonl(INADDR_ANY);
	}
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&l->addr;
	return IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
}

static void setopt_int(int fd, int level, int name, int value)
{
	(void)setsockopt(fd, level, name, &value, sizeof(value));
}

/*
 * Makes one socket for `l`.  `shared`: SO_REUSEPORT (the workers' sockets);
 * otherwise a probe.  Returns the descriptor or a negative TAL_E* code.
 */
static int make_socket(const tal_listen_t *l, int type, bool shared)
{
	int fd = socket(l->addr.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0) {
		return tal_error_from_errno(errno);
	}
	if (l->addr.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
		goto fail;
	}
	if (type == SOCK_STREAM) {
		/* Connections of an earlier run in TIME_WAIT must not block a restart. */
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
			goto fail;
		}
	}
	if (shared && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
		goto fail;
	}
	if (shared && type == SOCK_DGRAM) {
		setopt_int(fd, SOL_SOCKET, SO_RCVBUF, UDP_RCVBUF);
		if (is_wildcard(l)) {
			if (l->addr.ss_family == AF_INET) {
				setopt_int(fd, IPPROTO_IP, IP_PKTINFO, 1);
			} else {
				setopt_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
			}
		}
		/*
		 * Answers fit 1232 octets; never let a forged ICMP "fragmentation
		 * needed" shrink them into fragments (the attack RFC 8900 §3 and
		 * the 2020 DNS flag day address).
		 */
		if (l->addr.ss_family == AF_INET) {
			setopt_int(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_OMIT);
		} else {
			setopt_int(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_OMIT);
		}
	}
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) < 0) {
		goto fail;
	}
	if (type == SOCK_STREAM && shared && listen(fd, SOMAXCONN) < 0) {
		goto fail;
	}
	return fd;
fail : {
	int rc = tal_error_from_errno(errno);
	close(fd);
	return rc;
}
}

static int probe_addresses(tal_conf_t *conf)
{
	for (int i = 0; i < conf->nlisten; i++) {
		const tal_listen_t *l = &conf->listen[i];
		static const int types[2] = { SOCK_STREAM, SOCK_DGRAM };
		for (int t = 0; t < 2; t++) {
			int fd = make_socket(l, types[t], false);
			if (fd >= 0) {
				close(fd);
				continue;
			}
			/* The default [::] on a host without IPv6: serve IPv4 alone. */
			if (conf->listen_default && l->addr.ss_family == AF_INET6 &&
			    (fd == TAL_EAFNOSUPPORT || fd == TAL_EADDRNOTAVAIL)) {
				tal_log_notice("listen %s: %s, serving IPv4 only", l->text,
				               tal_strerror(fd));
				memmove(&conf->listen[i], &conf->listen[i + 1],
				        (size_t)(conf->nlisten - i - 1) * sizeof(conf->listen[0]));
				conf->nlisten--;
				i--;
				break;
			}
			startup_error("%s (%s): %s", l->text,
			              types[t] == SOCK_STREAM ? "tcp" : "udp", tal_strerror(fd));
			return fd;
		}
	}
	return 0;
}

static int bind_sockets(const tal_conf_t *conf, tal_net_sock_t *socks)
{
	for (int w = 0; w < conf->threads; w++) {
		for (int i = 0; i < conf->nlisten; i++) {
			tal_net_sock_t *s = &socks[w * conf->nlisten + i];
			const tal_listen_t *l = &conf->listen[i];
			s->text = l->text;
			s->pktinfo = is_wildcard(l);
			s->udp_fd = make_socket(l, SOCK_DGRAM, true);
			if (s->udp_fd < 0) {
				startup_error("%s (udp): %s", l->text, tal_strerror(s->udp_fd));
				return s->udp_fd;
			}
			s->tcp_fd = make_socket(l, SOCK_STREAM, true);
			if (s->tcp_fd < 0) {
				startup_error("%s (tcp): %s", l->text, tal_strerror(s->tcp_fd));
				return s->tcp_fd;
			}
		}
	}
	return 0;
}

static void close_sockets(tal_net_sock_t *socks, int n)
{
	for (int i = 0; i < n; i++) {
		if (socks[i].udp_fd >= 0) {
			close(socks[i].udp_fd);
		}
		if (socks[i].tcp_fd >= 0) {
			close(socks[i].tcp_fd);
		}
		socks[i].udp_fd = socks[i].tcp_fd = -1;
	}
}

typedef struct {
	uid_t uid;
	gid_t gid;
} run_as_t;

static int resolve_user(const char *user, run_as_t *as)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		if (errno != 0 && errno != ENOENT && errno != ESRCH) {
			startup_error("-u %s: %s", user, strerror(errno));
		} else {
			startup_error("-u %s: no such user", user);
		}
		return TAL_EINVAL;
	}
	as->uid = pw->pw_uid;
	as->gid = pw->pw_gid;
	return 0;
}

static int drop_privileges(const char *user, const run_as_t *as)
{
	if (getuid() == as->uid && geteuid() == as->uid && getgid() == as->gid) {
		return 0; /* already that user: nothing to drop */
	}
	if (setgroups(1, &as->gid) < 0 || setgid(as->gid) < 0 || setuid(as->uid) < 0) {
		startup_error("-u %s: cannot switch to that user: %s", user, strerror(errno));
		return tal_error_from_errno(errno);
	}
	/* Make sure it cannot be undone. */
	if (as->uid != 0 && setuid(0) == 0) {
		startup_error("-u %s: privileges could not be dropped", user);
		return TAL_EPERM;
	}
	return 0;
}

static void log_stats(tal_net_t *net)
{
	tal_query_stats_t q;
	tal_net_stats_t n;

	tal_net_stats(net, &q, &n);
	tal_log_info("stats, queries %llu: noerror %llu, nxdomain %llu, nodata %llu, refused %llu, "
	             "formerr %llu, servfail %llu, notimp %llu, badvers %llu, dropped %llu, "
	             "truncated %llu, edns %llu",
	             (unsigned long long)q.queries, (unsigned long long)q.noerror,
	             (unsigned long long)q.nxdomain, (unsigned long long)q.nodata,
	             (unsigned long long)q.refused, (unsigned long long)q.formerr,
	             (unsigned long long)q.servfail, (unsigned long long)q.notimp,
	             (unsigned long long)q.badvers, (unsigned long long)q.dropped,
	             (unsigned long long)q.truncated, (unsigned long long)q.edns);
	tal_log_info("stats, udp: received %llu in %llu batches, sent %llu, dropped on a full send "
	             "buffer %llu, send errors %llu, oversized %llu",
	             (unsigned long long)n.udp_recv, (unsigned long long)n.udp_batches,
	             (unsigned long long)n.udp_sent, (unsigned long long)n.udp_send_drop,
	             (unsigned long long)n.udp_send_err, (unsigned long long)n.udp_oversize);
	tal_log_info("stats, tcp: connections %llu, refused over the limit %llu, idle timeouts "
	             "%llu, malformed %llu, answers %llu",
	             (unsigned long long)n.tcp_accepted, (unsigned long long)n.tcp_refused,
	             (unsigned long long)n.tcp_idle, (unsigned long long)n.tcp_malformed,
	             (unsigned long long)n.tcp_answers);
}

static void log_xfr_stats(void)
{
	tal_xfr_stats_t x;

	tal_xfr_stats(&x);
	tal_log_info("stats, xfr: axfr %llu, ixfr %llu, ixfr answered in full %llu, ixfr up to "
	             "date %llu, refused %llu, notauth %llu, messages %llu",
	             (unsigned long long)x.axfr, (unsigned long long)x.ixfr,
	             (unsigned long long)x.ixfr_full, (unsigned long long)x.ixfr_uptodate,
	             (unsigned long long)x.refused, (unsigned long long)x.notauth,
	             (unsigned long long)x.messages);
}

static const char *signal_name(int sig)
{
	return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "signal";
}

int tal_server_main(int argc, char **argv)
{
	tal_conf_t conf;
	tal_store_t *st = NULL;
	tal_net_t *net = NULL;
	tal_notify_t *notify = NULL;
	tal_net_sock_t *socks = NULL;
	zone_list_t zl;
	run_as_t as;
	int pidfd = -1, nsocks = 0;
	bool pidfile_written = false;
	int status = TAL_EXIT_FAIL, rc;

	signal(SIGPIPE, SIG_IGN);
	if (tal_conf_parse(&conf, argc, argv, &status) != TAL_CONF_RUN) {
		return status;
	}
	status = TAL_EXIT_FAIL;
	tal_log_init("tallowd", conf.log_level);

	if (conf.user != NULL && resolve_user(conf.user, &as) < 0) {
		goto cleanup;
	}
	if (open_store(&conf, &st, &zl) < 0) {
		goto cleanup;
	}
	if (conf.check) {
		tal_conf_print(&conf, stdout);
		printf("zones: %d (%s)\n", zl.count, zl.names);
		status = TAL_EXIT_OK;
		goto cleanup;
	}

	if (probe_addresses(&conf) < 0) {
		goto cleanup;
	}
	nsocks = conf.threads * conf.nlisten;
	socks = calloc((size_t)nsocks, sizeof(*socks));
	if (socks == NULL) {
		startup_error("%s", tal_strerror(TAL_ENOMEM));
		goto cleanup;
	}
	for (int i = 0; i < nsocks; i++) {
		socks[i].udp_fd = socks[i].tcp_fd = -1;
	}
	if (bind_sockets(&conf, socks) < 0) {
		goto cleanup;
	}
	if (conf.pidfile != NULL) {
		pidfd = open(conf.pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (pidfd < 0) {
			startup_error("%s: %s", conf.pidfile, strerror(errno));
			goto cleanup;
		}
		if (conf.user != NULL && fchown(pidfd, as.uid, as.gid) < 0 && errno != EPERM) {
			tal_log_warn("pidfile %s: chown", conf.pidfile);
		}
	}
	if (conf.user != NULL && drop_privileges(conf.user, &as) < 0) {
		goto cleanup;
	}

	if (!conf.no_index) {
		rc = tal_store_index_start(st);
		if (rc < 0) {
			tal_log_warnx("index: %s; answering from the B-tree", tal_strerror(rc));
		}
	}
	tal_xfr_init(st);
	rc = tal_net_start(st, &conf, socks, conf.nlisten, conf.threads, &net);
	free(socks); /* the descriptors are tal_net_start's now */
	socks = NULL;
	if (rc < 0) {
		startup_error("starting the workers: %s", tal_strerror(rc));
		goto cleanup;
	}
	if (pidfd >= 0) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
		if (write(pidfd, buf, (size_t)n) != n) {
			tal_log_warn("pidfile %s: write", conf.pidfile);
		}
		close(pidfd);
		pidfd = -1;
		pidfile_written = true;
	}

	char addrs[TAL_CONF_MAX_LISTEN * 81] = "";
	size_t used = 0;
	for (int i = 0; i < conf.nlisten; i++) {
		int n = snprintf(addrs + used, sizeof(addrs) - used, "%s%s", i > 0 ? " " : "",
		                 conf.listen[i].text);
		if (n > 0 && (size_t)n < sizeof(addrs) - used) {
			used += (size_t)n;
		}
	}
	tal_log_notice("serving %d zone%s (%s) from %s on %s (udp, tcp), %d worker%s, pid %ld",
	               zl.count, zl.count == 1 ? "" : "s", zl.names, conf.dbdir, addrs,
	               conf.threads, conf.threads == 1 ? "" : "s", (long)getpid());

	rc = tal_notify_start(st, &notify);
	if (rc < 0) {
		tal_log_warnx("NOTIFY sender not started: %s", tal_strerror(rc));
	}

	int sig = tal_net_wait_signal(net);
	tal_log_notice("%s received, shutting down", signal_name(sig));
	tal_notify_stop(notify);
	tal_net_stop(net);
	log_stats(net);
	log_xfr_stats();
	status = TAL_EXIT_OK;

cleanup:
	if (socks != NULL) {
		close_sockets(socks, nsocks);
		free(socks);
	}
	tal_net_free(net);
	tal_store_close(st);
	if (pidfd >= 0) {
		close(pidfd);
		pidfile_written = true; /* created, maybe empty: remove it all the same */
	}
	if (pidfile_written && unlink(conf.pidfile) < 0 && errno != ENOENT) {
		tal_log_warn("pidfile %s: remove", conf.pidfile);
	}
	if (status == TAL_EXIT_OK && !conf.check) {
		tal_log_notice("stopped");
	}
	return status;
}
