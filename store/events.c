/* The event log: every applied change leaves an event keyed by its Raft
 * index (and its order within the entry), in the same transaction, so every
 * node holds the same history of events. Oldest events beyond the retention
 * are dropped as new ones come, deterministically (by count). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

#define STORE_EVENT_RETENTION 200000

/* ---- a tiny JSON object writer (the store has no JSON library) ---- */

void store_json_init(struct store_json *j)
{
	j->len = 0;
	j->overflow = false;
	j->buf[0] = '\0';
}

static void jput(struct store_json *j, const char *s, size_t n)
{
	if (j->overflow || n >= sizeof(j->buf) - j->len) {
		j->overflow = true;
		return;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

void store_json_str(struct store_json *j, const char *key, const char *value)
{
	char esc[8];
	jput(j, j->len == 0 ? "{\"" : ",\"", 2);
	jput(j, key, strlen(key));
	jput(j, "\":\"", 3);
	for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			jput(j, esc, 2);
		} else if (*p < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			jput(j, esc, 6);
		} else {
			jput(j, (const char *)p, 1);
		}
	}
	jput(j, "\"", 1);
}

void store_json_int(struct store_json *j, const char *key, int64_t value)
{
	char num[32];
	jput(j, j->len == 0 ? "{\"" : ",\"", 2);
	jput(j, key, strlen(key));
	int n = snprintf(num, sizeof(num), "\":%lld", (long long)value);
	jput(j, num, (size_t)n);
}

void store_json_end(struct store_json *j)
{
	jput(j, j->len == 0 ? "{}" : "}", j->len == 0 ? 2 : 1);
}

/* ---- the log ---- */

int store_event(struct apply_ctx *a, const char *type, const char *client, struct store_json *data)
{
	struct rec_writer k, v;
	store_json_end(data);
	if (data->overflow) {
		return 0; /* an event too large to keep is skipped, identically everywhere */
	}
	rec_init(&k);
	rec_put_be64(&k, a->index);
	rec_put_be64(&k, a->n_events++);
	rec_init(&v);
	rec_put_str(&v, type);
	rec_put_i64(&v, a->cmd->ts_ms);
	rec_put_str(&v, client != NULL ? client : "");
	rec_put_str(&v, data->buf);
	int rc = store_put(a, DB_EVENTS, k.buf, k.len, v.buf, v.len);
	if (rc != 0) {
		return rc;
	}
	uint64_t n = store_meta_get(a->txn, a->s, "events") + 1;
	if (n > STORE_EVENT_RETENTION) {
		MDB_cursor *cur;
		MDB_val ck, cv;
		if ((rc = mdb_cursor_open(a->txn, a->s->dbi[DB_EVENTS], &cur)) != 0) {
			return rc;
		}
		if (mdb_cursor_get(cur, &ck, &cv, MDB_FIRST) == 0 && mdb_cursor_del(cur, 0) == 0) {
			n--;
		}
		mdb_cursor_close(cur);
	}
	MDB_val mk = {strlen("events"), (void *)"events"}, mv = {sizeof(n), &n};
	return mdb_put(a->txn, a->s->dbi[DB_META], &mk, &mv, 0);
}

int store_events_each(struct store_read *rd, uint64_t after_index, uint64_t after_seq, store_event_cb cb, void *data)
{
	MDB_cursor *cur;
	MDB_val k, v;
	struct rec_writer start;
	char type[64], client[PROTO_MAX_STR + 1];
	char *text = malloc(STORE_JSON_MAX);
	if (text == NULL) {
		return PROTO_ENOMEM;
	}
	rec_init(&start);
	rec_put_be64(&start, after_index);
	rec_put_be64(&start, after_seq);
	k.mv_size = start.len;
	k.mv_data = start.buf;
	if (mdb_cursor_open(rd->txn, rd->s->dbi[DB_EVENTS], &cur) != 0) {
		free(text);
		return PROTO_EIO;
	}
	int rv = PROTO_OK;
	int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && k.mv_size == 16 && rec_be64(k.mv_data) == after_index &&
	    rec_be64((const char *)k.mv_data + 8) == after_seq) {
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT); /* strictly after */
	}
	while (rc == 0) {
		struct rec_reader r;
		struct store_event e = {.type = type, .client = client, .data = text};
		if (k.mv_size != 16) {
			rv = PROTO_EIO;
			break;
		}
		e.index = rec_be64(k.mv_data);
		e.seq = rec_be64((const char *)k.mv_data + 8);
		rec_reader_init(&r, v.mv_data, v.mv_size);
		rec_get_str(&r, type, sizeof(type));
		e.ts_ms = rec_get_i64(&r);
		rec_get_str(&r, client, sizeof(client));
		rec_get_str(&r, text, STORE_JSON_MAX);
		if (r.bad) {
			rv = PROTO_EIO;
			break;
		}
		if (cb(data, &e) != 0) {
			break;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	free(text);
	return rv;
}
