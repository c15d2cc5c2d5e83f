/*
 * tests/unit/relay/test_milter.c -- the milter's message readers (From:
 * addresses, certificate CN, Authentication-Results) and its address
 * ranges, against well-formed, malformed and hostile header values.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/error.h"
#include "tests/unit/tap.h"
#include "tools/tallow-milter/conf.h"
#include "tools/tallow-milter/msg.h"

static void from(const char *value, int naddr, const char *addr)
{
	char out[256];
	is_int(naddr, tal_milter_from_address(value, out, sizeof(out)), "address count of [%s]",
	       value);
	if (addr != NULL) {
		is_str(addr, out, "address of [%s]", value);
	}
}

static void test_from(void)
{
	from("a@example.com", 1, "a@example.com");
	from("  <a@example.com>  ", 1, "a@example.com");
	from("Alice <a@example.com>", 1, "a@example.com");
	from("\"Smith, Alice\" <a@example.com>", 1, "a@example.com");
	from("\"Alice <evil@x.example>\" <a@example.com>", 1, "a@example.com");
	from("\"Quote \\\" inside, too\" <a@example.com>", 1, "a@example.com");
	from("a@example.com (Alice, at work)", 1, "a@example.com");
	from("(evil@x.example) a@example.com", 1, "a@example.com");
	from("Alice (nested (comment, with) comma) <a@example.com>", 1, "a@example.com");
	from("A <a@example.com>, B <b@example.org>", 2, "a@example.com");
	from("a@example.com, b@example.org", 2, NULL);
	from("a@example.com,", 1, "a@example.com");
	from("", 0, NULL);
	from("   ", 0, NULL);
	from("(only a comment)", 0, NULL);
	/* Addresses a mail client could read another way than we do. */
	from("<victim@brand.example> <me@mine.example>", 2, NULL);
	from("<victim@brand.example>me@mine.example", 2, NULL);
	from("ceo@brand.example <me@mine.example>", 2, NULL);
	from("Alice <a@example.com> trailing", 2, NULL);
	from("a@example.com>", 2, NULL);
	/* Unterminated constructs: never more than one reading, never a crash. */
	from("\"unterminated <a@example.com>", 1, "");
	from("(unterminated a@example.com", 0, NULL);
	from("<a@example.com", 1, "a@example.com");

	char big[3000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[100] = '@';
	char out[64];
	is_int(1, tal_milter_from_address(big, out, sizeof(out)), "huge address counted once");
	is_int(63, strlen(out), "huge address cut to the output size");
}

static void test_domain(void)
{
	char a[64];
	strcpy(a, "user@Example.COM");
	is_str("Example.COM", tal_milter_address_domain(a), "domain of user@Example.COM");
	strcpy(a, "user@example.com>");
	is_str("example.com", tal_milter_address_domain(a), "trailing > removed");
	strcpy(a, "\"a@b\"@example.com");
	is_str("example.com", tal_milter_address_domain(a), "last @ wins");
	strcpy(a, "nodomain");
	ok(tal_milter_address_domain(a) == NULL, "no @: no domain");
	strcpy(a, "user@");
	ok(tal_milter_address_domain(a) == NULL, "empty domain");
}

static void test_cert(void)
{
	char cn[128];
	tal_milter_subject_cn("mail.protection.outlook.com", cn, sizeof(cn));
	is_str("mail.protection.outlook.com", cn, "Postfix passes the CN");
	tal_milter_subject_cn("/C=US/ST=WA/O=Microsoft Corporation/CN=mail.protection.outlook.com",
	                      cn, sizeof(cn));
	is_str("mail.protection.outlook.com", cn, "Sendmail DN");
	tal_milter_subject_cn("CN=first.example,CN=last.example", cn, sizeof(cn));
	is_str("last.example", cn, "the last CN of an RFC 4514 DN");
	ok(tal_milter_cn_matches("MAIL.protection.outlook.com", "mail.protection.outlook.com"),
	   "CN match is case-insensitive");
	ok(tal_milter_cn_matches("mail.protection.outlook.com", "*.outlook.com"), "wildcard");
	ok(!tal_milter_cn_matches("outlook.com", "*.outlook.com"), "wildcard needs a label");
	ok(!tal_milter_cn_matches("evil-outlook.com", "*.outlook.com"), "wildcard on a label edge");
	ok(!tal_milter_cn_matches("mail.protection.outlook.com.evil.example",
	                          "mail.protection.outlook.com"),
	   "no prefix match");
}

