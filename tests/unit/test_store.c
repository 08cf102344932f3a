/* store/: the deterministic apply (history, current, rollbacks, pings,
 * imports, idempotency, replay, leases, clusters and jobs, batches) and the
 * reads. Snapshots: test_store_snapshot.c. */
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

static void test_history_first_last_seen_and_rollback(void **state)
{
	struct fixture *f = *state;
	int rv;
	assert_int_equal(store_fixture_observe(f, "default", "1.0", "s1", 1000, "").created, 1);
	struct proto_result again = store_fixture_observe(f, "default", "1.0", "s1", 2000, "");
	assert_int_equal(again.created, 0);
	assert_int_equal(again.updated, 1);
	store_fixture_observe(f, "default", "1.0", "s1", 1500, ""); /* older sighting: no change */
	store_fixture_observe(f, "default", "2.0", "s2", 3000, "");
	store_fixture_observe(f, "default", "1.0", "s1", 4000, ""); /* rollback: a new entry */
	struct rows h = store_fixture_history(f, "default", &rv);
	assert_int_equal(rv, PROTO_OK);
	assert_int_equal(h.n, 3);
	assert_string_equal(h.tags[0], "1.0");
	assert_int_equal(h.first[0], 4000);
	assert_string_equal(h.tags[1], "2.0");
	assert_string_equal(h.tags[2], "1.0");
	assert_int_equal(h.first[2], 1000);
	assert_int_equal(h.last[2], 2000);
	store_fixture_history(f, "missing", &rv);
	assert_int_equal(rv, PROTO_ENOTFOUND);
}

static void test_history_is_not_cut(void **state)
{
	struct fixture *f = *state;
	int rv;
	char tag[16];
	for (int i = 0; i < 40; i++) {
		snprintf(tag, sizeof(tag), "v%d", i);
		store_fixture_observe(f, "default", tag, tag, 1000 + i, "");
	}
	struct rows h = store_fixture_history(f, "default", &rv);
	assert_int_equal(h.n, 40);
	assert_string_equal(h.tags[0], "v39");
	assert_string_equal(h.tags[39], "v0");
}

static void test_current_by_namespace_and_counts(void **state)
{
	struct fixture *f = *state;
	store_fixture_observe(f, "zeta", "1", "a", 10, "");
	store_fixture_observe(f, "alpha", "2", "b", 20, "");
	store_fixture_observe(f, "alpha", "3", "c", 30, "");
	struct store_read *rd;
	struct rows rows = {0};
	assert_int_equal(store_read_begin(f->s, &rd), PROTO_OK);
	assert_int_equal(store_current_each(rd, "prod", "p", store_fixture_collect, &rows), PROTO_OK);
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
	assert_int_equal(store_find_workload(rd, "prod", "p", "Deployment", "web", "nginx", store_fixture_collect, &found), PROTO_OK);
	store_read_end(rd);
	assert_int_equal(found.n, 2); /* the same workload in two namespaces */
}

static void test_idempotency_and_replay(void **state)
{
	struct fixture *f = *state;
	struct proto_result first = store_fixture_observe(f, "default", "1.0", "s1", 1000, "k:retry");
	assert_int_equal(first.replay, 0);
	struct proto_result retry = store_fixture_observe(f, "default", "9.9", "s9", 1100, "k:retry");
	assert_int_equal(retry.replay, 1);
	assert_int_equal(retry.index, first.index);
	int rv;
	struct rows h = store_fixture_history(f, "default", &rv);
	assert_int_equal(h.n, 1);
	/* A proposer whose clock jumped days ahead expires nothing: the cluster
	 * clock moves at most a minute per entry. */
	struct proto_result jumped = store_fixture_observe(f, "default", "9.9", "s9", 1000 + 3 * STORE_IDEM_TTL_MS, "k:retry");
	assert_int_equal(jumped.replay, 1);
	/* After 24 h of cluster time the key has expired: the same key applies again. */
	struct proto_result later = {0};
	int i;
	for (i = 0; i < 24 * 60 + 2; i++) {
		later = store_fixture_observe(f, "default", "9.9", "s9", 1000 + 3 * STORE_IDEM_TTL_MS, "k:retry");
		if (!later.replay) {
			break;
		}
	}
	assert_int_equal(later.replay, 0);
	assert_true(i >= 24 * 60 - 2); /* a minute of cluster time per entry at most */
	h = store_fixture_history(f, "default", &rv);
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
	h = store_fixture_history(f, "default", &rv);
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
	/* what raft/fsm.c applies for a compressed entry that does not expand */
	assert_int_equal(store_apply(f->s, 6, "", 0, &res), PROTO_OK);
	assert_int_not_equal(res.code, PROTO_OK);
	assert_int_equal(store_applied(f->s), 6);
}

