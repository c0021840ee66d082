/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) in software,
 * slicing by 8 bytes with tables built once on first use.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "crc32c.h"

#define CRC32C_POLY	0x82f63b78U	/* reflected Castagnoli polynomial */
#define CRC32C_SLICES	8		/* bytes folded per step */

static uint32_t		crc32c_table[CRC32C_SLICES][256]; /* slice tables */
static pthread_once_t	crc32c_once = PTHREAD_ONCE_INIT; /* builds them */

/* Build the slicing tables. */
static void
crc32c_init(void)
{
	uint32_t	c;
	int		i, k, s;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc32c_table[0][i] = c;
	}
	for (i = 0; i < 256; i++) {
		c = crc32c_table[0][i];
		for (s = 1; s < CRC32C_SLICES; s++) {
			c = crc32c_table[0][c & 0xff] ^ (c >> 8);
			crc32c_table[s][i] = c;
		}
	}
}

/* Extend crc over len bytes of buf. */
uint32_t
crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	uint32_t	 c, lo, hi;

	pthread_once(&crc32c_once, crc32c_init);
	c = ~crc;
	while (len >= CRC32C_SLICES) {
		lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
		    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
		    (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
		c = crc32c_table[7][lo & 0xff] ^
		    crc32c_table[6][(lo >> 8) & 0xff] ^
		    crc32c_table[5][(lo >> 16) & 0xff] ^
		    crc32c_table[4][lo >> 24] ^
		    crc32c_table[3][hi & 0xff] ^
		    crc32c_table[2][(hi >> 8) & 0xff] ^
		    crc32c_table[1][(hi >> 16) & 0xff] ^
		    crc32c_table[0][hi >> 24];
		p += CRC32C_SLICES;
		len -= CRC32C_SLICES;
	}
	while (len-- > 0)
		c = crc32c_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}
