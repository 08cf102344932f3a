/* Apply of the cluster, lease and job commands (collector and scheduler).
 * Like every apply, it only uses the command's own time stamp. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

static int put_str_key(struct apply_ctx *a, enum store_db db, const char *key, const void *v, size_t vlen)
{
	return store_put(a, db, key, strlen(key), v, vlen);
}

static int get_str_key(struct apply_ctx *a, enum store_db db, const char *key, MDB_val *val)
{
	MDB_val k = {strlen(key), (void *)key};
	return mdb_get(a->txn, a->s->dbi[db], &k, val);
}

static int del_str_key(struct apply_ctx *a, enum store_db db, const char *key)
{
	MDB_val k = {strlen(key), (void *)key};
	int rc = mdb_del(a->txn, a->s->dbi[db], &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The value of a cluster: created, updated, then the CLUSTER_PUT command
 * itself (its encoding is the schema; protocol/ decodes it on read). */
static int cluster_put(struct apply_ctx *a, const void *cmd_bytes, size_t cmd_len)
{
	const struct proto_cluster *c = &a->cmd->u.cluster;
	int64_t created = a->cmd->ts_ms;
	MDB_val old;
	int rc = get_str_key(a, DB_CLUSTERS, c->id, &old);
	if (rc == 0 && old.mv_size >= 16) {
		memcpy(&created, old.mv_data, sizeof(created));
	} else if (rc != 0 && rc != MDB_NOTFOUND) {
		return rc;
	}
	size_t len = 16 + cmd_len;
	char *v = malloc(len);
	if (v == NULL) {
		return ENOMEM;
	}
	memcpy(v, &created, 8);
	memcpy(v + 8, &a->cmd->ts_ms, 8);
	memcpy(v + 16, cmd_bytes, cmd_len);
	rc = put_str_key(a, DB_CLUSTERS, c->id, v, len);
	free(v);
	if (rc != 0) {
		return rc;
	}
	struct store_json j;
	store_json_init(&j);
	store_json_str(&j, "id", c->id);
	store_json_str(&j, "name", c->name);
	store_json_str(&j, "server", c->server);
	return store_event(a, "cluster.updated", c->client, &j);
}

int store_apply_cluster_delete(struct apply_ctx *a)
{
	const char *id = a->cmd->u.cluster_id;
	MDB_val v;
	int rc = get_str_key(a, DB_CLUSTERS, id, &v);
	if (rc == MDB_NOTFOUND) {
		a->res->code = PROTO_ENOTFOUND;
		return 0;
	}
	char duty[PROTO_MAX_STR + 16];
	snprintf(duty, sizeof(duty), "collect:%s", id);
	if (rc != 0 || (rc = del_str_key(a, DB_CLUSTERS, id)) != 0 || (rc = del_str_key(a, DB_CHEALTH, id)) != 0 ||
	    (rc = del_str_key(a, DB_LEASES, duty)) != 0) {
		return rc;
	}
	struct store_json j;
	store_json_init(&j);
	store_json_str(&j, "id", id);
	return store_event(a, "cluster.deleted", "", &j);
}

int store_apply_lease(struct apply_ctx *a)
{
	const struct proto_lease *l = &a->cmd->u.lease;
	MDB_val v;
	int rc = get_str_key(a, DB_LEASES, l->duty, &v);
	if (rc == 0) {
		struct rec_reader rd;
		rec_reader_init(&rd, v.mv_data, v.mv_size);
		uint64_t holder = rec_get_u64(&rd);
		int64_t expires = rec_get_i64(&rd);
		if (holder != l->holder && expires > a->cmd->ts_ms) {
			a->res->code = PROTO_ECONFLICT; /* held by a live node */
			return 0;
		}
	} else if (rc != MDB_NOTFOUND) {
		return rc;
	}
	struct rec_writer w;
	rec_init(&w);
	rec_put_u64(&w, l->holder);
	rec_put_i64(&w, a->cmd->ts_ms + (int64_t)l->period_ms);
	return put_str_key(a, DB_LEASES, l->duty, w.buf, w.len);
}

/* Job record: type, cluster, status, error, reason, node, created, started,
 * finished, observations, created entries, updated entries. */
static void job_write(struct rec_writer *w, const struct store_job *j)
{
	rec_init(w);
	rec_put_str(w, j->type);
	rec_put_str(w, j->cluster_id);
	rec_put_str(w, j->status);
	rec_put_str(w, j->error);
	rec_put_str(w, j->reason);
	rec_put_u64(w, j->node);
	rec_put_i64(w, j->created_ms);
	rec_put_i64(w, j->started_ms);
	rec_put_i64(w, j->finished_ms);
	rec_put_u64(w, j->observations);
	rec_put_u64(w, j->entries_created);
	rec_put_u64(w, j->entries_updated);
}

