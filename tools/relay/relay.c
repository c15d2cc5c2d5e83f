/*
 * tools/relay/relay.c -- the lookup engine behind relay.h, on libunbound.
 *
 * Each submitted lookup is a `struct lookup` on a list kept in submission
 * order; since every lookup gets the same timeout, that is also deadline
 * order.  A lookup has at most one libunbound query in flight (the TXT of
 * D.Z for its current zone); the callback either decides or moves on to the
 * next zone.  Deadlines are ours, not libunbound's: an unreachable server
 * makes libunbound retry with backoff for much longer than a relay can hold
 * an SMTP transaction, so an expired lookup is cancelled (ub_cancel
 * guarantees its callback will not run) and ends as tempfail.
 *
 * UB_* codes are translated here, once, and go no further.
 */
#include "tools/relay/relay.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <unbound.h>

#include "common/error.h"

#define RR_TYPE_TXT 16
#define RR_CLASS_IN 1
#define DEFAULT_MS  5000
#define NONE_NOTESZ 256

struct lookup {
	struct lookup *prev, *next;
	tal_relay_t *r;
	size_t zone;
	int async_id;
	bool in_flight;
	uint64_t deadline;
	uint8_t tid[16];
	tal_relay_cb_t cb;
	void *arg;
	char qname[TAL_RELAY_NAMESZ * 2];
	char none_notes[NONE_NOTESZ];
	tal_relay_result_t res;
};

struct tal_relay {
	struct ub_ctx *ctx;
	char **zones;
	size_t nzones;
	unsigned timeout_ms;
	struct lookup *head, *tail;
	size_t pending;
};

