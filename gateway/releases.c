/* The Release Tracker's release endpoints: manual collect, current, history. */
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"
#include "gateway/jsonw.h"

#define GW_DEFAULT_NAME "unknown" /* the seed's default client/env name */

struct collect_ctx {
	struct proto_observation obs;
	json_t *body; /* keeps obs strings alive until the answer */
};

static void collect_done(struct gw_req *gr, const struct proto_result *res)
{
	struct collect_ctx *c = gr->ctx;
	const struct proto_observation *o = &c->obs;
	json_t *body = json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s},s:{s:s,s:s,s:s,s:s,s:s,s:o},s:o}", "status", "success",
	                         "message", "Release collected successfully", "component", "namespace", o->ns,
	                         "workload_kind", o->kind, "workload_name", o->workload, "container_name", o->container,
	                         "release", "version", o->image_tag, "image_repo", o->image_repo, "image_name",
	                         o->image_name, "image_tag", o->image_tag, "image_sha", o->image_sha, "released_at",
	                         gw_json_time(o->seen_at_ms), "timestamp", gw_json_time(wall_now_ms()));
	if (res->replay) {
		gw_add_header(gr, "idempotent-replayed", "true");
	}
	json_decref(c->body);
	c->body = NULL;
	gw_respond_json(gr, 200, body);
}

static void collect_ctx_dispose(void *p)
{
	struct collect_ctx *c = p;
	if (c->body != NULL) {
		json_decref(c->body);
	}
}

static bool required_text(struct gw_req *gr, json_t *body, const char *key, const char **out)
{
	if (!gw_opt_string(gr, body, key, out)) {
		return false;
	}
	if (*out == NULL || !proto_valid_text(*out, 256)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "%s is required: a non-empty string of at most 256 characters", key);
		return false;
	}
	return true;
}

static bool optional_text(struct gw_req *gr, json_t *body, const char *key, const char **out)
{
	if (!gw_opt_string(gr, body, key, out)) {
		return false;
	}
	if (*out == NULL) {
		*out = "";
	} else if ((*out)[0] != '\0' && !proto_valid_text(*out, 512)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "%s must be printable, at most 512 characters", key);
		return false;
	}
	return true;
}

static bool optional_name(struct gw_req *gr, json_t *body, const char *key, const char *dflt, const char **out)
{
	if (!gw_opt_string(gr, body, key, out)) {
		return false;
	}
	if (*out == NULL || (*out)[0] == '\0') {
		*out = dflt;
	}
	if (!proto_valid_name(*out)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "%s must be 1-253 characters of letters, digits, '-', '_', '.'", key);
		return false;
	}
	return true;
}

/* As the seed parses "repo/name:tag" again (internal/api/handlers.go,
 * ParseImagePath): a name with a path ("team/app") moves its path into the
 * repository ("registry/team", "app"). */
static bool split_image_name(struct gw_req *gr, struct proto_observation *o)
{
	const char *slash = strrchr(o->image_name, '/');
	if (slash == NULL) {
		return true;
	}
	size_t rl = strlen(o->image_repo), pl = (size_t)(slash - o->image_name);
	char *repo = h2o_mem_alloc_pool(&gr->req->pool, rl + pl + 2);
	if (rl > 0) {
		memcpy(repo, o->image_repo, rl);
		repo[rl++] = '/';
	}
	memcpy(repo + rl, o->image_name, pl);
	repo[rl + pl] = '\0';
	o->image_repo = repo;
	o->image_name = slash + 1;
	if (!proto_valid_text(o->image_repo, 512)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "image_repo and image_name together exceed 512 characters");
		return false;
	}
	return true;
}

