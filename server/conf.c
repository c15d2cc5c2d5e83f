/*
 * server/conf.c -- tallowd's option table, parser and help text.
 *
 * The table below is the only list of options.  getopt_long's array, the
 * short-option string, --help and the --check summary are all built from it.
 */
#include "server/conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "server/rrl.h"

enum opt_id {
	OPT_DIRECTORY,
	OPT_LISTEN,
	OPT_THREADS,
	OPT_VERBOSE,
	OPT_QUIET,
	OPT_PIDFILE,
	OPT_USER,
	OPT_TCP_IDLE,
	OPT_TCP_MAX,
	OPT_TCP_PER_CLIENT,
	OPT_TCP_READ,
	OPT_RRL_RATE,
	OPT_RRL_SLIP,
	OPT_RRL_V4,
	OPT_RRL_V6,
	OPT_RRL_LOOPBACK,
	OPT_NO_INDEX,
	OPT_CHECK,
	OPT_HELP,
	OPT_VERSION,
	OPT_COUNT
};

typedef struct {
	enum opt_id id;
	const char *name; /* long name */
	char letter;      /* short letter, 0 for none */
	const char *arg;  /* argument name, NULL for a flag */
	long min, max;    /* bounds of integer arguments (min > max: not an integer) */
	const char *dflt; /* default, as shown in --help */
	const char *desc;
} opt_def_t;

static const opt_def_t options[OPT_COUNT] = {
	{ OPT_DIRECTORY, "directory", 'd', "DIR", 1, 0, "$TALLOW_DB, else " TAL_CONF_DEFAULT_DBDIR,
	  "Database directory, as made by tallowctl init." },
	{ OPT_LISTEN, "listen", 'l', "ADDRESS[:PORT]", 1, 0, "0.0.0.0:53 and [::]:53",
	  "Address to answer on, UDP and TCP; repeat for several.  IPv6 in brackets when "
	  "a port follows ([::1]:5300); the port defaults to 53." },
	{ OPT_THREADS, "threads", 't', "N", 1, TAL_CONF_MAX_THREADS, "one per online CPU",
	  "Worker threads; each has its own sockets and event loop." },
	{ OPT_VERBOSE, "verbose", 'v', NULL, 1, 0, NULL,
	  "Log more (repeat for debug); shutdown counters are logged at -v." },
	{ OPT_QUIET, "quiet", 'q', NULL, 1, 0, NULL,
	  "Log less: warnings and errors only (-qq: errors)." },
	{ OPT_PIDFILE, "pidfile", 0, "FILE", 1, 0, "none",
	  "Write the process ID to FILE once serving; removed at exit." },
	{ OPT_USER, "user", 'u', "USER", 1, 0, "keep the current user",
	  "Drop privileges to USER (and its group) after binding the sockets." },
	{ OPT_TCP_IDLE, "tcp-idle-timeout", 0, "SECONDS", 1, 3600, "10",
	  "Close a TCP connection idle this long (RFC 7766)." },
	{ OPT_TCP_MAX, "tcp-max-connections", 0, "N", 1, 1000000, "256",
	  "TCP connections open at once, shared among workers; new ones beyond are closed." },
	{ OPT_TCP_PER_CLIENT, "tcp-max-per-client", 0, "N", 1, 1000000, "32",
	  "TCP connections open at once from one client address, shared among workers like "
	  "--tcp-max-connections; new ones beyond are closed, so one client cannot take every "
	  "slot." },
	{ OPT_TCP_READ, "tcp-read-timeout", 0, "SECONDS", 1, 3600, "5",
	  "Close a TCP connection that takes longer than this to send one whole message, "
	  "however slowly it trickles in (slow-read attacks)." },
	{ OPT_RRL_RATE, "rrl-rate", 0, "N", 0, 1000000, "200",
	  "Response rate limiting: UDP answers per second to one client prefix (a burst of one "
	  "second's worth is allowed); beyond it answers are dropped or sent truncated "
	  "(--rrl-slip).  0 turns the limit off." },
	{ OPT_RRL_SLIP, "rrl-slip", 0, "N", 0, TAL_RRL_SLIP_MAX, "2",
	  "Send every Nth rate-limited answer truncated (TC=1), so real clients retry over "
	  "TCP; 0 drops them all, 1 truncates them all." },
	{ OPT_RRL_V4, "rrl-ipv4-prefix", 0, "BITS", 1, 32, "24",
	  "IPv4 clients in one prefix of this length share one rate limit." },
	{ OPT_RRL_V6, "rrl-ipv6-prefix", 0, "BITS", 1, 128, "56",
	  "IPv6 clients in one prefix of this length share one rate limit." },
	{ OPT_RRL_LOOPBACK, "rrl-loopback", 0, NULL, 1, 0, NULL,
	  "Rate-limit loopback clients (127.0.0.0/8, ::1) too.  They are exempt by default: "
	  "no other host can send from those addresses, so there is no one to protect." },
	{ OPT_NO_INDEX, "no-index", 0, NULL, 1, 0, NULL,
	  "Look every name up in the database's B-tree.  By default a background thread keeps "
	  "an in-memory hash index of the names (about 32 octets each; rebuilt after every "
	  "commit, while the B-tree answers) so a lookup costs two cache misses instead of a "
	  "dozen; this option saves that memory and CPU at some cost per query." },
	{ OPT_CHECK, "check", 0, NULL, 1, 0, NULL,
	  "Validate the options and open the database, print the settings, exit 0 or 1." },
	{ OPT_HELP, "help", 'h', NULL, 1, 0, NULL, "Print this help and exit." },
	{ OPT_VERSION, "version", 'V', NULL, 1, 0, NULL, "Print the version and exit." },
};

