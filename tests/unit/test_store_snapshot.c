/* store/: snapshots (serialized, streamed, restored, cancelled, their
 * page use) and reopening a store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "tests/unit/lib/store_fixture.h"

/* Resident kB of this process's mapping of dir/data.mdb (/proc/self/smaps). */
static long mapped_kb(const char *dir)
{
	char want[200], line[512];
	snprintf(want, sizeof(want), "%s/data.mdb", dir);
	FILE *fp = fopen("/proc/self/smaps", "r");
	assert_non_null(fp);
	long kb = -1;
	bool ours = false;
	while (fgets(line, sizeof(line), fp) != NULL) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) { /* a mapping's first line */
			ours = strstr(line, want) != NULL;
		}
		if (ours && strncmp(line, "Rss:", 4) == 0) {
			kb = atol(line + 4);
			ours = false;
		}
	}
	fclose(fp);
	return kb;
}

/* A snapshot's scan leaves the data file out of the resident set (the
 * pages stay in the page cache) and changes nothing in it. */
static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Plays a backup thread: scans after 100 ms (cut short by the store's
 * close), then ends its snapshot. */
static void *late_scan(void *arg)
{
	struct store_snapshot *snap = arg;
	size_t len;
	usleep(100 * 1000);
	int *rv = malloc(sizeof(*rv));
	*rv = store_snapshot_size(snap, &len);
	store_snapshot_close(snap);
	return rv;
}

/* A cancelled snapshot's scans give up; store_close waits for a snapshot
 * still open on another thread, and its scan gives up too. */
static void test_snapshot_cancel_and_close_wait(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < 50; i++) {
		char tag[16];
		snprintf(tag, sizeof(tag), "1.%d", i);
		store_fixture_observe(f, "default", tag, tag, 1000 + i, "");
	}
	struct store_snapshot *snap;
	size_t len;
	void *data;
	assert_int_equal(store_snapshot_open(f->s, &snap), PROTO_OK);
	assert_int_equal(store_snapshot_size(snap, &len), PROTO_OK);
	assert_true(len > 0);
	store_snapshot_cancel(snap);
	assert_int_equal(store_snapshot_size(snap, &len), PROTO_ESHUTDOWN);
	assert_int_equal(store_snapshot_serialize(snap, &data, &len), PROTO_ESHUTDOWN);
	store_snapshot_close(snap);

	pthread_t th;
	void *res;
	assert_int_equal(store_snapshot_open(f->s, &snap), PROTO_OK);
	assert_int_equal(pthread_create(&th, NULL, late_scan, snap), 0);
	uint64_t t0 = now_ms();
	store_close(f->s); /* returns once the thread has ended its snapshot */
	f->s = NULL;
	assert_true(now_ms() - t0 >= 90);
	assert_int_equal(pthread_join(th, &res), 0);
	assert_int_equal(*(int *)res, PROTO_ESHUTDOWN); /* the store was closing when it scanned */
	free(res);
	char err[256];
	assert_int_equal(store_open(&f->s, f->dir, 64u << 20, err, sizeof(err)), PROTO_OK); /* closed cleanly */
	assert_int_equal(store_applied(f->s), f->index);
}

static void test_snapshot_unmaps_scanned_pages(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < 3000; i++) {
		char ns[16], tag[16];
		snprintf(ns, sizeof(ns), "ns%d", i % 300);
		snprintf(tag, sizeof(tag), "v%d", i);
		store_fixture_observe(f, ns, tag, tag, i, "");
	}
	struct store_snapshot *snap;
	void *before, *after;
	size_t before_len, after_len;
	assert_int_equal(store_snapshot_open(f->s, &snap), PROTO_OK);
	assert_int_equal(store_snapshot_serialize(snap, &before, &before_len), PROTO_OK);
	assert_true(mapped_kb(f->dir) > 256); /* the writes and the scan touched the file's pages */
	store_snapshot_close(snap);
	assert_true(mapped_kb(f->dir) >= 0);
	assert_true(mapped_kb(f->dir) <= 16);

	store_fixture_observe(f, "ns1", "later", "later", 5000, ""); /* writes fault pages back in */
	assert_true(mapped_kb(f->dir) > 0);
	assert_int_equal(store_applied(f->s), 3001);
	assert_int_equal(store_snapshot_open(f->s, &snap), PROTO_OK);
	assert_int_equal(store_snapshot_serialize(snap, &after, &after_len), PROTO_OK);
	store_snapshot_close(snap);
	assert_true(after_len > before_len);
	assert_memory_not_equal(before, after, before_len);
	free(before);
	free(after);
}

