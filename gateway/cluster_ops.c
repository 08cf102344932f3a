/* /api/v1/cluster: members, roles, leader (any node answers, with the
 * leader's view of replication), and admin membership changes: add, remove,
 * transfer leadership. The raft actor does the work; see raft/membership.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"

typedef void (*gw_msg_cb)(struct gw_req *gr, int status, const struct proto_msg *m);

/* The request may be gone when the answer comes: call.gr is cleared then
 * through the pending hook of consistency.c. */
static void on_reply(void *data, int status, const void *buf, size_t len)
{
	struct gw_pending_call *pc = data;
	struct gw_req *gr = gw_pending_call_take(pc);
	struct proto_msg m;
	if (gr == NULL || gr->req == NULL) {
		return;
	}
	gw_msg_cb done = *(gw_msg_cb *)gr->ctx;
	if (status != PROTO_OK || proto_msg_decode(buf, len, &m) != PROTO_OK) {
		done(gr, status != PROTO_OK ? status : PROTO_EINTERNAL, NULL);
		return;
	}
	done(gr, PROTO_OK, &m);
	proto_msg_free(&m);
}

static void raft_call(struct gw_req *gr, const struct proto_msg *m, unsigned timeout_ms, gw_msg_cb done)
{
	gw_msg_cb *slot = h2o_mem_alloc_pool(&gr->req->pool, sizeof(*slot));
	*slot = done;
	gr->ctx = slot;
	int rv = gw_raft_call(gr, m, timeout_ms, on_reply);
	if (rv != PROTO_OK) {
		gw_respond_status(gr, rv, NULL);
	}
}

/* ---- GET /api/v1/cluster ---- */

/* One member in the STATUS text (raft/repl.c members_text). */
struct member_row {
	uint64_t id;
	char role;
	unsigned long long match;
	int reachable;
	long long contact_ms, applied, applied_age_ms; /* -1: not known */
};

static const char *role_name(char c)
{
	return c == 'v' ? "voter" : c == 's' ? "standby" : "spare";
}

static int add_member_info(void *data, const struct proto_member *m)
{
	json_t *by_id = data;
	char key[32];
	snprintf(key, sizeof(key), "%" PRIu64, m->id);
	json_object_set_new(by_id, key, json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", m->name, "region", m->region, "raft",
	                                           m->raft, "rpc", m->rpc, "http", m->http));
	return 0;
}

static void cluster_status(struct gw_req *gr, int status, const struct proto_msg *m)
{
	struct gw *g = gr->gw;
	if (status != PROTO_OK || m->type != PROTO_MSG_STATUS) {
		gw_respond_status(gr, status != PROTO_OK ? status : PROTO_EINTERNAL, NULL);
		return;
	}
	const struct proto_node_status *s = &m->u.status;
	json_t *info = json_object();
	struct store_read *rd;
	if (store_read_begin(g->store, &rd) == PROTO_OK) {
		gr->index = gw_state_index(gr->gw, rd);
		store_members_each(rd, add_member_info, info);
		store_read_end(rd);
	}
	json_t *members = json_array();
	const char *p = s->members;
	while (p != NULL && *p != '\0') {
		struct member_row row = {0};
		char role = 'p';
		int used = 0;
		if (sscanf(p, "%" SCNu64 ":%c:%llu:%d:%lld:%lld:%lld%n", &row.id, &role, &row.match, &row.reachable,
		           &row.contact_ms, &row.applied, &row.applied_age_ms, &used) < 7) {
			break;
		}
		char key[32];
		snprintf(key, sizeof(key), "%" PRIu64, row.id);
		json_t *mi = json_object_get(info, key);
		const struct cfg_node *cn = cfg_find_node_id(g->cfg, row.id);
		json_t *o = json_pack("{s:I,s:s,s:s}", "id", (json_int_t)row.id, "role", role_name(role), "name",
		                      mi ? json_string_value(json_object_get(mi, "name")) : cn ? cn->name : "");
		const char *fields[] = {"region", "raft", "rpc", "http"};
		for (size_t i = 0; i < 4; i++) {
			const char *v = mi ? json_string_value(json_object_get(mi, fields[i])) : NULL;
			if (v == NULL && cn != NULL) {
				v = i == 0 ? cn->region : i == 1 ? cn->raft : i == 2 ? cn->rpc : cn->http;
			}
			json_object_set_new(o, fields[i], json_string(v != NULL ? v : ""));
		}
		bool leader_view = s->role == PROTO_ROLE_LEADER;
		json_object_set_new(o, "reachable", row.reachable < 0 ? json_null() : json_boolean(row.reachable));
		json_object_set_new(o, "match_index", leader_view ? json_integer((json_int_t)row.match) : json_null());
		json_object_set_new(o, "applied_index", row.applied >= 0 ? json_integer(row.applied) : json_null());
		json_object_set_new(o, "applied_reported_ms_ago",
		                    row.applied_age_ms >= 0 ? json_integer(row.applied_age_ms) : json_null());
		json_object_set_new(o, "last_contact_ms", row.contact_ms >= 0 ? json_integer(row.contact_ms) : json_null());
		json_array_append_new(members, o);
		p += used;
		if (*p == ';') {
			p++;
		}
	}
	json_decref(info);
	json_t *leader = s->leader_id != 0 ? json_pack("{s:I,s:s}", "id", (json_int_t)s->leader_id, "name", s->leader_name)
	                                   : json_null();
	const struct cfg_node *viewer = cfg_find_node_id(g->cfg, s->node_id);
	gw_respond_json(gr, 200, json_pack("{s:s,s:o,s:I,s:I,s:s,s:s,s:o}", "cluster", g->cfg->cluster_name, "leader",
	                                   leader, "term", (json_int_t)s->term, "commit_index", (json_int_t)s->commit,
	                                   "node", g->self->name, "measured_by",
	                                   s->node_id == s->leader_id ? s->leader_name
	                                   : s->node_id == g->self->id ? g->self->name
	                                   : viewer != NULL            ? viewer->name
	                                                               : "",
	                                   "members", members));
}

