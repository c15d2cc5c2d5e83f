/*
 * tests/unit/test_rrl.c -- response rate limiting (server/rrl.h): token
 * buckets per prefix, slip, refill, prefix lengths, the table under many
 * prefixes, and the truncated answer that slips out.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire.h"
#include "server/rrl.h"
#include "tests/unit/tap.h"

static const uint8_t seed[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static struct sockaddr_storage v4(const char *text)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, text, &sin->sin_addr);
	return ss;
}

static struct sockaddr_storage v6(const char *text)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, text, &sin6->sin6_addr);
	return ss;
}

static tal_rrl_action_t check(tal_rrl_t *r, struct sockaddr_storage ss, uint64_t now)
{
	return tal_rrl_check(r, (const struct sockaddr *)&ss, now);
}

/* Answers passed out of `n` sent at time `now` from `addr`. */
static unsigned burst(tal_rrl_t *r, const char *addr, unsigned n, uint64_t now)
{
	unsigned passed = 0;
	struct sockaddr_storage ss = strchr(addr, ':') != NULL ? v6(addr) : v4(addr);

	for (unsigned i = 0; i < n; i++) {
		passed += check(r, ss, now) == TAL_RRL_PASS;
	}
	return passed;
}

static tal_rrl_t *new_rrl(uint32_t rate, uint32_t slip, uint8_t p4, uint8_t p6)
{
	tal_rrl_conf_t conf = { .rate = rate, .slip = slip, .v4_prefix = p4, .v6_prefix = p6 };
	tal_rrl_t *r = malloc(sizeof(*r));

	tal_rrl_init(r, &conf, seed);
	return r;
}

static void test_bucket(void)
{
	tal_rrl_t *r = new_rrl(10, 0, 24, 56);

	is_int(10, burst(r, "192.0.2.1", 50, 1000), "a prefix gets a burst of one second's rate");
	is_int(0, burst(r, "192.0.2.200", 5, 1000), "the rest of its /24 shares the bucket");
	is_int(10, burst(r, "198.51.100.1", 50, 1000), "another /24 has its own bucket");
	is_int(1, burst(r, "192.0.2.1", 5, 1100), "100 ms later one answer is due");
	is_int(10, burst(r, "192.0.2.1", 50, 5000),
	       "after a quiet spell the burst is back, no more");
	is_int(10, r->stats.passed - 1 - 10 - 10, "passed answers are counted");
	is_int(160 - r->stats.passed, r->stats.dropped,
	       "with slip 0 every limited answer is dropped");
	is_int(0, r->stats.slipped, "and none slips");
	free(r);
}

static void test_rate_over_time(void)
{
	tal_rrl_t *r = new_rrl(200, 0, 24, 56);
	unsigned passed = 0;

	/* Ten seconds of a 2000 q/s flood, one query every half millisecond. */
	for (uint64_t t = 0; t < 20000; t++) {
		passed += burst(r, "203.0.113.9", 1, 10000 + t / 2);
	}
	ok(passed >= 200 + 200 * 9 && passed <= 200 + 200 * 10 + 1,
	   "a 2000 q/s flood gets the burst plus 200 answers a second (%u in 10 s)", passed);
	free(r);
}

static void test_slip(void)
{
	tal_rrl_t *r = new_rrl(1, 2, 24, 56);
	struct sockaddr_storage a = v4("192.0.2.7");

	is_int(TAL_RRL_PASS, check(r, a, 100), "the first answer passes");
	is_int(TAL_RRL_DROP, check(r, a, 100), "the first limited answer is dropped");
	is_int(TAL_RRL_SLIP, check(r, a, 100), "the second slips out truncated");
	is_int(TAL_RRL_DROP, check(r, a, 100), "the third is dropped");
	is_int(TAL_RRL_SLIP, check(r, a, 100), "the fourth slips");
	is_int(2, r->stats.slipped, "slips are counted");
	is_int(2, r->stats.dropped, "drops are counted");
	free(r);

	r = new_rrl(1, 1, 24, 56);
	check(r, a, 0);
	is_int(TAL_RRL_SLIP, check(r, a, 0), "with slip 1 every limited answer slips");
	is_int(TAL_RRL_SLIP, check(r, a, 0), "every one");
	free(r);
}

static void test_prefixes(void)
{
	tal_rrl_t *r = new_rrl(5, 0, 32, 56);

	is_int(5, burst(r, "192.0.2.2", 20, 0), "with /32 one address is limited");
	is_int(5, burst(r, "192.0.2.3", 20, 0), "and its neighbour is not");

	is_int(5, burst(r, "2001:db8:1:ff00::1", 20, 0), "an IPv6 client is limited");
	is_int(0, burst(r, "2001:db8:1:ff99::2", 20, 0), "its /56 shares the bucket");
	is_int(5, burst(r, "2001:db8:1:100::1", 20, 0), "the next /56 does not");
	is_int(0, burst(r, "::ffff:192.0.2.2", 20, 0), "an IPv4-mapped address counts as IPv4");
	free(r);

	r = new_rrl(5, 0, 0, 200);
	is_int(1, r->conf.v4_prefix, "an IPv4 prefix of 0 is clamped to 1");
	is_int(128, r->conf.v6_prefix, "an IPv6 prefix over 128 is clamped to 128");
	free(r);

	r = new_rrl(0, 2, 24, 56);
	is_int(1000, burst(r, "192.0.2.1", 1000, 0), "rate 0 disables the limit");
	free(r);

	r = new_rrl(5, 0, 24, 56);
	struct sockaddr_storage unix_addr;
	memset(&unix_addr, 0, sizeof(unix_addr));
	unix_addr.ss_family = AF_UNIX;
	unsigned passed = 0;
	for (int i = 0; i < 20; i++) {
		passed += check(r, unix_addr, 0) == TAL_RRL_PASS;
	}
	is_int(20, passed, "an unknown family is not limited");
	free(r);
}

