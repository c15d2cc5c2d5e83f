/*
 * tools/tallowctl/ctl_cmds.c -- the commands that act on one zone or one
 * domain: init, add, remove, show, list, export, zones.
 *
 * Every argument is validated before the database is opened for writing,
 * so a typo costs no lock and leaves no trace.  Writes go through one
 * tal_change_t and one commit: a command either lands whole, with the
 * serial raised by one, or not at all; a command that changes nothing
 * (an idempotent add) leaves the serial alone.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tools/tallowctl/ctl.h"
#include "zones/csv.h"
#include "zones/name.h"
#include "zones/policy.h"
#include "zones/zone.h"
#include "zones/zonefile.h"

#define TTL_MAX 2147483647UL

static const struct option common_longopts[] = { TAL_CTL_LONGOPTS, { NULL, 0, NULL, 0 } };

/* Parses the options of a command that has none of its own. */
static int plain_options(tal_ctl_t *ctl, const char *cmd, int argc, char **argv, int *status)
{
	int opt;

	while ((opt = tal__ctl_getopt(ctl, cmd, argc, argv, TAL_CTL_SHORTOPTS, common_longopts,
	                              status)) != -1) {
		if (opt == TAL_CTL_STOP) {
			return -1;
		}
	}
	return 0;
}

static bool in_zone(const char *name, const char *apex)
{
	size_t n = strlen(name), a = strlen(apex);

	if (n == a) {
		return strcmp(name, apex) == 0;
	}
	return n > a && name[n - a - 1] == '.' && strcmp(name + n - a, apex) == 0;
}

static int parse_ttl(const char *opt, const char *text, uint32_t *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	if (text[0] < '0' || text[0] > '9') {
		return tal__ctl_bad(opt, text, TAL_ETTL);
	}
	v = strtoul(text, &end, 10);
	if (errno != 0 || *end != '\0' || v > TTL_MAX) {
		return tal__ctl_bad(opt, text, TAL_ETTL);
	}
	*out = (uint32_t)v;
	return 0;
}

static bool valid_addr(const char *text)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, text, buf) == 1 || inet_pton(AF_INET6, text, buf) == 1;
}

/*
 * Adds one "--ns NAME[=ADDRESS[,ADDRESS]...]" to cfg.  The same NAME may be
 * given again to add addresses.  Glue is only for in-zone names: out of
 * zone it would be ignored by every resolver (RFC 9471), so it is refused.
 */
static int add_ns(tal_zone_info_t *cfg, char *arg)
{
	char name[TAL_DOMAIN_TEXTSZ];
	char *eq, *addr, *next;
	tal_ns_t *ns = NULL;
	int err, i;

	eq = strchr(arg, '=');
	if (eq != NULL) {
		*eq = '\0';
	}
	err = tal_domain_normalise(arg, name);
	if (err != 0) {
		return tal__ctl_bad("--ns", arg, err);
	}
	for (i = 0; i < cfg->nns; i++) {
		if (strcmp(cfg->ns[i].name, name) == 0) {
			ns = &cfg->ns[i];
		}
	}
	if (ns == NULL) {
		if (cfg->nns == TAL_ZONE_MAX_NS) {
			tal__ctl_err("--ns \"%s\": a zone has at most %d name servers", arg,
			             TAL_ZONE_MAX_NS);
			return TAL_CTL_INVALID;
		}
		ns = &cfg->ns[cfg->nns++];
		memset(ns, 0, sizeof(*ns));
		memcpy(ns->name, name, sizeof(ns->name));
	}
	if (eq == NULL) {
		return 0;
	}
	if (!in_zone(name, cfg->apex)) {
		tal__ctl_err("--ns \"%s=%s\": glue addresses are only for name servers inside "
		             "the zone %s",
		             arg, eq + 1, cfg->apex);
		return TAL_CTL_INVALID;
	}
	for (addr = eq + 1; addr != NULL; addr = next) {
		next = strchr(addr, ',');
		if (next != NULL) {
			*next++ = '\0';
		}
		if (strlen(addr) >= sizeof(ns->addrs[0]) || !valid_addr(addr)) {
			return tal__ctl_bad("--ns", addr, TAL_EADDR);
		}
		for (i = 0; i < ns->naddrs; i++) {
			if (strcmp(ns->addrs[i], addr) == 0) {
				break;
			}
		}
		if (i < ns->naddrs) {
			continue;
		}
		if (ns->naddrs == TAL_ZONE_MAX_ADDRS) {
			tal__ctl_err("--ns \"%s\": a name server has at most %d addresses", name,
			             TAL_ZONE_MAX_ADDRS);
			return TAL_CTL_INVALID;
		}
		strcpy(ns->addrs[ns->naddrs++], addr);
	}
	return 0;
}