void gw_h_cluster(struct gw_req *gr)
{
	struct proto_msg m = {.type = PROTO_MSG_STATUS_QUERY, .u.query_hops = 0};
	raft_call(gr, &m, 2000, cluster_status);
}

/* ---- changes ---- */

static void change_done(struct gw_req *gr, int status, const struct proto_msg *m)
{
	if (status == PROTO_OK && m->type == PROTO_MSG_REPLY && m->u.reply.status != PROTO_OK) {
		status = m->u.reply.status;
		const char *msg = m->u.reply.message;
		switch (status) {
		case PROTO_ECONFLICT: gw_respond_error(gr, 409, "CONFLICT", "%s", msg); return;
		case PROTO_EINVAL: gw_respond_error(gr, 400, "VALIDATION_ERROR", "%s", msg); return;
		case PROTO_ENOTFOUND: gw_respond_error(gr, 404, "NOT_FOUND", "%s", msg); return;
		default: gw_respond_status(gr, status, msg); return;
		}
	}
	if (status != PROTO_OK || m->type != PROTO_MSG_REPLY) {
		gw_respond_status(gr, status != PROTO_OK ? status : PROTO_EINTERNAL, NULL);
		return;
	}
	gr->index = m->u.reply.index;
	gw_respond_json(gr, 200, json_pack("{s:s,s:s}", "status", "ok", "leader", m->u.reply.leader));
}


static bool parse_id(const char *s, uint64_t *out)
{
	char *end;
	if (s == NULL || *s < '0' || *s > '9') {
		return false;
	}
	*out = strtoull(s, &end, 10);
	return *end == '\0';
}

void gw_h_cluster_add(struct gw_req *gr)
{
	json_t *body = gw_body_object(gr);
	if (body == NULL) {
		return;
	}
	struct proto_msg m = {.type = PROTO_MSG_MEMBER_CHANGE};
	struct proto_member_change *c = &m.u.member;
	const char *role = NULL;
	json_t *id = json_object_get(body, "id");
	c->op = PROTO_MEMBER_ADD;
	c->timeout_ms = 30000;
	if (!gw_opt_string(gr, body, "name", &c->m.name) || !gw_opt_string(gr, body, "raft", &c->m.raft) ||
	    !gw_opt_string(gr, body, "rpc", &c->m.rpc) || !gw_opt_string(gr, body, "http", &c->m.http) ||
	    !gw_opt_string(gr, body, "region", &c->m.region) || !gw_opt_string(gr, body, "role", &role) ||
	    !gw_opt_string(gr, body, "cluster", &c->cluster)) {
		json_decref(body);
		return;
	}
	if (c->m.name == NULL || !proto_valid_name(c->m.name) || c->m.raft == NULL || !proto_valid_text(c->m.raft, 200) ||
	    c->m.rpc == NULL || strncmp(c->m.rpc, "tcp://", 6) != 0 || c->m.http == NULL ||
	    !proto_valid_text(c->m.http, 200) || (id != NULL && (!json_is_integer(id) || json_integer_value(id) <= 0)) ||
	    (role != NULL && strcmp(role, "voter") != 0 && strcmp(role, "standby") != 0 && strcmp(role, "spare") != 0)) {
		json_decref(body);
		gw_respond_error(gr, 400, "VALIDATION_ERROR",
		                 "name, raft (host:port), rpc (tcp://host:port) and http (host:port) are required; "
		                 "id must be a positive integer; role voter, standby or spare");
		return;
	}
	c->m.id = id != NULL ? (uint64_t)json_integer_value(id) : 0;
	c->m.region = c->m.region != NULL ? c->m.region : "local";
	c->cluster = c->cluster != NULL ? c->cluster : "";
	c->role = role == NULL || strcmp(role, "voter") == 0 ? 0 : strcmp(role, "standby") == 0 ? 1 : 2;
	raft_call(gr, &m, c->timeout_ms + 2000, change_done); /* encoded before body is released */
	json_decref(body);
}

