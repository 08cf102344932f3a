/* raft/ on canonical/raft 0.15.0's raft_fixture with the real FSM over LMDB
 * (tests/unit/lib/cluster.h): elections, proposals applied identically,
 * snapshots taken and installed, membership changes with autopilot
 * placement, and the leader-side catch-up repair (raft/probefix.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/lib/cluster.h"

/* Fails unless server i holds exactly the leader's state. */
#define ASSERT_SAME_AS_LEADER(c, i)                                                           \
	do {                                                                                  \
		unsigned li_ = cluster_leader_index(c);                                       \
		assert_int_equal(cluster_store_applied(c, i), cluster_store_applied(c, li_)); \
		assert_true(cluster_same_state(c, i, li_));                                   \
	} while (0)

static uint64_t releases(struct cluster *c, unsigned i)
{
	struct store_read *rd;
	assert_int_equal(store_read_begin(cluster_node(c, i)->store, &rd), PROTO_OK);
	uint64_t n = store_release_count(rd, NULL);
	store_read_end(rd);
	return n;
}

static int count_env(void *data, const struct store_env *e)
{
	(void)e;
	(*(unsigned *)data)++;
	return 0;
}

static unsigned envs(struct cluster *c, unsigned i)
{
	struct store_read *rd;
	unsigned n = 0;
	assert_int_equal(store_read_begin(cluster_node(c, i)->store, &rd), PROTO_OK);
	assert_int_equal(store_envs_each(rd, NULL, count_env, &n), PROTO_OK);
	store_read_end(rd);
	return n;
}

/* A leader is elected; once it is killed the other two elect another one in
 * a higher term, which commits. */
static void test_election_and_reelection(void **state)
{
	(void)state;
	struct cluster *c = cluster_start(3, 3);
	unsigned first = cluster_leader_index(c);
	raft_term term = cluster_leader(c)->current_term;
	assert_int_equal(raft_state(cluster_leader(c)), RAFT_LEADER);
	cluster_ping(c, "prod", "p");

	cluster_kill(c, first);
	assert_true(cluster_step_until_leader(c, CLUSTER_WAIT_MS));
	unsigned second = cluster_leader_index(c);
	assert_int_not_equal(second, first);
	assert_true(cluster_leader(c)->current_term > term);
	raft_index index = cluster_ping(c, "prod", "p");
	assert_true(cluster_leader(c)->commit_index >= index);
	cluster_assert_converged(c);
	cluster_free(c);
}

/* 60 PINGs and OBSERVEs with distinct values: every server applies every
 * one of them, and the three stores are identical byte for byte. */
static void test_proposals_are_applied_identically(void **state)
{
	(void)state;
	struct cluster *c = cluster_start(3, 3);
	raft_index last = cluster_propose_n(c, 60);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(cluster_store_applied(c, i), last);
		assert_int_equal(cluster_node(c, i)->applied, 60);
		assert_int_equal(cluster_node(c, i)->fsm.commands_applied, 60);
		assert_int_equal(releases(c, i), 30); /* each OBSERVE a new tag */
		assert_int_equal(envs(c, i), 6);      /* env0..env4 pinged, p observed */
		ASSERT_SAME_AS_LEADER(c, i);
	}
	cluster_free(c);
}

/* Every server takes snapshots through the FSM; a server down while the
 * leader's log moves past it comes back by installing the leader's
 * snapshot (the FSM's restore), then applies the rest like the others. */
static void test_snapshots_taken_and_installed(void **state)
{
	(void)state;
	struct cluster *c = cluster_start(3, 3);
	cluster_propose_n(c, 40);
	cluster_step_for(c, 1000); /* snapshots under way complete */
	for (unsigned i = 0; i < 3; i++) {
		struct cluster_node *nd = cluster_node(c, i);
		assert_true(nd->fsm.snapshots > 0);
		assert_int_equal(nd->snapshots, nd->fsm.snapshots);
		assert_true(nd->fsm.last_snapshot_bytes > 0);
		assert_true(cluster_raft(c, i)->log.snapshot.last_index > 0);
		assert_int_equal(nd->restores, 0);
	}

	unsigned down = (cluster_leader_index(c) + 2) % 3;
	raft_index down_last = raft_last_index(cluster_raft(c, down));
	cluster_kill(c, down);
	raft_index last = cluster_propose_n(c, 60);
	cluster_step_for(c, 1000);
	struct raft *l = cluster_leader(c);
	assert_true(l->log.offset > down_last); /* the entries it lacks are gone */

	cluster_revive(c, down);
	assert_true(cluster_step_until_applied(c, down, last, CLUSTER_WAIT_MS));
	assert_true(cluster_node(c, down)->restores > 0);
	assert_true(cluster_raft(c, down)->log.snapshot.last_index > down_last);
	last = cluster_propose_n(c, 5); /* and it keeps applying after the install */
	assert_int_equal(cluster_store_applied(c, down), last);
	cluster_assert_converged(c);
	assert_int_equal(releases(c, down), releases(c, cluster_leader_index(c)));
	cluster_free(c);
}

