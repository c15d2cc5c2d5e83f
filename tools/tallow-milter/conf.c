/*
 * tools/tallow-milter/conf.c -- the option table and its three uses: the
 * config file, the command line, and the printed forms (--check and the
 * sample file).  Adding an option is adding one row.
 */
#include "tools/tallow-milter/conf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/error.h"
#include "common/log.h"

typedef enum { T_STR, T_LIST, T_BOOL, T_SECONDS, T_ACTION, T_LEVEL } opt_type_t;

typedef struct {
	const char *name;
	opt_type_t type;
	size_t off;    /* field in mconf_t */
	size_t cntoff; /* T_LIST: its count */
	const char *def;
	const char *arg; /* placeholder in --help */
	const char *help;
} opt_t;

#define F(field) offsetof(mconf_t, field)

static const opt_t opts[] = {
	{ "socket", T_STR, F(socket), 0, "inet:8894@127.0.0.1", "SPEC",
	  "Where the MTA connects: inet:PORT@ADDRESS, inet6:PORT@ADDRESS or\n"
	  "unix:/path/to/socket (Postfix: smtpd_milters = inet:127.0.0.1:8894)." },
	{ "zone", T_LIST, F(zones), F(nzones), NULL, "ZONE",
	  "Policy zone to query; repeat for several, queried in order (the first\n"
	  "that publishes a policy for the domain decides).  Required." },
	{ "server", T_LIST, F(servers), F(nservers), NULL, "ADDR[@PORT]",
	  "Authoritative server of the zones, queried directly (repeatable)." },
	{ "resolver", T_LIST, F(resolvers), F(nresolvers), NULL, "ADDR[@PORT]",
	  "Recursive resolver to forward queries to (repeatable).  Without server\n"
	  "or resolver, the resolvers of /etc/resolv.conf are used." },
	{ "trust-anchor", T_STR, F(trust_anchor), 0, NULL, "FILE",
	  "Validate answers with DNSSEC from the anchors in FILE (DS or DNSKEY\n"
	  "records); a bogus answer is the tempfail outcome." },
	{ "timeout", T_SECONDS, F(timeout_ms), 0, "5", "SEC",
	  "Give up on a lookup after SEC seconds (all zones included): tempfail." },
	{ "ms-ranges", T_STR, F(ranges_file), 0, NULL, "FILE",
	  "File of Microsoft 365 outbound address ranges, one CIDR per line.\n"
	  "Messages from a client in these ranges are judged.  Microsoft updates\n"
	  "the list; refresh the file and restart (see microsoft-outbound.example)." },
	{ "judge-tenant-header", T_BOOL, F(judge_tenant_header), 0, "yes", NULL,
	  "Also judge any message that carries X-MS-Exchange-CrossTenant-Id,\n"
	  "wherever it comes from." },
	{ "check-envelope-sender", T_BOOL, F(check_envelope_sender), 0, "no", NULL,
	  "Also check the domain of the envelope sender (MAIL FROM) when it differs\n"
	  "from the From: domain; a deny of either denies." },
	{ "cert-cn", T_STR, F(cert_cn), 0, NULL, "NAME",
	  "Require the client certificate's CN (the MTA's {cert_subject}) to be\n"
	  "NAME (\"*.example.com\" matches subdomains), e.g.\n"
	  "mail.protection.outlook.com; otherwise an allowed message is denied." },
	{ "dkim-authserv-id", T_STR, F(dkim_authserv_id), 0, NULL, "ID",
	  "When the allowed tenant's record publishes dkim=DOMAIN, require an\n"
	  "Authentication-Results header from authserv-id ID with dkim=pass and\n"
	  "header.d=DOMAIN; otherwise the message is denied." },
	{ "on-allow", T_ACTION, F(action[OUT_ALLOW]), 0, "accept", "ACTION",
	  "Action when the tenant may send as the domain." },
	{ "on-deny", T_ACTION, F(action[OUT_DENY]), 0, "reject", "ACTION",
	  "Action when the domain's policy does not list the tenant, or the\n"
	  "message is ambiguous (several From addresses, several tenant IDs)." },
	{ "on-none", T_ACTION, F(action[OUT_NONE]), 0, "accept", "ACTION",
	  "Action when the domain publishes no policy (the relay's default)." },
	{ "on-notenant", T_ACTION, F(action[OUT_NOTENANT]), 0, "reject", "ACTION",
	  "Action when a judged message has no X-MS-Exchange-CrossTenant-Id." },
	{ "on-tempfail", T_ACTION, F(action[OUT_TEMPFAIL]), 0, "tempfail", "ACTION",
	  "Action when the lookup fails (SERVFAIL, timeout, DNSSEC bogus)." },
	{ "dry-run", T_BOOL, F(dry_run), 0, "no", NULL,
	  "Only tag: every action becomes tag, and the header says what the\n"
	  "action would have been." },
	{ "log-level", T_LEVEL, F(log_level), 0, "notice", "LEVEL",
	  "error, warning, notice (one line per judged message), info or debug." },
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static const char *const action_names[] = { "accept", "reject", "tempfail", "tag" };
static const char *const outcome_names[] = { "allow", "deny", "none", "notenant", "tempfail" };
static const char *const level_names[] = { "error", "warning", "notice", "info", "debug" };

const char *mconf_action_name(mconf_action_t a)
{
	return (unsigned)a < 4 ? action_names[a] : "accept";
}

const char *mconf_outcome_name(mconf_outcome_t o)
{
	return (unsigned)o < OUT_COUNT ? outcome_names[o] : "none";
}

static int set_value(mconf_t *c, const opt_t *o, const char *value, char *why, size_t whylen)
{
	char *base = (char *)c + o->off;
	char *end = NULL;

	switch (o->type) {
	case T_STR: {
		char **p = (char **)base;
		char *dup = strdup(value);
		if (dup == NULL) {
			return TAL_ENOMEM;
		}
		free(*p);
		*p = dup;
		return 0;
	}
	case T_LIST: {
		char **list = (char **)base;
		size_t *n = (size_t *)((char *)c + o->cntoff);
		if (*n >= MCONF_LIST_MAX) {
			snprintf(why, whylen, "at most %d values", MCONF_LIST_MAX);
			return TAL_ESYNTAX;
		}
		list[*n] = strdup(value);
		if (list[*n] == NULL) {
			return TAL_ENOMEM;
		}
		(*n)++;
		return 0;
	}
	case T_BOOL: {
		bool *b = (bool *)base;
		if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 ||
		    strcmp(value, "on") == 0) {
			*b = true;
		} else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 ||
		           strcmp(value, "off") == 0) {
			*b = false;
		} else {
			snprintf(why, whylen, "expected yes or no");
			return TAL_ESYNTAX;
		}
		return 0;
	}
	case T_SECONDS: {
		errno = 0;
		double sec = strtod(value, &end);
		if (errno != 0 || end == value || *end != '\0' || !(sec >= 0.001) || sec > 3600) {
			snprintf(why, whylen, "expected seconds, 0.001 to 3600");
			return TAL_ESYNTAX;
		}
		*(unsigned *)base = (unsigned)(sec * 1000 + 0.5);
		return 0;
	}
	case T_ACTION:
		for (int i = 0; i < 4; i++) {
			if (strcmp(value, action_names[i]) == 0) {
				*(mconf_action_t *)base = (mconf_action_t)i;
				return 0;
			}
		}
		snprintf(why, whylen, "expected accept, reject, tempfail or tag");
		return TAL_ESYNTAX;
	case T_LEVEL:
		for (int i = 0; i < 5; i++) {
			if (strcmp(value, level_names[i]) == 0) {
				*(int *)base = i;
				return 0;
			}
		}
		snprintf(why, whylen, "expected error, warning, notice, info or debug");
		return TAL_ESYNTAX;
	}
	return TAL_EINVAL;
}