static void test_loopback(void)
{
	tal_rrl_t *r = new_rrl(5, 1, 24, 56);

	is_int(100, burst(r, "127.0.0.2", 100, 0), "loopback clients are exempt by default");
	is_int(100, burst(r, "127.255.0.9", 100, 0), "all of 127.0.0.0/8");
	is_int(100, burst(r, "::1", 100, 0), "and ::1");
	is_int(100, burst(r, "::ffff:127.0.0.1", 100, 0), "and IPv4-mapped 127.0.0.1");
	is_int(5, burst(r, "::2", 100, 0), "but not ::2");
	is_int(5, burst(r, "128.0.0.1", 100, 0), "nor 128.0.0.1");
	free(r);

	tal_rrl_conf_t conf = {
		.rate = 5, .slip = 0, .v4_prefix = 32, .v6_prefix = 128, .loopback = true
	};
	r = malloc(sizeof(*r));
	tal_rrl_init(r, &conf, seed);
	is_int(5, burst(r, "127.0.0.2", 100, 0), "with loopback set, 127.0.0.2 is limited");
	is_int(5, burst(r, "127.0.0.3", 100, 0), "and 127.0.0.3 on its own under /32");
	is_int(5, burst(r, "::1", 100, 0), "and ::1");
	free(r);
}

static void test_table_pressure(void)
{
	tal_rrl_t *r = new_rrl(10, 0, 24, 56);
	unsigned flooder = 0, others = 0;
	char addr[64];

	flooder += burst(r, "192.0.2.1", 10, 0);
	/* Far more prefixes than buckets, each seen once, between the flooder's queries. */
	for (unsigned i = 0; i < 4 * TAL_RRL_BUCKETS; i++) {
		snprintf(addr, sizeof(addr), "10.%u.%u.1", (i >> 8) & 0xff, i & 0xff);
		if (i >= 65536) {
			snprintf(addr, sizeof(addr), "11.%u.%u.1", (i >> 8) & 0xff, i & 0xff);
		}
		others += burst(r, addr, 1, 0);
		flooder += burst(r, "192.0.2.1", 1, 0);
	}
	is_int(10, flooder, "a flooding prefix keeps its bucket while others churn the table");
	is_int(4 * TAL_RRL_BUCKETS, others, "every new prefix gets its first answer");
	ok(r->stats.evicted > 0, "idle buckets were taken over (%llu)",
	   (unsigned long long)r->stats.evicted);
	free(r);
}

static void test_truncate(void)
{
	/* A response: header, question example.com/TXT, one answer RR. */
	uint8_t msg[] = {
		0x12, 0x34, 0x84, 0x00, 0,   1, 0,   1,    0,    0, 0, 1,  7,   'e', 'x',
		'a',  'm',  'p',  'l',  'e', 3, 'c', 'o',  'm',  0, 0, 16, 0,   1,   0xc0,
		12,   0,    16,   0,    1,   0, 0,   0x0e, 0x10, 0, 4, 3,  'a', 'b', 'c'
	};
	size_t len = tal_rrl_truncate(msg, sizeof(msg));

	is_int(29, len, "a truncated answer is the header and the question");
	ok(msg[2] & 0x02, "with TC set");
	ok((msg[2] & 0x84) == 0x84, "still a response with AA");
	is_int(1, tal_wire_read_u16(msg + 4), "one question");
	is_int(0,
	       tal_wire_read_u16(msg + 6) + tal_wire_read_u16(msg + 8) +
	               tal_wire_read_u16(msg + 10),
	       "no records");
	is_int(0x1234, tal_wire_read_u16(msg), "the id is kept");

	uint8_t query[] = { 0, 1, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	is_int(0, tal_rrl_truncate(query, sizeof(query)),
	       "a query is not truncated into an answer");
	uint8_t cut[] = { 0, 1, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, 'e', 'x' };
	is_int(0, tal_rrl_truncate(cut, sizeof(cut)), "a question running past the end gives 0");
	uint8_t ptr[] = { 0, 1, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1 };
	is_int(0, tal_rrl_truncate(ptr, sizeof(ptr)), "a compressed question gives 0");
	uint8_t noq[] = { 0, 1, 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0 };
	is_int(12, tal_rrl_truncate(noq, sizeof(noq)),
	       "an answer without a question is its header");
}

int main(void)
{
	test_bucket();
	test_rate_over_time();
	test_slip();
	test_prefixes();
	test_loopback();
	test_table_pressure();
	test_truncate();
	return tap_done();
}
