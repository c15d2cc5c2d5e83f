/*
 * tools/tallowctl/ctl_journal.c -- "tallowctl journal": the zone's change
 * journal (zones/journal.h), one line per committed change, and with --rrs
 * the records each change removed and added in master-file form.
 *
 * This is an inspection tool for operators and tests: it shows that every
 * commit raised the serial by exactly one and what it published, which is
 * what an IXFR client will be sent.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/dname.h"
#include "common/error.h"
#include "common/node.h"
#include "tools/tallowctl/ctl.h"
#include "zones/journal.h"

/* Prints the RDATA of a TXT RR as quoted character-strings (RFC 1035 §5.1). */
static void print_txt(const uint8_t *rd, uint16_t len)
{
	size_t off = 0, i, n;

	while (off < len) {
		n = rd[off++];
		if (n > (size_t)len - off) {
			n = (size_t)len - off;
		}
		fputs(off > 1 ? " \"" : "\"", stdout);
		for (i = 0; i < n; i++) {
			uint8_t c = rd[off + i];
			if (c == '"' || c == '\\') {
				printf("\\%c", c);
			} else if (c < 0x20 || c > 0x7e) {
				printf("\\%03u", c);
			} else {
				putchar(c);
			}
		}
		putchar('"');
		off += n;
	}
}

static int print_rrs(char sign, const uint8_t *rrs, size_t len)
{
	char owner[TAL_DNAME_TEXTSZ];
	tal_journal_rr_t rr;
	size_t off = 0;
	uint16_t i;
	int err;

	while ((err = tal_journal_rr_next(rrs, len, &off, &rr)) == 0) {
		if (tal_dname_to_text(rr.owner, owner, sizeof(owner)) < 0) {
			return TAL_ECORRUPT;
		}
		printf("%c %s. %u %s ", sign, owner, rr.ttl, rr.rclass == 1 ? "IN" : "CLASS?");
		if (rr.type == TAL_TYPE_A && rr.rdlen == 4) {
			printf("A %u.%u.%u.%u\n", rr.rdata[0], rr.rdata[1], rr.rdata[2],
			       rr.rdata[3]);
		} else if (rr.type == TAL_TYPE_TXT) {
			fputs("TXT ", stdout);
			print_txt(rr.rdata, rr.rdlen);
			putchar('\n');
		} else {
			/* RFC 3597 generic form for anything else. */
			printf("TYPE%u \\# %u ", rr.type, rr.rdlen);
			for (i = 0; i < rr.rdlen; i++) {
				printf("%02x", rr.rdata[i]);
			}
			putchar('\n');
		}
	}
	return err == TAL_ENOTFOUND ? 0 : err;
}

static int journal_cb(const tal_journal_rec_t *rec, void *arg)
{
	const bool *rrs = arg;
	int err;

	printf("%u %u +%u -%u%s\n", rec->serial_from, rec->serial_to, rec->nadded, rec->nremoved,
	       (rec->flags & TAL_JOURNAL_F_TOO_LARGE) != 0 ? " too-large" : "");
	if (!*rrs) {
		return 0;
	}
	err = print_rrs('-', rec->removed, rec->removed_len);
	if (err == 0) {
		err = print_rrs('+', rec->added, rec->added_len);
	}
	return err;
}

int tal__ctl_cmd_journal(tal_ctl_t *ctl, int argc, char **argv)
{
	enum { OPT_RRS = 256 };
	static const struct option longopts[] = {
		TAL_CTL_LONGOPTS,
		{ "rrs", no_argument, NULL, OPT_RRS },
		{ NULL, 0, NULL, 0 },
	};
	tal_store_t *st = NULL;
	tal_zone_info_t zone;
	bool rrs = false;
	int opt, err, status = TAL_CTL_OK;

	while ((opt = tal__ctl_getopt(ctl, "journal", argc, argv, TAL_CTL_SHORTOPTS, longopts,
	                              &status)) != -1) {
		if (opt == TAL_CTL_STOP) {
			return status;
		}
		rrs = true;
	}
	if (argc - optind != 0) {
		return tal__ctl_usage("journal", "unexpected argument \"%s\"", argv[optind]);
	}
	status = tal__ctl_open(ctl, TAL_STORE_RDONLY, &st, &zone);
	if (status != 0) {
		return status;
	}
	err = tal_journal_foreach(st, zone.apex, journal_cb, &rrs);
	if (err != 0) {
		tal__ctl_err("%s: zone %s: journal: %s", ctl->dir, zone.apex, tal_strerror(err));
		status = tal__ctl_status(err);
	}
	tal_store_close(st);
	return status;
}
