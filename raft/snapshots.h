/* The state of the node's snapshot policy (snapshots.c): the async work run
 * for raft_uv, and the thresholds it moves. */
#ifndef SHIPLOG_RAFT_SNAPSHOTS_H
#define SHIPLOG_RAFT_SNAPSHOTS_H

#include <stdbool.h>

struct async_work;

struct repl_snapshots {
	struct async_work *works; /* io->async_work requests not yet called back */
	bool close_deferred;      /* raft_close waits for works to end */
	bool budget;              /* threshold/trailing lowered by repl_log_budget */
	bool staggered;           /* the first snapshot is taken: no more stagger */
};

#endif
