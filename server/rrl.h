/*
 * server/rrl.h -- response rate limiting (RRL) for UDP answers, against
 * reflection and amplification attacks.
 *
 * Model: as in NSD, Knot and BIND, answers are counted per client prefix
 * (/24 for IPv4, /56 for IPv6 by default), because an attacker who spoofs
 * a victim's address, or a whole network of them, must not turn tallowd
 * into an amplifier.  Each prefix has a token bucket that refills at `rate`
 * answers per second and holds at most one second's worth, so a client may
 * burst `rate` answers and then keeps to `rate` per second.  An answer with
 * no token is not sent; every `slip`-th such answer is replaced by a small
 * truncated answer (TC=1, the question only), so a real client behind a
 * limited prefix retries over TCP and is served there (a spoofed victim
 * only gets a reply no larger than the query).
 *
 * The buckets live in a fixed-size table owned by one worker, allocated
 * with the worker: no allocation, lock or system call per answer.  The
 * table is set-associative (TAL_RRL_WAYS buckets per set, chosen by a hash
 * keyed at start), and a new prefix replaces the set's least recently used
 * bucket, so a flooding prefix, being always recent, keeps its bucket while
 * many idle ones come and go; the key stops an attacker from aiming other
 * prefixes at the flooder's set to reset it.
 *
 * Loopback clients (127.0.0.0/8, ::1, and IPv4-mapped 127/8) are exempt
 * unless `loopback` is set: the kernel drops packets from the network that
 * claim such a source, so they cannot be spoofed by another host and limiting
 * them protects no one, while it would slow a resolver on the same host.
 *
 * Caveats: each worker limits on its own, so with N workers a client whose
 * datagrams the kernel spreads over several sockets (different source
 * ports) may get up to N times the rate.  A resolver serving many users
 * from one prefix shares one bucket; set the rate with that in mind.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define TAL_RRL_RATE_DEFAULT 200 /* answers per second per prefix */
#define TAL_RRL_SLIP_DEFAULT 2   /* every second limited answer goes out truncated */
#define TAL_RRL_IPV4_PREFIX  24
#define TAL_RRL_IPV6_PREFIX  56
#define TAL_RRL_BUCKETS      8192 /* per worker; a power of two */
#define TAL_RRL_WAYS         4    /* buckets per set */
#define TAL_RRL_SLIP_MAX     10

typedef struct {
	uint32_t rate;     /* answers per second per prefix; 0 disables the limit */
	uint32_t slip;     /* 0: drop every limited answer; N: truncate every Nth */
	uint8_t v4_prefix; /* 1..32 */
	uint8_t v6_prefix; /* 1..128 */
	bool loopback;     /* limit loopback clients too (tests; see above) */
} tal_rrl_conf_t;

/* What to do with one answer. */
typedef enum {
	TAL_RRL_PASS = 0, /* send it */
	TAL_RRL_DROP = 1, /* send nothing */
	TAL_RRL_SLIP = 2, /* send tal_rrl_truncate() of it instead */
} tal_rrl_action_t;

/* Counters of one table (plain integers, one writer). */
typedef struct {
	uint64_t passed;  /* answers sent as they were */
	uint64_t dropped; /* answers not sent */
	uint64_t slipped; /* answers replaced by a truncated one */
	uint64_t evicted; /* buckets taken over by another prefix */
} tal_rrl_stats_t;

typedef struct {
	uint8_t key[17];     /* family (4 or 6) and the masked prefix */
	uint8_t used;        /* the bucket holds a prefix */
	uint32_t slip_count; /* limited answers since the bucket last had a token */
	int64_t tokens;      /* in thousandths of an answer */
	uint64_t last_ms;    /* time of the last refill */
	uint64_t seen;       /* tal_rrl_t.clock at the last answer: recency, for eviction */
} tal_rrl_bucket_t;

/*
 * One worker's limiter: a caller-owned value (about 400 KiB; embed it in
 * storage allocated once).  Initialise with tal_rrl_init; nothing to free.
 */
typedef struct {
	tal_rrl_conf_t conf;
	uint64_t seed[2];
	tal_rrl_stats_t stats;
	uint64_t clock; /* answers checked, the recency order of the buckets */
	tal_rrl_bucket_t buckets[TAL_RRL_BUCKETS];
} tal_rrl_t;

/*
 * Empties the table and sets its configuration and hash key (`seed`, 16
 * octets; random in the server, fixed in tests).  The prefix lengths are
 * clamped to 1..32 and 1..128, slip to 0..TAL_RRL_SLIP_MAX.
 */
void tal_rrl_init(tal_rrl_t *rrl, const tal_rrl_conf_t *conf, const uint8_t seed[16]);

/*
 * Decides the fate of one answer to `addr` (AF_INET or AF_INET6; an
 * IPv4-mapped IPv6 address counts as IPv4) at time `now_ms` (any monotonic
 * millisecond clock; the worker passes its loop time), and counts it.
 * Always TAL_RRL_PASS when the rate is 0, the family is neither, or the
 * client is on loopback and conf.loopback is false.
 */
tal_rrl_action_t tal_rrl_check(tal_rrl_t *rrl, const struct sockaddr *addr, uint64_t now_ms);

/*
 * Cuts the DNS response in `msg` (`len` octets, as made by the query layer)
 * down to its header and question, with TC set and the answer, authority
 * and additional counts zero, in place.  Returns the new length, or 0 when
 * the message is not a response with a well-formed question (send nothing).
 */
size_t tal_rrl_truncate(uint8_t *msg, size_t len);
