/* A Raft cluster for unit tests: canonical/raft's deterministic raft_fixture
 * (in-memory I/O, simulated time) whose servers each run the real state
 * machine (raft/fsm.h) over their own LMDB store in a temporary directory,
 * with low snapshot thresholds so that snapshots are really taken and
 * installed, and optionally the leader-side catch-up repair
 * (raft/probefix.h) run after every step. No sockets, no ports.
 *
 * Server i of the fixture has Raft id i + 1. The helpers fail the running
 * cmocka test (they assert) rather than return errors; every wait is bounded
 * in simulated time. */
#ifndef SHIPLOG_TESTS_UNIT_LIB_CLUSTER_H
#define SHIPLOG_TESTS_UNIT_LIB_CLUSTER_H

#include <raft.h>
#include <raft/fixture.h>
#include <stdbool.h>
#include <stdint.h>

#include "protocol/proto.h"
#include "raft/fsm.h"
#include "raft/placement.h"
#include "raft/probefix.h"
#include "store/store.h"

#define CLUSTER_MAX RAFT_FIXTURE_MAX_SERVERS
#define CLUSTER_WAIT_MS 20000u            /* default bound of a wait, simulated ms */
#define CLUSTER_SNAPSHOT_THRESHOLD 16u    /* default of every server */
#define CLUSTER_SNAPSHOT_TRAILING 8u
#define CLUSTER_MAP_SIZE (32u << 20)      /* LMDB map of each store */

struct cluster;

/* One server: its store, its FSM and what its FSM hooks counted. */
struct cluster_node {
	struct cluster *c;
	unsigned index;          /* in the fixture */
	char dir[128];           /* its store's temporary directory */
	store *store;
	struct repl_fsm fsm;     /* its raft_fsm is the server's FSM */
	struct repl_probefix probefix;
	raft_term probefix_term; /* the term the probefix state belongs to */
	uint64_t applied;        /* on_applied calls (command entries applied) */
	uint64_t snapshots;      /* on_snapshot calls (snapshots taken) */
	uint64_t restores;       /* on_restored calls (snapshots installed) */
};

struct cluster {
	struct raft_fixture f;
	struct cluster_node nodes[CLUSTER_MAX];
	bool probefix;      /* run repl_probe_fix on every live leader after each step */
	int change_status;  /* of the last membership change; -1 while pending */
	bool transferred;   /* the last leadership transfer's callback fired */
	int apply_status;   /* of the last proposal; -1 while pending */
	uint64_t proposals; /* commands proposed so far (distinct values) */
	struct raft_change change;     /* the requests of the helpers below */
	struct raft_transfer transfer;
	struct raft_apply apply;
};

/* ---- Setup ---- */

/* Makes a cluster of n servers, the first n_voting voters and the rest
 * standbys, bootstraps and starts it and steps until it has a leader
 * (server 0, whose election timeout is the fixture's shortest). Every
 * server snapshots with CLUSTER_SNAPSHOT_THRESHOLD/_TRAILING. */
struct cluster *cluster_start(unsigned n, unsigned n_voting);

/* Stops every server (the fixture flushes their pending I/O first), then
 * closes each FSM and store and removes its directory; frees c. */
void cluster_free(struct cluster *c);

/* A cmocka teardown: frees the cluster a failed test left behind (its
 * assertions jump out before cluster_free), so that its stores are closed
 * and its directories removed all the same. Does nothing otherwise. */
int cluster_teardown(void **state);

/* Adds a server with a fresh store and FSM, neither bootstrapped nor
 * started (raft_start it, then raft_add it on the leader); returns its
 * index. The fixture's io implements async_work (queued, run by a later
 * step) but leaves io->version unset: it is set to 2 before raft_init sees
 * it, since FSM version 3 with snapshot_async needs it. */
unsigned cluster_grow(struct cluster *c);

/* Sets server i's snapshot threshold and trailing entries. */
void cluster_set_snapshot(struct cluster *c, unsigned i, unsigned threshold, unsigned trailing);

/* Runs (on) or stops running repl_probe_fix on every live leader after
 * every step of the fixture, each server with its own repl_probefix reset
 * whenever its term changes. */
void cluster_set_probefix(struct cluster *c, bool on);

/* ---- Access ---- */

/* Server i's raft and node. */
struct raft *cluster_raft(struct cluster *c, unsigned i);
struct cluster_node *cluster_node(struct cluster *c, unsigned i);

/* The index of the fixture's stable leader; fails the test if none or dead. */
unsigned cluster_leader_index(struct cluster *c);
/* The stable leader's raft; fails the test if none. */
struct raft *cluster_leader(struct cluster *c);

/* ---- Stepping ---- */

/* Steps until the fixture sees a stable leader that is alive (right after
 * the leader is killed the fixture still names it); false after max_ms. */
