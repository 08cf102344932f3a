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
 * UNKNOWN_OUTCOME if some attempt might have been applied.
 *
 * An op's life (states, answer, result) is in ops.c, the follower's side in
 * forward.c; this file proposes on the leader, runs read rounds, and
 * dispatches a loop turn's queued ops. */
#include <stdlib.h>
#include <string.h>

#include "raft/internal.h"
#include "lib/assert.h"

static void op_dispatch(struct op *op);

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
	if (r->nudge_busy || r->reads.busy || raft_state(&r->raft) != RAFT_LEADER) {
		return;
	}
	r->nudge.data = r;
	if (raft_barrier(&r->raft, &r->nudge, nudge_cb) == 0) {
		r->nudge_busy = true;
	}
}

/* One raft_apply: the ops whose commands make up one entry. */
struct entry {
	struct raft_apply apply;
	uint64_t proposed_ns; /* uv_hrtime when raft_apply was called */
	uint32_t n_ops;
	struct op *ops[];
};

static void apply_cb(struct raft_apply *req, int status, void *result)
{
	struct entry *e = req->data;
	for (uint32_t i = 0; i < e->n_ops; i++) {
		struct op *op = e->ops[i];
		op->busy = false;
		if (op->answered) {
			repl_op_free(op);
			continue;
		}
		if (status != 0) {
			/* Leadership lost or shutdown: the entry may still commit later. */
			op->unknown = true;
			repl_op_park(op);
			continue;
		}
		const struct repl_results *rs = result;
		metrics_observe(&op->r->m.apply_seconds, (double)(uv_hrtime() - e->proposed_ns) / 1e9);
		if (repl_op_take_result(op, rs) != 0) {
			repl_op_answer(op, PROTO_EUNKNOWN, 0, NULL); /* applied, but its result is lost: never "failed" */
			continue;
		}
		if (op->hops > 0) {
			op->r->want_nudge = true; /* next loop turn: not inside raft's callback */
		}
		/* The entry's index, not the first command's (a replay's is older):
		 * a forwarding follower waits for it before answering. */
		repl_op_answer(op, PROTO_OK, rs->index, NULL);
	}
	free(e);
}

#define ENTRY_MAX_BYTES (4u << 20) /* a turn's proposals beyond this wait for the next entry */

/* Proposes ops[0..n) as one entry: an op's own bytes when it is alone,
 * otherwise a batch of every command. */
static void propose_entry(struct repl *r, struct op **ops, uint32_t n)
{
	struct raft_buffer buf = {0};
	struct entry *e = malloc(sizeof(*e) + n * sizeof(e->ops[0]));
	struct cmd_list l = {0};
	int ok = e != NULL;
	if (ok && n == 1) {
		ops[0]->first = 0;
		buf.len = ops[0]->cmd_len; /* already padded to 8 bytes by the encoder */
		ok = (buf.base = raft_malloc(buf.len)) != NULL;
		if (ok) {
			memcpy(buf.base, ops[0]->cmd, buf.len);
		}
	} else if (ok) {
		for (uint32_t i = 0; i < n && ok; i++) {
			ops[i]->first = l.n;
			ok = cmd_list_add_op(&l, ops[i], n) == 0;
		}
		struct proto_buf b = {0};
		ok = ok && proto_batch_encode(l.v, l.n, &b) == PROTO_OK;
		if (ok && (buf.base = raft_malloc(b.len)) != NULL) {
			memcpy(buf.base, b.data, b.len);
			buf.len = b.len;
		} else {
			ok = 0;
		}
		proto_buf_free(&b);
	}
	cmd_list_free(&l);
	size_t raw = buf.len;
	size_t zlen = ok ? entryzip_pack(buf.base, buf.len, &r->zpack) : 0;
	void *zbuf = zlen > 0 ? raft_malloc(zlen) : NULL; /* sized to fit: raft holds it until a snapshot */
	if (zbuf != NULL) {
		memcpy(zbuf, r->zpack.p, zlen);
		raft_free(buf.base);
		buf.base = zbuf;
		buf.len = zlen;
	}
	int rv = ok ? 0 : RAFT_NOMEM;
	if (ok) {
		e->apply.data = e;
		e->n_ops = n;
		e->proposed_ns = uv_hrtime();
		for (uint32_t i = 0; i < n; i++) {
			e->ops[i] = ops[i];
			repl_op_move(ops[i], OP_APPLYING);
			ops[i]->busy = true;
			r->m.proposals += ops[i]->n_cmds;
		}
		r->m.entries_proposed++;
		r->m.entry_bytes_raw += raw;
		r->m.entry_bytes += buf.len;
		rv = raft_apply(&r->raft, &e->apply, &buf, 1, apply_cb);
	}
	if (rv != 0) {
		if (buf.base != NULL) {
			raft_free(buf.base);
		}
		free(e);
		for (uint32_t i = 0; i < n; i++) {
			ops[i]->busy = false;
			repl_op_park(ops[i]); /* RAFT_NOTLEADER and friends: nothing was appended */
		}
	}
}