static int ub_to_tal(int ub)
{
	switch (ub) {
	case UB_NOERROR:
		return 0;
	case UB_NOMEM:
		return TAL_ENOMEM;
	case UB_SYNTAX:
		return TAL_EINVAL;
	case UB_SERVFAIL:
		return TAL_ESERVFAIL;
	case UB_READFILE:
		return TAL_ENOENT;
	case UB_NOID:
		return TAL_ENOTFOUND;
	case UB_AFTERFINAL:
		return TAL_EBUSY;
	case UB_SOCKET:
	case UB_FORKFAIL:
	case UB_PIPE:
		return TAL_EIO;
	default:
		return TAL_EFAILED;
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const char *tal_relay_decision_name(tal_relay_decision_t d)
{
	switch (d) {
	case TAL_RELAY_ALLOW:
		return "allow";
	case TAL_RELAY_DENY:
		return "deny";
	case TAL_RELAY_NONE:
		return "none";
	case TAL_RELAY_TEMPFAIL:
		return "tempfail";
	}
	return "tempfail";
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err == NULL || errlen == 0) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int set_option(tal_relay_t *r, const char *opt, const char *val, char *err, size_t errlen)
{
	int ub = ub_ctx_set_option(r->ctx, opt, val);
	if (ub != 0) {
		set_err(err, errlen, "resolver option %s %s: %s", opt, val, ub_strerror(ub));
		return ub_to_tal(ub);
	}
	return 0;
}

int tal_relay_new(const tal_relay_config_t *cfg, tal_relay_t **out, char *err, size_t errlen)
{
	tal_relay_t *r = NULL;
	int rc = TAL_ENOMEM, ub;

	*out = NULL;
	if (cfg == NULL || cfg->nzones == 0) {
		set_err(err, errlen, "no policy zone given");
		return TAL_EINVAL;
	}
	if (cfg->nservers > 0 && cfg->nresolvers > 0) {
		set_err(err, errlen, "give authoritative servers or resolvers, not both");
		return TAL_EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		goto cleanup;
	}
	r->timeout_ms = cfg->timeout_ms != 0 ? cfg->timeout_ms : DEFAULT_MS;
	r->zones = calloc(cfg->nzones, sizeof(*r->zones));
	if (r->zones == NULL) {
		goto cleanup;
	}
	for (size_t i = 0; i < cfg->nzones; i++) {
		char name[TAL_RELAY_NAMESZ];
		rc = tal_relay_domain_normalise(cfg->zones[i], name);
		if (rc != 0) {
			set_err(err, errlen, "zone \"%s\" %s", cfg->zones[i], tal_strerror(rc));
			rc = TAL_EINVAL;
			goto cleanup;
		}
		r->zones[i] = strdup(name);
		if (r->zones[i] == NULL) {
			rc = TAL_ENOMEM;
			goto cleanup;
		}
		r->nzones++;
	}
	r->ctx = ub_ctx_create();
	if (r->ctx == NULL) {
		set_err(err, errlen, "cannot create the resolver context");
		rc = TAL_EFAILED;
		goto cleanup;
	}
	/* A thread, not a forked process: the milter is multi-threaded. */
	ub = ub_ctx_async(r->ctx, 1);
	if (ub != 0) {
		set_err(err, errlen, "resolver context: %s", ub_strerror(ub));
		rc = ub_to_tal(ub);
		goto cleanup;
	}
	/*
	 * Policy servers and local resolvers are often on loopback.  Keep
	 * probing a server that timed out, so a restarted server is used again
	 * at once instead of after infra-host-ttl.
	 */
	/*
	 * libunbound's default caches (4 MB each) hold a few thousand
	 * policies; a relay judging many domains would evict and re-ask.
	 */
	if ((rc = set_option(r, "do-not-query-localhost:", "no", err, errlen)) != 0 ||
	    (rc = set_option(r, "infra-keep-probing:", "yes", err, errlen)) != 0 ||
	    (rc = set_option(r, "msg-cache-size:", "32m", err, errlen)) != 0 ||
	    (rc = set_option(r, "rrset-cache-size:", "64m", err, errlen)) != 0) {
		goto cleanup;
	}
	for (size_t s = 0; s < cfg->nservers; s++) {
		for (size_t z = 0; z < r->nzones; z++) {
			ub = ub_ctx_set_stub(r->ctx, r->zones[z], cfg->servers[s], 0);
			if (ub != 0) {
				set_err(err, errlen, "server \"%s\": %s", cfg->servers[s],
				        ub == UB_SYNTAX ? "not an address[@port]"
				                        : ub_strerror(ub));
				rc = ub == UB_SYNTAX ? TAL_EINVAL : ub_to_tal(ub);
				goto cleanup;
			}
		}
	}
	for (size_t s = 0; s < cfg->nresolvers; s++) {
		ub = ub_ctx_set_fwd(r->ctx, cfg->resolvers[s]);
		if (ub != 0) {
			set_err(err, errlen, "resolver \"%s\": %s", cfg->resolvers[s],
			        ub == UB_SYNTAX ? "not an address[@port]" : ub_strerror(ub));
			rc = ub == UB_SYNTAX ? TAL_EINVAL : ub_to_tal(ub);
			goto cleanup;
		}
	}
	if (cfg->nservers == 0 && cfg->nresolvers == 0) {
		ub = ub_ctx_resolvconf(r->ctx, NULL);
		if (ub != 0) {
			set_err(err, errlen, "system resolver (/etc/resolv.conf): %s",
			        ub_strerror(ub));
			rc = ub_to_tal(ub);
			goto cleanup;
		}
	}
	if (cfg->trust_anchor != NULL) {
		/* libunbound reads the file at the first query; fail early instead. */
		if (access(cfg->trust_anchor, R_OK) != 0) {
			set_err(err, errlen, "trust anchor \"%s\": %s", cfg->trust_anchor,
			        tal_strerror(tal_error_from_errno(errno)));
			rc = TAL_ENOENT;
			goto cleanup;
		}
		ub = ub_ctx_add_ta_file(r->ctx, cfg->trust_anchor);
		if (ub != 0) {
			set_err(err, errlen, "trust anchor \"%s\": %s", cfg->trust_anchor,
			        ub_strerror(ub));
			rc = ub_to_tal(ub);
			goto cleanup;
		}
	}
	/*
	 * Unbound answers some special-use names itself (RFC 6761: "test.",
	 * "invalid.", ...).  A policy zone is always looked up in the DNS.  This
	 * finalises the context, so it comes after every other setting.
	 */
	for (size_t z = 0; z < r->nzones; z++) {
		ub = ub_ctx_zone_add(r->ctx, r->zones[z], "transparent");
		if (ub != 0) {
			set_err(err, errlen, "zone \"%s\": %s", r->zones[z], ub_strerror(ub));
			rc = ub_to_tal(ub);
			goto cleanup;
		}
	}
	*out = r;
	return 0;
cleanup:
	if (rc == TAL_ENOMEM) {
		set_err(err, errlen, "%s", tal_strerror(rc));
	}
	tal_relay_free(r);
	return rc;
}

static void unlink_lookup(tal_relay_t *r, struct lookup *l)
{
	if (l->prev != NULL) {
		l->prev->next = l->next;
	} else {
		r->head = l->next;
	}
	if (l->next != NULL) {
		l->next->prev = l->prev;
	} else {
		r->tail = l->prev;
	}
	r->pending--;
}

void tal_relay_free(tal_relay_t *r)
{
	if (r == NULL) {
		return;
	}
	while (r->head != NULL) {
		struct lookup *l = r->head;
		if (l->in_flight) {
			(void)ub_cancel(r->ctx, l->async_id);
		}
		unlink_lookup(r, l);
		free(l);
	}
	if (r->ctx != NULL) {
		ub_ctx_delete(r->ctx);
	}
	for (size_t i = 0; i < r->nzones; i++) {
		free(r->zones[i]);
	}
	free(r->zones);
	free(r);
}

static void finish(struct lookup *l)
{
	tal_relay_t *r = l->r;

	unlink_lookup(r, l);
	l->cb(l->arg, &l->res);
	free(l);
}

static void tempfail(struct lookup *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tempfail(struct lookup *l, const char *fmt, ...)
{
	va_list ap;

	l->res.decision = TAL_RELAY_TEMPFAIL;
	snprintf(l->res.zone, sizeof(l->res.zone), "%s", l->r->zones[l->zone]);
	l->res.dkim[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(l->res.reason, sizeof(l->res.reason), fmt, ap);
	va_end(ap);
	finish(l);
}

static void note_none(struct lookup *l, const char *what)
{
	size_t used = strlen(l->none_notes);
	snprintf(l->none_notes + used, sizeof(l->none_notes) - used, "%s%s %s",
	         used > 0 ? ", " : "", l->r->zones[l->zone], what);
}

static void ub_callback(void *mydata, int err, struct ub_result *result);

/* Queries the current zone, or ends as none after the last one. */
static void start_zone(struct lookup *l)
{
	tal_relay_t *r = l->r;

	for (; l->zone < r->nzones; l->zone++) {
		int n = snprintf(l->qname, sizeof(l->qname), "%s.%s", l->res.domain,
		                 r->zones[l->zone]);
		if (n > 253) {
			/* No server can publish this name: D has no policy in Z. */
			note_none(l, "cannot hold the name (too long)");
			continue;
		}
		l->in_flight = true;
		int ub = ub_resolve_async(r->ctx, l->qname, RR_TYPE_TXT, RR_CLASS_IN, l,
		                          ub_callback, &l->async_id);
		if (ub != 0) {
			l->in_flight = false;
			tempfail(l, "lookup of %s TXT could not start: %s", l->qname,
			         ub_strerror(ub));
		}
		return;
	}
	l->res.decision = TAL_RELAY_NONE;
	l->res.zone[0] = '\0';
	l->res.dkim[0] = '\0';
	l->zone = r->nzones - 1;
	/* A long list of zones may be cut short; the decision is not. */
	snprintf(l->res.reason, sizeof(l->res.reason), "no policy for %s: %.240s", l->res.domain,
	         l->none_notes);
	finish(l);
}

static const char *rcode_name(int rcode)
{
	static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
		                             "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
		                             "NXRRSET", "NOTAUTH", "NOTZONE" };
	if (rcode >= 0 && (size_t)rcode < sizeof(names) / sizeof(names[0])) {
		return names[rcode];
	}
	return "an unknown rcode";
}

static void ub_callback(void *mydata, int err, struct ub_result *result)
{
	struct lookup *l = mydata;

	l->in_flight = false;
	if (err != 0) {
		tempfail(l, "lookup of %s TXT failed: %s", l->qname, ub_strerror(err));
		goto cleanup;
	}
	if (result->bogus) {
		tempfail(l, "DNSSEC validation of %s TXT failed: %s", l->qname,
		         result->why_bogus != NULL ? result->why_bogus : "bogus answer");
		goto cleanup;
	}
	if (result->rcode == 3) {
		note_none(l, "NXDOMAIN");
		l->zone++;
		start_zone(l);
		goto cleanup;
	}
	if (result->rcode != 0) {
		tempfail(l, "lookup of %s TXT answered %s", l->qname, rcode_name(result->rcode));
		goto cleanup;
	}
	size_t n = 0;
	while (result->havedata && result->data[n] != NULL) {
		n++;
	}
	size_t *lens = calloc(n + 1, sizeof(*lens));
	if (lens == NULL) {
		tempfail(l, "lookup of %s TXT: %s", l->qname, tal_strerror(TAL_ENOMEM));
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		lens[i] = result->len[i] > 0 ? (size_t)result->len[i] : 0;
	}
	tal_relay_decide((const uint8_t *const *)result->data, lens, n, l->tid, l->qname, &l->res);
	free(lens);
	if (l->res.decision == TAL_RELAY_NONE) {
		note_none(l, n == 0 ? "NODATA" : "no TAL1 record");
		l->zone++;
		start_zone(l);
		goto cleanup;
	}
	l->res.secure = result->secure != 0;
	snprintf(l->res.zone, sizeof(l->res.zone), "%s", l->r->zones[l->zone]);
	finish(l);
cleanup:
	ub_resolve_free(result);
}

void tal_relay_result_error(tal_relay_result_t *res, const char *domain, const char *tenant,
                            int code)
{
	memset(res, 0, sizeof(*res));
	snprintf(res->domain, sizeof(res->domain), "%s", domain != NULL ? domain : "");
	snprintf(res->tenant, sizeof(res->tenant), "%s", tenant != NULL ? tenant : "");
	if (code == TAL_ETENANT) {
		res->decision = TAL_RELAY_DENY;
		snprintf(res->reason, sizeof(res->reason), "\"%.40s\" %s", res->tenant,
		         tal_strerror(code));
	} else if (code <= TAL_EDNAME && code >= TAL_EIDN) {
		res->decision = TAL_RELAY_DENY;
		snprintf(res->reason, sizeof(res->reason), "\"%.80s\" %s", res->domain,
		         tal_strerror(code));
	} else {
		res->decision = TAL_RELAY_TEMPFAIL;
		snprintf(res->reason, sizeof(res->reason), "lookup could not start: %s",
		         tal_strerror(code));
	}
}

int tal_relay_submit(tal_relay_t *r, const char *domain, const char *tenant, tal_relay_cb_t cb,
                     void *arg)
{
	struct lookup *l;
	uint8_t tid[16];
	char name[TAL_RELAY_NAMESZ];
	int rc;

	rc = tal_relay_domain_normalise(domain, name);
	if (rc != 0) {
		return rc;
	}
	if (tenant == NULL || tal_relay_tenant_parse(tenant, strlen(tenant), tid) != 0) {
		return TAL_ETENANT;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		return TAL_ENOMEM;
	}
	l->r = r;
	l->cb = cb;
	l->arg = arg;
	memcpy(l->tid, tid, sizeof(tid));
	memcpy(l->res.domain, name, sizeof(name));
	tal_relay_tenant_format(tid, l->res.tenant);
	l->deadline = now_ms() + r->timeout_ms;
	l->prev = r->tail;
	if (r->tail != NULL) {
		r->tail->next = l;
	} else {
		r->head = l;
	}
	r->tail = l;
	r->pending++;
	start_zone(l);
	return 0;
}

int tal_relay_fd(tal_relay_t *r)
{
	return ub_fd(r->ctx);
}

size_t tal_relay_pending(const tal_relay_t *r)
{
	return r->pending;
}

int tal_relay_next_timeout(const tal_relay_t *r)
{
	if (r->head == NULL) {
		return -1;
	}
	uint64_t now = now_ms();
	if (r->head->deadline <= now) {
		return 0;
	}
	uint64_t left = r->head->deadline - now;
	return left > 3600000u ? 3600000 : (int)left;
}

int tal_relay_process(tal_relay_t *r)
{
	int ub = ub_process(r->ctx);
	int rc = ub_to_tal(ub);

	/* Deadlines are in submission order; stop at the first one ahead. */
	uint64_t now = now_ms();
	while (r->head != NULL && r->head->deadline <= now) {
		struct lookup *l = r->head;
		if (l->in_flight) {
			(void)ub_cancel(r->ctx, l->async_id);
			l->in_flight = false;
		}
		tempfail(l, "no answer for %s TXT within %u ms", l->qname, r->timeout_ms);
	}
	return rc == 0 ? 0 : TAL_EIO;
}

int tal_relay_wait(tal_relay_t *r, int max_ms)
{
	int t = tal_relay_next_timeout(r);
	struct pollfd pfd = { .fd = ub_fd(r->ctx), .events = POLLIN };

	if (max_ms >= 0 && (t < 0 || max_ms < t)) {
		t = max_ms;
	}
	if (poll(&pfd, 1, t) < 0 && errno != EINTR) {
		return TAL_EIO;
	}
	return tal_relay_process(r);
}

struct sync_call {
	bool done;
	tal_relay_result_t *res;
};

static void sync_cb(void *arg, const tal_relay_result_t *res)
{
	struct sync_call *c = arg;
	*c->res = *res;
	c->done = true;
}

int tal_relay_check(tal_relay_t *r, const char *domain, const char *tenant, tal_relay_result_t *res)
{
	struct sync_call c = { .done = false, .res = res };
	int rc = tal_relay_submit(r, domain, tenant, sync_cb, &c);

	if (rc != 0) {
		tal_relay_result_error(res, domain, tenant, rc);
		return rc;
	}
	/* The lookup's deadline bounds this loop even if waiting fails. */
	while (!c.done) {
		(void)tal_relay_wait(r, -1);
	}
	return 0;
}
