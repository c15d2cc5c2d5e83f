/*
 * zones/csv.c -- the CSV form of policies (zones/csv.h).
 *
 * The parser works in place on the caller's line and copies nothing but the
 * normalised fields, so an import of a million lines costs little more than
 * the normalisation itself.  There is no quoting: no valid field can hold a
 * comma, so a quote is simply a bad character in the field it appears in.
 */
#include "zones/csv.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "zones/name.h"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Trims blanks in place; returns the start of the field. */
static char *trim(char *s)
{
	while (is_blank(*s)) {
		s++;
	}
	size_t n = strlen(s);
	while (n > 0 && is_blank(s[n - 1])) {
		s[--n] = '\0';
	}
	return s;
}

static void set_bad(tal_csv_line_t *out, const char *field)
{
	snprintf(out->bad_field, sizeof(out->bad_field), "%s", field);
}

int tal_csv_parse_line(char *line, tal_csv_line_t *out)
{
	char *fields[3];
	int nfields = 0;
	char *p;
	size_t n;
	int rc;

	out->kind = TAL_CSV_SKIP;
	out->domain[0] = '\0';
	out->bad_field[0] = '\0';
	memset(out->tenant.id, 0, sizeof(out->tenant.id));
	out->tenant.dkim[0] = '\0';

	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
		line[--n] = '\0';
	}
	p = line;
	while (is_blank(*p)) {
		p++;
	}
	if (*p == '\0' || *p == '#') {
		return 0;
	}
	fields[nfields++] = p;
	for (char *c = p; *c != '\0'; c++) {
		if (*c == ',') {
			if (nfields == 3) {
				/* Restore the commas so the whole line is reported. */
				for (int i = 1; i < nfields; i++) {
					fields[i][-1] = ',';
				}
				set_bad(out, p);
				return TAL_ECSV;
			}
			*c = '\0';
			fields[nfields++] = c + 1;
		}
	}
	for (int i = 0; i < nfields; i++) {
		fields[i] = trim(fields[i]);
	}
	/* "domain,tenant," is taken as no DKIM domain, as spreadsheets write it. */
	if (nfields == 3 && fields[2][0] == '\0') {
		nfields = 2;
	}
	if (nfields < 2) {
		set_bad(out, p);
		return TAL_ECSV;
	}
	rc = tal_domain_normalise(fields[0], out->domain);
	if (rc < 0) {
		set_bad(out, fields[0]);
		out->domain[0] = '\0';
		return rc;
	}
	if (strcasecmp(fields[1], "none") == 0) {
		if (nfields != 2) {
			set_bad(out, fields[2]);
			return TAL_ECSV;
		}
		out->kind = TAL_CSV_NONE;
		return 0;
	}
	rc = tal_tenant_parse(fields[1], out->tenant.id);
	if (rc < 0) {
		set_bad(out, fields[1]);
		return rc;
	}
	if (nfields == 3) {
		rc = tal_dkim_normalise(fields[2], out->tenant.dkim);
		if (rc < 0) {
			set_bad(out, fields[2]);
			out->tenant.dkim[0] = '\0';
			return rc;
		}
	}
	out->kind = TAL_CSV_TENANT;
	return 0;
}

int tal_csv_write_policy(FILE *f, const tal_policy_t *p)
{
	size_t dlen = strlen(p->domain);

	if (p->ntenants == 0) {
		fwrite(p->domain, 1, dlen, f);
		fputs(",none\n", f);
		return ferror(f) ? TAL_EIO : 0;
	}
	for (int i = 0; i < p->ntenants; i++) {
		char line[TAL_DOMAIN_TEXTSZ * 2 + TAL_TENANT_TEXTSZ + 4];
		size_t o = 0;
		memcpy(line, p->domain, dlen);
		o = dlen;
		line[o++] = ',';
		tal_tenant_format(p->tenants[i].id, line + o);
		o += 36;
		if (p->tenants[i].dkim[0] != '\0') {
			size_t kl = strlen(p->tenants[i].dkim);
			line[o++] = ',';
			memcpy(line + o, p->tenants[i].dkim, kl);
			o += kl;
		}
		line[o++] = '\n';
		fwrite(line, 1, o, f);
	}
	return ferror(f) ? TAL_EIO : 0;
}
