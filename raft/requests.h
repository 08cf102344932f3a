/* The request (op) machinery (ops.c, requests.c, forward.c): every PROPOSE or BARRIER the
 * actor serves, from arrival to its one answer. */
#ifndef SHIPLOG_RAFT_REQUESTS_H
#define SHIPLOG_RAFT_REQUESTS_H

#include <raft.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"
#include "lib/queue.h"

struct repl;

enum op_kind { OP_PROPOSE, OP_BARRIER };

enum op_state {
	OP_PARKED,        /* waiting for a leader or a retry */
	OP_APPLY_QUEUED,  /* leader: joins this loop turn's entry (repl_ops_flush) */
	OP_FORWARD_QUEUED,/* follower: joins this loop turn's message to the leader */
	OP_APPLYING,      /* raft_apply in flight on this (leader) node */
	OP_FORWARDED,     /* sent to the leader, awaiting its reply */
	OP_WAIT_APPLY,    /* done at the leader; waiting for local apply */
	OP_BARRIER_QUEUED,/* waiting for the next shared barrier round */
	OP_BARRIER_SENT,  /* part of the barrier round in flight */
};

/* One request being served. Answered exactly once (answered = true); freed
 * when it is answered and no raft or bus callback still refers to it. */
struct op {
	struct queue link;         /* in repl.ops */
	struct repl *r;
	bus_request *req;          /* where the answer goes */
	enum op_kind kind;
	enum op_state state;
	uint32_t hops;             /* > 0 when this node was forwarded to */
	uint64_t deadline;         /* uv_now() ms after which we give up */
	char *cmd;                 /* PROPOSE: encoded command or batch (owned) */
	size_t cmd_len;
	uint32_t n_cmds;           /* PROPOSE: commands in cmd (> 1: a follower's batch) */
	bool multi;                /* cmd is a batch: the result is proto_results */
	uint32_t first;            /* OP_APPLYING: its first command's place in the entry */
	bool unknown;              /* an earlier attempt may have been applied */
	bool answered;             /* the reply was sent; waiting for callbacks */
	bool busy;                 /* a raft or bus callback will still fire */
	uint64_t wait_index;       /* OP_WAIT_APPLY: local index to reach */
	uint64_t wait_since_ns;    /* OP_WAIT_APPLY: uv_hrtime of the leader's answer (metrics) */
	char *result;              /* encoded proto_result from the leader (owned) */
	size_t result_len;
	struct op_forward *fwd;    /* OP_FORWARDED: the call in flight */
	uint32_t fwd_slot;         /* OP_FORWARDED: its place in fwd->ops */
	raft_id fwd_leader;        /* OP_FORWARDED: where it went */
};

/* A forwarding call in flight, for one op or a loop turn's group of them;
 * outlives its ops if they give up on it. */
struct op_forward {
	struct repl *r;
	uint64_t sent_ns;  /* uv_hrtime when sent (metrics) */
	uint32_t n;
	bool batch;        /* the PROPOSE carried a batch: the reply has n_results */
	uint32_t n_results;
	struct op *ops[];  /* NULL once abandoned or freed */
};

/* ops.c: an op's life. */
/* Moves op to state to; a move outside the table of allowed moves PANICs. */
void repl_op_move(struct op *op, enum op_state to);
/* Puts a new op in r's list (newest first). */
void repl_op_link(struct repl *r, struct op *op);
/* Frees an answered op that no callback refers to any more. */
void repl_op_free(struct op *op);
/* Answers op (once) and frees it unless a callback still refers to it. */
void repl_op_answer(struct op *op, int status, uint64_t index, const char *message);
/* Parks op for the next dispatch (frees it if it was answered meanwhile). */
void repl_op_park(struct op *op);
/* Sets op's encoded result (a copy of p); -1 when out of memory. */
int repl_op_set_result(struct op *op, const void *p, size_t len);
struct repl_results;
/* Sets op's result from its commands' results in an applied entry. */
int repl_op_take_result(struct op *op, const struct repl_results *rs);

/* forward.c: the follower side. */
/* Sends ops[0..n) to leader in one message (they are parked if it cannot go). */
void repl_forward_group(struct repl *r, struct op **ops, uint32_t n, raft_id leader);
/* A forwarded op the leader answered is applied here now: answer it. */
void repl_op_answer_applied(struct op *op);

#endif
