/*
 * server/rrl.c -- response rate limiting: per-prefix token buckets in a
 * fixed, set-associative table (server/rrl.h).
 *
 * Tokens are kept in thousandths of an answer so the refill is exact
 * integer arithmetic: `elapsed_ms * rate` thousandths per elapsed
 * millisecond, capped at one second's worth.  The set index comes from
 * SipHash-1-3 of the prefix under a per-table key, the keyed hash that
 * hash tables facing the network use so that an attacker cannot choose
 * colliding inputs.
 */
#include "server/rrl.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

#include "common/wire.h"

#define TOKEN 1000 /* thousandths of an answer */

static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPROUND(v0, v1, v2, v3)   \
	do {                       \
		v0 += v1;          \
		v1 = rotl(v1, 13); \
		v1 ^= v0;          \
		v0 = rotl(v0, 32); \
		v2 += v3;          \
		v3 = rotl(v3, 16); \
		v3 ^= v2;          \
		v0 += v3;          \
		v3 = rotl(v3, 21); \
		v3 ^= v0;          \
		v2 += v1;          \
		v1 = rotl(v1, 17); \
		v1 ^= v2;          \
		v2 = rotl(v2, 32); \
	} while (0)

/* SipHash-1-3 of a 24-octet block (the 17-octet key, zero padded). */
static uint64_t siphash13(const uint64_t k[2], const uint8_t in[24])
{
	uint64_t v0 = k[0] ^ 0x736f6d6570736575ULL;
	uint64_t v1 = k[1] ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k[0] ^ 0x6c7967656e657261ULL;
	uint64_t v3 = k[1] ^ 0x7465646279746573ULL;

	for (int i = 0; i < 3; i++) {
		uint64_t m;
		memcpy(&m, in + 8 * i, 8);
		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	uint64_t b = (uint64_t)24 << 56;
	v3 ^= b;
	SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

void tal_rrl_init(tal_rrl_t *rrl, const tal_rrl_conf_t *conf, const uint8_t seed[16])
{
	memset(rrl, 0, sizeof(*rrl));
	rrl->conf = *conf;
	if (rrl->conf.v4_prefix < 1) {
		rrl->conf.v4_prefix = 1;
	} else if (rrl->conf.v4_prefix > 32) {
		rrl->conf.v4_prefix = 32;
	}
	if (rrl->conf.v6_prefix < 1) {
		rrl->conf.v6_prefix = 1;
	} else if (rrl->conf.v6_prefix > 128) {
		rrl->conf.v6_prefix = 128;
	}
	if (rrl->conf.slip > TAL_RRL_SLIP_MAX) {
		rrl->conf.slip = TAL_RRL_SLIP_MAX;
	}
	memcpy(rrl->seed, seed, sizeof(rrl->seed));
}

/* Keeps the first `bits` bits of `n` octets at `p`, zeroes the rest. */
static void mask_prefix(uint8_t *p, size_t n, unsigned bits)
{
	for (size_t i = 0; i<n; i++, bits = bits> 8 ? bits - 8 : 0) {
		if (bits < 8) {
			p[i] &= (uint8_t)(0xff00u >> bits);
		}
	}
}

/* The bucket key of `addr`; false for a family RRL does not know or an exempt client. */
static bool make_key(const tal_rrl_t *rrl, const struct sockaddr *addr, uint8_t key[17])
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(key, 0, 17);
	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
		key[0] = 4;
		memcpy(key + 1, &sin->sin_addr, 4);
	} else if (addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)addr;
		const uint8_t *a = sin6->sin6_addr.s6_addr;
		if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0) {
			key[0] = 4;
			memcpy(key + 1, a + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, a, 16);
		}
	} else {
		return false;
	}
	if (!rrl->conf.loopback) {
		static const uint8_t v6loop[16] = {
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
		};
		if ((key[0] == 4 && key[1] == 127) ||
		    (key[0] == 6 && memcmp(key + 1, v6loop, 16) == 0)) {
			return false;
		}
	}
	if (key[0] == 4) {
		mask_prefix(key + 1, 4, rrl->conf.v4_prefix);
	} else {
		mask_prefix(key + 1, 16, rrl->conf.v6_prefix);
	}
	return true;
}

