/*
 * tools/tallow-milter/main.c -- the milter: judge each message relayed by
 * Microsoft 365 against tallow's tenant allowlists.
 *
 * Model: libmilter runs one thread per SMTP connection; the callbacks
 * collect what the decision needs (client address at connect, envelope
 * sender, the From:, X-MS-Exchange-CrossTenant-Id and
 * Authentication-Results headers) and judge at end of message.  Lookups go
 * to one resolver thread that owns the tal_relay_t (it is not thread-safe,
 * and one context keeps one cache): a callback queues a request, wakes the
 * resolver thread through a pipe and waits on a condition variable; the
 * resolver thread submits it, runs the libunbound event loop and signals
 * completion.  Every request has the lookup deadline, so no SMTP
 * transaction waits longer than `timeout`.
 *
 * The tenant header is trusted only as far as the hop that carries it: the
 * message came from Microsoft's published outbound ranges.  Anything
 * ambiguous -- several From: addresses, several different tenant IDs, a
 * tenant header that is not a GUID -- is a deny, because an attacker
 * controls everything in the message that Microsoft does not overwrite.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "common/error.h"
#include "common/log.h"
#include "tools/relay/relay.h"
#include "tools/tallow-milter/conf.h"
#include "tools/tallow-milter/msg.h"

#define TENANT_HEADER "X-MS-Exchange-CrossTenant-Id"
#define RESULT_HEADER "X-Tallow-Result"
#define MAX_TENANTS   8
#define MAX_AR        16
#define TEXTSZ        1024

static mconf_t cfg;

/* ---- the resolver thread ---- */

