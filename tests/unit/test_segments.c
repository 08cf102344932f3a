/* raft/segments.c: the pre-start checks that refuse raft_uv files libraft
 * 0.15.0 mishandles: a truncated open segment, a snapshot whose LZ4 frame
 * is cut short. Frames are built by hand with stored (uncompressed) blocks:
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

static void test_open_segments(void **state)
{
	(void)state;
	char dir[] = "/tmp/shiplog-test-seg-XXXXXX", path[128], cmd[160];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/open-3", dir);
	int fd = open(path, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, REPL_SEGMENT_SIZE), 0); /* preallocated: full size */
	assert_int_equal(repl_check_open_segments(dir, REPL_SEGMENT_SIZE), 0);
	assert_int_equal(ftruncate(fd, 8808), 0); /* cut from outside */
	assert_int_equal(repl_check_open_segments(dir, REPL_SEGMENT_SIZE), -1);
	close(fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshot_frames),
		cmocka_unit_test(test_open_segments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
