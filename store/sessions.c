/* JWT signing keys and login sessions. A session is a family of refresh
 * tokens: only its newest may be exchanged, and presenting an older one
 * (stolen and replayed, or replayed by the thief's victim) revokes it all.
 * Every decision uses the cluster clock, so all nodes agree. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/identity.h"
#include "store/internal.h"

static int signkey_put(struct apply_ctx *a, const char *kid, int64_t created, int64_t retire, const char *sealed)
{
	struct rec_writer w;
	rec_init(&w);
	rec_put_i64(&w, created);
	rec_put_i64(&w, retire);
	rec_put_str(&w, sealed);
	return w.overflow ? EINVAL : store_put(a, DB_SIGNKEYS, kid, strlen(kid), w.buf, w.len);
}

struct signkey_row {
	char kid[STORE_ID_MAX];
	char sealed[PROTO_MAX_STR + 1];
	int64_t created_ms, retire_ms;
};

static int signkey_decode(const MDB_val *k, const MDB_val *v, struct signkey_row *out)
{
	struct rec_reader r;
	if (k->mv_size >= sizeof(out->kid)) {
		return MDB_CORRUPTED;
	}
	memcpy(out->kid, k->mv_data, k->mv_size);
	out->kid[k->mv_size] = '\0';
	rec_reader_init(&r, v->mv_data, v->mv_size);
	out->created_ms = rec_get_i64(&r);
	out->retire_ms = rec_get_i64(&r);
	rec_get_str(&r, out->sealed, sizeof(out->sealed));
	return r.bad ? MDB_CORRUPTED : 0;
}

/* The new key signs from now on; the one that signed verifies for
 * overlap_ms more; keys past their retirement go. */
int store_apply_signing_key(struct apply_ctx *a)
{
	const struct proto_signing_key *sk = &a->cmd->u.signing;
	MDB_cursor *cur;
	MDB_val k, v;
	struct signkey_row row;
	if (sk->kid[0] == '\0' || sk->sealed[0] == '\0' || sk->overlap_ms < 0) {
		a->res->code = PROTO_EINVAL;
		return 0;
	}
	int rc = mdb_cursor_open(a->txn, a->s->dbi[DB_SIGNKEYS], &cur);
	if (rc != 0) {
		return rc;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((rc = signkey_decode(&k, &v, &row)) != 0) {
			break;
		}
		if (strcmp(row.kid, sk->kid) == 0) {
			rc = EEXIST;
			break;
		}
		if (row.retire_ms != 0 && row.retire_ms <= a->clock_ms) {
			rc = mdb_cursor_del(cur, 0);
		} else if (row.retire_ms == 0) {
			mdb_cursor_close(cur);
			if ((rc = signkey_put(a, row.kid, row.created_ms, a->clock_ms + sk->overlap_ms, row.sealed)) != 0 ||
			    (rc = mdb_cursor_open(a->txn, a->s->dbi[DB_SIGNKEYS], &cur)) != 0) {
				return rc;
			}
			MDB_val at = {strlen(row.kid), row.kid};
			rc = mdb_cursor_get(cur, &at, &v, MDB_SET); /* back where it was, to go on */
		}
		if (rc != 0) {
			break;
		}
	}
	mdb_cursor_close(cur);
	if (rc == EEXIST) {
		a->res->code = PROTO_ECONFLICT;
		return 0;
	}
	if (rc != MDB_NOTFOUND) {
		return rc;
	}
	if ((rc = signkey_put(a, sk->kid, a->cmd->ts_ms, 0, sk->sealed)) != 0) {
		return rc;
	}
	struct store_json j;
	store_json_init(&j);
	store_json_str(&j, "kid", sk->kid);
	store_json_int(&j, "overlap_ms", sk->overlap_ms);
	return store_event(a, "auth.key_rotated", "", &j);
}

/* The session's key in DB_SESSEXP. */
static void exp_key(struct rec_writer *k, int64_t expires_ms, const char *family)
{
	rec_init(k);
	rec_put_be64(k, (uint64_t)expires_ms);
	rec_put_keypart(k, family);
}

