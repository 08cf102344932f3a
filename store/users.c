/* Users and the index that finds them by username or email. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/identity.h"
#include "store/internal.h"

#define IDX_MAX (PROTO_MAX_STR + 3)

/* "u:" or "e:" + name in lower case; its length. */
static size_t idx_key(char out[IDX_MAX], char kind, const char *name)
{
	size_t n = strlen(name);
	out[0] = kind;
	out[1] = ':';
	for (size_t i = 0; i < n && i < PROTO_MAX_STR; i++) {
		out[2 + i] = (char)tolower((unsigned char)name[i]);
	}
	return 2 + (n < PROTO_MAX_STR ? n : PROTO_MAX_STR);
}

/* The id the index holds for kind:name into id (cap bytes); MDB_NOTFOUND. */
static int idx_get(MDB_txn *txn, store *s, char kind, const char *name, char *id, size_t cap)
{
	char key[IDX_MAX];
	MDB_val k = {idx_key(key, kind, name), key}, v;
	int rc = mdb_get(txn, s->dbi[DB_USERIDX], &k, &v);
	if (rc == 0) {
		snprintf(id, cap, "%.*s", (int)v.mv_size, (const char *)v.mv_data);
	}
	return rc;
}

static int idx_del(struct apply_ctx *a, char kind, const char *name)
{
	char key[IDX_MAX];
	MDB_val k = {idx_key(key, kind, name), key};
	int rc = name[0] != '\0' ? mdb_del(a->txn, a->s->dbi[DB_USERIDX], &k, NULL) : 0;
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int idx_put(struct apply_ctx *a, char kind, const char *name, const char *id)
{
	char key[IDX_MAX];
	size_t n = idx_key(key, kind, name);
	return name[0] != '\0' ? store_put(a, DB_USERIDX, key, n, id, strlen(id)) : 0;
}

/* True if kind:name is free or already id's. */
static int idx_free(struct apply_ctx *a, char kind, const char *name, const char *id, bool *ok)
{
	char other[PROTO_MAX_STR + 1];
	int rc = name[0] != '\0' ? idx_get(a->txn, a->s, kind, name, other, sizeof(other)) : MDB_NOTFOUND;
	*ok = rc == MDB_NOTFOUND || (rc == 0 && strcmp(other, id) == 0);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int user_event(struct apply_ctx *a, const char *type, const struct proto_user *u)
{
	struct store_json j;
	store_json_init(&j);
	store_json_str(&j, "id", u->id);
	store_json_str(&j, "username", u->username);
	store_json_str(&j, "role", u->role);
	return store_event(a, type, u->client, &j);
}

int store_apply_user_put(struct apply_ctx *a)
{
	const struct proto_user *u = &a->cmd->u.user;
	MDB_val k = {strlen(u->id), (void *)u->id}, v;
	struct proto_cmd old = {0};
	/* created, updated, and the Raft index of the last password set (sessions
	 * started before it are over: gw_auth_session_check) */
	int64_t head[3] = {a->cmd->ts_ms, a->cmd->ts_ms, (int64_t)a->index};
	int rc = mdb_get(a->txn, a->s->dbi[DB_USERS], &k, &v);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return rc;
	}
	bool exists = rc == 0;
	if (exists == (u->create == 1)) {
		a->res->code = exists ? PROTO_ECONFLICT : PROTO_ENOTFOUND;
		return 0;
	}
	if (exists && store_get_cmd(&v, PROTO_CMD_USER_PUT, head, 3, &old) != PROTO_OK) {
		return MDB_CORRUPTED;
	}
	bool name_ok, mail_ok;
	if ((rc = idx_free(a, 'u', u->username, u->id, &name_ok)) != 0 ||
	    (rc = idx_free(a, 'e', u->email, u->id, &mail_ok)) != 0) {
		proto_cmd_free(&old);
		return rc;
	}
	if (!name_ok || !mail_ok) {
		a->res->code = PROTO_ECONFLICT;
		proto_cmd_free(&old);
		return 0;
	}
	if (exists && ((rc = idx_del(a, 'u', old.u.user.username)) != 0 || (rc = idx_del(a, 'e', old.u.user.email)) != 0)) {
		proto_cmd_free(&old);
		return rc;
	}
	head[1] = a->cmd->ts_ms;
	if (u->pw_hash[0] != '\0') {
		head[2] = (int64_t)a->index;
	}
	struct proto_cmd saved = *a->cmd;
	if (u->pw_hash[0] == '\0') { /* keeps the stored hash */
		saved.u.user.pw_hash = exists ? old.u.user.pw_hash : "!";
	}
	if (u->create == 2) { /* a user's own update never undoes an admin's change racing it */
		saved.u.user.role = old.u.user.role;
		saved.u.user.client = old.u.user.client;
		saved.u.user.active = old.u.user.active;
		saved.u.user.create = 0;
	}
	const struct proto_cmd *cmd = a->cmd;
	a->cmd = &saved;
	rc = store_put_cmd(a, DB_USERS, u->id, strlen(u->id), head, 3);
	a->cmd = cmd;
	proto_cmd_free(&old);
	if (rc == 0 && (rc = idx_put(a, 'u', u->username, u->id)) == 0) {
		rc = idx_put(a, 'e', u->email, u->id);
	}
	if (rc == 0 && !exists) {
		uint64_t one = 1; /* the bootstrap admin is made once, not again when every user is gone */
		rc = store_put(a, DB_META, "users_made", strlen("users_made"), &one, sizeof(one));
	}
	return rc != 0 ? rc : user_event(a, exists ? "user.updated" : "user.created", u);
}

int store_apply_user_delete(struct apply_ctx *a)
{
	const char *id = a->cmd->u.user_id;
	MDB_val k = {strlen(id), (void *)id}, v;
	struct proto_cmd old;
	int64_t head[3];
	int rc = mdb_get(a->txn, a->s->dbi[DB_USERS], &k, &v);
	if (rc == MDB_NOTFOUND) {
		a->res->code = PROTO_ENOTFOUND;
		return 0;
	}
	if (rc != 0) {
		return rc;
	}
	if (store_get_cmd(&v, PROTO_CMD_USER_PUT, head, 3, &old) != PROTO_OK) {
		return MDB_CORRUPTED;
	}
	if ((rc = idx_del(a, 'u', old.u.user.username)) == 0 && (rc = idx_del(a, 'e', old.u.user.email)) == 0 &&
	    (rc = mdb_del(a->txn, a->s->dbi[DB_USERS], &k, NULL)) == 0) {
		rc = user_event(a, "user.deleted", &old.u.user);
	}
	proto_cmd_free(&old);
	return rc;
}

/* ---- reads ---- */

static int emit(const MDB_val *v, store_user_cb cb, void *data, int *stop)
{
	struct proto_cmd cmd;
	int64_t head[3];
	if (store_get_cmd(v, PROTO_CMD_USER_PUT, head, 3, &cmd) != PROTO_OK) {
		return PROTO_EIO;
	}
	struct store_user su = {&cmd.u.user, head[0], head[1], (uint64_t)head[2]};
	*stop = cb(data, &su);
	proto_cmd_free(&cmd);
	return PROTO_OK;
}

int store_user_get(struct store_read *rd, const char *id, store_user_cb cb, void *data)
{
	MDB_val k = {strlen(id), (void *)id}, v;
	int stop = 0;
	int rc = mdb_get(rd->txn, rd->s->dbi[DB_USERS], &k, &v);
	if (rc == MDB_NOTFOUND) {
		return PROTO_ENOTFOUND;
	}
	return rc != 0 ? PROTO_EIO : emit(&v, cb, data, &stop);
}

int store_user_find(struct store_read *rd, const char *name, store_user_cb cb, void *data)
{
	char id[PROTO_MAX_STR + 1];
	int rc = idx_get(rd->txn, rd->s, 'u', name, id, sizeof(id));
	if (rc == MDB_NOTFOUND) {
		rc = idx_get(rd->txn, rd->s, 'e', name, id, sizeof(id));
	}
	if (rc == MDB_NOTFOUND) {
		return PROTO_ENOTFOUND;
	}
	return rc != 0 ? PROTO_EIO : store_user_get(rd, id, cb, data);
}

int store_users_each(struct store_read *rd, store_user_cb cb, void *data)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rv = PROTO_OK, stop = 0;
	if (mdb_cursor_open(rd->txn, rd->s->dbi[DB_USERS], &cur) != 0) {
		return PROTO_EIO;
	}
	for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && rv == PROTO_OK && !stop;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		rv = emit(&v, cb, data, &stop);
	}
	mdb_cursor_close(cur);
	return rv;
}

bool store_users_made(struct store_read *rd)
{
	return store_meta_get(rd->txn, rd->s, "users_made") != 0;
}

uint64_t store_users_count(struct store_read *rd)
{
	MDB_stat st;
	return mdb_stat(rd->txn, rd->s->dbi[DB_USERS], &st) == 0 ? st.ms_entries : 0;
}
