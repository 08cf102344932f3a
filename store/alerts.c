/* Alerts: raised, resolved and acknowledged through Raft by the node that
 * holds the "alerts" duty (or by a person, for acknowledgements); each
 * change is an event. A resolved alert raised again fires again. */
#include <stdio.h>
#include <string.h>

#include "store/internal.h"

static void alert_write(struct rec_writer *w, const struct store_alert *a)
{
	rec_init(w);
	rec_put_str(w, a->kind);
	rec_put_str(w, a->severity);
	rec_put_str(w, a->status);
	rec_put_str(w, a->message);
	rec_put_str(w, a->client);
	rec_put_str(w, a->acked_by);
	rec_put_i64(w, a->raised_ms);
	rec_put_i64(w, a->resolved_ms);
	rec_put_i64(w, a->acked_ms);
}

struct alert_buf {
	char kind[64], severity[32], status[32], message[PROTO_MAX_STR + 1], client[PROTO_MAX_STR + 1],
	    acked_by[PROTO_MAX_STR + 1];
};

static int alert_read(const MDB_val *v, struct store_alert *a, struct alert_buf *b)
{
	struct rec_reader r;
	rec_reader_init(&r, v->mv_data, v->mv_size);
	rec_get_str(&r, b->kind, sizeof(b->kind));
	rec_get_str(&r, b->severity, sizeof(b->severity));
	rec_get_str(&r, b->status, sizeof(b->status));
	rec_get_str(&r, b->message, sizeof(b->message));
	rec_get_str(&r, b->client, sizeof(b->client));
	rec_get_str(&r, b->acked_by, sizeof(b->acked_by));
	a->kind = b->kind;
	a->severity = b->severity;
	a->status = b->status;
	a->message = b->message;
	a->client = b->client;
	a->acked_by = b->acked_by;
	a->raised_ms = rec_get_i64(&r);
	a->resolved_ms = rec_get_i64(&r);
	a->acked_ms = rec_get_i64(&r);
	return r.bad ? -1 : 0;
}

int store_apply_alert(struct apply_ctx *a)
{
	const struct proto_alert *c = &a->cmd->u.alert;
	MDB_val k = {strlen(c->id), (void *)c->id}, v;
	struct alert_buf b;
	struct store_alert cur = {.id = c->id};
	int rc = mdb_get(a->txn, a->s->dbi[DB_ALERTS], &k, &v);
	bool exists = rc == 0 && alert_read(&v, &cur, &b) == 0;
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return rc;
	}
	bool open = exists && strcmp(cur.status, "resolved") != 0;
	const char *event;
	if (strcmp(c->action, "raise") == 0) {
		if (open && strcmp(cur.severity, c->severity) == 0) {
			return 0; /* already firing at that severity */
		}
		if (!open) {
			cur.raised_ms = a->cmd->ts_ms;
			cur.acked_by = "";
			cur.acked_ms = 0;
			cur.status = "firing";
		}
		cur.kind = c->kind;
		cur.severity = c->severity;
		cur.message = c->message;
		cur.client = c->client;
		cur.resolved_ms = 0;
		event = "alert.raised";
	} else if (strcmp(c->action, "resolve") == 0) {
		if (!open) {
			return 0;
		}
		cur.status = "resolved";
		cur.resolved_ms = a->cmd->ts_ms;
		event = "alert.resolved";
	} else if (strcmp(c->action, "acknowledge") == 0) {
		if (!exists) {
			a->res->code = PROTO_ENOTFOUND;
			return 0;
		}
		if (!open) {
			a->res->code = PROTO_ECONFLICT; /* nothing to acknowledge */
			return 0;
		}
		cur.status = "acknowledged";
		cur.acked_by = c->by;
		cur.acked_ms = a->cmd->ts_ms;
		event = "alert.acknowledged";
	} else {
		a->res->code = PROTO_EINVAL;
		return 0;
	}
	struct rec_writer w;
	alert_write(&w, &cur);
	if ((rc = store_put(a, DB_ALERTS, c->id, strlen(c->id), w.buf, w.len)) != 0) {
		return rc;
	}
	struct store_json j;
	store_json_init(&j);
	store_json_str(&j, "id", c->id);
	store_json_str(&j, "kind", cur.kind);
	store_json_str(&j, "severity", cur.severity);
	store_json_str(&j, "status", cur.status);
	store_json_str(&j, "message", cur.message);
	return store_event(a, event, cur.client, &j);
}

int store_alerts_each(struct store_read *rd, store_alert_cb cb, void *data)
{
	MDB_cursor *cur;
	MDB_val k, v;
	char id[PROTO_MAX_STR + 1];
	struct alert_buf b;
	if (mdb_cursor_open(rd->txn, rd->s->dbi[DB_ALERTS], &cur) != 0) {
		return PROTO_EIO;
	}
	int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == 0) {
		struct store_alert a;
		if (k.mv_size >= sizeof(id) || alert_read(&v, &a, &b) != 0) {
			break;
		}
		memcpy(id, k.mv_data, k.mv_size);
		id[k.mv_size] = '\0';
		a.id = id;
		if (cb(data, &a) != 0) {
			break;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return PROTO_OK;
}
