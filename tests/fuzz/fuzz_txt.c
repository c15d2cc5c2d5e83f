/*
 * tests/fuzz/fuzz_txt.c -- libFuzzer entry for the relay library's TAL1 TXT
 * parser, the code that reads what a resolver returned: the input is parsed
 * as record text and as TXT RDATA in wire form, and the RDATA is judged by
 * tal_relay_decide for a fixed tenant.
 *
 * Beyond the sanitizers, the entry checks the parser's promises and aborts
 * otherwise: a known kind; a BAD record says why; a DKIM domain only on a
 * TENANT record, already normalised; and a decision of the one record that
 * agrees with its kind (ALLOW only for a TENANT record listing the tenant,
 * NONE only for a record that is not TAL1).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tools/relay/relay.h"

static const uint8_t tenant[16] = { 0x72, 0xf9, 0x88, 0xbf, 0x86, 0xf1, 0x41, 0xaf,
	                            0x91, 0xab, 0x2d, 0x7c, 0xd0, 0x11, 0xdb, 0x47 };

static void check_txt(const tal_relay_txt_t *t)
{
	char again[TAL_RELAY_NAMESZ];

	if (t->kind > TAL_RELAY_TXT_BAD) {
		abort();
	}
	if (memchr(t->dkim, '\0', sizeof(t->dkim)) == NULL ||
	    memchr(t->why, '\0', sizeof(t->why)) == NULL) {
		abort();
	}
	if (t->kind == TAL_RELAY_TXT_BAD && t->why[0] == '\0') {
		abort();
	}
	if (t->dkim[0] != '\0') {
		if (t->kind != TAL_RELAY_TXT_TENANT) {
			abort();
		}
		if (tal_relay_domain_normalise(t->dkim, again) != 0 ||
		    strcmp(again, t->dkim) != 0) {
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tal_relay_txt_t t;
	tal_relay_result_t res;

	tal_relay_txt_parse_text((const char *)data, size, &t);
	check_txt(&t);

	memset(&t, 0, sizeof(t));
	int ret = tal_relay_txt_parse_rdata(data, size, &t);
	check_txt(&t);
	if (ret != 0 && t.kind != TAL_RELAY_TXT_BAD) {
		abort();
	}
	if (ret != 0) {
		return 0;
	}

	const uint8_t *rd[1] = { data };
	size_t rdlen[1] = { size };
	memset(&res, 0, sizeof(res));
	tal_relay_decide(rd, rdlen, 1, tenant, "example.com.fuzz.example", &res);
	if (memchr(res.reason, '\0', sizeof(res.reason)) == NULL) {
		abort();
	}
	bool listed = t.kind == TAL_RELAY_TXT_TENANT && memcmp(t.tid, tenant, 16) == 0;
	if ((res.decision == TAL_RELAY_ALLOW) != listed) {
		abort();
	}
	if ((res.decision == TAL_RELAY_NONE) != (t.kind == TAL_RELAY_TXT_OTHER)) {
		abort();
	}
	if (res.decision != TAL_RELAY_ALLOW && res.decision != TAL_RELAY_DENY &&
	    res.decision != TAL_RELAY_NONE) {
		abort();
	}
	return 0;
}
