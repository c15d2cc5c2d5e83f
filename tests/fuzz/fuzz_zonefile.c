/*
 * tests/fuzz/fuzz_zonefile.c -- libFuzzer entry for the zone-file import:
 * the input is read as a master file of the zone fuzz.example through
 * tal_zonefile_import (ldns reads the RRs, zones/ judges the TXT and A
 * records) into a change in replace mode, and a change that imports is
 * committed to a store made at start-up.
 *
 * Beyond the sanitizers, the entry checks and aborts otherwise: a failed
 * import says why (a negative code, a NUL-terminated message); and a round
 * trip: after a commit, the zone as tal_zonefile_export writes it imports
 * again and committing that changes nothing.  Each input replaces the whole
 * zone, so the outcome does not depend on the inputs before it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "store/store.h"
#include "zones/policy.h"
#include "zones/zone.h"
#include "zones/zonefile.h"

#define FUZZ_ZONE "fuzz.example"

static char store_dir[] = "/tmp/tal-fuzz-zonefile-XXXXXX";
static tal_store_t *store;

static void cleanup(void)
{
	char path[512];

	tal_store_close(store);
	snprintf(path, sizeof(path), "%s/data.mdb", store_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", store_dir);
	unlink(path);
	rmdir(store_dir);
}

static void setup_failed(const char *what, int ret)
{
	fprintf(stderr, "fuzz_zonefile: %s: %s\n", what, tal_strerror(ret));
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	tal_store_opts_t opts = { .flags = TAL_STORE_CREATE, .map_size = 64 << 20 };
	tal_zone_info_t cfg;
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
	cfg.nns = 1;
	snprintf(cfg.ns[0].name, sizeof(cfg.ns[0].name), "ns1." FUZZ_ZONE);
	cfg.ns[0].naddrs = 1;
	snprintf(cfg.ns[0].addrs[0], sizeof(cfg.ns[0].addrs[0]), "192.0.2.1");
	if ((ret = tal_zone_create(store, &cfg)) != 0) {
		setup_failed("zone", ret);
	}
	return 0;
}

/* Imports `len` octets of master file in replace mode; the change or NULL. */
static tal_change_t *import(const char *text, size_t len, int *ret)
{
	tal_change_t *ch = NULL;
	char msg[512];
	int line = 0;

	/* fmemopen refuses an empty buffer; an empty file is a valid input. */
	FILE *f = fmemopen((void *)text, len > 0 ? len : 1, "r");
	if (f == NULL) {
		abort();
	}
	if (len == 0) {
		fgetc(f);
	}
	if (tal_change_new(FUZZ_ZONE, &ch) != 0) {
		abort();
	}
	tal_change_set_replace(ch, true);
	*ret = tal_zonefile_import(f, "fuzz", ch, &line, msg, sizeof(msg));
	fclose(f);
	if (*ret > 0 || (*ret < 0 && memchr(msg, '\0', sizeof(msg)) == NULL)) {
		abort();
	}
	if (*ret != 0) {
		tal_change_free(ch);
		return NULL;
	}
	return ch;
}

static void round_trip(void)
{
	char *text = NULL;
	size_t len = 0;
	tal_commit_result_t res;
	int ret;

	FILE *f = open_memstream(&text, &len);
	if (f == NULL) {
		abort();
	}
	if (tal_zonefile_export(store, FUZZ_ZONE, f) != 0 || fclose(f) != 0) {
		abort();
	}
	tal_change_t *ch = import(text, len, &ret);
	if (ch == NULL) {
		fprintf(stderr, "fuzz_zonefile: the export does not import (%s):\n%s\n",
		        tal_strerror(ret), text);
		abort();
	}
	ret = tal_change_commit(store, ch, &res);
	if (ret != 0 || res.changed) {
		fprintf(stderr, "fuzz_zonefile: re-importing the export %s:\n%s\n",
		        ret != 0 ? tal_strerror(ret) : "changed the zone", text);
		abort();
	}
	tal_change_free(ch);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tal_commit_result_t res;
	int ret;

	if (store == NULL) {
		LLVMFuzzerInitialize(NULL, NULL);
	}
	char *copy = malloc(size + 1);
	if (copy == NULL) {
		abort();
	}
	memcpy(copy, data, size);
	tal_change_t *ch = import(copy, size, &ret);
	free(copy);
	if (ch == NULL) {
		return 0;
	}
	ret = tal_change_commit(store, ch, &res);
	tal_change_free(ch);
	if (ret == 0) {
		round_trip();
	}
	return 0;
}
