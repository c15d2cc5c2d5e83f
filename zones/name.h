/*
 * zones/name.h -- validation and normalisation of what users type: customer
 * domains, zone names, tenant IDs, DKIM signing domains.
 *
 * A domain is normalised to lowercase A-label text without a trailing dot.
 * U-labels (UTF-8) are converted to A-labels with libidn2 (IDNA 2008, with
 * the UTS #46 mapping that browsers and MTAs apply).  Each label is 1..63
 * octets of letters, digits and hyphens, not starting or ending with a
 * hyphen; the name is at most 253 characters.  A label shaped like a GUID
 * (36 characters, 8-4-4-4-12 hex) is refused (TAL_ELABEL_GUID) because the
 * A view puts tenant IDs in that place (common/node.h).  Underscore labels
 * are refused: mail domains are host names.
 *
 * A tenant ID is a GUID in any case, with or without braces, with hyphens in
 * the 8-4-4-4-12 places; it is kept as 16 octets and printed lowercase
 * 8-4-4-4-12.
 *
 * Error codes name the reason; messages read after the quoted input:
 *   "xyz" is not a tenant ID (expected a GUID)
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define TAL_DOMAIN_TEXTSZ 256 /* 253 characters, NUL, slack */
#define TAL_TENANT_TEXTSZ 37  /* 36 characters and NUL */

/*
 * Normalises a customer domain or zone name into `out` (TAL_DOMAIN_TEXTSZ).
 * A single trailing dot is accepted.  Returns 0 or TAL_EDNAME,
 * TAL_EDNAME_LEN, TAL_ELABEL_LEN, TAL_ELABEL_EMPTY, TAL_ELABEL_CHAR,
 * TAL_ELABEL_HYPHEN, TAL_ELABEL_GUID, TAL_EIDN.
 */
int tal_domain_normalise(const char *text, char *out);

/*
 * Checks that the A-view owner "<guid>.<domain>.<apex>" fits 255 wire
 * octets.  Both names already normalised.  0 or TAL_EOWNER_LEN.
 */
int tal_domain_fits_zone(const char *domain, const char *apex);

/* Parses a tenant ID into 16 octets.  0 or TAL_ETENANT. */
int tal_tenant_parse(const char *text, uint8_t id[16]);

/* Formats 16 octets as lowercase 8-4-4-4-12 into `out` (TAL_TENANT_TEXTSZ). */
void tal_tenant_format(const uint8_t id[16], char *out);

/*
 * Normalises a DKIM signing domain (the tenant's onmicrosoft.com domain, or
 * any domain) like a customer domain.  0 or TAL_EDKIM.
 */
int tal_dkim_normalise(const char *text, char *out);