/* A command of a newer format is refused whole, alone or in a batch:
 * nothing applied, the applied index unchanged. */
static void test_newer_format_entry_applies_nothing(void **state)
{
	struct fixture *f = *state;
	struct proto_result res[2];
	int rv;
	store_fixture_observe(f, "default", "1.0", "sha-a", 1000, "");
	struct proto_observation o = {"prod", "p", "default", "Deployment", "web", "nginx", "", "", "2.0", "sha-b", 2000};
	struct proto_cmd c = {.type = PROTO_CMD_OBSERVE, .idem_key = "", .n_obs = 1, .obs = &o};
	struct proto_buf ok, newer;
	assert_int_equal(proto_cmd_encode(&c, &ok), PROTO_OK);
	assert_int_equal(proto_cmd_encode(&c, &newer), PROTO_OK);
	assert_int_equal(((unsigned char *)newer.data)[1], PROTO_VERSION); /* [version, ...] as a fixint */
	((unsigned char *)newer.data)[1] = PROTO_CMD_VERSION_MAX + 1;
	assert_int_equal(store_apply(f->s, f->index + 1, newer.data, newer.len, res), PROTO_ENEWER);
	struct proto_slice both[2] = {{ok.data, ok.len}, {newer.data, newer.len}};
	assert_int_equal(store_apply_batch(f->s, f->index + 1, both, 2, res), PROTO_ENEWER);
	assert_int_equal(store_applied(f->s), f->index);
	assert_int_equal(store_fixture_history(f, "default", &rv).n, 1);
	assert_int_equal(store_apply_batch(f->s, f->index + 1, both, 1, res), PROTO_OK); /* its own format applies */
	assert_int_equal(store_fixture_history(f, "default", &rv).n, 2);
	proto_buf_free(&ok);
	proto_buf_free(&newer);
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
	store_fixture_observe(f, "default", "1", "a", 10, "");
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

/* Applies an IMPORT of one row (tag, first..last) of the observe() component. */
static struct proto_result import_row(struct fixture *f, const char *tag, int64_t first, int64_t last)
{
	struct proto_import_row row = {{"prod", "p", "default", "Deployment", "web", "nginx", "docker.io", "nginx", tag,
	                                tag, first},
	                               last};
	struct proto_cmd c = {.type = PROTO_CMD_IMPORT, .ts_ms = last, .u.import = {&row, 1, NULL, 0}};
	return store_fixture_apply(f, &c);
}

static void test_import_is_idempotent_and_keeps_time_order(void **state)
{
	struct fixture *f = *state;
	int rv;
	/* The seed's rows, oldest last_seen first; 1.0 rolled back (its row stretched). */
	assert_int_equal(import_row(f, "1.1", 100, 190).created, 1);
	assert_int_equal(import_row(f, "1.0", 0, 400).created, 1);
	/* Again, any time later: nothing changes. */
	struct proto_result again = import_row(f, "1.1", 100, 190);
	assert_int_equal(again.created + again.updated, 0);
	again = import_row(f, "1.0", 0, 400);
	assert_int_equal(again.created + again.updated, 0);
	/* An older row goes below the newer entries; current stays 1.0. */
	assert_int_equal(import_row(f, "0.9", 10, 50).created, 1);
	/* A live sighting of the current image, then its imported row: one entry. */
	store_fixture_observe(f, "default", "1.0", "1.0", 500, "");
	assert_int_equal(import_row(f, "1.0", 0, 450).created, 0);
	struct rows h = store_fixture_history(f, "default", &rv);
	assert_int_equal(rv, PROTO_OK);
	assert_int_equal(h.n, 3);
	assert_string_equal(h.tags[0], "1.0");
	assert_int_equal(h.first[0], 0);
	assert_int_equal(h.last[0], 500);
	assert_string_equal(h.tags[1], "1.1");
	assert_string_equal(h.tags[2], "0.9");
	assert_int_equal(h.last[2], 50);
	/* last before first is refused by the store too */
	assert_int_equal(import_row(f, "x", 10, 5).code, PROTO_EINVAL);
}

static struct proto_result lease_cmd(struct fixture *f, uint64_t holder, int64_t ts)
{
	struct proto_cmd c = {.type = PROTO_CMD_LEASE, .ts_ms = ts};
	c.u.lease.duty = "collect:c1";
	c.u.lease.holder = holder;
	c.u.lease.period_ms = 1000;
	return store_fixture_apply(f, &c);
}

static void test_leases_expire_and_move(void **state)
{
	struct fixture *f = *state;
	struct store_lease l;
	struct store_read *rd;
	assert_int_equal(lease_cmd(f, 1, 10000).code, PROTO_OK);
	assert_int_equal(lease_cmd(f, 2, 10500).code, PROTO_ECONFLICT); /* still held */
	assert_int_equal(lease_cmd(f, 1, 10800).code, PROTO_OK);         /* renewal */
	assert_int_equal(lease_cmd(f, 2, 11700).code, PROTO_ECONFLICT);
	assert_int_equal(lease_cmd(f, 2, 11800).code, PROTO_OK);         /* expired: taken over */
	assert_int_equal(store_read_begin(f->s, &rd), PROTO_OK);
	assert_int_equal(store_lease_get(rd, "collect:c1", &l), PROTO_OK);
	assert_int_equal(store_lease_get(rd, "collect:none", &l), PROTO_ENOTFOUND);
	store_lease_get(rd, "collect:c1", &l);
	store_read_end(rd);
	assert_int_equal(l.holder, 2);
	assert_int_equal(l.expires_ms, 12800);
}

static int cluster_seen(void *data, const struct store_cluster *c)
{
	struct store_cluster *out = data;
	assert_string_equal(c->c->name, "kind-prod");
	assert_int_equal(c->c->n_namespaces, 2);
	assert_string_equal(c->c->namespaces[1], "default");
	out->failures = c->failures;
	out->last_run_ms = c->last_run_ms;
	out->created_ms = c->created_ms;
	out->updated_ms = c->updated_ms;
	out->last_observations = c->last_observations;
	return 0;
}

static int job_seen(void *data, const struct store_job *j)
{
	struct rows *rows = data;
	snprintf(rows->tags[rows->n++], 32, "%.8s:%.16s", j->id, j->status);
	return 0;
}

static void test_clusters_jobs_and_collect_results(void **state)
{
	struct fixture *f = *state;
	const char *ns[] = {"prod", "default"};
	const char *labels[] = {"team", "web"};
	struct proto_cmd put = {.type = PROTO_CMD_CLUSTER_PUT, .ts_ms = 100};
	put.u.cluster = (struct proto_cluster){"c1", "kind-prod", "https://127.0.0.1:6443", "prod", "p", "token", "v1:sealed",
	                                       ns, 2, labels, 2, 0, 30};
	assert_int_equal(store_fixture_apply(f, &put).code, PROTO_OK);
	put.ts_ms = 200;
	assert_int_equal(store_fixture_apply(f, &put).code, PROTO_OK); /* an update keeps created_ms */

	const char *ids[] = {"j0001", "j0002"}, *clusters[] = {"c1", "c1"};
	struct proto_cmd q = {.type = PROTO_CMD_JOBS_QUEUE, .ts_ms = 300};
	q.u.jobs = (struct proto_jobs){ids, clusters, 2, 2, "manual"};
	assert_int_equal(store_fixture_apply(f, &q).code, PROTO_OK);
	struct proto_cmd st = {.type = PROTO_CMD_JOB_START, .ts_ms = 310};
	st.u.job_start = (struct proto_job_start){"j0001", "c1", 2};
	assert_int_equal(store_fixture_apply(f, &st).code, PROTO_OK);

	struct proto_observation o = {"prod", "p", "default", "Deployment", "web", "nginx", "docker.io", "nginx",
	                              "1.0", "sha256:x", 320};
	struct proto_cmd r = {.type = PROTO_CMD_COLLECT_RESULT, .ts_ms = 330, .n_obs = 1, .obs = &o};
	r.u.collect = (struct proto_collect){"j0001", "c1", "success", "", 2, 310, 330};
	struct proto_result res = store_fixture_apply(f, &r);
	assert_int_equal(res.code, PROTO_OK);
	assert_int_equal(res.created, 1);
	struct proto_cmd fail = {.type = PROTO_CMD_COLLECT_RESULT, .ts_ms = 400};
	fail.u.collect = (struct proto_collect){"j0002", "c1", "failed", "401 Unauthorized", 2, 390, 400};
	assert_int_equal(store_fixture_apply(f, &fail).code, PROTO_OK);

	struct store_read *rd;
	struct store_cluster got = {0};
	struct store_job j;
	struct rows jobs = {0};
	assert_int_equal(store_read_begin(f->s, &rd), PROTO_OK);
	assert_int_equal(store_cluster_get(rd, "c1", cluster_seen, &got), PROTO_OK);
	assert_int_equal(store_cluster_get(rd, "nope", cluster_seen, &got), PROTO_ENOTFOUND);
	assert_int_equal(store_job_get(rd, "j0001", &j), PROTO_OK);
	assert_int_equal(store_jobs_each(rd, job_seen, &jobs), PROTO_OK);
	store_read_end(rd);
	assert_int_equal(got.created_ms, 100);
	assert_int_equal(got.updated_ms, 200);
	assert_int_equal(got.failures, 1);
	assert_int_equal(got.last_run_ms, 400);
	assert_string_equal(j.status, "success");
	assert_int_equal(j.node, 2);
	assert_int_equal(j.observations, 1);
	assert_int_equal(j.entries_created, 1);
	assert_int_equal(jobs.n, 2);
	assert_string_equal(jobs.tags[0], "j0002:failed"); /* newest first */

	/* A duplicate result of a finished run changes nothing. */
	assert_int_equal(store_fixture_apply(f, &r).code, PROTO_ECONFLICT);
	int rv;
	assert_int_equal(store_fixture_history(f, "default", &rv).n, 1);

	struct proto_cmd del = {.type = PROTO_CMD_CLUSTER_DELETE, .ts_ms = 500};
	del.u.cluster_id = "c1";
	assert_int_equal(store_fixture_apply(f, &del).code, PROTO_OK);
	assert_int_equal(store_fixture_apply(f, &del).code, PROTO_ENOTFOUND);
	assert_int_equal(store_read_begin(f->s, &rd), PROTO_OK);
	assert_int_equal(store_cluster_get(rd, "c1", cluster_seen, &got), PROTO_ENOTFOUND);
	store_read_end(rd);
}


/* A batch entry: every command applied in order under one index, a refused
 * or malformed command leaves nothing behind and does not stop the others,
 * and idempotency keys work inside the batch. */
static void test_batch_entry(void **state)
{
	struct fixture *f = *state;
	struct proto_observation o1 = {"prod", "p", "b", "Deployment", "web", "nginx", "docker.io", "nginx", "1.0", "s1", 10};
	struct proto_observation o2 = o1;
	o2.image_tag = "2.0";
	o2.image_sha = "s2";
	o2.seen_at_ms = 20;
	struct proto_cmd c1 = {.type = PROTO_CMD_OBSERVE, .ts_ms = 10, .idem_key = "k:1", .n_obs = 1, .obs = &o1};
	struct proto_cmd c2 = {.type = PROTO_CMD_OBSERVE, .ts_ms = 20, .idem_key = "k:2", .n_obs = 1, .obs = &o2};
	struct proto_cmd c3 = c1; /* the same key again: a replay within the batch */
	c3.obs = &o2;
	struct proto_buf b1, b2, b3;
	assert_int_equal(proto_cmd_encode(&c1, &b1), PROTO_OK);
	assert_int_equal(proto_cmd_encode(&c2, &b2), PROTO_OK);
	assert_int_equal(proto_cmd_encode(&c3, &b3), PROTO_OK);
	const char junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct proto_slice v[4] = {{b1.data, b1.len}, {junk, sizeof(junk)}, {b2.data, b2.len}, {b3.data, b3.len}};
	struct proto_result res[4];
	assert_int_equal(store_apply_batch(f->s, 9, v, 4, res), PROTO_OK);
	assert_int_equal(res[0].code, PROTO_OK);
	assert_int_equal(res[0].created, 1);
	assert_int_not_equal(res[1].code, PROTO_OK);
	assert_int_equal(res[2].created, 1);
	assert_int_equal(res[3].replay, 1);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(res[i].index, 9);
	}
	int rv;
	struct rows h = store_fixture_history(f, "b", &rv);
	assert_int_equal(h.n, 2);
	assert_string_equal(h.tags[0], "2.0");
	assert_int_equal(store_applied(f->s), 9);
	/* replaying the entry changes nothing */
	assert_int_equal(store_apply_batch(f->s, 9, v, 4, res), PROTO_OK);
	assert_int_equal(res[0].replay, 1);
	h = store_fixture_history(f, "b", &rv);
	assert_int_equal(h.n, 2);
	proto_buf_free(&b1);
	proto_buf_free(&b2);
	proto_buf_free(&b3);
}

