/* Reads behind the API, each inside one read transaction. */
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

int store_read_begin(store *s, struct store_read **out)
{
	struct store_read *rd = malloc(sizeof(*rd));
	if (rd == NULL) {
		return PROTO_ENOMEM;
	}
	rd->s = s;
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &rd->txn) != 0) {
		free(rd);
		return PROTO_EIO;
	}
	rd->index = store_meta_get(rd->txn, s, "applied");
	*out = rd;
	return PROTO_OK;
}

void store_read_end(struct store_read *rd)
{
	if (rd != NULL) {
		mdb_txn_abort(rd->txn);
		free(rd);
	}
}

uint64_t store_read_index(struct store_read *rd)
{
	return rd->index;
}

/* Iterates over keys of db starting with prefix; cb returns nonzero to stop. */
typedef int (*scan_cb)(void *data, const MDB_val *k, const MDB_val *v);

static int scan_prefix(struct store_read *rd, enum store_db db, const void *prefix, size_t plen, scan_cb cb,
                       void *data)
{
	MDB_cursor *cur;
	MDB_val k = {plen, (void *)prefix}, v;
	if (mdb_cursor_open(rd->txn, rd->s->dbi[db], &cur) != 0) {
		return PROTO_EIO;
	}
	int rc = plen > 0 ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == 0) {
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0) {
			break;
		}
		if (cb(data, &k, &v) != 0) {
			break;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? PROTO_OK : PROTO_EIO;
}

struct release_iter {
	store_release_cb cb;
	void *data;
	const char *kind, *workload, *container; /* filters, NULL = any */
	int bad;
	int matched;
};

static int each_comp(void *data, const MDB_val *k, const MDB_val *v)
{
	struct release_iter *it = data;
	struct release_scratch sc;
	struct store_release r;
	if (store_decode_entry(k, v, 1, &sc, &r) != 0) {
		it->bad = 1;
		return 1;
	}
	if ((it->kind != NULL && strcmp(it->kind, r.kind) != 0) ||
	    (it->workload != NULL && strcmp(it->workload, r.workload) != 0) ||
	    (it->container != NULL && strcmp(it->container, r.container) != 0)) {
		return 0;
	}
	it->matched++;
	return it->cb(it->data, &r);
}

int store_current_each(struct store_read *rd, const char *client, const char *env, store_release_cb cb, void *data)
{
	struct rec_writer p;
	struct release_iter it = {.cb = cb, .data = data};
	rec_init(&p);
	rec_put_keypart(&p, client);
	rec_put_keypart(&p, env);
	int rv = scan_prefix(rd, DB_COMP, p.buf, p.len, each_comp, &it);
	return rv != PROTO_OK ? rv : it.bad ? PROTO_EIO : PROTO_OK;
}

int store_find_workload(struct store_read *rd, const char *client, const char *env, const char *kind,
                        const char *workload, const char *container, store_release_cb cb, void *data)
{
	struct rec_writer p;
	struct release_iter it = {.cb = cb, .data = data, .kind = kind, .workload = workload, .container = container};
	rec_init(&p);
	rec_put_keypart(&p, client);
	rec_put_keypart(&p, env);
	int rv = scan_prefix(rd, DB_COMP, p.buf, p.len, each_comp, &it);
	return rv != PROTO_OK ? rv : it.bad ? PROTO_EIO : PROTO_OK;
}

/* History keys of every kind of one component, gathered to merge by seq. */
struct hist_gather {
	MDB_val *keys;
	MDB_val *vals;
	size_t n, cap;
	int oom;
};

static int gather(void *data, const MDB_val *k, const MDB_val *v)
{
	struct hist_gather *g = data;
	if (g->n == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 64;
		MDB_val *nk = realloc(g->keys, cap * sizeof(*nk));
		if (nk == NULL) {
			g->oom = 1;
			return 1;
		}
		g->keys = nk;
		MDB_val *nv = realloc(g->vals, cap * sizeof(*nv));
		if (nv == NULL) {
			g->oom = 1;
			return 1;
		}
		g->vals = nv;
		g->cap = cap;
	}
	g->keys[g->n] = *k; /* valid until the read transaction ends */
	g->vals[g->n] = *v;
	g->n++;
	return 0;
}

static uint64_t key_seq(const MDB_val *k)
{
	return k->mv_size >= 8 ? rec_be64((const char *)k->mv_data + k->mv_size - 8) : 0;
}

struct hist_ref {
	uint64_t seq;
	size_t i;
};

static int by_seq_desc(const void *a, const void *b)
{
	uint64_t x = ((const struct hist_ref *)a)->seq, y = ((const struct hist_ref *)b)->seq;
	return x < y ? 1 : x > y ? -1 : 0;
}

int store_history_each(struct store_read *rd, const char *client, const char *env, const char *ns,
                       const char *workload, const char *container, store_release_cb cb, void *data)
{
	struct store_page pg = {.before_seq = UINT64_MAX};
	return store_history_page(rd, client, env, ns, workload, container, &pg, cb, data);
}

