/* Credentials: the keys of cluster.toml, presented as Authorization: Bearer,
 * X-API-Key or ?apikey= (the Release Tracker accepts all three). */
#include <string.h>

#include "gateway/internal.h"

/* Compares without an early exit, so timing does not reveal prefixes. */
static bool key_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = (unsigned char)(la != lb);
	for (size_t i = 0; i < la && i < lb; i++) {
		diff |= (unsigned char)(a[i] ^ b[i]);
	}
	return diff == 0;
}

struct gw_auth gw_auth_key(struct gw *g, const char *key)
{
	struct gw_auth a = {.kind = GW_AUTH_INVALID, .key = key};
	if (key == NULL || key[0] == '\0') {
		a.kind = GW_AUTH_NONE;
		return a;
	}
	for (size_t i = 0; i < g->cfg->n_admin_keys; i++) {
		if (key_equal(key, g->cfg->admin_keys[i])) {
			a.kind = GW_AUTH_ADMIN;
			return a;
		}
	}
	for (size_t i = 0; i < g->cfg->n_client_keys; i++) {
		if (key_equal(key, g->cfg->client_keys[i].key)) {
			a.kind = GW_AUTH_CLIENT;
			a.client = g->cfg->client_keys[i].client;
			return a;
		}
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
	char *authz = header_value(gr, H2O_STRLIT("authorization"));
	/* Another scheme (Basic, from a proxy or browser) is not ours: as the seed
	 * (internal/api/routes.go), look at X-API-Key and ?apikey= next. */
	if (authz != NULL && strncasecmp(authz, "Bearer ", 7) == 0) {
		key = authz + 7;
		while (*key == ' ') {
			key++;
		}
	}
	if (key == NULL) {
		key = header_value(gr, H2O_STRLIT("x-api-key"));
	}
	if (key == NULL) {
		key = gw_query(gr, "apikey");
	}
	if (key == NULL) {
		struct gw_auth none = {.kind = GW_AUTH_NONE};
		return none;
	}
	struct gw_auth a = gw_auth_key(g, key);
	if (a.kind == GW_AUTH_NONE) {
		a.kind = GW_AUTH_INVALID; /* an empty key was presented */
	}
	a.key = key;
	return a;
}

bool gw_auth_allows(const struct gw_auth *a, const char *client)
{
	return a->kind == GW_AUTH_ADMIN || (a->kind == GW_AUTH_CLIENT && strcmp(a->client, client) == 0);
}

const char *gw_auth_credential(const struct gw_auth *a)
{
	return a->kind == GW_AUTH_ADMIN || a->kind == GW_AUTH_CLIENT ? a->key : NULL;
}
