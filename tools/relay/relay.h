/*
 * tools/relay/relay.h -- the relay-side lookup: "may tenant T send as
 * domain D?", answered from tallow's published TXT records (DESIGN.md,
 * protocol TAL1) through libunbound.
 *
 * Model: one tal_relay_t owns one libunbound context, so the cache is kept
 * across lookups.  A lookup queries TXT at D.Z for each configured policy
 * zone Z, in order; the first zone that publishes a policy decides:
 *
 *   allow     a well-formed TAL1 record of D.Z lists T;
 *   deny      D.Z publishes a TAL1 policy that does not list T (including
 *             the deny-all policy "v=TAL1");
 *   none      no zone publishes a policy for D: every D.Z is NXDOMAIN, or
 *             exists with no TAL1 TXT record (NODATA, or only other TXT);
 *   tempfail  SERVFAIL, REFUSED or any other error rcode, a timeout, or a
 *             DNSSEC-bogus answer.  A tempfail of an earlier zone is the
 *             decision: skipping to a later zone would let an attacker who
 *             can block one zone's answers downgrade the policy.
 *
 * A malformed TAL1 record (bad tid, duplicate tag, non-ASCII byte) never
 * allows anything, but it still shows that D publishes a policy, so a set
 * made only of malformed TAL1 records denies (fail closed).  Each malformed
 * record is described in the reason.
 *
 * Resolution modes: a stub to the authoritative server(s) of the zones
 * (servers), a forwarder (resolvers), or the system resolver from
 * /etc/resolv.conf when neither is given.  DNSSEC is validated when a
 * trust anchor file is given; a bogus answer is tempfail.
 *
 * The engine is asynchronous: tal_relay_submit() starts a lookup and the
 * callback runs from tal_relay_process() or tal_relay_wait().  Each lookup
 * has a deadline (the timeout covers every zone it queries); when it passes
 * the lookup ends as tempfail.  tal_relay_check() is the blocking form.
 *
 * Caveats: a tal_relay_t is not thread-safe; use it from one thread (the
 * milter gives it a thread of its own).  libunbound remembers a server that
 * stopped answering for a while (its infra cache); the context is set to
 * keep probing so a recovered server is used again within seconds.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TAL_RELAY_NAMESZ   256 /* domain text: 253 characters, NUL, slack */
#define TAL_RELAY_TENANTSZ 37  /* 36 characters and NUL */
#define TAL_RELAY_REASONSZ 512

typedef enum {
	TAL_RELAY_ALLOW = 0,
	TAL_RELAY_DENY = 1,
	TAL_RELAY_NONE = 2,
	TAL_RELAY_TEMPFAIL = 3,
} tal_relay_decision_t;

/* "allow", "deny", "none", "tempfail". */
const char *tal_relay_decision_name(tal_relay_decision_t d);

/* The outcome of one lookup; plain value, caller-owned. */
typedef struct {
	tal_relay_decision_t decision;
	char domain[TAL_RELAY_NAMESZ];   /* normalised D (input text if invalid) */
	char tenant[TAL_RELAY_TENANTSZ]; /* normalised T */
	char zone[TAL_RELAY_NAMESZ];     /* zone that decided; "" for none/early errors */
	char dkim[TAL_RELAY_NAMESZ];     /* dkim= of T's record when allowed, else "" */
	unsigned ntenants;               /* tenants listed by the deciding policy */
	bool secure;                     /* the deciding answer was DNSSEC-validated */
	char reason[TAL_RELAY_REASONSZ];
} tal_relay_result_t;

/* ---- TXT records (pure functions, no DNS) ---- */

typedef enum {
	TAL_RELAY_TXT_OTHER = 0,  /* does not start with v=TAL1: not ours, ignored */
	TAL_RELAY_TXT_POLICY = 1, /* v=TAL1 with no tid: a policy, lists no tenant */
	TAL_RELAY_TXT_TENANT = 2, /* v=TAL1; tid=<guid>[; dkim=<domain>] */
	TAL_RELAY_TXT_BAD = 3,    /* v=TAL1 but malformed; `why` says how */
} tal_relay_txt_kind_t;

typedef struct {
	tal_relay_txt_kind_t kind;
	uint8_t tid[16];             /* TENANT only */
	char dkim[TAL_RELAY_NAMESZ]; /* normalised, "" when absent */
	char why[256];               /* BAD only: the first problem found */
} tal_relay_txt_t;

/*
 * Parses the text of one TXT record (its character-strings already
 * concatenated; `len` octets, not NUL-terminated, may contain NULs).
 * Grammar: "v=TAL1" first, then "; tag=value" terms; spaces and tabs around
 * terms, tags and values are ignored, empty terms are skipped, tag names are
 * case-insensitive, unknown tags are ignored.  "v=TAL10" or "v=TAL1x" is not
 * TAL1 (OTHER).  BAD when a TAL1 record has a term without '=', an empty or
 * invalid tid or dkim value, a tid or dkim given twice, or a byte outside
 * printable ASCII.  Always fills `out`; never fails.
 */
void tal_relay_txt_parse_text(const char *text, size_t len, tal_relay_txt_t *out);

/*
 * Parses one TXT RDATA in wire form (a sequence of <length><octets>
 * character-strings), concatenating the strings (RFC 7208 section 3.3).
 * Returns 0 and fills `out`, or TAL_EMALF when a length runs past the end
 * (out->kind is then BAD).
 */
