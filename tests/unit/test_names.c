/*
 * tests/unit/test_names.c -- domain, tenant ID and DKIM normalisation
 * (zones/name.h), the CSV line parser (zones/csv.h) and the TAL1 TXT
 * parser that zone file import uses (zones/internal.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dname.h"
#include "common/error.h"
#include "tests/unit/tap.h"
#include "zones/csv.h"
#include "zones/internal.h"
#include "zones/name.h"

static void check_domain(const char *in, int want_rc, const char *want)
{
	char out[TAL_DOMAIN_TEXTSZ] = "";
	int rc = tal_domain_normalise(in, out);

	if (want_rc == 0) {
		is_int(0, rc, "domain \"%s\" accepted (%s)", in, tal_errname(rc));
		is_str(want, out, "domain \"%s\" normalises to \"%s\"", in, want);
	} else {
		ok(rc == want_rc, "domain \"%.60s\" refused with %s (got %s)", in,
		   tal_errname(want_rc), tal_errname(rc));
	}
}

static void test_domains(void)
{
	char buf[600];

	check_domain("example.com", 0, "example.com");
	check_domain("Example.COM", 0, "example.com");
	check_domain("example.com.", 0, "example.com");
	check_domain("mail-1.example.co.uk", 0, "mail-1.example.co.uk");
	check_domain("a", 0, "a");
	check_domain("xn--bcher-kva.example", 0, "xn--bcher-kva.example");
	check_domain("XN--BCHER-KVA.example", 0, "xn--bcher-kva.example");
	check_domain("Bücher.example", 0, "xn--bcher-kva.example");
	check_domain("bücher.example.", 0, "xn--bcher-kva.example");
	check_domain("faß.de", 0, "xn--fa-hia.de");
	check_domain("ΑΒΓ.example", 0, "xn--mxacd.example");
	check_domain("3com.com", 0, "3com.com");

	check_domain("", TAL_EDNAME, NULL);
	check_domain(".", TAL_EDNAME, NULL);
	check_domain("192.0.2.1", TAL_EDNAME, NULL);
	check_domain("a..b", TAL_ELABEL_EMPTY, NULL);
	check_domain(".example.com", TAL_ELABEL_EMPTY, NULL);
	check_domain("example.com..", TAL_ELABEL_EMPTY, NULL);
	check_domain("ex_ample.com", TAL_ELABEL_CHAR, NULL);
	check_domain("_dmarc.example.com", TAL_ELABEL_CHAR, NULL);
	check_domain("exa mple.com", TAL_ELABEL_CHAR, NULL);
	check_domain("exa\"mple.com", TAL_ELABEL_CHAR, NULL);
	check_domain("-example.com", TAL_ELABEL_HYPHEN, NULL);
	check_domain("example-.com", TAL_ELABEL_HYPHEN, NULL);
	check_domain("72f988bf-86f1-41af-91ab-2d7cd011db47.example.com", TAL_ELABEL_GUID, NULL);
	check_domain("mail.72F988BF-86F1-41AF-91AB-2D7CD011DB47.example", TAL_ELABEL_GUID, NULL);
	check_domain("xn--zzzzzz.com", TAL_EIDN, NULL);
	check_domain("xn--a.com", TAL_EIDN, NULL);
	check_domain("bad\xff.com", TAL_EIDN, NULL);

	/* Label of 63 accepted, 64 refused. */
	memset(buf, 'a', 63);
	strcpy(buf + 63, ".com");
	check_domain(buf, 0, buf);
	memset(buf, 'a', 64);
	strcpy(buf + 64, ".com");
	check_domain(buf, TAL_ELABEL_LEN, NULL);

	/* 253 characters accepted, 254 refused. */
	buf[0] = '\0';
	for (int i = 0; i < 4; i++) {
		strcat(buf,
		       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."); /* 63 */
	}
	buf[252] = 'x';
	buf[253] = '\0';
	is_int(253, (long long)strlen(buf), "253-character name built");
	check_domain(buf, 0, buf);
	buf[253] = 'x';
	buf[254] = '\0';
	check_domain(buf, TAL_EDNAME_LEN, NULL);
}

