/* Webhooks: their definitions, where each one's delivery stands (a cursor
 * into the event log, moved only forward and only by a successful
 * delivery), and the recent attempts. All through Raft, so a new owner of a
 * webhook resumes exactly where the last one stopped. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

#define DELIVERIES_KEPT 1000 /* attempts remembered per webhook */

struct wh_state {
	uint64_t after_index, after_seq, failures, delivered, attempts;
	int64_t last_attempt_ms;
};

static int state_get(MDB_txn *txn, store *s, const char *id, struct wh_state *st)
{
	MDB_val k = {strlen(id), (void *)id}, v;
	memset(st, 0, sizeof(*st));
	int rc = mdb_get(txn, s->dbi[DB_WHSTATE], &k, &v);
	if (rc != 0) {
		return rc;
	}
	struct rec_reader r;
	rec_reader_init(&r, v.mv_data, v.mv_size);
	st->after_index = rec_get_u64(&r);
	st->after_seq = rec_get_u64(&r);
	st->failures = rec_get_u64(&r);
	st->delivered = rec_get_u64(&r);
	st->attempts = rec_get_u64(&r);
	st->last_attempt_ms = rec_get_i64(&r);
	return r.bad ? MDB_CORRUPTED : 0;
}

static int state_put(struct apply_ctx *a, const char *id, const struct wh_state *st)
{
	struct rec_writer w;
	rec_init(&w);
	rec_put_u64(&w, st->after_index);
	rec_put_u64(&w, st->after_seq);
	rec_put_u64(&w, st->failures);
	rec_put_u64(&w, st->delivered);
	rec_put_u64(&w, st->attempts);
	rec_put_i64(&w, st->last_attempt_ms);
	return store_put(a, DB_WHSTATE, id, strlen(id), w.buf, w.len);
}

int store_apply_webhook_put(struct apply_ctx *a)
{
	const struct proto_webhook *wh = &a->cmd->u.webhook;
	int64_t head[1] = {a->cmd->ts_ms};
	int rc = store_put_cmd(a, DB_WEBHOOKS, wh->id, strlen(wh->id), head, 1);
	if (rc != 0 || a->res->code != PROTO_OK) {
		return rc;
	}
	struct wh_state st;
	if (state_get(a->txn, a->s, wh->id, &st) == MDB_NOTFOUND) {
		st.after_index = a->index; /* deliver what happens from now on */
		st.after_seq = UINT64_MAX;
		rc = state_put(a, wh->id, &st);
	}
	return rc;
}