void gw_h_collect_put(struct gw_req *gr)
{
	const char *ns = gr->target.seg[2], *kind = gr->target.seg[3], *workload = gr->target.seg[4], *container = gr->target.seg[5];
	if (!proto_valid_name(ns) || !proto_valid_name(kind) || !proto_valid_name(workload) || !proto_valid_name(container)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR",
		                 "namespace, kind, workload and container must be names of letters, digits, '-', '_', '.'");
		return;
	}
	json_t *body = gw_body_object(gr);
	if (body == NULL) {
		return;
	}
	struct collect_ctx *c = h2o_mem_alloc_shared(&gr->req->pool, sizeof(*c), collect_ctx_dispose);
	memset(c, 0, sizeof(*c));
	c->body = body;
	gr->ctx = c;
	struct proto_observation *o = &c->obs;
	const char *released_at;
	const char *own = gr->auth.client != NULL ? gr->auth.client : GW_DEFAULT_NAME;
	if (!required_text(gr, body, "image_tag", &o->image_tag) || !required_text(gr, body, "image_sha", &o->image_sha) ||
	    !optional_text(gr, body, "image_repo", &o->image_repo) || !optional_text(gr, body, "image_name", &o->image_name) ||
	    !optional_name(gr, body, "client_name", own, &o->client) ||
	    !optional_name(gr, body, "env_name", GW_DEFAULT_NAME, &o->env) ||
	    !gw_opt_string(gr, body, "released_at", &released_at)) {
		return;
	}
	if (!gw_auth_allows(&gr->auth, o->client)) {
		gw_respond_error(gr, 403, "FORBIDDEN", "this API key may not write releases of client %s", o->client);
		return;
	}
	o->seen_at_ms = wall_now_ms();
	if (released_at != NULL && timefmt_parse(released_at, &o->seen_at_ms) != 0) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "released_at must be an ISO 8601 time such as 2023-12-01T10:30:00Z");
		return;
	}
	if (!split_image_name(gr, o)) {
		return;
	}
	o->ns = ns;
	o->kind = kind;
	o->workload = workload;
	o->container = container;
	if (!proto_valid_component(o)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR",
		                 "client, environment, namespace, kind, workload and container names together exceed %u characters",
		                 PROTO_MAX_COMPONENT_NAMES);
		return;
	}
	struct proto_cmd cmd = {.type = PROTO_CMD_OBSERVE, .n_obs = 1, .obs = o};
	gw_propose(gr, &cmd, collect_done);
}

/* ---- the release row, as both the seed's document and its implementation
 * (internal/database/models.go, Release) show it ---- */

static void row_field(struct jsonw *w, const char *key_lit, size_t key_len, const char *v)
{
	jsonw_raw(w, key_lit, key_len);
	jsonw_str(w, v);
}
#define FIELD(w, key, v) row_field((w), "," key ":", sizeof("," key ":") - 1, (v))

/* One release row. id is the entry's global creation number; shiplog keeps
 * no separate insert time, so created_at is first_seen and updated_at
 * last_seen (the seed's rows are inserted when first seen). */
static void release_row(struct jsonw *w, const struct store_release *r)
{
	jsonw_lit(w, "{\"id\":");
	jsonw_int(w, (int64_t)r->seq);
	FIELD(w, "\"namespace\"", r->ns);
	FIELD(w, "\"workload_name\"", r->workload);
	FIELD(w, "\"workload_type\"", r->kind);
	FIELD(w, "\"container_name\"", r->container);
	FIELD(w, "\"image_repo\"", r->image_repo);
	FIELD(w, "\"image_name\"", r->image_name);
	FIELD(w, "\"image_tag\"", r->image_tag);
	FIELD(w, "\"image_sha\"", r->image_sha);
	FIELD(w, "\"client_name\"", r->client);
	FIELD(w, "\"env_name\"", r->env);
	jsonw_lit(w, ",\"first_seen\":");
	jsonw_time(w, r->first_seen_ms);
	jsonw_lit(w, ",\"last_seen\":");
	jsonw_time(w, r->last_seen_ms);
	jsonw_lit(w, ",\"created_at\":");
	jsonw_time(w, r->first_seen_ms);
	jsonw_lit(w, ",\"updated_at\":");
	jsonw_time(w, r->last_seen_ms);
	jsonw_lit(w, "}");
}

/* ---- current ---- */

