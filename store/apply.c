/* The deterministic state machine: one Raft entry, one LMDB write
 * transaction that also records the entry's index. Nothing here reads the
 * clock: times come inside the command from the proposing node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "lib/log.h"

int store_put(struct apply_ctx *a, enum store_db db, const void *k, size_t klen, const void *v, size_t vlen)
{
	MDB_val key = {klen, (void *)k}, val = {vlen, (void *)v};
	return mdb_put(a->txn, a->s->dbi[db], &key, &val, 0);
}

static int meta_put(struct apply_ctx *a, const char *name, uint64_t v)
{
	return store_put(a, DB_META, name, strlen(name), &v, sizeof(v));
}

int store_counter_add(struct apply_ctx *a, enum store_db db, const void *k, size_t klen, uint64_t delta)
{
	MDB_val key = {klen, (void *)k}, val;
	uint64_t x = 0;
	int rc = mdb_get(a->txn, a->s->dbi[db], &key, &val);
	if (rc == 0 && val.mv_size == sizeof(x)) {
		memcpy(&x, val.mv_data, sizeof(x));
	} else if (rc != 0 && rc != MDB_NOTFOUND) {
		return rc;
	}
	x += delta;
	return store_put(a, db, k, klen, &x, sizeof(x));
}

void store_entry_rec(struct rec_writer *w, const struct proto_observation *o, int64_t first, int64_t last,
                      uint64_t index)
{
	rec_init(w);
	rec_put_str(w, o->image_repo);
	rec_put_str(w, o->image_name);
	rec_put_str(w, o->image_tag);
	rec_put_str(w, o->image_sha);
	rec_put_i64(w, first);
	rec_put_i64(w, last);
	rec_put_u64(w, index);
}

/* Makes sure client/env is listed, without touching its ping. */
int store_env_touch(struct apply_ctx *a, const char *client, const char *env)
{
	struct rec_writer k, v;
	MDB_val key, val;
	rec_init(&k);
	rec_put_keypart(&k, client);
	rec_put_keypart(&k, env);
	key.mv_size = k.len;
	key.mv_data = k.buf;
	int rc = mdb_get(a->txn, a->s->dbi[DB_ENVS], &key, &val);
	if (rc != MDB_NOTFOUND) {
		return rc;
	}
	rec_init(&v);
	rec_put_i64(&v, 0);
	rec_put_str(&v, "");
	return store_put(a, DB_ENVS, k.buf, k.len, v.buf, v.len);
}

/* The event data naming a component and its image. */
static void obs_json(struct store_json *j, const struct proto_observation *o)
{
	store_json_init(j);
	store_json_str(j, "client_name", o->client);
	store_json_str(j, "env_name", o->env);
	store_json_str(j, "namespace", o->ns);
	store_json_str(j, "workload_kind", o->kind);
	store_json_str(j, "workload_name", o->workload);
	store_json_str(j, "container_name", o->container);
	store_json_str(j, "image_repo", o->image_repo);
	store_json_str(j, "image_name", o->image_name);
	store_json_str(j, "image_tag", o->image_tag);
	store_json_str(j, "image_sha", o->image_sha);
	store_json_int(j, "seen_at_ms", o->seen_at_ms);
}

/* A new history entry becomes the component's current one. */
static int open_entry(struct apply_ctx *a, const struct rec_writer *ck, const struct proto_observation *o,
                      uint64_t count)
{
	int rc = store_open_entry(a, ck, o, o->seen_at_ms, o->seen_at_ms, count);
	if (rc != 0) {
		return rc;
	}
	struct store_json j;
	obs_json(&j, o);
	return store_event(a, "release.created", o->client, &j);
}