static void test_fits(void)
{
	char domain[300];
	char apex[] = "tenants.example.net"; /* 19 characters */

	/* Wire length of "<guid>.<d>.<apex>" is 40 + len(d) + len(apex). */
	size_t dl = 255 - 40 - strlen(apex); /* exactly 255 octets */
	size_t pos = 0;
	while (pos < dl) {
		size_t lab = dl - pos > 63 ? 60 : dl - pos;
		if (pos > 0) {
			domain[pos - 1] = '.';
		}
		memset(domain + pos, 'b', lab);
		pos += lab + 1;
	}
	domain[dl] = '\0';
	char norm[TAL_DOMAIN_TEXTSZ];
	is_int(0, tal_domain_normalise(domain, norm), "long domain (%zu) is valid", dl);
	is_int(0, tal_domain_fits_zone(domain, apex), "owner of exactly 255 octets fits");
	domain[dl] = 'c';
	domain[dl + 1] = '\0';
	is_int(TAL_EOWNER_LEN, tal_domain_fits_zone(domain, apex), "owner of 256 octets refused");
	is_int(0, tal_domain_fits_zone("example.com", apex), "short owner fits");
}

static void test_tenants(void)
{
	static const uint8_t want[16] = { 0x72, 0xf9, 0x88, 0xbf, 0x86, 0xf1, 0x41, 0xaf,
		                          0x91, 0xab, 0x2d, 0x7c, 0xd0, 0x11, 0xdb, 0x47 };
	static const char *good[] = {
		"72f988bf-86f1-41af-91ab-2d7cd011db47",   "72F988BF-86F1-41AF-91AB-2D7CD011DB47",
		"{72f988bf-86f1-41af-91ab-2d7cd011db47}", "{72F988BF-86f1-41AF-91ab-2D7CD011DB47}",
		"72f988bf86f141af91ab2d7cd011db47",       "{72F988BF86F141AF91AB2D7CD011DB47}",
	};
	static const char *bad[] = {
		"",
		"none",
		"72f988bf-86f1-41af-91ab-2d7cd011db4",
		"72f988bf-86f1-41af-91ab-2d7cd011db477",
		"72f988bf86f1-41af-91ab-2d7cd011db47a",
		"72f988bf-86f141af-91ab-2d7cd011db47",
		"72f988bg-86f1-41af-91ab-2d7cd011db47",
		"{72f988bf-86f1-41af-91ab-2d7cd011db47",
		"72f988bf-86f1-41af-91ab-2d7cd011db47}",
		"(72f988bf-86f1-41af-91ab-2d7cd011db47)",
		" 72f988bf-86f1-41af-91ab-2d7cd011db47",
		"72f988bf_86f1_41af_91ab_2d7cd011db47",
	};
	uint8_t id[16];
	char text[TAL_TENANT_TEXTSZ];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(id, 0, sizeof(id));
		is_int(0, tal_tenant_parse(good[i], id), "tenant \"%s\" accepted", good[i]);
		is_mem(want, id, 16, "tenant \"%s\" has the right octets", good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		is_int(TAL_ETENANT, tal_tenant_parse(bad[i], id), "tenant \"%s\" refused", bad[i]);
	}
	tal_tenant_format(want, text);
	is_str("72f988bf-86f1-41af-91ab-2d7cd011db47", text,
	       "tenant formatted lowercase 8-4-4-4-12");

	char d[TAL_DOMAIN_TEXTSZ];
	is_int(0, tal_dkim_normalise("Contoso.onmicrosoft.com", d), "dkim domain accepted");
	is_str("contoso.onmicrosoft.com", d, "dkim domain lowercased");
	is_int(TAL_EDKIM, tal_dkim_normalise("contoso..com", d), "bad dkim domain -> EDKIM");
	is_int(TAL_EDKIM, tal_dkim_normalise("con_toso.com", d), "dkim with underscore -> EDKIM");
}

