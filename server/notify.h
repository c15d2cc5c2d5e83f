/*
 * server/notify.h -- tallowd's NOTIFY sender (RFC 1996).
 *
 * Model: one thread with its own libuv loop.  A timer reads every zone's
 * serial through a read transaction once a second; when a serial differs
 * from the one last seen (and once at start), every notify target of that
 * zone (zones/xfrconf.h, "tallowctl notify add") gets a NOTIFY for the zone
 * with the new SOA, signed when the target names a TSIG key.  An unanswered
 * NOTIFY is sent again after 1, 2, 4, 8 and 16 seconds, then given up (the
 * secondary's own refresh timer still catches up); a newer serial replaces a
 * pending NOTIFY to the same target.
 *
 * Why a timer and not inotify on data.mdb: LMDB commits by writing pages
 * and syncing, which inotify reports several times per commit (and not at
 * all for writes through a shared memory map, or on network file systems),
 * so a watch would still need a read of the serials to know what changed.
 * One read transaction a second costs microseconds, sees exactly what a
 * query would see, and bounds the delay to a second.
 *
 * Lifecycle: tal_notify_start after the workers run, tal_notify_stop before
 * they stop.  The store handle is borrowed.
 */
#pragma once

#include "store/store.h"

typedef struct tal_notify tal_notify_t;

/* Starts the sender thread.  0 and *out, or TAL_ENOMEM / TAL_EIO. */
int tal_notify_start(tal_store_t *st, tal_notify_t **out);

/* Stops and joins the thread, logs its counters, frees.  NULL is a no-op. */
void tal_notify_stop(tal_notify_t *n);
