/* IMPORT: releases and pings from another tracker's database (the Release
 * Tracker's releases and slave_pings tables). An imported row is an image
 * with its first and last sighting. Applying the same rows again changes
 * nothing, whatever time has passed (idempotency keys expire; this does
 * not), and rows older than what a component already runs go below it in
 * its history, so the current entry stays the newest. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

#define IMPORT_MAX_MOVED 4096 /* newer entries an older row may slide under */

struct comp_entry {
	struct store_release r;
	struct release_scratch sc;
	MDB_val key, val; /* copies, owned */
};

/* The history entries of component ck, in key (creation) order. */
struct comp_history {
	struct comp_entry *e;
	size_t n;
};

static void history_free(struct comp_history *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->e[i].key.mv_data);
		free(h->e[i].val.mv_data);
	}
	free(h->e);
	h->e = NULL;
	h->n = 0;
}

static int history_load(struct apply_ctx *a, const struct rec_writer *ck, struct comp_history *h)
{
	MDB_cursor *cur;
	MDB_val k = {ck->len, (void *)ck->buf}, v;
	int rc = mdb_cursor_open(a->txn, a->s->dbi[DB_HIST], &cur);
	if (rc != 0) {
		return rc;
	}
	size_t cap = 0;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size == ck->len + 8 && memcmp(k.mv_data, ck->buf, ck->len) == 0) {
		if (h->n == IMPORT_MAX_MOVED) {
			rc = MDB_MAP_FULL; /* beyond what one apply may rewrite; never expected */
			break;
		}
		if (h->n == cap) {
			cap = cap != 0 ? cap * 2 : 8;
			struct comp_entry *p = realloc(h->e, cap * sizeof(*p));
			if (p == NULL) {
				rc = ENOMEM;
				break;
			}
			h->e = p;
		}
		struct comp_entry *e = &h->e[h->n];
		e->key = (MDB_val){k.mv_size, malloc(k.mv_size)};
		e->val = (MDB_val){v.mv_size, malloc(v.mv_size)};
		if (e->key.mv_data == NULL || e->val.mv_data == NULL) {
			free(e->key.mv_data);
			free(e->val.mv_data);
			rc = ENOMEM;
			break;
		}
		memcpy(e->key.mv_data, k.mv_data, k.mv_size);
		memcpy(e->val.mv_data, v.mv_data, v.mv_size);
		h->n++;
		if (store_decode_entry(&e->key, &e->val, 0, &e->sc, &e->r) != 0) {
			rc = MDB_CORRUPTED;
			break;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The observation naming entry r's image (for store_entry_rec). */
static struct proto_observation image_of(const struct store_release *r)
{
	struct proto_observation o = {.image_repo = r->image_repo, .image_name = r->image_name,
	                              .image_tag = r->image_tag, .image_sha = r->image_sha};
	return o;
}

/* Writes entry r at history sequence seq with first..last, and, when it is
 * the component's current entry, its current copy too. */
static int entry_write(struct apply_ctx *a, const struct rec_writer *ck, const struct store_release *r, uint64_t seq,
                       int64_t first, int64_t last, bool current, uint64_t count)
{
	struct rec_writer hk, hv, cv;
	struct proto_observation o = image_of(r);
	store_entry_rec(&hv, &o, first, last, r->index);
	hk = *ck;
	rec_put_be64(&hk, seq);
	int rc = store_put(a, DB_HIST, hk.buf, hk.len, hv.buf, hv.len);
	if (rc != 0 || !current) {
		return rc;
	}
	cv = hv;
	rec_put_u64(&cv, seq);
	rec_put_u64(&cv, count);
	return store_put(a, DB_COMP, ck->buf, ck->len, cv.buf, cv.len);
}

static bool same_image(const struct store_release *r, const struct proto_observation *o)
{
	return strcmp(r->image_tag, o->image_tag) == 0 && strcmp(r->image_sha, o->image_sha) == 0;
}

/* Slides the entries newer than the row (last_seen after it) above a new
 * entry for the row: their records move to fresh sequence numbers in their
 * order, so history (newest first by sequence) stays in time order. */
static int insert_below(struct apply_ctx *a, const struct rec_writer *ck, const struct comp_history *h,
                        const struct proto_import_row *row, uint64_t count)
{
	const struct proto_observation *o = &row->obs;
	int rc;
	for (size_t i = 0; i < h->n; i++) {
		if (h->e[i].r.last_seen_ms > row->last_seen_ms &&
		    (rc = mdb_del(a->txn, a->s->dbi[DB_HIST], (MDB_val *)&h->e[i].key, NULL)) != 0) {
			return rc;
		}
	}
	uint64_t seq = store_meta_get(a->txn, a->s, "seq");
	struct store_release fresh = {.image_repo = o->image_repo, .image_name = o->image_name,
	                              .image_tag = o->image_tag, .image_sha = o->image_sha, .index = a->index};
	if ((rc = entry_write(a, ck, &fresh, ++seq, o->seen_at_ms, row->last_seen_ms, false, 0)) != 0) {
		return rc;
	}
	size_t last_moved = 0;
	for (size_t i = 0; i < h->n; i++) {
		if (h->e[i].r.last_seen_ms > row->last_seen_ms) {
			last_moved = i;
		}
	}
	for (size_t i = 0; i < h->n; i++) {
		const struct store_release *r = &h->e[i].r;
		if (r->last_seen_ms > row->last_seen_ms &&
		    (rc = entry_write(a, ck, r, ++seq, r->first_seen_ms, r->last_seen_ms, i == last_moved, count)) != 0) {
			return rc;
		}
	}
	if ((rc = store_put(a, DB_META, "seq", 3, &seq, sizeof(seq))) != 0) {
		return rc;
	}
	struct rec_writer cl;
	rec_init(&cl);
	rec_put_keypart(&cl, o->client);
	if ((rc = store_counter_add(a, DB_META, "releases", strlen("releases"), 1)) != 0 ||
	    (rc = store_counter_add(a, DB_CLIREL, cl.buf, cl.len, 1)) != 0) {
		return rc;
	}
	a->res->created++;
	return 0;
}

static int import_row(struct apply_ctx *a, const struct proto_import_row *row)
{
	const struct proto_observation *o = &row->obs;
	struct rec_writer ck;
	store_comp_key(&ck, o->client, o->env, o->ns, o->workload, o->container, o->kind);
	if (ck.overflow || row->last_seen_ms < o->seen_at_ms) {
		a->res->code = PROTO_EINVAL;
		return 0;
	}
	MDB_val key = {ck.len, ck.buf}, val;
	int rc = mdb_get(a->txn, a->s->dbi[DB_COMP], &key, &val);
	if (rc == MDB_NOTFOUND) {
		return store_open_entry(a, &ck, o, o->seen_at_ms, row->last_seen_ms, 1);
	}
	if (rc != 0) {
		return rc;
	}
	struct release_scratch sc;
	struct store_release cur;
	uint64_t count = 0;
	if (store_decode_entry(&key, &val, 1, &sc, &cur) != 0 || val.mv_size < sizeof(count)) {
		return MDB_CORRUPTED;
	}
	memcpy(&count, (const char *)val.mv_data + val.mv_size - sizeof(count), sizeof(count));
	struct comp_history h = {0};
	if ((rc = history_load(a, &ck, &h)) != 0) {
		history_free(&h);
		return rc;
	}
	/* The row was imported before (same image, same first sighting), or it
	 * is the image the component runs now (a slave reported it already):
	 * one entry, stretched to cover both. */
	const struct store_release *match = NULL;
	for (size_t i = 0; i < h.n && match == NULL; i++) {
		if (same_image(&h.e[i].r, o) && h.e[i].r.first_seen_ms == o->seen_at_ms) {
			match = &h.e[i].r;
		}
	}
	if (match == NULL && same_image(&cur, o)) {
		for (size_t i = 0; i < h.n && match == NULL; i++) {
			match = h.e[i].r.seq == cur.seq ? &h.e[i].r : NULL;
		}
	}
	if (match != NULL) {
		int64_t first = match->first_seen_ms < o->seen_at_ms ? match->first_seen_ms : o->seen_at_ms;
		int64_t last = match->last_seen_ms > row->last_seen_ms ? match->last_seen_ms : row->last_seen_ms;
		if (first != match->first_seen_ms || last != match->last_seen_ms) {
			rc = entry_write(a, &ck, match, match->seq, first, last, match->seq == cur.seq, count);
			a->res->updated++;
		}
	} else if (row->last_seen_ms >= cur.last_seen_ms) {
		rc = store_open_entry(a, &ck, o, o->seen_at_ms, row->last_seen_ms, count + 1);
	} else {
		rc = insert_below(a, &ck, &h, row, count + 1);
	}
	history_free(&h);
	return rc;
}

int store_apply_import(struct apply_ctx *a)
{
	const struct proto_import *im = &a->cmd->u.import;
	int rc = 0;
	for (uint32_t i = 0; i < im->n_rows && rc == 0; i++) {
		rc = import_row(a, &im->rows[i]);
	}
	for (uint32_t i = 0; i < im->n_pings && rc == 0; i++) {
		rc = store_ping(a, &im->pings[i], false); /* lists client/env too */
	}
	if (rc != 0 || (im->n_rows == 0 && im->n_pings == 0)) {
		return rc;
	}
	/* One event for the batch: webhooks do not hear of each historical row. */
	struct store_json j;
	store_json_init(&j);
	store_json_int(&j, "releases", im->n_rows);
	store_json_int(&j, "pings", im->n_pings);
	store_json_int(&j, "created", a->res->created);
	store_json_int(&j, "updated", a->res->updated);
	return store_event(a, "release.imported", "", &j);
}
