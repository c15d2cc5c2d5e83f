/*
 * common/node.c -- readers of the node and zone value formats (node.h).
 *
 * Values come from the store and so from disk: every length is checked
 * against the value's size, and a value that does not parse is reported as
 * TAL_EMALF, never trusted.
 */
#include "common/node.h"

#include <string.h>

int tal_node_next(const uint8_t *node, size_t len, tal_node_iter_t *it, tal_rrset_view_t *out)
{
	if (len < TAL_NODE_HDRLEN || node[0] != TAL_NODE_VERSION) {
		return TAL_EMALF;
	}
	if (it->idx >= tal_wire_read_u16(node + 2)) {
		return TAL_ENOTFOUND;
	}
	size_t p = it->off == 0 ? TAL_NODE_HDRLEN : it->off;
	if (p > len || len - p < TAL_RRSET_HDRLEN) {
		return TAL_EMALF;
	}
	out->type = tal_wire_read_u16(node + p);
	out->count = tal_wire_read_u16(node + p + 2);
	out->rrs_len = tal_wire_read_u32(node + p + 4);
	out->add_len = tal_wire_read_u16(node + p + 8);
	if ((uint64_t)len - p - TAL_RRSET_HDRLEN < (uint64_t)out->rrs_len + out->add_len) {
		return TAL_EMALF;
	}
	out->rrs = node + p + TAL_RRSET_HDRLEN;
	out->add = out->add_len > 0 ? out->rrs + out->rrs_len : NULL;
	it->off = p + TAL_RRSET_HDRLEN + out->rrs_len + out->add_len;
	it->idx++;
	return 0;
}

/* Offset just past the RRsets, or a negative error. */
static long node_rrsets_end(const uint8_t *node, size_t len)
{
	if (len < TAL_NODE_HDRLEN || node[0] != TAL_NODE_VERSION) {
		return TAL_EMALF;
	}
	uint16_t nsets = tal_wire_read_u16(node + 2);
	size_t p = TAL_NODE_HDRLEN;
	for (uint16_t i = 0; i < nsets; i++) {
		if (len - p < TAL_RRSET_HDRLEN) {
			return TAL_EMALF;
		}
		uint32_t rl = tal_wire_read_u32(node + p + 4);
		uint16_t al = tal_wire_read_u16(node + p + 8);
		if ((uint64_t)len - p - TAL_RRSET_HDRLEN < (uint64_t)rl + al) {
			return TAL_EMALF;
		}
		p += TAL_RRSET_HDRLEN + rl + al;
	}
	return (long)p;
}

int tal_node_find(const uint8_t *node, size_t len, uint16_t type, tal_rrset_view_t *out)
{
	if (len < TAL_NODE_HDRLEN || node[0] != TAL_NODE_VERSION) {
		return TAL_EMALF;
	}
	uint16_t nsets = tal_wire_read_u16(node + 2);
	size_t p = TAL_NODE_HDRLEN;
	for (uint16_t i = 0; i < nsets; i++) {
		if (len - p < TAL_RRSET_HDRLEN) {
			return TAL_EMALF;
		}
		uint16_t t = tal_wire_read_u16(node + p);
		uint32_t rl = tal_wire_read_u32(node + p + 4);
		uint16_t al = tal_wire_read_u16(node + p + 8);
		if ((uint64_t)len - p - TAL_RRSET_HDRLEN < (uint64_t)rl + al) {
			return TAL_EMALF;
		}
		if (t == type) {
			out->type = t;
			out->count = tal_wire_read_u16(node + p + 2);
			out->rrs = node + p + TAL_RRSET_HDRLEN;
			out->rrs_len = rl;
			out->add = al > 0 ? out->rrs + rl : NULL;
			out->add_len = al;
			return 0;
		}
		p += TAL_RRSET_HDRLEN + rl + al;
	}
	return TAL_ENOTFOUND;
}

int tal_node_tenants(const uint8_t *node, size_t len, tal_tenants_view_t *out)
{
	memset(out, 0, sizeof(*out));
	long end = node_rrsets_end(node, len);
	if (end < 0) {
		return (int)end;
	}
	if (!(node[1] & TAL_NODE_F_TENANTS)) {
		return 0;
	}
	size_t p = (size_t)end;
	if (len - p < 6) {
		return TAL_EMALF;
	}
	out->ttl = tal_wire_read_u32(node + p);
	out->count = tal_wire_read_u16(node + p + 4);
	if ((len - p - 6) / TAL_TENANT_IDLEN < out->count) {
		return TAL_EMALF;
	}
	out->ids = node + p + 6;
	out->present = true;
	return 0;
}

bool tal_tenants_contains(const tal_tenants_view_t *t, const uint8_t *id)
{
	size_t lo = 0;
	size_t hi = t->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(t->ids + mid * TAL_TENANT_IDLEN, id, TAL_TENANT_IDLEN);
		if (c == 0) {
			return true;
		}
		if (c < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return false;
}

int tal_zone_parse(const uint8_t *val, size_t len, tal_zone_view_t *out)
{
	if (len < TAL_ZONE_HDRLEN || val[0] != TAL_ZONE_VERSION) {
		return TAL_EMALF;
	}
	out->zone_id = tal_wire_read_u32(val + 4);
	out->serial = tal_wire_read_u32(val + 8);
	out->neg_soa_len = tal_wire_read_u16(val + 12);
	if (len - TAL_ZONE_HDRLEN < out->neg_soa_len) {
		return TAL_EMALF;
	}
	out->neg_soa = val + TAL_ZONE_HDRLEN;
	out->priv = out->neg_soa + out->neg_soa_len;
	out->priv_len = len - TAL_ZONE_HDRLEN - out->neg_soa_len;
	return 0;
}

/* The value of each octet as a hex digit; X (> 15) for a non-digit. */
#define X 0xFF
/* clang-format off */
static const uint8_t hex_digit[256] = {
	 X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
	 X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
	 X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
	 0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  X,  X,  X,  X,  X,  X,
	 X, 10, 11, 12, 13, 14, 15,  X,  X,  X,  X,  X,  X,  X,  X,  X,
	 X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
	 X, 10, 11, 12, 13, 14, 15,  X,  X,  X,  X,  X,  X,  X,  X,  X,
	 X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
	 X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
	 X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
	 X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
	 X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
	 X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
	 X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
	 X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
	 X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
};
/* clang-format on */
#undef X

bool tal_guid_label_parse(const uint8_t *label, size_t len, uint8_t *id)
{
	/* Where each octet's two digits start in 8-4-4-4-12. */
	static const uint8_t at[16] = { 0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34 };
	unsigned bad = 0;

	if (len != 36 || label[8] != '-' || label[13] != '-' || label[18] != '-' ||
	    label[23] != '-') {
		return false;
	}
	for (size_t i = 0; i < 16; i++) {
		unsigned hi = hex_digit[label[at[i]]];
		unsigned lo = hex_digit[label[at[i] + 1]];
		bad |= hi | lo;
		id[i] = (uint8_t)(hi << 4 | lo);
	}
	return bad < 16;
}