static void clear_list(mconf_t *c, const opt_t *o)
{
	char **list = (char **)((char *)c + o->off);
	size_t *n = (size_t *)((char *)c + o->cntoff);
	for (size_t i = 0; i < *n; i++) {
		free(list[i]);
		list[i] = NULL;
	}
	*n = 0;
}

static const opt_t *find_opt(const char *name)
{
	for (size_t i = 0; i < NOPTS; i++) {
		if (strcmp(opts[i].name, name) == 0) {
			return &opts[i];
		}
	}
	return NULL;
}

void mconf_init(mconf_t *c)
{
	char why[128];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NOPTS; i++) {
		if (opts[i].def != NULL) {
			int rc = set_value(c, &opts[i], opts[i].def, why, sizeof(why));
			if (rc != 0) {
				tal_fatal("default of %s: %s", opts[i].name, tal_strerror(rc));
			}
		}
	}
}

void mconf_deinit(mconf_t *c)
{
	for (size_t i = 0; i < NOPTS; i++) {
		if (opts[i].type == T_STR) {
			char **p = (char **)((char *)c + opts[i].off);
			free(*p);
			*p = NULL;
		} else if (opts[i].type == T_LIST) {
			clear_list(c, &opts[i]);
		}
	}
	free(c->ranges);
	c->ranges = NULL;
	c->nranges = 0;
}

