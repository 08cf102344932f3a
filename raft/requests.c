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
#include "lib/assert.h"

static void op_dispatch(struct op *op);

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
static void op_move(struct op *op, enum op_state to)
{
	if ((op_moves[op->state] & OP_BIT(to)) == 0) {
		PANIC("request %p: %s -> %s is not a move", (void *)op, op_state_names[op->state], op_state_names[to]);
	}
	op->state = to;
}

static void op_link(struct repl *r, struct op *op)
{
	queue_insert_head(&r->ops, &op->link);
}

static void op_free(struct op *op)
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
static void op_answer(struct op *op, int status, uint64_t index, const char *message)
{
	if (!op->answered) {
		op->answered = true;
		if (op->req != NULL) {
			repl_send_reply(op->r, op->req, status, index, message, op->result, op->result_len);
			op->req = NULL;
		}
	}
	if (!op->busy) {
		op_free(op);
	}
}

static void op_park(struct op *op)
{
	op_move(op, OP_PARKED);
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

/* Sets op's result from its commands' results in the entry. */
static int take_result(struct op *op, const struct repl_results *rs)
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
	rv = set_result(op, b.data, b.len);
	proto_buf_free(&b);
	return rv;
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
	struct entry *e = req->data;
	for (uint32_t i = 0; i < e->n_ops; i++) {
		struct op *op = e->ops[i];
		op->busy = false;
		if (op->answered) {
			op_free(op);
			continue;
		}
		if (status != 0) {
			/* Leadership lost or shutdown: the entry may still commit later. */
			op->unknown = true;
			op_park(op);
			continue;
		}
		const struct repl_results *rs = result;
		metrics_observe(&op->r->m.apply_seconds, (double)(uv_hrtime() - e->proposed_ns) / 1e9);
		if (take_result(op, rs) != 0) {
			op_answer(op, PROTO_EUNKNOWN, 0, NULL); /* applied, but its result is lost: never "failed" */
			continue;
		}
		if (op->hops > 0) {
			op->r->want_nudge = true; /* next loop turn: not inside raft's callback */
		}
		/* The entry's index, not the first command's (a replay's is older):
		 * a forwarding follower waits for it before answering. */
		op_answer(op, PROTO_OK, rs->index, NULL);
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
			op_move(ops[i], OP_APPLYING);
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
			op_park(ops[i]); /* RAFT_NOTLEADER and friends: nothing was appended */
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
			op_answer(op, PROTO_OK, index, NULL);
		} else {
			op_park(op);
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
			op_move(op, OP_PARKED);
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
			op_move(op, OP_BARRIER_SENT);
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

/* ---- on a follower ---- */

/* A forwarded write the leader answered is now applied here too. */
static void answer_applied(struct op *op)
{
	metrics_observe(&op->r->m.forward_apply_wait_seconds, (double)(uv_hrtime() - op->wait_since_ns) / 1e9);
	op_answer(op, PROTO_OK, op->wait_index, NULL);
}

/* The leader's answer for one forwarded op; its result is already set. */
static void forward_done(struct op *op, const struct proto_reply *rep)
{
	struct repl *r = op->r;
	switch (rep->status) {
	case PROTO_OK:
		op->wait_index = rep->index;
		op->wait_since_ns = uv_hrtime();
		op_move(op, OP_WAIT_APPLY);
		if (raft_last_applied(&r->raft) >= op->wait_index) {
			answer_applied(op);
		}
		return;
	case PROTO_ENOTLEADER:
	case PROTO_ENOLEADER:
	case PROTO_ESHUTDOWN:
		op_park(op);
		return;
	case PROTO_EUNKNOWN:
		op->unknown = true;
		op_park(op);
		return;
	default:
		op_answer(op, rep->status, 0, NULL);
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
			op_answer(op, PROTO_ESHUTDOWN, 0, NULL);
		} else if (!have) {
			op->unknown = op->unknown || op->kind == OP_PROPOSE; /* it may have reached the leader */
			op_park(op);
		} else if (m.u.reply.status == PROTO_OK &&
		           (res != NULL ? take_result(op, &rs) : set_result(op, m.u.reply.result, m.u.reply.result_len)) != 0) {
			op_answer(op, PROTO_EUNKNOWN, 0, NULL); /* applied at the leader; its result is lost here */
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
static void forward_group(struct repl *r, struct op **ops, uint32_t n, raft_id leader)
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
			op_move(ops[i], OP_FORWARDED);
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
			op_park(ops[i]); /* a leader we have no address for (yet), or no memory */
		}
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
				op_park(ops[i]);
			}
		} else {
			send_groups(r, ops, n, forward_group, leader);
		}
	}
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
			op_move(op, OP_APPLY_QUEUED); /* proposed with this turn's others */
			r->want_flush = true;
		} else {
			op_move(op, OP_BARRIER_QUEUED);
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
		op_move(op, OP_FORWARD_QUEUED); /* sent with this turn's others */
		r->want_flush = true;
		return;
	}
	op_park(op);
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
				op_answer(op, PROTO_OK, op->wait_index, NULL); /* committed; local apply lags */
			} else {
				op_answer(op, op->kind == OP_PROPOSE ? PROTO_EUNKNOWN : PROTO_ENOLEADER, 0, NULL);
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
			op_move(op, OP_PARKED); /* a read queued on a leader that stepped down: send it to the new one */
			continue;
		}
		if (op->state != OP_FORWARDED || op->fwd == NULL || op->fwd_leader == leader) {
			continue;
		}
		op->fwd->ops[op->fwd_slot] = NULL; /* its reply, if any, is ignored */
		op->fwd = NULL;
		op->unknown = op->unknown || op->kind == OP_PROPOSE;
		op_park(op); /* frees it if it was answered meanwhile */
	}
}

void repl_ops_applied(struct repl *r, uint64_t index)
{
	struct queue *e, *next;
	QUEUE_FOREACH_SAFE(e, next, &r->ops) {
		struct op *op = QUEUE_DATA(e, struct op, link);
		if (op->state == OP_WAIT_APPLY && !op->answered && op->wait_index <= index) {
			answer_applied(op);
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
		op_answer(op, op->unknown || op->state == OP_APPLYING ? PROTO_EUNKNOWN : PROTO_ESHUTDOWN, 0, NULL);
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
	op_link(r, op);
	op_move(op, OP_APPLY_QUEUED);
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
	op_link(r, op);
	uint32_t timeout;
	if (m.type == PROTO_MSG_PROPOSE) {
		op->kind = OP_PROPOSE;
		op->hops = m.u.propose.hops;
		timeout = m.u.propose.timeout_ms;
		/* Validate before it enters the log, and keep the padded bytes. */
		if (m.u.propose.cmd_len % 8 != 0 || repl_cmds_validate(m.u.propose.cmd, m.u.propose.cmd_len, &op->n_cmds, &op->multi) != PROTO_OK) {
			proto_msg_free(&m);
			op_answer(op, PROTO_EINVAL, 0, "malformed command");
			return;
		}
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
