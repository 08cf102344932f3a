/* JWTs (HS256, libjwt): access and refresh tokens signed with the cluster's
 * signing key, which the store keeps sealed. A token names its key ("kid"),
 * so after a rotation the previous key verifies until it retires. */
#include <errno.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/tokens.h"
#include "lib/secret.h"
#include "store/identity.h"

struct key_find {
	const char *kid; /* NULL: the one that signs */
	int64_t now_ms;
	char kid_out[GW_ID_MAX];
	char sealed[PROTO_MAX_STR + 1];
	int64_t retire_ms;
	bool found;
};

static int key_row(void *data, const struct store_signing_key *k)
{
	struct key_find *f = data;
	bool want = f->kid != NULL ? strcmp(k->kid, f->kid) == 0 && (k->retire_ms == 0 || k->retire_ms > f->now_ms)
	                           : k->retire_ms == 0;
	if (want) {
		snprintf(f->kid_out, sizeof(f->kid_out), "%s", k->kid);
		snprintf(f->sealed, sizeof(f->sealed), "%s", k->sealed);
		f->retire_ms = k->retire_ms;
		f->found = true;
	}
	return want;
}

/* The key kid (NULL: the signing one) unsealed into key, and when it
 * retires (0: never yet) into *retire if not NULL; 0 or -1. */
static int signing_key(struct gw *g, const char *kid, char kid_out[GW_ID_MAX], unsigned char key[GW_TOKEN_KEY_BYTES],
                       int64_t *retire)
{
	struct store_read *rd;
	struct key_find f = {.kid = kid, .now_ms = wall_now_ms()};
	if (!g->have_secret_key || store_read_begin(g->store, &rd) != PROTO_OK) {
		return -1;
	}
	store_signing_keys_each(rd, key_row, &f);
	store_read_end(rd);
	void *plain;
	size_t len;
	if (!f.found || secret_open(g->secret_key, f.sealed, &plain, &len) != 0) {
		return -1;
	}
	int rv = len == GW_TOKEN_KEY_BYTES ? 0 : -1;
	if (rv == 0) {
		memcpy(key, plain, GW_TOKEN_KEY_BYTES);
		if (kid_out != NULL) {
			snprintf(kid_out, GW_ID_MAX, "%s", f.kid_out);
		}
		if (retire != NULL) {
			*retire = f.retire_ms;
		}
	}
	secret_wipe(plain, len);
	free(plain);
	return rv;
}

bool gw_tokens_ready(struct gw *g)
{
	unsigned char key[GW_TOKEN_KEY_BYTES];
	int rv = signing_key(g, NULL, NULL, key, NULL);
	secret_wipe(key, sizeof(key));
	return rv == 0;
}

char *gw_token_sign(struct gw *g, const struct gw_claims *c)
{
	unsigned char key[GW_TOKEN_KEY_BYTES];
	char kid[GW_ID_MAX];
	jwt_t *jwt = NULL;
	char *out = NULL;
	if (signing_key(g, NULL, kid, key, NULL) != 0 || jwt_new(&jwt) != 0) {
		secret_wipe(key, sizeof(key));
		return NULL;
	}
	if (jwt_add_header(jwt, "kid", kid) == 0 && jwt_add_grant(jwt, "iss", g->cfg->cluster_name) == 0 &&
	    jwt_add_grant(jwt, "sub", c->sub) == 0 && jwt_add_grant(jwt, "sid", c->sid) == 0 &&
	    jwt_add_grant(jwt, "jti", c->jti) == 0 && jwt_add_grant(jwt, "typ", c->typ) == 0 &&
	    jwt_add_grant_int(jwt, "iat", (long)(c->iat_ms / 1000)) == 0 &&
	    jwt_add_grant_int(jwt, "exp", (long)(c->exp_ms / 1000)) == 0 &&
	    jwt_add_grant_int(jwt, "idx", (long)c->idx) == 0 &&
	    jwt_set_alg(jwt, JWT_ALG_HS256, key, GW_TOKEN_KEY_BYTES) == 0) {
		out = jwt_encode_str(jwt);
	}
	jwt_free(jwt);
	secret_wipe(key, sizeof(key));
	return out;
}

bool gw_token_shaped(const char *s)
{
	const char *dot = strchr(s, '.');
	return strncmp(s, "eyJ", 3) == 0 && dot != NULL && strchr(dot + 1, '.') != NULL;
}

static bool copy_grant(jwt_t *jwt, const char *name, char *out, size_t cap)
{
	const char *v = jwt_get_grant(jwt, name);
	if (v == NULL || strlen(v) >= cap || v[0] == '\0') {
		return false;
	}
	memcpy(out, v, strlen(v) + 1);
	return true;
}

/* Access tokens verified lately: a request with one skips the two decodes
 * and the HMAC (most of a JWT's cost). An entry is used for at most
 * TOKEN_CACHE_MS, so a key retired by a rotation stops being honoured within
 * that; sessions and users are still checked on every request (auth.c). */