bool cluster_step_until_leader(struct cluster *c, unsigned max_ms);

/* Steps until server i applied index; false after max_ms. */
bool cluster_step_until_applied(struct cluster *c, unsigned i, raft_index index, unsigned max_ms);

/* Steps until every live server that is a voter or standby in the
 * configuration of the leader at the call applied index; false after
 * max_ms. */
bool cluster_step_until_all_applied(struct cluster *c, raft_index index, unsigned max_ms);

/* Steps for ms of simulated time. */
void cluster_step_for(struct cluster *c, unsigned ms);

/* ---- Proposals ---- */

/* Encodes cmd (proto_cmd_encode), pads it to a multiple of 8 bytes,
 * raft_applies it on the leader, and steps until it is committed (the
 * proposal's callback fired with status 0) and applied on every live voter
 * and standby of that leader's configuration. Returns the entry's index. */
raft_index cluster_propose(struct cluster *c, const struct proto_cmd *cmd);

/* Proposes a PING of client/env whose version and time are unique to this
 * proposal; returns its index. */
raft_index cluster_ping(struct cluster *c, const char *client, const char *env);

/* Proposes an OBSERVE of one image of workload in namespace ns, tagged tag,
 * seen at a time unique to this proposal; returns its index. */
raft_index cluster_observe(struct cluster *c, const char *ns, const char *workload, const char *tag);

/* Proposes n commands, PINGs and OBSERVEs alternately, with distinct values;
 * returns the last index. */
raft_index cluster_propose_n(struct cluster *c, unsigned n);

/* ---- Faults ---- */

/* Stops server i (raft_fixture_kill): it stops ticking and messages to and
 * from it are dropped, although sending them succeeds (its pending disk I/O
 * still completes). Its state stays in memory, as a partitioned node's. */
void cluster_kill(struct cluster *c, unsigned i);
/* Reconnects server i; it ticks again. */
void cluster_revive(struct cluster *c, unsigned i);

/* Disconnects server i from every other one, both ways: sends to or from
 * it now fail (RAFT_NOCONNECTION) instead of being dropped as after
 * cluster_kill, like connections to a process that is down. Undo with
 * cluster_reconnect before cluster_revive (the fixture asserts it). */
void cluster_disconnect(struct cluster *c, unsigned i);
void cluster_reconnect(struct cluster *c, unsigned i);

/* ---- State ---- */

/* store_applied of server i: the index of the last command it applied. */
uint64_t cluster_store_applied(struct cluster *c, unsigned i);

/* Whether servers i and j hold the same state: their stores' serialized
 * snapshots (store_snapshot_serialize) are equal byte for byte. */
bool cluster_same_state(struct cluster *c, unsigned i, unsigned j);

/* Fails the test unless every live server that is a voter or standby in
 * the leader's configuration applied what the leader did (store_applied)
 * and holds the same state as it. */
void cluster_assert_converged(struct cluster *c);

/* ---- Membership ---- */

/* The server of r's configuration with id, or NULL. */
const struct raft_server *cluster_server_in(struct raft *r, raft_id id);
/* id's role in r's configuration, -1 if absent. */
int cluster_role_of(struct raft *r, raft_id id);
/* The voters of r's configuration. */
unsigned cluster_voters(struct raft *r);

/* The placement input (raft/placement.h) of the leader's view: one member
 * per server of its configuration, region regions[i] for server i, reachable
 * when alive, caught up when its match index is the leader's last index.
 * Returns how many (at most CLUSTER_MAX). */
size_t cluster_place_input(struct cluster *c, const char *const *regions, struct repl_place_member *m);

/* Takes autopilot placement steps (repl_place_next, max_voters) with
 * raft_assign, each waited for, until there is none; records them in taken
 * (cap of them, the test fails beyond) and returns how many. */
int cluster_place_until_done(struct cluster *c, const char *const *regions, unsigned max_voters,
                             struct repl_place_step *taken, int cap);

/* A request for raft_add/raft_assign/raft_remove whose callback is
 * cluster_change_cb (it records the status; c->change_status is -1 until
 * then). One change at a time. */
struct raft_change *cluster_change_begin(struct cluster *c);
void cluster_change_cb(struct raft_change *req, int status);
/* Steps until the pending change's callback fired (fails the test after
 * CLUSTER_WAIT_MS); returns its status. */
int cluster_change_wait(struct cluster *c);

/* Starts a leadership transfer from the leader r to id (0: raft picks);
 * returns raft_transfer's code. cluster_transfer_wait steps until its
 * callback fired (fails the test after CLUSTER_WAIT_MS). */
int cluster_transfer(struct cluster *c, struct raft *r, raft_id id);
void cluster_transfer_wait(struct cluster *c);

#endif
