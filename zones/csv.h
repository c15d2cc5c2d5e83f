/*
 * zones/csv.h -- the CSV form of policies, for import and export.
 *
 * One line per pair: "domain,tenant[,dkim-domain]" or "domain,none".
 * Blank lines and lines whose first non-blank character is '#' are skipped;
 * spaces and tabs around fields are ignored; a trailing CR is ignored.
 * No quoting (no field can contain a comma).  Export writes domains in
 * canonical order, tenants sorted, lowercase, so export -> import --replace
 * -> export is byte-identical.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "zones/policy.h"

typedef enum {
	TAL_CSV_SKIP = 0,   /* blank or comment */
	TAL_CSV_TENANT = 1, /* domain, tenant (and maybe dkim) */
	TAL_CSV_NONE = 2,   /* domain,none */
} tal_csv_kind_t;

typedef struct {
	tal_csv_kind_t kind;
	char domain[TAL_DOMAIN_TEXTSZ]; /* normalised */
	tal_tenant_t tenant;            /* when kind == TAL_CSV_TENANT */
	/* On error: which field was wrong, for the message. */
	char bad_field[128];
} tal_csv_line_t;

/*
 * Parses one line (without its newline; it may be modified).  Returns 0 and
 * fills `out`, or the reason (TAL_ECSV for wrong field count, TAL_ETENANT,
 * TAL_EDKIM, or a tal_domain_normalise code) with out->bad_field holding the
 * offending text (truncated), so callers can print
 *   data.csv:17: "xyz" is not a tenant ID (expected a GUID)
 */
int tal_csv_parse_line(char *line, tal_csv_line_t *out);

/* Writes one policy's CSV lines to `f`.  0 or TAL_EIO. */
int tal_csv_write_policy(FILE *f, const tal_policy_t *p);