/* A 4th server joins as spare and is promoted once caught up (by a
 * snapshot: the leader's log no longer starts at 1), the leader hands over
 * and is removed, a 5th server joins as standby and autopilot's placement
 * moves a voter to its uncovered region; the FSMs agree throughout. */
static void test_membership_with_real_fsms(void **state)
{
	(void)state;
	static const char *const regions[] = {"a", "b", "c", "c", "a"};
	struct cluster *c = cluster_start(3, 3);
	cluster_propose_n(c, 30);
	assert_true(cluster_leader(c)->log.offset > 0);

	unsigned n4 = cluster_grow(c);
	assert_int_equal(raft_start(cluster_raft(c, n4)), 0);
	struct raft_change *req = cluster_change_begin(c);
	assert_int_equal(raft_add(cluster_leader(c), req, 4, "4", cluster_change_cb), 0);
	assert_int_equal(cluster_change_wait(c), 0);
	assert_int_equal(cluster_role_of(cluster_leader(c), 4), RAFT_SPARE);
	assert_int_equal(cluster_store_applied(c, n4), 0);

	req = cluster_change_begin(c);
	assert_int_equal(raft_assign(cluster_leader(c), req, 4, RAFT_VOTER, cluster_change_cb), 0);
	assert_int_equal(cluster_change_wait(c), 0);
	assert_int_equal(cluster_role_of(cluster_leader(c), 4), RAFT_VOTER);
	assert_true(cluster_node(c, n4)->restores > 0);
	cluster_propose_n(c, 10);
	cluster_assert_converged(c);

	/* The leader leaves: transfer first, then the new leader removes it. */
	struct raft *old = cluster_leader(c);
	unsigned old_i = cluster_leader_index(c);
	assert_int_equal(cluster_transfer(c, old, 0), 0);
	cluster_transfer_wait(c);
	assert_true(cluster_step_until_leader(c, CLUSTER_WAIT_MS));
	assert_true(cluster_leader(c) != old);
	req = cluster_change_begin(c);
	assert_int_equal(raft_remove(cluster_leader(c), req, old->id, cluster_change_cb), 0);
	assert_int_equal(cluster_change_wait(c), 0);
	assert_null(cluster_server_in(cluster_leader(c), old->id));
	cluster_kill(c, old_i); /* a removed node stops */
	assert_true(cluster_step_until_leader(c, CLUSTER_WAIT_MS));
	cluster_propose_n(c, 10);
	cluster_assert_converged(c);

	/* Voters 2 (b), 3 (c), 4 (c); a standby in region a joins: placement
	 * promotes it, then demotes the highest id of the doubly covered c. */
	unsigned n5 = cluster_grow(c);
	assert_int_equal(raft_start(cluster_raft(c, n5)), 0);
	req = cluster_change_begin(c);
	assert_int_equal(raft_add(cluster_leader(c), req, 5, "5", cluster_change_cb), 0);
	assert_int_equal(cluster_change_wait(c), 0);
	req = cluster_change_begin(c);
	assert_int_equal(raft_assign(cluster_leader(c), req, 5, RAFT_STANDBY, cluster_change_cb), 0);
	assert_int_equal(cluster_change_wait(c), 0);
	cluster_propose_n(c, 2);
	struct repl_place_step taken[4];
	assert_int_equal(cluster_place_until_done(c, regions, 3, taken, 4), 2);
	assert_int_equal(taken[0].action, REPL_PLACE_PROMOTE);
	assert_int_equal(taken[0].id, 5);
	assert_int_equal(taken[1].action, REPL_PLACE_DEMOTE);
	assert_int_equal(taken[1].id, 4);
	struct raft *l = cluster_leader(c);
	assert_int_equal(cluster_role_of(l, 5), RAFT_VOTER);
	assert_int_equal(cluster_role_of(l, 4), RAFT_STANDBY);
	assert_int_equal(cluster_voters(l), 3);
	raft_index last = cluster_propose_n(c, 5);
	cluster_assert_converged(c); /* the standby applies too */
	assert_int_equal(cluster_store_applied(c, n4), last);
	assert_int_equal(cluster_store_applied(c, n5), last);
	assert_true(cluster_node(c, n5)->restores > 0);
	cluster_free(c);
}

/* The stuck follower of 0.15.0 (probefix.c): server 0, the first leader,
 * snapshots every 8 entries and keeps 2, servers 1 and 2 every 32 and keep
 * 4 (per-server thresholds stand in for snapshots taken at different
 * times). Server 0 is killed and disconnected; server 1 is elected with match index 0 for it,
 * so its failed sends restart it at 1, i.e. at a snapshot (32) older than
 * server 0's (40); more entries are written; server 0 comes back. It
 * answers the old snapshot with its index, the leader probes below server
 * 0's log, which starts after 32, walks down to its own log's start and
 * sends the snapshot again: a loop. Returns the cluster in that state,
 * server 0 revived; *at is the leader's last index. */
