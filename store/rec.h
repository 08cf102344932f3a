/* Record encoding for LMDB values and keys: length-prefixed strings and
 * fixed-width integers, with bounds-checked reads. */
#ifndef SHIPLOG_STORE_REC_H
#define SHIPLOG_STORE_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REC_MAX 8192u /* largest record we build (10 strings of 1024 + ints) */

struct rec_writer {
	unsigned char buf[REC_MAX + 64];
	size_t len;
	bool overflow;
};

void rec_init(struct rec_writer *w);
void rec_put_u64(struct rec_writer *w, uint64_t v);
void rec_put_i64(struct rec_writer *w, int64_t v);
void rec_put_str(struct rec_writer *w, const char *s);
/* Bytes with a u32 length. */
void rec_put_bytes(struct rec_writer *w, const void *p, size_t n);
/* Key part: the bytes of s followed by a NUL separator. */
void rec_put_keypart(struct rec_writer *w, const char *s);
/* The same for n bytes that may hold a NUL themselves. */
void rec_put_keypart_n(struct rec_writer *w, const void *p, size_t n);
/* Big-endian u64 so keys sort numerically. */
void rec_put_be64(struct rec_writer *w, uint64_t v);

struct rec_reader {
	const unsigned char *p;
	size_t len;
	size_t off;
	bool bad;
};

void rec_reader_init(struct rec_reader *r, const void *p, size_t len);
uint64_t rec_get_u64(struct rec_reader *r);
int64_t rec_get_i64(struct rec_reader *r);
/* Copies a string into out (NUL-terminated, cap bytes); sets bad on error. */
void rec_get_str(struct rec_reader *r, char *out, size_t cap);
uint64_t rec_be64(const void *p);
/* Points *p at the next length-prefixed bytes (no copy). */
void rec_get_bytes(struct rec_reader *r, const void **p, size_t *n);

#endif
