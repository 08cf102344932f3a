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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_damaged_frames_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