static void check_csv(const char *line, int want_rc, tal_csv_kind_t kind, const char *bad)
{
	char buf[1024];
	tal_csv_line_t out;

	snprintf(buf, sizeof(buf), "%s", line);
	int rc = tal_csv_parse_line(buf, &out);
	ok(rc == want_rc, "csv \"%s\" -> %s (got %s)", line, tal_errname(want_rc), tal_errname(rc));
	if (want_rc == 0) {
		is_int(kind, out.kind, "csv \"%s\" kind", line);
	} else {
		is_str(bad, out.bad_field, "csv \"%s\" names the bad field", line);
	}
}

static void test_csv(void)
{
	char buf[256];
	tal_csv_line_t out;
	char g[TAL_TENANT_TEXTSZ];

	check_csv("", 0, TAL_CSV_SKIP, NULL);
	check_csv("   \t", 0, TAL_CSV_SKIP, NULL);
	check_csv("# comment, with, commas", 0, TAL_CSV_SKIP, NULL);
	check_csv("  # indented comment", 0, TAL_CSV_SKIP, NULL);
	check_csv("\r", 0, TAL_CSV_SKIP, NULL);
	check_csv("example.org,none", 0, TAL_CSV_NONE, NULL);
	check_csv("example.org , NONE \r", 0, TAL_CSV_NONE, NULL);
	check_csv("example.com,72f988bf-86f1-41af-91ab-2d7cd011db47", 0, TAL_CSV_TENANT, NULL);
	check_csv("example.com,72f988bf-86f1-41af-91ab-2d7cd011db47,", 0, TAL_CSV_TENANT, NULL);

	check_csv("example.com", TAL_ECSV, 0, "example.com");
	check_csv("example.com,a,b,c", TAL_ECSV, 0, "example.com,a,b,c");
	check_csv("example.org,none,contoso.com", TAL_ECSV, 0, "contoso.com");
	check_csv("exa_mple.com,72f988bf-86f1-41af-91ab-2d7cd011db47", TAL_ELABEL_CHAR, 0,
	          "exa_mple.com");
	check_csv(",72f988bf-86f1-41af-91ab-2d7cd011db47", TAL_EDNAME, 0, "");
	check_csv("example.com,xyz", TAL_ETENANT, 0, "xyz");
	check_csv("example.com, 72f988bf-86f1-41af-91ab-2d7cd011db4 ", TAL_ETENANT, 0,
	          "72f988bf-86f1-41af-91ab-2d7cd011db4");
	check_csv("example.com,72f988bf-86f1-41af-91ab-2d7cd011db47,bad..dkim", TAL_EDKIM, 0,
	          "bad..dkim");

	snprintf(buf, sizeof(buf),
	         " Example.COM ,\t{0F2A3B4C-5D6E-4F70-8192-A3B4C5D6E7F8} , "
	         "Contoso.onmicrosoft.com\r\n");
	is_int(0, tal_csv_parse_line(buf, &out), "csv line with blanks, braces and CRLF parses");
	is_str("example.com", out.domain, "csv domain normalised");
	tal_tenant_format(out.tenant.id, g);
	is_str("0f2a3b4c-5d6e-4f70-8192-a3b4c5d6e7f8", g, "csv tenant normalised");
	is_str("contoso.onmicrosoft.com", out.tenant.dkim, "csv dkim normalised");

	/* Writing: tenants one per line, deny-all as none. */
	tal_tenant_t t[2];
	memset(t, 0, sizeof(t));
	tal_tenant_parse("0f2a3b4c-5d6e-4f70-8192-a3b4c5d6e7f8", t[0].id);
	tal_tenant_parse("72f988bf-86f1-41af-91ab-2d7cd011db47", t[1].id);
	strcpy(t[1].dkim, "contoso.onmicrosoft.com");
	tal_policy_t p = { .ntenants = 2, .tenants = t };
	strcpy(p.domain, "example.com");
	char *mem = NULL;
	size_t memlen = 0;
	FILE *f = open_memstream(&mem, &memlen);
	is_int(0, tal_csv_write_policy(f, &p), "csv write of a policy");
	p.ntenants = 0;
	strcpy(p.domain, "example.org");
	is_int(0, tal_csv_write_policy(f, &p), "csv write of a deny-all policy");
	fclose(f);
	is_str("example.com,0f2a3b4c-5d6e-4f70-8192-a3b4c5d6e7f8\n"
	       "example.com,72f988bf-86f1-41af-91ab-2d7cd011db47,contoso.onmicrosoft.com\n"
	       "example.org,none\n",
	       mem, "csv output lines");
	free(mem);
}

