/* The membership sequences shiplog relies on, run on canonical/raft 0.15.0's
 * deterministic raft_fixture (in-memory I/O, simulated time) with the real
 * FSM over a temporary LMDB store on every server (tests/unit/lib/cluster.h):
 * a node added as spare and promoted only once caught up, a promotion that
 * cannot catch up, leadership moved away before the leader is removed,
 * shrinking to one voter, and autopilot placement steps (raft/placement)
 * applied with raft_assign. Each ends with the live stores identical. */
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
#include "tests/unit/lib/cluster.h"

#define WAIT_MS CLUSTER_WAIT_MS /* simulated time; generous, the steps are cheap */

/* Proposes one command at the leader and waits until every live voter and
 * standby applied it; returns its index. */
static raft_index apply_one(struct cluster *c)
{
	return cluster_propose_n(c, 1);
}

static bool spare4_promoted(struct raft_fixture *f, void *arg)
{
	(void)arg;
	unsigned i = raft_fixture_leader_index(f);
	return i < f->n && cluster_role_of(raft_fixture_get(f, i), 4) == RAFT_VOTER;
}

/* raft_add makes a spare, which gets no entries; raft_assign(VOTER) first
 * catches it up (here with a snapshot: the leader's log no longer starts at
 * 1) and only then appends the configuration that promotes it. */
static void test_add_spare_then_promote_after_catch_up(void **state)
{
	(void)state;
	struct cluster *c = cluster_start(3, 3);
	for (int i = 0; i < 20; i++) {
		apply_one(c);
	}
	unsigned i4 = cluster_grow(c);
	struct raft *n4 = cluster_raft(c, i4);
	assert_int_equal(raft_start(n4), 0);

	struct raft_change *req = cluster_change_begin(c);
	assert_int_equal(raft_add(cluster_leader(c), req, 4, "4", cluster_change_cb), 0);
	assert_int_equal(cluster_change_wait(c), 0);
	assert_int_equal(cluster_role_of(cluster_leader(c), 4), RAFT_SPARE);
	cluster_step_for(c, 2000);
	assert_int_equal(raft_last_index(n4), 0); /* spares are not replicated to */
	assert_int_equal(cluster_node(c, i4)->applied, 0);
	assert_int_equal(cluster_store_applied(c, i4), 0);

	raft_index at_assign = raft_last_index(cluster_leader(c));
	req = cluster_change_begin(c);
	assert_int_equal(raft_assign(cluster_leader(c), req, 4, RAFT_VOTER, cluster_change_cb), 0);
	assert_int_equal(cluster_role_of(cluster_leader(c), 4), RAFT_SPARE); /* not yet: catching up */
	assert_int_equal(cluster_leader(c)->leader_state.promotee_id, 4);
	/* Another change meanwhile is refused, as shiplog's autopilot_busy assumes. */
	struct raft_change other = {.data = c};
	assert_int_equal(raft_assign(cluster_leader(c), &other, 3, RAFT_STANDBY, cluster_change_cb), RAFT_CANTCHANGE);

	assert_true(raft_fixture_step_until(&c->f, spare4_promoted, NULL, WAIT_MS));
	assert_true(raft_last_index(n4) >= at_assign); /* its log was caught up first */
	assert_int_equal(cluster_change_wait(c), 0);
	assert_int_equal(cluster_voters(cluster_leader(c)), 4);
	assert_true(cluster_node(c, i4)->restores > 0);
	apply_one(c);
	assert_int_equal(cluster_store_applied(c, i4), cluster_store_applied(c, 0));
	cluster_assert_converged(c);
	/* Assigning the role it has already: RAFT_BADROLE (shiplog answers OK). */
	req = cluster_change_begin(c);
	assert_int_equal(raft_assign(cluster_leader(c), req, 4, RAFT_VOTER, cluster_change_cb), RAFT_BADROLE);
	cluster_free(c);
}

/* A promotion whose target never answers is aborted after
 * max_catch_up_round_duration (5 s in 0.15.0) with RAFT_NOCONNECTION. */
static void test_promotion_of_a_dead_spare_gives_up(void **state)
{
	(void)state;
	struct cluster *c = cluster_start(3, 3);
	unsigned i4 = cluster_grow(c);
	assert_int_equal(raft_start(cluster_raft(c, i4)), 0);
	struct raft_change *req = cluster_change_begin(c);
	assert_int_equal(raft_add(cluster_leader(c), req, 4, "4", cluster_change_cb), 0);
	assert_int_equal(cluster_change_wait(c), 0);
	apply_one(c);
	cluster_kill(c, i4);

	raft_time start = raft_fixture_time(&c->f);
	req = cluster_change_begin(c);
	assert_int_equal(raft_assign(cluster_leader(c), req, 4, RAFT_VOTER, cluster_change_cb), 0);
	assert_int_equal(cluster_change_wait(c), RAFT_NOCONNECTION);
	assert_true(raft_fixture_time(&c->f) - start >= 5000);
	assert_int_equal(cluster_role_of(cluster_leader(c), 4), RAFT_SPARE);
	/* The next change is accepted again. */
	req = cluster_change_begin(c);
	assert_int_equal(raft_remove(cluster_leader(c), req, 4, cluster_change_cb), 0);
	assert_int_equal(cluster_change_wait(c), 0);
	assert_null(cluster_server_in(cluster_leader(c), 4));
	assert_int_equal(cluster_store_applied(c, i4), 0); /* the spare never applied anything */
	apply_one(c);
	cluster_assert_converged(c);
	cluster_free(c);
}