int tal__ctl_cmd_init(tal_ctl_t *ctl, int argc, char **argv)
{
	enum { OPT_NS = 256, OPT_MBOX, OPT_TTL, OPT_NEGTTL };
	static const struct option longopts[] = {
		TAL_CTL_LONGOPTS,
		{ "ns", required_argument, NULL, OPT_NS },
		{ "mbox", required_argument, NULL, OPT_MBOX },
		{ "ttl", required_argument, NULL, OPT_TTL },
		{ "negative-ttl", required_argument, NULL, OPT_NEGTTL },
		{ NULL, 0, NULL, 0 },
	};
	const char *mbox = NULL, *ttl = NULL, *negttl = NULL;
	char apex[TAL_DOMAIN_TEXTSZ];
	tal_zone_info_t cfg, made;
	tal_store_t *st = NULL;
	char **nsv = NULL;
	int nnsv = 0, opt, err, i, status = TAL_CTL_OK;

	nsv = calloc((size_t)argc + 1, sizeof(*nsv));
	if (nsv == NULL) {
		tal__ctl_err("%s", tal_strerror(TAL_ENOMEM));
		return TAL_CTL_SYSTEM;
	}
	while ((opt = tal__ctl_getopt(ctl, "init", argc, argv, TAL_CTL_SHORTOPTS, longopts,
	                              &status)) != -1) {
		switch (opt) {
		case TAL_CTL_STOP:
			goto cleanup;
		case OPT_NS:
			nsv[nnsv++] = optarg;
			break;
		case OPT_MBOX:
			mbox = optarg;
			break;
		case OPT_TTL:
			ttl = optarg;
			break;
		default:
			negttl = optarg;
			break;
		}
	}
	if (argc - optind != 1) {
		status = tal__ctl_usage("init", "expected one ZONE");
		goto cleanup;
	}

	err = tal_zone_defaults(&cfg, argv[optind]);
	if (err != 0) {
		status = tal__ctl_bad(NULL, argv[optind], err);
		goto cleanup;
	}
	if (ctl->zone != NULL) {
		if (tal_domain_normalise(ctl->zone, apex) != 0 || strcmp(apex, cfg.apex) != 0) {
			status = tal__ctl_usage("init", "--zone \"%s\" differs from ZONE \"%s\"",
			                        ctl->zone, argv[optind]);
			goto cleanup;
		}
	}
	if (nnsv > 0) {
		cfg.nns = 0;
	}
	for (i = 0; i < nnsv; i++) {
		status = add_ns(&cfg, nsv[i]);
		if (status != 0) {
			goto cleanup;
		}
	}
	if (mbox != NULL) {
		if (strlen(mbox) >= sizeof(cfg.mbox)) {
			status = tal__ctl_bad("--mbox", mbox, TAL_EMBOX);
			goto cleanup;
		}
		strcpy(cfg.mbox, mbox);
	}
	if (ttl != NULL && (status = parse_ttl("--ttl", ttl, &cfg.ttl)) != 0) {
		goto cleanup;
	}
	if (negttl != NULL &&
	    (status = parse_ttl("--negative-ttl", negttl, &cfg.negative_ttl)) != 0) {
		goto cleanup;
	}

	status = tal__ctl_open(ctl, TAL_STORE_CREATE, &st, NULL);
	if (status != 0) {
		goto cleanup;
	}
	err = tal_zone_create(st, &cfg);
	switch (err) {
	case 0:
		break;
	case TAL_EEXIST:
		tal__ctl_err("%s: zone %s already exists", ctl->dir, cfg.apex);
		status = TAL_CTL_INVALID;
		goto cleanup;
	case TAL_EMBOX:
		status = tal__ctl_bad("--mbox", cfg.mbox, err);
		goto cleanup;
	case TAL_EZONE_NEST:
		tal__ctl_err("%s: zone \"%s\" %s", ctl->dir, cfg.apex, tal_strerror(err));
		status = TAL_CTL_INVALID;
		goto cleanup;
	default:
		tal__ctl_err("%s: zone %s: %s", ctl->dir, cfg.apex, tal_strerror(err));
		status = tal__ctl_status(err);
		goto cleanup;
	}
	for (i = 0; i < cfg.nns; i++) {
		if (cfg.ns[i].naddrs == 0 && in_zone(cfg.ns[i].name, cfg.apex)) {
			tal__ctl_err(
			        "warning: name server %s is inside zone %s but has no address; "
			        "resolvers cannot reach it without glue (give one with --ns "
			        "%s=ADDRESS)",
			        cfg.ns[i].name, cfg.apex, cfg.ns[i].name);
		}
	}
	if (ctl->verbose && tal_zone_resolve(st, cfg.apex, &made) == 0) {
		tal__ctl_err("zone %s: created in %s, serial %u", made.apex, ctl->dir, made.serial);
	}
	status = TAL_CTL_OK;

cleanup:
	tal_store_close(st);
	free(nsv);
	return status;
}

