/*
 * zones/policy.h -- tenant allowlists: reading them and changing them.
 *
 * A policy is what DESIGN.md publishes for one customer domain D in zone Z:
 * the node D.Z with one TXT RR per allowed tenant
 *   "v=TAL1; tid=<guid>"  or  "v=TAL1; tid=<guid>; dkim=<domain>"
 * or the single TXT "v=TAL1" for a policy that allows no tenant, plus the
 * tenant section that serves the A view (common/node.h).
 *
 * Changes are batched in a tal_change_t and applied by tal_change_commit in
 * ONE write transaction, which also: rewrites the SOA with serial + 1 (RFC
 * 1982), stores the new zone value, and appends the change to the journal
 * (zones/journal.h).  A commit that changes no record leaves the serial
 * alone and writes nothing.  Validation happens before anything is written,
 * so a rejected change leaves the database exactly as it was.
 *
 * Semantics of the operations (applied in the order they were added):
 *   add(D, T)        D's policy allows T (created if absent; idempotent;
 *                    a new dkim domain for a listed T replaces the old one,
 *                    and an add without dkim domain clears it)
 *   add_none(D)      D has a policy; if it lists tenants they are kept
 *   remove(D, T)     T no longer allowed; removing the last tenant leaves
 *                    the deny-all policy; a tenant not listed is a no-op
 *   remove_domain(D) D has no policy (its node is deleted)
 *   replace mode     after the operations, every policy of the zone not
 *                    named by an add/add_none of this change is deleted, and
 *                    every named domain lists exactly the tenants added in
 *                    this change ("import --replace")
 * A change is built in memory and is cheap per operation (append to an
 * array); commit sorts by key and merges with the stored nodes in one pass,
 * so a million-pair import is one transaction and one cursor walk.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store/store.h"
#include "zones/zone.h"

#define TAL_POLICY_MAX_TENANTS 4096

typedef struct {
	uint8_t id[16];
	char dkim[TAL_DOMAIN_TEXTSZ]; /* "" when none */
} tal_tenant_t;

/* A policy as read back; tenants sorted by ID. */
typedef struct {
	char domain[TAL_DOMAIN_TEXTSZ];
	int ntenants;
	tal_tenant_t *tenants; /* owned by whoever filled the struct; see below */
} tal_policy_t;

/*
 * Reads D's policy in zone `apex` (both normalised).  On 0, out->tenants is
 * malloc'd and owned by the caller (free with tal_policy_deinit).
 * TAL_ENOPOLICY when D has none.
 */
int tal_policy_get(tal_store_t *st, const char *apex, const char *domain, tal_policy_t *out);
void tal_policy_deinit(tal_policy_t *p);

/*
 * Calls `cb` for every policy of the zone in canonical order of the owner
 * names, from one snapshot; the policy passed to cb is borrowed for the call.
 * Stops early on non-zero and returns it.
 */
int tal_policy_foreach(tal_store_t *st, const char *apex,
                       int (*cb)(const tal_policy_t *p, void *arg), void *arg);

typedef struct tal_change tal_change_t;

/* A new, empty change for zone `apex` (normalised).  Free with tal_change_free. */
int tal_change_new(const char *apex, tal_change_t **out);
void tal_change_free(tal_change_t *ch);

/* Sets replace mode (see above). */
void tal_change_set_replace(tal_change_t *ch, bool replace);

/*
 * Queue operations.  Inputs must be normalised (zones/name.h); the domain is
 * also checked against the zone (TAL_EOWNER_LEN).  0, TAL_ENOMEM,
 * TAL_ETXT_LEN (dkim domain too long for one TXT string), TAL_EOWNER_LEN.
 */
int tal_change_add(tal_change_t *ch, const char *domain, const tal_tenant_t *tenant);
int tal_change_add_none(tal_change_t *ch, const char *domain);
int tal_change_remove(tal_change_t *ch, const char *domain, const uint8_t id[16]);
int tal_change_remove_domain(tal_change_t *ch, const char *domain);

typedef struct {
	bool changed; /* false: nothing differed, serial untouched */
	uint32_t serial_before;
	uint32_t serial_after;
	size_t domains_added;   /* policies created */
	size_t domains_removed; /* policies deleted */
	size_t tenants_added;
	size_t tenants_removed;
	size_t domains_missing; /* remove/remove_domain of a domain with no policy */
	/* On TAL_ERANGE or TAL_EPOLICY_SIZE: the domain that failed. */
	char failed_domain[TAL_DOMAIN_TEXTSZ];
} tal_commit_result_t;

/*
 * Applies the change in one write transaction (waits for other writers).
 * On any error nothing is written.  Errors: TAL_ENOZONE, TAL_ETXT_LEN,
 * TAL_EPOLICY_SIZE (a domain's TXT RRset would not fit one 65,535-octet
 * message, about 1,000 tenants), TAL_ERANGE (a domain would list more than TAL_POLICY_MAX_TENANTS
 * tenants), TAL_ECORRUPT (a stored node does not parse), TAL_EMAPFULL,
 * TAL_ENOSPC, TAL_EIO, TAL_ENOMEM.  `res` may be NULL; on error it is zeroed.
 * The change is left valid (its operations may be reordered) and is still
 * owned by the caller.
 */
int tal_change_commit(tal_store_t *st, tal_change_t *ch, tal_commit_result_t *res);
