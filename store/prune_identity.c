/* PRUNE_IDENTITY (retention): sessions whose refresh token expired go (a
 * revoked one too: its tokens are refused either way), and audit rows
 * beyond the newest audit_keep or older than audit_before_ms, oldest
 * first. Bounded by max_deletes; created 1 says more are left. */
#include <errno.h>
#include <string.h>

#include "store/identity.h"
#include "store/internal.h"

struct run {
	struct apply_ctx *a;
	const struct proto_prune_identity *p;
	uint64_t deleted;
	bool full;
};

static bool room(struct run *r)
{
	if (r->p->max_deletes != 0 && r->deleted >= r->p->max_deletes) {
		r->full = true;
		return false;
	}
	return true;
}

static int prune_sessions(struct run *r)
{
	MDB_cursor *c;
	MDB_val k, v;
	if (r->p->sessions_before_ms == 0) {
		return 0;
	}
	int rc = mdb_cursor_open(r->a->txn, r->a->s->dbi[DB_SESSEXP], &c);
	if (rc != 0) {
		return rc;
	}
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == 0 && k.mv_size > 9 &&
	       (int64_t)rec_be64(k.mv_data) < r->p->sessions_before_ms && room(r)) {
		MDB_val family = {k.mv_size - 9, (char *)k.mv_data + 8}; /* after the expiry, before the NUL */
		int drc = mdb_del(r->a->txn, r->a->s->dbi[DB_SESSIONS], &family, NULL);
		if ((drc != 0 && drc != MDB_NOTFOUND) || (rc = mdb_cursor_del(c, 0)) != 0) {
			rc = drc != 0 && drc != MDB_NOTFOUND ? drc : rc;
			break;
		}
		r->deleted++;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

static int prune_audit(struct run *r)
{
	MDB_cursor *c;
	MDB_val k, v;
	MDB_stat st;
	int rc = mdb_stat(r->a->txn, r->a->s->dbi[DB_AUDIT], &st);
	if (rc != 0 || (r->p->audit_keep == 0 && r->p->audit_before_ms == 0)) {
		return rc;
	}
	uint64_t n = st.ms_entries;
	if ((rc = mdb_cursor_open(r->a->txn, r->a->s->dbi[DB_AUDIT], &c)) != 0) {
		return rc;
	}
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == 0 && room(r)) {
		int64_t ts = 0;
		if (v.mv_size >= 8) {
			memcpy(&ts, v.mv_data, 8);
		}
		bool surplus = r->p->audit_keep != 0 && n > r->p->audit_keep;
		if (!surplus && !(r->p->audit_before_ms != 0 && ts < r->p->audit_before_ms)) {
			break;
		}
		if ((rc = mdb_cursor_del(c, 0)) != 0) {
			break;
		}
		n--;
		r->deleted++;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

int store_apply_prune_identity(struct apply_ctx *a)
{
	struct run r = {a, &a->cmd->u.prune_identity, 0, false};
	int rc = prune_sessions(&r);
	if (rc == 0) {
		rc = prune_audit(&r);
	}
	a->res->updated = (uint32_t)r.deleted;
	a->res->created = r.full;
	return rc;
}

bool store_identity_prunable(struct store_read *rd, const struct proto_prune_identity *p)
{
	MDB_cursor *c;
	MDB_val k, v;
	MDB_stat st;
	bool work = false;
	if (p->sessions_before_ms != 0 && mdb_cursor_open(rd->txn, rd->s->dbi[DB_SESSEXP], &c) == 0) {
		work = mdb_cursor_get(c, &k, &v, MDB_FIRST) == 0 && k.mv_size > 8 &&
		       (int64_t)rec_be64(k.mv_data) < p->sessions_before_ms;
		mdb_cursor_close(c);
	}
	if (!work && p->audit_keep != 0 && mdb_stat(rd->txn, rd->s->dbi[DB_AUDIT], &st) == 0) {
		work = st.ms_entries > p->audit_keep;
	}
	if (!work && p->audit_before_ms != 0 && mdb_cursor_open(rd->txn, rd->s->dbi[DB_AUDIT], &c) == 0) {
		int64_t ts = INT64_MAX;
		if (mdb_cursor_get(c, &k, &v, MDB_FIRST) == 0 && v.mv_size >= 8) {
			memcpy(&ts, v.mv_data, 8);
		}
		work = ts < p->audit_before_ms;
		mdb_cursor_close(c);
	}
	return work;
}
