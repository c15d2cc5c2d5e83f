/*
 * tools/tallow-milter/conf.h -- tallow-milter's configuration: one table of
 * options (name, type, default, description) used to parse the config file
 * and the command line, to print the effective settings (--check) and to
 * write the sample file (--sample-config), as Knot's conf/schema.c does.
 *
 * Config file: one "name value" per line; '#' starts a comment line; list
 * options repeat the line.  Command line: --name value (booleans: --name or
 * --name=no).  The command line overrides the file; a list given on the
 * command line replaces the file's list.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MCONF_LIST_MAX 16

typedef enum {
	ACT_ACCEPT = 0,
	ACT_REJECT = 1,
	ACT_TEMPFAIL = 2,
	ACT_TAG = 3,
} mconf_action_t;

/* Outcomes, in the order of the on-* options. */
typedef enum {
	OUT_ALLOW = 0,
	OUT_DENY = 1,
	OUT_NONE = 2,
	OUT_NOTENANT = 3,
	OUT_TEMPFAIL = 4,
	OUT_COUNT = 5,
} mconf_outcome_t;

/* One address range: family AF_INET or AF_INET6, network octets, prefix. */
typedef struct {
	int family;
	uint8_t addr[16];
	unsigned prefix;
} mconf_range_t;

typedef struct {
	char *socket;
	char *zones[MCONF_LIST_MAX];
	size_t nzones;
	char *servers[MCONF_LIST_MAX];
	size_t nservers;
	char *resolvers[MCONF_LIST_MAX];
	size_t nresolvers;
	char *trust_anchor;
	unsigned timeout_ms;
	char *ranges_file;
	bool judge_tenant_header;
	bool check_envelope_sender;
	char *cert_cn;
	char *dkim_authserv_id;
	mconf_action_t action[OUT_COUNT];
	bool dry_run;
	int log_level;

	/* Loaded from ranges_file by mconf_load_ranges. */
	mconf_range_t *ranges;
	size_t nranges;
} mconf_t;

/* "accept", "reject", "tempfail", "tag". */
const char *mconf_action_name(mconf_action_t a);

/* "allow", "deny", "none", "notenant", "tempfail". */
const char *mconf_outcome_name(mconf_outcome_t o);

/* Fills the defaults.  Free with mconf_deinit. */
void mconf_init(mconf_t *c);
void mconf_deinit(mconf_t *c);

/*
 * Reads a config file.  0, or TAL_ENOENT/TAL_EACCES (unreadable),
 * TAL_ESYNTAX (unknown option or bad value; a message naming file:line was
 * printed to stderr).
 */
int mconf_read_file(mconf_t *c, const char *path);

/*
 * Parses the command line (options after the config file was read).
 * Returns 0; 1 when the program should exit 0 at once (--help printed,
 * --sample-config printed, --version printed); TAL_ESYNTAX after printing a
 * usage error.  Sets *check for --check and *config_path for -c.
 */
int mconf_parse_args(mconf_t *c, int argc, char **argv, bool *check);

/* Finds -c/--config in argv before the full parse; NULL when absent. */
const char *mconf_config_path(int argc, char **argv);

/* Checks the combination (zones given, not both servers and resolvers). 0 or TAL_EINVAL. */
int mconf_validate(const mconf_t *c);

/*
 * Loads the address ranges file: one CIDR (a.b.c.d/n or x::/n; a bare
 * address is a host) per line, '#' comments, blank lines.  0, TAL_ENOENT,
 * TAL_ESYNTAX (message with file:line printed).
 */
int mconf_load_ranges(mconf_t *c);

/* True when `sa` (struct sockaddr *, may be NULL) lies in a loaded range. */
bool mconf_in_ranges(const mconf_t *c, const void *sa);

/* Writes the effective settings in config file form. */
void mconf_print(const mconf_t *c, void *file);

/* Writes the sample config file (every option, documented, defaults). */
void mconf_print_sample(void *file);