static const char usage_head[] =
        "Usage: tallowd [-d DIR] [-l ADDRESS[:PORT]]... [-t THREADS] [-v|-q] [--pidfile FILE]\n"
        "               [-u USER] [--tcp-idle-timeout SECONDS] [--tcp-max-connections N]\n"
        "               [--tcp-max-per-client N] [--tcp-read-timeout SECONDS]\n"
        "               [--rrl-rate N] [--rrl-slip N] [--rrl-ipv4-prefix BITS]\n"
        "               [--rrl-ipv6-prefix BITS] [--rrl-loopback] [--no-index]\n"
        "       tallowd --check [options]\n"
        "       tallowd --help | --version\n"
        "\n"
        "tallowd is tallow's authoritative DNS server.  It answers, over UDP and TCP,\n"
        "IPv4 and IPv6, for the policy zones in a tallow database (TXT policies at\n"
        "<domain>.<zone>, the A view at <tenant>.<domain>.<zone>), reading the database\n"
        "directly: a change committed by tallowctl is served by the next query, with no\n"
        "reload.  It runs in the foreground and logs to standard error.\n"
        "\n"
        "Options:\n";

static const char usage_tail[] =
        "\n"
        "Signals:\n"
        "  SIGTERM, SIGINT  stop accepting, finish TCP answers being written, close the\n"
        "                   database, remove the pidfile, exit 0.\n"
        "  SIGHUP           ignored: there is nothing to reload, every commit is live.\n"
        "\n"
        "Exit status:\n"
        "  0   clean shutdown, or --check/--help/--version succeeded\n"
        "  1   start-up failure: database directory missing, not a tallow database,\n"
        "      no zone in it, an address in use or not available, unknown user\n"
        "  64  bad option or argument (e.g. a malformed -l address)\n"
        "\n"
        "Environment:\n"
        "  TALLOW_DB        database directory when -d is not given\n"
        "  TALLOW_MAP_SIZE  LMDB map size in bytes (address space, not disk)\n"
        "\n"
        "Examples:\n"
        "  tallowd -d /var/lib/tallow -l 192.0.2.53 -l [2001:db8::53] -u tallow\n"
        "  tallowd -d ./db -l 127.0.0.1:5300 -l [::1]:5300 -t 1 -v\n"
        "  tallowd -d ./db --check\n"
        "\n"
        "See tallowd(8) and tallowctl(1).\n";

