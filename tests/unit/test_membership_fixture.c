/* The membership sequences shiplog relies on, run on canonical/raft 0.15.0's
 * deterministic raft_fixture (in-memory I/O, simulated time): a node added
 * as spare and promoted only once caught up, a promotion that cannot catch
 * up, leadership moved away before the leader is removed, shrinking to one
 * voter, and autopilot placement steps (raft/placement) applied with
 * raft_assign. The FSM is a counter: the library's fixture needs one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <raft.h>
#include <raft/fixture.h>
#include <stdlib.h>
#include <string.h>

#include "raft/placement.h"

#define N_MAX 6
#define WAIT_MS 20000 /* simulated time; generous, the steps are cheap */

struct counter {
	uint64_t applied; /* entries applied */
};

struct cluster {
	struct raft_fixture f;
	struct raft_fsm fsms[N_MAX];
	struct counter counters[N_MAX];
	int change_status; /* of the last raft_change; -1 while pending */
	bool transferred;  /* the raft_transfer callback fired */
};

static int counter_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	struct counter *c = fsm->data;
	(void)buf;
	c->applied++;
	*result = NULL;
	return 0;
}

static int counter_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct counter *c = fsm->data;
	*bufs = raft_malloc(sizeof(**bufs));
	(*bufs)->len = sizeof(c->applied);
	(*bufs)->base = raft_malloc((*bufs)->len);
	memcpy((*bufs)->base, &c->applied, sizeof(c->applied));
	*n_bufs = 1;
	return 0;
}

static int counter_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct counter *c = fsm->data;
	memcpy(&c->applied, buf->base, sizeof(c->applied));
	raft_free(buf->base);
	return 0;
}

/* Adds one server to the fixture (not bootstrapped, not started). */
static void grow(struct cluster *c)
{
	unsigned i = c->f.n;
	assert_true(i < N_MAX);
	c->fsms[i] = (struct raft_fsm){.version = 1, .data = &c->counters[i], .apply = counter_apply,
	                               .snapshot = counter_snapshot, .restore = counter_restore};
	assert_int_equal(raft_fixture_grow(&c->f, &c->fsms[i]), 0);
}

/* n servers, the first n_voting voters, the rest standbys; a leader elected. */
static struct cluster *cluster_start(unsigned n, unsigned n_voting)
{
	struct cluster *c = calloc(1, sizeof(*c)); /* zeroed: raft_fixture_initialize leaves f.n alone */
	struct raft_configuration conf;
	assert_non_null(c);
	assert_int_equal(raft_fixture_initialize(&c->f), 0);
	for (unsigned i = 0; i < n; i++) {
		grow(c);
	}
	assert_int_equal(raft_fixture_configuration(&c->f, n_voting, &conf), 0);
	assert_int_equal(raft_fixture_bootstrap(&c->f, &conf), 0);
	raft_configuration_close(&conf);
	assert_int_equal(raft_fixture_start(&c->f), 0);
	assert_true(raft_fixture_step_until_has_leader(&c->f, WAIT_MS));
	return c;
}

static void cluster_free(struct cluster *c)
{
	raft_fixture_close(&c->f);
	free(c);
}

static struct raft *leader(struct cluster *c)
{
	unsigned i = raft_fixture_leader_index(&c->f);
	assert_true(i < c->f.n);
	return raft_fixture_get(&c->f, i);
}

static const struct raft_server *server_in(struct raft *r, raft_id id)
{
	for (unsigned i = 0; i < r->configuration.n; i++) {
		if (r->configuration.servers[i].id == id) {
			return &r->configuration.servers[i];
		}
	}
	return NULL;
}

static int role_of(struct raft *r, raft_id id)
{
	const struct raft_server *s = server_in(r, id);
	return s != NULL ? s->role : -1;
}

static unsigned voters(struct raft *r)
{
	unsigned n = 0;
	for (unsigned i = 0; i < r->configuration.n; i++) {
		n += r->configuration.servers[i].role == RAFT_VOTER;
	}
	return n;
}

static void change_cb(struct raft_change *req, int status)
{
	struct cluster *c = req->data;
	c->change_status = status;
}

