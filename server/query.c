/*
 * server/query.c -- parsing of one request: header, question and OPT.
 *
 * Model: a single forward pass over the request with explicit bounds checks,
 * zero-copy (the question name is a pointer into the request) and
 * allocation-free, in the manner of picohttpparser's phr_parse_request.  The
 * answer side (answer.c) only ever reads what this pass has validated.
 *
 * Rules, stricter than a general-purpose parser where a server gains by it:
 *  - The question name must be uncompressed.  A query has nothing to point
 *    back to but the header, so a pointer there is either an attack or a
 *    broken client (Knot and NSD refuse it too); refusing it also makes
 *    pointer loops impossible in the one name we use.
 *  - Names in the answer, authority and additional sections are skipped, but
 *    still validated: each compression pointer must point into the message
 *    body (past the header) and strictly before the label run it ends, so
 *    every hop goes backwards and no loop is possible; the hop count and the
 *    decompressed length (255) are bounded as well, so a hostile message
 *    costs linear time.
 *  - RDATA of skipped records is not interpreted: only RDLENGTH is checked
 *    against the message (we never use those records).
 *  - At most one OPT, in the additional section, owned by the root, with
 *    options that tile its RDATA exactly (RFC 6891 6.1.1, 6.1.2).  OPT
 *    records in the answer or authority section are skipped like any other
 *    record.
 *  - Octets after the last counted record are ignored, as BIND, NSD and Knot
 *    do: some middleboxes pad messages, and the counted records are all a
 *    message means.
 *  - For an opcode other than QUERY the question is parsed only to echo it,
 *    and the rest only to find an OPT to answer with; a malformed rest does
 *    not turn NOTIMP into FORMERR.
 */
#include "server/query.h"

#include <string.h>

#include "common/dname.h"
#include "common/node.h"
#include "common/wire.h"

#define HDR_LEN      12
#define FLAG_QR      0x8000
#define OPCODE_QUERY 0
#define MAX_PTR_HOPS 127 /* a name has at most 127 labels, so no honest chain is longer */

/*
 * Skips one name that may be compressed, starting at *pos.  On success
 * returns true and sets *pos just past the name as it appears in place.
 */
static bool skip_name(const uint8_t *msg, size_t len, size_t *pos)
{
	size_t p = *pos;
	size_t run = p;   /* start of the current run of labels */
	size_t after = 0; /* where the name ends in place, once a pointer is seen */
	size_t total = 1; /* decompressed octets, the root included */
	unsigned hops = 0;

	for (;;) {
		if (p >= len) {
			return false;
		}
		uint8_t lab = msg[p];
		if (lab == 0) {
			p++;
			break;
		}
		if ((lab & 0xC0) == 0xC0) {
			if (len - p < 2) {
				return false;
			}
			size_t target = ((size_t)(lab & 0x3F) << 8) | msg[p + 1];
			if (after == 0) {
				after = p + 2;
			}
			if (target < HDR_LEN || target >= run || ++hops > MAX_PTR_HOPS) {
				return false;
			}
			p = run = target;
			continue;
		}
		if (lab > TAL_LABEL_MAXLEN) {
			return false; /* 0x40 and 0x80: reserved label types (RFC 6891 5) */
		}
		total += 1 + (size_t)lab;
		if (total > TAL_DNAME_MAXLEN) {
			return false;
		}
		p += 1 + (size_t)lab;
	}
	*pos = after != 0 ? after : p;
	return true;
}

/*
 * Parses the uncompressed question name at *pos.  Returns its wire length,
 * or 0 when it is truncated, compressed, uses a reserved label type or is
 * longer than 255 octets.
 */
static size_t parse_qname(const uint8_t *msg, size_t len, size_t pos)
{
	size_t p = pos;

	for (;;) {
		if (p >= len) {
			return 0;
		}
		uint8_t lab = msg[p];
		if (lab == 0) {
			p++;
			break;
		}
		if (lab > TAL_LABEL_MAXLEN) {
			return 0;
		}
		p += 1 + (size_t)lab;
		if (p - pos >= TAL_DNAME_MAXLEN) {
			return 0; /* even the root octet would not fit */
		}
	}
	return p - pos;
}

/* Validates the RDATA of an OPT record: options must tile it exactly. */
static bool opt_rdata_ok(const uint8_t *rd, size_t rdlen)
{
	size_t p = 0;

	while (p < rdlen) {
		if (rdlen - p < 4) {
			return false;
		}
		size_t olen = tal_wire_read_u16(rd + p + 2);
		p += 4;
		if (rdlen - p < olen) {
			return false;
		}
		p += olen;
	}
	return true;
}

/*
 * Walks the answer, authority and additional sections from `pos`, filling
 * the EDNS fields of `qi`.  Returns TAL_PARSE_OK or TAL_PARSE_FORMERR.
 */