static void test_ar(void)
{
	const char *good[] = {
		"mx.example.net; spf=pass smtp.mailfrom=x; dkim=pass (2048-bit key) "
		"header.d=Contoso.onmicrosoft.com. header.s=selector1",
	};
	ok(tal_milter_dkim_pass(good, 1, "MX.example.net", "contoso.onmicrosoft.com"),
	   "dkim=pass for the domain from the trusted id");
	ok(!tal_milter_dkim_pass(good, 1, "mx.example.net", "other.onmicrosoft.com"),
	   "another header.d");
	ok(!tal_milter_dkim_pass(good, 1, "mx.example", "contoso.onmicrosoft.com"),
	   "authserv-id is matched whole");
	const char *foreign[] = { "evil.example; dkim=pass header.d=contoso.onmicrosoft.com",
		                  "mx.example.net (evil.example); dkim=fail "
		                  "header.d=contoso.onmicrosoft.com" };
	ok(!tal_milter_dkim_pass(foreign, 2, "mx.example.net", "contoso.onmicrosoft.com"),
	   "a pass from another id, a fail from ours");
	const char *split[] = {
		"mx.example.net; dkim=pass header.d=other.example; dkim=fail "
		"header.d=contoso.onmicrosoft.com",
	};
	ok(!tal_milter_dkim_pass(split, 1, "mx.example.net", "contoso.onmicrosoft.com"),
	   "pass and domain must be in the same result");
	const char *commented[] = {
		"mx.example.net 1; dkim=pass (header.d=evil.example) "
		"header.d=contoso.onmicrosoft.com",
		"mx.example.net; dkim=fail (dkim=pass) header.d=contoso.onmicrosoft.com",
	};
	ok(tal_milter_dkim_pass(commented, 1, "mx.example.net", "contoso.onmicrosoft.com"),
	   "version and comments ignored");
	ok(!tal_milter_dkim_pass(commented + 1, 1, "mx.example.net", "contoso.onmicrosoft.com"),
	   "a pass inside a comment does not count");
	const char *empty[] = { "", ";;;", "mx.example.net" };
	ok(!tal_milter_dkim_pass(empty, 3, "mx.example.net", "contoso.onmicrosoft.com"),
	   "empty and truncated headers");
}

static void test_ranges(void)
{
	char path[64] = "/tmp/tallow-test-ranges-";
	size_t plen = strlen(path);
	memset(path + plen, 'X', 6); /* the mkstemp(3) template */
	path[plen + 6] = '\0';
	int fd = mkstemp(path);
	const char *text = "# Exchange Online\n40.107.0.0/16\n  52.100.0.0/14  # comment\n"
	                   "2a01:111:f400::/48\n192.0.2.1\n\n";
	if (!tap_ok(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text),
	            "ranges file written")) {
		return;
	}
	close(fd);
	mconf_t c;
	mconf_init(&c);
	c.ranges_file = strdup(path);
	is_int(0, mconf_load_ranges(&c), "ranges loaded");
	is_int(4, c.nranges, "four ranges");

	struct sockaddr_in s4 = { .sin_family = AF_INET };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	struct {
		const char *addr;
		bool in;
	} cases[] = { { "40.107.1.2", true },          { "40.108.0.1", false },
		      { "52.103.255.255", true },      { "52.104.0.0", false },
		      { "192.0.2.1", true },           { "192.0.2.2", false },
		      { "2a01:111:f400:1::25", true }, { "2a01:111:f401::25", false },
		      { "::ffff:40.107.9.9", true },   { "::ffff:10.0.0.1", false } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool in;
		if (strchr(cases[i].addr, ':') != NULL) {
			inet_pton(AF_INET6, cases[i].addr, &s6.sin6_addr);
			in = mconf_in_ranges(&c, &s6);
		} else {
			inet_pton(AF_INET, cases[i].addr, &s4.sin_addr);
			in = mconf_in_ranges(&c, &s4);
		}
		is_int(cases[i].in, in, "%s %s the ranges", cases[i].addr,
		       cases[i].in ? "in" : "outside");
	}
	ok(!mconf_in_ranges(&c, NULL), "no address (unix socket) is outside");
	mconf_deinit(&c);

	const char *bad[] = { "40.107.0.0/33\n", "2a01::/129\n", "40.107.0.0/\n", "example.com\n",
		              "40.107.0.0/16 extra\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		FILE *f = fopen(path, "w");
		fputs(bad[i], f);
		fclose(f);
		mconf_init(&c);
		c.ranges_file = strdup(path);
		is_int(TAL_ESYNTAX, mconf_load_ranges(&c), "bad range line %zu refused", i);
		mconf_deinit(&c);
	}
	unlink(path);
}

int main(void)
{
	test_from();
	test_domain();
	test_cert();
	test_ar();
	test_ranges();
	return tap_done();
}