/* Commands that fail after writing (here: a second observation whose
 * component key is longer than LMDB allows) leave nothing behind, in any
 * position of the batch and several per batch; the others apply, and their
 * results and the stored state are those of applying them alone. */
static void test_batch_failed_commands_leave_nothing(void **state)
{
	struct fixture *f = *state;
	static char longname[300];
	memset(longname, 'x', sizeof(longname) - 1);
	struct proto_observation good = {"prod", "p", "b", "Deployment", "web", "nginx", "docker.io", "nginx", "1.0", "s1", 10};
	struct proto_observation bad[2] = {good, good};
	bad[0].ns = "c"; /* written first, then its command fails */
	bad[0].image_tag = "9.9";
	bad[1].ns = longname;
	bad[1].workload = longname;
	struct proto_observation good2 = good;
	good2.image_tag = "2.0";
	good2.seen_at_ms = 20;
	struct proto_cmd cg = {.type = PROTO_CMD_OBSERVE, .ts_ms = 10, .idem_key = "", .n_obs = 1, .obs = &good};
	struct proto_cmd cb = {.type = PROTO_CMD_OBSERVE, .ts_ms = 15, .idem_key = "k:bad", .n_obs = 2, .obs = bad};
	struct proto_cmd cg2 = {.type = PROTO_CMD_OBSERVE, .ts_ms = 20, .idem_key = "", .n_obs = 1, .obs = &good2};
	struct proto_buf bg, bb, bg2;
	assert_int_equal(proto_cmd_encode(&cg, &bg), PROTO_OK);
	assert_int_equal(proto_cmd_encode(&cb, &bb), PROTO_OK);
	assert_int_equal(proto_cmd_encode(&cg2, &bg2), PROTO_OK);
	struct proto_slice v[5] = {{bb.data, bb.len}, {bg.data, bg.len}, {bb.data, bb.len}, {bg2.data, bg2.len},
	                           {bb.data, bb.len}};
	struct proto_result res[5];
	assert_int_equal(store_apply_batch(f->s, 5, v, 5, res), PROTO_OK);
	for (int i = 0; i < 5; i += 2) {
		assert_int_equal(res[i].code, PROTO_EINVAL);
		assert_int_equal(res[i].created, 0);
	}
	assert_int_equal(res[1].code, PROTO_OK);
	assert_int_equal(res[1].created, 1);
	assert_int_equal(res[3].code, PROTO_OK);
	assert_int_equal(res[3].created, 1);
	int rv;
	struct rows h = store_fixture_history(f, "b", &rv);
	assert_int_equal(h.n, 2);
	assert_string_equal(h.tags[0], "2.0");
	h = store_fixture_history(f, "c", &rv); /* the failed commands' first observation is gone */
	assert_int_equal(h.n, 0);
	assert_int_equal(store_applied(f->s), 5);
	/* a failed command's idempotency key was not recorded: it fails again */
	struct proto_result one;
	assert_int_equal(store_apply(f->s, 6, bb.data, bb.len, &one), PROTO_OK);
	assert_int_equal(one.code, PROTO_EINVAL);
	assert_int_equal(one.replay, 0);
	proto_buf_free(&bg);
	proto_buf_free(&bb);
	proto_buf_free(&bg2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_history_first_last_seen_and_rollback, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_history_is_not_cut, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_import_is_idempotent_and_keeps_time_order, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_current_by_namespace_and_counts, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_idempotency_and_replay, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_bad_entry_is_a_noop_that_advances, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_newer_format_entry_applies_nothing, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_batch_entry, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_batch_failed_commands_leave_nothing, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_pings_keep_the_latest, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_leases_expire_and_move, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_clusters_jobs_and_collect_results, store_fixture_setup, store_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