static void test_snapshot_restore(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < 30; i++) {
		char tag[8];
		snprintf(tag, sizeof(tag), "%d", i);
		store_fixture_observe(f, i % 2 ? "a" : "b", tag, tag, i, i % 3 ? "" : tag);
	}
	struct store_snapshot *snap;
	void *data;
	size_t len;
	assert_int_equal(store_snapshot_open(f->s, &snap), PROTO_OK);
	store_fixture_observe(f, "a", "after", "after", 100, ""); /* not in the pinned snapshot */
	assert_int_equal(store_snapshot_serialize(snap, &data, &len), PROTO_OK);
	store_snapshot_close(snap);

	struct fixture g = {0};
	char err[256];
	snprintf(g.dir, sizeof(g.dir), "/tmp/shiplog-test-restore-XXXXXX");
	assert_non_null(mkdtemp(g.dir));
	assert_int_equal(store_open(&g.s, g.dir, 64u << 20, err, sizeof(err)), PROTO_OK);
	assert_int_equal(store_restore(g.s, data, len), PROTO_OK);
	assert_int_equal(store_applied(g.s), 30);
	int rv;
	struct rows h = store_fixture_history(&g, "a", &rv);
	assert_int_equal(h.n, 15);
	assert_string_equal(h.tags[0], "29");
	/* Idempotency keys travel with the snapshot. */
	g.index = 30;
	assert_int_equal(store_fixture_observe(&g, "a", "x", "x", 50, "3").replay, 1);
	/* A snapshot older than what the store holds is ignored. */
	assert_int_equal(store_restore(f->s, data, len), PROTO_OK);
	assert_int_equal(store_applied(f->s), 31);
	/* Corrupt snapshots are refused and change nothing. */
	((char *)data)[len / 2] ^= 0x5a;
	memcpy(data, "NOTASNAP", 8);
	assert_int_equal(store_restore(g.s, data, len), PROTO_EINVAL);
	assert_int_equal(store_restore(g.s, data, 5), PROTO_EINVAL);
	assert_int_equal(store_applied(g.s), 31);
	free(data);
	store_close(g.s);
	store_fixture_rm_dir(g.dir);
}

struct chunks {
	char *p;
	size_t len, max_chunk, calls;
};

static int collect_chunk(void *ctx, const void *p, size_t n)
{
	struct chunks *c = ctx;
	c->p = realloc(c->p, c->len + n);
	assert_non_null(c->p);
	memcpy(c->p + c->len, p, n);
	c->len += n;
	c->max_chunk = n > c->max_chunk ? n : c->max_chunk;
	c->calls++;
	return 0;
}

static int refuse_second(void *ctx, const void *p, size_t n)
{
	(void)p;
	(void)n;
	return ++((struct chunks *)ctx)->calls > 1 ? -1 : 0;
}

/* The streamed snapshot is the serialized one, byte for byte, in chunks of
 * at most STORE_SNAPSHOT_CHUNK; a sink that fails stops it. */
static void test_snapshot_stream(void **state)
{
	struct fixture *f = *state;
	char tag[600];
	memset(tag, 'v', sizeof(tag) - 1);
	tag[sizeof(tag) - 1] = '\0';
	for (int i = 0; i < 2000; i++) { /* about 3 MiB: several chunks */
		snprintf(tag, 12, "%d", i);
		tag[strlen(tag)] = 'v';
		store_fixture_observe(f, i % 2 ? "a" : "b", tag, "s", 100 + i, "");
	}
	struct store_snapshot *snap;
	void *data;
	size_t len, size;
	struct chunks c = {0};
	assert_int_equal(store_snapshot_open(f->s, &snap), PROTO_OK);
	assert_int_equal(store_snapshot_serialize(snap, &data, &len), PROTO_OK);
	assert_int_equal(store_snapshot_size(snap, &size), PROTO_OK);
	assert_int_equal(store_snapshot_write(snap, collect_chunk, &c), PROTO_OK);
	assert_int_equal(size, len);
	assert_int_equal(c.len, len);
	assert_true(c.calls > 4);
	assert_true(c.max_chunk <= STORE_SNAPSHOT_CHUNK);
	assert_memory_equal(c.p, data, len);
	struct chunks r = {0};
	assert_int_equal(store_snapshot_write(snap, refuse_second, &r), PROTO_ENOMEM);
	assert_int_equal(r.calls, 2);
	store_snapshot_release(snap);
	store_snapshot_close(snap);
	free(c.p);
	free(data);
}

static void test_reopen_keeps_state(void **state)
{
	struct fixture *f = *state;
	char err[256];
	store_fixture_observe(f, "default", "1.0", "s1", 1000, "");
	store_close(f->s);
	assert_int_equal(store_open(&f->s, f->dir, 64u << 20, err, sizeof(err)), PROTO_OK);
	assert_int_equal(store_applied(f->s), 1);
	int rv;
	store_fixture_history(f, "default", &rv);
	assert_int_equal(rv, PROTO_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_snapshot_restore, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_stream, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_unmaps_scanned_pages, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_cancel_and_close_wait, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_state, store_fixture_setup, store_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
