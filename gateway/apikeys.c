/* /api/v1/api-keys: managed API keys. The key is made here, shown once in
 * the answer, and only its SHA-256 is proposed (store: DB_KEYHASH finds it
 * again). A credential hands out keys no stronger than itself and within
 * its client; it lists and revokes the keys it made (an admin: all). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"
#include "lib/secret.h"
#include "store/identity.h"

#define KEY_PREFIX "shp_"
#define KEY_SHOWN 12 /* characters of a key lists show */

static json_t *key_json(const struct proto_apikey *k, int64_t created_ms, int64_t last_used_ms)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "id", k->id, "name", k->name, "description", k->description,
	                      "key_prefix", k->prefix, "scope", k->scope, "created_at", gw_json_time(created_ms));
	json_object_set_new(o, "expires_at", k->expires_ms ? gw_json_time(k->expires_ms) : json_null());
	json_object_set_new(o, "last_used", last_used_ms ? gw_json_time(last_used_ms) : json_null());
	json_object_set_new(o, "created_by", json_string(k->owner));
	return o;
}

static bool visible(const struct gw_req *gr, const struct proto_apikey *k)
{
	return (gr->auth.role == GW_ROLE_ADMIN && gr->auth.client == NULL) || strcmp(k->owner, gr->auth.actor) == 0;
}

struct key_form {
	json_t *body;
	char key[64];
	char hash[65], prefix[KEY_SHOWN + 1], id[40];
	char scope[PROTO_MAX_STR + 16]; /* the default scope, when the body names none */
	struct proto_apikey k;
};

static void form_dispose(void *p)
{
	struct key_form *f = p;
	if (f->body != NULL) {
		json_decref(f->body);
	}
	secret_wipe(f->key, sizeof(f->key));
}

static void created(struct gw_req *gr, const struct proto_result *res)
{
	struct key_form *f = gr->ctx;
	if (gw_refuse_replay(gr, res)) {
		return;
	}
	json_t *o = key_json(&f->k, wall_now_ms(), 0);
	json_object_set_new(o, "key", json_string(f->key));
	gw_add_header(gr, "cache-control", "no-store");
	gw_respond_json(gr, 201, o);
}

void gw_h_apikey_create(struct gw_req *gr)
{
	json_t *body = gw_body_object(gr);
	if (body == NULL) {
		return;
	}
	struct key_form *f = h2o_mem_alloc_shared(&gr->req->pool, sizeof(*f), form_dispose);
	memset(f, 0, sizeof(*f));
	f->body = body;
	gr->ctx = f;
	const char *name, *description, *scope, *expires;
	if (!gw_opt_string(gr, body, "name", &name) || !gw_opt_string(gr, body, "description", &description) ||
	    !gw_opt_string(gr, body, "scope", &scope) || !gw_opt_string(gr, body, "expires_at", &expires)) {
		return;
	}
	if (name == NULL || name[0] == '\0' || !proto_valid_text(name, 100)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "name is required (at most 100 printable characters)");
		return;
	}
	if (description != NULL && !proto_valid_text(description, 500) && description[0] != '\0') {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "description must be printable text of at most 500 characters");
		return;
	}
	enum gw_role role;
	const char *client;
	char *own = f->scope;
	size_t own_cap = sizeof(f->scope);
	if (scope == NULL) { /* the Container Engine seed sends none: the caller's own reach */
		const struct gw_auth *a = &gr->auth;
		if (a->client != NULL) {
			snprintf(own, own_cap, "%s:%s", a->role >= GW_ROLE_OPERATOR ? "client" : "read", a->client);
		} else {
			snprintf(own, own_cap, "%s", a->role == GW_ROLE_VIEWER ? "read" : gw_role_name(a->role));
		}
		scope = own;
	}
	if (gw_scope_parse(scope, &role, &client) != 0) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR",
		                 "scope must be admin, operator, read, client:<name>, read:<name> or badge:<name>");
		return;
	}
	if (!gw_may_grant(&gr->auth, role, client)) {
		gw_respond_error(gr, 403, "FORBIDDEN", "this credential may not create a key with scope %s", scope);
		return;
	}
	int64_t expires_ms = 0;
	if (expires != NULL && (timefmt_parse(expires, &expires_ms) != 0 || expires_ms <= wall_now_ms())) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "expires_at must be a future ISO 8601 time");
		return;
	}
	int64_t cap = gr->auth.cred == GW_CRED_APIKEY ? gr->auth.expires_ms : 0;
	if (cap != 0 && (expires_ms == 0 || expires_ms > cap)) {
		expires_ms = cap; /* a key outlives no key that made it */
	}
	char rnd[48];
	secret_random_text(rnd, sizeof(rnd), 32);
	snprintf(f->key, sizeof(f->key), KEY_PREFIX "%s", rnd);
	secret_wipe(rnd, sizeof(rnd));
	secret_sha256_hex(f->key, strlen(f->key), f->hash);
	snprintf(f->prefix, sizeof(f->prefix), "%.*s", KEY_SHOWN, f->key);
	char tail[16];
	secret_random_text(tail, sizeof(tail), 4);
	snprintf(f->id, sizeof(f->id), "k%011" PRIx64 "%s", (uint64_t)wall_now_ms(), tail);
	f->k = (struct proto_apikey){f->id, name, description != NULL ? description : "", scope, f->hash, f->prefix,
	                             gr->auth.actor, expires_ms};
	struct proto_cmd cmd = {.type = PROTO_CMD_APIKEY_PUT, .u.apikey = f->k};
	gw_propose(gr, &cmd, created);
}

