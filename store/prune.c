/* PRUNE (retention): old history entries and old or surplus jobs go, the
 * same on every node since every bound is in the command. A component's
 * current entry always stays. The result's updated is the rows deleted, its
 * created 1 when max_deletes stopped the work (the proposer asks again). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

struct prune_run {
	struct apply_ctx *a;
	const struct proto_prune *p;
	uint64_t deleted;
	bool full; /* max_deletes reached */
};

static bool room(struct prune_run *r)
{
	if (r->p->max_deletes != 0 && r->deleted >= r->p->max_deletes) {
		r->full = true;
		return false;
	}
	return true;
}

/* The row after the one just deleted under c (LMDB leaves the cursor on
 * it; at the end, NEXT says MDB_NOTFOUND). */
static int next_after_delete(MDB_cursor *c, MDB_val *k, MDB_val *v)
{
	int rc = mdb_cursor_get(c, k, v, MDB_GET_CURRENT);
	return rc == MDB_NOTFOUND || rc == EINVAL ? mdb_cursor_get(c, k, v, MDB_NEXT) : rc;
}

/* Removes the entries of one component beyond the bounds, oldest first.
 * cur is the DB_COMP value (current entry + seq + count). */
static int prune_component(struct prune_run *r, const MDB_val *ck, MDB_val *cur)
{
	struct apply_ctx *a = r->a;
	uint64_t count, cur_seq;
	if (cur->mv_size < 16) {
		return MDB_CORRUPTED;
	}
	memcpy(&count, (const char *)cur->mv_data + cur->mv_size - 8, 8);
	memcpy(&cur_seq, (const char *)cur->mv_data + cur->mv_size - 16, 8);
	bool by_count = r->p->history_keep != 0 && count > r->p->history_keep;
	if (!by_count && r->p->history_before_ms == 0) {
		return 0;
	}
	MDB_cursor *c;
	int rc = mdb_cursor_open(a->txn, a->s->dbi[DB_HIST], &c);
	if (rc != 0) {
		return rc;
	}
	MDB_val k = *ck, v;
	uint64_t removed = 0;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size == ck->mv_size + 8 && memcmp(k.mv_data, ck->mv_data, ck->mv_size) == 0) {
		uint64_t seq = rec_be64((const char *)k.mv_data + ck->mv_size);
		struct release_scratch sc;
		struct store_release e;
		if (store_decode_entry(&k, &v, 0, &sc, &e) != 0) {
			rc = MDB_CORRUPTED;
			break;
		}
		bool over = r->p->history_keep != 0 && count - removed > r->p->history_keep;
		bool old = r->p->history_before_ms != 0 && e.last_seen_ms < r->p->history_before_ms;
		if (seq == cur_seq || (!over && !old)) {
			break; /* newer entries are within the bounds too (last seen grows with seq) */
		}
		if (!room(r) || (rc = mdb_cursor_del(c, 0)) != 0) {
			break;
		}
		removed++;
		r->deleted++;
		rc = next_after_delete(c, &k, &v);
	}
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND) {
		rc = 0;
	}
	if (rc != 0 || removed == 0) {
		return rc;
	}
	/* The component's count, the release totals and the client's count drop
	 * (cur is the caller's copy, rewritten in place). */
	count -= removed;
	memcpy((char *)cur->mv_data + cur->mv_size - 8, &count, 8);
	if ((rc = store_put(a, DB_COMP, ck->mv_data, ck->mv_size, cur->mv_data, cur->mv_size)) != 0) {
		return rc;
	}
	struct rec_writer cl; /* the client, the key's first part */
	rec_init(&cl);
	rec_put_keypart(&cl, (const char *)ck->mv_data);
	if ((rc = store_counter_add(a, DB_META, "releases", strlen("releases"), -removed)) != 0) {
		return rc;
	}
	return store_counter_add(a, DB_CLIREL, cl.buf, cl.len, -removed);
}

static int prune_history(struct prune_run *r)
{
	if (r->p->history_keep == 0 && r->p->history_before_ms == 0) {
		return 0;
	}
	MDB_cursor *c;
	int rc = mdb_cursor_open(r->a->txn, r->a->s->dbi[DB_COMP], &c);
	if (rc != 0) {
		return rc;
	}
	MDB_val k, v;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && !r->full; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		/* Copies: prune_component writes DB_COMP, which may move what k and v point at. */
		char kb[512], *vb = malloc(v.mv_size);
		if (k.mv_size > sizeof(kb) || vb == NULL) {
			free(vb);
			rc = vb == NULL ? ENOMEM : MDB_CORRUPTED;
			break;
		}
		memcpy(kb, k.mv_data, k.mv_size);
		memcpy(vb, v.mv_data, v.mv_size);
		MDB_val kc = {k.mv_size, kb}, vc = {v.mv_size, vb};
		rc = prune_component(r, &kc, &vc);
		free(vb);
		if (rc != 0) {
			break;
		}
		/* Our cursor may be invalidated by the write: put it back on this key. */
		MDB_val again = kc;
		if ((rc = mdb_cursor_get(c, &again, &v, MDB_SET)) != 0) {
			break;
		}
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int prune_jobs(struct prune_run *r)
{
	struct apply_ctx *a = r->a;
	if (r->p->jobs_keep == 0 && r->p->jobs_before_ms == 0) {
		return 0;
	}
	MDB_stat st;
	int rc = mdb_stat(a->txn, a->s->dbi[DB_JOBS], &st);
	if (rc != 0) {
		return rc;
	}
	uint64_t left = st.ms_entries;
	MDB_cursor *c;
	if ((rc = mdb_cursor_open(a->txn, a->s->dbi[DB_JOBS], &c)) != 0) {
		return rc;
	}
	MDB_val k, v;
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); /* oldest first: ids are time-ordered */
	while (rc == 0) {
		struct store_job j;
		if (store_job_decode(v.mv_data, v.mv_size, &j) != 0) {
			rc = MDB_CORRUPTED;
			break;
		}
		bool finished = strcmp(j.status, "success") == 0 || strcmp(j.status, "failed") == 0 ||
		                strcmp(j.status, "cancelled") == 0;
		bool over = r->p->jobs_keep != 0 && left > r->p->jobs_keep;
		bool old = r->p->jobs_before_ms != 0 && finished && j.finished_ms < r->p->jobs_before_ms;
		if (!over && !old && r->p->jobs_before_ms == 0) {
			break; /* within the count from here on */
		}
		if ((!over && !old) || !finished) { /* kept; queued and running jobs stay, whatever their number */
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
			continue;
		}
		if (!room(r) || (rc = mdb_cursor_del(c, 0)) != 0) {
			break;
		}
		left--;
		r->deleted++;
		rc = next_after_delete(c, &k, &v);
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_apply_prune(struct apply_ctx *a)
{
	struct prune_run r = {.a = a, .p = &a->cmd->u.prune};
	int rc = prune_history(&r);
	if (rc == 0 && !r.full) {
		rc = prune_jobs(&r);
	}
	if (rc != 0) {
		return rc;
	}
	a->res->updated = (uint32_t)(r.deleted > UINT32_MAX ? UINT32_MAX : r.deleted);
	a->res->created = r.full ? 1 : 0;
	if (r.deleted == 0) {
		return 0;
	}
	struct store_json j;
	store_json_init(&j);
	store_json_int(&j, "deleted", (int64_t)r.deleted);
	store_json_int(&j, "more", r.full ? 1 : 0);
	return store_event(a, "retention.pruned", "", &j);
}