/* Reports a failed commit; returns the exit status. */
static int commit_failed(const tal_ctl_t *ctl, const char *apex, int err)
{
	tal__ctl_err("%s: zone %s: %s; nothing was changed", ctl->dir, apex, tal_strerror(err));
	return tal__ctl_status(err);
}

static int no_policy(const char *domain, const char *apex)
{
	tal__ctl_err("\"%s\" %s in zone %s", domain, tal_strerror(TAL_ENOPOLICY), apex);
	return TAL_CTL_ABSENT;
}

/* Parses "TENANT[,DKIM-DOMAIN]" (modified in place) into `t`. */
static int parse_tenant_arg(char *arg, tal_tenant_t *t)
{
	char *comma;
	int err;

	memset(t, 0, sizeof(*t));
	comma = strchr(arg, ',');
	if (comma != NULL) {
		*comma = '\0';
	}
	err = tal_tenant_parse(arg, t->id);
	if (err != 0) {
		return tal__ctl_bad(NULL, arg, err);
	}
	if (comma != NULL) {
		err = tal_dkim_normalise(comma + 1, t->dkim);
		if (err != 0) {
			return tal__ctl_bad(NULL, comma + 1, err);
		}
	}
	return 0;
}

int tal__ctl_cmd_add(tal_ctl_t *ctl, int argc, char **argv)
{
	enum { OPT_NONE = 256 };
	static const struct option longopts[] = {
		TAL_CTL_LONGOPTS,
		{ "none", no_argument, NULL, OPT_NONE },
		{ NULL, 0, NULL, 0 },
	};
	char domain[TAL_DOMAIN_TEXTSZ];
	tal_tenant_t *tenants = NULL;
	tal_commit_result_t res;
	tal_policy_t pol = { 0 };
	tal_change_t *ch = NULL;
	tal_store_t *st = NULL;
	tal_zone_info_t zone;
	bool none = false;
	int opt, err, i, ntenants, status = TAL_CTL_OK;

	while ((opt = tal__ctl_getopt(ctl, "add", argc, argv, TAL_CTL_SHORTOPTS, longopts,
	                              &status)) != -1) {
		if (opt == TAL_CTL_STOP) {
			return status;
		}
		none = true;
	}
	ntenants = argc - optind - 1;
	if (argc - optind < 1) {
		return tal__ctl_usage("add", "expected DOMAIN and TENANT..., or DOMAIN --none");
	}
	if (none && ntenants > 0) {
		return tal__ctl_usage("add", "--none takes no TENANT");
	}
	if (!none && ntenants == 0) {
		return tal__ctl_usage("add", "expected at least one TENANT after DOMAIN (or --none "
		                             "for a policy that allows no tenant)");
	}

	err = tal_domain_normalise(argv[optind], domain);
	if (err != 0) {
		return tal__ctl_bad(NULL, argv[optind], err);
	}
	if (ntenants > 0) {
		tenants = calloc((size_t)ntenants, sizeof(*tenants));
		if (tenants == NULL) {
			tal__ctl_err("%s", tal_strerror(TAL_ENOMEM));
			return TAL_CTL_SYSTEM;
		}
	}
	for (i = 0; i < ntenants; i++) {
		status = parse_tenant_arg(argv[optind + 1 + i], &tenants[i]);
		if (status != 0) {
			goto cleanup;
		}
	}

	status = tal__ctl_open(ctl, 0, &st, &zone);
	if (status != 0) {
		goto cleanup;
	}
	err = tal_domain_fits_zone(domain, zone.apex);
	if (err != 0) {
		status = tal__ctl_bad(NULL, domain, err);
		goto cleanup;
	}
	if (none) {
		/* add never revokes: a deny-all over listed tenants would be a remove. */
		err = tal_policy_get(st, zone.apex, domain, &pol);
		if (err == 0 && pol.ntenants > 0) {
			tal__ctl_err(
			        "\"%s\" already lists %d tenant%s in zone %s; add --none never "
			        "revokes (use \"tallowctl remove %s TENANT...\")",
			        domain, pol.ntenants, pol.ntenants == 1 ? "" : "s", zone.apex,
			        domain);
			status = TAL_CTL_INVALID;
			goto cleanup;
		}
		if (err != 0 && err != TAL_ENOPOLICY) {
			status = commit_failed(ctl, zone.apex, err);
			goto cleanup;
		}
	}

	err = tal_change_new(zone.apex, &ch);
	for (i = 0; err == 0 && i < ntenants; i++) {
		err = tal_change_add(ch, domain, &tenants[i]);
	}
	if (err == 0 && none) {
		err = tal_change_add_none(ch, domain);
	}
	if (err == TAL_EOWNER_LEN || err == TAL_ETXT_LEN) {
		status =
		        tal__ctl_bad(NULL, err == TAL_ETXT_LEN ? tenants[i - 1].dkim : domain, err);
		goto cleanup;
	}
	if (err == 0) {
		err = tal_change_commit(st, ch, &res);
	}
	if (err != 0) {
		status = res.failed_domain[0] != '\0' ? tal__ctl_bad(NULL, res.failed_domain, err)
		                                      : commit_failed(ctl, zone.apex, err);
		goto cleanup;
	}
	tal__ctl_summary(ctl, zone.apex, domain, &res);
	status = TAL_CTL_OK;

cleanup:
	tal_policy_deinit(&pol);
	tal_change_free(ch);
	tal_store_close(st);
	free(tenants);
	return status;
}