int mconf_read_file(mconf_t *c, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[4096], why[128];
	unsigned lineno = 0;
	int rc = 0;

	if (f == NULL) {
		rc = tal_error_from_errno(errno);
		fprintf(stderr, "tallow-milter: %s: %s\n", path, tal_strerror(rc));
		return rc;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line, *name, *value, *e;
		lineno++;
		e = p + strlen(p);
		while (e > p && isspace((unsigned char)e[-1])) {
			*--e = '\0';
		}
		while (isspace((unsigned char)*p)) {
			p++;
		}
		if (*p == '\0' || *p == '#') {
			continue;
		}
		name = p;
		while (*p != '\0' && !isspace((unsigned char)*p)) {
			p++;
		}
		if (*p != '\0') {
			*p++ = '\0';
		}
		while (isspace((unsigned char)*p)) {
			p++;
		}
		value = p;
		const opt_t *o = find_opt(name);
		if (o == NULL) {
			fprintf(stderr, "tallow-milter: %s:%u: unknown option \"%s\"\n", path,
			        lineno, name);
			rc = TAL_ESYNTAX;
			break;
		}
		if (*value == '\0') {
			fprintf(stderr, "tallow-milter: %s:%u: %s needs a value\n", path, lineno,
			        name);
			rc = TAL_ESYNTAX;
			break;
		}
		why[0] = '\0';
		int src = set_value(c, o, value, why, sizeof(why));
		if (src != 0) {
			fprintf(stderr, "tallow-milter: %s:%u: %s \"%s\": %s\n", path, lineno, name,
			        value, why[0] != '\0' ? why : tal_strerror(src));
			rc = TAL_ESYNTAX;
			break;
		}
	}
	fclose(f);
	return rc;
}