#define TOKEN_CACHE 1024
#define TOKEN_CACHE_MS 5000

struct token_cache {
	struct {
		char *token;
		struct gw_claims c;
		int64_t until_ms;
	} e[TOKEN_CACHE];
};

static size_t token_slot(const char *token)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (const char *p = token; *p != '\0'; p++) {
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	}
	return (size_t)(h & (TOKEN_CACHE - 1));
}

static bool cached(struct gw *g, const char *token, struct gw_claims *out)
{
	struct token_cache *tc = g->token_cache;
	size_t i = token_slot(token);
	int64_t now = wall_now_ms();
	if (tc == NULL || tc->e[i].token == NULL || strcmp(tc->e[i].token, token) != 0 || now >= tc->e[i].until_ms ||
	    now >= tc->e[i].c.exp_ms) {
		return false;
	}
	*out = tc->e[i].c;
	return true;
}

static void remember(struct gw *g, const char *token, const struct gw_claims *c)
{
	if (g->token_cache == NULL && (g->token_cache = calloc(1, sizeof(struct token_cache))) == NULL) {
		return;
	}
	struct token_cache *tc = g->token_cache;
	size_t i = token_slot(token);
	free(tc->e[i].token);
	tc->e[i].token = strdup(token);
	tc->e[i].c = *c;
	tc->e[i].until_ms = wall_now_ms() + TOKEN_CACHE_MS;
	if (c->key_retire_ms != 0 && c->key_retire_ms < tc->e[i].until_ms) {
		tc->e[i].until_ms = c->key_retire_ms;
	}
}

void gw_tokens_free(struct gw *g)
{
	struct token_cache *tc = g->token_cache;
	for (size_t i = 0; tc != NULL && i < TOKEN_CACHE; i++) {
		free(tc->e[i].token);
	}
	free(tc);
	g->token_cache = NULL;
}

static int verify(struct gw *g, const char *token, const char *typ, struct gw_claims *out, const char **why);

int gw_token_verify(struct gw *g, const char *token, const char *typ, struct gw_claims *out, const char **why)
{
	bool access = strcmp(typ, "access") == 0;
	if (access && cached(g, token, out)) {
		return 0;
	}
	int rv = verify(g, token, typ, out, why);
	if (rv == 0 && access) {
		remember(g, token, out);
	}
	return rv;
}

static int verify(struct gw *g, const char *token, const char *typ, struct gw_claims *out, const char **why)
{
	jwt_t *jwt = NULL;
	unsigned char key[GW_TOKEN_KEY_BYTES];
	memset(out, 0, sizeof(*out));
	*why = "malformed token";
	if (strlen(token) > GW_TOKEN_MAX || jwt_decode(&jwt, token, NULL, 0) != 0) { /* only to read its kid */
		return -1;
	}
	const char *kid = jwt_get_header(jwt, "kid");
	char kid_copy[GW_ID_MAX];
	snprintf(kid_copy, sizeof(kid_copy), "%s", kid != NULL ? kid : "");
	jwt_free(jwt);
	jwt = NULL;
	if (kid_copy[0] == '\0' || signing_key(g, kid_copy, NULL, key, &out->key_retire_ms) != 0) {
		*why = "token signed by an unknown or retired key";
		return -1;
	}
	int rc = jwt_decode(&jwt, token, key, GW_TOKEN_KEY_BYTES);
	secret_wipe(key, sizeof(key));
	if (rc != 0 || jwt_get_alg(jwt) != JWT_ALG_HS256) { /* "none" or another algorithm never passes */
		if (jwt != NULL) {
			jwt_free(jwt);
		}
		*why = "invalid token signature";
		return -1;
	}
	const char *iss = jwt_get_grant(jwt, "iss"), *t = jwt_get_grant(jwt, "typ");
	errno = 0;
	long exp = jwt_get_grant_int(jwt, "exp");
	bool exp_ok = errno == 0;
	long iat = jwt_get_grant_int(jwt, "iat");
	long idx = jwt_get_grant_int(jwt, "idx");
	bool ok = iss != NULL && strcmp(iss, g->cfg->cluster_name) == 0 && t != NULL && strcmp(t, typ) == 0 && exp_ok &&
	          copy_grant(jwt, "sub", out->sub, sizeof(out->sub)) && copy_grant(jwt, "sid", out->sid, sizeof(out->sid)) &&
	          copy_grant(jwt, "jti", out->jti, sizeof(out->jti));
	jwt_free(jwt);
	if (!ok) {
		*why = "token is not a shiplog token of this kind";
		return -1;
	}
	snprintf(out->typ, sizeof(out->typ), "%s", typ);
	out->exp_ms = (int64_t)exp * 1000;
	out->iat_ms = (int64_t)iat * 1000;
	out->idx = idx > 0 ? (uint64_t)idx : 0;
	if (out->exp_ms <= wall_now_ms()) {
		*why = "token expired";
		return -1;
	}
	return 0;
}