static bool policy_lists(const tal_policy_t *p, const uint8_t id[16])
{
	int i;

	for (i = 0; i < p->ntenants; i++) {
		if (memcmp(p->tenants[i].id, id, 16) == 0) {
			return true;
		}
	}
	return false;
}

int tal__ctl_cmd_remove(tal_ctl_t *ctl, int argc, char **argv)
{
	char domain[TAL_DOMAIN_TEXTSZ], text[TAL_TENANT_TEXTSZ];
	tal_commit_result_t res;
	tal_policy_t pol = { 0 };
	tal_change_t *ch = NULL;
	tal_store_t *st = NULL;
	tal_zone_info_t zone;
	uint8_t(*ids)[16] = NULL;
	int err, i, nids, queued = 0, status = TAL_CTL_OK;

	if (plain_options(ctl, "remove", argc, argv, &status) != 0) {
		return status;
	}
	if (argc - optind < 1) {
		return tal__ctl_usage("remove", "expected DOMAIN [TENANT...]");
	}
	nids = argc - optind - 1;
	err = tal_domain_normalise(argv[optind], domain);
	if (err != 0) {
		return tal__ctl_bad(NULL, argv[optind], err);
	}
	if (nids > 0) {
		ids = calloc((size_t)nids, sizeof(*ids));
		if (ids == NULL) {
			tal__ctl_err("%s", tal_strerror(TAL_ENOMEM));
			return TAL_CTL_SYSTEM;
		}
	}
	for (i = 0; i < nids; i++) {
		err = tal_tenant_parse(argv[optind + 1 + i], ids[i]);
		if (err != 0) {
			status = tal__ctl_bad(NULL, argv[optind + 1 + i], err);
			goto cleanup;
		}
	}

	status = tal__ctl_open(ctl, 0, &st, &zone);
	if (status != 0) {
		goto cleanup;
	}
	err = tal_change_new(zone.apex, &ch);
	if (err != 0) {
		status = commit_failed(ctl, zone.apex, err);
		goto cleanup;
	}
	if (nids == 0) {
		err = tal_change_remove_domain(ch, domain);
	} else {
		err = tal_policy_get(st, zone.apex, domain, &pol);
		if (err == TAL_ENOPOLICY) {
			status = no_policy(domain, zone.apex);
			goto cleanup;
		}
		for (i = 0; err == 0 && i < nids; i++) {
			if (!policy_lists(&pol, ids[i])) {
				tal_tenant_format(ids[i], text);
				tal__ctl_err(
				        "tenant %s is not listed for \"%s\" in zone %s; nothing "
				        "to remove",
				        text, domain, zone.apex);
				continue;
			}
			err = tal_change_remove(ch, domain, ids[i]);
			queued++;
		}
		if (err == 0 && queued == 0) {
			status = TAL_CTL_OK;
			goto cleanup;
		}
	}
	if (err == TAL_EOWNER_LEN) {
		status = no_policy(domain, zone.apex);
		goto cleanup;
	}
	if (err == 0) {
		err = tal_change_commit(st, ch, &res);
	}
	if (err != 0) {
		status = commit_failed(ctl, zone.apex, err);
		goto cleanup;
	}
	if (res.domains_missing > 0) {
		status = no_policy(domain, zone.apex);
		goto cleanup;
	}
	tal__ctl_summary(ctl, zone.apex, domain, &res);
	status = TAL_CTL_OK;

cleanup:
	tal_policy_deinit(&pol);
	tal_change_free(ch);
	tal_store_close(st);
	free(ids);
	return status;
}

