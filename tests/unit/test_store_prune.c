/* store/prune.c: PRUNE keeps a component's newest entries (and always its
 * current one), drops entries last seen before a time, drops jobs beyond a
 * count or finished before a time (never a queued or running one), keeps the
 * release counts true, and stops at max_deletes saying more are left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "tests/unit/lib/store_fixture.h"

static struct proto_result prune(struct fixture *f, struct proto_prune p)
{
	struct proto_cmd c = {.type = PROTO_CMD_PRUNE, .ts_ms = 1};
	c.u.prune = p;
	return store_fixture_apply(f, &c);
}

/* Ten releases of prod/p/default/web/nginx, tags 1.0 .. 1.9 seen at 100 .. 1000. */
static void ten_releases(struct fixture *f)
{
	for (int i = 0; i < 10; i++) {
		char tag[8];
		snprintf(tag, sizeof(tag), "1.%d", i);
		store_fixture_observe(f, "default", tag, tag, 100 * (i + 1), "");
	}
}

static uint64_t releases_of(struct fixture *f, const char *client)
{
	struct store_read *rd;
	assert_int_equal(store_read_begin(f->s, &rd), PROTO_OK);
	uint64_t n = store_release_count(rd, client);
	store_read_end(rd);
	return n;
}

static void test_history_keep_newest(void **state)
{
	struct fixture *f = *state;
	int rv;
	ten_releases(f);
	store_fixture_observe(f, "other", "2.0", "2.0", 50, ""); /* another component: one entry, untouched */
	assert_int_equal(releases_of(f, "prod"), 11);
	struct proto_result r = prune(f, (struct proto_prune){.history_keep = 3});
	assert_int_equal(r.code, PROTO_OK);
	assert_int_equal(r.updated, 7);
	assert_int_equal(r.created, 0);
	struct rows h = store_fixture_history(f, "default", &rv);
	assert_int_equal(h.n, 3);
	assert_string_equal(h.tags[0], "1.9");
	assert_string_equal(h.tags[2], "1.7");
	assert_int_equal(store_fixture_history(f, "other", &rv).n, 1);
	assert_int_equal(releases_of(f, "prod"), 4);
	assert_int_equal(releases_of(f, NULL), 4);
	/* Again: nothing more to do. A new release then makes four: one goes. */
	assert_int_equal(prune(f, (struct proto_prune){.history_keep = 3}).updated, 0);
	store_fixture_observe(f, "default", "1.10", "1.10", 2000, "");
	assert_int_equal(prune(f, (struct proto_prune){.history_keep = 3}).updated, 1);
	h = store_fixture_history(f, "default", &rv);
	assert_int_equal(h.n, 3);
	assert_string_equal(h.tags[0], "1.10");
	assert_string_equal(h.tags[2], "1.8");
}

static void test_history_before_keeps_the_current_entry(void **state)
{
	struct fixture *f = *state;
	int rv;
	ten_releases(f);
	/* Entries last seen before 450 go: 1.0 .. 1.3, each last seen at its own time. */
	struct proto_result r = prune(f, (struct proto_prune){.history_before_ms = 450});
	assert_int_equal(r.updated, 4);
	struct rows h = store_fixture_history(f, "default", &rv);
	assert_int_equal(h.n, 6);
	assert_string_equal(h.tags[5], "1.4");
	/* Everything is older than 5000, but the current entry stays. */
	r = prune(f, (struct proto_prune){.history_before_ms = 5000});
	assert_int_equal(r.updated, 5);
	h = store_fixture_history(f, "default", &rv);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.tags[0], "1.9");
	assert_int_equal(releases_of(f, "prod"), 1);
}

static void test_max_deletes_says_more_are_left(void **state)
{
	struct fixture *f = *state;
	int rv;
	ten_releases(f);
	struct proto_prune p = {.history_keep = 1, .max_deletes = 4};
	struct proto_result r = prune(f, p);
	assert_int_equal(r.updated, 4);
	assert_int_equal(r.created, 1);
	r = prune(f, p);
	assert_int_equal(r.updated, 4);
	assert_int_equal(r.created, 1);
	r = prune(f, p);
	assert_int_equal(r.updated, 1);
	assert_int_equal(r.created, 0);
	assert_int_equal(store_fixture_history(f, "default", &rv).n, 1);
}

static int count_job(void *data, const struct store_job *j)
{
	struct rows *r = data;
	snprintf(r->tags[r->n++], sizeof(r->tags[0]), "%.31s", j->id);
	return 0;
}

static struct rows jobs(struct fixture *f)
{
	struct store_read *rd;
	struct rows out = {0};
	assert_int_equal(store_read_begin(f->s, &rd), PROTO_OK);
	assert_int_equal(store_jobs_each(rd, count_job, &out), PROTO_OK);
	store_read_end(rd);
	return out;
}

static void test_jobs_by_count_and_age_never_unfinished(void **state)
{
	struct fixture *f = *state;
	const char *ids[] = {"j0001", "j0002", "j0003", "j0004", "j0005", "j0006"};
	const char *clusters[] = {"c1", "c1", "c1", "c1", "c1", "c1"};
	struct proto_cmd q = {.type = PROTO_CMD_JOBS_QUEUE, .ts_ms = 100};
	q.u.jobs = (struct proto_jobs){ids, clusters, 6, 6, "manual"};
	assert_int_equal(store_fixture_apply(f, &q).code, PROTO_OK);
	/* j0001 stays queued; the others finish at 200, 300, ... */
	for (int i = 1; i < 6; i++) {
		struct proto_cmd r = {.type = PROTO_CMD_COLLECT_RESULT, .ts_ms = 100 * (i + 1)};
		r.u.collect = (struct proto_collect){ids[i], "c1", i % 2 ? "success" : "failed", "", 1, 100, 100 * (i + 1)};
		assert_int_equal(store_fixture_apply(f, &r).code, PROTO_OK);
	}
	assert_int_equal(jobs(f).n, 6);
	/* Keep 3: the oldest finished ones go, the queued j0001 stays. */
	assert_int_equal(prune(f, (struct proto_prune){.jobs_keep = 3}).updated, 3);
	struct rows j = jobs(f);
	assert_int_equal(j.n, 3);
	assert_string_equal(j.tags[0], "j0006"); /* newest first */
	assert_string_equal(j.tags[1], "j0005");
	assert_string_equal(j.tags[2], "j0001");
	/* Finished before 550: j0005 (500) goes; j0006 (600) and the queued stay. */
	assert_int_equal(prune(f, (struct proto_prune){.jobs_before_ms = 550}).updated, 1);
	j = jobs(f);
	assert_int_equal(j.n, 2);
	assert_string_equal(j.tags[0], "j0006");
	assert_string_equal(j.tags[1], "j0001");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_history_keep_newest, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_history_before_keeps_the_current_entry, store_fixture_setup,
		                                store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_max_deletes_says_more_are_left, store_fixture_setup,
		                                store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_jobs_by_count_and_age_never_unfinished, store_fixture_setup,
		                                store_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
