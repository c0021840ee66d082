/* CRC-32C (Castagnoli), the checksum of journal records. */
#ifndef REVOKD_CRC32C_H
#define REVOKD_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend crc (0 to start) over len bytes of buf; returns the new CRC.
 * crc32c(0, "123456789", 9) == 0xE3069283. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

#endif
