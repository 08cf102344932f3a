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
		f->found = true;
	}
	return want;
}

/* The key kid (NULL: the signing one) unsealed into key; 0 or -1. */
static int signing_key(struct gw *g, const char *kid, char kid_out[GW_ID_MAX], unsigned char key[GW_TOKEN_KEY_BYTES])
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
	}
	secret_wipe(plain, len);
	free(plain);
	return rv;
}

bool gw_tokens_ready(struct gw *g)
{
	unsigned char key[GW_TOKEN_KEY_BYTES];
	int rv = signing_key(g, NULL, NULL, key);
	secret_wipe(key, sizeof(key));
	return rv == 0;
}

char *gw_token_sign(struct gw *g, const struct gw_claims *c)
{
	unsigned char key[GW_TOKEN_KEY_BYTES];
	char kid[GW_ID_MAX];
	jwt_t *jwt = NULL;
	char *out = NULL;
	if (signing_key(g, NULL, kid, key) != 0 || jwt_new(&jwt) != 0) {
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

int gw_token_verify(struct gw *g, const char *token, const char *typ, struct gw_claims *out, const char **why)
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
	if (kid_copy[0] == '\0' || signing_key(g, kid_copy, NULL, key) != 0) {
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