static void print_help(void)
{
	printf("Usage: tallow-milter [-c FILE] [OPTIONS]\n"
	       "       tallow-milter [-c FILE] [OPTIONS] --check\n"
	       "\n"
	       "A milter (Postfix smtpd_milters, Sendmail INPUT_MAIL_FILTER) that asks\n"
	       "tallow's policy zones whether the Microsoft 365 tenant that relays a\n"
	       "message may send as the domain of its From: address.\n"
	       "\n"
	       "DESCRIPTION\n"
	       "  A message is judged when the client address is in the Microsoft 365\n"
	       "  outbound ranges (ms-ranges) or, with judge-tenant-header, when it\n"
	       "  carries X-MS-Exchange-CrossTenant-Id.  Other messages pass untouched.\n"
	       "  The tenant is the X-MS-Exchange-CrossTenant-Id header; the domain is the\n"
	       "  From: header's (and, with check-envelope-sender, the envelope sender's).\n"
	       "  The outcome is one of:\n"
	       "    allow     the domain's policy lists the tenant (and the optional\n"
	       "              certificate and DKIM checks pass);\n"
	       "    deny      the policy does not list the tenant, an optional check\n"
	       "              failed, or the message is ambiguous: no From: header,\n"
	       "              several From: addresses, several different tenant IDs,\n"
	       "              a tenant header that is not a GUID;\n"
	       "    none      the domain publishes no policy;\n"
	       "    notenant  a judged message without X-MS-Exchange-CrossTenant-Id;\n"
	       "    tempfail  the lookup failed (SERVFAIL, timeout, DNSSEC bogus).\n"
	       "  Each outcome has an action: accept, reject (550 5.7.1 and the reason),\n"
	       "  tempfail (451 4.7.1) or tag (add \"X-Tallow-Result: <decision>\n"
	       "  tenant=<id> domain=<domain>\" and accept).  X-Tallow-Result headers\n"
	       "  already in a message are removed.  One log line per judged message:\n"
	       "  queue id, domain, tenant, decision, action, reason.\n"
	       "\n"
	       "OPTIONS\n"
	       "  -c, --config FILE   read options from FILE first (\"name value\" lines;\n"
	       "                      see the sample, tallow-milter.conf)\n"
	       "  --check             check the configuration and the ranges file, print\n"
	       "                      the effective settings, and exit (0 valid, 1 not)\n"
	       "  --sample-config     print a sample config file documenting every option\n"
	       "  -h, --help          print this help and exit\n"
	       "  -V, --version       print the version and exit\n"
	       "\n"
	       "  Every config file option is also a command-line option; booleans are\n"
	       "  set with --name or --name=no.  ACTION is accept, reject, tempfail or tag.\n");
	for (size_t i = 0; i < NOPTS; i++) {
		char head[64];
		snprintf(head, sizeof(head), "--%s%s%s", opts[i].name, opts[i].arg ? " " : "",
		         opts[i].arg ? opts[i].arg : "");
		printf("\n  %s%s%s%s\n", head, opts[i].def ? "   (default: " : "",
		       opts[i].def ? opts[i].def : "", opts[i].def ? ")" : "");
		const char *h = opts[i].help;
		while (*h != '\0') {
			const char *nl = strchr(h, '\n');
			size_t len = nl ? (size_t)(nl - h) : strlen(h);
			printf("      %.*s\n", (int)len, h);
			h += len + (nl ? 1 : 0);
		}
	}
	printf("\nEXIT STATUS\n"
	       "  0 after a clean shutdown (SIGTERM) or a valid --check; 1 on a\n"
	       "  configuration or start-up error; 64 on a usage error.\n"
	       "\n"
	       "EXAMPLE\n"
	       "  tallow-milter --zone tenants.example.net --ms-ranges \\\n"
	       "      /etc/tallow/microsoft-outbound --socket inet:8894@127.0.0.1\n");
}

const char *mconf_config_path(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
		    i + 1 < argc) {
			return argv[i + 1];
		}
		if (strncmp(argv[i], "--config=", 9) == 0) {
			return argv[i] + 9;
		}
		if (strcmp(argv[i], "--") == 0) {
			break;
		}
	}
	return NULL;
}

enum { O_CHECK = 1000, O_SAMPLE, O_FIRST };

int mconf_parse_args(mconf_t *c, int argc, char **argv, bool *check)
{
	struct option longopts[NOPTS + 6];
	bool list_from_args[NOPTS] = { false };
	char why[128];
	size_t n = 0;
	int ch;

	for (size_t i = 0; i < NOPTS; i++) {
		longopts[n].name = opts[i].name;
		longopts[n].has_arg =
		        opts[i].type == T_BOOL ? optional_argument : required_argument;
		longopts[n].flag = NULL;
		longopts[n].val = O_FIRST + (int)i;
		n++;
	}
	longopts[n++] = (struct option){ "config", required_argument, NULL, 'c' };
	longopts[n++] = (struct option){ "check", no_argument, NULL, O_CHECK };
	longopts[n++] = (struct option){ "sample-config", no_argument, NULL, O_SAMPLE };
	longopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[n++] = (struct option){ "version", no_argument, NULL, 'V' };
	longopts[n++] = (struct option){ NULL, 0, NULL, 0 };
	*check = false;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:hV", longopts, NULL)) != -1) {
		if (ch >= O_FIRST && ch < O_FIRST + (int)NOPTS) {
			const opt_t *o = &opts[ch - O_FIRST];
			const char *value = optarg;
			if (o->type == T_BOOL && value == NULL) {
				value = "yes";
			}
			if (o->type == T_LIST && !list_from_args[ch - O_FIRST]) {
				clear_list(c, o);
				list_from_args[ch - O_FIRST] = true;
			}
			why[0] = '\0';
			int rc = set_value(c, o, value, why, sizeof(why));
			if (rc != 0) {
				fprintf(stderr, "tallow-milter: --%s \"%s\": %s\n", o->name, value,
				        why[0] != '\0' ? why : tal_strerror(rc));
				return TAL_ESYNTAX;
			}
			continue;
		}
		switch (ch) {
		case 'c':
			break; /* read before the command line, by main() */
		case O_CHECK:
			*check = true;
			break;
		case O_SAMPLE:
			mconf_print_sample(stdout);
			return 1;
		case 'h':
			print_help();
			return 1;
		case 'V':
			printf("tallow-milter (tallow) %s\n", TAL_VERSION);
			return 1;
		default:
			fprintf(stderr, "Try 'tallow-milter --help' for more information.\n");
			return TAL_ESYNTAX;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
		        "tallow-milter: unexpected argument \"%s\"\n"
		        "Try 'tallow-milter --help' for more information.\n",
		        argv[optind]);
		return TAL_ESYNTAX;
	}
	return 0;
}

