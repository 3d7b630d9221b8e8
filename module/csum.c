// SPDX-License-Identifier: GPL-2.0
/*
 * The bytes a writing target stores, uafault_fill() of the run's seed and
 * the byte's offset in the range, and checksums of bytes no buffer holds.
 * A leaf: it calls nothing else of uafault's.
 */
#include <linux/types.h>

#include "internal.h"

/**
 * uafault_fill_buf() - fill a buffer with the bytes a writing target stores
 * @buf: the buffer
 * @seed: the run's seed
 * @start: offset in the range of @buf[0]
 * @n: bytes to fill
 */
void uafault_fill_buf(u8 *buf, u32 seed, size_t start, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = uafault_fill(seed, start + i);
}

/**
 * uafault_csum_fill() - checksum the bytes a writing target stores
 * @hash: checksum so far
 * @seed: the run's seed
 * @start: offset in the range of the first byte
 * @n: bytes
 *
 * Return: @hash updated with uafault_fill(@seed, @start .. @start + @n - 1).
 */
u64 uafault_csum_fill(u64 hash, u32 seed, size_t start, size_t n)
{
	size_t i;
	u8 b;

	for (i = 0; i < n; i++) {
		b = uafault_fill(seed, start + i);
		hash = uafault_csum(hash, &b, 1);
	}
	return hash;
}

/**
 * uafault_csum_zero() - checksum zero bytes
 * @hash: checksum so far
 * @n: bytes
 *
 * Return: @hash updated with @n zero bytes.
 */
u64 uafault_csum_zero(u64 hash, size_t n)
{
	static const u8 zero;

	while (n--)
		hash = uafault_csum(hash, &zero, 1);
	return hash;
}