/* Prints "  LHS  text" with the text wrapped at 79 columns in a column of its own. */
static void print_wrapped(FILE *f, const char *lhs, const char *text)
{
	enum { COL = 30, WIDTH = 79 };
	const char *p = text;
	bool first = true;

	while (*p != '\0') {
		size_t room = WIDTH - COL, len = strlen(p);
		if (len > room) {
			len = room;
			while (len > 0 && p[len] != ' ') {
				len--;
			}
			if (len == 0) {
				len = room;
			}
		}
		size_t shown = len;
		while (shown > 0 && p[shown - 1] == ' ') {
			shown--;
		}
		if (first && strlen(lhs) + 4 > COL) {
			fprintf(f, "  %s\n", lhs);
			first = false;
		}
		fprintf(f, "  %-*s%.*s\n", COL - 2, first ? lhs : "", (int)shown, p);
		first = false;
		p += len;
		while (*p == ' ') {
			p++;
		}
	}
}

void tal_conf_usage(FILE *f)
{
	fputs(usage_head, f);
	for (int i = 0; i < OPT_COUNT; i++) {
		const opt_def_t *o = &options[i];
		char lhs[64];
		if (o->letter != 0) {
			snprintf(lhs, sizeof(lhs), "-%c, --%s%s%s", o->letter, o->name,
			         o->arg != NULL ? " " : "", o->arg != NULL ? o->arg : "");
		} else {
			snprintf(lhs, sizeof(lhs), "    --%s%s%s", o->name,
			         o->arg != NULL ? " " : "", o->arg != NULL ? o->arg : "");
		}
		char text[512];
		if (o->dflt != NULL) {
			snprintf(text, sizeof(text), "%s  Default: %s.", o->desc, o->dflt);
		} else {
			snprintf(text, sizeof(text), "%s", o->desc);
		}
		print_wrapped(f, lhs, text);
	}
	fputs(usage_tail, f);
}

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("tallowd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'tallowd --help' for more information.\n", stderr);
}

static int parse_port(const char *s, unsigned *port)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9') {
		return TAL_ESYNTAX;
	}
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end != '\0') {
		return TAL_ESYNTAX;
	}
	if (errno != 0 || v < 1 || v > 65535) {
		return TAL_ERANGE;
	}
	*port = (unsigned)v;
	return 0;
}

