/* A leader-side repair of canonical/raft 0.15.0's catch-up (see internal.h:
 * repl_probe_fix). Reads and writes leader_state.progress, the only place
 * outside raft that changes its state: keep it to this one condition. */
#include <raft.h>

#include "raft/internal.h"

/* raft's src/progress.h (private): the probe state's value. */
#define REPL_PROGRESS_PROBE 0

void repl_probe_fix(struct repl *r)
{
	if (raft_state(&r->raft) != RAFT_LEADER || r->raft.leader_state.progress == NULL) {
		return;
	}
	raft_index last = raft_last_index(&r->raft);
	for (unsigned i = 0; i < r->raft.configuration.n; i++) {
		struct raft_progress *p = &r->raft.leader_state.progress[i];
		if (r->raft.configuration.servers[i].id == r->self->id || p->state != REPL_PROGRESS_PROBE ||
		    p->match_index == 0 || p->next_index > p->match_index) {
			continue;
		}
		/* A probe at or below what the follower reported matched cannot
		 * succeed; one past the end is rejected with its real last index. */
		repl_tracef("probe of node %llu restarted: next %llu <= match %llu",
		            (unsigned long long)r->raft.configuration.servers[i].id, (unsigned long long)p->next_index,
		            (unsigned long long)p->match_index);
		p->next_index = last + 1;
		r->m.probe_restarts++;
	}
}
