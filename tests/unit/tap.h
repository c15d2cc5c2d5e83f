/*
 * tests/unit/tap.h -- a minimal TAP producer with typed assertions, in the
 * manner of Knot's libtap and libuv's test/task.h.
 *
 * Each check prints "ok N - what" or "not ok N - what" with the expected and
 * actual values; tap_done() prints the plan and returns the exit status
 * (non-zero when any check failed), so `return tap_done();` ends main().
 */
#pragma once

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int tap__n;
static int tap__failed;

static inline bool tap_ok(bool cond, const char *what)
{
	tap__n++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tap__n, what);
	fflush(stdout);
	if (!cond) {
		tap__failed++;
	}
	return cond;
}

#define ok(cond, ...)                                                                              \
	do {                                                                                       \
		char tap__what[512];                                                               \
		snprintf(tap__what, sizeof(tap__what), __VA_ARGS__);                               \
		tap_ok((cond), tap__what);                                                         \
	} while (0)

#define is_int(expected, actual, ...)                                                              \
	do {                                                                                       \
		long long tap__e = (long long)(expected), tap__a = (long long)(actual);            \
		char tap__what[512];                                                               \
		snprintf(tap__what, sizeof(tap__what), __VA_ARGS__);                               \
		if (!tap_ok(tap__e == tap__a, tap__what)) {                                        \
			printf("#   expected: %lld\n#        got: %lld\n", tap__e, tap__a);      \
		}                                                                                  \
	} while (0)

#define is_str(expected, actual, ...)                                                              \
	do {                                                                                       \
		const char *tap__e = (expected), *tap__a = (actual);                               \
		char tap__what[512];                                                               \
		snprintf(tap__what, sizeof(tap__what), __VA_ARGS__);                               \
		bool tap__c = tap__e && tap__a && strcmp(tap__e, tap__a) == 0;                     \
		if (!tap_ok(tap__c, tap__what)) {                                                  \
			printf("#   expected: \"%s\"\n#        got: \"%s\"\n",                     \
			       tap__e ? tap__e : "(null)", tap__a ? tap__a : "(null)");            \
		}                                                                                  \
	} while (0)

#define is_mem(expected, actual, len, ...)                                                         \
	do {                                                                                       \
		char tap__what[512];                                                               \
		snprintf(tap__what, sizeof(tap__what), __VA_ARGS__);                               \
		tap_ok(memcmp((expected), (actual), (len)) == 0, tap__what);                       \
	} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap__n);
	if (tap__failed) {
		printf("# failed %d of %d\n", tap__failed, tap__n);
	}
	return tap__failed ? 1 : 0;
}
