/*
 * tests/unit/relay/test_relay.c -- the relay-side lookup library: the TAL1
 * TXT parser against well-formed, malformed and hostile records, the
 * per-zone decision, name normalisation, configuration errors, and the
 * lookup deadline against a loopback server that never answers.
 *
 * This file lives in a subfolder because it links tal_relay (libunbound),
 * which the generic unit-test rule in tests/CMakeLists.txt does not.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/error.h"
#include "tests/unit/tap.h"
#include "tools/relay/relay.h"

#define GUID_A "72f988bf-86f1-41af-91ab-2d7cd011db47"
#define GUID_B "00000000-1111-2222-3333-444444444444"

static const uint8_t ID_A[16] = { 0x72, 0xf9, 0x88, 0xbf, 0x86, 0xf1, 0x41, 0xaf,
	                          0x91, 0xab, 0x2d, 0x7c, 0xd0, 0x11, 0xdb, 0x47 };

static tal_relay_txt_t parse(const char *s)
{
	tal_relay_txt_t t;
	tal_relay_txt_parse_text(s, strlen(s), &t);
	return t;
}

/* The input as a test name: control and non-ASCII octets shown as '?'. */
static const char *label(const char *s)
{
	static char out[200];
	size_t i;
	for (i = 0; s[i] != '\0' && i < sizeof(out) - 1; i++) {
		unsigned char c = (unsigned char)s[i];
		out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[i] = '\0';
	return out;
}

static void expect_kind(const char *s, tal_relay_txt_kind_t kind)
{
	tal_relay_txt_t t = parse(s);
	is_int(kind, t.kind, "kind of \"%s\"", label(s));
}

static void expect_bad(const char *s, const char *why)
{
	tal_relay_txt_t t = parse(s);
	is_int(TAL_RELAY_TXT_BAD, t.kind, "\"%s\" is malformed", label(s));
	is_str(why, t.why, "reason for \"%s\"", label(s));
}

static void test_wellformed(void)
{
	tal_relay_txt_t t;

	t = parse("v=TAL1");
	is_int(TAL_RELAY_TXT_POLICY, t.kind, "v=TAL1 alone is a deny-all policy");
	is_str("", t.dkim, "no dkim");

	t = parse("v=TAL1; tid=" GUID_A);
	is_int(TAL_RELAY_TXT_TENANT, t.kind, "tenant record");
	is_mem(ID_A, t.tid, 16, "tid octets");
	is_str("", t.dkim, "no dkim on a tenant record without one");

	t = parse("v=TAL1;tid=72F988BF-86F1-41AF-91AB-2D7CD011DB47;dkim=Contoso.onmicrosoft.COM.");
	is_int(TAL_RELAY_TXT_TENANT, t.kind, "upper-case tid, no spaces");
	is_mem(ID_A, t.tid, 16, "upper-case tid octets");
	is_str("contoso.onmicrosoft.com", t.dkim, "dkim normalised");

	t = parse("v=TAL1; tid={" GUID_A "}");
	is_int(TAL_RELAY_TXT_TENANT, t.kind, "braced tid");
	is_mem(ID_A, t.tid, 16, "braced tid octets");

	t = parse("v=TAL1 ;\t TID = " GUID_A " ; DKIM=contoso.onmicrosoft.com ;; ");
	is_int(TAL_RELAY_TXT_TENANT, t.kind, "blanks, upper-case tags, empty terms");
	is_str("contoso.onmicrosoft.com", t.dkim, "dkim with blanks");

	t = parse("v=TAL1; platform=m365; tid=" GUID_A "; x-future=a=b");
	is_int(TAL_RELAY_TXT_TENANT, t.kind, "unknown tags ignored");
	is_mem(ID_A, t.tid, 16, "tid among unknown tags");

	t = parse("v=TAL1; future=1");
	is_int(TAL_RELAY_TXT_POLICY, t.kind, "only unknown tags: a policy with no tenant");

	t = parse("v=TAL1;");
	is_int(TAL_RELAY_TXT_POLICY, t.kind, "trailing semicolon");
}

static void test_not_ours(void)
{
	expect_kind("", TAL_RELAY_TXT_OTHER);
	expect_kind("v=TAL", TAL_RELAY_TXT_OTHER);
	expect_kind("tid=" GUID_A, TAL_RELAY_TXT_OTHER);
	expect_kind("v=spf1 -all", TAL_RELAY_TXT_OTHER);
	expect_kind(("v=TAL10; tid=" GUID_A), TAL_RELAY_TXT_OTHER);
	expect_kind("v=TAL2; tid=" GUID_A, TAL_RELAY_TXT_OTHER);
	expect_kind("v=TAL1x", TAL_RELAY_TXT_OTHER);
	expect_kind("v=TAL1 tid=" GUID_A, TAL_RELAY_TXT_OTHER);
	expect_kind("V=TAL1; tid=" GUID_A, TAL_RELAY_TXT_OTHER);
	expect_kind("v=tal1; tid=" GUID_A, TAL_RELAY_TXT_OTHER);
	expect_kind(" v=TAL1; tid=" GUID_A, TAL_RELAY_TXT_OTHER);
	expect_kind("\"v=TAL1; tid=" GUID_A "\"", TAL_RELAY_TXT_OTHER);

	tal_relay_txt_t t;
	tal_relay_txt_parse_text("v=TAL1\0; tid=" GUID_A, 49, &t);
	is_int(TAL_RELAY_TXT_OTHER, t.kind, "NUL right after the version: not TAL1");
	tal_relay_txt_parse_text(NULL, 0, &t);
	is_int(TAL_RELAY_TXT_OTHER, t.kind, "NULL text");
}

static void test_malformed(void)
{
	expect_bad("v=TAL1; tid=" GUID_A "; tid=" GUID_B, "tid given twice: \"" GUID_B "\"");
	expect_bad("v=TAL1; tid=" GUID_A "; tid=" GUID_A, "tid given twice: \"" GUID_A "\"");
	expect_bad("v=TAL1; tid=not-a-guid", "bad tid \"not-a-guid\"");
	expect_bad("v=TAL1; tid=", "bad tid \"\"");
	expect_bad("v=TAL1; tid= ;", "bad tid \"\"");
	expect_bad("v=TAL1; tid=72f988bf-86f1-41af-91ab-2d7cd011db4",
	           "bad tid \"72f988bf-86f1-41af-91ab-2d7cd011db4\"");
	expect_bad("v=TAL1; tid=72f988bf-86f1-41af-91ab-2d7cd011db477",
	           "bad tid \"72f988bf-86f1-41af-91ab-2d7cd011db477\"");
	expect_bad("v=TAL1; tid=g2f988bf-86f1-41af-91ab-2d7cd011db47",
	           "bad tid \"g2f988bf-86f1-41af-91ab-2d7cd011db47\"");
	expect_bad("v=TAL1; tid=72f988bf086f1-41af-91ab-2d7cd011db47",
	           "bad tid \"72f988bf086f1-41af-91ab-2d7cd011db47\"");
	expect_bad("v=TAL1; tid=72f988bf86f141af91ab2d7cd011db47",
	           "bad tid \"72f988bf86f141af91ab2d7cd011db47\"");
	expect_bad("v=TAL1; tid={" GUID_A, "bad tid \"{" GUID_A "\"");
	expect_bad("v=TAL1; tid=(" GUID_A ")", "bad tid \"(" GUID_A ")\"");
	expect_bad("v=TAL1; tid=+2f988bf-86f1-41af-91ab-2d7cd011db47",
	           "bad tid \"+2f988bf-86f1-41af-91ab-2d7cd011db47\"");
	expect_bad("v=TAL1; tid=" GUID_A "0000000000", "bad tid \"" GUID_A "0000...\"");
	expect_bad("v=TAL1; tid", "term without '=': \"tid\"");
	expect_bad("v=TAL1; allow-all", "term without '=': \"allow-all\"");
	expect_bad("v=TAL1; =" GUID_A, "term without a tag: \"=" GUID_A "\"");
	expect_bad("v=TAL1; v=TAL1; tid=" GUID_A, "v given twice: \"TAL1\"");
	expect_bad("v=TAL1; dkim=contoso.onmicrosoft.com",
	           "dkim without tid \"contoso.onmicrosoft.com\"");
	expect_bad("v=TAL1; tid=" GUID_A "; dkim=", "bad dkim domain \"\"");
	expect_bad("v=TAL1; tid=" GUID_A "; dkim=-x.example", "bad dkim domain \"-x.example\"");
	expect_bad("v=TAL1; tid=" GUID_A "; dkim=a..example", "bad dkim domain \"a..example\"");
	expect_bad("v=TAL1; tid=" GUID_A "; dkim=a.example; dkim=b.example",
	           "dkim given twice: \"b.example\"");
	expect_bad("v=TAL1; tid=" GUID_A "; dkim=b\xc3\xbc"
	           "cher.example",
	           "octet 0xc3 at offset 56 in \"v=TAL1; tid=72f988bf-86f1-41af-91ab-2d7c...\"");
	expect_bad("v=TAL1; tid=" GUID_A "\r\n",
	           "octet 0x0d at offset 48 in \"v=TAL1; tid=72f988bf-86f1-41af-91ab-2d7c...\"");
	expect_bad("v=TAL1; tid=" GUID_A "\x7f",
	           "octet 0x7f at offset 48 in \"v=TAL1; tid=72f988bf-86f1-41af-91ab-2d7c...\"");

	tal_relay_txt_t t;
	tal_relay_txt_parse_text("v=TAL1; tid=" GUID_A "\0junk", 53, &t);
	is_int(TAL_RELAY_TXT_BAD, t.kind, "embedded NUL after the tid is malformed");
	is_str("octet 0x00 at offset 48 in \"v=TAL1; tid=72f988bf-86f1-41af-91ab-2d7c...\"", t.why,
	       "embedded NUL reason");
	tal_relay_txt_parse_text("v=TAL1; tid=72f988bf\0"
	                         "86f1-41af-91ab-2d7cd011db47",
	                         48, &t);
	is_int(TAL_RELAY_TXT_BAD, t.kind, "NUL inside the GUID is malformed");
	is_str("octet 0x00 at offset 20 in \"v=TAL1; tid=72f988bf\\00086f1-41af-91ab-2d7c...\"",
	       t.why, "NUL inside the GUID reason, escaped");
}

static void test_huge(void)
{
	size_t n = 65000;
	char *s = malloc(n + 64);
	tal_relay_txt_t t;

	/* A record of 65000 octets: the tid comes after 64000 empty terms. */
	memcpy(s, "v=TAL1", 6);
	memset(s + 6, ';', 64000);
	size_t len = 6 + 64000;
	len += (size_t)sprintf(s + len, "; tid=%s", GUID_A);
	tal_relay_txt_parse_text(s, len, &t);
	is_int(TAL_RELAY_TXT_TENANT, t.kind, "tid after 64000 empty terms");
	is_mem(ID_A, t.tid, 16, "tid of the huge record");

	/* A huge unknown tag value is ignored. */
	len = (size_t)sprintf(s, "v=TAL1; tid=%s; x=", GUID_A);
	memset(s + len, 'a', n - len);
	tal_relay_txt_parse_text(s, n, &t);
	is_int(TAL_RELAY_TXT_TENANT, t.kind, "huge unknown value ignored");

	/* A huge tid value is malformed, and the reason stays short. */
	len = (size_t)sprintf(s, "v=TAL1; tid=");
	memset(s + len, 'f', n - len);
	tal_relay_txt_parse_text(s, n, &t);
	is_int(TAL_RELAY_TXT_BAD, t.kind, "huge tid is malformed");
	is_str("bad tid \"ffffffffffffffffffffffffffffffffffffffff...\"", t.why,
	       "huge tid reason is cut");

	/* A huge dkim value does not overflow the name buffer. */
	len = (size_t)sprintf(s, "v=TAL1; tid=%s; dkim=", GUID_A);
	memset(s + len, 'b', n - len);
	tal_relay_txt_parse_text(s, n, &t);
	is_int(TAL_RELAY_TXT_BAD, t.kind, "huge dkim is malformed");
	is_str("bad dkim domain \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...\"", t.why,
	       "huge dkim reason");
	free(s);
}

/* The parser must not read one octet past its input: put it against a guard page. */
static void test_guard_page(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char *map = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE,
	                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!tap_ok(map != MAP_FAILED, "guard page mapped")) {
		return;
	}
	mprotect(map + page, (size_t)page, PROT_NONE);
	static const char *const inputs[] = { "v=TAL1",
		                              "v=TAL1;",
		                              "v=TAL1; tid=" GUID_A,
		                              "v=TAL1; tid=" GUID_A "; dkim=x.example",
		                              "v=TAL1; tid",
		                              "v=TAL1; tid=7",
		                              "v=TAL1; tid={" GUID_A,
		                              "v=TAL",
		                              "v" };
	static const tal_relay_txt_kind_t kinds[] = { TAL_RELAY_TXT_POLICY, TAL_RELAY_TXT_POLICY,
		                                      TAL_RELAY_TXT_TENANT, TAL_RELAY_TXT_TENANT,
		                                      TAL_RELAY_TXT_BAD,    TAL_RELAY_TXT_BAD,
		                                      TAL_RELAY_TXT_BAD,    TAL_RELAY_TXT_OTHER,
		                                      TAL_RELAY_TXT_OTHER };
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		size_t len = strlen(inputs[i]);
		char *p = map + page - len;
		tal_relay_txt_t t;
		memcpy(p, inputs[i], len);
		tal_relay_txt_parse_text(p, len, &t);
		is_int(kinds[i], t.kind, "guard page: \"%s\"", inputs[i]);

		/* The same text as one-octet character-strings of an RDATA. */
		uint8_t *rd = (uint8_t *)map + page - 2 * len;
		for (size_t j = 0; j < len; j++) {
			rd[2 * j] = 1;
			rd[2 * j + 1] = (uint8_t)inputs[i][j];
		}
		is_int(0, tal_relay_txt_parse_rdata(rd, 2 * len, &t), "guard page rdata parses");
		is_int(kinds[i], t.kind, "guard page rdata: \"%s\"", inputs[i]);
	}
	munmap(map, (size_t)page * 2);
}