int tal_conf_parse_listen(const char *text, tal_listen_t *out)
{
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	const char *portstr = NULL;
	unsigned port = TAL_CONF_DEFAULT_PORT;
	bool bracket = false;
	size_t hlen;
	int rc;

	if (text == NULL || *text == '\0') {
		return TAL_ESYNTAX;
	}
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL) {
			return TAL_ESYNTAX;
		}
		hlen = (size_t)(close - text - 1);
		if (close[1] == ':') {
			portstr = close + 2;
		} else if (close[1] != '\0') {
			return TAL_ESYNTAX;
		}
		text++;
		bracket = true;
	} else {
		const char *colon = strchr(text, ':');
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			hlen = (size_t)(colon - text);
			portstr = colon + 1;
		} else {
			hlen = strlen(text); /* no colon, or a bare IPv6 address */
		}
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		return hlen == 0 ? TAL_ESYNTAX : TAL_EADDR;
	}
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (portstr != NULL && (rc = parse_port(portstr, &port)) < 0) {
		return rc;
	}

	memset(out, 0, sizeof(*out));
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->addr;
	if (!bracket && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		out->addrlen = sizeof(*sin);
	} else if (strchr(host, '%') == NULL && inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		out->addrlen = sizeof(*sin6);
	} else {
		/* A link-local address with its zone ("fe80::1%eth0"). */
		struct addrinfo hints = { 0 }, *ai = NULL;
		hints.ai_flags = AI_NUMERICHOST;
		hints.ai_family = AF_INET6;
		hints.ai_socktype = SOCK_DGRAM;
		if (strchr(host, '%') == NULL || getaddrinfo(host, NULL, &hints, &ai) != 0 ||
		    ai == NULL || ai->ai_addrlen > sizeof(out->addr)) {
			if (ai != NULL) {
				freeaddrinfo(ai);
			}
			return TAL_EADDR;
		}
		memcpy(&out->addr, ai->ai_addr, ai->ai_addrlen);
		out->addrlen = (socklen_t)ai->ai_addrlen;
		freeaddrinfo(ai);
	}

	char buf[INET6_ADDRSTRLEN];
	if (out->addr.ss_family == AF_INET) {
		sin->sin_port = htons((uint16_t)port);
		inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
		snprintf(out->text, sizeof(out->text), "%s:%u", buf, port);
	} else {
		sin6->sin6_port = htons((uint16_t)port);
		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
		if (sin6->sin6_scope_id != 0) {
			snprintf(out->text, sizeof(out->text), "[%s%%%u]:%u", buf,
			         (unsigned)sin6->sin6_scope_id, port);
		} else {
			snprintf(out->text, sizeof(out->text), "[%s]:%u", buf, port);
		}
	}
	return 0;
}

static int parse_uint(const opt_def_t *o, const char *s, unsigned *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < o->min || v > o->max) {
		char range[64];
		snprintf(range, sizeof(range), "%ld to %ld", o->min, o->max);
		fprintf(stderr, "tallowd: --%s: '%s' is not a number from %s\n", o->name, s, range);
		fputs("Try 'tallowd --help' for more information.\n", stderr);
		return TAL_EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

static const tal_conf_t *active_conf;

const tal_conf_t *tal_conf_active(void)
{
	return active_conf;
}

static int default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1) {
		return 1;
	}
	return n > TAL_CONF_MAX_THREADS ? TAL_CONF_MAX_THREADS : (int)n;
}

