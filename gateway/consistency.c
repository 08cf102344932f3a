/* Consistency levels (DESIGN.md "Reads"): stale reads from the local store,
 * linearizable reads after a shared quorum round at the leader, blocking
 * reads until an index is applied here, and writes proposed through the raft
 * actor and answered after commit and local apply. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"
#include "lib/secret.h"

struct gw_pending {
	struct gw_req *gr; /* NULL once the HTTP request is gone */
	gw_write_cb done;  /* writes */
	bool any;          /* done answers refusals too (gw_propose_any) */
	bool barrier;      /* linearizable read */
};

static struct gw_pending *pending_new(struct gw_req *gr)
{
	struct gw_pending *p = calloc(1, sizeof(*p));
	if (p != NULL) {
		p->gr = gr;
		gr->pending = p;
	}
	return p;
}

/* Takes the request back from a finished bus call; NULL if it is gone. */
static struct gw_req *pending_take(struct gw_pending *p)
{
	struct gw_req *gr = p->gr;
	if (gr != NULL) {
		gr->pending = NULL;
	}
	free(p);
	return gr;
}

struct gw_pending_call *gw_pending_call_new(struct gw_req *gr)
{
	return (struct gw_pending_call *)pending_new(gr);
}

struct gw_req *gw_pending_call_take(struct gw_pending_call *pc)
{
	return pending_take((struct gw_pending *)pc);
}

int gw_raft_call(struct gw_req *gr, const struct proto_msg *m, unsigned timeout_ms, bus_reply_cb cb)
{
	if (gr->gw->stopping) {
		return PROTO_ESHUTDOWN; /* its bus client is closed: a keep-alive request during the stop */
	}
	struct proto_buf b;
	struct gw_pending *p = pending_new(gr);
	if (p == NULL || proto_msg_encode(m, &b) != PROTO_OK) {
		if (p != NULL) {
			pending_take(p);
		}
		return PROTO_ENOMEM;
	}
	int rv = bus_call(gr->gw->raft, b.data, b.len, timeout_ms, cb, p);
	proto_buf_free(&b);
	if (rv != PROTO_OK) {
		pending_take(p);
	}
	return rv;
}

void gw_pending_detach(struct gw_req *gr)
{
	if (gr->pending != NULL) {
		gr->pending->gr = NULL;
		gr->pending = NULL;
	}
	gw_waiters_remove(gr->gw, gr);
}

/* Runs the read; a user's session is checked again first, since the wait
 * may have let its logout apply here. */
void gw_read_run(struct gw_req *gr)
{
	if (gr->auth.cred == GW_CRED_JWT && gr->wait_index > 0 && gw_auth_session_check(gr->gw, gr, &gr->auth) != 0) {
		gw_respond_error(gr, 401, "UNAUTHORIZED", "%s", gr->auth.why);
		return;
	}
	gr->read(gr);
}

static void run_or_wait(struct gw_req *gr)
{
	struct gw *g = gr->gw;
	if (gr->wait_index <= g->status.applied || uv_now(g->loop) >= gr->wait_deadline) {
		gw_read_run(gr);
		return;
	}
	/* The status may lag the store by an apply: check the store itself. */
	struct store_read *rd;
	if (store_read_begin(g->store, &rd) == PROTO_OK) {
		uint64_t applied = store_read_index(rd);
		store_read_end(rd);
		if (applied >= gr->wait_index) {
			gw_read_run(gr);
			return;
		}
	}
	if (!gw_waiters_park(g, gr)) {
		g->m.refused[GW_LIMIT_WAITS]++;
		gw_add_header(gr, "retry-after", "1");
		gw_respond_error(gr, 503, "OVERLOADED", "%u requests already wait on this node ([api] max_waiting)",
		                 g->cfg->max_waiting);
	}
}