int tal_relay_txt_parse_rdata(const uint8_t *rdata, size_t len, tal_relay_txt_t *out);

/*
 * The decision of one zone's answer: the TXT RDATAs at D.Z (n may be 0 for
 * NODATA).  Fills decision (ALLOW, DENY or NONE), dkim, ntenants and reason
 * (reason names `owner`, the queried name).  `tenant` is the 16-octet ID.
 */
void tal_relay_decide(const uint8_t *const *rdata, const size_t *rdlen, size_t n,
                      const uint8_t tenant[16], const char *owner, tal_relay_result_t *res);

/* ---- names ---- */

/*
 * Normalises a customer domain or zone name to lowercase A-label text
 * without a trailing dot, into `out` (TAL_RELAY_NAMESZ): U-labels go through
 * libidn2 (UTS #46 non-transitional); labels are 1..63 letters, digits and
 * hyphens, not starting or ending with a hyphen; at most 253 characters.
 * Returns 0 or TAL_EDNAME, TAL_EDNAME_LEN, TAL_ELABEL_LEN, TAL_ELABEL_EMPTY,
 * TAL_ELABEL_CHAR, TAL_ELABEL_HYPHEN, TAL_EIDN.
 */
int tal_relay_domain_normalise(const char *text, char *out);

/*
 * Parses a tenant ID (GUID, any case, optional braces) of `len` octets into
 * 16 octets.  0 or TAL_ETENANT.
 */
int tal_relay_tenant_parse(const char *text, size_t len, uint8_t id[16]);

/* Formats 16 octets as lowercase 8-4-4-4-12 into `out` (TAL_RELAY_TENANTSZ). */
void tal_relay_tenant_format(const uint8_t id[16], char *out);

/* ---- lookups ---- */

typedef struct tal_relay tal_relay_t;

typedef struct {
	const char *const *zones; /* policy zones, queried in this order (>= 1) */
	size_t nzones;
	const char *const *servers; /* authoritative servers, "addr[@port]": stub mode */
	size_t nservers;
	const char *const *resolvers; /* recursive resolvers, "addr[@port]": forward mode */
	size_t nresolvers;
	const char *trust_anchor; /* trust anchor file (DS/DNSKEY lines), or NULL */
	unsigned timeout_ms;      /* per lookup, all zones included; 0 = 5000 */
} tal_relay_config_t;

/*
 * Creates a lookup handle.  Servers and resolvers may not both be given.
 * Returns 0 and *out (free with tal_relay_free), or TAL_EINVAL (bad
 * configuration: a zone name, an address, both modes), TAL_ENOENT (trust
 * anchor file unreadable), TAL_ENOMEM, TAL_EFAILED; `err` (may be NULL,
 * `errlen` octets) then explains, naming the offending value.
 */
int tal_relay_new(const tal_relay_config_t *cfg, tal_relay_t **out, char *err, size_t errlen);

/* Cancels pending lookups (their callbacks do not run) and frees. NULL ok. */
void tal_relay_free(tal_relay_t *r);

/*
 * Called once per submitted lookup with its result (borrowed: valid during
 * the call only).
 */
typedef void (*tal_relay_cb_t)(void *arg, const tal_relay_result_t *res);

/*
 * Starts a lookup of `domain` (any form tal_relay_domain_normalise takes)
 * and `tenant` (any GUID form).  Returns 0 (cb will run exactly once, from
 * tal_relay_process/tal_relay_wait/tal_relay_check; possibly already inside
 * this call, with an answer from the cache), TAL_EDNAME.. (domain invalid)
 * or TAL_ETENANT (cb does not run), TAL_ENOMEM, TAL_EIO.
 */
int tal_relay_submit(tal_relay_t *r, const char *domain, const char *tenant, tal_relay_cb_t cb,
                     void *arg);

/* The file descriptor that becomes readable when answers are ready. */
int tal_relay_fd(tal_relay_t *r);

/* Lookups submitted and not yet delivered. */
size_t tal_relay_pending(const tal_relay_t *r);

/*
 * Milliseconds until the earliest pending deadline (0 if one has passed),
 * or -1 when nothing is pending.
 */
int tal_relay_next_timeout(const tal_relay_t *r);

/*
 * Delivers ready answers and expires lookups past their deadline, without
 * blocking.  Returns 0 or TAL_EIO.
 */
int tal_relay_process(tal_relay_t *r);

/*
 * Waits up to `max_ms` (-1: no limit besides the deadlines) for answers,
 * then processes.  Returns 0 or TAL_EIO.
 */
int tal_relay_wait(tal_relay_t *r, int max_ms);

/*
 * Blocking lookup: fills *res.  Returns 0 (the decision is in res, also for
 * tempfail), or the error of tal_relay_submit (res->decision is then
 * TAL_RELAY_DENY for an invalid domain or tenant and res->reason says why;
 * TAL_RELAY_TEMPFAIL for resource errors).
 */
int tal_relay_check(tal_relay_t *r, const char *domain, const char *tenant,
                    tal_relay_result_t *res);

/* Text of a tal_relay_submit failure into res (used by the callers above). */
void tal_relay_result_error(tal_relay_result_t *res, const char *domain, const char *tenant,
                            int code);
