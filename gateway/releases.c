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
	if (*out == NULL || !gw_valid_text(*out, 256)) {
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
	} else if ((*out)[0] != '\0' && !gw_valid_text(*out, 512)) {
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
	if (!gw_valid_name(*out)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "%s must be 1-253 characters of letters, digits, '-', '_', '.'", key);
		return false;
	}
	return true;
}

void gw_h_collect_put(struct gw_req *gr)
{
	const char *ns = gr->seg[2], *kind = gr->seg[3], *workload = gr->seg[4], *container = gr->seg[5];
	if (!gw_valid_name(ns) || !gw_valid_name(kind) || !gw_valid_name(workload) || !gw_valid_name(container)) {
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
	const char *own = gr->auth.kind == GW_AUTH_CLIENT ? gr->auth.client : GW_DEFAULT_NAME;
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
	if (released_at != NULL && gw_parse_time(released_at, &o->seen_at_ms) != 0) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "released_at must be an ISO 8601 time such as 2023-12-01T10:30:00Z");
		return;
	}
	o->ns = ns;
	o->kind = kind;
	o->workload = workload;
	o->container = container;
	if (!gw_valid_component(o)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR",
		                 "client, environment, namespace, kind, workload and container names together exceed %u characters",
		                 PROTO_MAX_COMPONENT_NAMES);
		return;
	}
	struct proto_cmd cmd = {.type = PROTO_CMD_OBSERVE, .n_obs = 1, .obs = o};
	gw_propose(gr, &cmd, collect_done);
}

/* ---- current ---- */

/* Rows come ordered by namespace, so each namespace's list is written in one
 * run (jsonw, as history); only the namespace names go through jansson. */
struct current_out {
	struct jsonw w;
	json_t *alpha; /* the namespaces seen, in key (alphabetical) order */
	char *ns;      /* the namespace whose list is open */
	size_t total;
};

static void current_field(struct jsonw *w, const char *key_lit, size_t key_len, const char *v)
{
	jsonw_raw(w, key_lit, key_len);
	jsonw_str(w, v);
}
#define FIELD(w, key, v) current_field((w), "," key ":", sizeof("," key ":") - 1, (v))

static int current_row(void *data, const struct store_release *r)
{
	struct current_out *o = data;
	if (o->ns == NULL || strcmp(o->ns, r->ns) != 0) {
		jsonw_raw(&o->w, "],", o->ns != NULL ? 2 : 0);
		free(o->ns);
		if ((o->ns = strdup(r->ns)) == NULL) {
			o->w.failed = true;
			return 1;
		}
		jsonw_str(&o->w, r->ns);
		jsonw_lit(&o->w, ":[");
		json_array_append_new(o->alpha, json_string(r->ns));
	} else {
		jsonw_lit(&o->w, ",");
	}
	jsonw_lit(&o->w, "{\"namespace\":");
	jsonw_str(&o->w, r->ns);
	FIELD(&o->w, "\"workload_name\"", r->workload);
	FIELD(&o->w, "\"workload_type\"", r->kind);
	FIELD(&o->w, "\"container_name\"", r->container);
	FIELD(&o->w, "\"image_repo\"", r->image_repo);
	FIELD(&o->w, "\"image_name\"", r->image_name);
	FIELD(&o->w, "\"image_tag\"", r->image_tag);
	FIELD(&o->w, "\"image_sha\"", r->image_sha);
	FIELD(&o->w, "\"client_name\"", r->client);
	FIELD(&o->w, "\"env_name\"", r->env);
	jsonw_lit(&o->w, ",\"first_seen\":");
	jsonw_time(&o->w, r->first_seen_ms);
	jsonw_lit(&o->w, ",\"last_seen\":");
	jsonw_time(&o->w, r->last_seen_ms);
	jsonw_lit(&o->w, "}");
	o->total++;
	return 0;
}

struct ns_order {
	const char *client, *env;
	json_t *configured; /* namespaces in the collectors' configured order */
};

static int configured_namespaces(void *data, const struct store_cluster *sc)
{
	struct ns_order *o = data;
	if (strcmp(sc->c->client, o->client) != 0 || strcmp(sc->c->env, o->env) != 0) {
		return 0;
	}
	for (uint32_t i = 0; i < sc->c->n_namespaces; i++) {
		json_t *ns = json_string(sc->c->namespaces[i]);
		size_t k;
		json_t *v;
		bool dup = false;
		json_array_foreach(o->configured, k, v)
		{
			dup = dup || json_equal(v, ns);
		}
		if (dup) {
			json_decref(ns);
		} else {
			json_array_append_new(o->configured, ns);
		}
	}
	return 0;
}

/* The collector's configured namespace order first, then the rest (already
 * alphabetical, in key order). */
