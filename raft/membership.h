/* The state of membership.c: membership requests waiting for this term's
 * barrier, autopilot (removing unreachable nodes, spreading voters over
 * regions) and the node alerts. */
#ifndef SHIPLOG_RAFT_MEMBERSHIP_H
#define SHIPLOG_RAFT_MEMBERSHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"
#include "raft/sizes.h"

/* A membership request that reached a leader before its term barrier applied. */
struct deferred_change {
	struct deferred_change *next;
	bus_request *req;
	uint64_t deadline;
	size_t len;
	char msg[]; /* the encoded request */
};

struct repl_autopilot {
	struct deferred_change *deferred;           /* membership requests waiting for leader_ready */
	uint64_t unreachable_since[REPL_MAX_PEERS]; /* by configuration index; 0 = reachable */
	bool busy;                                  /* a change of its own is in flight */
	uint64_t silent_since[REPL_MAX_PEERS];      /* node alerts, by configuration index */
	bool node_alerted[REPL_MAX_PEERS];          /* a node alert is raised for it */
};

#endif
