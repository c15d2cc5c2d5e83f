/*
 * tools/tallow-check/main.c -- ask tallow's policy zones whether a Microsoft
 * 365 tenant may send mail as a domain.
 *
 * One lookup from the command line, or many from standard input.  In batch
 * mode lookups run concurrently (up to --max-inflight at once) through the
 * asynchronous interface of tools/relay, and results are printed in input
 * order: each input line gets a slot in a ring, and the head of the ring is
 * printed as soon as its lookup is done.  Standard input is read with
 * read(2) into our own buffer so that poll(2) on it tells the truth.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "tools/relay/relay.h"

#define EXIT_USAGE   64
#define EXIT_DATAERR 65
#define MAX_LIST     16
#define LINE_MAX_LEN 4096
#define OUTSZ        (TAL_RELAY_REASONSZ * 2 + 1024)

static const char usage_text[] =
        "Usage: tallow-check [OPTIONS] DOMAIN TENANT\n"
        "       tallow-check [OPTIONS] -\n"
        "\n"
        "Asks tallow's policy zones whether the Microsoft 365 tenant TENANT may send\n"
        "mail as DOMAIN, and prints the decision and its reason.\n"
        "\n"
        "DESCRIPTION\n"
        "  For each policy zone Z, in the order given, tallow-check looks up the TXT\n"
        "  records of DOMAIN.Z (DOMAIN in lowercase A-label form).  Records that\n"
        "  start with \"v=TAL1\" form the domain's policy; \"; tid=<GUID>\" terms list\n"
        "  the tenants allowed to send as DOMAIN, \"; dkim=<domain>\" gives a tenant's\n"
        "  DKIM signing domain, and other tags are ignored.  The first zone that\n"
        "  publishes a policy decides:\n"
        "    allow     TENANT is listed;\n"
        "    deny      DOMAIN publishes a policy that does not list TENANT (the\n"
        "              record \"v=TAL1\" alone allows no tenant; malformed TAL1 records\n"
        "              allow nobody and are named in the reason);\n"
        "    none      no zone publishes a policy for DOMAIN (NXDOMAIN, or no TAL1\n"
        "              record): the relay applies its own default;\n"
        "    tempfail  a zone's lookup failed (SERVFAIL, REFUSED, timeout, or an\n"
        "              answer that fails DNSSEC validation).  A later zone is not\n"
        "              consulted: that would turn a blocked lookup into a downgrade.\n"
        "  TENANT is a GUID in any case, with or without braces.  DOMAIN may be\n"
        "  given as a U-label (UTF-8) and is converted with IDNA 2008 (UTS #46).\n"
        "\n"
        "OPTIONS\n"
        "  -z, --zone ZONE            policy zone to query (repeat for several, queried\n"
        "                             in order); required\n"
        "  -s, --server ADDR[@PORT]   send queries straight to this authoritative\n"
        "                             server of the zones (repeatable); no recursion\n"
        "  -r, --resolver ADDR[@PORT] send queries to this recursive resolver\n"
        "                             (repeatable); not with --server\n"
        "                             Without --server or --resolver the resolvers of\n"
        "                             /etc/resolv.conf are used.\n"
        "  -a, --trust-anchor FILE    validate answers with DNSSEC from the trust\n"
        "                             anchors in FILE (DS or DNSKEY records in master\n"
        "                             file format, e.g. /usr/share/dns/root.key); a\n"
        "                             bogus answer is a temporary failure\n"
        "  -t, --timeout SEC          give up on a lookup after SEC seconds (decimals\n"
        "                             allowed; default 5); all zones included\n"
        "  -j, --json                 print one JSON object per result\n"
        "  -m, --max-inflight N       with -, lookups in flight at once (default 256,\n"
        "                             1 to 10000)\n"
        "  -h, --help                 print this help and exit\n"
        "  -V, --version              print the version and exit\n"
        "\n"
        "BATCH MODE\n"
        "  With - instead of DOMAIN TENANT, lines \"DOMAIN TENANT\" (separated by\n"
        "  spaces or tabs) are read from standard input and one result line is\n"
        "  printed per input line, in input order, while many lookups run at once.\n"
        "  Blank lines and lines starting with # are skipped.  A line that is not a\n"
        "  valid domain and tenant gets the decision \"invalid\".\n"
        "\n"
        "OUTPUT\n"
        "  One line per lookup: DOMAIN TENANT DECISION REASON, with DOMAIN and\n"
        "  TENANT normalised (\"-\" for a missing field).  With --json, one object\n"
        "  {\"domain\", \"tenant\", \"decision\", \"zone\", \"dkim\", \"secure\", \"reason\"}\n"
        "  per line: zone is the zone that decided (empty for none), dkim the\n"
        "  tenant's published DKIM domain when allowed, secure true when the\n"
        "  answer was DNSSEC-validated.\n"
        "\n"
        "EXIT STATUS\n"
        "  One lookup:  0 allow, 1 deny, 2 none (no policy), 3 temporary failure,\n"
        "               64 usage error (including an invalid DOMAIN or TENANT).\n"
        "  Batch mode:  0 every line answered, 3 some lookup failed temporarily,\n"
        "               65 some input line was invalid, 64 usage error.\n"
        "\n"
        "EXAMPLES\n"
        "  tallow-check -z tenants.example.net example.com \\\n"
        "      72f988bf-86f1-41af-91ab-2d7cd011db47\n"
        "  tallow-check -z tenants.example.net -s 192.0.2.53@5353 -t 2 example.com \\\n"
        "      {72F988BF-86F1-41AF-91AB-2D7CD011DB47}\n"
        "  tallow-check -z tenants.example.net -r 127.0.0.1 --json - < pairs.txt\n";

struct options {
	const char *zones[MAX_LIST];
	size_t nzones;
	const char *servers[MAX_LIST];
	size_t nservers;
	const char *resolvers[MAX_LIST];
	size_t nresolvers;
	const char *trust_anchor;
	unsigned timeout_ms;
	unsigned max_inflight;
	bool json;
};

static struct options opt = { .timeout_ms = 5000, .max_inflight = 256 };

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tallow-check: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'tallow-check --help' for more information.\n");
	return EXIT_USAGE;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
		} else if (c < 0x20) {
			fprintf(f, "\\u%04x", c);
		} else {
			fputc(c, f);
		}
	}
	fputc('"', f);
}

/* Formats one result into `out` (OUTSZ) as a line with its newline. */
static void format_result(char *out, const tal_relay_result_t *res, const char *decision)
{
	FILE *f = fmemopen(out, OUTSZ, "w");

	if (f == NULL) {
		snprintf(out, OUTSZ, "%s %s %s %s\n", res->domain, res->tenant, decision,
		         res->reason);
		return;
	}
	if (opt.json) {
		fputs("{\"domain\":", f);
		json_str(f, res->domain);
		fputs(",\"tenant\":", f);
		json_str(f, res->tenant);
		fputs(",\"decision\":", f);
		json_str(f, decision);
		fputs(",\"zone\":", f);
		json_str(f, res->zone);
		fputs(",\"dkim\":", f);
		json_str(f, res->dkim);
		fprintf(f, ",\"secure\":%s,\"reason\":", res->secure ? "true" : "false");
		json_str(f, res->reason);
		fputs("}\n", f);
	} else {
		/* Empty fields print as "-" so the line always splits into four. */
		fprintf(f, "%s %s %s %s\n", res->domain[0] != '\0' ? res->domain : "-",
		        res->tenant[0] != '\0' ? res->tenant : "-", decision, res->reason);
	}
	fclose(f);
}