static void on_barrier_reply(void *data, int status, const struct proto_reply *rep, const struct proto_result *res)
{
	struct gw_req *gr = pending_take(data);
	(void)res;
	if (gr == NULL || gr->req == NULL) {
		return;
	}
	if (status != PROTO_OK) {
		gw_respond_status(gr, PROTO_ENOLEADER, NULL);
		return;
	}
	if (rep->status != PROTO_OK) {
		gw_respond_status(gr, rep->status == PROTO_EUNKNOWN ? PROTO_ENOLEADER : rep->status, NULL);
		return;
	}
	if (rep->index > gr->wait_index) {
		gr->wait_index = rep->index;
	}
	/* The read point must be reached, however long ?wait= says. */
	gr->wait_deadline = UINT64_MAX;
	run_or_wait(gr);
}

void gw_read(struct gw_req *gr, gw_read_fn fn)
{
	struct gw *g = gr->gw;
	const char *consistency = gw_query(gr, "consistency");
	const char *index = gw_query(gr, "index");
	const char *wait = gw_query(gr, "wait");
	bool linearizable = false;
	gr->read = fn;
	if (consistency != NULL && strcmp(consistency, "stale") != 0 && strcmp(consistency, "default") != 0) {
		if (strcmp(consistency, "linearizable") != 0) {
			gw_respond_error(gr, 400, "VALIDATION_ERROR", "consistency must be stale or linearizable");
			return;
		}
		linearizable = true;
	}
	long long wait_ms = 5000;
	if (wait != NULL) {
		wait_ms = cfg_parse_duration_ms(wait, 1000);
		if (wait_ms < 0 || wait_ms > GW_WAIT_MAX_MS) {
			gw_respond_error(gr, 400, "VALIDATION_ERROR", "wait must be a duration such as 500ms or 5s, at most 300s");
			return;
		}
	}
	if (index != NULL) {
		char *end;
		if (index[0] < '0' || index[0] > '9') {
			gw_respond_error(gr, 400, "VALIDATION_ERROR", "index must be a non-negative integer");
			return;
		}
		gr->wait_index = strtoull(index, &end, 10);
		if (*end != '\0') {
			gw_respond_error(gr, 400, "VALIDATION_ERROR", "index must be a non-negative integer");
			return;
		}
	}
	gr->wait_deadline = uv_now(g->loop) + (uint64_t)wait_ms;
	if (!linearizable) {
		run_or_wait(gr);
		return;
	}
	struct gw_pending *p = pending_new(gr);
	int rv = p != NULL ? gw_outbox_barrier(g, on_barrier_reply, p) : PROTO_ENOMEM;
	if (rv != PROTO_OK) {
		if (p != NULL) {
			pending_take(p);
		}
		gw_respond_status(gr, rv, NULL);
	}
}

static void on_propose_reply(void *data, int status, const struct proto_reply *rep, const struct proto_result *res)
{
	gw_write_cb done = ((struct gw_pending *)data)->done;
	bool any = ((struct gw_pending *)data)->any;
	struct gw_req *gr = pending_take(data);
	if (gr == NULL || gr->req == NULL) {
		return;
	}
	if (status != PROTO_OK) {
		gw_respond_status(gr, PROTO_EUNKNOWN, NULL);
	} else if (rep->status != PROTO_OK) {
		gw_respond_status(gr, rep->status, rep->message);
	} else {
		gr->index = rep->index;
		if (res->code == PROTO_ECONFLICT && res->replay == 2) {
			gw_respond_error(gr, 422, "IDEMPOTENCY_KEY_REUSED",
			                 "this Idempotency-Key was used for a different request (method, path or body)");
		} else if (res->code != PROTO_OK && !any) {
			gw_respond_status(gr, res->code, "the command was refused by the state machine");
		} else {
			if (res->replay) {
				gr->index = res->index; /* the index the first attempt applied at */
			}
			done(gr, res);
		}
	}
}

/* A client's Idempotency-Key v as commands carry it: scoped to the
 * credential ("k2:" + a hash of its actor) and bound to the request (an
 * HMAC of method, path and body under the cluster's secret, after "#"). The state machine answers the same
 * key with another request of the same credential with ECONFLICT, replay 2
 * (store/apply.c), which is a 422 here. */
