/* SipHash-2-4 with 128-bit output, the keyed digest of the blocklist. */
#ifndef REVOKD_SIPHASH_H
#define REVOKD_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN	16	/* bytes of a SipHash key */
#define SIPHASH_OUT_LEN	16	/* bytes of a SipHash-2-4-128 digest */

/* Compute SipHash-2-4-128 of in[0..len) under key into out. */
void siphash128(const uint8_t key[SIPHASH_KEY_LEN], const void *in,
    size_t len, uint8_t out[SIPHASH_OUT_LEN]);

#endif