/* The leader leaves: raft_transfer first, then the new leader removes it.
 * The removed server keeps running and does not disrupt the others. */
static void test_remove_the_leader_after_a_transfer(void **state)
{
	(void)state;
	struct cluster *c = cluster_start(3, 3);
	apply_one(c);
	struct raft *old = cluster_leader(c);
	raft_id old_id = old->id;
	assert_int_equal(cluster_transfer(c, old, 0), 0);
	struct raft_change refused = {.data = c};
	assert_int_equal(raft_remove(old, &refused, old_id, cluster_change_cb), RAFT_NOTLEADER); /* during a transfer */
	cluster_transfer_wait(c);
	assert_true(cluster_step_until_leader(c, WAIT_MS));
	struct raft *now = cluster_leader(c);
	assert_true(now->id != old_id);

	struct raft_change *req = cluster_change_begin(c);
	assert_int_equal(raft_remove(now, req, old_id, cluster_change_cb), 0);
	assert_int_equal(cluster_change_wait(c), 0);
	assert_null(cluster_server_in(now, old_id));
	assert_int_equal(cluster_voters(now), 2);
	raft_term term = now->current_term;
	cluster_step_for(c, 10000);
	/* The removed server never learns it was removed and campaigns in terms of
	 * its own; the others refuse its votes while they have a leader. */
	assert_int_equal(now->state, RAFT_LEADER);
	assert_int_equal(now->current_term, term);
	assert_true(old->current_term > term);
	for (unsigned i = 0; i < c->f.n; i++) {
		struct raft *r = cluster_raft(c, i);
		if (r != now && r != old) {
			assert_int_equal(r->follower_state.current_leader.id, now->id);
		}
	}
	/* raft_fixture's leader detection counts a server by its own configuration:
	 * it sees no stable leader while the removed one runs, so stop it. */
	assert_int_equal(raft_fixture_leader_index(&c->f), c->f.n);
	cluster_kill(c, (unsigned)old_id - 1);
	assert_true(cluster_step_until_leader(c, WAIT_MS));
	assert_ptr_equal(cluster_leader(c), now);
	apply_one(c);
	cluster_assert_converged(c);
	cluster_free(c);
}

/* Removing followers one by one down to a single voter, which still commits. */
static void test_remove_down_to_one_voter(void **state)
{
	(void)state;
	struct cluster *c = cluster_start(3, 3);
	apply_one(c);
	for (unsigned left = 2; left >= 1; left--) {
		struct raft *l = cluster_leader(c);
		raft_id victim = 0;
		for (unsigned i = 0; i < l->configuration.n && victim == 0; i++) {
			victim = l->configuration.servers[i].id != l->id ? l->configuration.servers[i].id : 0;
		}
		struct raft_change *req = cluster_change_begin(c);
		assert_int_equal(raft_remove(l, req, victim, cluster_change_cb), 0);
		assert_int_equal(cluster_change_wait(c), 0);
		assert_int_equal(cluster_voters(l), left);
		cluster_kill(c, (unsigned)victim - 1); /* a removed node stops, as shiplog's does */
	}
	struct raft *l = cluster_leader(c);
	assert_int_equal(l->configuration.n, 1);
	raft_index index = apply_one(c);
	assert_true(l->commit_index >= index);
	assert_int_equal(cluster_store_applied(c, (unsigned)l->id - 1), index);
	cluster_free(c);
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
	assert_int_equal(cluster_place_until_done(c, regions, 3, taken, 8), 0); /* already one voter per region */

	cluster_kill(c, 2); /* id 3, region c */
	apply_one(c);
	assert_int_equal(cluster_place_until_done(c, regions, 3, taken, 8), 2);
	assert_int_equal(taken[0].action, REPL_PLACE_PROMOTE);
	assert_int_equal(taken[0].id, 4);
	assert_int_equal(taken[1].action, REPL_PLACE_DEMOTE);
	assert_int_equal(taken[1].id, 3);
	struct raft *l = cluster_leader(c);
	assert_int_equal(cluster_role_of(l, 4), RAFT_VOTER);
	assert_int_equal(cluster_role_of(l, 3), RAFT_STANDBY);
	assert_int_equal(cluster_voters(l), 3);

	cluster_kill(c, 1); /* id 2: voters 1 and 4 are still a majority */
	raft_index index = apply_one(c);
	assert_true(cluster_leader(c)->commit_index >= index);
	cluster_assert_converged(c); /* servers 0, 3 and 4 */
	assert_int_equal(cluster_store_applied(c, 4), index);
	cluster_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_add_spare_then_promote_after_catch_up, cluster_teardown),
		cmocka_unit_test_teardown(test_promotion_of_a_dead_spare_gives_up, cluster_teardown),
		cmocka_unit_test_teardown(test_remove_the_leader_after_a_transfer, cluster_teardown),
		cmocka_unit_test_teardown(test_remove_down_to_one_voter, cluster_teardown),
		cmocka_unit_test_teardown(test_placement_replaces_a_lost_region_voter, cluster_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