static json_t *order_namespaces(struct store_read *rd, const char *client, const char *env, json_t *alpha)
{
	struct ns_order o = {client, env, json_array()};
	store_clusters_each(rd, configured_namespaces, &o);
	json_t *out = json_array();
	size_t i, k;
	json_t *v, *w;
	json_array_foreach(o.configured, i, v)
	{
		json_array_foreach(alpha, k, w)
		{
			if (json_equal(v, w)) {
				json_array_append(out, w);
			}
		}
	}
	json_array_foreach(alpha, k, w)
	{
		bool seen = false;
		json_array_foreach(o.configured, i, v)
		{
			seen = seen || json_equal(v, w);
		}
		if (!seen) {
			json_array_append(out, w);
		}
	}
	json_decref(o.configured);
	json_decref(alpha);
	return out;
}

static void read_current(struct gw_req *gr)
{
	struct store_read *rd;
	if (store_read_begin(gr->gw->store, &rd) != PROTO_OK) {
		gw_respond_status(gr, PROTO_EIO, "cannot read the store");
		return;
	}
	gr->index = gw_state_index(gr->gw, rd);
	struct current_out o = {.alpha = json_array()};
	jsonw_lit(&o.w, "{\"namespaces\":{");
	int rv = store_current_each(rd, gw_query(gr, "client_name"), gw_query(gr, "env_name"), current_row, &o);
	char *ordered = NULL;
	if (rv == PROTO_OK && !o.w.failed) {
		json_t *names = order_namespaces(rd, gw_query(gr, "client_name"), gw_query(gr, "env_name"), o.alpha);
		o.alpha = NULL; /* order_namespaces took it */
		ordered = json_dumps(names, JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(names);
	}
	store_read_end(rd);
	jsonw_raw(&o.w, "]", o.ns != NULL ? 1 : 0);
	jsonw_lit(&o.w, "},\"ordered_namespaces\":");
	jsonw_raw(&o.w, ordered != NULL ? ordered : "", ordered != NULL ? strlen(ordered) : 0);
	jsonw_lit(&o.w, ",\"total\":");
	jsonw_int(&o.w, (int64_t)o.total);
	jsonw_lit(&o.w, ",\"timestamp\":");
	jsonw_time(&o.w, wall_now_ms());
	jsonw_lit(&o.w, "}");
	bool failed = o.w.failed || ordered == NULL;
	size_t len;
	char *body = jsonw_take(&o.w, &len);
	free(ordered);
	free(o.ns);
	json_decref(o.alpha);
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
 * CPU through a jansson tree, most of it in malloc, jansson and strftime. */
struct history_out {
	struct jsonw w;
	size_t total;
};

static int history_row(void *data, const struct store_release *r)
{
	struct history_out *h = data;
	if (h->total++ > 0) {
		jsonw_lit(&h->w, ",");
	}
	jsonw_lit(&h->w, "{\"image_tag\":");
	jsonw_str(&h->w, r->image_tag);
	jsonw_lit(&h->w, ",\"image_sha\":");
	jsonw_str(&h->w, r->image_sha);
	jsonw_lit(&h->w, ",\"first_seen\":");
	jsonw_time(&h->w, r->first_seen_ms);
	jsonw_lit(&h->w, ",\"last_seen\":");
	jsonw_time(&h->w, r->last_seen_ms);
	jsonw_lit(&h->w, "}");
	return 0;
}

static void read_history(struct gw_req *gr)
{
	const char *client = gr->seg[3], *env = gr->seg[4], *ns = gr->seg[5], *workload = gr->seg[6],
	           *container = gr->seg[7];
	struct store_read *rd;
	if (store_read_begin(gr->gw->store, &rd) != PROTO_OK) {
		gw_respond_status(gr, PROTO_EIO, "cannot read the store");
		return;
	}
	gr->index = gw_state_index(gr->gw, rd);
	struct history_out h = {0};
	jsonw_lit(&h.w, "{\"component\":{\"client_name\":");
	jsonw_str(&h.w, client);
	jsonw_lit(&h.w, ",\"env_name\":");
	jsonw_str(&h.w, env);
	jsonw_lit(&h.w, ",\"namespace\":");
	jsonw_str(&h.w, ns);
	jsonw_lit(&h.w, ",\"workload_name\":");
	jsonw_str(&h.w, workload);
	jsonw_lit(&h.w, ",\"container_name\":");
	jsonw_str(&h.w, container);
	jsonw_lit(&h.w, "},\"releases\":[");
	int rv = store_history_each(rd, client, env, ns, workload, container, history_row, &h);
	store_read_end(rd);
	jsonw_lit(&h.w, "],\"total\":");
	jsonw_int(&h.w, (int64_t)h.total);
	jsonw_lit(&h.w, ",\"timestamp\":");
	jsonw_time(&h.w, wall_now_ms());
	jsonw_lit(&h.w, "}");
	size_t len;
	char *body = jsonw_take(&h.w, &len);
	if (rv != PROTO_OK || body == NULL) {
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
	if (!gw_auth_allows(&gr->auth, gr->seg[3])) {
		gw_respond_error(gr, 403, "FORBIDDEN", "this API key may not read client %s", gr->seg[3]);
		return;
	}
	gw_read(gr, read_history);
}
