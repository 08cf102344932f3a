/* Forwarding from a follower: a loop turn's PROPOSE and BARRIER ops go to
 * the leader in one message; its answer is applied here too before the op
 * is answered (read-your-writes on the node that was asked). */
#include <stdlib.h>
#include <string.h>

#include "raft/internal.h"

/* The leader's answer for one forwarded op; its result is already set. */
static void forward_done(struct op *op, const struct proto_reply *rep)
{
	struct repl *r = op->r;
	switch (rep->status) {
	case PROTO_OK:
		op->wait_index = rep->index;
		op->wait_since_ns = uv_hrtime();
		repl_op_move(op, OP_WAIT_APPLY);
		if (raft_last_applied(&r->raft) >= op->wait_index) {
			repl_op_answer_applied(op);
		}
		return;
	case PROTO_ENOTLEADER:
	case PROTO_ENOLEADER:
	case PROTO_ESHUTDOWN:
		repl_op_park(op);
		return;
	case PROTO_EUNKNOWN:
		op->unknown = true;
		repl_op_park(op);
		return;
	default:
		repl_op_answer(op, rep->status, 0, NULL);
		return;
	}
}

static void forward_cb(void *data, int status, const void *buf, size_t len)
{
	struct op_forward *fwd = data;
	struct proto_msg m;
	struct proto_result *res = NULL;
	bool have = status == PROTO_OK && proto_msg_decode(buf, len, &m) == PROTO_OK;
	metrics_observe(&fwd->r->m.forward_seconds, (double)(uv_hrtime() - fwd->sent_ns) / 1e9);
	if (have && m.type != PROTO_MSG_REPLY) {
		proto_msg_free(&m);
		have = false;
	}
	if (have && fwd->batch && m.u.reply.status == PROTO_OK &&
	    ((res = calloc(fwd->n_results, sizeof(*res))) == NULL ||
	     proto_results_decode(m.u.reply.result, m.u.reply.result_len, res, fwd->n_results) != PROTO_OK)) {
		proto_msg_free(&m);
		have = false; /* a malformed answer (or no memory): as if lost */
	}
	struct repl_results rs = {0, fwd->n_results, res};
	for (uint32_t i = 0; i < fwd->n; i++) {
		struct op *op = fwd->ops[i];
		if (op == NULL) {
			continue; /* abandoned: the op was retried elsewhere or is gone */
		}
		op->fwd = NULL;
		op->busy = false;
		if (op->answered || op->r->stopping) {
			repl_op_answer(op, PROTO_ESHUTDOWN, 0, NULL);
		} else if (!have) {
			op->unknown = op->unknown || op->kind == OP_PROPOSE; /* it may have reached the leader */
			repl_op_park(op);
		} else if (m.u.reply.status == PROTO_OK &&
		           (res != NULL ? repl_op_take_result(op, &rs) : repl_op_set_result(op, m.u.reply.result, m.u.reply.result_len)) != 0) {
			repl_op_answer(op, PROTO_EUNKNOWN, 0, NULL); /* applied at the leader; its result is lost here */
		} else {
			forward_done(op, &m.u.reply);
		}
	}
	free(res);
	if (have) {
		proto_msg_free(&m);
	}
	free(fwd);
}

/* Sends ops[0..n) (all PROPOSE or all BARRIER) to the leader in one
 * message: a PROPOSE carries every command as one batch unless it is a
 * single op's own command. */
void repl_forward_group(struct repl *r, struct op **ops, uint32_t n, raft_id leader)
{
	bus_client *peer = repl_peer(r, leader);
	struct op_forward *fwd = peer != NULL ? malloc(sizeof(*fwd) + n * sizeof(fwd->ops[0])) : NULL;
	struct proto_buf cmds = {0}, b = {0};
	struct cmd_list l = {0};
	uint64_t now = uv_now(r->loop), left = 1;
	bool propose = ops[0]->kind == OP_PROPOSE;
	int ok = fwd != NULL;
	for (uint32_t i = 0; i < n; i++) {
		left = ops[i]->deadline > now && ops[i]->deadline - now > left ? ops[i]->deadline - now : left;
	}
	unsigned timeout = (unsigned)(left < REPL_FORWARD_MAX_MS ? left : REPL_FORWARD_MAX_MS);
	struct proto_msg m = {.type = propose ? PROTO_MSG_PROPOSE : PROTO_MSG_BARRIER};
	if (ok && propose) {
		m.u.propose.timeout_ms = timeout;
		m.u.propose.hops = ops[0]->hops + 1;
		ops[0]->first = 0;
		if (n == 1) {
			m.u.propose.cmd = ops[0]->cmd;
			m.u.propose.cmd_len = ops[0]->cmd_len;
			fwd->batch = ops[0]->multi;
			fwd->n_results = ops[0]->n_cmds;
		} else {
			for (uint32_t i = 0; ok && i < n; i++) {
				ops[i]->first = l.n;
				ok = cmd_list_add_op(&l, ops[i], n) == 0;
			}
			ok = ok && proto_batch_encode(l.v, l.n, &cmds) == PROTO_OK;
			m.u.propose.cmd = cmds.data;
			m.u.propose.cmd_len = cmds.len;
			fwd->batch = true;
			fwd->n_results = l.n;
		}
	} else if (ok) {
		m.u.barrier.timeout_ms = timeout;
		m.u.barrier.hops = ops[0]->hops + 1;
		fwd->batch = false;
		fwd->n_results = 0;
	}
	cmd_list_free(&l);
	ok = ok && proto_msg_encode(&m, &b) == PROTO_OK;
	proto_buf_free(&cmds);
	if (ok) {
		fwd->r = r;
		fwd->sent_ns = uv_hrtime();
		fwd->n = n;
		for (uint32_t i = 0; i < n; i++) {
			fwd->ops[i] = ops[i];
			repl_op_move(ops[i], OP_FORWARDED);
			ops[i]->busy = true;
			ops[i]->fwd = fwd;
			ops[i]->fwd_slot = i;
			ops[i]->fwd_leader = leader;
		}
		r->m.forwarded += n;
		r->m.forward_messages++;
		ok = bus_call(peer, b.data, b.len, timeout, forward_cb, fwd) == PROTO_OK;
		if (!ok) {
			for (uint32_t i = 0; i < n; i++) {
				ops[i]->fwd = NULL;
				ops[i]->busy = false;
			}
		}
	}
	proto_buf_free(&b);
	if (!ok) {
		free(fwd);
		for (uint32_t i = 0; i < n; i++) {
			repl_op_park(ops[i]); /* a leader we have no address for (yet), or no memory */
		}
	}
}

/* A forwarded write the leader answered is now applied here too. */
void repl_op_answer_applied(struct op *op)
{
	metrics_observe(&op->r->m.forward_apply_wait_seconds, (double)(uv_hrtime() - op->wait_since_ns) / 1e9);
	repl_op_answer(op, PROTO_OK, op->wait_index, NULL);
}