/* The bucket of `key`: its own, or the set's least recently used one, reset. */
static tal_rrl_bucket_t *find_bucket(tal_rrl_t *rrl, const uint8_t key[17], uint64_t now_ms)
{
	uint8_t block[24] = { 0 };

	memcpy(block, key, 17);
	uint64_t h = siphash13(rrl->seed, block);
	size_t set = (size_t)(h & (TAL_RRL_BUCKETS / TAL_RRL_WAYS - 1)) * TAL_RRL_WAYS;
	tal_rrl_bucket_t *victim = NULL;

	for (size_t i = 0; i < TAL_RRL_WAYS; i++) {
		tal_rrl_bucket_t *b = &rrl->buckets[set + i];
		if (b->used && memcmp(b->key, key, 17) == 0) {
			return b;
		}
		if (!b->used) {
			if (victim == NULL || victim->used) {
				victim = b;
			}
		} else if (victim == NULL || (victim->used && b->seen < victim->seen)) {
			victim = b;
		}
	}
	if (victim->used) {
		rrl->stats.evicted++;
	}
	memcpy(victim->key, key, 17);
	victim->used = 1;
	victim->slip_count = 0;
	victim->tokens = (int64_t)rrl->conf.rate * TOKEN;
	victim->last_ms = now_ms;
	return victim;
}

tal_rrl_action_t tal_rrl_check(tal_rrl_t *rrl, const struct sockaddr *addr, uint64_t now_ms)
{
	uint8_t key[17];

	if (rrl->conf.rate == 0 || !make_key(rrl, addr, key)) {
		rrl->stats.passed++;
		return TAL_RRL_PASS;
	}
	tal_rrl_bucket_t *b = find_bucket(rrl, key, now_ms);
	b->seen = ++rrl->clock;
	int64_t cap = (int64_t)rrl->conf.rate * TOKEN;
	if (now_ms > b->last_ms) {
		uint64_t elapsed = now_ms - b->last_ms;
		/* A second refills the bucket; beyond that, no arithmetic is needed. */
		int64_t add = elapsed >= 1000 ? cap : (int64_t)elapsed * rrl->conf.rate;
		b->tokens = b->tokens + add > cap ? cap : b->tokens + add;
		b->last_ms = now_ms;
	}
	if (b->tokens >= TOKEN) {
		b->tokens -= TOKEN;
		b->slip_count = 0;
		rrl->stats.passed++;
		return TAL_RRL_PASS;
	}
	b->slip_count++;
	if (rrl->conf.slip != 0 && b->slip_count % rrl->conf.slip == 0) {
		rrl->stats.slipped++;
		return TAL_RRL_SLIP;
	}
	rrl->stats.dropped++;
	return TAL_RRL_DROP;
}

size_t tal_rrl_truncate(uint8_t *msg, size_t len)
{
	size_t off = 12;

	if (len < 12 || !(msg[2] & 0x80)) {
		return 0;
	}
	uint16_t qdcount = tal_wire_read_u16(msg + 4);
	if (qdcount > 1) {
		return 0;
	}
	if (qdcount == 1) {
		/* The query layer writes the question uncompressed. */
		for (;;) {
			if (off >= len) {
				return 0;
			}
			uint8_t l = msg[off];
			if (l == 0) {
				off++;
				break;
			}
			if (l > 63) {
				return 0;
			}
			off += 1u + l;
		}
		if (off + 4 > len) {
			return 0;
		}
		off += 4;
	}
	msg[2] |= 0x02; /* TC */
	memset(msg + 6, 0, 6);
	return off;
}
