/*
 * tools/tallowctl/ctl_import.c -- "tallowctl import": policies from a CSV
 * file (or a master file) into a zone, all or nothing.
 *
 * The whole input is read into one buffer and parsed in place, line by
 * line, into one tal_change_t; the database is written only after every
 * line has been validated, in a single transaction.  So a file with one bad
 * line in a million changes nothing, and readers (tallowd) see either the
 * zone before the import or the zone after it, never a part.  Reading with
 * read(2) into a buffer sized from fstat, splitting with memchr and parsing
 * a large file in two threads keeps the per-line cost at the parser and the
 * change's append; the commit (sort, merge, one cursor walk) is the rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "tools/tallowctl/ctl.h"
#include "zones/csv.h"
#include "zones/policy.h"
#include "zones/zonefile.h"

/* Invalid lines reported one by one before the rest are only counted. */
#define MAX_REPORTED 20

#define READ_CHUNK (1U << 20)

/* Inputs from this size on are parsed by two threads. */
#define PARALLEL_MIN (4U << 20)

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
		/* Room for the NUL and for the 1-octet read that sees EOF: no realloc. */
		cap = (size_t)sb.st_size + 2;
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

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

/* Invalid lines: the first MAX_REPORTED in line order, and the count. */
typedef struct {
	struct {
		unsigned long line;
		int err;
		char text[TAL_DOMAIN_TEXTSZ]; /* a domain or a CSV field (bad_field) */
	} v[MAX_REPORTED];
	unsigned long n;
} bads_t;

typedef struct {
	const char *fname;
	unsigned long pairs;
	unsigned long bad;
} import_t;

/* Lines must be added in increasing order. */
static void bads_add(bads_t *b, unsigned long line, const char *text, int err)
{
	if (b->n < MAX_REPORTED) {
		b->v[b->n].line = line;
		b->v[b->n].err = err;
		snprintf(b->v[b->n].text, sizeof(b->v[b->n].text), "%s", text);
	}
	b->n++;
}

/*
 * A parsed pair as the second thread hands it over, packed back to back:
 * line (4, native), kind (1), domain length (1), dkim length (1), tenant
 * ID (16), then the domain and the dkim domain, without NULs.
 */
#define REC_HDR 23

typedef struct {
	char *start, *end;   /* the lines to parse; *end is writable */
	unsigned long lines; /* lines seen */
	unsigned long pairs;
	uint8_t *rec; /* packed records */
	size_t len, cap;
	bads_t bad;
	int err; /* a system error (TAL_ENOMEM) */
} chunk_t;

static int rec_put(chunk_t *c, unsigned long line, const tal_csv_line_t *l)
{
	size_t dlen = strlen(l->domain), klen = strlen(l->tenant.dkim);
	size_t need = REC_HDR + dlen + klen;
	uint32_t line32 = (uint32_t)line;
	uint8_t *p;

	if (c->cap - c->len < need) {
		size_t cap = c->cap > 0 ? c->cap * 2 : READ_CHUNK;
		uint8_t *grown = realloc(c->rec, cap);
		if (grown == NULL) {
			return TAL_ENOMEM;
		}
		c->rec = grown;
		c->cap = cap;
	}
	p = c->rec + c->len;
	memcpy(p, &line32, 4);
	p[4] = (uint8_t)l->kind;
	p[5] = (uint8_t)dlen;
	p[6] = (uint8_t)klen;
	memcpy(p + 7, l->tenant.id, 16);
	memcpy(p + REC_HDR, l->domain, dlen);
	memcpy(p + REC_HDR + dlen, l->tenant.dkim, klen);
	c->len += need;
	return 0;
}

/* Adds one parsed pair to the change; invalid ones go to `bad`. */
static int change_put(tal_change_t *ch, bads_t *bad, unsigned long line, const tal_csv_line_t *l)
{
	int err;

	/*
	 * Pairs after a bad line still go into the change (it is only memory,
	 * and never committed then) so that every line gets the same checks,
	 * the zone-dependent ones included.
	 */
	if (l->kind == TAL_CSV_TENANT) {
		err = tal_change_add(ch, l->domain, &l->tenant);
	} else {
		err = tal_change_add_none(ch, l->domain);
	}
	if (err == TAL_EOWNER_LEN) {
		bads_add(bad, line, l->domain, err);
	} else if (err == TAL_ETXT_LEN) {
		bads_add(bad, line, l->tenant.dkim, err);
	} else if (err != 0) {
		return err;
	}
	return 0;
}

/*
 * Parses the lines of [c->start, c->end) in place, numbered from 1, into
 * `ch`, or, when `ch` is NULL, into packed records for later.
 */
static int parse_lines(chunk_t *c, tal_change_t *ch)
{
	char *p = c->start, *end = c->end, *eol;
	tal_csv_line_t line;
	int err;

	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL) {
			eol = end;
		}
		*eol = '\0';
		c->lines++;
		err = tal_csv_parse_line(p, &line);
		if (err != 0) {
			bads_add(&c->bad, c->lines, line.bad_field, err);
		} else if (line.kind != TAL_CSV_SKIP) {
			c->pairs++;
			err = ch != NULL ? change_put(ch, &c->bad, c->lines, &line)
			                 : rec_put(c, c->lines, &line);
			if (err != 0) {
				return err;
			}
		}
		p = eol + 1;
	}
	return 0;
}

