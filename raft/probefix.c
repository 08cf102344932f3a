/* A leader-side repair of canonical/raft 0.15.0.
 *
 * canonical/raft 0.15.0 answers a snapshot older than the
 * follower's own with the snapshot's index as the follower's last one
 * (recv_install_snapshot.c), although the follower's log may start above it.
 * The leader then probes one entry at a time below that log, each probe
 * carrying every entry to the end, and the follower cannot catch up until
 * the leader takes a newer snapshot (found by bench/run: a restarted node
 * stuck for minutes). The leader sends such a snapshot when a send to a
 * down follower failed and it restarts the follower at match index + 1,
 * which is 1 after an election. On the leader, from the tick: a probe
 * that went at or below the follower's match index restarts past the end
 * of the log, whose rejection tells the follower's real last index; once
 * per follower and match index, so that a follower which lost data (its
 * last index below its match index) is still walked down by raft. Not
 * during a leadership transfer, which would take such a follower for
 * caught up.
 *
 * tests/unit/test_raft_cluster.c reproduces the stuck follower on
 * raft_fixture with the real FSM: the leader sends its older snapshot, takes
 * the answer as a match at its own snapshot index, probes below the
 * follower's log, sends the snapshot again and then waits out the install
 * timeout (30 s), round after round; with this repair the follower catches
 * up from its own log.
 *
 * It reads and writes leader_state.progress, the only place outside raft
 * that changes raft's state: keep it to this one condition. */
#include "raft/probefix.h"

#include <string.h>

#include "raft/trace.h"

/* raft's src/progress.h (private): the probe state's value. */
#define REPL_PROGRESS_PROBE 0

void repl_probe_fix(struct repl_probefix *pf, struct raft *raft, raft_id self)
{
	if (raft_state(raft) != RAFT_LEADER || raft->leader_state.progress == NULL || raft->transfer != NULL) {
		return; /* during a transfer a restarted probe would look caught up to raft */
	}
	raft_index last = raft_last_index(raft);
	for (unsigned i = 0; i < raft->configuration.n && i < REPL_MAX_PEERS; i++) {
		struct raft_progress *p = &raft->leader_state.progress[i];
		raft_id id = raft->configuration.servers[i].id;
		if (id == self || p->state != REPL_PROGRESS_PROBE || p->match_index == 0 ||
		    p->next_index > p->match_index) {
			continue;
		}
		/* Once per follower and match index: a follower that really holds
		 * less than its match index (its data was lost) answers the
		 * restarted probe with that, and raft must then walk down. */
		if (pf->id[i] == id && pf->match[i] == p->match_index) {
			continue;
		}
		/* A probe at or below what the follower reported matched cannot
		 * succeed; one past the end is rejected with its real last index. */
		repl_tracef("probe of node %llu restarted: next %llu <= match %llu", (unsigned long long)id,
		            (unsigned long long)p->next_index, (unsigned long long)p->match_index);
		pf->id[i] = id;
		pf->match[i] = p->match_index;
		p->next_index = last + 1;
		pf->restarts++;
	}
}

void repl_probe_fix_reset(struct repl_probefix *pf)
{
	memset(pf->id, 0, sizeof(pf->id));
	memset(pf->match, 0, sizeof(pf->match));
}