static void json_policy(FILE *f, const tal_policy_t *p)
{
	char text[TAL_TENANT_TEXTSZ];
	int i;

	fputs("{\"domain\": ", f);
	tal__ctl_json_str(f, p->domain);
	fputs(", \"tenants\": [", f);
	for (i = 0; i < p->ntenants; i++) {
		tal_tenant_format(p->tenants[i].id, text);
		fprintf(f, "%s{\"id\": \"%s\", \"dkim\": ", i > 0 ? ", " : "", text);
		if (p->tenants[i].dkim[0] != '\0') {
			tal__ctl_json_str(f, p->tenants[i].dkim);
		} else {
			fputs("null", f);
		}
		fputc('}', f);
	}
	fputs("]}", f);
}

/* Parses the options of show, list and zones: the shared ones and --json. */
static int json_options(tal_ctl_t *ctl, const char *cmd, int argc, char **argv, bool *json,
                        int *status)
{
	enum { OPT_JSON = 256 };
	static const struct option longopts[] = {
		TAL_CTL_LONGOPTS,
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*json = false;
	while ((opt = tal__ctl_getopt(ctl, cmd, argc, argv, TAL_CTL_SHORTOPTS, longopts, status)) !=
	       -1) {
		if (opt == TAL_CTL_STOP) {
			return -1;
		}
		*json = true;
	}
	return 0;
}

int tal__ctl_cmd_show(tal_ctl_t *ctl, int argc, char **argv)
{
	char domain[TAL_DOMAIN_TEXTSZ], text[TAL_TENANT_TEXTSZ];
	tal_policy_t pol = { 0 };
	tal_store_t *st = NULL;
	tal_zone_info_t zone;
	bool json;
	int err, i, status = TAL_CTL_OK;

	if (json_options(ctl, "show", argc, argv, &json, &status) != 0) {
		return status;
	}
	if (argc - optind != 1) {
		return tal__ctl_usage("show", "expected one DOMAIN");
	}
	err = tal_domain_normalise(argv[optind], domain);
	if (err != 0) {
		return tal__ctl_bad(NULL, argv[optind], err);
	}
	status = tal__ctl_open(ctl, TAL_STORE_RDONLY, &st, &zone);
	if (status != 0) {
		return status;
	}
	err = tal_policy_get(st, zone.apex, domain, &pol);
	if (err == TAL_ENOPOLICY) {
		status = no_policy(domain, zone.apex);
		goto cleanup;
	}
	if (err != 0) {
		tal__ctl_err("%s: zone %s: %s", ctl->dir, zone.apex, tal_strerror(err));
		status = tal__ctl_status(err);
		goto cleanup;
	}
	if (json) {
		fputs("{\"zone\": ", stdout);
		tal__ctl_json_str(stdout, zone.apex);
		fputs(", \"policy\": ", stdout);
		json_policy(stdout, &pol);
		fputs("}\n", stdout);
	} else if (pol.ntenants == 0) {
		printf("%s (zone %s): deny-all policy, no tenant allowed\n", pol.domain, zone.apex);
	} else {
		printf("%s (zone %s): %d tenant%s allowed\n", pol.domain, zone.apex, pol.ntenants,
		       pol.ntenants == 1 ? "" : "s");
		for (i = 0; i < pol.ntenants; i++) {
			tal_tenant_format(pol.tenants[i].id, text);
			if (pol.tenants[i].dkim[0] != '\0') {
				printf("  %s  dkim=%s\n", text, pol.tenants[i].dkim);
			} else {
				printf("  %s\n", text);
			}
		}
	}
	status = TAL_CTL_OK;

cleanup:
	tal_policy_deinit(&pol);
	tal_store_close(st);
	return status;
}

static int csv_cb(const tal_policy_t *p, void *arg)
{
	return tal_csv_write_policy(arg, p);
}

typedef struct {
	FILE *f;
	size_t n;
} json_walk_t;

static int json_cb(const tal_policy_t *p, void *arg)
{
	json_walk_t *w = arg;

	fputs(w->n++ > 0 ? ",\n" : "\n", w->f);
	json_policy(w->f, p);
	return ferror(w->f) ? TAL_EIO : 0;
}

/* Reports a failed walk to stdout; a write error is named as such. */
static int output_failed(const tal_ctl_t *ctl, const char *apex, int err)
{
	int status;

	if (err == TAL_EIO && ferror(stdout)) {
		status = tal__ctl_flush_stdout();
		if (status != 0) {
			return status;
		}
		tal__ctl_err("error writing standard output: %s", tal_strerror(err));
		return TAL_CTL_SYSTEM;
	}
	tal__ctl_err("%s: zone %s: %s", ctl->dir, apex, tal_strerror(err));
	return tal__ctl_status(err);
}

/* Writes every policy of the zone to stdout as CSV or as one JSON document. */
static int write_policies(const tal_ctl_t *ctl, tal_store_t *st, const char *apex, bool json)
{
	json_walk_t w = { stdout, 0 };
	int err;

	if (!json) {
		err = tal_policy_foreach(st, apex, csv_cb, stdout);
		return err != 0 ? output_failed(ctl, apex, err) : TAL_CTL_OK;
	}
	fputs("{\"zone\": ", stdout);
	tal__ctl_json_str(stdout, apex);
	fputs(", \"policies\": [", stdout);
	err = tal_policy_foreach(st, apex, json_cb, &w);
	if (err != 0) {
		return output_failed(ctl, apex, err);
	}
	fputs(w.n > 0 ? "\n]}\n" : "]}\n", stdout);
	return TAL_CTL_OK;
}

/* Large output: one write per megabyte instead of one per 4 KiB. */
static void big_stdout(void)
{
	static char buf[1 << 20];

	setvbuf(stdout, buf, _IOFBF, sizeof(buf));
}

int tal__ctl_cmd_list(tal_ctl_t *ctl, int argc, char **argv)
{
	tal_store_t *st = NULL;
	tal_zone_info_t zone;
	bool json;
	int status = TAL_CTL_OK;

	if (json_options(ctl, "list", argc, argv, &json, &status) != 0) {
		return status;
	}
	if (argc - optind != 0) {
		return tal__ctl_usage("list", "unexpected argument \"%s\"", argv[optind]);
	}
	status = tal__ctl_open(ctl, TAL_STORE_RDONLY, &st, &zone);
	if (status != 0) {
		return status;
	}
	big_stdout();
	status = write_policies(ctl, st, zone.apex, json);
	tal_store_close(st);
	return status;
}

int tal__ctl_cmd_export(tal_ctl_t *ctl, int argc, char **argv)
{
	enum { OPT_FORMAT = 256 };
	static const struct option longopts[] = {
		TAL_CTL_LONGOPTS,
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ NULL, 0, NULL, 0 },
	};
	tal_store_t *st = NULL;
	tal_zone_info_t zone;
	bool zonefile = false;
	int opt, err, status = TAL_CTL_OK;

	while ((opt = tal__ctl_getopt(ctl, "export", argc, argv, TAL_CTL_SHORTOPTS "f:", longopts,
	                              &status)) != -1) {
		if (opt == TAL_CTL_STOP) {
			return status;
		}
		if (strcmp(optarg, "zone") == 0) {
			zonefile = true;
		} else if (strcmp(optarg, "csv") == 0) {
			zonefile = false;
		} else {
			return tal__ctl_usage("export", "unknown format \"%s\" (csv or zone)",
			                      optarg);
		}
	}
	if (argc - optind != 0) {
		return tal__ctl_usage("export", "unexpected argument \"%s\"", argv[optind]);
	}
	status = tal__ctl_open(ctl, TAL_STORE_RDONLY, &st, &zone);
	if (status != 0) {
		return status;
	}
	big_stdout();
	if (zonefile) {
		err = tal_zonefile_export(st, zone.apex, stdout);
		status = err != 0 ? output_failed(ctl, zone.apex, err) : TAL_CTL_OK;
	} else {
		status = write_policies(ctl, st, zone.apex, false);
	}
	tal_store_close(st);
	return status;
}

