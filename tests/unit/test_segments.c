/* raft/segments.c: the pre-start checks that refuse raft_uv files libraft
 * 0.15.0 mishandles: an open segment cut inside a batch or damaged before
 * its last batch, a snapshot whose LZ4 frame is cut short. Frames are built by hand with stored (uncompressed) blocks:
 * the check walks block sizes only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "raft/segments.h"

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

/* An LZ4 frame: content size and content checksum flags set, two stored blocks. */
static size_t make_frame(unsigned char *f)
{
	size_t n = 0;
	put32(f, 0x184D2204u);
	n = 4;
	f[n++] = 0x40 | 0x08 | 0x04; /* version 01, content size, content checksum */
	f[n++] = 0x40;               /* block max size 64 KB */
	memset(f + n, 0, 8);         /* content size (not checked) */
	n += 8;
	f[n++] = 0;                  /* header checksum (not checked) */
	for (int b = 0; b < 2; b++) {
		put32(f + n, 0x80000000u | 100);
		n += 4;
		memset(f + n, 'a' + b, 100);
		n += 100;
	}
	put32(f + n, 0); /* end mark */
	n += 4;
	put32(f + n, 0x12345678u); /* content checksum */
	return n + 4;
}

static void write_file(const char *path, const void *p, size_t len)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, len, fp), len);
	fclose(fp);
}

static void test_snapshot_frames(void **state)
{
	(void)state;
	char dir[] = "/tmp/shiplog-test-seg-XXXXXX", path[128], cmd[160];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/snapshot-2-100-12345", dir);
	unsigned char f[512];
	size_t n = make_frame(f);
	write_file(path, f, n);
	assert_int_equal(repl_check_snapshots(dir), 0);
	for (size_t cut = 0; cut < n; cut++) { /* every truncation is caught */
		write_file(path, f, cut);
		assert_int_equal(repl_check_snapshots(dir), -1);
	}
	write_file(path, "plain, not lz4", 14); /* an uncompressed snapshot is left to the FSM */
	assert_int_equal(repl_check_snapshots(dir), 0);
	snprintf(path, sizeof(path), "%s/snapshot-2-100-12345.meta", dir); /* metadata is not a frame */
	write_file(path, "\x04\x22\x4d\x18", 4);
	assert_int_equal(repl_check_snapshots(dir), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(repl_check_snapshots(dir), 0); /* no directory yet: a new node */
}

/* An open segment as raft_uv writes it: format 1, then batches of
 * [header crc][data crc][n][n entry headers][data], then zeros. */
struct seg {
	unsigned char buf[4096];
	size_t batch_at[4], end; /* where each batch starts; the end of the last */
};

static void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static void make_segment(struct seg *g)
{
	memset(g, 0, sizeof(*g));
	put64(g->buf, 1);
	size_t off = 8;
	for (int b = 0; b < 3; b++) {
		const uint32_t sizes[2] = {16, 24};
		g->batch_at[b] = off;
		unsigned char *h = g->buf + off + 8;
		put64(h, 2);
		for (int i = 0; i < 2; i++) {
			put64(h + 8 + 16 * i, 1);          /* term */
			h[8 + 16 * i + 8] = 1;             /* type */
			put32(h + 8 + 16 * i + 12, sizes[i]);
		}
		size_t hdr = 8 + 32, data_at = off + 8 + hdr;
		memset(g->buf + data_at, 'a' + b, 40);
		put32(g->buf + off, repl_raft_crc(h, hdr));
		put32(g->buf + off + 4, repl_raft_crc(g->buf + data_at, 40));
		off = data_at + 40;
	}
	g->batch_at[3] = g->end = off;
}

static int check_segment(const char *dir, const unsigned char *p, size_t len)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/open-7", dir);
	write_file(path, p, len);
	return repl_check_open_segments(dir);
}

static void test_open_segments(void **state)
{
	(void)state;
	char dir[] = "/tmp/shiplog-test-seg-XXXXXX", cmd[160];
	assert_non_null(mkdtemp(dir));
	struct seg g;
	make_segment(&g);
	assert_int_equal(check_segment(dir, g.buf, sizeof(g.buf)), 0); /* batches, then preallocated zeros */
	assert_int_equal(check_segment(dir, g.buf, g.end), 0);         /* cut at a batch end, as a close does */
	assert_int_equal(check_segment(dir, g.buf, 0), 0);             /* created, never written */
	assert_int_equal(check_segment(dir, g.buf, 5), -1);
	for (size_t cut = g.batch_at[1] + 1; cut < g.batch_at[2]; cut++) {
		assert_int_equal(check_segment(dir, g.buf, cut), -1); /* cut inside a batch: libraft double-freed */
	}
	/* a bit flipped in the first batch, more batches after: refused */
	g.buf[g.batch_at[0] + 60] ^= 0x10;
	assert_int_equal(check_segment(dir, g.buf, sizeof(g.buf)), -1);
	make_segment(&g);
	g.buf[g.batch_at[1] + 20] ^= 0x01; /* in a header */
	assert_int_equal(check_segment(dir, g.buf, sizeof(g.buf)), -1);
	/* the last batch torn (its data half written, zeros after): left to raft_uv */
	make_segment(&g);
	memset(g.buf + g.end - 20, 0, 20);
	assert_int_equal(check_segment(dir, g.buf, sizeof(g.buf)), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(repl_check_open_segments(dir), 0); /* no directory yet: a new node */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshot_frames),
		cmocka_unit_test(test_open_segments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