/* Rows come ordered by namespace, so each namespace's list is one run of the
 * text; the document's "namespaces" object and the implementation's
 * "ordered_namespaces" list of {name, releases} both reuse that run. */
struct ns_run {
	char *name;
	size_t start, end; /* the namespace's [rows] in rows.p */
};

struct current_out {
	struct jsonw rows;
	struct ns_run *runs;
	size_t n_runs, cap_runs;
	size_t total;
	int64_t newest; /* the latest last_seen: when client/env last changed */
	bool failed;
};

static int current_row(void *data, const struct store_release *r)
{
	struct current_out *o = data;
	struct ns_run *run = o->n_runs > 0 ? &o->runs[o->n_runs - 1] : NULL;
	if (run == NULL || strcmp(run->name, r->ns) != 0) {
		if (run != NULL) {
			jsonw_lit(&o->rows, "]");
			run->end = o->rows.len;
		}
		if (o->n_runs == o->cap_runs) {
			size_t cap = o->cap_runs != 0 ? o->cap_runs * 2 : 16;
			struct ns_run *p = realloc(o->runs, cap * sizeof(*p));
			if (p == NULL) {
				o->failed = true;
				return 1;
			}
			o->runs = p;
			o->cap_runs = cap;
		}
		run = &o->runs[o->n_runs];
		if ((run->name = strdup(r->ns)) == NULL) {
			o->failed = true;
			return 1;
		}
		o->n_runs++;
		run->start = o->rows.len;
		jsonw_lit(&o->rows, "[");
	} else {
		jsonw_lit(&o->rows, ",");
	}
	release_row(&o->rows, r);
	o->total++;
	if (r->last_seen_ms > o->newest) {
		o->newest = r->last_seen_ms;
	}
	return 0;
}

struct ns_order {
	const char *client, *env;
	const char **configured; /* namespaces in the collectors' configured order */
	size_t n, cap;
	bool failed;
};

static bool listed(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], name) == 0) {
			return true;
		}
	}
	return false;
}

static int configured_namespaces(void *data, const struct store_cluster *sc)
{
	struct ns_order *o = data;
	if (strcmp(sc->c->client, o->client) != 0 || strcmp(sc->c->env, o->env) != 0) {
		return 0;
	}
	for (uint32_t i = 0; i < sc->c->n_namespaces; i++) {
		const char *ns = sc->c->namespaces[i];
		if (listed(o->configured, o->n, ns)) {
			continue;
		}
		if (o->n == o->cap) {
			size_t cap = o->cap != 0 ? o->cap * 2 : 16;
			const char **p = realloc(o->configured, cap * sizeof(*p));
			if (p == NULL) {
				o->failed = true;
				return 1;
			}
			o->configured = p;
			o->cap = cap;
		}
		if ((o->configured[o->n] = strdup(ns)) == NULL) {
			o->failed = true;
			return 1;
		}
		o->n++;
	}
	return 0;
}

static void ordered_entry(struct jsonw *w, const struct current_out *o, const struct ns_run *run, bool *first)
{
	jsonw_raw(w, ",", *first ? 0 : 1);
	*first = false;
	jsonw_lit(w, "{\"name\":");
	jsonw_str(w, run->name);
	jsonw_lit(w, ",\"releases\":");
	jsonw_raw(w, o->rows.p + run->start, run->end - run->start);
	jsonw_lit(w, "}");
}

/* The collector's configured namespace order first, then the rest (already
 * alphabetical, in key order). */
static void write_ordered(struct jsonw *w, struct store_read *rd, const char *client, const char *env,
                          const struct current_out *o)
{
	struct ns_order ord = {client, env, NULL, 0, 0, false};
	store_clusters_each(rd, configured_namespaces, &ord);
	bool first = true;
	for (size_t i = 0; i < ord.n; i++) {
		for (size_t k = 0; k < o->n_runs; k++) {
			if (strcmp(ord.configured[i], o->runs[k].name) == 0) {
				ordered_entry(w, o, &o->runs[k], &first);
			}
		}
	}
	for (size_t k = 0; k < o->n_runs; k++) {
		if (!listed(ord.configured, ord.n, o->runs[k].name)) {
			ordered_entry(w, o, &o->runs[k], &first);
		}
	}
	w->failed = w->failed || ord.failed;
	for (size_t i = 0; i < ord.n; i++) {
		free((void *)ord.configured[i]);
	}
	free(ord.configured);
}

