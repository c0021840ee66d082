/*
 * SipHash-2-4 with 128-bit output, after the reference implementation by
 * Aumasson and Bernstein (https://github.com/veorq/SipHash). Byte order is
 * explicit so the digest is the same on every host.
 */
#include "siphash.h"

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND do {							\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

/* Load 8 bytes as a little-endian 64-bit word. */
static uint64_t
load64_le(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 |
	    (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	    (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	    (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

/* Store a 64-bit word as 8 little-endian bytes. */
static void
store64_le(uint8_t *p, uint64_t v)
{
	int	i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Compute SipHash-2-4-128 of in[0..len) under key into out. */
void
siphash128(const uint8_t key[SIPHASH_KEY_LEN], const void *in, size_t len,
    uint8_t out[SIPHASH_OUT_LEN])
{
	const uint8_t	*p = in;
	const uint8_t	*end = p + (len - len % 8);
	uint64_t	 k0 = load64_le(key), k1 = load64_le(key + 8);
	uint64_t	 v0 = UINT64_C(0x736f6d6570736575) ^ k0;
	uint64_t	 v1 = UINT64_C(0x646f72616e646f6d) ^ k1;
	uint64_t	 v2 = UINT64_C(0x6c7967656e657261) ^ k0;
	uint64_t	 v3 = UINT64_C(0x7465646279746573) ^ k1;
	uint64_t	 m, b = (uint64_t)len << 56;

	v1 ^= 0xee;	/* the 128-bit output variant */
	for (; p != end; p += 8) {
		m = load64_le(p);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	switch (len & 7) {
	case 7: b |= (uint64_t)p[6] << 48; /* FALLTHROUGH */
	case 6: b |= (uint64_t)p[5] << 40; /* FALLTHROUGH */
	case 5: b |= (uint64_t)p[4] << 32; /* FALLTHROUGH */
	case 4: b |= (uint64_t)p[3] << 24; /* FALLTHROUGH */
	case 3: b |= (uint64_t)p[2] << 16; /* FALLTHROUGH */
	case 2: b |= (uint64_t)p[1] << 8; /* FALLTHROUGH */
	case 1: b |= (uint64_t)p[0]; break;
	case 0: break;
	}
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;

	v2 ^= 0xee;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	store64_le(out, v0 ^ v1 ^ v2 ^ v3);

	v1 ^= 0xdd;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	store64_le(out + 8, v0 ^ v1 ^ v2 ^ v3);
}
