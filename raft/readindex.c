/* Linearizable reads without a log entry: the leader records its commit
 * index, asks every other voter over the bus whether it is still in the
 * leader's term, and once a majority (itself included) says yes and that
 * index is applied here, answers the round's reads at it (Raft thesis 6.4,
 * "ReadIndex"; what etcd does). No disk write, where a barrier entry costs
 * an fsync on a majority.
 *
 * Why a "yes" suffices: a voter answers after the reads arrived, and terms
 * only grow. A newer leader that committed anything before the reads arrived
 * was elected by a majority already in a higher term then; that majority
 * meets ours in a voter that would have said no.
 *
 * The leader's commit index is only complete once an entry of its own term
 * is committed; rounds start only after leader_ready (that barrier applied).
 * Any failure (a voter says no, is unreachable, or runs an older shiplog
 * without this message) ends the round and its reads fall back to a barrier
 * entry, so the result never depends on this path. */
#include <stdlib.h>

#include "raft/internal.h"

struct read_confirm {
	struct repl *r;     /* NULL once the round ended: late answers only free it */
	uint64_t term;
	uint64_t commit;    /* the read point: the commit index when the round started */
	uint64_t deadline;  /* uv_now ms: a voter slower than this is no use to the round */
	unsigned acks, needed, pending;
	bool confirmed;     /* a majority said yes; waiting for commit to be applied */
};

static void confirm_free_if_done(struct read_confirm *c)
{
	if (c->r == NULL && c->pending == 0) {
		free(c);
	}
}

/* Ends the round: answers its reads (ok) or sends them through the log. */
static void confirm_end(struct read_confirm *c, bool ok)
{
	struct repl *r = c->r;
	r->reads.confirm = NULL;
	c->r = NULL;
	if (ok) {
		repl_reads_answer(r, true);
	} else {
		r->reads.busy = false;
		if (raft_state(&r->raft) == RAFT_LEADER && r->raft.current_term == c->term && !r->stopping) {
			repl_barrier_log_round(r);
		} else {
			repl_reads_answer(r, false); /* parked: retried at whoever leads now */
		}
	}
	confirm_free_if_done(c);
}

void repl_read_confirm_check(struct repl *r)
{
	struct read_confirm *c = r->reads.confirm;
	if (c == NULL) {
		return;
	}
	if (!c->confirmed) {
		if (uv_now(r->loop) > c->deadline) {
			confirm_end(c, false); /* the answers still due free it (a closed client answers PROTO_ESHUTDOWN) */
		}
		return;
	}
	if (raft_state(&r->raft) != RAFT_LEADER || r->raft.current_term != c->term) {
		confirm_end(c, false);
	} else if (raft_last_applied(&r->raft) >= c->commit) {
		confirm_end(c, true);
	}
}

static void confirm_cb(void *data, int status, const void *buf, size_t len)
{
	struct read_confirm *c = data;
	struct proto_msg m;
	c->pending--;
	if (c->r == NULL || c->r->stopping) {
		if (c->r != NULL) {
			confirm_end(c, false);
		} else {
			confirm_free_if_done(c);
		}
		return;
	}
	bool yes = status == PROTO_OK && proto_msg_decode(buf, len, &m) == PROTO_OK;
	if (yes) {
		yes = m.type == PROTO_MSG_REPLY && m.u.reply.status == PROTO_OK;
		proto_msg_free(&m);
	}
	c->acks += yes;
	if (c->acks >= c->needed && !c->confirmed) {
		c->confirmed = true;
		repl_read_confirm_check(c->r);
	} else if (!c->confirmed && c->acks + c->pending < c->needed) {
		confirm_end(c, false);
	}
}

bool repl_read_confirm_start(struct repl *r)
{
	const struct raft_configuration *conf = &r->raft.configuration;
	struct read_confirm *c = calloc(1, sizeof(*c));
	unsigned voters = 0;
	bool self_voter = false;
	if (c == NULL) {
		return false;
	}
	c->term = r->raft.current_term;
	c->commit = r->raft.commit_index;
	for (unsigned i = 0; i < conf->n; i++) {
		if (conf->servers[i].role == RAFT_VOTER) {
			voters++;
			self_voter = self_voter || conf->servers[i].id == r->self->id;
		}
	}
	if (!self_voter) {
		free(c);
		return false;
	}
	c->needed = voters / 2 + 1;
	c->acks = 1;
	c->r = r;
	r->reads.confirm = c;
	struct proto_msg m = {.type = PROTO_MSG_LEADER_CONFIRM};
	struct proto_buf b;
	m.u.confirm.term = c->term;
	m.u.confirm.leader_id = r->self->id;
	if (proto_msg_encode(&m, &b) != PROTO_OK) {
		r->reads.confirm = NULL;
		free(c);
		return false;
	}
	/* An answer slower than an election is no use: the round falls back. */
	unsigned timeout = r->cfg->election_timeout_ms;
	c->deadline = uv_now(r->loop) + 2 * (uint64_t)timeout;
	for (unsigned i = 0; i < conf->n; i++) {
		const struct raft_server *s = &conf->servers[i];
		bus_client *peer = s->role == RAFT_VOTER && s->id != r->self->id ? repl_peer(r, s->id) : NULL;
		if (peer != NULL) {
			c->pending++;
			if (bus_call(peer, b.data, b.len, timeout, confirm_cb, c) != PROTO_OK) {
				c->pending--;
			}
		}
	}
	proto_buf_free(&b);
	if (c->acks >= c->needed) { /* a single voter */
		c->confirmed = true;
		repl_read_confirm_check(r);
	} else if (c->acks + c->pending < c->needed) {
		r->reads.confirm = NULL;
		c->r = NULL;
		confirm_free_if_done(c); /* answers still due free it when they come */
		return false;
	}
	return true;
}

void repl_on_leader_confirm(struct repl *r, bus_request *req, const struct proto_leader_confirm *c)
{
	/* Only the term matters: one leader per term, and a voter in a later
	 * term must say no. */
	bool yes = r->raft.current_term == c->term && raft_state(&r->raft) != RAFT_LEADER;
	repl_send_reply(r, req, yes ? PROTO_OK : PROTO_ENOTLEADER, 0, NULL, NULL, 0);
}