static struct cluster *stuck_follower(bool probefix, raft_index *at)
{
	struct cluster *c = cluster_start(3, 3);
	cluster_set_probefix(c, probefix);
	assert_int_equal(cluster_leader_index(c), 0);
	cluster_set_snapshot(c, 0, 8, 2);
	cluster_set_snapshot(c, 1, 32, 4);
	cluster_set_snapshot(c, 2, 32, 4);
	cluster_propose_n(c, 40);
	cluster_step_for(c, 1000);
	raft_index follower_snap = cluster_raft(c, 0)->log.snapshot.last_index;
	raft_index leader_snap = cluster_raft(c, 1)->log.snapshot.last_index;
	assert_true(leader_snap > 0);
	/* server 0's log starts above server 1's snapshot: it lacks that entry */
	assert_true(cluster_raft(c, 0)->log.offset > leader_snap);
	assert_true(follower_snap > leader_snap);

	cluster_kill(c, 0);
	cluster_disconnect(c, 0); /* the new leader's sends to it fail */
	assert_true(cluster_step_until_leader(c, CLUSTER_WAIT_MS));
	assert_int_equal(cluster_leader_index(c), 1);
	assert_int_equal(cluster_leader(c)->leader_state.progress[0].match_index, 0);
	*at = cluster_propose_n(c, 8);
	cluster_step_for(c, 1000);
	/* no newer snapshot on the leader, which would unstick server 0 */
	assert_int_equal(cluster_raft(c, 1)->log.snapshot.last_index, leader_snap);
	assert_true(raft_last_index(cluster_raft(c, 0)) < *at);
	/* which restarted it at match index + 1 = 1, a snapshot */
	assert_int_equal(cluster_leader(c)->leader_state.progress[0].next_index, 1);
	cluster_reconnect(c, 0);
	cluster_revive(c, 0);
	return c;
}

/* With repl_probe_fix on the leader after every step, server 0 catches up
 * from its own log (no snapshot installed) and ends up identical. */
static void test_probefix_catches_up_a_newer_snapshot_follower(void **state)
{
	(void)state;
	raft_index at;
	struct cluster *c = stuck_follower(true, &at);
	assert_true(cluster_step_until_applied(c, 0, at, CLUSTER_WAIT_MS));
	assert_true(cluster_node(c, 1)->probefix.restarts > 0);
	assert_int_equal(cluster_node(c, 0)->restores, 0);
	assert_true(cluster_step_until_leader(c, CLUSTER_WAIT_MS));
	assert_int_equal(cluster_leader_index(c), 1);
	cluster_propose_n(c, 3);
	cluster_assert_converged(c);
	cluster_free(c);
}

/* Without it server 0 is still behind after 100 s of simulated time: the
 * leader takes it for matched at its own snapshot, walks down below server
 * 0's log, sends the old snapshot again, waits out the install timeout
 * (30 s in raft_fixture) and starts over, round after round. Turning the
 * repair on then catches it up (within one more install timeout). */
static void test_without_probefix_the_follower_stays_behind(void **state)
{
	(void)state;
	raft_index at;
	struct cluster *c = stuck_follower(false, &at);
	raft_index leader_snap = cluster_raft(c, 1)->log.snapshot.last_index;
	unsigned sent = raft_fixture_n_send(&c->f, 1, RAFT_IO_INSTALL_SNAPSHOT);
	assert_false(cluster_step_until_applied(c, 0, at, 100000));
	assert_true(raft_last_applied(cluster_raft(c, 0)) < at);
	assert_true(cluster_store_applied(c, 0) < cluster_store_applied(c, 1));
	assert_false(cluster_same_state(c, 0, 1));
	assert_int_equal(cluster_leader_index(c), 1); /* the leader itself is fine */
	assert_int_equal(cluster_leader(c)->leader_state.progress[0].match_index, leader_snap);
	/* the same old snapshot, again and again, never installed */
	assert_true(raft_fixture_n_send(&c->f, 1, RAFT_IO_INSTALL_SNAPSHOT) >= sent + 3);
	assert_int_equal(cluster_node(c, 0)->restores, 0);
	assert_int_equal(cluster_raft(c, 1)->log.snapshot.last_index, leader_snap);

	/* repl_probe_fix acts on a probe: the leader may first wait out the
	 * install timeout of the snapshot it just sent */
	cluster_set_probefix(c, true);
	assert_true(cluster_step_until_applied(c, 0, at, 40000));
	assert_true(cluster_node(c, 1)->probefix.restarts > 0);
	cluster_propose_n(c, 3);
	cluster_assert_converged(c);
	cluster_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_election_and_reelection, cluster_teardown),
		cmocka_unit_test_teardown(test_proposals_are_applied_identically, cluster_teardown),
		cmocka_unit_test_teardown(test_snapshots_taken_and_installed, cluster_teardown),
		cmocka_unit_test_teardown(test_membership_with_real_fsms, cluster_teardown),
		cmocka_unit_test_teardown(test_probefix_catches_up_a_newer_snapshot_follower, cluster_teardown),
		cmocka_unit_test_teardown(test_without_probefix_the_follower_stays_behind, cluster_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
