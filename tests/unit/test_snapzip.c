/* The codecs of raft/: snapshots (snapzip.c) and entries (entryzip.c, in
 * protocol/'s envelope): round trips, what is left as it is, and refusals of
 * damaged or truncated input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/proto.h"
#include "raft/entryzip.h"
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
/* Found by fuzz/fuzz_snapshot: a 64-byte frame whose header announces
 * 1 TB of content made the decompressor ask for that much memory. A frame
 * may announce at most what LZ4 can expand its bytes to. */
static void test_frame_announcing_more_than_lz4_can_expand_is_refused(void **state)
{
	(void)state;
	static const unsigned char frame[] = {
		0x04, 0x22, 0x4d, 0x18, 0x4c, 0x70, 0x95, 0x50, 0x00, 0x00, 0xf6, 0x00, 0x00, 0x00, 0xf2, 0x15,
		0x0b, 0x00, 0x00, 0xa2, 0x53, 0x48, 0x49, 0x50, 0x53, 0x00, 0x30, 0x3b, 0x05, 0x01, 0x16, 0x34,
		0x00, 0x01, 0x32, 0x1f, 0x34, 0x92, 0x01, 0x04, 0x1f, 0x05, 0x25, 0x03, 0x93, 0x1f, 0x35, 0x93,
		0x01, 0x3d, 0x1d, 0x35, 0x00, 0x00, 0x00, 0xfe, 0x00, 0x00, 0x00, 0x00, 0xe5, 0x28, 0x12, 0x7c,
	};
	void *out = NULL;
	size_t out_len = 0;
	assert_true(repl_snapshot_is_compressed(frame, sizeof(frame)));
	assert_int_equal(repl_snapshot_decompress(frame, sizeof(frame), &out, &out_len), -1);
	assert_null(out);
	/* The bound leaves room for the most compressible state: 16 MiB of zeros. */
	size_t n = 16u << 20;
	unsigned char *zeros = calloc(1, n);
	void *z;
	size_t zlen;
	assert_non_null(zeros);
	assert_int_equal(repl_snapshot_compress(zeros, n, &z, &zlen), 0);
	assert_int_equal(repl_snapshot_decompress(z, zlen, &out, &out_len), 0);
	assert_int_equal(out_len, n);
	assert_memory_equal(out, zeros, n);
	free(out);
	free(z);
	free(zeros);
}

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

/* ---- entries ---- */

static void test_entry_round_trip(void **state)
{
	(void)state;
	struct entryzip_buf pack = {0}, unpack = {0};
	size_t sizes[] = {ENTRYZIP_MIN, 4096, 4u << 20};
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		char *raw = sample(sizes[k]);
		size_t zlen = entryzip_pack(raw, sizes[k], &pack);
		assert_true(zlen > 0 && zlen <= sizes[k] - sizes[k] / 10);
		assert_int_equal(zlen % 8, 0); /* raft entries stay 8-byte padded */
		uint32_t version;
		assert_int_equal(proto_format_version(pack.p, zlen, &version), PROTO_OK);
		assert_int_equal(version, PROTO_ZENTRY_VERSION); /* a v1-only binary stops at it */
		const void *out;
		size_t out_len;
		assert_int_equal(entryzip_unpack(pack.p, zlen, &unpack, &out, &out_len), PROTO_OK);
		assert_int_equal(out_len, sizes[k]);
		assert_memory_equal(out, raw, out_len);
		free(raw);
	}
	entryzip_buf_free(&pack);
	entryzip_buf_free(&unpack);
}

/* Short or incompressible entries are proposed as they are, and an entry
 * that is not compressed unpacks to itself. */
static void test_entry_left_as_is(void **state)
{
	(void)state;
	struct entryzip_buf pack = {0}, unpack = {0};
	char *small = sample(ENTRYZIP_MIN - 8);
	assert_int_equal(entryzip_pack(small, ENTRYZIP_MIN - 8, &pack), 0);
	unsigned char noise[4096];
	uint32_t x = 12345;
	for (size_t i = 0; i < sizeof(noise); i++) {
		x = x * 1103515245u + 12345u;
		noise[i] = (unsigned char)(x >> 24);
	}
	assert_int_equal(entryzip_pack(noise, sizeof(noise), &pack), 0);
	const void *out;
	size_t out_len;
	assert_int_equal(entryzip_unpack(small, ENTRYZIP_MIN - 8, &unpack, &out, &out_len), PROTO_OK);
	assert_ptr_equal(out, small);
	assert_int_equal(out_len, ENTRYZIP_MIN - 8);
	free(small);
	entryzip_buf_free(&pack);
	entryzip_buf_free(&unpack);
}

/* A damaged compressed entry is refused (the node applies it as a bad
 * command): cut, a wrong length, corrupt bytes. */
static void test_entry_damaged(void **state)
{
	(void)state;
	struct entryzip_buf pack = {0}, unpack = {0};
	char *raw = sample(8192);
	size_t zlen = entryzip_pack(raw, 8192, &pack);
	assert_true(zlen > 0);
	unsigned char *e = malloc(zlen);
	const void *out;
	size_t out_len;
	memcpy(e, pack.p, zlen);
	assert_int_equal(entryzip_unpack(e, PROTO_ZENTRY_HEADER + 4, &unpack, &out, &out_len), PROTO_EINVAL);
	assert_int_equal(entryzip_unpack(e, 5, &unpack, &out, &out_len), PROTO_EINVAL); /* a header cut short */
	e[7] ^= 1; /* raw length off by one */
	assert_int_equal(entryzip_unpack(e, zlen, &unpack, &out, &out_len), PROTO_EINVAL);
	memcpy(e, pack.p, zlen);
	e[4] = 0x7f; /* raw length over PROTO_MAX_MSG */
	assert_int_equal(entryzip_unpack(e, zlen, &unpack, &out, &out_len), PROTO_EINVAL);
	memcpy(e, pack.p, zlen);
	memset(e + PROTO_ZENTRY_HEADER, 0xff, 16); /* corrupt LZ4 tokens */
	assert_int_equal(entryzip_unpack(e, zlen, &unpack, &out, &out_len), PROTO_EINVAL);
	free(e);
	free(raw);
	entryzip_buf_free(&pack);
	entryzip_buf_free(&unpack);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_round_trip),
		cmocka_unit_test(test_entry_left_as_is),
		cmocka_unit_test(test_entry_damaged),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_frame_announcing_more_than_lz4_can_expand_is_refused),
		cmocka_unit_test(test_damaged_frames_refused),
		cmocka_unit_test(test_streamed_pieces),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
