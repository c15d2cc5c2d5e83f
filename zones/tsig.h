/*
 * zones/tsig.h -- TSIG (RFC 8945) on whole DNS messages, with HMAC from
 * libcrypto.  Used by tallowd for transfer requests, every message of a
 * transfer, and NOTIFY; it lives outside server/ so the daemon links it as
 * a library and includes no crypto headers itself.
 *
 * Digest (RFC 8945 §4.3): for a request or a first response, the message
 * without its TSIG RR (ARCOUNT one less, ID set to the TSIG's original ID),
 * preceded by the request MAC for a response (2-octet length and MAC), then
 * the TSIG variables (key name and algorithm in canonical wire form, class
 * ANY, TTL 0, time signed, fudge, error, other length and data).  Later
 * messages of a multi-message response (§5.3.1) digest the previous
 * message's MAC, the message, and the timers only (time signed, fudge).
 *
 * Nothing here allocates; nothing logs; secrets stay in the caller's key.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zones/xfrconf.h"

#define TAL_TYPE_TSIG    250
#define TAL_TSIG_FUDGE   300
#define TAL_TSIG_MAC_MAX 64
#define TAL_TSIG_RR_MAX  (255 + 10 + 255 + 16 + TAL_TSIG_MAC_MAX + 6 + 6)

/* TSIG error codes (RFC 8945 §3, the TSIG RR's Error field). */
enum {
	TAL_TSIG_NOERROR = 0,
	TAL_TSIG_BADSIG = 16,
	TAL_TSIG_BADKEY = 17,
	TAL_TSIG_BADTIME = 18,
	TAL_TSIG_BADTRUNC = 22,
};

/* A TSIG RR found in a message; pointers borrow the message. */
typedef struct {
	size_t rr_off; /* where the TSIG RR starts (the message without it ends here) */
	uint8_t name[TAL_DNAME_MAXLEN]; /* key name, uncompressed, lowercased */
	size_t name_len;
	uint8_t alg[TAL_DNAME_MAXLEN]; /* algorithm name, lowercased */
	size_t alg_len;
	uint64_t time_signed;
	uint16_t fudge;
	const uint8_t *mac;
	uint16_t mac_len;
	uint16_t orig_id;
	uint16_t error;
	const uint8_t *other;
	uint16_t other_len;
} tal_tsig_rr_t;

/*
 * Finds the TSIG RR of a message: it must be the last record of the
 * additional section (RFC 8945 §5.1).  Returns 0 and fills `out`,
 * TAL_ENOTFOUND when the message has none, TAL_EMALF when the message does
 * not parse or a TSIG RR is anywhere else.
 */
int tal_tsig_find(const uint8_t *msg, size_t len, tal_tsig_rr_t *out);

/* The key name of `t` as normalised text (for tal_tsig_key_get).  0 or TAL_EMALF. */
int tal_tsig_rr_keyname(const tal_tsig_rr_t *t, char *out, size_t size);

/*
 * Verifies the MAC of the message `msg` (`len` octets, TSIG RR included)
 * whose TSIG RR is `t`, with `key`.  `prior`/`prior_len`: the request MAC
 * when verifying a response, the previous MAC for later messages of a
 * stream (`timers_only` true), NULL/0 for a request.  `now` is the Unix
 * time.  Returns a TSIG error: TAL_TSIG_NOERROR, TAL_TSIG_BADKEY (algorithm
 * differs from the key's), TAL_TSIG_BADSIG, TAL_TSIG_BADTRUNC, or
 * TAL_TSIG_BADTIME (MAC good, time outside the fudge), in the order of
 * RFC 8945 §5.2.
 */
int tal_tsig_verify(const tal_tsig_key_t *key, const uint8_t *msg, size_t len,
                    const tal_tsig_rr_t *t, const uint8_t *prior, size_t prior_len,
                    bool timers_only, uint64_t now);

/*
 * Signs the message in msg[0, *len) (its TSIG-less form, ARCOUNT not yet
 * counting the TSIG) and appends the TSIG RR, incrementing ARCOUNT; *len
 * grows.  `cap` is the buffer size.  `prior`, `timers_only` as for verify.
 * `error` and `other` fill the TSIG fields (BADTIME answers carry the
 * server time in `other`).  The MAC is copied to `mac_out`
 * (TAL_TSIG_MAC_MAX octets) with its length in *mac_len, for the next
 * message.  Returns 0, TAL_ESPACE, TAL_EINVAL (unknown algorithm), TAL_EIO
 * (libcrypto failure).
 */
int tal_tsig_sign(const tal_tsig_key_t *key, uint8_t *msg, size_t *len, size_t cap,
                  const uint8_t *prior, size_t prior_len, bool timers_only, uint64_t now,
                  uint16_t error, const uint8_t *other, size_t other_len, uint8_t *mac_out,
                  size_t *mac_len);

/*
 * Appends an unsigned TSIG RR (empty MAC) echoing the key and algorithm
 * names of `t`, with `error` (BADKEY, BADSIG answers, RFC 8945 §5.3.2).
 * Returns 0 or TAL_ESPACE.
 */
int tal_tsig_append_error(const tal_tsig_rr_t *t, uint8_t *msg, size_t *len, size_t cap,
                          uint64_t now, uint16_t error);
