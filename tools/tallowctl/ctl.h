/*
 * tools/tallowctl/ctl.h -- tallowctl, the management CLI of tallow's policy
 * zones: its commands, their shared state, exit statuses and help texts.
 *
 * Model: main.c hands argv to tal_ctl_main(), which parses the global
 * options, picks the command, parses that command's options and runs it
 * against the database directory.  Every command opens the store itself
 * (read-only for show, list, export and zones; init may create it), resolves
 * the zone it acts on and returns an exit status.  Messages go to stderr and
 * name the input that caused them (the directory, FILE:LINE, the domain or
 * tenant text); results go to stdout.
 *
 * Exit statuses (documented in --help and tallowctl(1)):
 *   0  success
 *   1  no such policy or zone
 *   2  invalid input or a request that conflicts with the data
 *   3  database or system error
 *   64 usage error (sysexits' EX_USAGE)
 */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "store/store.h"
#include "zones/policy.h"
#include "zones/zone.h"

enum {
	TAL_CTL_OK = 0,
	TAL_CTL_ABSENT = 1,
	TAL_CTL_INVALID = 2,
	TAL_CTL_SYSTEM = 3,
	TAL_CTL_USAGE = 64,
};

#define TAL_CTL_DEFAULT_DB "/var/lib/tallow"

/* Options shared by every command. */
typedef struct {
	const char *dir;  /* -d, $TALLOW_DB, or TAL_CTL_DEFAULT_DB */
	const char *zone; /* --zone, NULL when not given */
	bool verbose;     /* -v: one-line summary of each change on stderr */
} tal_ctl_t;

/* One command: its name, entry point, help text and long options. */
typedef struct {
	const char *name;
	int (*run)(tal_ctl_t *ctl, int argc, char **argv);
	const char *summary; /* one line for the command list */
	const char *help;    /* the full text printed by --help */
} tal_ctl_cmd_t;

/* Runs tallowctl with the process's arguments; returns the exit status. */
int tal_ctl_main(int argc, char **argv);

/*
 * Internal to tallowctl.
 */

/* The command table, terminated by an entry with a NULL name. */
extern const tal_ctl_cmd_t tal__ctl_cmds[];

/* The program's own help and version text. */
extern const char tal__ctl_help_main[];

/* Help texts of the commands (tools/tallowctl/ctl_help.c). */
extern const char tal__ctl_help_init[];
extern const char tal__ctl_help_add[];
extern const char tal__ctl_help_remove[];
extern const char tal__ctl_help_show[];
extern const char tal__ctl_help_list[];
extern const char tal__ctl_help_import[];
extern const char tal__ctl_help_export[];
extern const char tal__ctl_help_zones[];
extern const char tal__ctl_help_journal[];
extern const char tal__ctl_help_help[];
/* Zone transfer settings (help texts with the commands, in ctl_xfr.c). */
extern const char tal__ctl_help_tsig[];
extern const char tal__ctl_help_transfer[];
extern const char tal__ctl_help_notify[];

/* Prints "tallowctl: " and the formatted message on stderr. */
void tal__ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints a usage error for `cmd` (NULL: the program) and returns TAL_CTL_USAGE. */
int tal__ctl_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The exit status for a TAL_E* code. */
int tal__ctl_status(int err);

/*
 * Opens the database of `ctl` (flags TAL_STORE_*) and, unless `zone` is
 * NULL, resolves the zone into it.  On failure prints the message (naming
 * the directory or the zone) and returns the exit status; on success 0 and
 * *st owns the store.
 */
int tal__ctl_open(tal_ctl_t *ctl, unsigned flags, tal_store_t **st, tal_zone_info_t *zone);

/* Prints `"text" <tal_strerror(err)>` after an optional prefix and returns the status. */
int tal__ctl_bad(const char *prefix, const char *text, int err);

/* Prints the one-line summary of a commit about `what` (only with -v). */
void tal__ctl_summary(const tal_ctl_t *ctl, const char *zone, const char *what,
                      const tal_commit_result_t *res);

/*
 * Writes `text` to `f` as a JSON string (quoted, escaped).
 */
void tal__ctl_json_str(FILE *f, const char *text);

/* The options every command accepts; append a command's own after them. */
#define TAL_CTL_SHORTOPTS ":d:z:vh"
#define TAL_CTL_LONGOPTS                                                                  \
	{ "db", required_argument, NULL, 'd' }, { "zone", required_argument, NULL, 'z' }, \
	        { "verbose", no_argument, NULL, 'v' },                                    \
	{                                                                                 \
		"help", no_argument, NULL, 'h'                                            \
	}

#define TAL_CTL_STOP (-2)

/*
 * getopt_long() for command `cmd` (argv[0] is the command name).  Handles
 * the shared options itself and returns the next command option's value,
 * -1 after the last option (optind then indexes the first operand), or
 * TAL_CTL_STOP with *status set: TAL_CTL_OK after printing --help, or
 * TAL_CTL_USAGE after an unknown option or a missing argument.
 */
int tal__ctl_getopt(tal_ctl_t *ctl, const char *cmd, int argc, char **argv, const char *shortopts,
                    const struct option *longopts, int *status);

/* Checks that stdout was fully written; prints the error and returns 3 if not. */
int tal__ctl_flush_stdout(void);

/* Commands (ctl_cmds.c, ctl_import.c, ctl_journal.c). */
int tal__ctl_cmd_init(tal_ctl_t *ctl, int argc, char **argv);
int tal__ctl_cmd_add(tal_ctl_t *ctl, int argc, char **argv);
int tal__ctl_cmd_remove(tal_ctl_t *ctl, int argc, char **argv);
int tal__ctl_cmd_show(tal_ctl_t *ctl, int argc, char **argv);
int tal__ctl_cmd_list(tal_ctl_t *ctl, int argc, char **argv);
int tal__ctl_cmd_import(tal_ctl_t *ctl, int argc, char **argv);
int tal__ctl_cmd_export(tal_ctl_t *ctl, int argc, char **argv);
int tal__ctl_cmd_zones(tal_ctl_t *ctl, int argc, char **argv);
int tal__ctl_cmd_journal(tal_ctl_t *ctl, int argc, char **argv);
int tal__ctl_cmd_tsig(tal_ctl_t *ctl, int argc, char **argv);
int tal__ctl_cmd_transfer(tal_ctl_t *ctl, int argc, char **argv);
int tal__ctl_cmd_notify(tal_ctl_t *ctl, int argc, char **argv);
