/*
 * tests/fuzz/fuzz_milter.c -- libFuzzer entry for the milter's header
 * handling (tools/tallow-milter/msg.h), the code that reads text the sender
 * of a mail wrote.  The input is a header block, one "Name: value" field per
 * line, handled as the milter does: From: values go through
 * tal_milter_from_address and tal_milter_address_domain, the tenant header
 * through tal_milter_trim and the tenant parser, Authentication-Results
 * values are collected for tal_milter_dkim_pass; the whole input is also
 * read as a certificate subject.
 *
 * Beyond the sanitizers, the entry checks the readers' promises and aborts
 * otherwise: outputs NUL-terminated within their size, an address count
 * that is never negative, and a domain that is a suffix of its address with
 * no '@' in it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tools/relay/relay.h"
#include "tools/tallow-milter/msg.h"

#define MAX_AR 16

static void check_from(const char *value)
{
	char out[1024];

	memset(out, 'x', sizeof(out));
	int n = tal_milter_from_address(value, out, sizeof(out));
	if (n < 0) {
		abort();
	}
	if (n != 1) {
		return;
	}
	if (memchr(out, '\0', sizeof(out)) == NULL) {
		abort();
	}
	size_t len = strlen(out);
	const char *d = tal_milter_address_domain(out);
	if (d != NULL && (d < out || d > out + len || strchr(d, '@') != NULL || *d == '\0')) {
		abort();
	}
}

static void check_cn(const char *subject)
{
	char cn[256];

	memset(cn, 'x', sizeof(cn));
	tal_milter_subject_cn(subject, cn, sizeof(cn));
	if (memchr(cn, '\0', sizeof(cn)) == NULL) {
		abort();
	}
	(void)tal_milter_cn_matches(cn, "*.protection.outlook.com");
	(void)tal_milter_cn_matches(cn, "mail.protection.outlook.com");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char *ar[MAX_AR];
	size_t nar = 0;

	if (text == NULL) {
		abort();
	}
	memcpy(text, data, size);
	text[size] = '\0';
	check_cn(text);

	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');
		if (colon == NULL) {
			continue;
		}
		*colon = '\0';
		/* An exact-size copy of the value, so ASan sees any read past it. */
		char *value = strdup(colon + 1);
		if (value == NULL) {
			abort();
		}
		if (strcasecmp(line, "From") == 0) {
			check_from(value);
		} else if (strcasecmp(line, "X-MS-Exchange-CrossTenant-Id") == 0) {
			uint8_t id[16];
			char *t = tal_milter_trim(value);
			(void)tal_relay_tenant_parse(t, strlen(t), id);
		} else if (strcasecmp(line, "Authentication-Results") == 0 && nar < MAX_AR) {
			ar[nar++] = value;
			continue;
		}
		free(value);
	}
	(void)tal_milter_dkim_pass((const char *const *)ar, nar, "mx.example.net", "example.com");
	(void)tal_milter_dkim_pass((const char *const *)ar, nar, "MX.Example.NET", "");
	for (size_t i = 0; i < nar; i++) {
		free(ar[i]);
	}
	free(text);
	return 0;
}