int store_history_page(struct store_read *rd, const char *client, const char *env, const char *ns,
                       const char *workload, const char *container, struct store_page *pg, store_release_cb cb,
                       void *data)
{
	struct rec_writer p;
	struct hist_gather g = {0};
	rec_init(&p);
	rec_put_keypart(&p, client);
	rec_put_keypart(&p, env);
	rec_put_keypart(&p, ns);
	rec_put_keypart(&p, workload);
	rec_put_keypart(&p, container);
	if (p.overflow) {
		return PROTO_ENOTFOUND;
	}
	int rv = scan_prefix(rd, DB_HIST, p.buf, p.len, gather, &g);
	if (rv == PROTO_OK && g.oom) {
		rv = PROTO_ENOMEM;
	}
	if (rv == PROTO_OK && g.n == 0) {
		rv = PROTO_ENOTFOUND;
	}
	/* Newest first across kinds: sort by the global creation sequence. */
	struct hist_ref *refs = rv == PROTO_OK ? malloc(g.n * sizeof(*refs)) : NULL;
	if (rv == PROTO_OK && refs == NULL) {
		rv = PROTO_ENOMEM;
	}
	for (size_t i = 0; rv == PROTO_OK && i < g.n; i++) {
		refs[i].seq = key_seq(&g.keys[i]);
		refs[i].i = i;
	}
	if (rv == PROTO_OK) {
		qsort(refs, g.n, sizeof(*refs), by_seq_desc);
	}
	pg->total = g.n;
	pg->next_seq = 0;
	size_t given = 0;
	for (size_t j = 0; rv == PROTO_OK && j < g.n; j++) {
		struct release_scratch sc;
		struct store_release r;
		size_t i = refs[j].i;
		if (refs[j].seq >= pg->before_seq) {
			continue; /* newer than the page asked for */
		}
		if (pg->limit != 0 && given == pg->limit) {
			pg->next_seq = refs[j - 1].seq; /* more: the next page starts below the last given */
			break;
		}
		if (store_decode_entry(&g.keys[i], &g.vals[i], 0, &sc, &r) != 0) {
			rv = PROTO_EIO;
		} else if (cb(data, &r) != 0) {
			break;
		}
		given++;
	}
	free(refs);
	free(g.keys);
	free(g.vals);
	return rv;
}

struct env_iter {
	store_env_cb cb;
	void *data;
	int bad;
};

static int each_env(void *data, const MDB_val *k, const MDB_val *v)
{
	struct env_iter *it = data;
	char client[PROTO_MAX_STR + 1], env[PROTO_MAX_STR + 1], version[PROTO_MAX_STR + 1];
	const char *kp = k->mv_data;
	const char *z1 = memchr(kp, 0, k->mv_size);
	if (z1 == NULL || (size_t)(z1 - kp) > PROTO_MAX_STR) {
		it->bad = 1;
		return 1;
	}
	size_t rest = k->mv_size - (size_t)(z1 - kp) - 1;
	const char *z2 = memchr(z1 + 1, 0, rest);
	if (z2 == NULL || (size_t)(z2 - z1 - 1) > PROTO_MAX_STR) {
		it->bad = 1;
		return 1;
	}
	memcpy(client, kp, (size_t)(z1 - kp) + 1);
	memcpy(env, z1 + 1, (size_t)(z2 - z1));
	struct rec_reader rd;
	rec_reader_init(&rd, v->mv_data, v->mv_size);
	struct store_env e = {.client = client, .env = env, .version = version};
	e.last_ping_ms = rec_get_i64(&rd);
	rec_get_str(&rd, version, sizeof(version));
	if (rd.bad) {
		it->bad = 1;
		return 1;
	}
	return it->cb(it->data, &e);
}

int store_envs_each(struct store_read *rd, const char *client, store_env_cb cb, void *data)
{
	struct rec_writer p;
	struct env_iter it = {.cb = cb, .data = data};
	rec_init(&p);
	if (client != NULL) {
		rec_put_keypart(&p, client);
	}
	int rv = scan_prefix(rd, DB_ENVS, p.buf, p.len, each_env, &it);
	return rv != PROTO_OK ? rv : it.bad ? PROTO_EIO : PROTO_OK;
}

uint64_t store_release_count(struct store_read *rd, const char *client)
{
	if (client == NULL) {
		return store_meta_get(rd->txn, rd->s, "releases");
	}
	struct rec_writer k;
	MDB_val key, val;
	uint64_t x = 0;
	rec_init(&k);
	rec_put_keypart(&k, client);
	key.mv_size = k.len;
	key.mv_data = k.buf;
	if (mdb_get(rd->txn, rd->s->dbi[DB_CLIREL], &key, &val) == 0 && val.mv_size == sizeof(x)) {
		memcpy(&x, val.mv_data, sizeof(x));
	}
	return x;
}
