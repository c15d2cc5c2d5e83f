/*
 * tests/fuzz/fuzz_query.c -- libFuzzer entry for the query path: the request
 * bytes go through tal_query_parse and tal_query_answer (UDP and TCP)
 * against a small store made at start-up through the zones/ API, so the
 * fuzzer reaches the answering code and not only the parser.
 *
 * Beyond the sanitizers, the entry checks what every response must satisfy
 * and aborts otherwise: nothing for a short message or a response; else a
 * header with QR, the request's id and opcode, at most one question, and a
 * length within the transport's limit (512 without EDNS over UDP).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/node.h"
#include "common/wire.h"
#include "server/query.h"
#include "store/store.h"
#include "zones/name.h"
#include "zones/policy.h"
#include "zones/zone.h"

#define FUZZ_ZONE "fuzz.example"

static char store_dir[] = "/tmp/tal-fuzz-query-XXXXXX";
static tal_store_t *store;
static tal_reader_t *reader;
static tal_answerer_t answerer;
static uint8_t resp_udp[TAL_EDNS_UDP_SIZE];
static uint8_t resp_tcp[TAL_MSG_MAXLEN];

static void cleanup(void)
{
	char path[512];

	tal_reader_free(reader);
	tal_store_close(store);
	snprintf(path, sizeof(path), "%s/data.mdb", store_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", store_dir);
	unlink(path);
	rmdir(store_dir);
}

static void setup_failed(const char *what, int ret)
{
	fprintf(stderr, "fuzz_query: %s: %s\n", what, tal_strerror(ret));
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const tenants[] = { "72f988bf-86f1-41af-91ab-2d7cd011db47",
		                               "11111111-2222-3333-4444-555555555555" };
	tal_store_opts_t opts = { .flags = TAL_STORE_CREATE, .map_size = 16 << 20 };
	tal_zone_info_t cfg;
	tal_change_t *ch = NULL;
	tal_commit_result_t res;
	int ret;

	if (mkdtemp(store_dir) == NULL) {
		setup_failed("mkdtemp", TAL_EIO);
	}
	if ((ret = tal_store_open(store_dir, &opts, &store)) != 0) {
		setup_failed("store", ret);
	}
	atexit(cleanup);
	if ((ret = tal_zone_defaults(&cfg, FUZZ_ZONE)) != 0) {
		setup_failed("zone defaults", ret);
	}
	cfg.nns = 2;
	snprintf(cfg.ns[0].name, sizeof(cfg.ns[0].name), "ns1." FUZZ_ZONE);
	cfg.ns[0].naddrs = 2;
	snprintf(cfg.ns[0].addrs[0], sizeof(cfg.ns[0].addrs[0]), "192.0.2.1");
	snprintf(cfg.ns[0].addrs[1], sizeof(cfg.ns[0].addrs[1]), "2001:db8::1");
	snprintf(cfg.ns[1].name, sizeof(cfg.ns[1].name), "ns.other.example");
	cfg.ns[1].naddrs = 0;
	if ((ret = tal_zone_create(store, &cfg)) != 0) {
		setup_failed("zone", ret);
	}
	if ((ret = tal_change_new(FUZZ_ZONE, &ch)) != 0) {
		setup_failed("change", ret);
	}
	for (size_t i = 0; i < sizeof(tenants) / sizeof(tenants[0]) && ret == 0; i++) {
		tal_tenant_t t = { .dkim = "" };
		ret = tal_tenant_parse(tenants[i], t.id);
		if (ret == 0) {
			ret = tal_change_add(ch, "contoso.com", &t);
		}
	}
	if (ret == 0) {
		ret = tal_change_add_none(ch, "none.sub.example");
	}
	if (ret == 0) {
		ret = tal_change_commit(store, ch, &res);
	}
	tal_change_free(ch);
	if (ret != 0) {
		setup_failed("policies", ret);
	}
	if ((ret = tal_reader_new(store, &reader)) != 0) {
		setup_failed("reader", ret);
	}
	answerer.reader = reader;
	return 0;
}

static void check(const uint8_t *req, size_t len, const uint8_t *resp, size_t rlen, size_t limit)
{
	if (len < 12 || (req[2] & 0x80)) {
		if (rlen != 0) {
			abort(); /* nothing goes back to a short message or a response */
		}
		return;
	}
	if (rlen < 12 || rlen > limit) {
		abort();
	}
	if (memcmp(req, resp, 2) != 0 || !(resp[2] & 0x80) || (resp[2] & 0x78) != (req[2] & 0x78)) {
		abort();
	}
	if (tal_wire_read_u16(resp + 4) > 1) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tal_qinfo_t qi;

	if (store == NULL) {
		LLVMFuzzerInitialize(NULL, NULL);
	}
	int pr = tal_query_parse(data, size, &qi);
	if (pr >= TAL_PARSE_OK && qi.qname != NULL &&
	    (qi.qname < data || qi.question_end > size || qi.qname + qi.qname_len > data + size)) {
		abort();
	}
	size_t udp_limit = qi.has_edns ? TAL_EDNS_UDP_SIZE : TAL_UDP_MIN_SIZE;
	size_t rlen = tal_query_answer(&answerer, data, size, resp_udp, sizeof(resp_udp),
	                               TAL_TRANSPORT_UDP);
	check(data, size, resp_udp, rlen, udp_limit);
	rlen = tal_query_answer(&answerer, data, size, resp_tcp, sizeof(resp_tcp),
	                        TAL_TRANSPORT_TCP);
	check(data, size, resp_tcp, rlen, TAL_MSG_MAXLEN);
	return 0;
}