static void *parse_thread(void *arg)
{
	chunk_t *c = arg;

	c->err = parse_lines(c, NULL);
	return NULL;
}

/* Adds the second chunk's records to the change (lines numbered within the chunk). */
static int replay(chunk_t *c, tal_change_t *ch, bads_t *bad)
{
	tal_csv_line_t l;
	size_t off = 0, dlen, klen;
	uint32_t line32;
	int err;

	while (off < c->len) {
		const uint8_t *p = c->rec + off;
		memcpy(&line32, p, 4);
		l.kind = (tal_csv_kind_t)p[4];
		dlen = p[5];
		klen = p[6];
		memcpy(l.tenant.id, p + 7, 16);
		memcpy(l.domain, p + REC_HDR, dlen);
		l.domain[dlen] = '\0';
		memcpy(l.tenant.dkim, p + REC_HDR + dlen, klen);
		l.tenant.dkim[klen] = '\0';
		err = change_put(ch, bad, line32, &l);
		if (err != 0) {
			return err;
		}
		off += REC_HDR + dlen + klen;
	}
	return 0;
}

static int cmp_bad(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/* Prints the first MAX_REPORTED invalid lines of up to three lists, in line order. */
static void print_bads(import_t *im, bads_t *lists[], int nlists, unsigned long *bases)
{
	struct {
		unsigned long line;
		int err;
		const char *text;
	} all[3 * MAX_REPORTED];
	size_t n = 0, i;
	int k;

	for (k = 0; k < nlists; k++) {
		for (i = 0; i < lists[k]->n && i < MAX_REPORTED; i++) {
			all[n].line = bases[k] + lists[k]->v[i].line;
			all[n].err = lists[k]->v[i].err;
			all[n].text = lists[k]->v[i].text;
			n++;
		}
		im->bad += lists[k]->n;
	}
	/* The line number is the first member: compare on it alone. */
	qsort(all, n, sizeof(all[0]), cmp_bad);
	fflush(stdout);
	for (i = 0; i < n && i < MAX_REPORTED; i++) {
		fprintf(stderr, "%s:%lu: \"%s\" %s\n", im->fname, all[i].line, all[i].text,
		        tal_strerror(all[i].err));
	}
}

/*
 * Parses the CSV in buf[0..len) (buf[len] is writable) into `ch`, counting
 * and reporting invalid lines.  A large file is split in two at a line
 * boundary and the second half parsed by a second thread into packed
 * records, which are added to the change after the first half, in file
 * order, so the result is the same as one pass.  Returns 0 or a system
 * error.
 */
static int parse_csv(import_t *im, char *buf, size_t len, tal_change_t *ch)
{
	chunk_t a = { 0 }, b = { 0 };
	bads_t replayed = { 0 };
	bads_t *lists[3] = { &a.bad, &replayed, &b.bad };
	unsigned long bases[3] = { 0, 0, 0 };
	char *split = NULL;
	pthread_t tid;
	bool threaded = false;
	int err;

	a.start = buf;
	a.end = buf + len;
	if (len >= PARALLEL_MIN && sysconf(_SC_NPROCESSORS_ONLN) > 1) {
		split = memchr(buf + len / 2, '\n', len - len / 2);
	}
	if (split != NULL && split + 1 < buf + len) {
		a.end = split; /* the '\n' there becomes a's terminating NUL */
		b.start = split + 1;
		b.end = buf + len;
		threaded = pthread_create(&tid, NULL, parse_thread, &b) == 0;
		if (!threaded) {
			a.end = buf + len;
		}
	}
	err = parse_lines(&a, ch);
	if (threaded) {
		pthread_join(tid, NULL);
		if (err == 0) {
			err = b.err;
		}
		if (err == 0) {
			err = replay(&b, ch, &replayed);
		}
		bases[1] = bases[2] = a.lines;
	}
	im->pairs = a.pairs + b.pairs;
	free(b.rec);
	if (err != 0) {
		return err;
	}
	print_bads(im, lists, threaded ? 3 : 1, bases);
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
	double t0 = now(), t1;
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

	t1 = now();
	err = tal_change_commit(st, ch, &res);
	if (err != 0 && res.failed_domain[0] != '\0') {
		tal__ctl_err("%s: \"%s\" %s; nothing was imported", im.fname, res.failed_domain,
		             tal_strerror(err));
		status = tal__ctl_status(err);
		goto cleanup;
	}
	if (err != 0) {
		tal__ctl_err("%s: zone %s: %s; nothing was imported", ctl->dir, zone.apex,
		             tal_strerror(err));
		status = tal__ctl_status(err);
		goto cleanup;
	}
	if (zonefile) {
		snprintf(what, sizeof(what), "import%s %s (read %.2f s, commit %.2f s)",
		         replace ? " --replace" : "", im.fname, t1 - t0, now() - t1);
	} else {
		snprintf(what, sizeof(what),
		         "import%s %s, %lu pairs (read and check %.2f s, commit %.2f s)",
		         replace ? " --replace" : "", im.fname, im.pairs, t1 - t0, now() - t1);
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