/* ---- batch mode ---- */

struct slot {
	bool used;
	bool done;
	bool tempfail;
	char out[OUTSZ];
};

struct batch {
	tal_relay_t *relay;
	struct slot *slots;
	size_t cap, head, count;
	bool any_tempfail, any_invalid;
	char *buf;
	size_t buflen, bufcap;
	bool eof;
};

static void batch_cb(void *arg, const tal_relay_result_t *res)
{
	struct slot *s = arg;
	s->tempfail = res->decision == TAL_RELAY_TEMPFAIL;
	format_result(s->out, res, tal_relay_decision_name(res->decision));
	s->done = true;
}

static struct slot *slot_take(struct batch *b)
{
	struct slot *s = &b->slots[(b->head + b->count) % b->cap];
	b->count++;
	s->used = true;
	s->done = false;
	s->tempfail = false;
	return s;
}

static void flush_done(struct batch *b)
{
	while (b->count > 0 && b->slots[b->head].done) {
		fputs(b->slots[b->head].out, stdout);
		if (b->slots[b->head].tempfail) {
			b->any_tempfail = true;
		}
		b->slots[b->head].used = false;
		b->head = (b->head + 1) % b->cap;
		b->count--;
	}
}

static void submit_line(struct batch *b, char *line)
{
	char *save = NULL;
	char *domain, *tenant, *extra;
	tal_relay_result_t res;
	struct slot *s;
	int rc;

	while (*line == ' ' || *line == '\t') {
		line++;
	}
	size_t len = strlen(line);
	if (len > 0 && line[len - 1] == '\r') {
		line[--len] = '\0';
	}
	if (*line == '\0' || *line == '#') {
		return;
	}
	s = slot_take(b);
	domain = strtok_r(line, " \t", &save);
	tenant = strtok_r(NULL, " \t", &save);
	extra = strtok_r(NULL, " \t", &save);
	if (tenant == NULL || extra != NULL) {
		tal_relay_result_error(&res, domain, tenant != NULL ? tenant : "", TAL_EINVAL);
		snprintf(res.reason, sizeof(res.reason), "expected two fields, \"DOMAIN TENANT\"");
		format_result(s->out, &res, "invalid");
		s->done = true;
		b->any_invalid = true;
		return;
	}
	rc = tal_relay_submit(b->relay, domain, tenant, batch_cb, s);
	if (rc != 0) {
		tal_relay_result_error(&res, domain, tenant, rc);
		if (rc == TAL_ENOMEM || rc == TAL_EIO) {
			format_result(s->out, &res, "tempfail");
			s->tempfail = true;
		} else {
			format_result(s->out, &res, "invalid");
			b->any_invalid = true;
		}
		s->done = true;
	}
}

