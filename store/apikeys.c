/* Managed API keys: each key's record, the index from its hash (all a
 * request presents is the key, so that is how it is found), and when it was
 * last used. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/identity.h"
#include "store/internal.h"

int store_apply_apikey_put(struct apply_ctx *a)
{
	const struct proto_apikey *k = &a->cmd->u.apikey;
	MDB_val id = {strlen(k->id), (void *)k->id}, hash = {strlen(k->hash), (void *)k->hash}, v;
	int rc = mdb_get(a->txn, a->s->dbi[DB_APIKEYS], &id, &v);
	if (rc == 0 || (rc == MDB_NOTFOUND && (rc = mdb_get(a->txn, a->s->dbi[DB_KEYHASH], &hash, &v)) == 0)) {
		a->res->code = PROTO_ECONFLICT; /* keys are never replaced: a new one gets a new id */
		return 0;
	}
	if (rc != MDB_NOTFOUND) {
		return rc;
	}
	int64_t head[1] = {a->cmd->ts_ms};
	if ((rc = store_put_cmd(a, DB_APIKEYS, k->id, strlen(k->id), head, 1)) != 0 || a->res->code != PROTO_OK) {
		return rc;
	}
	if ((rc = store_put(a, DB_KEYHASH, k->hash, strlen(k->hash), k->id, strlen(k->id))) != 0) {
		return rc;
	}
	struct store_json j;
	store_json_init(&j);
	store_json_str(&j, "id", k->id);
	store_json_str(&j, "name", k->name);
	store_json_str(&j, "scope", k->scope);
	const char *colon = strchr(k->scope, ':');
	return store_event(a, "api_key.created", colon != NULL ? colon + 1 : "", &j);
}

static int del_key(MDB_txn *txn, MDB_dbi dbi, const char *key)
{
	MDB_val k = {strlen(key), (void *)key};
	int rc = mdb_del(txn, dbi, &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_apply_apikey_delete(struct apply_ctx *a)
{
	const char *id = a->cmd->u.apikey_id;
	MDB_val k = {strlen(id), (void *)id}, v;
	struct proto_cmd old;
	int64_t head[1];
	int rc = mdb_get(a->txn, a->s->dbi[DB_APIKEYS], &k, &v);
	if (rc == MDB_NOTFOUND) {
		a->res->code = PROTO_ENOTFOUND;
		return 0;
	}
	if (rc != 0) {
		return rc;
	}
	if (store_get_cmd(&v, PROTO_CMD_APIKEY_PUT, head, 1, &old) != PROTO_OK) {
		return MDB_CORRUPTED;
	}
	const char *colon = strchr(old.u.apikey.scope, ':');
	struct store_json j;
	store_json_init(&j);
	store_json_str(&j, "id", id);
	store_json_str(&j, "name", old.u.apikey.name);
	if ((rc = del_key(a->txn, a->s->dbi[DB_KEYHASH], old.u.apikey.hash)) == 0 &&
	    (rc = del_key(a->txn, a->s->dbi[DB_KEYUSED], id)) == 0 &&
	    (rc = mdb_del(a->txn, a->s->dbi[DB_APIKEYS], &k, NULL)) == 0) {
		rc = store_event(a, "api_key.revoked", colon != NULL ? colon + 1 : "", &j);
	}
	proto_cmd_free(&old);
	return rc;
}

int store_apply_keys_used(struct apply_ctx *a)
{
	for (uint32_t i = 0; i < a->cmd->u.keys_used.n; i++) {
		const struct proto_key_use *u = &a->cmd->u.keys_used.uses[i];
		MDB_val k = {strlen(u->id), (void *)u->id}, v;
		int rc = mdb_get(a->txn, a->s->dbi[DB_APIKEYS], &k, &v);
		if (rc == MDB_NOTFOUND) {
			continue; /* revoked meanwhile */
		}
		int64_t prev = 0;
		if (rc == 0 && (rc = mdb_get(a->txn, a->s->dbi[DB_KEYUSED], &k, &v)) == 0 && v.mv_size == 8) {
			memcpy(&prev, v.mv_data, 8);
		}
		if (rc != 0 && rc != MDB_NOTFOUND) {
			return rc;
		}
		if (u->at_ms > prev && (rc = store_put(a, DB_KEYUSED, u->id, strlen(u->id), &u->at_ms, 8)) != 0) {
			return rc;
		}
	}
	return 0;
}

/* ---- reads ---- */

static int emit(struct store_read *rd, const MDB_val *k, const MDB_val *v, store_apikey_cb cb, void *data, int *stop)
{
	struct proto_cmd cmd;
	int64_t head[1];
	if (store_get_cmd(v, PROTO_CMD_APIKEY_PUT, head, 1, &cmd) != PROTO_OK) {
		return PROTO_EIO;
	}
	struct store_apikey sk = {&cmd.u.apikey, head[0], 0};
	MDB_val used;
	if (mdb_get(rd->txn, rd->s->dbi[DB_KEYUSED], (MDB_val *)k, &used) == 0 && used.mv_size == 8) {
		memcpy(&sk.last_used_ms, used.mv_data, 8);
	}
	*stop = cb(data, &sk);
	proto_cmd_free(&cmd);
	return PROTO_OK;
}

int store_apikey_get(struct store_read *rd, const char *id, store_apikey_cb cb, void *data)
{
	MDB_val k = {strlen(id), (void *)id}, v;
	int stop = 0;
	int rc = mdb_get(rd->txn, rd->s->dbi[DB_APIKEYS], &k, &v);
	if (rc == MDB_NOTFOUND) {
		return PROTO_ENOTFOUND;
	}
	return rc != 0 ? PROTO_EIO : emit(rd, &k, &v, cb, data, &stop);
}

int store_apikey_by_hash(struct store_read *rd, const char *hash_hex, store_apikey_cb cb, void *data)
{
	MDB_val h = {strlen(hash_hex), (void *)hash_hex}, id, v;
	int stop = 0;
	int rc = mdb_get(rd->txn, rd->s->dbi[DB_KEYHASH], &h, &id);
	if (rc == 0) {
		rc = mdb_get(rd->txn, rd->s->dbi[DB_APIKEYS], &id, &v);
	}
	if (rc == MDB_NOTFOUND) {
		return PROTO_ENOTFOUND;
	}
	return rc != 0 ? PROTO_EIO : emit(rd, &id, &v, cb, data, &stop);
}

int store_apikeys_each(struct store_read *rd, store_apikey_cb cb, void *data)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rv = PROTO_OK, stop = 0;
	if (mdb_cursor_open(rd->txn, rd->s->dbi[DB_APIKEYS], &cur) != 0) {
		return PROTO_EIO;
	}
	for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && rv == PROTO_OK && !stop;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		rv = emit(rd, &k, &v, cb, data, &stop);
	}
	mdb_cursor_close(cur);
	return rv;
}