void repl_reads_answer(struct repl *r, bool ok)
{
	/* The read point: everything committed before the round started is
	 * applied here now; readers need the state-changing entries up to it,
	 * not a barrier entry (a follower would wait a heartbeat for that). */
	uint64_t index = store_applied(r->store);
	r->reads.busy = false;
	r->m.barrier_rounds++;
	struct queue *e, *next;
	QUEUE_FOREACH_SAFE(e, next, &r->ops) {
		struct op *op = QUEUE_DATA(e, struct op, link);
		if (op->state != OP_BARRIER_SENT) {
			continue;
		}
		op->busy = false;
		if (ok) {
			r->m.barrier_reads++;
			repl_op_answer(op, PROTO_OK, index, NULL);
		} else {
			repl_op_park(op);
		}
	}
	r->want_barrier_kick = true; /* next loop turn: not inside a callback */
}

static void barrier_round_cb(struct raft_barrier *req, int status)
{
	repl_reads_answer(req->data, status == 0);
}

/* The log round: when a voter cannot confirm the term (an older node, or one
 * unreachable), a barrier entry proves leadership the slow way. */
void repl_barrier_log_round(struct repl *r)
{
	r->reads.barrier.data = r;
	r->m.barrier_log_rounds++;
	if (raft_barrier(&r->raft, &r->reads.barrier, barrier_round_cb) == 0) {
		r->reads.busy = true;
		return;
	}
	struct queue *e;
	QUEUE_FOREACH(e, &r->ops) {
		struct op *op = QUEUE_DATA(e, struct op, link);
		if (op->state == OP_BARRIER_SENT) {
			repl_op_move(op, OP_PARKED);
			op->busy = false;
		}
	}
}

void repl_barrier_kick(struct repl *r)
{
	if (r->reads.busy || !r->leader_ready || raft_state(&r->raft) != RAFT_LEADER) {
		return;
	}
	bool any = false;
	struct queue *e;
	QUEUE_FOREACH(e, &r->ops) {
		struct op *op = QUEUE_DATA(e, struct op, link);
		if (op->state == OP_BARRIER_QUEUED && !op->answered) {
			repl_op_move(op, OP_BARRIER_SENT);
			op->busy = true;
			any = true;
		}
	}
	if (!any) {
		return;
	}
	r->reads.busy = true;
	if (!repl_read_confirm_start(r)) {
		r->reads.busy = false;
		repl_barrier_log_round(r);
	}
}

/* ---- a loop turn's queued work ---- */

#define FLUSH_MAX_OPS 1024 /* ops taken per flush; the rest go at the next turn */

/* The ops in state st, oldest first (r->ops is newest first). */
static uint32_t collect(struct repl *r, enum op_state st, enum op_kind kind, struct op **out, uint32_t max)
{
	uint32_t n = 0;
	struct queue *e;
	QUEUE_FOREACH(e, &r->ops) {
		struct op *op = QUEUE_DATA(e, struct op, link);
		if (op->state == st && op->kind == kind && !op->answered) {
			if (n == max) {
				r->want_flush = true;
				memmove(out, out + 1, (max - 1) * sizeof(*out)); /* keep the oldest */
				n--;
			}
			out[n++] = op;
		}
	}
	for (uint32_t i = 0; i < n / 2; i++) {
		struct op *t = out[i];
		out[i] = out[n - 1 - i];
		out[n - 1 - i] = t;
	}
	return n;
}

typedef void (*group_fn)(struct repl *r, struct op **ops, uint32_t n, raft_id leader);

/* Calls send on consecutive groups of ops[0..n) that each stay within one
 * batch: at most PROTO_MAX_BATCH commands and about ENTRY_MAX_BYTES. */
