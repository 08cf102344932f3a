/* Serving PROPOSE and BARRIER requests: propose on the leader, forward from
 * followers, park while there is no leader, and answer exactly once.
 *
 * Happy path on a follower: PROPOSE -> forward (hops=1) to the leader ->
 * leader raft_apply -> commit + apply -> REPLY(index) -> wait until this
 * node applied index -> REPLY to the caller.
 * Failures: a definite refusal (not leader, no leader) parks the op and it is
 * retried every tick; a lost forward or a lost leadership marks the outcome
 * unknown and is retried too: the command's idempotency key makes the retry
 * apply at most once. At the deadline the op is answered NO_LEADER, or
 * UNKNOWN_OUTCOME if some attempt might have been applied. */
#include <stdlib.h>
#include <string.h>

#include "raft/internal.h"

static void op_dispatch(struct op *op);

static void op_link(struct repl *r, struct op *op)
{
	op->prev = NULL;
	op->next = r->ops;
	if (r->ops != NULL) {
		r->ops->prev = op;
	}
	r->ops = op;
}

static void op_free(struct op *op)
{
	struct repl *r = op->r;
	if (op->prev != NULL) {
		op->prev->next = op->next;
	} else {
		r->ops = op->next;
	}
	if (op->next != NULL) {
		op->next->prev = op->prev;
	}
	if (op->fwd != NULL) {
		op->fwd->op = NULL;
	}
	free(op->cmd);
	free(op->result);
	free(op);
}