int store_open_entry(struct apply_ctx *a, const struct rec_writer *ck, const struct proto_observation *o,
                     int64_t first, int64_t last, uint64_t count)
{
	struct rec_writer hk, hv, cv;
	uint64_t seq = store_meta_get(a->txn, a->s, "seq") + 1;
	int rc;
	if ((rc = meta_put(a, "seq", seq)) != 0) {
		return rc;
	}
	rec_init(&hk);
	memcpy(hk.buf, ck->buf, ck->len);
	hk.len = ck->len;
	rec_put_be64(&hk, seq);
	store_entry_rec(&hv, o, first, last, a->index);
	cv = hv;
	rec_put_u64(&cv, seq);
	rec_put_u64(&cv, count);
	if ((rc = store_put(a, DB_HIST, hk.buf, hk.len, hv.buf, hv.len)) != 0 ||
	    (rc = store_put(a, DB_COMP, ck->buf, ck->len, cv.buf, cv.len)) != 0) {
		return rc;
	}
	if ((rc = store_counter_add(a, DB_META, "releases", strlen("releases"), 1)) != 0) {
		return rc;
	}
	struct rec_writer cl;
	rec_init(&cl);
	rec_put_keypart(&cl, o->client);
	if ((rc = store_counter_add(a, DB_CLIREL, cl.buf, cl.len, 1)) != 0) {
		return rc;
	}
	a->res->created++;
	return store_env_touch(a, o->client, o->env);
}

int store_observe(struct apply_ctx *a, const struct proto_observation *o)
{
	struct rec_writer ck;
	struct release_scratch sc;
	struct store_release cur;
	MDB_val key, val;
	store_comp_key(&ck, o->client, o->env, o->ns, o->workload, o->container, o->kind);
	if (ck.overflow) {
		a->res->code = PROTO_EINVAL;
		return 0;
	}
	key.mv_size = ck.len;
	key.mv_data = ck.buf;
	int rc = mdb_get(a->txn, a->s->dbi[DB_COMP], &key, &val);
	if (rc == MDB_NOTFOUND) {
		return open_entry(a, &ck, o, 1);
	}
	if (rc != 0) {
		return rc;
	}
	if (store_decode_entry(&key, &val, 1, &sc, &cur) != 0) {
		return MDB_CORRUPTED;
	}
	uint64_t count = 0;
	memcpy(&count, (const char *)val.mv_data + val.mv_size - sizeof(count), sizeof(count));
	if (strcmp(cur.image_tag, o->image_tag) != 0 || strcmp(cur.image_sha, o->image_sha) != 0) {
		return open_entry(a, &ck, o, count + 1); /* a new image, or a rollback: a new entry */
	}
	if (o->seen_at_ms <= cur.last_seen_ms) {
		return 0; /* an older sighting of the current image changes nothing */
	}
	/* Seen again: move last_seen in both the history entry and the current copy. */
	struct rec_writer hk, hv, cv;
	struct proto_observation keep = *o;
	keep.image_repo = cur.image_repo;
	keep.image_name = cur.image_name;
	store_entry_rec(&hv, &keep, cur.first_seen_ms, o->seen_at_ms, cur.index);
	cv = hv;
	rec_put_u64(&cv, cur.seq);
	rec_put_u64(&cv, count);
	hk = ck;
	rec_put_be64(&hk, cur.seq);
	if ((rc = store_put(a, DB_HIST, hk.buf, hk.len, hv.buf, hv.len)) != 0 ||
	    (rc = store_put(a, DB_COMP, ck.buf, ck.len, cv.buf, cv.len)) != 0) {
		return rc;
	}
	a->res->updated++;
	struct store_json j;
	obs_json(&j, o);
	return store_event(a, "release.seen", o->client, &j);
}

int store_apply_ping(struct apply_ctx *a)
{
	return store_ping(a, &a->cmd->ping, true);
}

