/*
 * server/server.h -- tallowd's process: start-up, serving, shutdown.
 *
 * Model: parse the command line (server/conf.h); open the database
 * read-only and require at least one zone in it; probe every listen address
 * without SO_REUSEPORT (so a port held by anyone, another tallowd included,
 * is reported by name instead of silently shared); bind one UDP and one TCP
 * socket per address per worker with SO_REUSEPORT; drop privileges; start
 * the workers (server/net.h); write the pidfile once they serve; wait for
 * SIGTERM/SIGINT; stop, log the counters, close the store, remove the
 * pidfile.
 *
 * Start-up errors are printed to stderr as "tallowd: <object>: <reason>"
 * and exit non-zero (1; 64 for usage errors).  Once serving, messages go
 * through common/log.h.
 */
#pragma once

/* Runs tallowd with its command line; returns the process exit status. */
int tal_server_main(int argc, char **argv);
