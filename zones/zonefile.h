/*
 * zones/zonefile.h -- a zone as an RFC 1035 master file, through ldns.
 *
 * Export writes the whole zone from one snapshot: $ORIGIN and $TTL, the SOA
 * first, the NS and glue, then every policy's TXT RRs and its synthesised A
 * RRs ("<guid>.D.Z A 127.0.0.2"), in canonical order.  The output is
 * accepted by ldns-read-zone, named-checkzone and kzonecheck, and NSD and
 * Knot serve it with the same answers as tallowd.
 *
 * Import reads such a file with ldns and turns it into a change: TXT RRs
 * with v=TAL1 become policies; A RRs of the A view must agree with the TXT
 * RRs; SOA, NS and glue are checked against the zone and otherwise ignored.
 */
#pragma once

#include <stdio.h>

#include "store/store.h"
#include "zones/policy.h"

/* Writes zone `apex` to `f`.  0, TAL_ENOZONE, TAL_EIO. */
int tal_zonefile_export(tal_store_t *st, const char *apex, FILE *f);

/*
 * Reads a master file from `f` (named `fname` in messages) into `ch`
 * (replace mode is the caller's choice).  On error returns the code and, when
 * `errline`/`errmsg` are given, the line number and a message.
 */
int tal_zonefile_import(FILE *f, const char *fname, tal_change_t *ch, int *errline, char *errmsg,
                        size_t errmsgsz);