static int zone_line_cb(const tal_zone_info_t *z, void *arg)
{
	(void)arg;
	printf("%s %u\n", z->apex, z->serial);
	return 0;
}

static int zone_json_cb(const tal_zone_info_t *z, void *arg)
{
	size_t *n = arg;
	int i, j;

	fputs(*n > 0 ? ",\n" : "\n", stdout);
	(*n)++;
	fputs("{\"zone\": ", stdout);
	tal__ctl_json_str(stdout, z->apex);
	printf(", \"serial\": %u, \"ttl\": %u, \"negative_ttl\": %u, \"refresh\": %u, "
	       "\"retry\": %u, \"expire\": %u, \"mbox\": ",
	       z->serial, z->ttl, z->negative_ttl, z->refresh, z->retry, z->expire);
	tal__ctl_json_str(stdout, z->mbox);
	fputs(", \"ns\": [", stdout);
	for (i = 0; i < z->nns; i++) {
		fputs(i > 0 ? ", {\"name\": " : "{\"name\": ", stdout);
		tal__ctl_json_str(stdout, z->ns[i].name);
		fputs(", \"addresses\": [", stdout);
		for (j = 0; j < z->ns[i].naddrs; j++) {
			if (j > 0) {
				fputs(", ", stdout);
			}
			tal__ctl_json_str(stdout, z->ns[i].addrs[j]);
		}
		fputs("]}", stdout);
	}
	fputs("]}", stdout);
	return 0;
}

