/* The audit log: one row for every command a request asked for (those with
 * an origin), written in the command's own transaction, refused ones too. */
#include <stdio.h>
#include <string.h>

#include "store/identity.h"
#include "store/internal.h"

static const char *const cmd_names[PROTO_CMD_TYPE_MAX_] = {
	[PROTO_CMD_NOOP] = "noop",
	[PROTO_CMD_OBSERVE] = "release.observe",
	[PROTO_CMD_PING] = "client.ping",
	[PROTO_CMD_CLUSTER_PUT] = "cluster.put",
	[PROTO_CMD_CLUSTER_DELETE] = "cluster.delete",
	[PROTO_CMD_LEASE] = "lease",
	[PROTO_CMD_JOBS_QUEUE] = "jobs.queue",
	[PROTO_CMD_JOB_START] = "job.start",
	[PROTO_CMD_COLLECT_RESULT] = "collect.result",
	[PROTO_CMD_MEMBER_PUT] = "member.put",
	[PROTO_CMD_MEMBER_DELETE] = "member.delete",
	[PROTO_CMD_WEBHOOK_PUT] = "webhook.put",
	[PROTO_CMD_WEBHOOK_DELETE] = "webhook.delete",
	[PROTO_CMD_WEBHOOK_PROGRESS] = "webhook.progress",
	[PROTO_CMD_ALERT] = "alert",
	[PROTO_CMD_IMPORT] = "import",
	[PROTO_CMD_PRUNE] = "prune",
	[PROTO_CMD_USER_PUT] = "user.put",
	[PROTO_CMD_USER_DELETE] = "user.delete",
	[PROTO_CMD_APIKEY_PUT] = "api_key.put",
	[PROTO_CMD_APIKEY_DELETE] = "api_key.delete",
	[PROTO_CMD_SIGNING_KEY] = "auth.signing_key",
	[PROTO_CMD_SESSION] = "auth.session",
	[PROTO_CMD_KEYS_USED] = "api_key.used",
	[PROTO_CMD_PRUNE_IDENTITY] = "prune.identity",
};

const char *store_cmd_name(uint32_t type)
{
	return type < PROTO_CMD_TYPE_MAX_ && cmd_names[type] != NULL ? cmd_names[type] : "";
}

/* What a command acts on, for the audit row. */
static void cmd_target(const struct proto_cmd *c, char *out, size_t cap)
{
	const struct proto_observation *o = c->n_obs > 0 ? &c->obs[0] : NULL;
	static const char *const ops[] = {"", "start", "rotate", "revoke"};
	out[0] = '\0';
	switch (c->type) {
	case PROTO_CMD_OBSERVE:
		if (o != NULL) {
			snprintf(out, cap, "%s/%s/%s/%s/%s", o->client, o->env, o->ns, o->workload, o->container);
		}
		break;
	case PROTO_CMD_PING: snprintf(out, cap, "%s/%s", c->ping.client, c->ping.env); break;
	case PROTO_CMD_CLUSTER_PUT: snprintf(out, cap, "%s", c->u.cluster.id); break;
	case PROTO_CMD_CLUSTER_DELETE: snprintf(out, cap, "%s", c->u.cluster_id); break;
	case PROTO_CMD_JOBS_QUEUE: snprintf(out, cap, "%u jobs", (unsigned)c->u.jobs.n); break;
	case PROTO_CMD_MEMBER_PUT: snprintf(out, cap, "%s", c->u.member.name); break;
	case PROTO_CMD_MEMBER_DELETE: snprintf(out, cap, "%llu", (unsigned long long)c->u.member_id); break;
	case PROTO_CMD_WEBHOOK_PUT: snprintf(out, cap, "%s", c->u.webhook.id); break;
	case PROTO_CMD_WEBHOOK_DELETE: snprintf(out, cap, "%s", c->u.webhook_id); break;
	case PROTO_CMD_ALERT: snprintf(out, cap, "%s %s", c->u.alert.action, c->u.alert.id); break;
	case PROTO_CMD_IMPORT: snprintf(out, cap, "%u releases", (unsigned)c->u.import.n_rows); break;
	case PROTO_CMD_USER_PUT: snprintf(out, cap, "%s (%s)", c->u.user.id, c->u.user.username); break;
	case PROTO_CMD_USER_DELETE: snprintf(out, cap, "%s", c->u.user_id); break;
	case PROTO_CMD_APIKEY_PUT: snprintf(out, cap, "%s (%s)", c->u.apikey.id, c->u.apikey.scope); break;
	case PROTO_CMD_APIKEY_DELETE: snprintf(out, cap, "%s", c->u.apikey_id); break;
	case PROTO_CMD_SIGNING_KEY: snprintf(out, cap, "%s", c->u.signing.kid); break;
	case PROTO_CMD_SESSION:
		snprintf(out, cap, "%s %s", c->u.session.op <= 3 ? ops[c->u.session.op] : "", c->u.session.user_id);
		break;
	default: break;
	}
}

