/*
 * common/dname.h -- domain names on the wire, in text, and as store keys.
 *
 * Three forms of one name:
 *  - wire: uncompressed RFC 1035 labels, each a length octet and its bytes,
 *    ending with the root's zero octet; at most 255 octets.
 *  - text: presentation form without the trailing dot ("example.com"), the
 *    root as ".".  No escapes are accepted on input; tallow's names are host
 *    names.  Output escapes anything outside printable ASCII as \DDD.
 *  - key: the store's lookup key, in DNS canonical order (RFC 4034 §6.1) under
 *    plain memcmp: labels from the root down, ASCII-lowercased, each followed
 *    by a 0x00 octet.  "www.Example.COM" -> "com\0example\0www\0"; the root is
 *    the empty key.  A key is always one octet shorter than the wire form.
 *    Because every label ends in 0x00, the keys of a name's descendants are
 *    exactly the keys that start with its key, and a zone is one contiguous
 *    key range.  A 0x00 octet inside a label (legal on the wire, never in our
 *    data) is mapped to 0x01, so such a name sorts near its true place and can
 *    never equal or prefix a stored key.
 *
 * Nothing here allocates; callers provide buffers of the documented sizes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TAL_DNAME_MAXLEN 255  /* wire octets, root included */
#define TAL_KEY_MAXLEN	 254  /* key octets */
#define TAL_LABEL_MAXLEN 63   /* octets of one label */
#define TAL_DNAME_TEXTSZ 1024 /* buffer for any name as escaped text, NUL included */

/*
 * Converts text to wire form.  Accepts an optional trailing dot; "." or ""
 * is the root.  Case is kept.  `wire` must hold TAL_DNAME_MAXLEN octets.
 * Returns the wire length (> 0), or TAL_ELABEL_EMPTY ("a..b", leading dot),
 * TAL_ELABEL_LEN (label over 63), TAL_EDNAME_LEN (over 255 wire octets),
 * TAL_EINVAL (NULL text).
 */
int tal_dname_from_text(const char *text, uint8_t *wire);

/*
 * Returns the length of the uncompressed wire name at the start of
 * [wire, wire + avail): 1 to 255.  TAL_EMALF when it runs past `avail`, uses a
 * compression pointer or a reserved label type, or exceeds 255 octets.
 */
int tal_dname_wire_len(const uint8_t *wire, size_t avail);

/*
 * Writes the text form of a valid wire name into `text` (size `textsize`,
 * at least TAL_DNAME_TEXTSZ is always enough).  Case is kept; no trailing
 * dot; the root is ".".  Returns the text length, or TAL_ESPACE.
 */
int tal_dname_to_text(const uint8_t *wire, char *text, size_t textsize);

/*
 * Builds the key of a valid wire name of length `wirelen` into `key`
 * (TAL_KEY_MAXLEN octets).  Returns the key length (wirelen - 1), or
 * TAL_EMALF if `wire` is not a name of exactly `wirelen` octets.
 */
int tal_dname_to_key(const uint8_t *wire, size_t wirelen, uint8_t *key);

/*
 * Rebuilds the wire form (lowercase) from a key.  `wire` must hold
 * TAL_DNAME_MAXLEN octets.  Returns the wire length, or TAL_EMALF for a key
 * that is not a sequence of 0x00-terminated labels of 1 to 63 octets.
 */
int tal_key_to_wire(const uint8_t *key, size_t keylen, uint8_t *wire);

/* Text to key in one step; returns the key length or a tal_dname_from_text error. */
int tal_key_from_text(const char *text, uint8_t *key);

/* Key to text (lowercase); returns the text length or an error. */
int tal_key_to_text(const uint8_t *key, size_t keylen, char *text, size_t textsize);

/*
 * True when the name with key `key` equals or lies below the name with key
 * `apex` (a suffix match on names is a prefix match on keys).
 */
static inline bool tal_key_is_below(const uint8_t *key, size_t keylen, const uint8_t *apex,
                                    size_t apexlen)
{
	return apexlen <= keylen && memcmp(key, apex, apexlen) == 0;
}

/* Number of labels in a key (the root has 0). */
int tal_key_labels(const uint8_t *key, size_t keylen);
