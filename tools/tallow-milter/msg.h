/*
 * tools/tallow-milter/msg.h -- reading the parts of a message the milter
 * judges: the From: address, the client certificate's CN, and
 * Authentication-Results (RFC 8601).
 *
 * Everything here reads text an attacker wrote, so each function is bounded
 * by its output size and fails towards "ambiguous" (the milter denies)
 * rather than guessing which of two addresses a mail client will show.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Strips leading and trailing white space in place; returns the start. */
char *tal_milter_trim(char *s);

/*
 * Counts the addresses of a From: header value (RFC 5322 mailbox-list),
 * honouring quoted strings, comments and angle brackets.  Returns 0 (no
 * address), 1 (`out` holds its addr-spec, at most outsz - 1 octets), or 2
 * or more: several addresses, or one that could be read two ways -- two
 * angle-addrs in one mailbox ("<a@x> <b@y>"), text after the angle-addr,
 * or an unquoted '@' in the display name ("ceo@brand.example <a@y>").
 */
int tal_milter_from_address(const char *value, char *out, size_t outsz);

/*
 * The domain of an address ("user@dom", "user@dom>"), pointing into `addr`
 * (a trailing '>' is removed in place), or NULL when there is none.
 */
const char *tal_milter_address_domain(char *addr);

/*
 * The CN of a certificate subject into `out`: Postfix passes the CN
 * itself, Sendmail a DN such as "/C=US/O=Example/CN=mail.example.com".
 */
void tal_milter_subject_cn(const char *subject, char *out, size_t outsz);

/* True when `cn` equals `want` (case-insensitive); "*.d" matches below d. */
bool tal_milter_cn_matches(const char *cn, const char *want);

/*
 * True when one of the `n` Authentication-Results values comes from
 * authserv-id `id` (case-insensitive) and reports dkim=pass with
 * header.d equal to `domain` (lowercase, no trailing dot).
 */
bool tal_milter_dkim_pass(const char *const *ar, size_t n, const char *id, const char *domain);
