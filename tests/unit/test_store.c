/* store/: the deterministic apply (history, current, rollbacks, pings,
 * idempotency, replay), the reads, and snapshot/restore. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

struct fixture {
	char dir[128];
	store *s;
	uint64_t index;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];
	snprintf(f->dir, sizeof(f->dir), "/tmp/shiplog-test-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(store_open(&f->s, f->dir, 64u << 20, err, sizeof(err)), PROTO_OK);
	*state = f;
	return 0;
}

static void rm_dir(const char *dir)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(f->s);
	rm_dir(f->dir);
	free(f);
	return 0;
}

/* Applies an OBSERVE of one image at the next index. */
static struct proto_result observe(struct fixture *f, const char *ns, const char *tag, const char *sha, int64_t at,
                                   const char *idem)
{
	struct proto_observation o = {"prod", "p", ns, "Deployment", "web", "nginx", "docker.io", "nginx", tag, sha, at};
	struct proto_cmd c = {.type = PROTO_CMD_OBSERVE, .ts_ms = at, .idem_key = idem, .n_obs = 1, .obs = &o};
	struct proto_buf b;
	struct proto_result res;
	assert_int_equal(proto_cmd_encode(&c, &b), PROTO_OK);
	assert_int_equal(store_apply(f->s, ++f->index, b.data, b.len, &res), PROTO_OK);
	proto_buf_free(&b);
	return res;
}

struct rows {
	char tags[64][32];
	int64_t first[64], last[64];
	char ns[64][32];
	int n;
};

static int collect(void *data, const struct store_release *r)
{
	struct rows *rows = data;
	snprintf(rows->tags[rows->n], 32, "%s", r->image_tag);
	snprintf(rows->ns[rows->n], 32, "%s", r->ns);
	rows->first[rows->n] = r->first_seen_ms;
	rows->last[rows->n] = r->last_seen_ms;
	rows->n++;
	return 0;
}

static struct rows history(struct fixture *f, const char *ns, int *rv)
{
	struct store_read *rd;
	struct rows rows = {0};
	assert_int_equal(store_read_begin(f->s, &rd), PROTO_OK);
	*rv = store_history_each(rd, "prod", "p", ns, "web", "nginx", collect, &rows);
	store_read_end(rd);
	return rows;
}

static void test_history_first_last_seen_and_rollback(void **state)
{
	struct fixture *f = *state;
	int rv;
	assert_int_equal(observe(f, "default", "1.0", "s1", 1000, "").created, 1);
	struct proto_result again = observe(f, "default", "1.0", "s1", 2000, "");
	assert_int_equal(again.created, 0);
	assert_int_equal(again.updated, 1);
	observe(f, "default", "1.0", "s1", 1500, ""); /* older sighting: no change */
	observe(f, "default", "2.0", "s2", 3000, "");
	observe(f, "default", "1.0", "s1", 4000, ""); /* rollback: a new entry */
	struct rows h = history(f, "default", &rv);
	assert_int_equal(rv, PROTO_OK);
	assert_int_equal(h.n, 3);
	assert_string_equal(h.tags[0], "1.0");
	assert_int_equal(h.first[0], 4000);
	assert_string_equal(h.tags[1], "2.0");
	assert_string_equal(h.tags[2], "1.0");
	assert_int_equal(h.first[2], 1000);
	assert_int_equal(h.last[2], 2000);
	history(f, "missing", &rv);
	assert_int_equal(rv, PROTO_ENOTFOUND);
}

static void test_history_is_not_cut(void **state)
{
	struct fixture *f = *state;
	int rv;
	char tag[16];
	for (int i = 0; i < 40; i++) {
		snprintf(tag, sizeof(tag), "v%d", i);
		observe(f, "default", tag, tag, 1000 + i, "");
	}
	struct rows h = history(f, "default", &rv);
	assert_int_equal(h.n, 40);
	assert_string_equal(h.tags[0], "v39");
	assert_string_equal(h.tags[39], "v0");
}

static void test_current_by_namespace_and_counts(void **state)
{
	struct fixture *f = *state;
	observe(f, "zeta", "1", "a", 10, "");
	observe(f, "alpha", "2", "b", 20, "");
	observe(f, "alpha", "3", "c", 30, "");
	struct store_read *rd;
	struct rows rows = {0};
	assert_int_equal(store_read_begin(f->s, &rd), PROTO_OK);
	assert_int_equal(store_current_each(rd, "prod", "p", collect, &rows), PROTO_OK);
	assert_int_equal(store_read_index(rd), 3);
	assert_int_equal(store_release_count(rd, NULL), 3);
	assert_int_equal(store_release_count(rd, "prod"), 3);
	assert_int_equal(store_release_count(rd, "other"), 0);
	store_read_end(rd);
	assert_int_equal(rows.n, 2);
	assert_string_equal(rows.ns[0], "alpha");
	assert_string_equal(rows.tags[0], "3");
	assert_string_equal(rows.ns[1], "zeta");

	struct rows found = {0};
	assert_int_equal(store_read_begin(f->s, &rd), PROTO_OK);
	assert_int_equal(store_find_workload(rd, "prod", "p", "Deployment", "web", "nginx", collect, &found), PROTO_OK);
	store_read_end(rd);
	assert_int_equal(found.n, 2); /* the same workload in two namespaces */
}