static bool idem_key(struct gw_req *gr, h2o_iovec_t v, char *key, size_t cap)
{
	h2o_req_t *req = gr->req;
	char who[65], what[65];
	secret_sha256_hex(gr->auth.actor, strlen(gr->auth.actor), who);
	size_t n = req->method.len + 1 + req->path.len + 1 + req->entity.len;
	char *buf = malloc(n + 1);
	if (buf == NULL) {
		gw_respond_status(gr, PROTO_ENOMEM, NULL);
		return false;
	}
	snprintf(buf, n + 1, "%.*s %.*s\n", (int)req->method.len, req->method.base, (int)req->path.len, req->path.base);
	size_t head = strlen(buf);
	if (req->entity.len > 0) {
		memcpy(buf + head, req->entity.base, req->entity.len);
	}
	/* keyed when the cluster has a secret, since bodies may hold passwords
	 * and the key is kept in the log: a plain hash would be a fast oracle */
	if (gr->gw->have_secret_key) {
		secret_hmac_sha256_hex(gr->gw->secret_key, sizeof(gr->gw->secret_key), buf, head + req->entity.len, what);
	} else {
		secret_sha256_hex(buf, head, what); /* method and path only */
	}
	secret_wipe(buf, n);
	free(buf);
	snprintf(key, cap, "k2:%.16s:%.*s#%.16s", who, (int)v.len, v.base, what);
	if (!proto_valid_text(key, cap)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "Idempotency-Key must be printable");
		return false;
	}
	return true;
}

static void propose(struct gw_req *gr, struct proto_cmd *cmd, gw_write_cb done, bool any)
{
	struct gw *g = gr->gw;
	char key[256];
	ssize_t i = h2o_find_header_by_str(&gr->req->headers, H2O_STRLIT("idempotency-key"), -1);
	if (i >= 0) {
		h2o_iovec_t v = gr->req->headers.entries[i].value;
		if (v.len == 0 || v.len > 128) {
			gw_respond_error(gr, 400, "VALIDATION_ERROR", "Idempotency-Key must be 1 to 128 characters");
			return;
		}
		if (!idem_key(gr, v, key, sizeof(key))) {
			return;
		}
	} else {
		/* Every write gets a key, so the raft actor may retry it safely. */
		snprintf(key, sizeof(key), "auto:%s:%" PRIx64 ":%" PRIx64 ":%08x", g->self->name, (uint64_t)wall_now_ms(),
		         ++g->request_seq, (unsigned)rand());
	}
	cmd->idem_key = key;
	cmd->ts_ms = wall_now_ms();
	if (cmd->origin.actor == NULL) {
		gw_origin(gr, &cmd->origin);
	}
	struct proto_buf cb;
	int rv = proto_cmd_encode(cmd, &cb);
	if (rv != PROTO_OK) {
		gw_respond_status(gr, rv, "the request does not fit a command");
		return;
	}
	struct gw_pending *p = pending_new(gr);
	if (p != NULL) {
		p->done = done;
		p->any = any;
	}
	rv = p != NULL ? gw_outbox_propose(g, &cb, on_propose_reply, p) : PROTO_ENOMEM;
	if (rv != PROTO_OK) {
		if (p != NULL) {
			pending_take(p);
		}
		gw_respond_status(gr, rv, NULL);
	}
	proto_buf_free(&cb);
}

bool gw_refuse_replay(struct gw_req *gr, const struct proto_result *res)
{
	if (res->replay == 0) {
		return false;
	}
	gw_respond_error(gr, 409, "CONFLICT",
	                 "this Idempotency-Key made credentials before; they are shown only once: send a new request");
	return true;
}

void gw_propose(struct gw_req *gr, struct proto_cmd *cmd, gw_write_cb done)
{
	propose(gr, cmd, done, false);
}

void gw_propose_any(struct gw_req *gr, struct proto_cmd *cmd, gw_write_cb done)
{
	propose(gr, cmd, done, true);
}
