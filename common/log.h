/*
 * common/log.h -- logging for tallow's programs.
 *
 * Model: one process-wide level and one sink (stderr, optionally with a
 * timestamp; syslog may come later).  Lines carry context in a fixed order:
 * operation, zone/domain, remote (Knot's nameserver/log.h), e.g.
 *   tal_log_info("commit, zone %s, serial %u", apex, serial);
 * tal_log_warn() appends ": strerror(errno)", tal_log_warnx() does not
 * (OpenSMTPD's log.h).  tal_fatal() logs and exits(1); it is for start-up
 * only, never for the query path.
 *
 * tal_log_debug() is a macro that does not evaluate its arguments unless the
 * level is DEBUG (NSD's VERBOSITY), so it costs one branch on hot paths.
 * Per-query events are counters, never log lines.
 */
#pragma once

#include <stdbool.h>

enum tal_log_level {
	TAL_LOG_ERR = 0,
	TAL_LOG_WARN = 1,
	TAL_LOG_NOTICE = 2,
	TAL_LOG_INFO = 3,
	TAL_LOG_DEBUG = 4,
};

extern int tal_log_level_current;

/* Sets the program name shown in each line ("tallowd") and the level. */
void tal_log_init(const char *progname, int level);

/* Prefix each line with an ISO 8601 UTC timestamp (servers); off by default. */
void tal_log_set_timestamps(bool on);

void tal_log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tal_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tal_log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tal_log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tal_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tal__log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tal_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define tal_log_debug(...)                                                                         \
	do {                                                                                       \
		if (tal_log_level_current >= TAL_LOG_DEBUG) {                                      \
			tal__log_debug(__VA_ARGS__);                                               \
		}                                                                                  \
	} while (0)