struct key_page {
	struct gw_req *gr;
	json_t *list;
	size_t skip, limit, total;
};

static int page_row(void *data, const struct store_apikey *k)
{
	struct key_page *p = data;
	if (!visible(p->gr, k->k)) {
		return 0;
	}
	if (p->total >= p->skip && json_array_size(p->list) < p->limit) {
		json_array_append_new(p->list, key_json(k->k, k->created_ms, k->last_used_ms));
	}
	p->total++;
	return 0;
}

static void read_keys(struct gw_req *gr)
{
	uint64_t page = 1, limit = 10;
	if (!gw_query_count(gr, "page", 1000000, &page) || !gw_query_count(gr, "limit", 100, &limit)) {
		return;
	}
	struct store_read *rd;
	struct key_page p = {gr, json_array(), (size_t)((page - 1) * limit), (size_t)limit, 0};
	if (store_read_begin(gr->gw->store, &rd) != PROTO_OK) {
		json_decref(p.list);
		gw_respond_status(gr, PROTO_EIO, NULL);
		return;
	}
	gr->index = gw_state_index(gr->gw, rd);
	store_apikeys_each(rd, page_row, &p);
	store_read_end(rd);
	size_t pages = (p.total + (size_t)limit - 1) / (size_t)limit;
	gw_respond_json(gr, 200, json_pack("{s:o,s:{s:I,s:I,s:I,s:I}}", "api_keys", p.list, "pagination", "page",
	                                   (json_int_t)page, "limit", (json_int_t)limit, "total", (json_int_t)p.total,
	                                   "total_pages", (json_int_t)pages));
}

void gw_h_apikeys_list(struct gw_req *gr)
{
	gw_read(gr, read_keys);
}

static int may_revoke(void *data, const struct store_apikey *k)
{
	struct key_page *p = data;
	p->total = visible(p->gr, k->k);
	return 1;
}

static void revoked(struct gw_req *gr, const struct proto_result *res)
{
	(void)res;
	gw_respond_json(gr, 200, json_pack("{s:s,s:s}", "message", "API key revoked successfully", "id", gr->target.seg[3]));
}

void gw_h_apikey_delete(struct gw_req *gr)
{
	struct store_read *rd;
	struct key_page p = {.gr = gr};
	if (store_read_begin(gr->gw->store, &rd) != PROTO_OK) {
		gw_respond_status(gr, PROTO_EIO, NULL);
		return;
	}
	store_apikey_get(rd, gr->target.seg[3], may_revoke, &p);
	store_read_end(rd);
	if (p.total == 0) {
		gw_respond_error(gr, 404, "NOT_FOUND", "no such API key"); /* or not one this credential made */
		return;
	}
	struct proto_cmd cmd = {.type = PROTO_CMD_APIKEY_DELETE, .u.apikey_id = gr->target.seg[3]};
	gw_propose(gr, &cmd, revoked);
}