int store_ping(struct apply_ctx *a, const struct proto_ping *p, bool emit)
{
	struct rec_writer k, v;
	MDB_val key, val;
	int64_t last = p->at_ms;
	rec_init(&k);
	rec_put_keypart(&k, p->client);
	rec_put_keypart(&k, p->env);
	key.mv_size = k.len;
	key.mv_data = k.buf;
	int rc = mdb_get(a->txn, a->s->dbi[DB_ENVS], &key, &val);
	if (rc == 0) {
		struct rec_reader rd;
		rec_reader_init(&rd, val.mv_data, val.mv_size);
		int64_t prev = rec_get_i64(&rd);
		if (prev > last) {
			last = prev; /* pings may arrive out of order: keep the latest */
		}
	} else if (rc != MDB_NOTFOUND) {
		return rc;
	}
	rec_init(&v);
	rec_put_i64(&v, last);
	rec_put_str(&v, p->version);
	if ((rc = store_put(a, DB_ENVS, k.buf, k.len, v.buf, v.len)) != 0 || !emit) {
		return rc;
	}
	struct store_json j;
	store_json_init(&j);
	store_json_str(&j, "client_name", p->client);
	store_json_str(&j, "env_name", p->env);
	store_json_str(&j, "slave_version", p->version);
	store_json_int(&j, "at_ms", p->at_ms);
	return store_event(a, "client.ping", p->client, &j);
}

/* A client's key bound to its request, "k2:<credential>:<key>#<request
 * hash>" (the gateway's), is kept as "...<key>\0<request hash>": *base is
 * the length before the hash (the whole key for any other, "k:" keys of
 * before included). */
static void idem_stored_key(const char *key, char *out, size_t *len, size_t *base)
{
	const char *hash = strncmp(key, "k2:", 3) == 0 ? strrchr(key, '#') : NULL;
	*len = strlen(key);
	memcpy(out, key, *len);
	*base = hash != NULL ? (size_t)(hash - key) : *len;
	if (hash != NULL) {
		out[*base] = '\0';
	}
}

/* Idempotency: sets *found (and fills res) when the key was seen within the
 * TTL: a replay of the first result, or, for the same key with another
 * request, ECONFLICT with replay 2 (nothing applied: answered 422). */
