/* Credentials: who the caller is. A credential arrives as Authorization:
 * Bearer, X-API-Key or ?apikey= (the Release Tracker accepts all three) and
 * is one of: a key of cluster.toml (in clear or as sha256:<hex>), a managed
 * API key (found by its SHA-256), or a JWT access token of a user session.
 * What each may do is access.c's business. */
#include <string.h>

#include "gateway/internal.h"
#include "gateway/tokens.h"
#include "lib/secret.h"
#include "store/identity.h"

#define HASHED_PREFIX "sha256:"

/* A key of cluster.toml against the presented one (and its hash, computed
 * once when some key is written hashed), without an early exit. */
static bool config_key_match(const char *cfg_key, const char *key, char hash[65])
{
	const char *want = cfg_key;
	const char *have = key;
	if (strncmp(cfg_key, HASHED_PREFIX, strlen(HASHED_PREFIX)) == 0) {
		if (hash[0] == '\0') {
			secret_sha256_hex(key, strlen(key), hash);
		}
		want = cfg_key + strlen(HASHED_PREFIX);
		have = hash;
	}
	size_t lw = strlen(want), lh = strlen(have);
	return lw == lh && secret_equal(want, have, lw);
}

static struct gw_auth invalid(const char *key, const char *why)
{
	struct gw_auth a = {.kind = GW_AUTH_INVALID, .key = key, .why = why};
	return a;
}

struct key_found {
	struct gw_req *gr;
	struct gw_auth *a;
	bool expired;
	char owner[PROTO_MAX_STR + 1]; /* who made the key */
};

struct owner_found {
	bool live;
	char next[PROTO_MAX_STR + 1]; /* a key's own maker, "" for a user */
};

static int owner_user(void *data, const struct store_user *u)
{
	((struct owner_found *)data)->live = u->u->active != 0;
	return 1;
}

static int owner_key(void *data, const struct store_apikey *k)
{
	struct owner_found *o = data;
	o->live = k->k->expires_ms == 0 || k->k->expires_ms > wall_now_ms();
	snprintf(o->next, sizeof(o->next), "%s", k->k->owner);
	return 1;
}

/* A managed key lives only while whoever made it does: a user still
 * active, a key still there and unexpired (and so on up, a few makers at
 * most), or cluster.toml. Deleting or disabling a user ends its keys. */
static bool maker_live(struct store_read *rd, const char *owner)
{
	char cur[PROTO_MAX_STR + 1];
	snprintf(cur, sizeof(cur), "%s", owner);
	for (int hops = 0; hops < 8; hops++) {
		struct owner_found o = {false, ""};
		if (strncmp(cur, "user:", 5) == 0) {
			store_user_get(rd, cur + 5, owner_user, &o);
			return o.live;
		}
		if (strncmp(cur, "key:", 4) != 0) {
			return strncmp(cur, "config:", 7) == 0 || strncmp(cur, "node:", 5) == 0;
		}
		store_apikey_get(rd, cur + 4, owner_key, &o);
		if (!o.live) {
			return false;
		}
		snprintf(cur, sizeof(cur), "%s", o.next);
	}
	return false; /* a chain this long is not one the API makes */
}

static int managed_key(void *data, const struct store_apikey *k)
{
	struct key_found *f = data;
	const char *client = NULL;
	enum gw_role role;
	if (k->k->expires_ms != 0 && k->k->expires_ms <= wall_now_ms()) {
		f->expired = true;
		return 1;
	}
	if (gw_scope_parse(k->k->scope, &role, &client) != 0) {
		return 1; /* a scope this binary does not know grants nothing */
	}
	struct gw_auth *a = f->a;
	snprintf(f->owner, sizeof(f->owner), "%s", k->k->owner);
	a->expires_ms = k->k->expires_ms;
	a->kind = GW_AUTH_OK;
	a->cred = GW_CRED_APIKEY;
	a->role = role;
	a->client = client != NULL ? h2o_strdup(&f->gr->req->pool, client, SIZE_MAX).base : NULL;
	a->scope = h2o_strdup(&f->gr->req->pool, k->k->scope, SIZE_MAX).base;
	snprintf(a->key_id, sizeof(a->key_id), "%s", k->k->id);
	snprintf(a->actor, sizeof(a->actor), "key:%s", k->k->id);
	return 1;
}

struct gw_auth gw_auth_key(struct gw *g, struct gw_req *gr, const char *key)
{
	struct gw_auth a = {.kind = GW_AUTH_NONE};
	char hash[65] = "";
	if (key == NULL || key[0] == '\0') {
		return a;
	}
	a = invalid(key, "invalid API key");
	for (size_t i = 0; i < g->cfg->n_admin_keys; i++) {
		if (config_key_match(g->cfg->admin_keys[i], key, hash)) {
			a = (struct gw_auth){.kind = GW_AUTH_OK, .role = GW_ROLE_ADMIN, .cred = GW_CRED_CONFIG, .key = key};
			snprintf(a.actor, sizeof(a.actor), "config:admin");
			return a;
		}
	}
	for (size_t i = 0; i < g->cfg->n_client_keys; i++) {
		if (config_key_match(g->cfg->client_keys[i].key, key, hash)) {
			a = (struct gw_auth){.kind = GW_AUTH_OK, .role = GW_ROLE_OPERATOR, .cred = GW_CRED_CONFIG, .key = key,
			                     .client = g->cfg->client_keys[i].client};
			snprintf(a.actor, sizeof(a.actor), "config:client:%s", a.client); /* fits: CFG_NAME_MAX < GW_ID_MAX + 2 */
			return a;
		}
	}
	if (hash[0] == '\0') {
		secret_sha256_hex(key, strlen(key), hash);
	}
	struct store_read *rd;
	struct key_found f = {gr, &a, false, ""};
	if (store_read_begin(g->store, &rd) == PROTO_OK) {
		store_apikey_by_hash(rd, hash, managed_key, &f);
		if (a.kind == GW_AUTH_OK && !maker_live(rd, f.owner)) {
			a = invalid(key, "API key of a user or key that no longer exists or is disabled");
		}
		store_read_end(rd);
	}
	if (f.expired) {
		return invalid(key, "API key expired");
	}
	if (a.kind == GW_AUTH_OK) {
		a.key = key;
		gw_keyuse_note(g, a.key_id);
	}
	return a;
}