static void read_current(struct gw_req *gr)
{
	const char *client = gw_query(gr, "client_name"), *env = gw_query(gr, "env_name");
	struct store_read *rd;
	if (store_read_begin(gr->gw->store, &rd) != PROTO_OK) {
		gw_respond_status(gr, PROTO_EIO, "cannot read the store");
		return;
	}
	gr->index = gw_state_index(gr->gw, rd);
	struct current_out o = {0};
	struct jsonw w = {0};
	int rv = store_current_each(rd, client, env, current_row, &o);
	if (o.n_runs > 0) {
		jsonw_lit(&o.rows, "]");
		o.runs[o.n_runs - 1].end = o.rows.len;
	}
	jsonw_lit(&w, "{\"namespaces\":{");
	for (size_t k = 0; k < o.n_runs; k++) {
		jsonw_raw(&w, ",", k > 0 ? 1 : 0);
		jsonw_str(&w, o.runs[k].name);
		jsonw_lit(&w, ":");
		jsonw_raw(&w, o.rows.p + o.runs[k].start, o.runs[k].end - o.runs[k].start);
	}
	jsonw_lit(&w, "},\"ordered_namespaces\":[");
	if (rv == PROTO_OK) {
		write_ordered(&w, rd, client, env, &o);
	}
	store_read_end(rd);
	jsonw_lit(&w, "],\"total\":");
	jsonw_int(&w, (int64_t)o.total);
	jsonw_lit(&w, ",\"timestamp\":");
	jsonw_time(&w, o.total > 0 ? o.newest : wall_now_ms());
	jsonw_lit(&w, "}");
	bool failed = o.failed || o.rows.failed;
	size_t len;
	char *body = jsonw_take(&w, &len);
	free(o.rows.p);
	for (size_t k = 0; k < o.n_runs; k++) {
		free(o.runs[k].name);
	}
	free(o.runs);
	if (rv != PROTO_OK || failed || body == NULL) {
		free(body);
		gw_respond_status(gr, rv != PROTO_OK ? rv : PROTO_ENOMEM, rv != PROTO_OK ? "cannot read the store" : "out of memory");
		return;
	}
	gw_respond_owned(gr, 200, "application/json", body, len);
}

void gw_h_current(struct gw_req *gr)
{
	const char *client = gw_query(gr, "client_name"), *env = gw_query(gr, "env_name");
	if (client == NULL || env == NULL || client[0] == '\0' || env[0] == '\0') {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "client_name and env_name query parameters are required");
		return;
	}
	if (!gw_auth_allows(&gr->auth, client)) {
		gw_respond_error(gr, 403, "FORBIDDEN", "this API key may not read client %s", client);
		return;
	}
	gw_read(gr, read_current);
}

/* ---- history ---- */

/* Written with jsonw: a history of 100 releases took 0.6 ms of the gateway's
 * CPU through a jansson tree, most of it in malloc, jansson and strftime.
 * The rows are written once and given in both shapes: the document's
 * "releases"/"total" and the implementation's "history": {releases, total}
 * (internal/api/handlers.go; web/static/js/timeline.js reads it). */
struct history_out {
	struct jsonw rows;
	size_t total;
};

static int history_row(void *data, const struct store_release *r)
{
	struct history_out *h = data;
	jsonw_raw(&h->rows, ",", h->total++ > 0 ? 1 : 0);
	release_row(&h->rows, r);
	return 0;
}

/* ?limit=&before= of a history request (gw_h_history checks them). */
struct history_query {
	struct store_page page;
	bool paged; /* limit was given: "next" is always in the answer */
};