/* Submits the complete lines in the buffer while slots are free. */
static void drain_lines(struct batch *b)
{
	size_t start = 0;

	while (b->count < b->cap && start < b->buflen) {
		char *nl = memchr(b->buf + start, '\n', b->buflen - start);
		if (nl == NULL) {
			if (!b->eof) {
				break;
			}
			nl = b->buf + b->buflen; /* the last line has no newline */
		}
		*nl = '\0';
		size_t len = (size_t)(nl - (b->buf + start));
		if (memchr(b->buf + start, '\0', len) != NULL || len > LINE_MAX_LEN) {
			tal_relay_result_t res;
			struct slot *s = slot_take(b);
			tal_relay_result_error(&res, "", "", TAL_EINVAL);
			snprintf(res.reason, sizeof(res.reason), "%s",
			         len > LINE_MAX_LEN ? "line too long" : "NUL octet in the line");
			format_result(s->out, &res, "invalid");
			s->done = true;
			b->any_invalid = true;
		} else {
			submit_line(b, b->buf + start);
		}
		start = (size_t)(nl - b->buf) + 1;
	}
	if (start > b->buflen) {
		start = b->buflen;
	}
	memmove(b->buf, b->buf + start, b->buflen - start);
	b->buflen -= start;
}

static int read_input(struct batch *b)
{
	if (b->bufcap - b->buflen < 4096) {
		size_t ncap = b->bufcap * 2;
		char *nbuf = realloc(b->buf, ncap);
		if (nbuf == NULL) {
			return TAL_ENOMEM;
		}
		b->buf = nbuf;
		b->bufcap = ncap;
	}
	ssize_t n = read(STDIN_FILENO, b->buf + b->buflen, b->bufcap - b->buflen - 1);
	if (n < 0) {
		return errno == EINTR || errno == EAGAIN ? 0 : tal_error_from_errno(errno);
	}
	if (n == 0) {
		b->eof = true;
	}
	b->buflen += (size_t)n;
	/* A line that would never end is cut into an "invalid" line. */
	if (!b->eof && b->buflen > LINE_MAX_LEN * 2 && memchr(b->buf, '\n', b->buflen) == NULL) {
		b->buf[b->buflen - 1] = '\n';
	}
	return 0;
}

static int run_batch(tal_relay_t *relay)
{
	struct batch b = { .relay = relay, .cap = opt.max_inflight, .bufcap = 65536 };
	int rc = 0;

	b.slots = calloc(b.cap, sizeof(*b.slots));
	b.buf = malloc(b.bufcap);
	if (b.slots == NULL || b.buf == NULL) {
		fprintf(stderr, "tallow-check: %s\n", tal_strerror(TAL_ENOMEM));
		rc = 3;
		goto cleanup;
	}
	while (!b.eof || b.count > 0 || b.buflen > 0) {
		drain_lines(&b);
		flush_done(&b);
		if (b.eof && b.buflen == 0 && b.count == 0) {
			break;
		}
		struct pollfd pfd[2] = { { .fd = tal_relay_fd(relay), .events = POLLIN },
			                 { .fd = STDIN_FILENO, .events = POLLIN } };
		nfds_t nfds = !b.eof && b.count < b.cap ? 2 : 1;
		int timeout = tal_relay_next_timeout(relay);
		if (tal_relay_pending(relay) == 0 && nfds == 1) {
			/* Slots full of finished lookups cannot happen: flush_done ran. */
			timeout = 0;
		}
		fflush(stdout);
		if (poll(pfd, nfds, timeout) < 0 && errno != EINTR) {
			fprintf(stderr, "tallow-check: poll: %s\n", strerror(errno));
			rc = 3;
			goto cleanup;
		}
		if (nfds == 2 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
			int err = read_input(&b);
			if (err != 0) {
				fprintf(stderr, "tallow-check: reading standard input: %s\n",
				        tal_strerror(err));
				b.eof = true;
				b.any_tempfail = true;
			}
		}
		tal_relay_process(relay);
	}
	flush_done(&b);
	fflush(stdout);
	rc = b.any_invalid ? EXIT_DATAERR : b.any_tempfail ? 3 : 0;
cleanup:
	free(b.slots);
	free(b.buf);
	return rc;
}

