/* Reads of clusters, leases and jobs. */
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

static int key_get(struct store_read *rd, enum store_db db, const char *key, MDB_val *v)
{
	MDB_val k = {strlen(key), (void *)key};
	return mdb_get(rd->txn, rd->s->dbi[db], &k, v);
}

/* Decodes a cluster value and its health, then calls cb. */
static int cluster_emit(struct store_read *rd, const MDB_val *k, const MDB_val *v, store_cluster_cb cb, void *data,
                        int *stop)
{
	struct proto_cmd cmd;
	struct store_cluster sc = {0};
	char err[PROTO_MAX_STR + 1] = "", job[PROTO_MAX_STR + 1] = "";
	int64_t head[2];
	if (store_get_cmd(v, PROTO_CMD_CLUSTER_PUT, head, 2, &cmd) != PROTO_OK) {
		return PROTO_EIO;
	}
	sc.created_ms = head[0];
	sc.updated_ms = head[1];
	sc.c = &cmd.u.cluster;
	MDB_val h;
	char id[PROTO_MAX_STR + 1];
	size_t n = k->mv_size < sizeof(id) - 1 ? k->mv_size : sizeof(id) - 1;
	memcpy(id, k->mv_data, n);
	id[n] = '\0';
	if (key_get(rd, DB_CHEALTH, id, &h) == 0) {
		struct rec_reader r;
		rec_reader_init(&r, h.mv_data, h.mv_size);
		sc.last_run_ms = rec_get_i64(&r);
		sc.last_success_ms = rec_get_i64(&r);
		sc.failures = rec_get_u64(&r);
		rec_get_str(&r, err, sizeof(err));
		rec_get_str(&r, job, sizeof(job));
		sc.last_observations = rec_get_u64(&r);
	}
	sc.last_error = err;
	sc.last_job = job;
	*stop = cb(data, &sc);
	proto_cmd_free(&cmd);
	return PROTO_OK;
}

int store_clusters_each(struct store_read *rd, store_cluster_cb cb, void *data)
{
	MDB_cursor *cur;
	MDB_val k, v;
	if (mdb_cursor_open(rd->txn, rd->s->dbi[DB_CLUSTERS], &cur) != 0) {
		return PROTO_EIO;
	}
	int rv = PROTO_OK, stop = 0;
	int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == 0 && rv == PROTO_OK && !stop) {
		rv = cluster_emit(rd, &k, &v, cb, data, &stop);
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rv;
}

int store_cluster_get(struct store_read *rd, const char *id, store_cluster_cb cb, void *data)
{
	MDB_val k = {strlen(id), (void *)id}, v;
	int stop = 0;
	int rc = mdb_get(rd->txn, rd->s->dbi[DB_CLUSTERS], &k, &v);
	if (rc == MDB_NOTFOUND) {
		return PROTO_ENOTFOUND;
	}
	return rc != 0 ? PROTO_EIO : cluster_emit(rd, &k, &v, cb, data, &stop);
}

int store_lease_get(struct store_read *rd, const char *duty, struct store_lease *out)
{
	MDB_val v;
	int rc = key_get(rd, DB_LEASES, duty, &v);
	if (rc == MDB_NOTFOUND) {
		return PROTO_ENOTFOUND;
	}
	if (rc != 0) {
		return PROTO_EIO;
	}
	struct rec_reader r;
	rec_reader_init(&r, v.mv_data, v.mv_size);
	out->holder = rec_get_u64(&r);
	out->expires_ms = rec_get_i64(&r);
	return r.bad ? PROTO_EIO : PROTO_OK;
}

static int job_from(const MDB_val *k, const MDB_val *v, struct store_job *j)
{
	memset(j, 0, sizeof(*j));
	if (k->mv_size >= sizeof(j->id) || store_job_decode(v->mv_data, v->mv_size, j) != 0) {
		return PROTO_EIO;
	}
	memcpy(j->id, k->mv_data, k->mv_size);
	j->id[k->mv_size] = '\0';
	return PROTO_OK;
}

int store_jobs_each(struct store_read *rd, store_job_cb cb, void *data)
{
	MDB_cursor *cur;
	MDB_val k, v;
	struct store_job *j = malloc(sizeof(*j));
	if (j == NULL) {
		return PROTO_ENOMEM;
	}
	if (mdb_cursor_open(rd->txn, rd->s->dbi[DB_JOBS], &cur) != 0) {
		free(j);
		return PROTO_EIO;
	}
	int rv = PROTO_OK;
	int rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	while (rc == 0 && rv == PROTO_OK) {
		rv = job_from(&k, &v, j);
		if (rv == PROTO_OK && cb(data, j) != 0) {
			break;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	}
	mdb_cursor_close(cur);
	free(j);
	return rv;
}

int store_job_get(struct store_read *rd, const char *id, struct store_job *out)
{
	MDB_val k = {strlen(id), (void *)id}, v;
	int rc = mdb_get(rd->txn, rd->s->dbi[DB_JOBS], &k, &v);
	if (rc == MDB_NOTFOUND) {
		return PROTO_ENOTFOUND;
	}
	return rc != 0 ? PROTO_EIO : job_from(&k, &v, out);
}

int store_members_each(struct store_read *rd, store_member_cb cb, void *data)
{
	MDB_cursor *cur;
	MDB_val k, v;
	char name[PROTO_MAX_STR + 1], region[PROTO_MAX_STR + 1], raft[PROTO_MAX_STR + 1], rpc[PROTO_MAX_STR + 1],
	    http[PROTO_MAX_STR + 1];
	if (mdb_cursor_open(rd->txn, rd->s->dbi[DB_MEMBERS], &cur) != 0) {
		return PROTO_EIO;
	}
	int rv = PROTO_OK;
	int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == 0 && rv == PROTO_OK) {
		struct rec_reader r;
		struct proto_member m = {.name = name, .region = region, .raft = raft, .rpc = rpc, .http = http};
		rec_reader_init(&r, v.mv_data, v.mv_size);
		rec_get_str(&r, name, sizeof(name));
		rec_get_str(&r, region, sizeof(region));
		rec_get_str(&r, raft, sizeof(raft));
		rec_get_str(&r, rpc, sizeof(rpc));
		rec_get_str(&r, http, sizeof(http));
		if (r.bad || k.mv_size != 8) {
			rv = PROTO_EIO;
			break;
		}
		m.id = rec_be64(k.mv_data);
		if (cb(data, &m) != 0) {
			break;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rv;
}

