/* Autopilot's voter placement: which one role change spreads the voters over
 * regions, decided as a pure function of the configuration (no I/O, no raft
 * calls), so that it can be tested with tables and applied by the leader's
 * tick with raft_assign. */
#ifndef SHIPLOG_RAFT_PLACEMENT_H
#define SHIPLOG_RAFT_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One server of the Raft configuration, as the leader sees it. */
struct repl_place_member {
	uint64_t id;        /* Raft server id */
	int role;           /* RAFT_VOTER, RAFT_STANDBY or RAFT_SPARE (raft.h) */
	const char *region; /* from the MEMBERS table; NULL or "" is a region of its own */
	bool reachable;     /* answered the leader recently (the leader itself: true) */
	bool caught_up;     /* answers now and its log is close to the leader's */
};

enum repl_place_action {
	REPL_PLACE_NONE,    /* nothing to do now */
	REPL_PLACE_PROMOTE, /* make id a voter */
	REPL_PLACE_DEMOTE,  /* make id a standby */
};

struct repl_place_step {
	enum repl_place_action action;
	uint64_t id; /* the server to change; 0 with REPL_PLACE_NONE */
};

/* The one step to take now so that the configuration moves towards
 * max_voters voters, one per region before a second in any region, with
 * unreachable voters replaced by reachable standbys.
 *
 * A region is "covered" by each reachable voter in it. The rules, in order:
 *  - nothing when max_voters is 0, or when the reachable voters are not a
 *    majority of the voters (no change could commit);
 *  - fewer voters than max_voters: promote the best candidate;
 *  - more voters than max_voters: demote one, unreachable voters first, then
 *    one of the most covered region, highest id first; never self_id, and
 *    never one whose demotion would leave the reachable voters short of a
 *    majority of the remaining voters;
 *  - exactly max_voters: promote the best candidate when that lets the next
 *    step demote an unreachable voter, or a voter of a region covered at
 *    least two more times than the candidate's. The surplus voter is demoted
 *    by the next call, so the number of voters never drops mid-way.
 * A candidate is a reachable, caught-up standby; the best one is in the
 * least covered region, lowest id first. Spares are never changed.
 *
 * members: every server of the configuration, n of them, in any order.
 * self_id: the leader, which is never demoted.
 * Returns REPL_PLACE_NONE when the placement is as good as it gets. */
struct repl_place_step repl_place_next(const struct repl_place_member *members, size_t n, unsigned max_voters,
                                       uint64_t self_id);

#endif
