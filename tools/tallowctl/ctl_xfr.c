/*
 * tools/tallowctl/ctl_xfr.c -- the zone transfer settings: "tsig" (keys),
 * "transfer" (who may transfer a zone) and "notify" (whom tallowd tells
 * of a new serial).  All of it lives in the database (zones/xfrconf.h), so
 * tallowd applies a change to the next request, without a restart.
 *
 * A TSIG secret is printed only by "tsig show", which exists to print it
 * in a secondary's configuration syntax; nothing else prints or logs it.
 */
#include <getopt.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tools/tallowctl/ctl.h"
#include "zones/xfrconf.h"

#define SECRET_DEFAULT 32 /* octets: the HMAC-SHA256 block output size */

#define XFR_EXIT_STATUS                                                                  \
	"Exit status:\n"                                                                 \
	"  0   success (allowing or adding a rule that exists changes nothing)\n"        \
	"  1   no such key, rule or zone\n"                                              \
	"  2   invalid input (a bad name, address, prefix, secret or algorithm), or a\n" \
	"      key still in use; nothing was changed\n"                                  \
	"  3   database or system error\n"                                               \
	"  64  usage error\n"

const char tal__ctl_help_tsig[] =
        "Usage: tallowctl [-d DIR] tsig add NAME [--algorithm ALG] [--secret BASE64]\n"
        "       tallowctl [-d DIR] tsig show NAME [--format plain|nsd|knot|bind]\n"
        "       tallowctl [-d DIR] tsig list\n"
        "       tallowctl [-d DIR] tsig remove NAME\n"
        "\n"
        "Manage the TSIG keys (RFC 8945) that sign zone transfers and NOTIFY messages.\n"
        "add stores a key; without --secret it generates a random 256-bit secret.\n"
        "ALG is hmac-sha256 (default), hmac-sha1, hmac-sha224, hmac-sha384 or\n"
        "hmac-sha512.  show prints the key, secret included, as a key clause for NSD,\n"
        "Knot or BIND; list prints names and algorithms only.  A key still named by a\n"
        "zone's transfer or notify list cannot be removed.\n"
        "\n" XFR_EXIT_STATUS "\n"
        "Examples:\n"
        "  tallowctl tsig add xfr-key\n"
        "  tallowctl tsig show xfr-key --format nsd >> /etc/nsd/nsd.conf.d/tallow.conf\n";

const char tal__ctl_help_transfer[] =
        "Usage: tallowctl [-d DIR] [--zone ZONE] transfer allow [--key NAME] [PREFIX...]\n"
        "       tallowctl [-d DIR] [--zone ZONE] transfer list\n"
        "       tallowctl [-d DIR] [--zone ZONE] transfer remove [--key NAME] [PREFIX...]\n"
        "       tallowctl [-d DIR] [--zone ZONE] transfer trim KEEP\n"
        "\n"
        "Control who may transfer the zone (AXFR, IXFR over TCP).  Transfers are\n"
        "refused until allowed.  A PREFIX is an address with an optional length\n"
        "(127.0.0.0/8, ::1/128, 192.0.2.7); with --key the request must also be\n"
        "signed with that TSIG key.  --key without a PREFIX allows the key from any\n"
        "address.  list prints one rule per line: PREFIX [key NAME].\n"
        "\n"
        "trim drops the oldest changes from the zone's journal so that at most KEEP\n"
        "remain: a secondary older than the oldest kept change gets the whole zone\n"
        "when it asks for an incremental transfer (IXFR).\n"
        "\n" XFR_EXIT_STATUS "\n"
        "Examples:\n"
        "  tallowctl transfer allow --key xfr-key 192.0.2.0/24 2001:db8::/32\n"
        "  tallowctl transfer list\n";

const char tal__ctl_help_notify[] =
        "Usage: tallowctl [-d DIR] [--zone ZONE] notify add ADDRESS[@PORT] [--key NAME]\n"
        "       tallowctl [-d DIR] [--zone ZONE] notify list\n"
        "       tallowctl [-d DIR] [--zone ZONE] notify remove ADDRESS[@PORT] [--key NAME]\n"
        "\n"
        "Manage the secondaries that tallowd notifies (RFC 1996) when the zone's\n"
        "serial changes.  PORT defaults to 53; with --key the NOTIFY is signed.\n"
        "tallowd reads the serials once a second and retries an unanswered NOTIFY\n"
        "after 1, 2, 4, 8 and 16 seconds.\n"
        "\n" XFR_EXIT_STATUS "\n"
        "Examples:\n"
        "  tallowctl notify add 192.0.2.53 --key xfr-key\n"
        "  tallowctl notify add [2001:db8::53]@5300\n";