static bool change_finished(struct raft_fixture *f, void *arg)
{
	(void)f;
	return ((struct cluster *)arg)->change_status != -1;
}

/* Steps until the pending change's callback fired; returns its status. */
static int change_wait(struct cluster *c)
{
	assert_true(raft_fixture_step_until(&c->f, change_finished, c, WAIT_MS));
	return c->change_status;
}

static struct raft_change *change_begin(struct cluster *c)
{
	static struct raft_change req;
	req.data = c;
	c->change_status = -1;
	return &req;
}

/* Applies one 8-byte entry at the leader and waits until every live server
 * applied it; returns its index. */
static raft_index apply_one(struct cluster *c)
{
	static struct raft_apply req;
	struct raft *r = leader(c);
	struct raft_buffer buf = {raft_malloc(8), 8};
	memset(buf.base, 0, 8);
	assert_int_equal(raft_apply(r, &req, &buf, 1, NULL), 0);
	raft_index index = raft_last_index(r);
	for (unsigned i = 0; i < c->f.n; i++) {
		if (raft_fixture_alive(&c->f, i) && server_in(r, raft_fixture_get(&c->f, i)->id) != NULL &&
		    role_of(r, raft_fixture_get(&c->f, i)->id) != RAFT_SPARE) {
			assert_true(raft_fixture_step_until_applied(&c->f, i, index, WAIT_MS));
		}
	}
	return index;
}

static bool spare4_promoted(struct raft_fixture *f, void *arg)
{
	(void)arg;
	unsigned i = raft_fixture_leader_index(f);
	return i < f->n && role_of(raft_fixture_get(f, i), 4) == RAFT_VOTER;
}

/* raft_add makes a spare, which gets no entries; raft_assign(VOTER) first
 * catches it up and only then appends the configuration that promotes it. */
static void test_add_spare_then_promote_after_catch_up(void **state)
{
	(void)state;
	struct cluster *c = cluster_start(3, 3);
	for (int i = 0; i < 20; i++) {
		apply_one(c);
	}
	grow(c);
	struct raft *n4 = raft_fixture_get(&c->f, 3);
	assert_int_equal(raft_start(n4), 0);

	struct raft_change *req = change_begin(c);
	assert_int_equal(raft_add(leader(c), req, 4, "4", change_cb), 0);
	assert_int_equal(change_wait(c), 0);
	assert_int_equal(role_of(leader(c), 4), RAFT_SPARE);
	raft_fixture_step_until_elapsed(&c->f, 2000);
	assert_int_equal(raft_last_index(n4), 0); /* spares are not replicated to */
	assert_int_equal(c->counters[3].applied, 0);

	raft_index at_assign = raft_last_index(leader(c));
	req = change_begin(c);
	assert_int_equal(raft_assign(leader(c), req, 4, RAFT_VOTER, change_cb), 0);
	assert_int_equal(role_of(leader(c), 4), RAFT_SPARE); /* not yet: catching up */
	assert_int_equal(leader(c)->leader_state.promotee_id, 4);
	/* Another change meanwhile is refused, as shiplog's autopilot_busy assumes. */
	struct raft_change other = {.data = c};
	assert_int_equal(raft_assign(leader(c), &other, 3, RAFT_STANDBY, change_cb), RAFT_CANTCHANGE);

	assert_true(raft_fixture_step_until(&c->f, spare4_promoted, NULL, WAIT_MS));
	assert_true(raft_last_index(n4) >= at_assign); /* its log was caught up first */
	assert_int_equal(change_wait(c), 0);
	assert_int_equal(voters(leader(c)), 4);
	apply_one(c);
	assert_int_equal(c->counters[3].applied, c->counters[0].applied);
	/* Assigning the role it has already: RAFT_BADROLE (shiplog answers OK). */
	req = change_begin(c);
	assert_int_equal(raft_assign(leader(c), req, 4, RAFT_VOTER, change_cb), RAFT_BADROLE);
	cluster_free(c);
}

/* A promotion whose target never answers is aborted after
 * max_catch_up_round_duration (5 s in 0.15.0) with RAFT_NOCONNECTION. */
