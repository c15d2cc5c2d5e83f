/*
 * common/wire.h -- big-endian integer helpers and a bounds-checked wire
 * cursor.
 *
 * Model: a tal_wire_t is a transparent value that lives on the stack and
 * walks a borrowed buffer, as Knot's wire_ctx does.  Every read and write is
 * bounds-checked; the first failure sets `error` (TAL_EMALF on a read past
 * the end, TAL_ESPACE on a write past the end) and it stays set: later
 * operations do nothing, reads yield zero, and the caller checks `error` once
 * at the end of a sequence.  Integers go through memcpy, so unaligned
 * buffers are fine and no strict-aliasing rule is bent.
 *
 * Nothing here allocates.  The cursor never owns its buffer.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/error.h"

static inline uint16_t tal_wire_read_u16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return __builtin_bswap16(v);
}

static inline uint32_t tal_wire_read_u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return __builtin_bswap32(v);
}

static inline uint64_t tal_wire_read_u64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return __builtin_bswap64(v);
}

static inline void tal_wire_write_u16(uint8_t *p, uint16_t v)
{
	v = __builtin_bswap16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void tal_wire_write_u32(uint8_t *p, uint32_t v)
{
	v = __builtin_bswap32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void tal_wire_write_u64(uint8_t *p, uint64_t v)
{
	v = __builtin_bswap64(v);
	memcpy(p, &v, sizeof(v));
}

/* A cursor over [base, base + size); `pos` is the current offset. */
typedef struct {
	uint8_t *base;
	size_t size;
	size_t pos;
	int error; /* 0, or the first TAL_E* code; sticky. */
} tal_wire_t;

/* Starts a cursor at the beginning of a buffer the caller keeps alive. */
static inline tal_wire_t tal_wire_init(uint8_t *base, size_t size)
{
	tal_wire_t w = { base, size, 0, 0 };
	return w;
}

/* Read-only variant; the caller must not use the write functions on it. */
static inline tal_wire_t tal_wire_init_const(const uint8_t *base, size_t size)
{
	tal_wire_t w = { (uint8_t *)base, size, 0, 0 };
	return w;
}

static inline size_t tal_wire_avail(const tal_wire_t *w)
{
	return w->error ? 0 : w->size - w->pos;
}

static inline const uint8_t *tal_wire_ptr(const tal_wire_t *w)
{
	return w->base + w->pos;
}

/* Checks that n more bytes can be read; sets the sticky error if not. */
static inline bool tal_wire_can_read(tal_wire_t *w, size_t n)
{
	if (w->error) {
		return false;
	}
	if (w->size - w->pos < n) {
		w->error = TAL_EMALF;
		return false;
	}
	return true;
}

static inline bool tal_wire_can_write(tal_wire_t *w, size_t n)
{
	if (w->error) {
		return false;
	}
	if (w->size - w->pos < n) {
		w->error = TAL_ESPACE;
		return false;
	}
	return true;
}

static inline void tal_wire_skip(tal_wire_t *w, size_t n)
{
	if (tal_wire_can_read(w, n)) {
		w->pos += n;
	}
}

static inline uint8_t tal_wire_get_u8(tal_wire_t *w)
{
	if (!tal_wire_can_read(w, 1)) {
		return 0;
	}
	return w->base[w->pos++];
}

static inline uint16_t tal_wire_get_u16(tal_wire_t *w)
{
	if (!tal_wire_can_read(w, 2)) {
		return 0;
	}
	uint16_t v = tal_wire_read_u16(w->base + w->pos);
	w->pos += 2;
	return v;
}

static inline uint32_t tal_wire_get_u32(tal_wire_t *w)
{
	if (!tal_wire_can_read(w, 4)) {
		return 0;
	}
	uint32_t v = tal_wire_read_u32(w->base + w->pos);
	w->pos += 4;
	return v;
}

/* Copies n bytes out; on failure `dst` is left untouched. */
static inline void tal_wire_get_bytes(tal_wire_t *w, void *dst, size_t n)
{
	if (tal_wire_can_read(w, n)) {
		memcpy(dst, w->base + w->pos, n);
		w->pos += n;
	}
}

static inline void tal_wire_put_u8(tal_wire_t *w, uint8_t v)
{
	if (tal_wire_can_write(w, 1)) {
		w->base[w->pos++] = v;
	}
}

static inline void tal_wire_put_u16(tal_wire_t *w, uint16_t v)
{
	if (tal_wire_can_write(w, 2)) {
		tal_wire_write_u16(w->base + w->pos, v);
		w->pos += 2;
	}
}

static inline void tal_wire_put_u32(tal_wire_t *w, uint32_t v)
{
	if (tal_wire_can_write(w, 4)) {
		tal_wire_write_u32(w->base + w->pos, v);
		w->pos += 4;
	}
}

static inline void tal_wire_put_bytes(tal_wire_t *w, const void *src, size_t n)
{
	if (tal_wire_can_write(w, n)) {
		memcpy(w->base + w->pos, src, n);
		w->pos += n;
	}
}
