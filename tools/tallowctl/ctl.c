/*
 * tools/tallowctl/ctl.c -- tallowctl's front end: global options, command
 * dispatch, help, and the helpers every command shares (opening the store,
 * turning error codes into messages and exit statuses).
 *
 * Options are parsed in two steps: the global ones up to the command name
 * (getopt_long with "+", so the command's own options are left alone), then
 * the command's, which also accept the global ones so that
 * "tallowctl add D T -d /srv/db" works as well.  Error messages follow one
 * shape, "tallowctl: <what>: <why>", and quote user input so a stray space
 * or an empty argument is visible.
 */
#include "tools/tallowctl/ctl.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"

#ifndef TAL_VERSION
#define TAL_VERSION "unknown"
#endif

const tal_ctl_cmd_t tal__ctl_cmds[] = {
	{ "init", tal__ctl_cmd_init, "create a policy zone (and the database if missing)",
	  tal__ctl_help_init },
	{ "add", tal__ctl_cmd_add, "allow tenants to send as a domain, or add a deny-all policy",
	  tal__ctl_help_add },
	{ "remove", tal__ctl_cmd_remove, "revoke tenants, or delete a domain's policy",
	  tal__ctl_help_remove },
	{ "show", tal__ctl_cmd_show, "print a domain's policy", tal__ctl_help_show },
	{ "list", tal__ctl_cmd_list, "print every policy of the zone as CSV", tal__ctl_help_list },
	{ "import", tal__ctl_cmd_import, "load policies from a CSV file, all or nothing",
	  tal__ctl_help_import },
	{ "export", tal__ctl_cmd_export, "print the zone as CSV or as a master file",
	  tal__ctl_help_export },
	{ "zones", tal__ctl_cmd_zones, "list the zones in the database with their serials",
	  tal__ctl_help_zones },
	{ "journal", tal__ctl_cmd_journal, "print the zone's change journal",
	  tal__ctl_help_journal },
	{ "tsig", tal__ctl_cmd_tsig, "manage TSIG keys for zone transfers and NOTIFY",
	  tal__ctl_help_tsig },
	{ "transfer", tal__ctl_cmd_transfer, "allow zone transfers by address prefix and TSIG key",
	  tal__ctl_help_transfer },
	{ "notify", tal__ctl_cmd_notify, "manage the secondaries notified of new serials",
	  tal__ctl_help_notify },
	{ "help", NULL, "show the help of tallowctl or of a command", tal__ctl_help_help },
	{ NULL, NULL, NULL, NULL },
};

void tal__ctl_err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("tallowctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int tal__ctl_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs(cmd != NULL ? "tallowctl " : "tallowctl", stderr);
	if (cmd != NULL) {
		fputs(cmd, stderr);
	}
	fputs(": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cmd != NULL) {
		fprintf(stderr, " (see \"tallowctl %s --help\")\n", cmd);
	} else {
		fputs(" (see \"tallowctl --help\")\n", stderr);
	}
	return TAL_CTL_USAGE;
}

int tal__ctl_status(int err)
{
	switch (err) {
	case 0:
		return TAL_CTL_OK;
	case TAL_ENOPOLICY:
	case TAL_ENOZONE:
	case TAL_ENOTFOUND:
		return TAL_CTL_ABSENT;
	case TAL_EZONE_AMBIG:
		return TAL_CTL_USAGE;
	case TAL_EINVAL:
	case TAL_EEXIST:
	case TAL_ERANGE:
	case TAL_ESYNTAX:
		return TAL_CTL_INVALID;
	default:
		break;
	}
	/* Names and data: everything a user typed or a file said. */
	if (err <= TAL_EDNAME && err >= TAL_EPOLICY_SIZE) {
		return TAL_CTL_INVALID;
	}
	return TAL_CTL_SYSTEM;
}

int tal__ctl_bad(const char *prefix, const char *text, int err)
{
	if (prefix != NULL) {
		tal__ctl_err("%s: \"%s\" %s", prefix, text, tal_strerror(err));
	} else {
		tal__ctl_err("\"%s\" %s", text, tal_strerror(err));
	}
	return tal__ctl_status(err);
}

static int zone_name_cb(const tal_zone_info_t *zone, void *arg)
{
	FILE *f = arg;

	fprintf(f, " %s", zone->apex);
	return 0;
}

