/* The snapshot codec (raft/snapzip.c): round trips, and refusals of damaged
 * or truncated frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raft/snapzip.h"

/* A state-like buffer: repetitive records with a counter. */
static char *sample(size_t len)
{
	char *p = malloc(len);
	assert_non_null(p);
	for (size_t i = 0; i < len; i++) {
		p[i] = (char)("release-name-" [i % 13] + (i / 4096) % 7);
	}
	return p;
}

static void test_round_trip(void **state)
{
	(void)state;
	size_t sizes[] = {1, 4096, 5u << 20}; /* the last spans two 4 MiB blocks */
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		char *raw = sample(sizes[k]);
		void *z, *back;
		size_t zlen, blen;
		assert_int_equal(repl_snapshot_compress(raw, sizes[k], &z, &zlen), 0);
		assert_true(repl_snapshot_is_compressed(z, zlen));
		assert_false(repl_snapshot_is_compressed(raw, sizes[k]));
		assert_int_equal(repl_snapshot_decompress(z, zlen, &back, &blen), 0);
		assert_int_equal(blen, sizes[k]);
		assert_memory_equal(back, raw, blen);
		free(back);
		free(z);
		free(raw);
	}
}

static void test_damaged_frames_refused(void **state)
{
	(void)state;
	size_t len = 1u << 20;
	char *raw = sample(len);
	void *z, *back;
	size_t zlen, blen;
	assert_int_equal(repl_snapshot_compress(raw, len, &z, &zlen), 0);
	for (size_t cut = 4; cut < zlen; cut += zlen / 17 + 1) { /* cut short anywhere */
		assert_int_equal(repl_snapshot_decompress(z, cut, &back, &blen), -1);
	}
	unsigned char *bytes = z;
	bytes[zlen / 2] ^= 0xff; /* decoding or the content checksum fails */
	assert_int_equal(repl_snapshot_decompress(z, zlen, &back, &blen), -1);
	assert_int_equal(repl_snapshot_decompress("\x04\x22\x4d\x18junk", 8, &back, &blen), -1);
	free(z);
	free(raw);
}

/* Streamed in uneven pieces, the frame decodes to the same content; a
 * stream longer or shorter than announced is refused. */
static void test_streamed_pieces(void **state)
{
	(void)state;
	size_t len = (5u << 20) + 123;
	char *raw = sample(len);
	struct snapzip *z = snapzip_begin(len);
	assert_non_null(z);
	for (size_t off = 0, step = 1; off < len; step = step * 7 + 3) {
		size_t n = step % (3u << 20) + 1; /* 1 byte to 3 MiB: beyond a 1 MiB piece too */
		n = n < len - off ? n : len - off;
		assert_int_equal(snapzip_put(z, raw + off, n), 0);
		off += n;
	}
	void *frame, *back;
	size_t flen, blen;
	assert_int_equal(snapzip_end(z, &frame, &flen), 0);
	assert_int_equal(repl_snapshot_decompress(frame, flen, &back, &blen), 0);
	assert_int_equal(blen, len);
	assert_memory_equal(back, raw, len);
	free(back);
	free(frame);

	z = snapzip_begin(100); /* short */
	assert_int_equal(snapzip_put(z, raw, 99), 0);
	assert_int_equal(snapzip_end(z, &frame, &flen), -1);
	z = snapzip_begin(100); /* long */
	int rv = snapzip_put(z, raw, 50);
	rv |= snapzip_put(z, raw, 51);
	rv |= snapzip_end(z, &frame, &flen);
	assert_int_equal(rv, -1);
	free(raw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_damaged_frames_refused),
		cmocka_unit_test(test_streamed_pieces),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
