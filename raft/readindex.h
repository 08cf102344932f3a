/* The state of linearizable read rounds (readindex.c, requests.c): one
 * round at a time, by leader confirmation over the bus or by a barrier
 * entry. */
#ifndef SHIPLOG_RAFT_READINDEX_H
#define SHIPLOG_RAFT_READINDEX_H

#include <raft.h>
#include <stdbool.h>

struct read_confirm;

struct repl_reads {
	bool busy;                    /* a round (confirmation or barrier entry) is under way */
	struct raft_barrier barrier;  /* the barrier entry of a round that fell back to one */
	struct read_confirm *confirm; /* the confirmation round under way, NULL if none */
};

#endif