int store_job_decode(const void *p, size_t len, struct store_job *j)
{
	struct rec_reader rd;
	rec_reader_init(&rd, p, len);
	rec_get_str(&rd, j->type, sizeof(j->type));
	rec_get_str(&rd, j->cluster_id, sizeof(j->cluster_id));
	rec_get_str(&rd, j->status, sizeof(j->status));
	rec_get_str(&rd, j->error, sizeof(j->error));
	rec_get_str(&rd, j->reason, sizeof(j->reason));
	j->node = rec_get_u64(&rd);
	j->created_ms = rec_get_i64(&rd);
	j->started_ms = rec_get_i64(&rd);
	j->finished_ms = rec_get_i64(&rd);
	j->observations = rec_get_u64(&rd);
	j->entries_created = rec_get_u64(&rd);
	j->entries_updated = rec_get_u64(&rd);
	return rd.bad ? -1 : 0;
}

int store_apply_jobs_queue(struct apply_ctx *a)
{
	const struct proto_jobs *q = &a->cmd->u.jobs;
	if (q->n != q->n_clusters) {
		a->res->code = PROTO_EINVAL;
		return 0;
	}
	for (uint32_t i = 0; i < q->n; i++) {
		MDB_val v;
		int rc = get_str_key(a, DB_JOBS, q->ids[i], &v);
		if (rc == 0) {
			continue; /* a job id is created once */
		}
		if (rc != MDB_NOTFOUND) {
			return rc;
		}
		struct store_job j = {.type = "collect", .status = "queued", .created_ms = a->cmd->ts_ms};
		snprintf(j.cluster_id, sizeof(j.cluster_id), "%s", q->clusters[i]);
		snprintf(j.reason, sizeof(j.reason), "%s", q->reason);
		struct rec_writer w;
		job_write(&w, &j);
		if ((rc = put_str_key(a, DB_JOBS, q->ids[i], w.buf, w.len)) != 0) {
			return rc;
		}
	}
	return 0;
}

static int job_load(struct apply_ctx *a, const char *id, struct store_job *j, int *found)
{
	MDB_val v;
	int rc = get_str_key(a, DB_JOBS, id, &v);
	*found = rc == 0;
	if (rc == MDB_NOTFOUND) {
		return 0;
	}
	if (rc != 0) {
		return rc;
	}
	return store_job_decode(v.mv_data, v.mv_size, j) == 0 ? 0 : MDB_CORRUPTED;
}

int store_apply_job_start(struct apply_ctx *a)
{
	const struct proto_job_start *s = &a->cmd->u.job_start;
	struct store_job j = {.type = "collect", .created_ms = a->cmd->ts_ms, .reason = "schedule"};
	int found;
	int rc = job_load(a, s->id, &j, &found);
	if (rc != 0) {
		return rc;
	}
	if (found && strcmp(j.status, "queued") != 0 && strcmp(j.status, "running") != 0) {
		a->res->code = PROTO_ECONFLICT; /* already finished */
		return 0;
	}
	snprintf(j.cluster_id, sizeof(j.cluster_id), "%s", s->cluster_id);
	snprintf(j.status, sizeof(j.status), "running");
	j.node = s->node;
	j.started_ms = a->cmd->ts_ms;
	struct rec_writer w;
	job_write(&w, &j);
	int prc = put_str_key(a, DB_JOBS, s->id, w.buf, w.len);
	if (prc != 0) {
		return prc;
	}
	struct store_json ev;
	store_json_init(&ev);
	store_json_str(&ev, "id", s->id);
	store_json_str(&ev, "cluster_id", s->cluster_id);
	store_json_int(&ev, "node", (int64_t)s->node);
	return store_event(a, "job.started", "", &ev);
}