int tal__ctl_cmd_zones(tal_ctl_t *ctl, int argc, char **argv)
{
	tal_store_t *st = NULL;
	tal_zone_info_t zone;
	size_t n = 0;
	bool json;
	int err, status = TAL_CTL_OK;

	if (json_options(ctl, "zones", argc, argv, &json, &status) != 0) {
		return status;
	}
	if (argc - optind != 0) {
		return tal__ctl_usage("zones", "unexpected argument \"%s\"", argv[optind]);
	}
	/* With --zone, just that one (and exit 1 when it is absent). */
	status = tal__ctl_open(ctl, TAL_STORE_RDONLY, &st, ctl->zone != NULL ? &zone : NULL);
	if (status != 0) {
		return status;
	}
	if (json) {
		fputs("{\"zones\": [", stdout);
	}
	if (ctl->zone != NULL) {
		err = json ? zone_json_cb(&zone, &n) : zone_line_cb(&zone, NULL);
	} else {
		err = tal_zone_foreach(st, json ? zone_json_cb : zone_line_cb, &n);
	}
	if (err != 0) {
		tal__ctl_err("%s: %s", ctl->dir, tal_strerror(err));
		status = tal__ctl_status(err);
	} else if (json) {
		fputs(n > 0 ? "\n]}\n" : "]}\n", stdout);
	}
	tal_store_close(st);
	return status;
}