struct request {
	struct request *next;
	const char *domain;
	const char *tenant;
	tal_relay_result_t res;
	bool done;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct request *head, *tail;
	int wake[2];
	bool stop;
	tal_relay_t *relay;
	pthread_t thread;
} rs = { .mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void complete(struct request *rq, const tal_relay_result_t *res)
{
	pthread_mutex_lock(&rs.mu);
	rq->res = *res;
	rq->done = true;
	pthread_cond_broadcast(&rs.cond);
	pthread_mutex_unlock(&rs.mu);
}

static void lookup_cb(void *arg, const tal_relay_result_t *res)
{
	complete(arg, res);
}

static void *resolver_main(void *unused)
{
	char drain[64];

	for (;;) {
		struct pollfd pfd[2] = { { .fd = rs.wake[0], .events = POLLIN },
			                 { .fd = tal_relay_fd(rs.relay), .events = POLLIN } };
		if (poll(pfd, 2, tal_relay_next_timeout(rs.relay)) < 0 && errno != EINTR) {
			tal_log_warn("resolver thread: poll");
		}
		if (pfd[0].revents & POLLIN) {
			while (read(rs.wake[0], drain, sizeof(drain)) > 0) {
			}
		}
		pthread_mutex_lock(&rs.mu);
		struct request *batch = rs.head;
		bool stop = rs.stop;
		rs.head = rs.tail = NULL;
		pthread_mutex_unlock(&rs.mu);
		while (batch != NULL) {
			struct request *rq = batch;
			batch = batch->next;
			int rc = tal_relay_submit(rs.relay, rq->domain, rq->tenant, lookup_cb, rq);
			if (rc != 0) {
				tal_relay_result_t res;
				tal_relay_result_error(&res, rq->domain, rq->tenant, rc);
				complete(rq, &res);
			}
		}
		tal_relay_process(rs.relay);
		if (stop && tal_relay_pending(rs.relay) == 0) {
			break;
		}
	}
	return unused;
}

/* Blocking lookup from a milter thread. */
static void lookup(const char *domain, const char *tenant, tal_relay_result_t *res)
{
	struct request rq = { .domain = domain, .tenant = tenant };

	pthread_mutex_lock(&rs.mu);
	if (rs.tail != NULL) {
		rs.tail->next = &rq;
	} else {
		rs.head = &rq;
	}
	rs.tail = &rq;
	pthread_mutex_unlock(&rs.mu);
	ssize_t w = write(rs.wake[1], "x", 1);
	(void)w; /* a full pipe already means "wake up" */
	pthread_mutex_lock(&rs.mu);
	while (!rq.done) {
		pthread_cond_wait(&rs.cond, &rs.mu);
	}
	pthread_mutex_unlock(&rs.mu);
	*res = rq.res;
}

/* ---- per-connection and per-message state ---- */

struct message {
	unsigned nfrom;
	char *from;
	char *env_from;
	unsigned ntenant_hdrs;
	uint8_t tenants[MAX_TENANTS][16];
	unsigned ntenants;
	char *bad_tenant;
	char *ar[MAX_AR];
	unsigned nar;
	unsigned nresult_hdrs;
};

struct conn {
	bool in_ranges;
	char addr[64];
	struct message msg;
};

static void message_reset(struct message *m)
{
	free(m->from);
	free(m->env_from);
	free(m->bad_tenant);
	for (unsigned i = 0; i < m->nar; i++) {
		free(m->ar[i]);
	}
	memset(m, 0, sizeof(*m));
}

static sfsistat on_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		return SMFIS_TEMPFAIL;
	}
	c->in_ranges = mconf_in_ranges(&cfg, hostaddr);
	snprintf(c->addr, sizeof(c->addr), "%s", hostname != NULL ? hostname : "unknown");
	smfi_setpriv(ctx, c);
	return SMFIS_CONTINUE;
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c == NULL) {
		return SMFIS_TEMPFAIL;
	}
	message_reset(&c->msg);
	if (argv != NULL && argv[0] != NULL) {
		c->msg.env_from = strdup(argv[0]);
	}
	return SMFIS_CONTINUE;
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
	struct conn *c = smfi_getpriv(ctx);
	struct message *m;

	if (c == NULL) {
		return SMFIS_TEMPFAIL;
	}
	m = &c->msg;
	if (strcasecmp(name, "From") == 0) {
		if (m->nfrom++ == 0) {
			m->from = strdup(value);
		}
	} else if (strcasecmp(name, TENANT_HEADER) == 0) {
		char *v = strdup(value);
		uint8_t id[16];
		m->ntenant_hdrs++;
		if (v == NULL) {
			return SMFIS_TEMPFAIL;
		}
		char *t = tal_milter_trim(v);
		if (tal_relay_tenant_parse(t, strlen(t), id) != 0) {
			if (m->bad_tenant == NULL) {
				m->bad_tenant = strndup(t, 64);
			}
		} else {
			bool seen = false;
			for (unsigned i = 0; i < m->ntenants; i++) {
				seen = seen || memcmp(m->tenants[i], id, 16) == 0;
			}
			if (!seen && m->ntenants < MAX_TENANTS) {
				memcpy(m->tenants[m->ntenants++], id, 16);
			} else if (!seen) {
				m->ntenants++; /* counted: more than we keep means ambiguous */
			}
		}
		free(v);
	} else if (strcasecmp(name, "Authentication-Results") == 0) {
		if (m->nar < MAX_AR) {
			m->ar[m->nar] = strdup(value);
			if (m->ar[m->nar] != NULL) {
				m->nar++;
			}
		}
	} else if (strcasecmp(name, RESULT_HEADER) == 0) {
		m->nresult_hdrs++;
	}
	return SMFIS_CONTINUE;
}

/* SMTP reply text: printable ASCII, no '%' (libmilter formats it). */
static void reply_text(char *out, size_t outsz, const char *text)
{
	size_t o = 0;
	for (; *text != '\0' && o + 1 < outsz && o < 400; text++) {
		unsigned char ch = (unsigned char)*text;
		out[o++] = ch >= 0x20 && ch < 0x7f && ch != '%' ? (char)ch : '?';
	}
	out[o] = '\0';
}