static void test_promotion_of_a_dead_spare_gives_up(void **state)
{
	(void)state;
	struct cluster *c = cluster_start(3, 3);
	grow(c);
	assert_int_equal(raft_start(raft_fixture_get(&c->f, 3)), 0);
	struct raft_change *req = change_begin(c);
	assert_int_equal(raft_add(leader(c), req, 4, "4", change_cb), 0);
	assert_int_equal(change_wait(c), 0);
	apply_one(c);
	raft_fixture_kill(&c->f, 3);

	raft_time start = raft_fixture_time(&c->f);
	req = change_begin(c);
	assert_int_equal(raft_assign(leader(c), req, 4, RAFT_VOTER, change_cb), 0);
	assert_int_equal(change_wait(c), RAFT_NOCONNECTION);
	assert_true(raft_fixture_time(&c->f) - start >= 5000);
	assert_int_equal(role_of(leader(c), 4), RAFT_SPARE);
	/* The next change is accepted again. */
	req = change_begin(c);
	assert_int_equal(raft_remove(leader(c), req, 4, change_cb), 0);
	assert_int_equal(change_wait(c), 0);
	assert_null(server_in(leader(c), 4));
	cluster_free(c);
}

static void transfer_cb(struct raft_transfer *req)
{
	struct cluster *c = req->data;
	c->transferred = true;
}

static bool transfer_finished(struct raft_fixture *f, void *arg)
{
	(void)f;
	return ((struct cluster *)arg)->transferred;
}

/* The leader leaves: raft_transfer first, then the new leader removes it.
 * The removed server keeps running and does not disrupt the others. */
static void test_remove_the_leader_after_a_transfer(void **state)
{
	(void)state;
	struct cluster *c = cluster_start(3, 3);
	apply_one(c);
	struct raft *old = leader(c);
	raft_id old_id = old->id;
	struct raft_transfer t = {.data = c};
	assert_int_equal(raft_transfer(old, &t, 0, transfer_cb), 0);
	struct raft_change refused = {.data = c};
	assert_int_equal(raft_remove(old, &refused, old_id, change_cb), RAFT_NOTLEADER); /* during a transfer */
	assert_true(raft_fixture_step_until(&c->f, transfer_finished, c, WAIT_MS));
	assert_true(raft_fixture_step_until_has_leader(&c->f, WAIT_MS));
	struct raft *now = leader(c);
	assert_true(now->id != old_id);

	struct raft_change *req = change_begin(c);
	assert_int_equal(raft_remove(now, req, old_id, change_cb), 0);
	assert_int_equal(change_wait(c), 0);
	assert_null(server_in(now, old_id));
	assert_int_equal(voters(now), 2);
	raft_term term = now->current_term;
	raft_fixture_step_until_elapsed(&c->f, 10000);
	/* The removed server never learns it was removed and campaigns in terms of
	 * its own; the others refuse its votes while they have a leader. */
	assert_int_equal(now->state, RAFT_LEADER);
	assert_int_equal(now->current_term, term);
	assert_true(old->current_term > term);
	for (unsigned i = 0; i < c->f.n; i++) {
		struct raft *r = raft_fixture_get(&c->f, i);
		if (r != now && r != old) {
			assert_int_equal(r->follower_state.current_leader.id, now->id);
		}
	}
	/* raft_fixture's leader detection counts a server by its own configuration:
	 * it sees no stable leader while the removed one runs, so stop it. */
	assert_int_equal(raft_fixture_leader_index(&c->f), c->f.n);
	raft_fixture_kill(&c->f, (unsigned)old_id - 1);
	assert_true(raft_fixture_step_until_has_leader(&c->f, WAIT_MS));
	assert_ptr_equal(leader(c), now);
	apply_one(c);
	cluster_free(c);
}