static void check_txt(const char *txt, int want, bool want_tid, const char *want_dkim)
{
	bool has_tid = !want_tid;
	uint8_t id[16];
	char dkim[TAL_DOMAIN_TEXTSZ] = "x";
	int rc = tal__txt_parse((const uint8_t *)txt, strlen(txt), &has_tid, id, dkim);

	ok(rc == want, "TXT \"%s\" -> %d (got %d)", txt, want, rc);
	if (want == 1) {
		ok(has_tid == want_tid, "TXT \"%s\" tid %s", txt, want_tid ? "present" : "absent");
		is_str(want_dkim, dkim, "TXT \"%s\" dkim", txt);
	}
}

static void test_txt(void)
{
	check_txt("v=TAL1", 1, false, "");
	check_txt("v=TAL1; tid="
	          "72f988bf-86f1-41af-91ab-2d7cd011db47",
	          1, true, "");
	check_txt("v=TAL1;tid={72F988BF-86F1-41AF-91AB-2D7CD011DB47} ; dkim=Contoso.com ;", 1, true,
	          "contoso.com");
	check_txt("v=TAL1; future=tag; tid=72f988bf-86f1-41af-91ab-2d7cd011db47", 1, true, "");
	check_txt("v=TAL1 ; platform=m365", 1, false, "");
	check_txt("v=spf1 -all", 0, false, "");
	check_txt("v=TAL10; tid=72f988bf-86f1-41af-91ab-2d7cd011db47", 0, false, "");
	check_txt("", 0, false, "");
	check_txt("v=TAL1; tid=xyz", TAL_ETENANT, false, "");
	check_txt("v=TAL1; dkim=bad..domain", TAL_EDKIM, false, "");
	check_txt("v=TAL1; tid=72f988bf-86f1-41af-91ab-2d7cd011db47; "
	          "tid=72f988bf-86f1-41af-91ab-2d7cd011db47",
	          TAL_ESYNTAX, false, "");
	check_txt("v=TAL1; garbage", TAL_ESYNTAX, false, "");
}

/*
 * Random strings over an alphabet of the interesting characters: whatever
 * normalise accepts must be a fixed point (normalising it again gives the
 * same text) and must be refused by nothing downstream.
 */
static void test_normalise_fixed_point(void)
{
	static const char alphabet[] = "abcXYZ019-._ \xc3\xbc\xce\xb1";
	uint64_t x = 0x2545f4914f6cdd1dULL;
	int accepted = 0, fixed = 0, keyed = 0;

	for (int i = 0; i < 20000; i++) {
		char in[80], out[TAL_DOMAIN_TEXTSZ], again[TAL_DOMAIN_TEXTSZ];
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t len = 1 + x % 40;
		for (size_t k = 0; k < len; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			in[k] = alphabet[x % (sizeof(alphabet) - 1)];
		}
		in[len] = '\0';
		if (tal_domain_normalise(in, out) != 0) {
			continue;
		}
		accepted++;
		if (tal_domain_normalise(out, again) == 0 && strcmp(out, again) == 0) {
			fixed++;
		}
		uint8_t key[TAL_KEY_MAXLEN];
		if (tal_key_from_text(out, key) > 0) {
			keyed++;
		}
	}
	ok(accepted > 100, "random names: some accepted (%d)", accepted);
	is_int(accepted, fixed, "every accepted name is a fixed point of normalise");
	is_int(accepted, keyed, "every accepted name converts to a store key");
}

int main(void)
{
	test_txt();
	test_normalise_fixed_point();
	test_domains();
	test_fits();
	test_tenants();
	test_csv();
	return tap_done();
}
