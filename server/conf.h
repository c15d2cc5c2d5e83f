/*
 * server/conf.h -- tallowd's command line: one table of options.
 *
 * Model: every option is one row of a table (name, letter, argument, bounds,
 * default, description), as in Knot's conf/schema.c.  The same table drives
 * parsing, the --help text and the summary that --check prints, so an option
 * cannot exist without its documentation.  Parsing fills a tal_conf_t that
 * the server reads and never changes.
 *
 * Listen addresses are "ADDRESS[:PORT]", with IPv6 addresses in brackets
 * when a port is given ("[::1]:5300"); a bare IPv6 address ("::1") uses the
 * default port.  Numeric addresses only: a server binds before it may
 * resolve names.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>

#ifndef TALLOWD_VERSION
#define TALLOWD_VERSION "0.1.0" /* CMake passes project(VERSION) */
#endif

#define TAL_CONF_DEFAULT_DBDIR          "/var/lib/tallow"
#define TAL_CONF_DEFAULT_PORT           53
#define TAL_CONF_MAX_LISTEN             32
#define TAL_CONF_MAX_THREADS            256
#define TAL_CONF_TCP_IDLE_DEFAULT       10  /* seconds, RFC 7766 §6.2.3 suggests "a few seconds" */
#define TAL_CONF_TCP_MAX_DEFAULT        256 /* connections in total, shared out among workers */
#define TAL_CONF_TCP_PER_CLIENT_DEFAULT 32  /* connections from one address, likewise shared */
#define TAL_CONF_TCP_READ_DEFAULT       5   /* seconds to receive one whole message */

/* Exit statuses (sysexits.h where one fits). */
enum {
	TAL_EXIT_OK = 0,
	TAL_EXIT_FAIL = 1,   /* start-up or runtime failure */
	TAL_EXIT_USAGE = 64, /* EX_USAGE: bad option or argument */
};

typedef struct {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char text[80]; /* "127.0.0.1:53", "[::1]:5300", for messages */
} tal_listen_t;

typedef struct {
	char dbdir[4096];
	tal_listen_t listen[TAL_CONF_MAX_LISTEN];
	int nlisten;
	bool listen_default; /* no -l given: the wildcard addresses were filled in */
	int threads;
	int log_level;       /* enum tal_log_level */
	const char *pidfile; /* NULL: none; borrowed from argv */
	const char *user;    /* NULL: keep the current user; borrowed from argv */
	unsigned tcp_idle_sec;
	unsigned tcp_max_conns;      /* total over all workers */
	unsigned tcp_max_per_client; /* from one client address, total over all workers */
	unsigned tcp_read_sec;       /* from a message's first octet to its last */
	unsigned rrl_rate;           /* UDP answers per second per prefix; 0: no limit */
	unsigned rrl_slip;           /* every Nth limited answer is sent truncated; 0: none */
	unsigned rrl_v4_prefix;      /* IPv4 prefix length that shares one limit */
	unsigned rrl_v6_prefix;      /* IPv6 prefix length that shares one limit */
	bool rrl_loopback;           /* rate-limit loopback clients too */
	bool no_index;               /* no nodes hash index (store.h) */
	bool check;                  /* --check: validate, open the database, exit */
} tal_conf_t;

/* What tal_conf_parse() tells its caller to do. */
enum tal_conf_action {
	TAL_CONF_RUN = 0,  /* start the server (or run the check) */
	TAL_CONF_EXIT = 1, /* --help or --version was printed: exit with *status */
};

/*
 * Parses argv into `conf` (defaults first: $TALLOW_DB, else /var/lib/tallow;
 * one thread per online CPU; listen on 0.0.0.0 and [::] port 53).  Prints
 * --help and --version to stdout, and errors to stderr as
 * "tallowd: <what>" followed by a hint to run --help.  Returns
 * TAL_CONF_RUN, or TAL_CONF_EXIT with *status set (0 after --help or
 * --version, TAL_EXIT_USAGE after an error).  `conf` borrows strings from
 * argv.
 */
int tal_conf_parse(tal_conf_t *conf, int argc, char **argv, int *status);

/*
 * Parses one listen address, "ADDRESS[:PORT]" as described above, into
 * `out`.  Returns 0, or TAL_ESYNTAX (malformed), TAL_ERANGE (port not in
 * 1..65535), TAL_EADDR (not a numeric IPv4/IPv6 address).
 */
int tal_conf_parse_listen(const char *text, tal_listen_t *out);

/*
 * The configuration of this process: the `conf` that the last successful
 * tal_conf_parse() filled (NULL before), as Knot's conf() is its running
 * configuration.  The network workers read their limits here.  Borrowed:
 * valid while that tal_conf_t lives (tallowd keeps it for its whole run).
 */
const tal_conf_t *tal_conf_active(void);

/* Writes the --help text to `f`. */
void tal_conf_usage(FILE *f);

/* Writes one line per effective setting (for --check and -v), "name: value". */
void tal_conf_print(const tal_conf_t *conf, FILE *f);