int tal_conf_parse(tal_conf_t *conf, int argc, char **argv, int *status)
{
	struct option longopts[OPT_COUNT + 1];
	char shortopts[2 * OPT_COUNT + 2];
	size_t ns = 0;
	int verbosity = 0;
	unsigned u;

	memset(conf, 0, sizeof(*conf));
	const char *envdb = getenv("TALLOW_DB");
	snprintf(conf->dbdir, sizeof(conf->dbdir), "%s",
	         envdb != NULL && *envdb != '\0' ? envdb : TAL_CONF_DEFAULT_DBDIR);
	conf->threads = default_threads();
	conf->tcp_idle_sec = TAL_CONF_TCP_IDLE_DEFAULT;
	conf->tcp_max_conns = TAL_CONF_TCP_MAX_DEFAULT;
	conf->tcp_max_per_client = TAL_CONF_TCP_PER_CLIENT_DEFAULT;
	conf->tcp_read_sec = TAL_CONF_TCP_READ_DEFAULT;
	conf->rrl_rate = TAL_RRL_RATE_DEFAULT;
	conf->rrl_slip = TAL_RRL_SLIP_DEFAULT;
	conf->rrl_v4_prefix = TAL_RRL_IPV4_PREFIX;
	conf->rrl_v6_prefix = TAL_RRL_IPV6_PREFIX;

	shortopts[ns++] = ':'; /* report a missing argument as ':' */
	for (int i = 0; i < OPT_COUNT; i++) {
		longopts[i].name = options[i].name;
		longopts[i].has_arg = options[i].arg != NULL ? required_argument : no_argument;
		longopts[i].flag = NULL;
		longopts[i].val = options[i].letter != 0 ? options[i].letter : 256 + i;
		if (options[i].letter != 0) {
			shortopts[ns++] = options[i].letter;
			if (options[i].arg != NULL) {
				shortopts[ns++] = ':';
			}
		}
	}
	memset(&longopts[OPT_COUNT], 0, sizeof(longopts[OPT_COUNT]));
	shortopts[ns] = '\0';

	*status = TAL_EXIT_USAGE;
	opterr = 0;
	optind = 1;
	for (;;) {
		int longidx = -1;
		int c = getopt_long(argc, argv, shortopts, longopts, &longidx);
		if (c == -1) {
			break;
		}
		const opt_def_t *o = NULL;
		for (int i = 0; i < OPT_COUNT; i++) {
			if ((options[i].letter != 0 && c == options[i].letter) || c == 256 + i) {
				o = &options[i];
				break;
			}
		}
		if (o == NULL) {
			const char *bad = argv[optind - 1];
			if (c == ':') {
				usage_error("option '%s' needs an argument", bad);
			} else if (optopt != 0 && optopt < 256) {
				char s[2] = { (char)optopt, '\0' };
				usage_error("unknown option '-%s'", s);
			} else {
				usage_error("unknown option '%s'", bad);
			}
			return TAL_CONF_EXIT;
		}
		switch (o->id) {
		case OPT_DIRECTORY:
			if (*optarg == '\0' || strlen(optarg) >= sizeof(conf->dbdir)) {
				usage_error("-d: '%s' is not a usable directory name", optarg);
				return TAL_CONF_EXIT;
			}
			snprintf(conf->dbdir, sizeof(conf->dbdir), "%s", optarg);
			break;
		case OPT_LISTEN: {
			int rc;
			if (conf->nlisten == TAL_CONF_MAX_LISTEN) {
				usage_error("-l: at most %d listen addresses", TAL_CONF_MAX_LISTEN);
				return TAL_CONF_EXIT;
			}
			rc = tal_conf_parse_listen(optarg, &conf->listen[conf->nlisten]);
			if (rc < 0) {
				const char *why = rc == TAL_ERANGE ? "the port is not in 1 to 65535"
				                  : rc == TAL_EADDR
				                          ? "not a numeric IPv4 or IPv6 address"
				                          : "expected ADDRESS[:PORT], with IPv6 as "
				                            "[ADDRESS]:PORT";
				usage_error("-l: '%s': %s", optarg, why);
				return TAL_CONF_EXIT;
			}
			for (int i = 0; i < conf->nlisten; i++) {
				if (strcmp(conf->listen[i].text,
				           conf->listen[conf->nlisten].text) == 0) {
					usage_error("-l: '%s' is given twice", optarg);
					return TAL_CONF_EXIT;
				}
			}
			conf->nlisten++;
			break;
		}
		case OPT_THREADS:
			if (parse_uint(o, optarg, &u) < 0) {
				return TAL_CONF_EXIT;
			}
			conf->threads = (int)u;
			break;
		case OPT_VERBOSE:
			verbosity++;
			break;
		case OPT_QUIET:
			verbosity--;
			break;
		case OPT_PIDFILE:
			if (*optarg == '\0') {
				usage_error("--pidfile needs a file name");
				return TAL_CONF_EXIT;
			}
			conf->pidfile = optarg;
			break;
		case OPT_USER:
			if (*optarg == '\0') {
				usage_error("-u needs a user name");
				return TAL_CONF_EXIT;
			}
			conf->user = optarg;
			break;
		case OPT_TCP_IDLE:
			if (parse_uint(o, optarg, &u) < 0) {
				return TAL_CONF_EXIT;
			}
			conf->tcp_idle_sec = u;
			break;
		case OPT_TCP_MAX:
			if (parse_uint(o, optarg, &u) < 0) {
				return TAL_CONF_EXIT;
			}
			conf->tcp_max_conns = u;
			break;
		case OPT_TCP_PER_CLIENT:
		case OPT_TCP_READ:
		case OPT_RRL_RATE:
		case OPT_RRL_SLIP:
		case OPT_RRL_V4:
		case OPT_RRL_V6: {
			unsigned *field[] = { &conf->tcp_max_per_client, &conf->tcp_read_sec,
				              &conf->rrl_rate,           &conf->rrl_slip,
				              &conf->rrl_v4_prefix,      &conf->rrl_v6_prefix };
			if (parse_uint(o, optarg, &u) < 0) {
				return TAL_CONF_EXIT;
			}
			*field[o->id - OPT_TCP_PER_CLIENT] = u;
			break;
		}
		case OPT_RRL_LOOPBACK:
			conf->rrl_loopback = true;
			break;
		case OPT_NO_INDEX:
			conf->no_index = true;
			break;
		case OPT_CHECK:
			conf->check = true;
			break;
		case OPT_HELP:
			tal_conf_usage(stdout);
			*status = TAL_EXIT_OK;
			return TAL_CONF_EXIT;
		case OPT_VERSION:
			printf("tallowd %s\n", TALLOWD_VERSION);
			*status = TAL_EXIT_OK;
			return TAL_CONF_EXIT;
		case OPT_COUNT:
			break;
		}
	}
	if (optind < argc) {
		usage_error("unexpected argument '%s'", argv[optind]);
		return TAL_CONF_EXIT;
	}
	if (conf->nlisten == 0) {
		tal_conf_parse_listen("0.0.0.0", &conf->listen[0]);
		tal_conf_parse_listen("::", &conf->listen[1]);
		conf->nlisten = 2;
		conf->listen_default = true;
	}
	conf->log_level = TAL_LOG_NOTICE + verbosity;
	if (conf->log_level < TAL_LOG_ERR) {
		conf->log_level = TAL_LOG_ERR;
	}
	if (conf->log_level > TAL_LOG_DEBUG) {
		conf->log_level = TAL_LOG_DEBUG;
	}
	*status = TAL_EXIT_OK;
	active_conf = conf;
	return TAL_CONF_RUN;
}