int tal__ctl_open(tal_ctl_t *ctl, unsigned flags, tal_store_t **st, tal_zone_info_t *zone)
{
	tal_store_opts_t opts = { .flags = flags, .map_size = 0 };
	char apex[TAL_DOMAIN_TEXTSZ];
	int err;

	*st = NULL;
	err = tal_store_open(ctl->dir, &opts, st);
	switch (err) {
	case 0:
		break;
	case TAL_ENOENT:
	case TAL_ENODB:
		if ((flags & TAL_STORE_CREATE) != 0) {
			/* Only the last component is created: a typo should not grow a tree. */
			tal__ctl_err("%s: cannot create the database directory: %s (its parent "
			             "directory must exist)",
			             ctl->dir, tal_strerror(err));
			return TAL_CTL_SYSTEM;
		}
		tal__ctl_err("%s: %s (create one with \"tallowctl init ZONE\")", ctl->dir,
		             tal_strerror(TAL_ENODB));
		return TAL_CTL_SYSTEM;
	default:
		tal__ctl_err("%s: %s", ctl->dir, tal_strerror(err));
		return TAL_CTL_SYSTEM;
	}
	if (zone == NULL) {
		return TAL_CTL_OK;
	}

	if (ctl->zone != NULL) {
		err = tal_domain_normalise(ctl->zone, apex);
		if (err != 0) {
			tal_store_close(*st);
			*st = NULL;
			return tal__ctl_bad("--zone", ctl->zone, err);
		}
	}
	err = tal_zone_resolve(*st, ctl->zone != NULL ? apex : NULL, zone);
	if (err == 0) {
		return TAL_CTL_OK;
	}
	if (err == TAL_ENOZONE && ctl->zone != NULL) {
		tal__ctl_err("%s: zone \"%s\" is not in this database (see \"tallowctl zones\")",
		             ctl->dir, ctl->zone);
	} else if (err == TAL_ENOZONE) {
		tal__ctl_err("%s: the database holds no zone (create one with \"tallowctl init "
		             "ZONE\")",
		             ctl->dir);
	} else if (err == TAL_EZONE_AMBIG) {
		fflush(stdout);
		fprintf(stderr, "tallowctl: %s: %s; the zones are:", ctl->dir, tal_strerror(err));
		tal_zone_foreach(*st, zone_name_cb, stderr);
		fputc('\n', stderr);
	} else {
		tal__ctl_err("%s: %s", ctl->dir, tal_strerror(err));
	}
	tal_store_close(*st);
	*st = NULL;
	return tal__ctl_status(err);
}

void tal__ctl_summary(const tal_ctl_t *ctl, const char *zone, const char *what,
                      const tal_commit_result_t *res)
{
	if (!ctl->verbose) {
		return;
	}
	if (!res->changed) {
		tal__ctl_err("zone %s: %s: no change, serial %u", zone, what, res->serial_before);
		return;
	}
	tal__ctl_err("zone %s: %s: serial %u -> %u, domains +%zu -%zu, tenants +%zu -%zu", zone,
	             what, res->serial_before, res->serial_after, res->domains_added,
	             res->domains_removed, res->tenants_added, res->tenants_removed);
}

void tal__ctl_json_str(FILE *f, const char *text)
{
	const unsigned char *p;

	fputc('"', f);
	for (p = (const unsigned char *)text; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			fputc('\\', f);
			fputc(*p, f);
		} else if (*p < 0x20) {
			fprintf(f, "\\u%04x", *p);
		} else {
			fputc(*p, f);
		}
	}
	fputc('"', f);
}

int tal__ctl_flush_stdout(void)
{
	int errnum = 0;

	if (fflush(stdout) != 0) {
		errnum = errno;
	}
	if (errnum == 0 && ferror(stdout)) {
		errnum = EIO;
	}
	if (errnum != 0) {
		tal__ctl_err("error writing standard output: %s", strerror(errnum));
		return TAL_CTL_SYSTEM;
	}
	return TAL_CTL_OK;
}

static const tal_ctl_cmd_t *find_cmd(const char *name)
{
	const tal_ctl_cmd_t *c;

	for (c = tal__ctl_cmds; c->name != NULL; c++) {
		if (strcmp(c->name, name) == 0) {
			return c;
		}
	}
	return NULL;
}

static int print_help(const char *text)
{
	fputs(text, stdout);
	return tal__ctl_flush_stdout();
}

static int print_main_help(void)
{
	fputs(tal__ctl_help_main, stdout);
	return tal__ctl_flush_stdout();
}

/*
 * Reports what getopt_long() refused; `prev` is optind before the call.  A
 * long option's optopt is its value (not a character), so the argument
 * itself is quoted then.
 */