static void test_rdata(void)
{
	tal_relay_txt_t t;
	/* "v=TAL1; tid=" split mid-GUID over three strings, with an empty one. */
	uint8_t rd[128];
	size_t n = 0;
	const char *parts[] = { "v=TAL1; tid=72f988bf-", "", "86f1-41af-91ab-2d7cd011db47" };
	for (size_t i = 0; i < 3; i++) {
		rd[n++] = (uint8_t)strlen(parts[i]);
		memcpy(rd + n, parts[i], strlen(parts[i]));
		n += strlen(parts[i]);
	}
	is_int(0, tal_relay_txt_parse_rdata(rd, n, &t), "multi-string rdata parses");
	is_int(TAL_RELAY_TXT_TENANT, t.kind, "strings concatenated before parsing");
	is_mem(ID_A, t.tid, 16, "tid across strings");

	is_int(0, tal_relay_txt_parse_rdata(rd, 0, &t), "empty rdata parses");
	is_int(TAL_RELAY_TXT_OTHER, t.kind, "empty rdata is not TAL1");

	const uint8_t zero[] = { 0 };
	is_int(0, tal_relay_txt_parse_rdata(zero, 1, &t), "one empty string parses");
	is_int(TAL_RELAY_TXT_OTHER, t.kind, "one empty string is not TAL1");

	const uint8_t over[] = { 7, 'v', '=', 'T', 'A', 'L', '1' };
	is_int(TAL_EMALF, tal_relay_txt_parse_rdata(over, sizeof(over), &t),
	       "length past the end is TAL_EMALF");
	is_int(TAL_RELAY_TXT_BAD, t.kind, "overrun rdata is BAD");
	is_str("TXT character-string runs past the end of the record", t.why, "overrun reason");

	/* 255 strings of 255 octets: the largest text an RDATA can carry. */
	size_t big = 256 * 255;
	uint8_t *b = malloc(big);
	for (size_t i = 0; i < 255; i++) {
		b[i * 256] = 255;
		memset(b + i * 256 + 1, ';', 255);
	}
	memcpy(b + 1, "v=TAL1", 6);
	is_int(0, tal_relay_txt_parse_rdata(b, 255 * 256, &t), "largest rdata parses");
	is_int(TAL_RELAY_TXT_POLICY, t.kind, "largest rdata: a policy of empty terms");
	free(b);
}