int store_apply_webhook_delete(struct apply_ctx *a)
{
	const char *id = a->cmd->u.webhook_id;
	MDB_val k = {strlen(id), (void *)id}, v;
	int rc = mdb_get(a->txn, a->s->dbi[DB_WEBHOOKS], &k, &v);
	if (rc == MDB_NOTFOUND) {
		a->res->code = PROTO_ENOTFOUND;
		return 0;
	}
	if (rc != 0 || (rc = mdb_del(a->txn, a->s->dbi[DB_WEBHOOKS], &k, NULL)) != 0) {
		return rc;
	}
	rc = mdb_del(a->txn, a->s->dbi[DB_WHSTATE], &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return rc;
	}
	char duty[PROTO_MAX_STR + 16];
	snprintf(duty, sizeof(duty), "webhook:%s", id);
	MDB_val dk = {strlen(duty), duty};
	rc = mdb_del(a->txn, a->s->dbi[DB_LEASES], &dk, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_apply_webhook_progress(struct apply_ctx *a)
{
	const struct proto_delivery *d = &a->cmd->u.delivery;
	struct wh_state st;
	int rc = state_get(a->txn, a->s, d->webhook_id, &st);
	if (rc == MDB_NOTFOUND) {
		a->res->code = PROTO_ENOTFOUND; /* deleted meanwhile */
		return 0;
	}
	if (rc != 0) {
		return rc;
	}
	bool ahead = d->event_index > st.after_index || (d->event_index == st.after_index && d->event_seq > st.after_seq &&
	                                                  st.after_seq != UINT64_MAX);
	if (d->ok && d->event_type[0] == '\0') { /* a skip past events it does not want: no attempt */
		if (ahead) {
			st.after_index = d->event_index;
			st.after_seq = d->event_seq;
			return state_put(a, d->webhook_id, &st);
		}
		return 0;
	}
	if (d->ok && ahead) {
		st.after_index = d->event_index;
		st.after_seq = d->event_seq;
		st.failures = 0;
		st.delivered++;
	} else if (!d->ok) {
		st.failures++;
	}
	st.attempts++;
	st.last_attempt_ms = a->cmd->ts_ms;
	if ((rc = state_put(a, d->webhook_id, &st)) != 0) {
		return rc;
	}
	struct rec_writer k, v;
	rec_init(&k);
	rec_put_keypart(&k, d->webhook_id);
	rec_put_be64(&k, st.attempts);
	rec_init(&v);
	rec_put_u64(&v, d->event_index);
	rec_put_u64(&v, d->event_seq);
	rec_put_str(&v, d->event_type);
	rec_put_u64(&v, d->ok);
	rec_put_u64(&v, d->http_status);
	rec_put_str(&v, d->error);
	rec_put_u64(&v, d->node);
	rec_put_i64(&v, a->cmd->ts_ms);
	rec_put_i64(&v, d->duration_ms);
	if ((rc = store_put(a, DB_DELIVERIES, k.buf, k.len, v.buf, v.len)) != 0) {
		return rc;
	}
	if (st.attempts > DELIVERIES_KEPT) { /* forget the oldest attempt */
		rec_init(&k);
		rec_put_keypart(&k, d->webhook_id);
		rec_put_be64(&k, st.attempts - DELIVERIES_KEPT);
		MDB_val old = {k.len, k.buf};
		rc = mdb_del(a->txn, a->s->dbi[DB_DELIVERIES], &old, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	return 0;
}

/* ---- reads ---- */

static int emit(struct store_read *rd, const MDB_val *k, const MDB_val *v, store_webhook_cb cb, void *data, int *stop)
{
	struct proto_cmd cmd;
	char id[PROTO_MAX_STR + 1];
	int64_t head[1];
	if (k->mv_size >= sizeof(id) || store_get_cmd(v, PROTO_CMD_WEBHOOK_PUT, head, 1, &cmd) != PROTO_OK) {
		return PROTO_EIO;
	}
	memcpy(id, k->mv_data, k->mv_size);
	id[k->mv_size] = '\0';
	struct wh_state st;
	struct store_webhook w = {.w = &cmd.u.webhook, .created_ms = head[0]};
	if (state_get(rd->txn, rd->s, id, &st) == 0) {
		w.after_index = st.after_index;
		w.after_seq = st.after_seq;
		w.failures = st.failures;
		w.delivered = st.delivered;
		w.attempts = st.attempts;
		w.last_attempt_ms = st.last_attempt_ms;
	}
	*stop = cb(data, &w);
	proto_cmd_free(&cmd);
	return PROTO_OK;
}

int store_webhooks_each(struct store_read *rd, store_webhook_cb cb, void *data)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rv = PROTO_OK, stop = 0;
	if (mdb_cursor_open(rd->txn, rd->s->dbi[DB_WEBHOOKS], &cur) != 0) {
		return PROTO_EIO;
	}
	int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == 0 && rv == PROTO_OK && !stop) {
		rv = emit(rd, &k, &v, cb, data, &stop);
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rv;
}

int store_webhook_get(struct store_read *rd, const char *id, store_webhook_cb cb, void *data)
{
	MDB_val k = {strlen(id), (void *)id}, v;
	int stop;
	int rc = mdb_get(rd->txn, rd->s->dbi[DB_WEBHOOKS], &k, &v);
	if (rc == MDB_NOTFOUND) {
		return PROTO_ENOTFOUND;
	}
	return rc != 0 ? PROTO_EIO : emit(rd, &k, &v, cb, data, &stop);
}

int store_deliveries_each(struct store_read *rd, const char *id, store_delivery_cb cb, void *data)
{
	MDB_cursor *cur;
	MDB_val k, v;
	struct rec_writer p;
	char type[64], error[PROTO_MAX_STR + 1];
	rec_init(&p);
	rec_put_keypart(&p, id);
	rec_put_be64(&p, UINT64_MAX);
	k.mv_size = p.len;
	k.mv_data = p.buf;
	if (mdb_cursor_open(rd->txn, rd->s->dbi[DB_DELIVERIES], &cur) != 0) {
		return PROTO_EIO;
	}
	/* Newest first: from just past this webhook's keys, walk back. */
	int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	rc = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV) : mdb_cursor_get(cur, &k, &v, MDB_LAST);
	size_t plen = p.len - 8;
	while (rc == 0 && k.mv_size == plen + 8 && memcmp(k.mv_data, p.buf, plen) == 0) {
		struct rec_reader r;
		struct store_delivery d = {.event_type = type, .error = error};
		d.attempt = rec_be64((const char *)k.mv_data + plen);
		rec_reader_init(&r, v.mv_data, v.mv_size);
		d.event_index = rec_get_u64(&r);
		d.event_seq = rec_get_u64(&r);
		rec_get_str(&r, type, sizeof(type));
		d.ok = rec_get_u64(&r);
		d.http_status = rec_get_u64(&r);
		rec_get_str(&r, error, sizeof(error));
		d.node = rec_get_u64(&r);
		d.at_ms = rec_get_i64(&r);
		d.duration_ms = rec_get_i64(&r);
		if (r.bad || cb(data, &d) != 0) {
			break;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	}
	mdb_cursor_close(cur);
	return PROTO_OK;
}
