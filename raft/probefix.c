/* A leader-side repair of canonical/raft 0.15.0's catch-up (see internal.h:
 * repl_probe_fix). Reads and writes leader_state.progress, the only place
 * outside raft that changes its state: keep it to this one condition. */
#include <raft.h>
#include <string.h>

#include "raft/internal.h"

/* raft's src/progress.h (private): the probe state's value. */
#define REPL_PROGRESS_PROBE 0

void repl_probe_fix(struct repl *r)
{
	if (raft_state(&r->raft) != RAFT_LEADER || r->raft.leader_state.progress == NULL || r->raft.transfer != NULL) {
		return; /* during a transfer a restarted probe would look caught up to raft */
	}
	raft_index last = raft_last_index(&r->raft);
	for (unsigned i = 0; i < r->raft.configuration.n && i < REPL_MAX_PEERS; i++) {
		struct raft_progress *p = &r->raft.leader_state.progress[i];
		raft_id id = r->raft.configuration.servers[i].id;
		if (id == r->self->id || p->state != REPL_PROGRESS_PROBE || p->match_index == 0 ||
		    p->next_index > p->match_index) {
			continue;
		}
		/* Once per follower and match index: a follower that really holds
		 * less than its match index (its data was lost) answers the
		 * restarted probe with that, and raft must then walk down. */
		if (r->probe_restart_id[i] == id && r->probe_restart_match[i] == p->match_index) {
			continue;
		}
		/* A probe at or below what the follower reported matched cannot
		 * succeed; one past the end is rejected with its real last index. */
		repl_tracef("probe of node %llu restarted: next %llu <= match %llu", (unsigned long long)id,
		            (unsigned long long)p->next_index, (unsigned long long)p->match_index);
		r->probe_restart_id[i] = id;
		r->probe_restart_match[i] = p->match_index;
		p->next_index = last + 1;
		r->m.probe_restarts++;
	}
}

void repl_probe_fix_reset(struct repl *r)
{
	memset(r->probe_restart_id, 0, sizeof(r->probe_restart_id));
	memset(r->probe_restart_match, 0, sizeof(r->probe_restart_match));
}