static size_t rdata_of(const char *text, uint8_t *out)
{
	size_t len = strlen(text);
	out[0] = (uint8_t)len;
	memcpy(out + 1, text, len);
	return len + 1;
}

static void decide(const char *const *texts, size_t n, const uint8_t tenant[16],
                   tal_relay_result_t *res)
{
	uint8_t bufs[8][300];
	const uint8_t *rd[8];
	size_t lens[8];
	for (size_t i = 0; i < n; i++) {
		lens[i] = rdata_of(texts[i], bufs[i]);
		rd[i] = bufs[i];
	}
	memset(res, 0, sizeof(*res));
	tal_relay_decide(rd, lens, n, tenant, "example.com.tenants.test", res);
}

static void test_decide(void)
{
	tal_relay_result_t res;
	uint8_t id_b[16];
	tal_relay_tenant_parse(GUID_B, 36, id_b);

	const char *listed[] = { "v=spf1 -all", "v=TAL1; tid=" GUID_B,
		                 "v=TAL1; tid=" GUID_A "; dkim=contoso.onmicrosoft.com" };
	decide(listed, 3, ID_A, &res);
	is_int(TAL_RELAY_ALLOW, res.decision, "listed tenant: allow");
	is_str("contoso.onmicrosoft.com", res.dkim, "dkim of the listed tenant");
	is_int(2, res.ntenants, "two tenants listed");
	is_str("tenant listed at example.com.tenants.test (dkim=contoso.onmicrosoft.com)",
	       res.reason, "allow reason");

	decide(listed, 3, id_b, &res);
	is_int(TAL_RELAY_ALLOW, res.decision, "other listed tenant: allow");
	is_str("", res.dkim, "no dkim for a tenant published without one");
	is_str("tenant listed at example.com.tenants.test", res.reason, "allow reason, no dkim");

	uint8_t id_c[16];
	tal_relay_tenant_parse("{AAAAAAAA-1111-2222-3333-444444444444}", 38, id_c);
	decide(listed, 3, id_c, &res);
	is_int(TAL_RELAY_DENY, res.decision, "unlisted tenant: deny");
	is_str("", res.dkim, "no dkim on deny");
	is_str("tenant not listed in the policy at example.com.tenants.test (2 tenants listed)",
	       res.reason, "deny reason");

	const char *denyall[] = { "v=TAL1" };
	decide(denyall, 1, ID_A, &res);
	is_int(TAL_RELAY_DENY, res.decision, "deny-all policy: deny");
	is_str("policy at example.com.tenants.test allows no tenant", res.reason,
	       "deny-all reason");

	decide(NULL, 0, ID_A, &res);
	is_int(TAL_RELAY_NONE, res.decision, "NODATA: no policy");
	is_str("no TAL1 record at example.com.tenants.test", res.reason, "NODATA reason");

	const char *others[] = { "v=spf1 -all", ("v=TAL10; tid=" GUID_A), "hello" };
	decide(others, 3, ID_A, &res);
	is_int(TAL_RELAY_NONE, res.decision, "only foreign TXT: no policy");

	const char *onlybad[] = { "v=TAL1; tid=zz" };
	decide(onlybad, 1, ID_A, &res);
	is_int(TAL_RELAY_DENY, res.decision, "only malformed TAL1: deny (fail closed)");
	is_str("policy at example.com.tenants.test allows no tenant; ignored 1 malformed TAL1 "
	       "record: bad tid \"zz\"",
	       res.reason, "malformed-only reason");

	const char *mixed[] = { "v=TAL1; tid=" GUID_A "; tid=" GUID_B, "v=TAL1; tid=" GUID_B,
		                "v=TAL1; tid=" GUID_A "; dkim=" };
	decide(mixed, 3, ID_A, &res);
	is_int(TAL_RELAY_DENY, res.decision, "tenant only in malformed records: deny");
	is_str("tenant not listed in the policy at example.com.tenants.test (1 tenants listed); "
	       "ignored 2 malformed TAL1 records: tid given twice: \"" GUID_B "\"",
	       res.reason, "malformed records named in the reason");

	const char *okbad[] = { "v=TAL1; tid=" GUID_A, "v=TAL1; tid=nope" };
	decide(okbad, 2, ID_A, &res);
	is_int(TAL_RELAY_ALLOW, res.decision, "listed despite a malformed neighbour");
	is_str("tenant listed at example.com.tenants.test; ignored 1 malformed TAL1 record: "
	       "bad tid \"nope\"",
	       res.reason, "allow reason mentions the malformed record");
}

