/*
 * tests/fuzz/fuzz_zonefile.c -- libFuzzer entry for the zone-file import:
 * the input is read as a master file of the zone fuzz.example through
 * tal_zonefile_import (ldns reads the RRs, zones/ judges the TXT and A
 * records) into a change.
 *
 * Beyond the sanitizers, the entry checks that a failed import says why:
 * a negative code, and a NUL-terminated message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "zones/policy.h"
#include "zones/zonefile.h"

#define FUZZ_ZONE "fuzz.example"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tal_change_t *ch = NULL;
	char msg[512];
	int line = 0;

	/* fmemopen refuses an empty buffer; an empty file is a valid input. */
	char *copy = malloc(size + 1);
	if (copy == NULL) {
		abort();
	}
	memcpy(copy, data, size);
	FILE *f = fmemopen(copy, size > 0 ? size : 1, "r");
	if (f == NULL) {
		abort();
	}
	if (size == 0) {
		fgetc(f);
	}
	if (tal_change_new(FUZZ_ZONE, &ch) != 0) {
		abort();
	}
	int ret = tal_zonefile_import(f, "fuzz", ch, &line, msg, sizeof(msg));
	if (ret > 0 || (ret < 0 && memchr(msg, '\0', sizeof(msg)) == NULL)) {
		abort();
	}
	tal_change_free(ch);
	fclose(f);
	free(copy);
	return 0;
}