static void send_reply(struct repl *r, bus_request *req, int status, uint64_t index, const char *message,
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
static void op_answer(struct op *op, int status, uint64_t index, const char *message)
{
	if (!op->answered) {
		op->answered = true;
		if (op->req != NULL) {
			send_reply(op->r, op->req, status, index, message, op->result, op->result_len);
			op->req = NULL;
		}
	}
	if (!op->busy) {
		op_free(op);
	}
}

static void op_park(struct op *op)
{
	op->state = OP_PARKED;
	op->busy = false;
	if (op->answered) {
		op_free(op);
	}
}

static int set_result(struct op *op, const void *p, size_t len)
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

/* ---- on the leader ---- */

static void nudge_cb(struct raft_barrier *req, int status)
{
	struct repl *r = req->data;
	(void)status;
	r->nudge_busy = false;
}

/* Followers learn a new commit index with the next AppendEntries: a heartbeat
 * later unless something is appended. A forwarding follower is waiting to
 * apply, so append a (coalesced) barrier to carry the commit index now. */
void repl_commit_nudge(struct repl *r)
{
	if (r->nudge_busy || r->read_barrier_busy || raft_state(&r->raft) != RAFT_LEADER) {
		return;
	}
	r->nudge.data = r;
	if (raft_barrier(&r->raft, &r->nudge, nudge_cb) == 0) {
		r->nudge_busy = true;
	}
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
	struct op *op = req->data;
	op->busy = false;
	if (op->answered) {
		op_free(op);
		return;
	}
	if (status == 0) {
		const struct proto_result *res = result;
		metrics_observe(&op->r->m.apply_seconds, (double)(uv_hrtime() - op->proposed_ns) / 1e9);
		struct proto_buf b;
		if (proto_result_encode(res, &b) == PROTO_OK) {
			set_result(op, b.data, b.len);
			proto_buf_free(&b);
		}
		if (op->hops > 0) {
			op->r->want_nudge = true; /* next loop turn: not inside raft's callback */
		}
		op_answer(op, PROTO_OK, res->index, NULL);
		return;
	}
	/* Leadership lost or shutdown: the entry may still commit later. */
	op->unknown = true;
	op_park(op);
}

static void propose_local(struct op *op)
{
	struct repl *r = op->r;
	struct raft_buffer buf;
	buf.len = op->cmd_len; /* already padded to 8 bytes by the encoder */
	buf.base = raft_malloc(buf.len);
	if (buf.base == NULL) {
		op_park(op);
		return;
	}
	memcpy(buf.base, op->cmd, buf.len);
	op->apply.data = op;
	op->state = OP_APPLYING;
	op->proposed_ns = uv_hrtime();
	r->m.proposals++;
	op->busy = true;
	int rv = raft_apply(&r->raft, &op->apply, &buf, 1, apply_cb);
	if (rv != 0) {
		raft_free(buf.base);
		op->busy = false;
		op_park(op); /* RAFT_NOTLEADER and friends: nothing was appended */
	}
}

static void barrier_round_cb(struct raft_barrier *req, int status)
{
	struct repl *r = req->data;
	/* The read point: everything committed before this barrier is applied
	 * here now; readers need the state-changing entries up to it, not the
	 * barrier entry itself (a follower would wait a heartbeat for that). */
	uint64_t index = store_applied(r->store);
	r->read_barrier_busy = false;
	r->m.barrier_rounds++;
	for (struct op *op = r->ops, *next; op != NULL; op = next) {
		next = op->next;
		if (op->state != OP_BARRIER_SENT) {
			continue;
		}
		op->busy = false;
		if (status == 0) {
			r->m.barrier_reads++;
			op_answer(op, PROTO_OK, index, NULL);
		} else {
			op_park(op);
		}
	}
	r->want_barrier_kick = true; /* next loop turn: not inside raft's callback */
}

void repl_barrier_kick(struct repl *r)
{
	if (r->read_barrier_busy || !r->leader_ready || raft_state(&r->raft) != RAFT_LEADER) {
		return;
	}
	bool any = false;
	for (struct op *op = r->ops; op != NULL; op = op->next) {
		if (op->state == OP_BARRIER_QUEUED && !op->answered) {
			op->state = OP_BARRIER_SENT;
			op->busy = true;
			any = true;
		}
	}
	if (!any) {
		return;
	}
	r->read_barrier.data = r;
	if (raft_barrier(&r->raft, &r->read_barrier, barrier_round_cb) == 0) {
		r->read_barrier_busy = true;
		return;
	}
	for (struct op *op = r->ops; op != NULL; op = op->next) {
		if (op->state == OP_BARRIER_SENT) {
			op->state = OP_PARKED;
			op->busy = false;
		}
	}
}

/* ---- on a follower ---- */

static void forward_cb(void *data, int status, const void *buf, size_t len)
{
	struct op_forward *fwd = data;
	struct op *op = fwd->op;
	free(fwd);
	if (op == NULL) {
		return; /* abandoned: the op was retried elsewhere or is gone */
	}
	op->fwd = NULL;
	struct repl *r = op->r;
	struct proto_msg m;
	op->busy = false;
	if (op->answered || r->stopping) {
		op_answer(op, PROTO_ESHUTDOWN, 0, NULL);
		return;
	}
	if (status != PROTO_OK || proto_msg_decode(buf, len, &m) != PROTO_OK || m.type != PROTO_MSG_REPLY) {
		op->unknown = op->unknown || op->kind == OP_PROPOSE; /* it may have reached the leader */
		op_park(op);
		return;
	}
	const struct proto_reply *rep = &m.u.reply;
	switch (rep->status) {
	case PROTO_OK:
		if (set_result(op, rep->result, rep->result_len) != 0) {
			proto_msg_free(&m);
			op_answer(op, PROTO_ENOMEM, 0, NULL);
			return;
		}
		op->wait_index = rep->index;
		op->state = OP_WAIT_APPLY;
		proto_msg_free(&m);
		if (raft_last_applied(&r->raft) >= op->wait_index) {
			op_answer(op, PROTO_OK, op->wait_index, NULL);
		}
		return;
	case PROTO_ENOTLEADER:
	case PROTO_ENOLEADER:
	case PROTO_ESHUTDOWN:
		proto_msg_free(&m);
		op_park(op);
		return;
	case PROTO_EUNKNOWN:
		op->unknown = true;
		proto_msg_free(&m);
		op_park(op);
		return;
	default: {
		int st = rep->status;
		proto_msg_free(&m);
		op_answer(op, st, 0, NULL);
		return;
	}
	}
}

static void forward(struct op *op, raft_id leader)
{
	struct repl *r = op->r;
	bus_client *peer = repl_peer(r, leader);
	if (peer == NULL) {
		op_park(op); /* a leader we have no address for (yet) */
		return;
	}
	uint64_t now = uv_now(r->loop);
	uint64_t left = op->deadline > now ? op->deadline - now : 1;
	unsigned timeout = (unsigned)(left < REPL_FORWARD_MAX_MS ? left : REPL_FORWARD_MAX_MS);
	struct proto_msg m = {.type = op->kind == OP_PROPOSE ? PROTO_MSG_PROPOSE : PROTO_MSG_BARRIER};
	if (op->kind == OP_PROPOSE) {
		m.u.propose.timeout_ms = timeout;
		m.u.propose.hops = op->hops + 1;
		m.u.propose.cmd = op->cmd;
		m.u.propose.cmd_len = op->cmd_len;
	} else {
		m.u.barrier.timeout_ms = timeout;
		m.u.barrier.hops = op->hops + 1;
	}
	struct proto_buf b;
	if (proto_msg_encode(&m, &b) != PROTO_OK) {
		op_answer(op, PROTO_EINTERNAL, 0, "cannot encode forward");
		return;
	}
	struct op_forward *fwd = malloc(sizeof(*fwd));
	if (fwd == NULL) {
		proto_buf_free(&b);
		op_park(op);
		return;
	}
	fwd->op = op;
	op->state = OP_FORWARDED;
	op->busy = true;
	op->fwd = fwd;
	r->m.forwarded++;
	op->fwd_leader = leader;
	if (bus_call(peer, b.data, b.len, timeout, forward_cb, fwd) != PROTO_OK) {
		free(fwd);
		op->fwd = NULL;
		op->busy = false;
		op_park(op);
	}
	proto_buf_free(&b);
}

/* ---- dispatch ---- */

static void op_dispatch(struct op *op)
{
	struct repl *r = op->r;
	if (r->stopping) {
		op_answer(op, PROTO_ESHUTDOWN, 0, NULL);
		return;
	}
	if (uv_now(r->loop) >= op->deadline) {
		op_answer(op, op->unknown ? PROTO_EUNKNOWN : PROTO_ENOLEADER, 0, NULL);
		return;
	}
	raft_id leader;
	repl_leader_name(r, &leader);
	if (repl_removed(r)) {
		op_answer(op, PROTO_EREMOVED, 0, NULL);
		return;
	}
	if (raft_state(&r->raft) == RAFT_LEADER) {
		if (op->kind == OP_PROPOSE) {
			propose_local(op);
		} else {
			op->state = OP_BARRIER_QUEUED;
			repl_barrier_kick(r);
		}
		return;
	}
	if (op->hops > 0) {
		/* Forwarded to us but we are not the leader: the sender retries. */
		op_answer(op, op->unknown ? PROTO_EUNKNOWN : leader != 0 ? PROTO_ENOTLEADER : PROTO_ENOLEADER, 0, NULL);
		return;
	}
	if (leader != 0 && leader != r->self->id) {
		forward(op, leader);
		return;
	}
	op_park(op);
}

void repl_ops_tick(struct repl *r)
{
	uint64_t now = uv_now(r->loop);
	for (struct op *op = r->ops, *next; op != NULL; op = next) {
		next = op->next;
		if (op->answered) {
			continue;
		}
		if (op->state == OP_PARKED) {
			op_dispatch(op);
		} else if (now >= op->deadline + 500) {
			/* A callback is overdue (e.g. raft_apply on a leader cut off):
			 * answer now; the op is freed when the callback fires. */
			if (op->state == OP_WAIT_APPLY) {
				op_answer(op, PROTO_OK, op->wait_index, NULL); /* committed; local apply lags */
			} else {
				op_answer(op, op->kind == OP_PROPOSE ? PROTO_EUNKNOWN : PROTO_ENOLEADER, 0, NULL);
			}
		}
	}
}

void repl_ops_leader_changed(struct repl *r, raft_id leader)
{
	for (struct op *op = r->ops; op != NULL; op = op->next) {
		if (op->state != OP_FORWARDED || op->fwd == NULL || op->fwd_leader == leader) {
			continue;
		}
		op->fwd->op = NULL; /* its reply, if any, is ignored */
		op->fwd = NULL;
		op->unknown = op->unknown || op->kind == OP_PROPOSE;
		op->busy = false;
		op->state = OP_PARKED;
	}
}

void repl_ops_applied(struct repl *r, uint64_t index)
{
	for (struct op *op = r->ops, *next; op != NULL; op = next) {
		next = op->next;
		if (op->state == OP_WAIT_APPLY && !op->answered && op->wait_index <= index) {
			op_answer(op, PROTO_OK, op->wait_index, NULL);
		}
	}
}

void repl_ops_shutdown(struct repl *r)
{
	for (struct op *op = r->ops, *next; op != NULL; op = next) {
		next = op->next;
		if (op->state == OP_FORWARDED && op->fwd != NULL) {
			op->fwd->op = NULL; /* closed bus clients fire no callbacks */
			op->fwd = NULL;
			op->busy = false;
		}
		/* Ops inside raft stay until raft_close fails their callbacks. */
		op_answer(op, op->unknown || op->state == OP_APPLYING ? PROTO_EUNKNOWN : PROTO_ESHUTDOWN, 0, NULL);
	}
}

void repl_on_request(void *data, bus_request *req, const void *buf, size_t len)
{
	struct repl *r = data;
	struct proto_msg m;
	int rv = proto_msg_decode(buf, len, &m);
	if (rv == PROTO_OK && m.type == PROTO_MSG_STATUS) {
		repl_on_removed_notice(r, req, &m.u.status);
		proto_msg_free(&m);
		return;
	}
	if (rv == PROTO_OK && m.type == PROTO_MSG_METRICS_QUERY) {
		repl_on_metrics_query(r, req);
		proto_msg_free(&m);
		return;
	}
	if (rv == PROTO_OK && m.type == PROTO_MSG_STATUS_QUERY) {
		repl_on_status_query(r, req, m.u.query_hops);
		proto_msg_free(&m);
		return;
	}
	if (rv == PROTO_OK && m.type == PROTO_MSG_MEMBER_CHANGE) {
		if (raft_state(&r->raft) == RAFT_LEADER && !r->leader_ready) {
			repl_defer_change(r, req, buf, len);
		} else {
			repl_on_member_change(r, req, &m.u.member);
		}
		proto_msg_free(&m);
		return;
	}
	if (rv != PROTO_OK || (m.type != PROTO_MSG_PROPOSE && m.type != PROTO_MSG_BARRIER)) {
		if (rv == PROTO_OK) {
			proto_msg_free(&m);
		}
		send_reply(r, req, PROTO_EINVAL, 0, "malformed request", NULL, 0);
		return;
	}
	struct op *op = calloc(1, sizeof(*op));
	if (op == NULL) {
		proto_msg_free(&m);
		send_reply(r, req, PROTO_ENOMEM, 0, NULL, NULL, 0);
		return;
	}
	op->r = r;
	op->req = req;
	op_link(r, op);
	uint32_t timeout;
	if (m.type == PROTO_MSG_PROPOSE) {
		op->kind = OP_PROPOSE;
		op->hops = m.u.propose.hops;
		timeout = m.u.propose.timeout_ms;
		struct proto_cmd cmd;
		/* Validate before it enters the log, and keep the padded bytes. */
		if (m.u.propose.cmd_len % 8 != 0 || proto_cmd_decode(m.u.propose.cmd, m.u.propose.cmd_len, &cmd) != PROTO_OK) {
			proto_msg_free(&m);
			op_answer(op, PROTO_EINVAL, 0, "malformed command");
			return;
		}
		proto_cmd_free(&cmd);
		op->cmd = malloc(m.u.propose.cmd_len);
		if (op->cmd == NULL) {
			proto_msg_free(&m);
			op_answer(op, PROTO_ENOMEM, 0, NULL);
			return;
		}
		memcpy(op->cmd, m.u.propose.cmd, m.u.propose.cmd_len);
		op->cmd_len = m.u.propose.cmd_len;
	} else {
		op->kind = OP_BARRIER;
		op->hops = m.u.barrier.hops;
		timeout = m.u.barrier.timeout_ms;
	}
	proto_msg_free(&m);
	if (timeout == 0 || timeout > r->cfg->write_timeout_ms * 4) {
		timeout = r->cfg->write_timeout_ms;
	}
	op->deadline = uv_now(r->loop) + timeout;
	op_dispatch(op);
}