static void test_names(void)
{
	char out[TAL_RELAY_NAMESZ];
	uint8_t id[16];
	char txt[TAL_RELAY_TENANTSZ];

	is_int(0, tal_relay_domain_normalise("Example.COM.", out), "mixed case, trailing dot");
	is_str("example.com", out, "lowercased, dot dropped");
	is_int(0,
	       tal_relay_domain_normalise("B\xc3\xbc"
	                                  "cher.Example",
	                                  out),
	       "U-label");
	is_str("xn--bcher-kva.example", out, "U-label to A-label");
	is_int(0, tal_relay_domain_normalise("XN--BCHER-KVA.example", out), "A-label any case");
	is_str("xn--bcher-kva.example", out, "A-label lowercased");
	is_int(TAL_EDNAME, tal_relay_domain_normalise("", out), "empty domain");
	is_int(TAL_ELABEL_EMPTY, tal_relay_domain_normalise("a..b", out), "empty label");
	is_int(TAL_ELABEL_EMPTY, tal_relay_domain_normalise(".", out), "root alone");
	is_int(TAL_ELABEL_HYPHEN, tal_relay_domain_normalise("-a.com", out), "leading hyphen");
	is_int(TAL_ELABEL_CHAR, tal_relay_domain_normalise("a_b.com", out), "underscore");
	is_int(TAL_ELABEL_CHAR, tal_relay_domain_normalise("a b.com", out), "space");
	char label[80];
	memset(label, 'a', 64);
	strcpy(label + 64, ".com");
	is_int(TAL_ELABEL_LEN, tal_relay_domain_normalise(label, out), "64-octet label");
	char longname[300];
	for (size_t i = 0; i < 127; i++) {
		longname[2 * i] = 'a';
		longname[2 * i + 1] = '.';
	}
	longname[253] = 'a';
	longname[254] = '\0';
	is_int(TAL_EDNAME_LEN, tal_relay_domain_normalise(longname, out), "254 characters");
	longname[253] = '\0';
	is_int(0, tal_relay_domain_normalise(longname, out), "253 characters");
	is_int(253, strlen(out), "253 characters kept");
	longname[252] = '\0';
	is_int(0, tal_relay_domain_normalise(longname, out), "a long name with a trailing dot");
	is_int(251, strlen(out), "trailing dot dropped from a long name");

	is_int(0, tal_relay_tenant_parse("{72F988BF-86F1-41AF-91AB-2D7CD011DB47}", 38, id),
	       "braced upper-case GUID");
	tal_relay_tenant_format(id, txt);
	is_str(GUID_A, txt, "GUID printed lowercase");
	is_int(TAL_ETENANT, tal_relay_tenant_parse(GUID_A "}", 37, id), "unbalanced brace");
	is_int(TAL_ETENANT, tal_relay_tenant_parse("", 0, id), "empty GUID");
}

