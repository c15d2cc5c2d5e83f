/*
 * tools/tallow-milter/msg.c -- the message readers behind msg.h.
 */
#include "tools/tallow-milter/msg.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define TEXTSZ 1024

char *tal_milter_trim(char *s)
{
	while (isspace((unsigned char)*s)) {
		s++;
	}
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1])) {
		*--e = '\0';
	}
	return s;
}

/* State of one mailbox (the text between top-level commas). */
struct mailbox {
	bool nonblank;   /* anything but white space and comments */
	unsigned angles; /* angle-addrs seen */
	bool after;      /* text after the closing '>' */
	char spec[TEXTSZ];
	size_t sl;
	char angled[TEXTSZ];
	size_t al;
};

int tal_milter_from_address(const char *v, char *out, size_t outsz)
{
	struct mailbox mb;
	int naddr = 0, depth = 0;
	bool quoted = false, angle = false, closed = false;

	memset(&mb, 0, sizeof(mb));
	if (outsz > 0) {
		out[0] = '\0';
	}
	for (const char *p = v;; p++) {
		char ch = *p;
		if (ch == '\0' || (ch == ',' && !quoted && depth == 0 && !angle)) {
			if (mb.nonblank) {
				bool two_ways =
				        mb.angles > 1 || mb.after ||
				        (mb.angles == 1 && memchr(mb.spec, '@', mb.sl) != NULL);
				naddr += two_ways ? 2 : 1;
				if (naddr == 1 && outsz > 0) {
					const char *a = mb.angles > 0 ? mb.angled : mb.spec;
					size_t len = mb.angles > 0 ? mb.al : mb.sl;
					if (len >= outsz) {
						len = outsz - 1;
					}
					memcpy(out, a, len);
					out[len] = '\0';
				}
			}
			if (ch == '\0') {
				break;
			}
			memset(&mb, 0, sizeof(mb));
			closed = false;
			continue;
		}
		if (quoted) {
			if (ch == '\\' && p[1] != '\0') {
				p++;
			} else if (ch == '"') {
				quoted = false;
			}
			continue;
		}
		if (depth > 0) {
			if (ch == '\\' && p[1] != '\0') {
				p++;
			} else if (ch == '(') {
				depth++;
			} else if (ch == ')') {
				depth--;
			}
			continue;
		}
		if (isspace((unsigned char)ch)) {
			continue;
		}
		if (ch == '(') {
			depth = 1;
			continue;
		}
		mb.nonblank = true;
		if (closed && !angle) {
			mb.after = true;
		}
		switch (ch) {
		case '"':
			quoted = true;
			break;
		case '<':
			angle = true;
			mb.angles++;
			mb.al = 0;
			break;
		case '>':
			if (angle) {
				angle = false;
				closed = true;
			} else {
				mb.after = true;
			}
			break;
		default:
			if (angle) {
				if (mb.al + 1 < sizeof(mb.angled)) {
					mb.angled[mb.al++] = ch;
				}
			} else if (mb.sl + 1 < sizeof(mb.spec)) {
				mb.spec[mb.sl++] = ch;
			}
		}
	}
	return naddr;
}

const char *tal_milter_address_domain(char *addr)
{
	size_t len = strlen(addr);
	if (len > 0 && addr[len - 1] == '>') {
		addr[len - 1] = '\0';
	}
	char *at = strrchr(addr, '@');
	if (at == NULL || at[1] == '\0') {
		return NULL;
	}
	return at + 1;
}

void tal_milter_subject_cn(const char *subject, char *out, size_t outsz)
{
	const char *cn = NULL;
	for (const char *p = subject; (p = strstr(p, "CN=")) != NULL; p += 3) {
		cn = p + 3;
	}
	if (cn == NULL) {
		snprintf(out, outsz, "%s", subject);
		return;
	}
	size_t len = strcspn(cn, "/,");
	snprintf(out, outsz, "%.*s", (int)len, cn);
}

bool tal_milter_cn_matches(const char *cn, const char *want)
{
	if (strncmp(want, "*.", 2) == 0) {
		size_t wl = strlen(want + 1), cl = strlen(cn);
		return cl > wl && strcasecmp(cn + cl - wl, want + 1) == 0;
	}
	return strcasecmp(cn, want) == 0;
}

/* Copies `s` without comments (RFC 5322 CFWS), lowercased. */
static void strip_comments(const char *s, char *out, size_t outsz)
{
	int depth = 0;
	size_t o = 0;
	bool quoted = false;

	for (; *s != '\0' && o + 1 < outsz; s++) {
		if (!quoted && *s == '(') {
			depth++;
		} else if (!quoted && *s == ')' && depth > 0) {
			depth--;
		} else if (depth == 0) {
			if (*s == '"') {
				quoted = !quoted;
			}
			out[o++] = (char)tolower((unsigned char)*s);
		}
	}
	out[o] = '\0';
}

bool tal_milter_dkim_pass(const char *const *ar, size_t n, const char *id, const char *domain)
{
	char buf[TEXTSZ * 2];
	size_t idlen = strlen(id);

	for (size_t i = 0; i < n; i++) {
		char *save = NULL, *part;
		strip_comments(ar[i], buf, sizeof(buf));
		part = strtok_r(buf, ";", &save);
		if (part == NULL) {
			continue;
		}
		/* authserv-id, optionally followed by a version. */
		char *first = tal_milter_trim(part);
		size_t flen = strcspn(first, " \t\r\n");
		if (flen != idlen || strncasecmp(first, id, idlen) != 0) {
			continue;
		}
		while ((part = strtok_r(NULL, ";", &save)) != NULL) {
			char *tsave = NULL, *tok;
			bool pass = false, match = false;
			for (tok = strtok_r(part, " \t\r\n", &tsave); tok != NULL;
			     tok = strtok_r(NULL, " \t\r\n", &tsave)) {
				if (strcmp(tok, "dkim=pass") == 0) {
					pass = true;
				} else if (strncmp(tok, "header.d=", 9) == 0) {
					char *d = tok + 9;
					size_t dl = strlen(d);
					if (dl > 0 && d[dl - 1] == '.') {
						d[--dl] = '\0';
					}
					match = strcmp(d, domain) == 0;
				}
			}
			if (pass && match) {
				return true;
			}
		}
	}
	return false;
}
