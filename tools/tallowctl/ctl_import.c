/*
 * tools/tallowctl/ctl_import.c -- "tallowctl import": policies from a CSV
 * file (or a master file) into a zone, all or nothing.
 *
 * The whole input is read into one buffer and parsed in place, line by
 * line, into one tal_change_t; the database is written only after every
 * line has been validated, in a single transaction.  So a file with one bad
 * line in a million changes nothing, and readers (tallowd) see either the
 * zone before the import or the zone after it, never a part.  Reading with
 * read(2) into a buffer sized from fstat and splitting with memchr keeps the
 * per-line cost at the parser and the change's append, which is what lets a
 * million pairs load in about a second.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "tools/tallowctl/ctl.h"
#include "zones/csv.h"
#include "zones/policy.h"
#include "zones/zonefile.h"

/* Invalid lines reported one by one before the rest are only counted. */
#define MAX_REPORTED 20

#define READ_CHUNK (1U << 20)

/*
 * Reads all of `fd` into a malloc'd buffer with one spare octet at the end
 * (so the last line can be NUL-terminated in place).  0 or -errno.
 */
static int read_all(int fd, char **out, size_t *outlen)
{
	struct stat sb;
	size_t cap = READ_CHUNK, len = 0;
	char *buf, *grown;
	ssize_t n;

	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0) {
		cap = (size_t)sb.st_size + 1;
	}
	buf = malloc(cap);
	if (buf == NULL) {
		return -ENOMEM;
	}
	for (;;) {
		if (cap - len < 2) {
			grown = realloc(buf, cap * 2);
			if (grown == NULL) {
				free(buf);
				return -ENOMEM;
			}
			buf = grown;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			int errnum = errno;
			free(buf);
			return -errnum;
		}
		if (n == 0) {
			break;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

static unsigned long line_of(const char *buf, const char *at)
{
	unsigned long line = 1;
	const char *p = buf;

	while ((p = memchr(p, '\n', (size_t)(at - p))) != NULL) {
		line++;
		p++;
	}
	return line;
}

typedef struct {
	const char *fname;
	unsigned long pairs;
	unsigned long bad;
} import_t;

static void report(import_t *im, unsigned long lineno, const char *text, int err)
{
	im->bad++;
	if (im->bad <= MAX_REPORTED) {
		fflush(stdout);
		fprintf(stderr, "%s:%lu: \"%s\" %s\n", im->fname, lineno, text, tal_strerror(err));
	}
}

/*
 * Parses the CSV in buf[0..len) (buf[len] is writable) into `ch`.  Returns 0
 * (with im->bad counting invalid lines) or a system error.
 */
static int parse_csv(import_t *im, char *buf, size_t len, tal_change_t *ch)
{
	char *p = buf, *end = buf + len, *eol;
	unsigned long lineno = 0;
	tal_csv_line_t line;
	int err;

	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL) {
			eol = end;
		}
		*eol = '\0';
		lineno++;
		err = tal_csv_parse_line(p, &line);
		if (err != 0) {
			report(im, lineno, line.bad_field, err);
		} else if (line.kind != TAL_CSV_SKIP) {
			/*
			 * Lines after a bad one still go into the change (it is only
			 * memory, and never committed then) so that every line gets
			 * the same checks, the zone-dependent ones included.
			 */
			if (line.kind == TAL_CSV_TENANT) {
				err = tal_change_add(ch, line.domain, &line.tenant);
			} else {
				err = tal_change_add_none(ch, line.domain);
			}
			im->pairs++;
			if (err == TAL_EOWNER_LEN) {
				report(im, lineno, line.domain, err);
			} else if (err == TAL_ETXT_LEN) {
				report(im, lineno, line.tenant.dkim, err);
			} else if (err != 0) {
				return err;
			}
		}
		p = eol + 1;
	}
	return 0;
}

static int import_zonefile(import_t *im, int fd, tal_change_t *ch)
{
	char msg[512] = "";
	int err, errline = 0;
	FILE *f;

	f = fdopen(fd, "r");
	if (f == NULL) {
		return -errno;
	}
	err = tal_zonefile_import(f, im->fname, ch, &errline, msg, sizeof(msg));
	fclose(f);
	if (err == 0 || tal__ctl_status(err) != TAL_CTL_INVALID) {
		return err;
	}
	im->bad++;
	fflush(stdout);
	if (errline > 0) {
		fprintf(stderr, "%s:%d: %s\n", im->fname, errline,
		        msg[0] != '\0' ? msg : tal_strerror(err));
	} else {
		fprintf(stderr, "%s: %s\n", im->fname, msg[0] != '\0' ? msg : tal_strerror(err));
	}
	return 0;
}

