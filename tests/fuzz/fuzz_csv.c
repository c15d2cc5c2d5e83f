/*
 * tests/fuzz/fuzz_csv.c -- libFuzzer entry for the CSV import: the input is
 * split into lines as tallowctl import does, each line goes through
 * tal_csv_parse_line, and every accepted line is added to a change, so the
 * fuzzer also reaches the domain, tenant and DKIM checks of zones/policy.c.
 *
 * Beyond the sanitizers, the entry checks what an accepted line promises
 * and aborts otherwise: a known kind, a domain that is already in normal
 * form (normalising it again gives the same text), and a round trip: the
 * line as export writes it (tal_csv_write_policy) parses back to the same
 * domain, tenant and DKIM domain.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "zones/csv.h"
#include "zones/name.h"
#include "zones/policy.h"

#define FUZZ_ZONE "fuzz.example"

static void check_line(const tal_csv_line_t *l)
{
	char again[TAL_DOMAIN_TEXTSZ];

	if (l->kind == TAL_CSV_SKIP) {
		return;
	}
	if (l->kind != TAL_CSV_TENANT && l->kind != TAL_CSV_NONE) {
		abort();
	}
	if (memchr(l->domain, '\0', sizeof(l->domain)) == NULL) {
		abort();
	}
	if (tal_domain_normalise(l->domain, again) != 0 || strcmp(again, l->domain) != 0) {
		abort();
	}
}

/* Export's line for `l`, parsed again, must say the same. */
static void check_round_trip(const tal_csv_line_t *l)
{
	tal_tenant_t t = l->tenant;
	tal_policy_t p = { .ntenants = l->kind == TAL_CSV_TENANT ? 1 : 0, .tenants = &t };
	tal_csv_line_t again;
	char *text = NULL;
	size_t len = 0;

	snprintf(p.domain, sizeof(p.domain), "%s", l->domain);
	FILE *f = open_memstream(&text, &len);
	if (f == NULL) {
		abort();
	}
	if (tal_csv_write_policy(f, &p) != 0 || fclose(f) != 0) {
		abort();
	}
	if (len == 0 || text[len - 1] != '\n' || memchr(text, '\n', len) != text + len - 1) {
		abort(); /* one policy of one tenant is one line */
	}
	text[len - 1] = '\0';
	if (tal_csv_parse_line(text, &again) != 0 || again.kind != l->kind ||
	    strcmp(again.domain, l->domain) != 0) {
		abort();
	}
	if (l->kind == TAL_CSV_TENANT && (memcmp(again.tenant.id, l->tenant.id, 16) != 0 ||
	                                  strcmp(again.tenant.dkim, l->tenant.dkim) != 0)) {
		abort();
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tal_change_t *ch = NULL;

	if (tal_change_new(FUZZ_ZONE, &ch) != 0) {
		abort();
	}
	size_t off = 0;
	while (off < size) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t len = nl != NULL ? (size_t)(nl - (data + off)) : size - off;
		/* An exact-size copy of the line, so ASan sees any read past it. */
		char *line = malloc(len + 1);
		tal_csv_line_t out;
		if (line == NULL) {
			abort();
		}
		memcpy(line, data + off, len);
		line[len] = '\0';
		if (tal_csv_parse_line(line, &out) == 0) {
			check_line(&out);
			if (out.kind != TAL_CSV_SKIP) {
				check_round_trip(&out);
			}
			if (out.kind == TAL_CSV_TENANT) {
				(void)tal_change_add(ch, out.domain, &out.tenant);
			} else if (out.kind == TAL_CSV_NONE) {
				(void)tal_change_add_none(ch, out.domain);
			}
		} else if (memchr(out.bad_field, '\0', sizeof(out.bad_field)) == NULL) {
			abort();
		}
		free(line);
		off += len + 1;
	}
	tal_change_free(ch);
	return 0;
}