int store_apply_collect_result(struct apply_ctx *a)
{
	const struct proto_collect *c = &a->cmd->u.collect;
	struct store_job j = {.type = "collect", .created_ms = c->started_at_ms, .reason = "schedule"};
	int found, rc;
	if ((rc = job_load(a, c->job_id, &j, &found)) != 0) {
		return rc;
	}
	if (found && strcmp(j.status, "success") == 0) {
		a->res->code = PROTO_ECONFLICT; /* a late duplicate of a finished run */
		return 0;
	}
	for (uint32_t i = 0; i < a->cmd->n_obs; i++) {
		if ((rc = store_observe(a, &a->cmd->obs[i])) != 0) {
			return rc;
		}
	}
	snprintf(j.cluster_id, sizeof(j.cluster_id), "%s", c->cluster_id);
	snprintf(j.status, sizeof(j.status), "%s", c->status);
	snprintf(j.error, sizeof(j.error), "%s", c->error);
	j.node = c->node;
	j.started_ms = c->started_at_ms;
	j.finished_ms = c->finished_at_ms;
	j.observations = a->cmd->n_obs;
	j.entries_created = a->res->created;
	j.entries_updated = a->res->updated;
	struct rec_writer w;
	job_write(&w, &j);
	if ((rc = put_str_key(a, DB_JOBS, c->job_id, w.buf, w.len)) != 0) {
		return rc;
	}
	MDB_val v;
	if ((rc = get_str_key(a, DB_CLUSTERS, c->cluster_id, &v)) == MDB_NOTFOUND) {
		return 0; /* deleted meanwhile: no health to keep */
	}
	if (rc != 0) {
		return rc;
	}
	/* Health: last run, last success, consecutive failures, last error. */
	int64_t last_success = 0;
	uint64_t failures = 0;
	if (get_str_key(a, DB_CHEALTH, c->cluster_id, &v) == 0) {
		struct rec_reader rd;
		rec_reader_init(&rd, v.mv_data, v.mv_size);
		rec_get_i64(&rd);
		last_success = rec_get_i64(&rd);
		failures = rec_get_u64(&rd);
	}
	bool ok = strcmp(c->status, "success") == 0;
	struct store_json ev;
	store_json_init(&ev);
	store_json_str(&ev, "id", c->job_id);
	store_json_str(&ev, "cluster_id", c->cluster_id);
	store_json_str(&ev, "status", c->status);
	store_json_str(&ev, "error", c->error);
	store_json_int(&ev, "observations", a->cmd->n_obs);
	if ((rc = store_event(a, ok ? "job.succeeded" : "job.failed", "", &ev)) != 0) {
		return rc;
	}
	if ((failures == 0) != ok) { /* healthy <-> failing */
		store_json_init(&ev);
		store_json_str(&ev, "cluster_id", c->cluster_id);
		store_json_str(&ev, "status", ok ? "healthy" : "failing");
		store_json_str(&ev, "error", c->error);
		if ((rc = store_event(a, "cluster.health_changed", "", &ev)) != 0) {
			return rc;
		}
	}
	rec_init(&w);
	rec_put_i64(&w, c->finished_at_ms);
	rec_put_i64(&w, ok ? c->finished_at_ms : last_success);
	rec_put_u64(&w, ok ? 0 : failures + 1);
	rec_put_str(&w, c->error);
	rec_put_str(&w, c->job_id);
	rec_put_u64(&w, a->cmd->n_obs);
	return put_str_key(a, DB_CHEALTH, c->cluster_id, w.buf, w.len);
}

/* Re-encodes the command to keep it as the cluster's stored form. */
int store_apply_cluster_put(struct apply_ctx *a)
{
	struct proto_buf b;
	if (store_cmd_stored(a->cmd, &b) != PROTO_OK) {
		a->res->code = PROTO_EINVAL;
		return 0;
	}
	int rc = cluster_put(a, b.data, b.len);
	proto_buf_free(&b);
	return rc;
}

int store_apply_member_put(struct apply_ctx *a)
{
	const struct proto_member *m = &a->cmd->u.member;
	struct rec_writer k, v;
	rec_init(&k);
	rec_put_be64(&k, m->id);
	rec_init(&v);
	rec_put_str(&v, m->name);
	rec_put_str(&v, m->region);
	rec_put_str(&v, m->raft);
	rec_put_str(&v, m->rpc);
	rec_put_str(&v, m->http);
	int rc = store_put(a, DB_MEMBERS, k.buf, k.len, v.buf, v.len);
	if (rc != 0) {
		return rc;
	}
	struct store_json j;
	store_json_init(&j);
	store_json_int(&j, "id", (int64_t)m->id);
	store_json_str(&j, "name", m->name);
	store_json_str(&j, "region", m->region);
	store_json_str(&j, "http", m->http);
	return store_event(a, "node.joined", "", &j);
}

int store_apply_member_delete(struct apply_ctx *a)
{
	struct rec_writer k;
	rec_init(&k);
	rec_put_be64(&k, a->cmd->u.member_id);
	MDB_val key = {k.len, k.buf};
	int rc = mdb_del(a->txn, a->s->dbi[DB_MEMBERS], &key, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return rc;
	}
	struct store_json j;
	store_json_init(&j);
	store_json_int(&j, "id", (int64_t)a->cmd->u.member_id);
	return store_event(a, "node.removed", "", &j);
}