static void test_config(void)
{
	tal_relay_t *r = NULL;
	char err[256] = "";
	const char *zones[] = { "tenants.test" };
	const char *badzone[] = { "bad zone" };
	const char *servers[] = { "127.0.0.1@53" };
	const char *badserver[] = { "not-an-address" };
	tal_relay_config_t cfg = { .zones = zones, .nzones = 0 };

	is_int(TAL_EINVAL, tal_relay_new(&cfg, &r, err, sizeof(err)), "no zone");
	is_str("no policy zone given", err, "no zone message");
	cfg.nzones = 1;
	cfg.zones = badzone;
	is_int(TAL_EINVAL, tal_relay_new(&cfg, &r, err, sizeof(err)), "bad zone");
	is_str("zone \"bad zone\" has a character not allowed in a host name (letters, digits, "
	       "hyphen)",
	       err, "bad zone message");
	cfg.zones = zones;
	cfg.servers = servers;
	cfg.nservers = 1;
	cfg.resolvers = servers;
	cfg.nresolvers = 1;
	is_int(TAL_EINVAL, tal_relay_new(&cfg, &r, err, sizeof(err)), "both modes");
	cfg.nresolvers = 0;
	cfg.servers = badserver;
	is_int(TAL_EINVAL, tal_relay_new(&cfg, &r, err, sizeof(err)), "bad server address");
	is_str("server \"not-an-address\": not an address[@port]", err, "bad server message");
	cfg.servers = servers;
	cfg.trust_anchor = "/nonexistent/root.key";
	is_int(TAL_ENOENT, tal_relay_new(&cfg, &r, err, sizeof(err)), "missing trust anchor");
	is_str("trust anchor \"/nonexistent/root.key\": no such file or directory", err,
	       "missing trust anchor message");
	ok(r == NULL, "no handle on failure");
	tal_relay_free(NULL);
}