void tal_conf_print(const tal_conf_t *conf, FILE *f)
{
	static const char *const levels[] = { "error", "warning", "notice", "info", "debug" };

	fprintf(f, "directory: %s\n", conf->dbdir);
	for (int i = 0; i < conf->nlisten; i++) {
		fprintf(f, "listen: %s\n", conf->listen[i].text);
	}
	fprintf(f, "threads: %d\n", conf->threads);
	fprintf(f, "log-level: %s\n", levels[conf->log_level]);
	fprintf(f, "pidfile: %s\n", conf->pidfile != NULL ? conf->pidfile : "none");
	fprintf(f, "user: %s\n", conf->user != NULL ? conf->user : "(unchanged)");
	fprintf(f, "tcp-idle-timeout: %u\n", conf->tcp_idle_sec);
	fprintf(f, "tcp-max-connections: %u\n", conf->tcp_max_conns);
	fprintf(f, "tcp-max-per-client: %u\n", conf->tcp_max_per_client);
	fprintf(f, "tcp-read-timeout: %u\n", conf->tcp_read_sec);
	fprintf(f, "rrl-rate: %u\n", conf->rrl_rate);
	fprintf(f, "rrl-slip: %u\n", conf->rrl_slip);
	fprintf(f, "rrl-ipv4-prefix: %u\n", conf->rrl_v4_prefix);
	fprintf(f, "rrl-ipv6-prefix: %u\n", conf->rrl_v6_prefix);
	fprintf(f, "rrl-loopback: %s\n", conf->rrl_loopback ? "yes" : "no");
	fprintf(f, "index: %s\n", conf->no_index ? "no" : "yes");
}