static int idem_lookup(struct apply_ctx *a, int *found)
{
	char key[PROTO_MAX_STR + 1];
	size_t len, base;
	idem_stored_key(a->cmd->idem_key, key, &len, &base);
	MDB_cursor *cur;
	MDB_val k = {base < len ? base + 1 : len, key}, v;
	*found = 0;
	int rc = mdb_cursor_open(a->txn, a->s->dbi[DB_IDEM], &cur);
	if (rc != 0) {
		return rc;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, base < len ? MDB_SET_RANGE : MDB_SET_KEY); rc == 0;
	     rc = base < len ? mdb_cursor_get(cur, &k, &v, MDB_NEXT) : MDB_NOTFOUND) {
		if (base < len && (k.mv_size <= base || memcmp(k.mv_data, key, base + 1) != 0)) {
			rc = MDB_NOTFOUND; /* past the keys of this base */
			break;
		}
		int64_t ts;
		if (v.mv_size < sizeof(ts)) {
			rc = MDB_CORRUPTED;
			break;
		}
		memcpy(&ts, v.mv_data, sizeof(ts));
		if (a->clock_ms - ts > STORE_IDEM_TTL_MS) {
			continue; /* expired but not yet purged: as if absent */
		}
		if (k.mv_size != len || memcmp(k.mv_data, key, len) != 0) {
			*a->res = (struct proto_result){.code = PROTO_ECONFLICT, .index = a->index, .replay = 2};
		} else if (proto_result_decode((const char *)v.mv_data + sizeof(ts), v.mv_size - sizeof(ts), a->res) != 0) {
			rc = MDB_CORRUPTED;
			break;
		} else {
			a->res->replay = 1;
		}
		*found = 1;
		break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int idem_record(struct apply_ctx *a)
{
	char key[PROTO_MAX_STR + 1];
	size_t len, base;
	idem_stored_key(a->cmd->idem_key, key, &len, &base);
	struct proto_buf rb;
	unsigned char v[256];
	int64_t ts = a->clock_ms;
	if (proto_result_encode(a->res, &rb) != PROTO_OK || rb.len + sizeof(ts) > sizeof(v)) {
		proto_buf_free(&rb);
		return MDB_PANIC;
	}
	memcpy(v, &ts, sizeof(ts));
	memcpy(v + sizeof(ts), rb.data, rb.len);
	int rc = store_put(a, DB_IDEM, key, len, v, sizeof(ts) + rb.len);
	proto_buf_free(&rb);
	if (rc != 0) {
		return rc;
	}
	struct rec_writer tk;
	rec_init(&tk);
	rec_put_be64(&tk, (uint64_t)ts);
	rec_put_keypart_n(&tk, key, len);
	return store_put(a, DB_IDEMT, tk.buf, tk.len, "", 0);
}

/* Drops a bounded number of expired keys, oldest first. */
static int idem_purge(struct apply_ctx *a)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(a->txn, a->s->dbi[DB_IDEMT], &cur);
	if (rc != 0) {
		return rc;
	}
	for (int n = 0; n < 16; n++) {
		if ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) != 0) {
			break;
		}
		if (k.mv_size < 9 || (int64_t)rec_be64(k.mv_data) >= a->clock_ms - STORE_IDEM_TTL_MS) {
			break;
		}
		MDB_val ik = {k.mv_size - 9, (char *)k.mv_data + 8};
		MDB_val iv;
		if (mdb_get(a->txn, a->s->dbi[DB_IDEM], &ik, &iv) == 0 && iv.mv_size >= 8) {
			int64_t ts;
			memcpy(&ts, iv.mv_data, sizeof(ts));
			if (ts == (int64_t)rec_be64(k.mv_data)) {
				mdb_del(a->txn, a->s->dbi[DB_IDEM], &ik, NULL);
			}
		}
		if ((rc = mdb_cursor_del(cur, 0)) != 0) {
			break;
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_apply_observe(struct apply_ctx *a)
{
	int rc = 0;
	for (uint32_t i = 0; i < a->cmd->n_obs && rc == 0; i++) {
		rc = store_observe(a, &a->cmd->obs[i]);
	}
	return rc;
}

static int apply_cmd(struct apply_ctx *a)
{
	int rc = 0, found = 0;
	if (a->cmd->idem_key[0] != '\0') {
		if ((rc = idem_lookup(a, &found)) != 0 || found) {
			return rc;
		}
	}
	rc = store_apply_dispatch(a);
	if (rc == 0 && a->cmd->idem_key[0] != '\0') {
		rc = idem_record(a);
	}
	if (rc == 0) {
		rc = idem_purge(a);
	}
	return rc;
}

/* The cluster's clock for expiries: it follows the proposers' clocks but
 * never goes back and moves at most STORE_CLOCK_STEP_MS per entry, so a node
 * whose clock jumps days ahead cannot expire every idempotency key at once
 * (found by tests/jepsen, clock-jump nemesis: retries applied twice). */
static int64_t cluster_clock(MDB_txn *txn, store *s, int64_t proposed)
{
	int64_t prev = (int64_t)store_meta_get(txn, s, "clock");
	if (prev == 0) {
		return proposed;
	}
	int64_t step = proposed - prev;
	return prev + (step < 0 ? 0 : step > STORE_CLOCK_STEP_MS ? STORE_CLOCK_STEP_MS : step);
}

#define APPLY_REDO (-30000) /* below LMDB's error codes: redo the entry without the failed command */

/* What a failed command of the entry left behind: nothing in LMDB, but its
 * result, and the event numbers it used (they stay used, as they would in a
 * rolled-back child transaction). */
struct apply_skip {
	bool failed;
	struct proto_result res;
	uint64_t n_events;
};

/* Applies one command of entry a->index straight into the entry's
 * transaction. A business error answers APPLY_REDO and records the command
 * in *skip: its writes may be half done, so the entry is applied again
 * without it. A command already known to fail only moves the clock. */
static int apply_one(struct apply_ctx *a, const struct proto_slice *c, struct apply_skip *skip)
{
	struct proto_cmd cmd;
	int rc = 0;
	int drc = proto_cmd_decode(c->data, c->len, &cmd);
	if (drc == PROTO_ENOMEM) {
		return MDB_PANIC; /* this node's trouble, not the command's: stop rather than diverge */
	}
	if (drc != PROTO_OK) {
		a->res->code = drc; /* a bad command is a no-op, identically on every node */
		return 0;
	}
	a->cmd = &cmd;
	a->clock_ms = cluster_clock(a->txn, a->s, cmd.ts_ms);
	if (skip->failed) {
		*a->res = skip->res;
		a->n_events += skip->n_events;
	} else {
		uint64_t events_before = a->n_events;
		rc = apply_cmd(a);
		if (rc == MDB_BAD_VALSIZE) {
			/* a key longer than LMDB's 511 bytes (long names): the command's
			 * fault, refused alike on every node, not the node's */
			rc = 0;
			a->res->code = PROTO_EINVAL;
		}
		if (rc == 0 && a->res->code != PROTO_OK) {
			a->res->created = a->res->updated = 0;
			*skip = (struct apply_skip){.failed = true, .res = *a->res, .n_events = a->n_events - events_before};
			rc = APPLY_REDO;
		}
	}
	if (rc == 0) {
		rc = store_audit_record(a); /* refused commands too: on the pass that skips them */
	}
	proto_cmd_free(&cmd);
	a->cmd = NULL;
	if (rc == 0) {
		rc = meta_put(a, "clock", (uint64_t)a->clock_ms);
	}
	return rc;
}

/* Applies the n commands of entry index in one fresh transaction, skipping
 * those skip[] marks as failed. */
static int apply_entry(store *s, uint64_t index, const struct proto_slice *cmds, uint32_t n,
                       struct proto_result *res, struct apply_skip *skip)
{
	MDB_txn *txn;
	memset(res, 0, n * sizeof(*res));
	for (uint32_t i = 0; i < n; i++) {
		res[i].index = index;
	}
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0) {
		return rc;
	}
	uint64_t applied = store_meta_get(txn, s, "applied");
	if (index <= applied) {
		mdb_txn_abort(txn); /* replay of an entry LMDB already holds */
		for (uint32_t i = 0; i < n; i++) {
			res[i].replay = 1;
		}
		return 0;
	}
	/* One context for the entry: its events keep counting across commands. */
	struct apply_ctx a = {.s = s, .txn = txn, .index = index};
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		a.res = &res[i];
		rc = apply_one(&a, &cmds[i], &skip[i]);
	}
	if (rc == 0) {
		rc = meta_put(&a, "applied", index);
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
	} else {
		rc = mdb_txn_commit(txn);
	}
	return rc;
}