static void count_cb(void *arg, const tal_relay_result_t *res)
{
	tal_relay_result_t *out = arg;
	*out = *res;
}

/* A loopback socket that never answers: every lookup must end at its deadline. */
static void test_deadline(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	char server[64], err[256];
	const char *zones[] = { "tenants.test", "second.test" };
	const char *servers[] = { server };
	tal_relay_t *r = NULL;
	tal_relay_result_t res;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!tap_ok(fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	                    getsockname(fd, (struct sockaddr *)&sin, &slen) == 0,
	            "silent loopback socket")) {
		return;
	}
	snprintf(server, sizeof(server), "127.0.0.1@%u", ntohs(sin.sin_port));
	tal_relay_config_t cfg = {
		.zones = zones, .nzones = 2, .servers = servers, .nservers = 1, .timeout_ms = 300
	};
	is_int(0, tal_relay_new(&cfg, &r, err, sizeof(err)), "handle created");
	if (r == NULL) {
		close(fd);
		return;
	}
	is_int(0, tal_relay_check(r, "Example.com", GUID_A, &res), "blocking check returns");
	is_int(TAL_RELAY_TEMPFAIL, res.decision, "silent server: tempfail, not a later zone");
	is_str("no answer for example.com.tenants.test TXT within 300 ms", res.reason,
	       "timeout reason");
	is_str("tenants.test", res.zone, "the zone that failed");

	is_int(TAL_ELABEL_CHAR, tal_relay_submit(r, "a_b.com", GUID_A, count_cb, &res),
	       "invalid domain refused at submit");
	is_int(TAL_ETENANT, tal_relay_submit(r, "example.com", "xyz", count_cb, &res),
	       "invalid tenant refused at submit");
	is_int(TAL_ELABEL_CHAR, tal_relay_check(r, "a_b.com", GUID_A, &res),
	       "invalid domain in a blocking check");
	is_int(TAL_RELAY_DENY, res.decision, "invalid domain is a deny");
	is_str("\"a_b.com\" has a character not allowed in a host name (letters, digits, hyphen)",
	       res.reason, "invalid domain reason");

	memset(&res, 0, sizeof(res));
	is_int(0, tal_relay_submit(r, "example.org", GUID_A, count_cb, &res), "async submit");
	is_int(1, tal_relay_pending(r), "one pending");
	ok(tal_relay_next_timeout(r) > 0 && tal_relay_next_timeout(r) <= 300,
	   "next timeout within the deadline");
	tal_relay_free(r); /* frees a pending lookup; its callback does not run */
	is_str("", res.reason, "callback of a freed lookup did not run");
	close(fd);
}

int main(void)
{
	test_wellformed();
	test_not_ours();
	test_malformed();
	test_huge();
	test_guard_page();
	test_rdata();
	test_decide();
	test_names();
	test_config();
	test_deadline();
	return tap_done();
}