int mconf_validate(const mconf_t *c)
{
	if (c->nzones == 0) {
		fprintf(stderr, "tallow-milter: no policy zone: give zone\n");
		return TAL_EINVAL;
	}
	if (c->nservers > 0 && c->nresolvers > 0) {
		fprintf(stderr, "tallow-milter: give server or resolver, not both\n");
		return TAL_EINVAL;
	}
	if (c->ranges_file == NULL && !c->judge_tenant_header) {
		fprintf(stderr, "tallow-milter: no message would be judged: give ms-ranges "
		                "or judge-tenant-header yes\n");
		return TAL_EINVAL;
	}
	return 0;
}

static int parse_range(const char *text, mconf_range_t *r)
{
	char buf[128];
	char *slash, *end = NULL;
	unsigned long prefix;

	if (strlen(text) >= sizeof(buf)) {
		return TAL_EADDR;
	}
	strcpy(buf, text);
	slash = strchr(buf, '/');
	if (slash != NULL) {
		*slash++ = '\0';
	}
	memset(r, 0, sizeof(*r));
	if (inet_pton(AF_INET, buf, r->addr) == 1) {
		r->family = AF_INET;
		prefix = 32;
	} else if (inet_pton(AF_INET6, buf, r->addr) == 1) {
		r->family = AF_INET6;
		prefix = 128;
	} else {
		return TAL_EADDR;
	}
	if (slash != NULL) {
		unsigned long max = prefix;
		errno = 0;
		prefix = strtoul(slash, &end, 10);
		if (errno != 0 || end == slash || *end != '\0' || prefix > max) {
			return TAL_EADDR;
		}
	}
	r->prefix = (unsigned)prefix;
	return 0;
}

int mconf_load_ranges(mconf_t *c)
{
	FILE *f;
	char line[512];
	unsigned lineno = 0;
	size_t cap = 0;
	int rc = 0;

	if (c->ranges_file == NULL) {
		return 0;
	}
	f = fopen(c->ranges_file, "r");
	if (f == NULL) {
		rc = tal_error_from_errno(errno);
		fprintf(stderr, "tallow-milter: ms-ranges %s: %s\n", c->ranges_file,
		        tal_strerror(rc));
		return rc;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line, *e;
		lineno++;
		char *hash = strchr(p, '#');
		if (hash != NULL) {
			*hash = '\0';
		}
		while (isspace((unsigned char)*p)) {
			p++;
		}
		e = p + strlen(p);
		while (e > p && isspace((unsigned char)e[-1])) {
			*--e = '\0';
		}
		if (*p == '\0') {
			continue;
		}
		if (c->nranges == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			mconf_range_t *n = realloc(c->ranges, ncap * sizeof(*n));
			if (n == NULL) {
				rc = TAL_ENOMEM;
				break;
			}
			c->ranges = n;
			cap = ncap;
		}
		if (parse_range(p, &c->ranges[c->nranges]) != 0) {
			fprintf(stderr,
			        "tallow-milter: %s:%u: \"%s\" is not an address range "
			        "(expected ADDRESS/PREFIX)\n",
			        c->ranges_file, lineno, p);
			rc = TAL_ESYNTAX;
			break;
		}
		c->nranges++;
	}
	fclose(f);
	return rc;
}