struct user_found {
	struct gw_req *gr;
	struct gw_auth *a;
	uint64_t started_index; /* the session's */
};

static int session_user(void *data, const struct store_user *u)
{
	struct user_found *f = data;
	enum gw_role role = gw_role_parse(u->u->role);
	if (!u->u->active || role == GW_ROLE_NONE) {
		return 1;
	}
	if (f->started_index < u->pw_index) {
		f->a->why = "the password changed since this sign-in: sign in again";
		return 1;
	}
	f->a->kind = GW_AUTH_OK;
	f->a->role = role;
	f->a->client = u->u->client[0] != '\0' ? h2o_strdup(&f->gr->req->pool, u->u->client, SIZE_MAX).base : NULL;
	return 1;
}

int gw_auth_session_check(struct gw *g, struct gw_req *gr, struct gw_auth *a)
{
	struct store_read *rd;
	struct store_session s;
	struct user_found f = {gr, a, 0};
	if (store_read_begin(g->store, &rd) != PROTO_OK) {
		return -1;
	}
	a->kind = GW_AUTH_INVALID;
	a->why = "session ended (logged out or revoked)";
	int rv = store_session_get(rd, a->session, &s);
	if (rv == PROTO_OK && !s.revoked && strcmp(s.user_id, a->user_id) == 0) {
		a->why = "user disabled or deleted";
		f.started_index = s.started_index;
		store_user_get(rd, a->user_id, session_user, &f);
	}
	bool behind = rv == PROTO_ENOTFOUND && a->wait_index > store_read_index(rd);
	store_read_end(rd);
	return a->kind == GW_AUTH_OK ? 0 : behind ? -2 : -1;
}

static struct gw_auth token_auth(struct gw *g, struct gw_req *gr, const char *token)
{
	struct gw_claims c;
	const char *why;
	if (gw_token_verify(g, token, "access", &c, &why) != 0) {
		return invalid(token, why);
	}
	struct gw_auth a = {.cred = GW_CRED_JWT, .key = token};
	snprintf(a.user_id, sizeof(a.user_id), "%s", c.sub);
	snprintf(a.session, sizeof(a.session), "%s", c.sid);
	snprintf(a.actor, sizeof(a.actor), "user:%s", c.sub);
	a.wait_index = c.idx;
	if (gw_auth_session_check(g, gr, &a) != -2) {
		a.wait_index = 0; /* -2: a login on another node not applied here yet (gw_route waits for it) */
	}
	return a;
}

static char *header_value(struct gw_req *gr, const char *name, size_t name_len)
{
	h2o_req_t *req = gr->req;
	ssize_t i = h2o_find_header_by_str(&req->headers, name, name_len, -1);
	if (i < 0) {
		return NULL;
	}
	h2o_iovec_t v = req->headers.entries[i].value;
	char *s = h2o_mem_alloc_pool(&req->pool, v.len + 1);
	memcpy(s, v.base, v.len);
	s[v.len] = '\0';
	return s;
}

struct gw_auth gw_auth_resolve(struct gw *g, struct gw_req *gr)
{
	const char *key = NULL;
	bool header = false;
	char *authz = header_value(gr, H2O_STRLIT("authorization"));
	/* Another scheme (Basic, from a proxy or browser) is not ours: as the seed
	 * (internal/api/routes.go), look at X-API-Key and ?apikey= next. */
	if (authz != NULL && strncasecmp(authz, "Bearer ", 7) == 0) {
		key = authz + 7;
		while (*key == ' ') {
			key++;
		}
		header = true;
	}
	if (key == NULL && (key = header_value(gr, H2O_STRLIT("x-api-key"))) != NULL) {
		header = true;
	}
	if (key == NULL) {
		key = gw_query(gr, "apikey");
	}
	if (key == NULL) {
		struct gw_auth none = {.kind = GW_AUTH_NONE};
		return none;
	}
	if (key[0] == '\0') {
		return invalid(key, "empty credential");
	}
	struct gw_auth a = header && gw_token_shaped(key) ? token_auth(g, gr, key) : gw_auth_key(g, gr, key);
	a.key = key;
	return a;
}

bool gw_auth_allows(const struct gw_auth *a, const char *client)
{
	return a->kind == GW_AUTH_OK && (a->client == NULL || strcmp(a->client, client) == 0);
}

const char *gw_auth_credential(const struct gw_auth *a)
{
	return a->kind == GW_AUTH_OK ? a->key : NULL;
}