/* Writes s; old_exp: its expiry as stored (0: new), whose index row goes. */
static int session_put(struct apply_ctx *a, const char *family, const struct store_session *s, int64_t old_exp)
{
	struct rec_writer w, k;
	if (old_exp != 0 && old_exp != s->expires_ms) {
		exp_key(&k, old_exp, family);
		MDB_val key = {k.len, k.buf};
		int rc = mdb_del(a->txn, a->s->dbi[DB_SESSEXP], &key, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND) {
			return rc;
		}
	}
	exp_key(&k, s->expires_ms, family);
	int rc = store_put(a, DB_SESSEXP, k.buf, k.len, "", 0);
	if (rc != 0) {
		return rc;
	}
	rec_init(&w);
	rec_put_str(&w, s->user_id);
	rec_put_str(&w, s->jti);
	rec_put_i64(&w, s->expires_ms);
	rec_put_i64(&w, s->created_ms);
	rec_put_u64(&w, s->revoked);
	rec_put_u64(&w, s->started_index);
	return w.overflow ? EINVAL : store_put(a, DB_SESSIONS, family, strlen(family), w.buf, w.len);
}

static int session_read(MDB_txn *txn, store *s, const char *family, struct store_session *out)
{
	MDB_val k = {strlen(family), (void *)family}, v;
	memset(out, 0, sizeof(*out));
	int rc = mdb_get(txn, s->dbi[DB_SESSIONS], &k, &v);
	if (rc != 0) {
		return rc;
	}
	struct rec_reader r;
	rec_reader_init(&r, v.mv_data, v.mv_size);
	rec_get_str(&r, out->user_id, sizeof(out->user_id));
	rec_get_str(&r, out->jti, sizeof(out->jti));
	out->expires_ms = rec_get_i64(&r);
	out->created_ms = rec_get_i64(&r);
	out->revoked = rec_get_u64(&r) != 0;
	out->started_index = rec_get_u64(&r);
	return r.bad ? MDB_CORRUPTED : 0;
}

int store_apply_session(struct apply_ctx *a)
{
	const struct proto_session *p = &a->cmd->u.session;
	struct store_session s;
	if (strlen(p->user_id) >= STORE_ID_MAX || strlen(p->jti) >= STORE_ID_MAX || strlen(p->new_jti) >= STORE_ID_MAX ||
	    p->family[0] == '\0') {
		a->res->code = PROTO_EINVAL;
		return 0;
	}
	int rc = session_read(a->txn, a->s, p->family, &s);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return rc;
	}
	bool exists = rc == 0;
	int64_t old_exp = exists ? s.expires_ms : 0;
	switch (p->op) {
	case PROTO_SESSION_START:
		if (exists) {
			a->res->code = PROTO_ECONFLICT;
			return 0;
		}
		s = (struct store_session){.expires_ms = p->expires_ms, .created_ms = a->cmd->ts_ms, .started_index = a->index};
		snprintf(s.user_id, sizeof(s.user_id), "%s", p->user_id);
		snprintf(s.jti, sizeof(s.jti), "%s", p->jti);
		return session_put(a, p->family, &s, old_exp);
	case PROTO_SESSION_ROTATE:
		if (!exists || s.revoked || s.expires_ms <= a->clock_ms) {
			a->res->code = PROTO_ENOTFOUND;
			return 0;
		}
		if (strcmp(s.jti, p->jti) != 0) { /* an old refresh token again: the family is compromised */
			s.revoked = true;
			a->res->updated = 1; /* tells the proposer the family was revoked (the result code stays OK) */
			return session_put(a, p->family, &s, old_exp);
		}
		snprintf(s.jti, sizeof(s.jti), "%s", p->new_jti);
		s.expires_ms = p->expires_ms;
		return session_put(a, p->family, &s, old_exp);
	case PROTO_SESSION_REVOKE:
		if (!exists) {
			a->res->code = PROTO_ENOTFOUND;
			return 0;
		}
		s.revoked = true;
		return session_put(a, p->family, &s, old_exp);
	}
	a->res->code = PROTO_EINVAL;
	return 0;
}

/* ---- reads ---- */

int store_signing_keys_each(struct store_read *rd, store_signing_key_cb cb, void *data)
{
	MDB_cursor *cur;
	MDB_val k, v;
	struct signkey_row row;
	int rv = PROTO_OK, stop = 0;
	if (mdb_cursor_open(rd->txn, rd->s->dbi[DB_SIGNKEYS], &cur) != 0) {
		return PROTO_EIO;
	}
	for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !stop; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (signkey_decode(&k, &v, &row) != 0) {
			rv = PROTO_EIO;
			break;
		}
		struct store_signing_key sk = {row.kid, row.sealed, row.created_ms, row.retire_ms};
		stop = cb(data, &sk);
	}
	mdb_cursor_close(cur);
	return rv;
}

int store_session_get(struct store_read *rd, const char *family, struct store_session *out)
{
	int rc = session_read(rd->txn, rd->s, family, out);
	return rc == 0 ? PROTO_OK : rc == MDB_NOTFOUND ? PROTO_ENOTFOUND : PROTO_EIO;
}