static void send_groups(struct repl *r, struct op **ops, uint32_t n, group_fn send, raft_id leader)
{
	uint32_t start = 0, cmds = 0;
	size_t bytes = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t c = ops[i]->n_cmds > 0 ? ops[i]->n_cmds : 1;
		if (i > start && (bytes + ops[i]->cmd_len > ENTRY_MAX_BYTES || cmds + c > PROTO_MAX_BATCH)) {
			send(r, ops + start, i - start, leader);
			start = i;
			bytes = cmds = 0;
		}
		bytes += ops[i]->cmd_len;
		cmds += c;
	}
	if (n > start) {
		send(r, ops + start, n - start, leader);
	}
}

static void propose_group(struct repl *r, struct op **ops, uint32_t n, raft_id leader)
{
	(void)leader;
	propose_entry(r, ops, n);
}

void repl_ops_flush(struct repl *r)
{
	static struct op *ops[FLUSH_MAX_OPS]; /* only the raft actor's thread flushes */
	uint32_t n = collect(r, OP_APPLY_QUEUED, OP_PROPOSE, ops, FLUSH_MAX_OPS);
	if (n > 0 && raft_state(&r->raft) != RAFT_LEADER) {
		for (uint32_t i = 0; i < n; i++) {
			op_dispatch(ops[i]); /* leadership moved on: forward them instead */
		}
	} else {
		send_groups(r, ops, n, propose_group, 0);
	}
	raft_id leader;
	repl_leader_name(r, &leader);
	for (int kind = OP_PROPOSE; kind <= OP_BARRIER; kind++) {
		n = collect(r, OP_FORWARD_QUEUED, (enum op_kind)kind, ops, FLUSH_MAX_OPS);
		if (n > 0 && (leader == 0 || leader == r->self->id)) {
			for (uint32_t i = 0; i < n; i++) {
				repl_op_park(ops[i]);
			}
		} else {
			send_groups(r, ops, n, repl_forward_group, leader);
		}
	}
}

/* ---- dispatch ---- */

static void op_dispatch(struct op *op)
{
	struct repl *r = op->r;
	if (r->stopping) {
		repl_op_answer(op, PROTO_ESHUTDOWN, 0, NULL);
		return;
	}
	if (uv_now(r->loop) >= op->deadline) {
		repl_op_answer(op, op->unknown ? PROTO_EUNKNOWN : PROTO_ENOLEADER, 0, NULL);
		return;
	}
	raft_id leader;
	repl_leader_name(r, &leader);
	if (repl_removed(r)) {
		repl_op_answer(op, PROTO_EREMOVED, 0, NULL);
		return;
	}
	if (raft_state(&r->raft) == RAFT_LEADER) {
		if (op->kind == OP_PROPOSE) {
			repl_op_move(op, OP_APPLY_QUEUED); /* proposed with this turn's others */
			r->want_flush = true;
		} else {
			repl_op_move(op, OP_BARRIER_QUEUED);
			repl_barrier_kick(r);
		}
		return;
	}
	if (op->hops > 0) {
		/* Forwarded to us but we are not the leader: the sender retries. */
		repl_op_answer(op, op->unknown ? PROTO_EUNKNOWN : leader != 0 ? PROTO_ENOTLEADER : PROTO_ENOLEADER, 0, NULL);
		return;
	}
	if (leader != 0 && leader != r->self->id) {
		repl_op_move(op, OP_FORWARD_QUEUED); /* sent with this turn's others */
		r->want_flush = true;
		return;
	}
	repl_op_park(op);
}

void repl_ops_tick(struct repl *r)
{
	uint64_t now = uv_now(r->loop);
	struct queue *e, *next;
	QUEUE_FOREACH_SAFE(e, next, &r->ops) {
		struct op *op = QUEUE_DATA(e, struct op, link);
		if (op->answered) {
			continue;
		}
		if (op->state == OP_PARKED) {
			op_dispatch(op);
		} else if (now >= op->deadline + 500) {
			/* A callback is overdue (e.g. raft_apply on a leader cut off):
			 * answer now; the op is freed when the callback fires. */
			if (op->state == OP_WAIT_APPLY) {
				repl_op_answer(op, PROTO_OK, op->wait_index, NULL); /* committed; local apply lags */
			} else {
				repl_op_answer(op, op->kind == OP_PROPOSE ? PROTO_EUNKNOWN : PROTO_ENOLEADER, 0, NULL);
			}
		}
	}
}