/* A failed command must leave nothing behind, and LMDB's nested
 * transactions (which would roll it back alone) cannot be used with
 * MDB_WRITEMAP. So the entry is applied in one transaction, and when a
 * command fails it is aborted and applied again without that command: the
 * commands before it see the same state, and those after it the state the
 * failed one left, which is none. At most n + 1 passes, one in the common
 * case. */
int store_apply_batch(store *s, uint64_t index, const struct proto_slice *cmds, uint32_t n, struct proto_result *res)
{
	/* A command this binary cannot read is no bad command: newer nodes apply
	 * it. Skipping it here would diverge, so nothing is applied. Checked on
	 * replay too: a node downgraded below what it applied stops. */
	for (uint32_t i = 0; i < n; i++) {
		uint32_t version;
		if (proto_format_version(cmds[i].data, cmds[i].len, &version) == PROTO_OK && version > PROTO_CMD_VERSION_MAX) {
			log_info("store", "entry %llu holds a command of format v%u; this binary reads up to v%u",
			        (unsigned long long)index, version, PROTO_CMD_VERSION_MAX);
			return PROTO_ENEWER;
		}
	}
	struct apply_skip *skip = calloc(n > 0 ? n : 1, sizeof(*skip));
	int rc = MDB_PANIC;
	if (skip != NULL) {
		while ((rc = apply_entry(s, index, cmds, n, res, skip)) == APPLY_REDO) {
		}
		free(skip);
	}
	if (rc != 0) {
		log_error("store", "LMDB: %s", mdb_strerror(rc)); /* e.g. no space left on device */
		return PROTO_EIO;
	}
	return PROTO_OK;
}

int store_apply(store *s, uint64_t index, const void *buf, size_t len, struct proto_result *res)
{
	struct proto_slice c = {buf, len};
	return store_apply_batch(s, index, &c, 1, res);
}