enum {
	OPT_KEY = 256,
	OPT_ALG,
	OPT_SECRET,
	OPT_FORMAT,
};

typedef struct {
	const char *key;
	const char *alg;
	const char *secret;
	const char *format;
} xfr_opts_t;

/* Parses options; leaves operands at argv[optind..]. */
static int parse(tal_ctl_t *ctl, const char *cmd, int argc, char **argv, xfr_opts_t *o, int *status)
{
	static const struct option longopts[] = {
		TAL_CTL_LONGOPTS,
		{ "key", required_argument, NULL, OPT_KEY },
		{ "algorithm", required_argument, NULL, OPT_ALG },
		{ "secret", required_argument, NULL, OPT_SECRET },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	memset(o, 0, sizeof(*o));
	while ((opt = tal__ctl_getopt(ctl, cmd, argc, argv, TAL_CTL_SHORTOPTS, longopts, status)) !=
	       -1) {
		switch (opt) {
		case TAL_CTL_STOP:
			return -1;
		case OPT_KEY:
			o->key = optarg;
			break;
		case OPT_ALG:
			o->alg = optarg;
			break;
		case OPT_SECRET:
			o->secret = optarg;
			break;
		case OPT_FORMAT:
			o->format = optarg;
			break;
		default:
			break;
		}
	}
	return 0;
}

static int b64_decode(const char *text, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = strlen(text), pad = 0;
	uint8_t buf[4 * TAL_TSIG_SECRET_MAX];

	if (n == 0 || n % 4 != 0 || n / 4 * 3 > sizeof(buf)) {
		return TAL_EINVAL;
	}
	int r = EVP_DecodeBlock(buf, (const unsigned char *)text, (int)n);
	if (r < 0) {
		return TAL_EINVAL;
	}
	if (text[n - 1] == '=') {
		pad++;
	}
	if (text[n - 2] == '=') {
		pad++;
	}
	if ((size_t)r < pad || (size_t)r - pad > cap || (size_t)r - pad == 0) {
		return TAL_EINVAL;
	}
	memcpy(out, buf, (size_t)r - pad);
	*len = (size_t)r - pad;
	return 0;
}

static void b64_encode(const uint8_t *in, size_t len, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

static int key_name(const char *text, char *out)
{
	int err = tal_tsig_name_normalise(text, out);

	if (err != 0) {
		tal__ctl_err("key name \"%s\" %s", text, tal_strerror(err));
		return TAL_CTL_INVALID;
	}
	return 0;
}

static int tsig_add(tal_ctl_t *ctl, const xfr_opts_t *o, const char *name)
{
	tal_tsig_key_t key;
	tal_store_t *st = NULL;
	int status, err;

	memset(&key, 0, sizeof(key));
	status = key_name(name, key.name);
	if (status != 0) {
		return status;
	}
	key.alg = tal_tsig_alg_from_text(o->alg != NULL ? o->alg : "hmac-sha256");
	if (key.alg == 0) {
		tal__ctl_err("--algorithm \"%s\": not one of hmac-sha1, hmac-sha224, "
		             "hmac-sha256, hmac-sha384, hmac-sha512",
		             o->alg);
		return TAL_CTL_INVALID;
	}
	if (o->secret != NULL) {
		if (b64_decode(o->secret, key.secret, sizeof(key.secret), &key.secret_len) != 0) {
			tal__ctl_err("--secret: not a base64 secret of 1 to %d octets",
			             TAL_TSIG_SECRET_MAX);
			return TAL_CTL_INVALID;
		}
	} else {
		key.secret_len = SECRET_DEFAULT;
		if (RAND_bytes(key.secret, SECRET_DEFAULT) != 1) {
			tal__ctl_err("generating a secret: no randomness available");
			return TAL_CTL_SYSTEM;
		}
	}
	status = tal__ctl_open(ctl, 0, &st, NULL);
	if (status != 0) {
		return status;
	}
	err = tal_tsig_key_put(st, &key);
	memset(&key.secret, 0, sizeof(key.secret));
	tal_store_close(st);
	if (err == TAL_EEXIST) {
		tal__ctl_err("key \"%s\" already exists (remove it first to replace it)", key.name);
		return TAL_CTL_INVALID;
	}
	if (err != 0) {
		tal__ctl_err("%s: key \"%s\": %s", ctl->dir, key.name, tal_strerror(err));
		return tal__ctl_status(err);
	}
	if (ctl->verbose) {
		fprintf(stderr, "tallowctl: key %s (%s) added\n", key.name,
		        tal_tsig_alg_name(key.alg));
	}
	return TAL_CTL_OK;
}

static void print_key(const tal_tsig_key_t *key, const char *format)
{
	char secret[4 * TAL_TSIG_SECRET_MAX / 3 + 8];
	const char *alg = tal_tsig_alg_name(key->alg);

	b64_encode(key->secret, key->secret_len, secret);
	if (strcmp(format, "nsd") == 0) {
		printf("key:\n\tname: \"%s\"\n\talgorithm: %s\n\tsecret: \"%s\"\n", key->name, alg,
		       secret);
	} else if (strcmp(format, "knot") == 0) {
		printf("key:\n  - id: %s\n    algorithm: %s\n    secret: %s\n", key->name, alg,
		       secret);
	} else if (strcmp(format, "bind") == 0) {
		printf("key \"%s\" {\n\talgorithm %s;\n\tsecret \"%s\";\n};\n", key->name, alg,
		       secret);
	} else {
		printf("%s %s %s\n", key->name, alg, secret);
	}
	memset(secret, 0, sizeof(secret));
}

static int list_key_cb(const tal_tsig_key_t *key, void *arg)
{
	(void)arg;
	printf("%s %s\n", key->name, tal_tsig_alg_name(key->alg));
	return 0;
}

static int tsig_read(tal_ctl_t *ctl, const char *sub, const char *name, const char *format)
{
	tal_store_t *st = NULL;
	tal_txn_t *txn = NULL;
	tal_tsig_key_t key;
	char norm[TAL_XFR_KEYNAME_MAX + 1];
	int status, err;

	if (name != NULL) {
		status = key_name(name, norm);
		if (status != 0) {
			return status;
		}
	}
	status = tal__ctl_open(ctl, TAL_STORE_RDONLY, &st, NULL);
	if (status != 0) {
		return status;
	}
	err = tal_txn_begin(st, TAL_TXN_READ, &txn);
	if (err == 0) {
		if (name == NULL) {
			err = tal_tsig_key_foreach(txn, list_key_cb, NULL);
		} else {
			err = tal_tsig_key_get(txn, norm, &key);
			if (err == 0) {
				print_key(&key, format);
				memset(&key, 0, sizeof(key));
			}
		}
		tal_txn_abort(txn);
	}
	tal_store_close(st);
	if (err == TAL_ENOTFOUND) {
		tal__ctl_err("key \"%s\" does not exist", norm);
		return TAL_CTL_ABSENT;
	}
	if (err != 0) {
		tal__ctl_err("%s: tsig %s: %s", ctl->dir, sub, tal_strerror(err));
		return tal__ctl_status(err);
	}
	return tal__ctl_flush_stdout();
}

static int tsig_remove(tal_ctl_t *ctl, const char *name)
{
	char norm[TAL_XFR_KEYNAME_MAX + 1];
	tal_store_t *st = NULL;
	int status, err;

	status = key_name(name, norm);
	if (status != 0) {
		return status;
	}
	status = tal__ctl_open(ctl, 0, &st, NULL);
	if (status != 0) {
		return status;
	}
	err = tal_tsig_key_del(st, norm);
	tal_store_close(st);
	if (err == TAL_ENOTFOUND) {
		tal__ctl_err("key \"%s\" does not exist", norm);
		return TAL_CTL_ABSENT;
	}
	if (err == TAL_EBUSY) {
		tal__ctl_err("key \"%s\" is still used by a transfer or notify rule", norm);
		return TAL_CTL_INVALID;
	}
	if (err != 0) {
		tal__ctl_err("%s: key \"%s\": %s", ctl->dir, norm, tal_strerror(err));
		return tal__ctl_status(err);
	}
	return TAL_CTL_OK;
}

int tal__ctl_cmd_tsig(tal_ctl_t *ctl, int argc, char **argv)
{
	xfr_opts_t o;
	int status = TAL_CTL_OK;

	if (parse(ctl, "tsig", argc, argv, &o, &status) < 0) {
		return status;
	}
	int n = argc - optind;
	const char *sub = n > 0 ? argv[optind] : NULL;
	if (sub == NULL) {
		return tal__ctl_usage("tsig", "missing subcommand (add, show, list, remove)");
	}
	if (o.key != NULL) {
		return tal__ctl_usage("tsig", "--key is not an option of tsig");
	}
	if (strcmp(sub, "list") == 0) {
		if (n != 1) {
			return tal__ctl_usage("tsig", "unexpected argument \"%s\"",
			                      argv[optind + 1]);
		}
		return tsig_read(ctl, sub, NULL, NULL);
	}
	if (strcmp(sub, "add") != 0 && strcmp(sub, "show") != 0 && strcmp(sub, "remove") != 0) {
		return tal__ctl_usage("tsig", "unknown subcommand \"%s\"", sub);
	}
	if (n != 2) {
		return tal__ctl_usage("tsig", "%s takes one key NAME", sub);
	}
	const char *name = argv[optind + 1];
	if (strcmp(sub, "add") == 0) {
		if (o.format != NULL) {
			return tal__ctl_usage("tsig", "--format is an option of tsig show");
		}
		return tsig_add(ctl, &o, name);
	}
	if (o.alg != NULL || o.secret != NULL) {
		return tal__ctl_usage("tsig", "--algorithm and --secret are options of tsig add");
	}
	if (strcmp(sub, "show") == 0) {
		const char *f = o.format != NULL ? o.format : "plain";
		if (strcmp(f, "plain") != 0 && strcmp(f, "nsd") != 0 && strcmp(f, "knot") != 0 &&
		    strcmp(f, "bind") != 0) {
			return tal__ctl_usage(
			        "tsig", "--format \"%s\": expected plain, nsd, knot or bind", f);
		}
		return tsig_read(ctl, sub, name, f);
	}
	if (o.format != NULL) {
		return tal__ctl_usage("tsig", "--format is an option of tsig show");
	}
	return tsig_remove(ctl, name);
}

static int print_entry_cb(const tal_xfr_entry_t *e, void *arg)
{
	const bool *notify = arg;
	char text[96];

	tal_xfr_entry_text(e, *notify, text, sizeof(text));
	if (e->key[0] != '\0') {
		printf("%s key %s\n", text, e->key);
	} else {
		printf("%s\n", text);
	}
	return 0;
}

static int list_entries(tal_ctl_t *ctl, bool notify)
{
	tal_store_t *st = NULL;
	tal_txn_t *txn = NULL;
	tal_zone_info_t zone;
	int status, err;

	status = tal__ctl_open(ctl, TAL_STORE_RDONLY, &st, &zone);
	if (status != 0) {
		return status;
	}
	err = tal_txn_begin(st, TAL_TXN_READ, &txn);
	if (err == 0) {
		err = tal_xfr_list_foreach(txn, zone.zone_id, notify, print_entry_cb, &notify);
		tal_txn_abort(txn);
	}
	tal_store_close(st);
	if (err != 0) {
		tal__ctl_err("%s: zone %s: %s", ctl->dir, zone.apex, tal_strerror(err));
		return tal__ctl_status(err);
	}
	return tal__ctl_flush_stdout();
}

/* Adds or removes each entry; every operand is validated first. */
static int edit_entries(tal_ctl_t *ctl, bool notify, bool add, const char *key, char **ops, int n)
{
	tal_xfr_entry_t es[64];
	char norm[TAL_XFR_KEYNAME_MAX + 1] = "";
	tal_store_t *st = NULL;
	tal_zone_info_t zone;
	int count = 0, status, err;
	const char *cmd = notify ? "notify" : "transfer";

	if (key != NULL) {
		status = key_name(key, norm);
		if (status != 0) {
			return status;
		}
	}
	if (n > 64) {
		return tal__ctl_usage(cmd, "at most 64 addresses at once");
	}
	for (int i = 0; i < n; i++) {
		err = notify ? tal_xfr_target_parse(ops[i], &es[count])
		             : tal_xfr_prefix_parse(ops[i], &es[count]);
		if (err != 0) {
			tal__ctl_err("\"%s\" is not %s", ops[i],
			             notify ? "an ADDRESS[@PORT]"
			                    : "an address prefix (ADDRESS[/LEN])");
			return TAL_CTL_INVALID;
		}
		memcpy(es[count].key, norm, sizeof(norm));
		count++;
	}
	if (n == 0) {
		/* --key alone: the key from any address. */
		tal_xfr_prefix_parse("0.0.0.0/0", &es[0]);
		tal_xfr_prefix_parse("::/0", &es[1]);
		memcpy(es[0].key, norm, sizeof(norm));
		memcpy(es[1].key, norm, sizeof(norm));
		count = 2;
	}
	status = tal__ctl_open(ctl, 0, &st, &zone);
	if (status != 0) {
		return status;
	}
	status = TAL_CTL_OK;
	for (int i = 0; i < count; i++) {
		char text[96];
		tal_xfr_entry_text(&es[i], notify, text, sizeof(text));
		err = add ? tal_xfr_list_add(st, zone.zone_id, notify, &es[i])
		          : tal_xfr_list_del(st, zone.zone_id, notify, &es[i]);
		if (err == TAL_EEXIST) {
			continue; /* already there: adding is idempotent */
		}
		if (err == TAL_ENOTFOUND) {
			if (add) {
				tal__ctl_err(
				        "key \"%s\" does not exist (add it with \"tallowctl tsig "
				        "add %s\")",
				        norm, norm);
				status = TAL_CTL_ABSENT;
				break;
			}
			tal__ctl_err("zone %s: no %s rule %s%s%s", zone.apex, cmd, text,
			             norm[0] != '\0' ? " key " : "", norm);
			status = TAL_CTL_ABSENT;
			continue;
		}
		if (err != 0) {
			tal__ctl_err("%s: zone %s: %s: %s", ctl->dir, zone.apex, text,
			             tal_strerror(err));
			status = tal__ctl_status(err);
			break;
		}
		if (ctl->verbose) {
			fprintf(stderr, "tallowctl: zone %s: %s %s %s%s%s\n", zone.apex, cmd,
			        add ? (notify ? "add" : "allow") : "remove", text,
			        norm[0] != '\0' ? " key " : "", norm);
		}
	}
	tal_store_close(st);
	return status;
}

static int trim(tal_ctl_t *ctl, const char *text)
{
	tal_store_t *st = NULL;
	tal_zone_info_t zone;
	uint64_t keep, dropped = 0;
	char *end;
	int status, err;

	if (text[0] < '0' || text[0] > '9') {
		return tal__ctl_usage("transfer", "KEEP \"%s\" is not a number", text);
	}
	keep = strtoull(text, &end, 10);
	if (*end != '\0') {
		return tal__ctl_usage("transfer", "KEEP \"%s\" is not a number", text);
	}
	status = tal__ctl_open(ctl, 0, &st, &zone);
	if (status != 0) {
		return status;
	}
	err = tal_xfr_journal_trim(st, zone.apex, keep, &dropped);
	tal_store_close(st);
	if (err != 0) {
		tal__ctl_err("%s: zone %s: trimming the journal: %s", ctl->dir, zone.apex,
		             tal_strerror(err));
		return tal__ctl_status(err);
	}
	if (ctl->verbose) {
		fprintf(stderr, "tallowctl: zone %s: %llu journal records dropped\n", zone.apex,
		        (unsigned long long)dropped);
	}
	return TAL_CTL_OK;
}

static int list_cmd(tal_ctl_t *ctl, bool notify, int argc, char **argv)
{
	const char *cmd = notify ? "notify" : "transfer";
	const char *addv = notify ? "add" : "allow";
	xfr_opts_t o;
	int status = TAL_CTL_OK;

	if (parse(ctl, cmd, argc, argv, &o, &status) < 0) {
		return status;
	}
	if (o.alg != NULL || o.secret != NULL || o.format != NULL) {
		return tal__ctl_usage(cmd, "only --key is an option of %s", cmd);
	}
	int n = argc - optind;
	if (n < 1) {
		return tal__ctl_usage(cmd, "missing subcommand (%s, list, remove)", addv);
	}
	const char *sub = argv[optind];
	char **ops = argv + optind + 1;
	if (strcmp(sub, "list") == 0) {
		if (n != 1 || o.key != NULL) {
			return tal__ctl_usage(cmd, "list takes no argument");
		}
		return list_entries(ctl, notify);
	}
	if (!notify && strcmp(sub, "trim") == 0) {
		if (n != 2 || o.key != NULL) {
			return tal__ctl_usage(cmd, "trim takes one number, KEEP");
		}
		return trim(ctl, ops[0]);
	}
	bool add = strcmp(sub, addv) == 0;
	if (!add && strcmp(sub, "remove") != 0) {
		return tal__ctl_usage(cmd, "unknown subcommand \"%s\"", sub);
	}
	if (n == 1 && (notify || o.key == NULL)) {
		return tal__ctl_usage(cmd, "%s needs %s", sub,
		                      notify ? "an ADDRESS[@PORT]" : "a PREFIX or --key NAME");
	}
	return edit_entries(ctl, notify, add, o.key, ops, n - 1);
}

int tal__ctl_cmd_transfer(tal_ctl_t *ctl, int argc, char **argv)
{
	return list_cmd(ctl, false, argc, argv);
}

int tal__ctl_cmd_notify(tal_ctl_t *ctl, int argc, char **argv)
{
	return list_cmd(ctl, true, argc, argv);
}
