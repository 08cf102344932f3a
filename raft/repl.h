/* The raft actor: canonical/raft on its own libuv loop, the FSM glue to
 * store/, and the request path every write and linearizable read takes.
 *
 * Requests arrive on a bus server (inproc from the local gateway, TCP from
 * other nodes) as PROPOSE or BARRIER messages and are answered with REPLY:
 * - on the leader a PROPOSE is raft_apply'd and answered after commit and
 *   apply; on a follower it is forwarded to the leader (one hop) and answered
 *   once the follower has applied the same index itself;
 * - with no leader, requests wait (bounded by their timeout) and are retried;
 *   every command carries an idempotency key, so a retry after an unknown
 *   outcome applies at most once;
 * - a BARRIER is answered with an index at which a quorum confirmed this
 *   leadership (concurrent barriers share one round: the voters confirm the
 *   leader's term over the bus, or a raft_barrier entry when they cannot).
 * The actor publishes its status (role, term, indexes, leader) on the bus. */
#ifndef SHIPLOG_RAFT_REPL_H
#define SHIPLOG_RAFT_REPL_H

#include <stdbool.h>
#include <uv.h>

#include "config/config.h"
#include "store/store.h"

struct repl;

struct repl_config {
	const struct cfg *cfg;       /* whole configuration (borrowed) */
	const struct cfg_node *self; /* this node's entry (borrowed) */
	store *store;                /* opened store (borrowed) */
	const char *request_url;     /* inproc URL the gateway calls */
	const char *status_url;      /* inproc URL where status is published */
	int join;                    /* joining an existing cluster: never bootstrap */
};

/* Allocates the actor; nothing runs until repl_start. */
int repl_init(struct repl **out, const struct repl_config *config);

/* Actor hooks (node/actor.h), called on the actor's thread. repl_start
 * bootstraps the initial voters on first start and starts raft; repl_stop
 * answers pending requests with PROTO_ESHUTDOWN and closes every handle. */
int repl_start(void *self, uv_loop_t *loop);
void repl_stop(void *self);

/* Frees the actor after its loop has ended. */
void repl_free(struct repl *r);

/* Whether the node's data directory already holds a Raft log (a node ran
 * there); the log's place inside it is raft/'s own business. */
bool repl_log_exists(const char *data_dir);

/* The environment variables that trace the actor and the Raft library under
 * it, as one sentence for shiplogd --help. */
extern const char repl_trace_help[];

#endif
