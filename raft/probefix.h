/* The leader-side repair of canonical/raft 0.15.0's catch-up of a follower
 * whose snapshot is newer than the leader's (probefix.c explains it). It
 * works on any struct raft, so the unit tests run it on raft_fixture. */
#ifndef SHIPLOG_RAFT_PROBEFIX_H
#define SHIPLOG_RAFT_PROBEFIX_H

#include <raft.h>
#include <stdint.h>

#include "raft/sizes.h"

struct repl_probefix {
	raft_id id[REPL_MAX_PEERS];       /* the follower and match index of the last restart, */
	raft_index match[REPL_MAX_PEERS]; /* by configuration index */
	uint64_t restarts;                /* probes restarted (a metric) */
};

/* On the leader (self), once per tick: restarts a probe that went at or
 * below its follower's match index past the end of the log, once per
 * follower and match index. Does nothing on a follower or during a
 * leadership transfer. */
void repl_probe_fix(struct repl_probefix *pf, struct raft *raft, raft_id self);

/* Forgets the restarts of the previous term (a new leader's match indexes). */
void repl_probe_fix_reset(struct repl_probefix *pf);

#endif