static sfsistat act(SMFICTX *ctx, mconf_outcome_t outcome, const char *tenant, const char *domain,
                    const char *reason)
{
	mconf_action_t a = cfg.action[outcome];
	mconf_action_t done = cfg.dry_run ? ACT_TAG : a;
	const char *qid = smfi_getsymval(ctx, "i");
	char text[TEXTSZ], reply[TEXTSZ];

	tal_log_notice("judged, queue %s, domain %s, tenant %s, decision %s, action %s%s, "
	               "reason %s",
	               qid != NULL ? qid : "-", domain[0] ? domain : "-", tenant[0] ? tenant : "-",
	               mconf_outcome_name(outcome), mconf_action_name(done),
	               cfg.dry_run ? " (dry run)" : "", reason);
	switch (done) {
	case ACT_ACCEPT:
		return SMFIS_CONTINUE;
	case ACT_TAG:
		snprintf(text, sizeof(text), "%s tenant=%s domain=%s%s%s",
		         mconf_outcome_name(outcome), tenant[0] ? tenant : "-",
		         domain[0] ? domain : "-", cfg.dry_run ? " action=" : "",
		         cfg.dry_run ? mconf_action_name(a) : "");
		reply_text(reply, sizeof(reply), text);
		if (smfi_addheader(ctx, RESULT_HEADER, reply) != MI_SUCCESS) {
			tal_log_warnx("queue %s: cannot add %s", qid != NULL ? qid : "-",
			              RESULT_HEADER);
		}
		return SMFIS_CONTINUE;
	case ACT_REJECT:
		if (outcome == OUT_NOTENANT) {
			snprintf(text, sizeof(text),
			         "no Microsoft 365 tenant ID in the message: %s", reason);
		} else {
			snprintf(text, sizeof(text), "tenant %s may not send as %s: %s",
			         tenant[0] ? tenant : "-", domain[0] ? domain : "-", reason);
		}
		reply_text(reply, sizeof(reply), text);
		smfi_setreply(ctx, "550", "5.7.1", reply);
		return SMFIS_REJECT;
	case ACT_TEMPFAIL:
		snprintf(text, sizeof(text), "cannot check tenant %s for %s now: %s",
		         tenant[0] ? tenant : "-", domain[0] ? domain : "-", reason);
		reply_text(reply, sizeof(reply), text);
		smfi_setreply(ctx, "451", "4.7.1", reply);
		return SMFIS_TEMPFAIL;
	}
	return SMFIS_CONTINUE;
}

/* deny > tempfail > allow > none: each domain with a policy must allow. */
static int combine_rank(tal_relay_decision_t d)
{
	switch (d) {
	case TAL_RELAY_DENY:
		return 3;
	case TAL_RELAY_TEMPFAIL:
		return 2;
	case TAL_RELAY_ALLOW:
		return 1;
	case TAL_RELAY_NONE:
		return 0;
	}
	return 2;
}

static mconf_outcome_t outcome_of(tal_relay_decision_t d)
{
	switch (d) {
	case TAL_RELAY_ALLOW:
		return OUT_ALLOW;
	case TAL_RELAY_DENY:
		return OUT_DENY;
	case TAL_RELAY_NONE:
		return OUT_NONE;
	case TAL_RELAY_TEMPFAIL:
		return OUT_TEMPFAIL;
	}
	return OUT_TEMPFAIL;
}