void repl_ops_leader_changed(struct repl *r, raft_id leader)
{
	struct queue *e, *next;
	QUEUE_FOREACH_SAFE(e, next, &r->ops) {
		struct op *op = QUEUE_DATA(e, struct op, link);
		if (op->state == OP_BARRIER_QUEUED && !op->answered && raft_state(&r->raft) != RAFT_LEADER) {
			repl_op_move(op, OP_PARKED); /* a read queued on a leader that stepped down: send it to the new one */
			continue;
		}
		if (op->state != OP_FORWARDED || op->fwd == NULL || op->fwd_leader == leader) {
			continue;
		}
		op->fwd->ops[op->fwd_slot] = NULL; /* its reply, if any, is ignored */
		op->fwd = NULL;
		op->unknown = op->unknown || op->kind == OP_PROPOSE;
		repl_op_park(op); /* frees it if it was answered meanwhile */
	}
}

void repl_ops_applied(struct repl *r, uint64_t index)
{
	struct queue *e, *next;
	QUEUE_FOREACH_SAFE(e, next, &r->ops) {
		struct op *op = QUEUE_DATA(e, struct op, link);
		if (op->state == OP_WAIT_APPLY && !op->answered && op->wait_index <= index) {
			repl_op_answer_applied(op);
		}
	}
}

void repl_ops_shutdown(struct repl *r)
{
	struct queue *e, *next;
	QUEUE_FOREACH_SAFE(e, next, &r->ops) {
		struct op *op = QUEUE_DATA(e, struct op, link);
		if (op->state == OP_FORWARDED && op->fwd != NULL) {
			op->fwd->ops[op->fwd_slot] = NULL; /* the peer's close runs forward_cb: nothing left for it */
			op->fwd = NULL;
			op->busy = false;
		}
		/* Ops inside raft stay until raft_close fails their callbacks. */
		repl_op_answer(op, op->unknown || op->state == OP_APPLYING ? PROTO_EUNKNOWN : PROTO_ESHUTDOWN, 0, NULL);
	}
}

/* Commands of the raft actor itself (members, alerts, autopilot): an op
 * without a requester, proposed with the turn's others by repl_ops_flush,
 * so never from inside a raft callback. */
int repl_propose_internal(struct repl *r, struct proto_cmd *cmd)
{
	if (r->stopping) {
		return PROTO_ESHUTDOWN; /* no flush would propose it */
	}
	if (raft_state(&r->raft) != RAFT_LEADER) {
		return PROTO_ENOTLEADER;
	}
	struct proto_buf b;
	int rv = proto_cmd_encode(cmd, &b);
	if (rv != PROTO_OK) {
		return rv;
	}
	struct op *op = calloc(1, sizeof(*op));
	if (op == NULL) {
		proto_buf_free(&b);
		return PROTO_ENOMEM;
	}
	op->r = r;
	op->kind = OP_PROPOSE;
	op->cmd = b.data;
	op->cmd_len = b.len;
	op->n_cmds = 1;
	op->deadline = uv_now(r->loop) + r->cfg->write_timeout_ms;
	repl_op_link(r, op);
	repl_op_move(op, OP_APPLY_QUEUED);
	r->want_flush = true;
	return PROTO_OK;
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
	if (rv == PROTO_OK && m.type == PROTO_MSG_LEADER_CONFIRM) {
		repl_on_leader_confirm(r, req, &m.u.confirm);
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
		repl_send_reply(r, req, PROTO_EINVAL, 0, "malformed request", NULL, 0);
		return;
	}
	struct op *op = calloc(1, sizeof(*op));
	if (op == NULL) {
		proto_msg_free(&m);
		repl_send_reply(r, req, PROTO_ENOMEM, 0, NULL, NULL, 0);
		return;
	}
	op->r = r;
	op->req = req;
	repl_op_link(r, op);
	uint32_t timeout;
	if (m.type == PROTO_MSG_PROPOSE) {
		op->kind = OP_PROPOSE;
		op->hops = m.u.propose.hops;
		timeout = m.u.propose.timeout_ms;
		/* Validate before it enters the log, and keep the padded bytes. */
		if (m.u.propose.cmd_len % 8 != 0 || repl_cmds_validate(m.u.propose.cmd, m.u.propose.cmd_len, &op->n_cmds, &op->multi) != PROTO_OK) {
			proto_msg_free(&m);
			repl_op_answer(op, PROTO_EINVAL, 0, "malformed command");
			return;
		}
		op->cmd = malloc(m.u.propose.cmd_len);
		if (op->cmd == NULL) {
			proto_msg_free(&m);
			repl_op_answer(op, PROTO_ENOMEM, 0, NULL);
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