static int add_list(const char **list, size_t *n, const char *value, const char *what)
{
	if (*n >= MAX_LIST) {
		fprintf(stderr, "tallow-check: at most %d %s\n", MAX_LIST, what);
		return -1;
	}
	list[(*n)++] = value;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "zone", required_argument, NULL, 'z' },
		{ "server", required_argument, NULL, 's' },
		{ "resolver", required_argument, NULL, 'r' },
		{ "trust-anchor", required_argument, NULL, 'a' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "max-inflight", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	tal_relay_t *relay = NULL;
	char err[512];
	int c, rc;

	while ((c = getopt_long(argc, argv, "z:s:r:a:t:jm:hV", longopts, NULL)) != -1) {
		char *end = NULL;
		switch (c) {
		case 'z':
			if (add_list(opt.zones, &opt.nzones, optarg, "zones") != 0) {
				return EXIT_USAGE;
			}
			break;
		case 's':
			if (add_list(opt.servers, &opt.nservers, optarg, "servers") != 0) {
				return EXIT_USAGE;
			}
			break;
		case 'r':
			if (add_list(opt.resolvers, &opt.nresolvers, optarg, "resolvers") != 0) {
				return EXIT_USAGE;
			}
			break;
		case 'a':
			opt.trust_anchor = optarg;
			break;
		case 't': {
			errno = 0;
			double sec = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' || !(sec >= 0.001) ||
			    sec > 3600) {
				return usage_error(
				        "--timeout \"%s\": expected seconds, 0.001 to 3600",
				        optarg);
			}
			opt.timeout_ms = (unsigned)(sec * 1000 + 0.5);
			break;
		}
		case 'j':
			opt.json = true;
			break;
		case 'm': {
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || v < 1 || v > 10000) {
				return usage_error("--max-inflight \"%s\": expected 1 to 10000",
				                   optarg);
			}
			opt.max_inflight = (unsigned)v;
			break;
		}
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("tallow-check (tallow) %s\n", TAL_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try 'tallow-check --help' for more information.\n");
			return EXIT_USAGE;
		}
	}
	bool batch = argc - optind == 1 && strcmp(argv[optind], "-") == 0;
	if (!batch && argc - optind != 2) {
		return usage_error("%s", argc - optind < 2 ? "expected DOMAIN TENANT, or -"
		                                           : "too many arguments");
	}
	if (opt.nzones == 0) {
		return usage_error("%s", "no policy zone: give --zone");
	}
	tal_relay_config_t cfg = {
		.zones = opt.zones,
		.nzones = opt.nzones,
		.servers = opt.servers,
		.nservers = opt.nservers,
		.resolvers = opt.resolvers,
		.nresolvers = opt.nresolvers,
		.trust_anchor = opt.trust_anchor,
		.timeout_ms = opt.timeout_ms,
	};
	rc = tal_relay_new(&cfg, &relay, err, sizeof(err));
	if (rc != 0) {
		if (rc == TAL_EINVAL || rc == TAL_ENOENT) {
			return usage_error("%s", err);
		}
		fprintf(stderr, "tallow-check: %s\n", err);
		return 3;
	}
	if (batch) {
		rc = run_batch(relay);
	} else {
		tal_relay_result_t res;
		char out[OUTSZ];
		int sub = tal_relay_check(relay, argv[optind], argv[optind + 1], &res);
		if (sub != 0 && sub != TAL_ENOMEM && sub != TAL_EIO) {
			rc = usage_error("%s", res.reason);
		} else {
			format_result(out, &res, tal_relay_decision_name(res.decision));
			fputs(out, stdout);
			rc = (int)res.decision;
		}
	}
	tal_relay_free(relay);
	return rc;
}