static sfsistat judge(SMFICTX *ctx, struct conn *c)
{
	struct message *m = &c->msg;
	char tenant[TAL_RELAY_TENANTSZ] = "", reason[TEXTSZ];
	char addr[TEXTSZ] = "", domain[TAL_RELAY_NAMESZ] = "";

	if (!c->in_ranges && !(cfg.judge_tenant_header && m->ntenant_hdrs > 0)) {
		return SMFIS_CONTINUE;
	}
	if (m->ntenants == 1) {
		tal_relay_tenant_format(m->tenants[0], tenant);
	}
	if (m->ntenant_hdrs == 0) {
		return act(ctx, OUT_NOTENANT, "", "", "no " TENANT_HEADER " header");
	}
	if (m->bad_tenant != NULL) {
		snprintf(reason, sizeof(reason), TENANT_HEADER " \"%s\" is not a tenant ID",
		         m->bad_tenant);
		return act(ctx, OUT_DENY, "", "", reason);
	}
	if (m->ntenants > 1) {
		return act(ctx, OUT_DENY, "", "", "several different " TENANT_HEADER " headers");
	}
	if (m->nfrom == 0 || m->from == NULL) {
		return act(ctx, OUT_DENY, tenant, "", "no From: header");
	}
	if (m->nfrom > 1) {
		return act(ctx, OUT_DENY, tenant, "", "several From: headers");
	}
	int naddr = tal_milter_from_address(m->from, addr, sizeof(addr));
	if (naddr != 1) {
		return act(ctx, OUT_DENY, tenant, "",
		           naddr == 0 ? "no address in From:"
		                      : "several or ambiguous From: addresses");
	}
	const char *fd = tal_milter_address_domain(addr);
	if (fd == NULL) {
		return act(ctx, OUT_DENY, tenant, "", "From: address has no domain");
	}
	snprintf(domain, sizeof(domain), "%s", fd);

	tal_relay_result_t res, env;
	lookup(domain, tenant, &res);
	snprintf(domain, sizeof(domain), "%s", res.domain);
	snprintf(reason, sizeof(reason), "%s", res.reason);
	if (cfg.check_envelope_sender && m->env_from != NULL) {
		char ebuf[TEXTSZ];
		snprintf(ebuf, sizeof(ebuf), "%s", m->env_from);
		const char *ed = tal_milter_address_domain(ebuf[0] == '<' ? ebuf + 1 : ebuf);
		char en[TAL_RELAY_NAMESZ];
		if (ed != NULL &&
		    (tal_relay_domain_normalise(ed, en) != 0 || strcmp(en, res.domain) != 0)) {
			lookup(ed, tenant, &env);
			if (combine_rank(env.decision) > combine_rank(res.decision)) {
				res = env;
				snprintf(domain, sizeof(domain), "%s", env.domain);
				snprintf(reason, sizeof(reason), "envelope sender: %s", env.reason);
			}
		}
	}
	if (res.decision == TAL_RELAY_ALLOW && cfg.cert_cn != NULL) {
		const char *subject = smfi_getsymval(ctx, "{cert_subject}");
		char cn[256] = "";
		if (subject != NULL) {
			tal_milter_subject_cn(subject, cn, sizeof(cn));
		}
		if (subject == NULL || !tal_milter_cn_matches(cn, cfg.cert_cn)) {
			snprintf(reason, sizeof(reason),
			         "client certificate CN \"%.100s\" is not %s", cn, cfg.cert_cn);
			return act(ctx, OUT_DENY, tenant, domain, reason);
		}
	}
	if (res.decision == TAL_RELAY_ALLOW && cfg.dkim_authserv_id != NULL &&
	    res.dkim[0] != '\0' &&
	    !tal_milter_dkim_pass((const char *const *)m->ar, m->nar, cfg.dkim_authserv_id,
	                          res.dkim)) {
		snprintf(reason, sizeof(reason), "no dkim=pass header.d=%s from %s", res.dkim,
		         cfg.dkim_authserv_id);
		return act(ctx, OUT_DENY, tenant, domain, reason);
	}
	return act(ctx, outcome_of(res.decision), tenant, domain, reason);
}

static sfsistat on_eom(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);
	sfsistat st;

	if (c == NULL) {
		return SMFIS_TEMPFAIL;
	}
	/* Our header is ours alone: remove any the sender supplied. */
	for (unsigned i = c->msg.nresult_hdrs; i > 0; i--) {
		smfi_chgheader(ctx, RESULT_HEADER, (int)i, NULL);
	}
	st = judge(ctx, c);
	message_reset(&c->msg);
	return st;
}