int tal__ctl_cmd_import(tal_ctl_t *ctl, int argc, char **argv)
{
	enum { OPT_REPLACE = 256, OPT_FORMAT };
	static const struct option longopts[] = {
		TAL_CTL_LONGOPTS,
		{ "replace", no_argument, NULL, OPT_REPLACE },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ NULL, 0, NULL, 0 },
	};
	import_t im = { NULL, 0, 0 };
	tal_commit_result_t res;
	tal_change_t *ch = NULL;
	tal_store_t *st = NULL;
	tal_zone_info_t zone;
	bool replace = false, zonefile = false;
	const char *path;
	char *buf = NULL, what[512];
	size_t len = 0;
	const char *nul;
	int opt, err, fd = -1, status = TAL_CTL_OK;

	while ((opt = tal__ctl_getopt(ctl, "import", argc, argv, TAL_CTL_SHORTOPTS "f:", longopts,
	                              &status)) != -1) {
		if (opt == TAL_CTL_STOP) {
			return status;
		}
		if (opt == OPT_REPLACE) {
			replace = true;
		} else if (strcmp(optarg, "zone") == 0) {
			zonefile = true;
		} else if (strcmp(optarg, "csv") == 0) {
			zonefile = false;
		} else {
			return tal__ctl_usage("import", "unknown format \"%s\" (csv or zone)",
			                      optarg);
		}
	}
	if (argc - optind != 1) {
		return tal__ctl_usage("import", "expected one FILE (or - for standard input)");
	}
	path = argv[optind];
	im.fname = strcmp(path, "-") == 0 ? "<stdin>" : path;

	/* The database first: no point reading a large file into a missing zone. */
	status = tal__ctl_open(ctl, 0, &st, &zone);
	if (status != 0) {
		return status;
	}
	if (strcmp(path, "-") == 0) {
		fd = STDIN_FILENO;
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			tal__ctl_err("%s: %s", path, strerror(errno));
			status = TAL_CTL_SYSTEM;
			goto cleanup;
		}
	}
	err = tal_change_new(zone.apex, &ch);
	if (err != 0) {
		tal__ctl_err("%s", tal_strerror(err));
		status = TAL_CTL_SYSTEM;
		goto cleanup;
	}
	tal_change_set_replace(ch, replace);

	if (zonefile) {
		err = import_zonefile(&im, fd, ch);
		fd = -1;
		if (err != 0) {
			tal__ctl_err("%s: %s", im.fname, tal_strerror(err));
			status = tal__ctl_status(err);
			goto cleanup;
		}
	} else {
		err = read_all(fd, &buf, &len);
		if (err != 0) {
			tal__ctl_err("%s: %s", im.fname, strerror(-err));
			status = TAL_CTL_SYSTEM;
			goto cleanup;
		}
		nul = memchr(buf, '\0', len);
		if (nul != NULL) {
			fflush(stdout);
			fprintf(stderr, "%s:%lu: the line holds a NUL octet (not a text file?)\n",
			        im.fname, line_of(buf, nul));
			im.bad++;
		} else {
			err = parse_csv(&im, buf, len, ch);
			if (err != 0) {
				tal__ctl_err("%s: %s", im.fname, tal_strerror(err));
				status = tal__ctl_status(err);
				goto cleanup;
			}
		}
	}
	if (im.bad > 0) {
		if (im.bad > MAX_REPORTED) {
			fprintf(stderr, "%s: ... and %lu more invalid lines\n", im.fname,
			        im.bad - MAX_REPORTED);
		}
		tal__ctl_err("%s: %lu invalid line%s; nothing was imported", im.fname, im.bad,
		             im.bad == 1 ? "" : "s");
		status = TAL_CTL_INVALID;
		goto cleanup;
	}

	err = tal_change_commit(st, ch, &res);
	if (err != 0) {
		tal__ctl_err("%s: zone %s: %s; nothing was imported", ctl->dir, zone.apex,
		             tal_strerror(err));
		status = tal__ctl_status(err);
		goto cleanup;
	}
	if (zonefile) {
		snprintf(what, sizeof(what), "import%s %s", replace ? " --replace" : "", im.fname);
	} else {
		snprintf(what, sizeof(what), "import%s %s, %lu pairs", replace ? " --replace" : "",
		         im.fname, im.pairs);
	}
	tal__ctl_summary(ctl, zone.apex, what, &res);
	status = TAL_CTL_OK;

cleanup:
	if (fd > STDIN_FILENO) {
		close(fd);
	}
	free(buf);
	tal_change_free(ch);
	tal_store_close(st);
	return status;
}