void gw_h_cluster_remove(struct gw_req *gr)
{
	struct proto_msg m = {.type = PROTO_MSG_MEMBER_CHANGE};
	if (!parse_id(gr->target.seg[4], &m.u.member.m.id) || m.u.member.m.id == 0) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "the node id is the numeric id of GET /api/v1/cluster");
		return;
	}
	m.u.member.op = PROTO_MEMBER_REMOVE;
	m.u.member.timeout_ms = 20000;
	m.u.member.m.name = m.u.member.m.region = m.u.member.m.raft = m.u.member.m.rpc = m.u.member.m.http = "";
	m.u.member.cluster = "";
	raft_call(gr, &m, 22000, change_done);
}

void gw_h_cluster_transfer(struct gw_req *gr)
{
	struct proto_msg m = {.type = PROTO_MSG_MEMBER_CHANGE};
	json_t *body = gr->req->entity.len > 0 ? gw_body_object(gr) : json_object();
	if (body == NULL) {
		return;
	}
	json_t *id = json_object_get(body, "id");
	if (id != NULL && (!json_is_integer(id) || json_integer_value(id) <= 0)) {
		json_decref(body);
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "id must be a member's numeric id (omit it for any voter)");
		return;
	}
	m.u.member.op = PROTO_MEMBER_TRANSFER;
	m.u.member.m.id = id != NULL ? (uint64_t)json_integer_value(id) : 0;
	m.u.member.timeout_ms = 10000;
	m.u.member.m.name = m.u.member.m.region = m.u.member.m.raft = m.u.member.m.rpc = m.u.member.m.http = "";
	m.u.member.cluster = "";
	json_decref(body);
	raft_call(gr, &m, 12000, change_done);
}

/* ---- GET /api/v1/cluster/snapshot ---- */

/* The state is serialized on libuv's thread pool (it takes a second or more
 * at a million releases) and sent without a copy: the gateway keeps serving. */
struct backup {
	uv_work_t work;
	struct gw_pending_call *pc;
	struct store_snapshot *snap;
	void *data;
	size_t len;
	int rv;
};

static void backup_serialize(void *arg)
{
	struct backup *b = arg;
	b->rv = store_snapshot_serialize(b->snap, &b->data, &b->len);
	store_snapshot_close(b->snap); /* MDB_NOTLS: any thread may end the read */
}

static void backup_run(uv_work_t *w)
{
	pool_run_low_priority(backup_serialize, w->data); /* requests come first */
}

static void backup_done(uv_work_t *w, int status)
{
	struct backup *b = w->data;
	struct gw_req *gr = gw_pending_call_take(b->pc);
	if (status != 0 && b->rv == PROTO_OK) {
		b->rv = PROTO_EINTERNAL;
		free(b->data);
		b->data = NULL;
	}
	if (gr == NULL || gr->req == NULL) {
		free(b->data);
	} else if (b->rv != PROTO_OK) {
		gw_respond_status(gr, b->rv, "cannot serialize the state");
	} else {
		gr->index = store_snapshot_index(b->data, b->len);
		gw_add_header(gr, "content-disposition", "attachment; filename=\"shiplog-backup.snap\"");
		gw_respond_owned(gr, 200, "application/octet-stream", b->data, b->len);
	}
	free(b);
}

void gw_h_cluster_snapshot(struct gw_req *gr)
{
	struct backup *b = calloc(1, sizeof(*b));
	if (b == NULL) {
		gw_respond_status(gr, PROTO_ENOMEM, "out of memory");
		return;
	}
	/* One read transaction, opened now: a consistent state while writes go on. */
	if (store_snapshot_open(gr->gw->store, &b->snap) != PROTO_OK) {
		free(b);
		gw_respond_status(gr, PROTO_EIO, "cannot open a read transaction");
		return;
	}
	b->work.data = b;
	if ((b->pc = gw_pending_call_new(gr)) == NULL ||
	    uv_queue_work(gr->gw->loop, &b->work, backup_run, backup_done) != 0) {
		if (b->pc != NULL) {
			gw_pending_call_take(b->pc);
		}
		store_snapshot_close(b->snap);
		free(b);
		gw_respond_status(gr, PROTO_ENOMEM, "cannot start the backup");
	}
}