static sfsistat on_abort(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);
	if (c != NULL) {
		message_reset(&c->msg);
	}
	return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);
	if (c != NULL) {
		message_reset(&c->msg);
		free(c);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

static struct smfiDesc filter = {
	.xxfi_name = "tallow-milter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS,
	.xxfi_connect = on_connect,
	.xxfi_envfrom = on_envfrom,
	.xxfi_header = on_header,
	.xxfi_eom = on_eom,
	.xxfi_abort = on_abort,
	.xxfi_close = on_close,
};

int main(int argc, char **argv)
{
	const char *path = mconf_config_path(argc, argv);
	bool check = false;
	char err[512];
	int rc;

	tal_log_init("tallow-milter", TAL_LOG_NOTICE);
	mconf_init(&cfg);
	if (path != NULL && mconf_read_file(&cfg, path) != 0) {
		mconf_deinit(&cfg);
		return 1;
	}
	rc = mconf_parse_args(&cfg, argc, argv, &check);
	if (rc != 0) {
		mconf_deinit(&cfg);
		return rc == 1 ? 0 : 64;
	}
	tal_log_init("tallow-milter", cfg.log_level);
	if (mconf_validate(&cfg) != 0 || mconf_load_ranges(&cfg) != 0) {
		mconf_deinit(&cfg);
		return 1;
	}
	tal_relay_config_t rcfg = {
		.zones = (const char *const *)cfg.zones,
		.nzones = cfg.nzones,
		.servers = (const char *const *)cfg.servers,
		.nservers = cfg.nservers,
		.resolvers = (const char *const *)cfg.resolvers,
		.nresolvers = cfg.nresolvers,
		.trust_anchor = cfg.trust_anchor,
		.timeout_ms = cfg.timeout_ms,
	};
	rc = tal_relay_new(&rcfg, &rs.relay, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "tallow-milter: %s\n", err);
		mconf_deinit(&cfg);
		return 1;
	}
	if (check) {
		mconf_print(&cfg, stdout);
		printf("# %zu address ranges loaded\n", cfg.nranges);
		tal_relay_free(rs.relay);
		mconf_deinit(&cfg);
		return 0;
	}
	tal_log_set_timestamps(true);
	if (smfi_setconn(cfg.socket) != MI_SUCCESS || smfi_register(filter) != MI_SUCCESS) {
		tal_log_err("start-up, socket %s: cannot register the milter", cfg.socket);
		rc = 1;
		goto cleanup;
	}
	if (smfi_opensocket(true) != MI_SUCCESS) {
		tal_log_err("start-up, socket %s: cannot listen (in use, or bad address)",
		            cfg.socket);
		rc = 1;
		goto cleanup;
	}
	if (pipe2(rs.wake, O_NONBLOCK | O_CLOEXEC) != 0) {
		tal_log_warn("start-up: pipe");
		rc = 1;
		goto cleanup;
	}
	/*
	 * libmilter waits for SIGTERM, SIGINT and SIGHUP in a thread of its
	 * own with sigwait(); they must be blocked in every other thread, so
	 * block them before the resolver thread starts.
	 */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_create(&rs.thread, NULL, resolver_main, NULL) != 0) {
		tal_log_err("start-up: cannot start the resolver thread");
		rc = 1;
		goto cleanup;
	}
	tal_log_notice("start-up, socket %s, %zu zones, %zu address ranges%s", cfg.socket,
	               cfg.nzones, cfg.nranges, cfg.dry_run ? ", dry run" : "");
	rc = smfi_main() == MI_SUCCESS ? 0 : 1;
	pthread_mutex_lock(&rs.mu);
	rs.stop = true;
	pthread_mutex_unlock(&rs.mu);
	ssize_t w = write(rs.wake[1], "x", 1);
	(void)w;
	pthread_join(rs.thread, NULL);
	tal_log_notice("shutdown");
cleanup:
	tal_relay_free(rs.relay);
	mconf_deinit(&cfg);
	return rc;
}