int store_audit_record(struct apply_ctx *a)
{
	const struct proto_cmd *c = a->cmd;
	if (c->origin.actor == NULL || c->origin.actor[0] == '\0') {
		return 0;
	}
	char target[PROTO_MAX_STR + 1];
	cmd_target(c, target, sizeof(target));
	struct rec_writer k, v;
	rec_init(&k);
	rec_put_be64(&k, a->index);
	rec_put_be64(&k, a->n_audit++);
	rec_init(&v);
	rec_put_i64(&v, c->ts_ms);
	rec_put_str(&v, store_cmd_name(c->type));
	rec_put_str(&v, target);
	rec_put_str(&v, c->origin.actor);
	rec_put_str(&v, c->origin.node);
	rec_put_str(&v, c->origin.addr);
	rec_put_str(&v, c->origin.request_id);
	rec_put_u64(&v, (uint64_t)(uint32_t)a->res->code);
	return v.overflow ? 0 : store_put(a, DB_AUDIT, k.buf, k.len, v.buf, v.len);
}

int store_audit_each(struct store_read *rd, uint64_t before_index, uint64_t before_seq, store_audit_cb cb, void *data)
{
	MDB_cursor *cur;
	MDB_val k, v;
	struct rec_writer start;
	char type[64], target[PROTO_MAX_STR + 1], actor[PROTO_MAX_STR + 1], node[PROTO_MAX_STR + 1],
	    addr[PROTO_MAX_STR + 1], rid[PROTO_MAX_STR + 1];
	if (mdb_cursor_open(rd->txn, rd->s->dbi[DB_AUDIT], &cur) != 0) {
		return PROTO_EIO;
	}
	rec_init(&start);
	rec_put_be64(&start, before_index);
	rec_put_be64(&start, before_seq);
	MDB_val at = {start.len, start.buf};
	/* the first row at or after the cursor, then step back past it */
	int rc = mdb_cursor_get(cur, &at, &v, MDB_SET_RANGE);
	rc = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV) : mdb_cursor_get(cur, &k, &v, MDB_LAST);
	int rv = PROTO_OK, stop = 0;
	for (; rc == 0 && !stop; rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
		struct rec_reader r;
		if (k.mv_size != 16) {
			rv = PROTO_EIO;
			break;
		}
		struct store_audit e = {.index = rec_be64(k.mv_data), .seq = rec_be64((const char *)k.mv_data + 8)};
		rec_reader_init(&r, v.mv_data, v.mv_size);
		e.ts_ms = rec_get_i64(&r);
		rec_get_str(&r, type, sizeof(type));
		rec_get_str(&r, target, sizeof(target));
		rec_get_str(&r, actor, sizeof(actor));
		rec_get_str(&r, node, sizeof(node));
		rec_get_str(&r, addr, sizeof(addr));
		rec_get_str(&r, rid, sizeof(rid));
		e.code = (int32_t)rec_get_u64(&r);
		if (r.bad) {
			rv = PROTO_EIO;
			break;
		}
		e.type = type, e.target = target, e.actor = actor, e.node = node, e.addr = addr, e.request_id = rid;
		stop = cb(data, &e);
	}
	mdb_cursor_close(cur);
	return rv;
}