static int parse_records(const uint8_t *msg, size_t len, size_t pos, tal_qinfo_t *qi)
{
	uint32_t skip = (uint32_t)qi->ancount + qi->nscount;
	uint32_t total = skip + qi->arcount;

	for (uint32_t i = 0; i < total; i++) {
		size_t owner = pos;
		if (!skip_name(msg, len, &pos) || len - pos < 10) {
			return TAL_PARSE_FORMERR;
		}
		uint16_t type = tal_wire_read_u16(msg + pos);
		uint16_t rrclass = tal_wire_read_u16(msg + pos + 2);
		uint32_t ttl = tal_wire_read_u32(msg + pos + 4);
		size_t rdlen = tal_wire_read_u16(msg + pos + 8);
		pos += 10;
		if (len - pos < rdlen) {
			return TAL_PARSE_FORMERR;
		}
		if (i >= skip && type == TAL_TYPE_OPT) {
			if (qi->has_edns || msg[owner] != 0 || !opt_rdata_ok(msg + pos, rdlen)) {
				return TAL_PARSE_FORMERR;
			}
			qi->has_edns = true;
			qi->edns_udp_size = rrclass;
			qi->edns_ext_rcode = (uint8_t)(ttl >> 24);
			qi->edns_version = (uint8_t)(ttl >> 16);
			qi->edns_flags = (uint16_t)ttl;
			qi->edns_do = (ttl & 0x8000) != 0;
		}
		pos += rdlen;
	}
	return TAL_PARSE_OK;
}

static void clear_edns(tal_qinfo_t *qi)
{
	qi->has_edns = false;
	qi->edns_udp_size = 0;
	qi->edns_ext_rcode = 0;
	qi->edns_version = 0;
	qi->edns_flags = 0;
	qi->edns_do = false;
}

int tal_query_parse(const uint8_t *req, size_t len, tal_qinfo_t *qi)
{
	memset(qi, 0, sizeof(*qi));
	if (len < HDR_LEN) {
		return TAL_PARSE_DROP;
	}
	qi->id = tal_wire_read_u16(req);
	qi->flags = tal_wire_read_u16(req + 2);
	if (qi->flags & FLAG_QR) {
		return TAL_PARSE_DROP; /* never answer a response: no reflection loops */
	}
	qi->opcode = (uint8_t)((qi->flags >> 11) & 0x0F);
	qi->qdcount = tal_wire_read_u16(req + 4);
	qi->ancount = tal_wire_read_u16(req + 6);
	qi->nscount = tal_wire_read_u16(req + 8);
	qi->arcount = tal_wire_read_u16(req + 10);

	if (qi->qdcount != 1) {
		return qi->opcode != OPCODE_QUERY ? TAL_PARSE_NOTIMP : TAL_PARSE_FORMERR;
	}

	size_t nlen = parse_qname(req, len, HDR_LEN);
	if (nlen == 0 || len - HDR_LEN - nlen < 4) {
		return qi->opcode != OPCODE_QUERY ? TAL_PARSE_NOTIMP : TAL_PARSE_FORMERR;
	}
	qi->qname = req + HDR_LEN;
	qi->qname_len = (uint8_t)nlen;
	qi->qtype = tal_wire_read_u16(req + HDR_LEN + nlen);
	qi->qclass = tal_wire_read_u16(req + HDR_LEN + nlen + 2);
	qi->question_end = HDR_LEN + nlen + 4;

	int ret = parse_records(req, len, qi->question_end, qi);
	if (qi->opcode != OPCODE_QUERY) {
		if (ret != TAL_PARSE_OK) {
			clear_edns(qi);
		}
		return TAL_PARSE_NOTIMP;
	}
	if (ret != TAL_PARSE_OK) {
		/* No OPT in a FORMERR: we cannot vouch for what we read (RFC 6891 7). */
		clear_edns(qi);
		return ret;
	}
	if (qi->has_edns && qi->edns_version > 0) {
		return TAL_PARSE_BADVERS;
	}
	return TAL_PARSE_OK;
}

/*
 * The store key of the question name (common/dname.h), built for the hot
 * path: the name is lowercased eight octets at a time (length octets are
 * at most 63, below 'A', so they pass unchanged), then the labels are
 * copied in reverse order.  A 0x00 inside a label, which never occurs in
 * honest queries, takes the general path that maps it to 0x01.
 */
int tal_query_key(const uint8_t *name, size_t len, uint8_t *key)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t high = 0x8080808080808080ULL;
	uint8_t offs[TAL_DNAME_MAXLEN / 2];
	size_t n = 0, p = 0, out = 0, i = 0;
	/* NUL octets (in a label, or an empty label) take the general path. */
	if (len == 0 || len > TAL_DNAME_MAXLEN || memchr(name, 0, len - 1) != NULL) {
		return tal_dname_to_key(name, len, key);
	}
	while (p < len - 1) {
		if (name[p] > TAL_LABEL_MAXLEN) {
			return TAL_EMALF;
		}
		offs[n++] = (uint8_t)p;
		p += 1 + (size_t)name[p];
	}
	if (p != len - 1) {
		return TAL_EMALF;
	}
	/* Labels in reverse order, each followed by 0x00 ... */
	while (n > 0) {
		size_t off = offs[--n];
		size_t lab = name[off];
		memcpy(key + out, name + off + 1, lab);
		out += lab;
		key[out++] = 0;
	}
	/* ... then ASCII upper case to lower, eight octets at a time (0x00 is no letter). */
	for (; i + 8 <= out; i += 8) {
		uint64_t x;
		memcpy(&x, key + i, 8);
		uint64_t h = x & ~high;
		uint64_t ge_a = h + (0x80 - 'A') * ones;
		uint64_t gt_z = h + (0x80 - 'Z' - 1) * ones;
		uint64_t upper = (ge_a ^ gt_z) & ~x & high;
		x |= upper >> 2;
		memcpy(key + i, &x, 8);
	}
	for (; i < out; i++) {
		if ((unsigned)key[i] - 'A' < 26) {
			key[i] = (uint8_t)(key[i] | 0x20);
		}
	}
	return (int)out;
}
