/* An op's life (see requests.h): its state moves, its one answer, its
 * result, and its end once no callback refers to it. */
#include <stdlib.h>
#include <string.h>

#include "lib/assert.h"
#include "raft/internal.h"

#define OP_BIT(s) (1u << (s))

/* Every move an op may make, in one place (as dqlite's sm.h): queued for this
 * turn, then in raft or at the leader, then answered; parked to be
 * dispatched again whenever an attempt ends without an answer. */
static const unsigned op_moves[] = {
	[OP_PARKED] = OP_BIT(OP_PARKED) | OP_BIT(OP_APPLY_QUEUED) | OP_BIT(OP_FORWARD_QUEUED) | OP_BIT(OP_BARRIER_QUEUED),
	[OP_APPLY_QUEUED] = OP_BIT(OP_APPLYING) | OP_BIT(OP_PARKED) | OP_BIT(OP_APPLY_QUEUED) | OP_BIT(OP_FORWARD_QUEUED),
	[OP_FORWARD_QUEUED] = OP_BIT(OP_FORWARDED) | OP_BIT(OP_PARKED),
	[OP_APPLYING] = OP_BIT(OP_PARKED),
	[OP_FORWARDED] = OP_BIT(OP_WAIT_APPLY) | OP_BIT(OP_PARKED),
	[OP_WAIT_APPLY] = 0, /* only answered */
	[OP_BARRIER_QUEUED] = OP_BIT(OP_BARRIER_SENT) | OP_BIT(OP_PARKED),
	[OP_BARRIER_SENT] = OP_BIT(OP_PARKED),
};

static const char *const op_state_names[] = {
	[OP_PARKED] = "parked",
	[OP_APPLY_QUEUED] = "apply-queued",
	[OP_FORWARD_QUEUED] = "forward-queued",
	[OP_APPLYING] = "applying",
	[OP_FORWARDED] = "forwarded",
	[OP_WAIT_APPLY] = "wait-apply",
	[OP_BARRIER_QUEUED] = "barrier-queued",
	[OP_BARRIER_SENT] = "barrier-sent",
};

/* Moves op to state to; a move not in op_moves is a bug, and stops the node. */
void repl_op_move(struct op *op, enum op_state to)
{
	if ((op_moves[op->state] & OP_BIT(to)) == 0) {
		PANIC("request %p: %s -> %s is not a move", (void *)op, op_state_names[op->state], op_state_names[to]);
	}
	op->state = to;
}

void repl_op_link(struct repl *r, struct op *op)
{
	queue_insert_head(&r->ops, &op->link);
}

void repl_op_free(struct op *op)
{
	ASSERT(op->answered && !op->busy); /* answered exactly once, and no callback will still come */
	queue_remove(&op->link);
	if (op->fwd != NULL) {
		op->fwd->ops[op->fwd_slot] = NULL;
	}
	free(op->cmd);
	free(op->result);
	free(op);
}

void repl_send_reply(struct repl *r, bus_request *req, int status, uint64_t index, const char *message,
                       const void *result, size_t result_len)
{
	struct proto_msg m = {.type = PROTO_MSG_REPLY};
	struct proto_buf b;
	m.u.reply.status = status;
	m.u.reply.index = index;
	m.u.reply.leader = repl_leader_name(r, NULL);
	m.u.reply.message = message != NULL ? message : "";
	m.u.reply.result = result;
	m.u.reply.result_len = result_len;
	if (proto_msg_encode(&m, &b) == PROTO_OK) {
		bus_reply(req, b.data, b.len);
		proto_buf_free(&b);
	}
}

/* Answers op (once) and frees it unless a callback still refers to it. */
void repl_op_answer(struct op *op, int status, uint64_t index, const char *message)
{
	if (!op->answered) {
		op->answered = true;
		if (op->req != NULL) {
			repl_send_reply(op->r, op->req, status, index, message, op->result, op->result_len);
			op->req = NULL;
		}
	}
	if (!op->busy) {
		repl_op_free(op);
	}
}

void repl_op_park(struct op *op)
{
	repl_op_move(op, OP_PARKED);
	op->busy = false;
	if (op->answered) {
		repl_op_free(op);
	}
}

int repl_op_set_result(struct op *op, const void *p, size_t len)
{
	free(op->result);
	op->result = NULL;
	op->result_len = 0;
	if (len == 0) {
		return 0;
	}
	op->result = malloc(len);
	if (op->result == NULL) {
		return -1;
	}
	memcpy(op->result, p, len);
	op->result_len = len;
	return 0;
}

/* Sets op's result from its commands' results in the entry. */
int repl_op_take_result(struct op *op, const struct repl_results *rs)
{
	struct proto_buf b;
	if (op->first + op->n_cmds > rs->n) {
		return -1; /* cannot happen: the entry holds every command of its ops */
	}
	int rv = op->multi ? proto_results_encode(&rs->res[op->first], op->n_cmds, &b)
	                   : proto_result_encode(&rs->res[op->first], &b);
	if (rv != PROTO_OK) {
		return -1;
	}
	rv = repl_op_set_result(op, b.data, b.len);
	proto_buf_free(&b);
	return rv;
}