static bool prefix_match(const uint8_t *a, const uint8_t *net, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;
	if (memcmp(a, net, full) != 0) {
		return false;
	}
	if (rest == 0) {
		return true;
	}
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[full] & mask) == (net[full] & mask);
}

bool mconf_in_ranges(const mconf_t *c, const void *sa_)
{
	const struct sockaddr *sa = sa_;
	uint8_t a4[4], a6[16];
	bool v4 = false;

	if (sa == NULL) {
		return false;
	}
	if (sa->sa_family == AF_INET) {
		memcpy(a4, &((const struct sockaddr_in *)sa_)->sin_addr, 4);
		v4 = true;
	} else if (sa->sa_family == AF_INET6) {
		memcpy(a6, &((const struct sockaddr_in6 *)sa_)->sin6_addr, 16);
		/* An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d. */
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		if (memcmp(a6, mapped, 12) == 0) {
			memcpy(a4, a6 + 12, 4);
			v4 = true;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < c->nranges; i++) {
		const mconf_range_t *r = &c->ranges[i];
		if (v4 && r->family == AF_INET && prefix_match(a4, r->addr, r->prefix)) {
			return true;
		}
		if (!v4 && r->family == AF_INET6 && prefix_match(a6, r->addr, r->prefix)) {
			return true;
		}
	}
	return false;
}

static void print_value(FILE *f, const mconf_t *c, const opt_t *o)
{
	const char *base = (const char *)c + o->off;
	switch (o->type) {
	case T_STR: {
		const char *s = *(char *const *)base;
		if (s != NULL) {
			fprintf(f, "%s %s\n", o->name, s);
		}
		break;
	}
	case T_LIST: {
		char *const *list = (char *const *)base;
		size_t n = *(const size_t *)((const char *)c + o->cntoff);
		for (size_t i = 0; i < n; i++) {
			fprintf(f, "%s %s\n", o->name, list[i]);
		}
		break;
	}
	case T_BOOL:
		fprintf(f, "%s %s\n", o->name, *(const bool *)base ? "yes" : "no");
		break;
	case T_SECONDS: {
		unsigned ms = *(const unsigned *)base;
		fprintf(f, "%s %u.%03u\n", o->name, ms / 1000, ms % 1000);
		break;
	}
	case T_ACTION:
		fprintf(f, "%s %s\n", o->name, mconf_action_name(*(const mconf_action_t *)base));
		break;
	case T_LEVEL:
		fprintf(f, "%s %s\n", o->name, level_names[*(const int *)base]);
		break;
	}
}

void mconf_print(const mconf_t *c, void *file)
{
	for (size_t i = 0; i < NOPTS; i++) {
		print_value(file, c, &opts[i]);
	}
}

void mconf_print_sample(void *file)
{
	FILE *f = file;
	fprintf(f, "# tallow-milter.conf -- sample configuration of tallow-milter.\n"
	           "#\n"
	           "# One \"name value\" per line; lines starting with # are comments; list\n"
	           "# options repeat the line.  Every option is also a command-line option\n"
	           "# (--name value), which overrides this file.  Commented-out values are\n"
	           "# the defaults.  Check a file with: tallow-milter -c FILE --check\n");
	for (size_t i = 0; i < NOPTS; i++) {
		const opt_t *o = &opts[i];
		const char *h = o->help;
		fprintf(f, "\n");
		while (*h != '\0') {
			const char *nl = strchr(h, '\n');
			size_t len = nl ? (size_t)(nl - h) : strlen(h);
			fprintf(f, "# %.*s\n", (int)len, h);
			h += len + (nl ? 1 : 0);
		}
		if (o->def != NULL) {
			fprintf(f, "#%s %s\n", o->name, o->def);
		} else if (strcmp(o->name, "zone") == 0) {
			fprintf(f, "zone tenants.example.net\n");
		} else if (strcmp(o->name, "ms-ranges") == 0) {
			fprintf(f, "ms-ranges /etc/tallow/microsoft-outbound\n");
		} else {
			fprintf(f, "#%s %s\n", o->name, o->arg != NULL ? o->arg : "");
		}
	}
}