/* Removing followers one by one down to a single voter, which still commits. */
static void test_remove_down_to_one_voter(void **state)
{
	(void)state;
	struct cluster *c = cluster_start(3, 3);
	apply_one(c);
	for (unsigned left = 2; left >= 1; left--) {
		struct raft *l = leader(c);
		raft_id victim = 0;
		for (unsigned i = 0; i < l->configuration.n && victim == 0; i++) {
			victim = l->configuration.servers[i].id != l->id ? l->configuration.servers[i].id : 0;
		}
		struct raft_change *req = change_begin(c);
		assert_int_equal(raft_remove(l, req, victim, change_cb), 0);
		assert_int_equal(change_wait(c), 0);
		assert_int_equal(voters(l), left);
		raft_fixture_kill(&c->f, (unsigned)victim - 1); /* a removed node stops, as shiplog's does */
	}
	struct raft *l = leader(c);
	assert_int_equal(l->configuration.n, 1);
	raft_index index = apply_one(c);
	assert_true(l->commit_index >= index);
	cluster_free(c);
}

/* The placement input of the leader's view; regions by server index. */
static size_t place_input(struct cluster *c, const char *const *regions, struct repl_place_member *m)
{
	struct raft *l = leader(c);
	raft_index last = raft_last_index(l);
	for (unsigned i = 0; i < l->configuration.n; i++) {
		const struct raft_server *sv = &l->configuration.servers[i];
		unsigned at = (unsigned)sv->id - 1; /* fixture ids are index + 1 */
		bool alive = raft_fixture_alive(&c->f, at);
		bool caught_up = sv->id == l->id || l->leader_state.progress[i].match_index == last;
		m[i] = (struct repl_place_member){sv->id, sv->role, regions[at], alive, alive && caught_up};
	}
	return l->configuration.n;
}

/* Takes placement steps with raft_assign until there is none; returns how many. */
static int place_until_done(struct cluster *c, const char *const *regions, unsigned max_voters,
                            struct repl_place_step *taken, int cap)
{
	for (int steps = 0; steps < cap; steps++) {
		struct repl_place_member m[N_MAX];
		size_t n = place_input(c, regions, m);
		struct repl_place_step s = repl_place_next(m, n, max_voters, leader(c)->id);
		if (s.action == REPL_PLACE_NONE) {
			return steps;
		}
		taken[steps] = s;
		struct raft_change *req = change_begin(c);
		int role = s.action == REPL_PLACE_PROMOTE ? RAFT_VOTER : RAFT_STANDBY;
		assert_int_equal(raft_assign(leader(c), req, s.id, role, change_cb), 0);
		assert_int_equal(change_wait(c), 0);
	}
	fail_msg("placement did not settle");
	return -1;
}

/* Voters in regions a, b, c; standbys in c and a. Region c's voter dies: its
 * standby is promoted, then the dead voter demoted; the new voters survive
 * the loss of one more of the original ones. */
static void test_placement_replaces_a_lost_region_voter(void **state)
{
	(void)state;
	static const char *const regions[] = {"a", "b", "c", "c", "a"};
	struct cluster *c = cluster_start(5, 3);
	struct repl_place_step taken[8];
	assert_int_equal(raft_fixture_leader_index(&c->f), 0);
	apply_one(c);
	assert_int_equal(place_until_done(c, regions, 3, taken, 8), 0); /* already one voter per region */

	raft_fixture_kill(&c->f, 2); /* id 3, region c */
	apply_one(c);
	assert_int_equal(place_until_done(c, regions, 3, taken, 8), 2);
	assert_int_equal(taken[0].action, REPL_PLACE_PROMOTE);
	assert_int_equal(taken[0].id, 4);
	assert_int_equal(taken[1].action, REPL_PLACE_DEMOTE);
	assert_int_equal(taken[1].id, 3);
	struct raft *l = leader(c);
	assert_int_equal(role_of(l, 4), RAFT_VOTER);
	assert_int_equal(role_of(l, 3), RAFT_STANDBY);
	assert_int_equal(voters(l), 3);

	raft_fixture_kill(&c->f, 1); /* id 2: voters 1 and 4 are still a majority */
	raft_index index = apply_one(c);
	assert_true(leader(c)->commit_index >= index);
	cluster_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_spare_then_promote_after_catch_up),
		cmocka_unit_test(test_promotion_of_a_dead_spare_gives_up),
		cmocka_unit_test(test_remove_the_leader_after_a_transfer),
		cmocka_unit_test(test_remove_down_to_one_voter),
		cmocka_unit_test(test_placement_replaces_a_lost_region_voter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