static void read_history(struct gw_req *gr)
{
	const char *client = gr->target.seg[3], *env = gr->target.seg[4], *ns = gr->target.seg[5], *workload = gr->target.seg[6],
	           *container = gr->target.seg[7];
	struct history_query *q = gr->ctx;
	struct store_read *rd;
	if (store_read_begin(gr->gw->store, &rd) != PROTO_OK) {
		gw_respond_status(gr, PROTO_EIO, "cannot read the store");
		return;
	}
	gr->index = gw_state_index(gr->gw, rd);
	struct history_out h = {0};
	struct jsonw w = {0};
	jsonw_lit(&h.rows, "[");
	int rv = store_history_page(rd, client, env, ns, workload, container, &q->page, history_row, &h);
	store_read_end(rd);
	jsonw_lit(&h.rows, "]");
	jsonw_lit(&w, "{\"component\":{\"client_name\":");
	jsonw_str(&w, client);
	jsonw_lit(&w, ",\"env_name\":");
	jsonw_str(&w, env);
	jsonw_lit(&w, ",\"namespace\":");
	jsonw_str(&w, ns);
	jsonw_lit(&w, ",\"workload_name\":");
	jsonw_str(&w, workload);
	jsonw_lit(&w, ",\"container_name\":");
	jsonw_str(&w, container);
	jsonw_lit(&w, "},\"releases\":");
	jsonw_raw(&w, h.rows.p, h.rows.len);
	jsonw_lit(&w, ",\"total\":");
	jsonw_int(&w, (int64_t)h.total);
	jsonw_lit(&w, ",\"history\":{\"releases\":");
	jsonw_raw(&w, h.rows.p, h.rows.len);
	jsonw_lit(&w, ",\"total\":");
	jsonw_int(&w, (int64_t)h.total);
	jsonw_lit(&w, "}");
	if (q->paged || q->page.next_seq != 0) {
		jsonw_lit(&w, ",\"history_total\":");
		jsonw_int(&w, (int64_t)q->page.total);
		jsonw_lit(&w, ",\"next\":");
		if (q->page.next_seq != 0) {
			char next[24];
			snprintf(next, sizeof(next), "%llu", (unsigned long long)q->page.next_seq);
			jsonw_str(&w, next);
		} else {
			jsonw_lit(&w, "null");
		}
	}
	jsonw_lit(&w, ",\"timestamp\":");
	jsonw_time(&w, wall_now_ms());
	jsonw_lit(&w, "}");
	size_t len;
	bool failed = h.rows.failed;
	free(h.rows.p);
	char *body = jsonw_take(&w, &len);
	if (rv != PROTO_OK || failed || body == NULL) {
		free(body);
		rv = rv != PROTO_OK ? rv : PROTO_ENOMEM;
		gw_respond_status(gr, rv, rv == PROTO_ENOTFOUND ? "component not found"
		                          : rv == PROTO_ENOMEM  ? "out of memory"
		                                                : "cannot read the store");
		return;
	}
	gw_respond_owned(gr, 200, "application/json", body, len);
}

void gw_h_history(struct gw_req *gr)
{
	if (!gw_auth_allows(&gr->auth, gr->target.seg[3])) {
		gw_respond_error(gr, 403, "FORBIDDEN", "this API key may not read client %s", gr->target.seg[3]);
		return;
	}
	struct history_query *q = h2o_mem_alloc_pool(&gr->req->pool, sizeof(*q));
	uint64_t limit = 0, before = UINT64_MAX;
	if (!gw_query_count(gr, "limit", gr->gw->cfg->max_page_size, &limit) ||
	    !gw_query_count(gr, "before", UINT64_MAX - 1, &before)) {
		return;
	}
	/* Without ?limit= the seed's shape, but at most [api] history_unpaged_max
	 * entries: "next" appears only when it cut the history. */
	*q = (struct history_query){.page = {.before_seq = before, .limit = limit ? limit : gr->gw->cfg->history_unpaged_max},
	                            .paged = limit != 0};
	gr->ctx = q;
	gw_read(gr, read_history);
}