static int bad_option(const char *cmd, char **argv, int prev)
{
	const char *arg = argv[optind > prev ? optind - 1 : prev];

	if (strncmp(arg, "--", 2) != 0 && optopt > 0 && optopt < 128) {
		return tal__ctl_usage(cmd, "unknown option \"-%c\"", optopt);
	}
	if (optopt != 0 && strchr(arg, '=') != NULL) {
		return tal__ctl_usage(cmd, "option \"%s\" takes no argument", arg);
	}
	return tal__ctl_usage(cmd, "unknown option \"%s\"", arg);
}

int tal__ctl_getopt(tal_ctl_t *ctl, const char *cmd, int argc, char **argv, const char *shortopts,
                    const struct option *longopts, int *status)
{
	const tal_ctl_cmd_t *c;
	int opt;

	for (;;) {
		int prev = optind;

		opt = getopt_long(argc, argv, shortopts, longopts, NULL);
		switch (opt) {
		case 'd':
			ctl->dir = optarg;
			continue;
		case 'z':
			ctl->zone = optarg;
			continue;
		case 'v':
			ctl->verbose = true;
			continue;
		case 'h':
			c = find_cmd(cmd);
			*status = print_help(c->help);
			return TAL_CTL_STOP;
		case ':':
			*status = tal__ctl_usage(cmd, "option \"%s\" needs an argument",
			                         argv[optind - 1]);
			return TAL_CTL_STOP;
		case '?':
			*status = bad_option(cmd, argv, prev);
			return TAL_CTL_STOP;
		default:
			return opt;
		}
	}
}

static int cmd_help(tal_ctl_t *ctl, int argc, char **argv)
{
	static const struct option longopts[] = { TAL_CTL_LONGOPTS, { NULL, 0, NULL, 0 } };
	const tal_ctl_cmd_t *c;
	int opt, status = 0;

	optind = 0;
	while ((opt = tal__ctl_getopt(ctl, "help", argc, argv, TAL_CTL_SHORTOPTS, longopts,
	                              &status)) != -1) {
		if (opt == TAL_CTL_STOP) {
			return status;
		}
	}
	if (argc - optind == 0) {
		return print_main_help();
	}
	if (argc - optind > 1) {
		return tal__ctl_usage("help", "expected at most one COMMAND");
	}
	c = find_cmd(argv[optind]);
	if (c == NULL) {
		return tal__ctl_usage(NULL, "unknown command \"%s\"", argv[optind]);
	}
	return print_help(c->help);
}

int tal_ctl_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		TAL_CTL_LONGOPTS,
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	tal_ctl_t ctl = { .dir = NULL, .zone = NULL, .verbose = false };
	const tal_ctl_cmd_t *c;
	const char *env;
	int opt, status;

	tal_log_init("tallowctl", TAL_LOG_WARN);
	opterr = 0;

	/* "+": stop at the command name; its options are parsed by the command. */
	for (;;) {
		int prev = optind;

		opt = getopt_long(argc, argv, "+:d:z:vhV", longopts, NULL);
		if (opt == -1) {
			break;
		}
		switch (opt) {
		case 'd':
			ctl.dir = optarg;
			break;
		case 'z':
			ctl.zone = optarg;
			break;
		case 'v':
			ctl.verbose = true;
			break;
		case 'h':
			return print_main_help();
		case 'V':
			printf("tallowctl %s\n", TAL_VERSION);
			return tal__ctl_flush_stdout();
		case ':':
			return tal__ctl_usage(NULL, "option \"%s\" needs an argument",
			                      argv[optind - 1]);
		default:
			return bad_option(NULL, argv, prev);
		}
	}
	if (optind >= argc) {
		return tal__ctl_usage(NULL, "missing COMMAND");
	}
	c = find_cmd(argv[optind]);
	if (c == NULL) {
		return tal__ctl_usage(NULL, "unknown command \"%s\"", argv[optind]);
	}
	if (ctl.dir == NULL) {
		env = getenv("TALLOW_DB");
		ctl.dir = env != NULL && env[0] != '\0' ? env : TAL_CTL_DEFAULT_DB;
	}

	argc -= optind;
	argv += optind;
	/* optind = 0 makes GNU getopt start afresh (permuting again) for the command. */
	optind = 0;
	if (c->run == NULL) {
		return cmd_help(&ctl, argc, argv);
	}
	status = c->run(&ctl, argc, argv);
	if (status == TAL_CTL_OK) {
		status = tal__ctl_flush_stdout();
	}
	return status;
}