static void test_idempotency_and_replay(void **state)
{
	struct fixture *f = *state;
	struct proto_result first = observe(f, "default", "1.0", "s1", 1000, "k:retry");
	assert_int_equal(first.replay, 0);
	struct proto_result retry = observe(f, "default", "9.9", "s9", 1100, "k:retry");
	assert_int_equal(retry.replay, 1);
	assert_int_equal(retry.index, first.index);
	int rv;
	struct rows h = history(f, "default", &rv);
	assert_int_equal(h.n, 1);
	/* After 24 h the key has expired: the same key applies again. */
	struct proto_result later = observe(f, "default", "9.9", "s9", 1000 + STORE_IDEM_TTL_MS + 1, "k:retry");
	assert_int_equal(later.replay, 0);
	h = history(f, "default", &rv);
	assert_int_equal(h.n, 2);

	/* An entry at or below the applied index is a replay: skipped. */
	struct proto_observation o = {"prod", "p", "default", "Deployment", "web", "nginx", "", "", "x", "x", 5};
	struct proto_cmd c = {.type = PROTO_CMD_OBSERVE, .idem_key = "", .n_obs = 1, .obs = &o};
	struct proto_buf b;
	struct proto_result res;
	assert_int_equal(proto_cmd_encode(&c, &b), PROTO_OK);
	assert_int_equal(store_apply(f->s, f->index, b.data, b.len, &res), PROTO_OK);
	assert_int_equal(res.replay, 1);
	proto_buf_free(&b);
	h = history(f, "default", &rv);
	assert_int_equal(h.n, 2);
	assert_int_equal(store_applied(f->s), f->index);
}

static void test_bad_entry_is_a_noop_that_advances(void **state)
{
	struct fixture *f = *state;
	struct proto_result res;
	const char junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	assert_int_equal(store_apply(f->s, 5, junk, sizeof(junk), &res), PROTO_OK);
	assert_int_not_equal(res.code, PROTO_OK);
	assert_int_equal(store_applied(f->s), 5);
}

struct envs {
	char names[8][64];
	int64_t ping[8];
	int n;
};

static int collect_env(void *data, const struct store_env *e)
{
	struct envs *v = data;
	snprintf(v->names[v->n], 64, "%s/%s", e->client, e->env);
	v->ping[v->n++] = e->last_ping_ms;
	return 0;
}

static void test_pings_keep_the_latest(void **state)
{
	struct fixture *f = *state;
	struct proto_buf b;
	struct proto_result res;
	int64_t times[] = {5000, 3000};
	for (int i = 0; i < 2; i++) {
		struct proto_cmd c = {.type = PROTO_CMD_PING, .idem_key = ""};
		c.ping.client = "prod";
		c.ping.env = "staging";
		c.ping.version = "v1";
		c.ping.at_ms = times[i];
		assert_int_equal(proto_cmd_encode(&c, &b), PROTO_OK);
		assert_int_equal(store_apply(f->s, ++f->index, b.data, b.len, &res), PROTO_OK);
		proto_buf_free(&b);
	}
	observe(f, "default", "1", "a", 10, "");
	struct store_read *rd;
	struct envs v = {0};
	assert_int_equal(store_read_begin(f->s, &rd), PROTO_OK);
	assert_int_equal(store_envs_each(rd, NULL, collect_env, &v), PROTO_OK);
	store_read_end(rd);
	assert_int_equal(v.n, 2);
	assert_string_equal(v.names[0], "prod/p");
	assert_int_equal(v.ping[0], 0);
	assert_string_equal(v.names[1], "prod/staging");
	assert_int_equal(v.ping[1], 5000);
}

static void test_snapshot_restore(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < 30; i++) {
		char tag[8];
		snprintf(tag, sizeof(tag), "%d", i);
		observe(f, i % 2 ? "a" : "b", tag, tag, i, i % 3 ? "" : tag);
	}
	struct store_snapshot *snap;
	void *data;
	size_t len;
	assert_int_equal(store_snapshot_open(f->s, &snap), PROTO_OK);
	observe(f, "a", "after", "after", 100, ""); /* not in the pinned snapshot */
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
	struct rows h = history(&g, "a", &rv);
	assert_int_equal(h.n, 15);
	assert_string_equal(h.tags[0], "29");
	/* Idempotency keys travel with the snapshot. */
	g.index = 30;
	assert_int_equal(observe(&g, "a", "x", "x", 50, "3").replay, 1);
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
	rm_dir(g.dir);
}

static void test_reopen_keeps_state(void **state)
{
	struct fixture *f = *state;
	char err[256];
	observe(f, "default", "1.0", "s1", 1000, "");
	store_close(f->s);
	assert_int_equal(store_open(&f->s, f->dir, 64u << 20, err, sizeof(err)), PROTO_OK);
	assert_int_equal(store_applied(f->s), 1);
	int rv;
	history(f, "default", &rv);
	assert_int_equal(rv, PROTO_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_history_first_last_seen_and_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_is_not_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_current_by_namespace_and_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idempotency_and_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_entry_is_a_noop_that_advances, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pings_keep_the_latest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_state, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
