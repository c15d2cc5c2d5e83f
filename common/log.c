/*
 * common/log.c -- the stderr sink behind common/log.h.
 *
 * Each line is formatted into one buffer and written with a single write(2),
 * so lines from several worker threads never interleave.
 */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int tal_log_level_current = TAL_LOG_NOTICE;
static const char *log_progname = "tallow";
static bool log_timestamps;

static const char *const level_names[] = { "error", "warning", "notice", "info", "debug" };

void tal_log_init(const char *progname, int level)
{
	if (progname != NULL) {
		const char *slash = strrchr(progname, '/');
		log_progname = slash != NULL ? slash + 1 : progname;
	}
	if (level < TAL_LOG_ERR) {
		level = TAL_LOG_ERR;
	}
	if (level > TAL_LOG_DEBUG) {
		level = TAL_LOG_DEBUG;
	}
	tal_log_level_current = level;
}

void tal_log_set_timestamps(bool on)
{
	log_timestamps = on;
}

__attribute__((format(printf, 3, 0))) static void log_emit(int level, int errnum, const char *fmt,
                                                           va_list ap)
{
	char line[2048];
	size_t len = 0;
	int n;

	if (level > tal_log_level_current) {
		return;
	}
	if (log_timestamps) {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	}
	n = snprintf(line + len, sizeof(line) - len, "%s: %s: ", log_progname, level_names[level]);
	if (n > 0) {
		len += (size_t)n < sizeof(line) - len ? (size_t)n : sizeof(line) - len - 1;
	}
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	if (n > 0) {
		len += (size_t)n < sizeof(line) - len ? (size_t)n : sizeof(line) - len - 1;
	}
	if (errnum != 0 && len < sizeof(line) - 1) {
		n = snprintf(line + len, sizeof(line) - len, ": %s", strerror(errnum));
		if (n > 0) {
			len += (size_t)n < sizeof(line) - len ? (size_t)n : sizeof(line) - len - 1;
		}
	}
	if (len >= sizeof(line) - 1) {
		len = sizeof(line) - 2;
	}
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}

#define LOG_BODY(level, errnum)                       \
	do {                                          \
		va_list ap;                           \
		va_start(ap, fmt);                    \
		log_emit((level), (errnum), fmt, ap); \
		va_end(ap);                           \
	} while (0)

void tal_log_err(const char *fmt, ...)
{
	LOG_BODY(TAL_LOG_ERR, 0);
}

void tal_log_warn(const char *fmt, ...)
{
	int e = errno;
	LOG_BODY(TAL_LOG_WARN, e);
}

void tal_log_warnx(const char *fmt, ...)
{
	LOG_BODY(TAL_LOG_WARN, 0);
}

void tal_log_notice(const char *fmt, ...)
{
	LOG_BODY(TAL_LOG_NOTICE, 0);
}

void tal_log_info(const char *fmt, ...)
{
	LOG_BODY(TAL_LOG_INFO, 0);
}

void tal__log_debug(const char *fmt, ...)
{
	LOG_BODY(TAL_LOG_DEBUG, 0);
}

void tal_fatal(const char *fmt, ...)
{
	LOG_BODY(TAL_LOG_ERR, 0);
	exit(1);
}
