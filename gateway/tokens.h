/* Private to gateway/: JWT access and refresh tokens (tokens.c, the only
 * user of libjwt). */
#ifndef SHIPLOG_GATEWAY_TOKENS_H
#define SHIPLOG_GATEWAY_TOKENS_H

#include "gateway/internal.h"

#define GW_TOKEN_KEY_BYTES 32
#define GW_TOKEN_MAX 4096 /* longest token looked at */

struct gw_claims {
	char sub[GW_ID_MAX]; /* user id */
	char sid[GW_ID_MAX]; /* session (refresh-token family) */
	char jti[GW_ID_MAX]; /* this token's id */
	char typ[16];        /* "access" or "refresh" */
	int64_t iat_ms, exp_ms;
	uint64_t idx;        /* Raft index that started or last rotated its session */
	int64_t key_retire_ms; /* verify: when the key that signed it retires (0: not yet set) */
};

/* True if the cluster has a signing key this node can unseal. */
bool gw_tokens_ready(struct gw *g);
/* A signed token for c (malloc'd, free()), NULL if no key can sign. */
char *gw_token_sign(struct gw *g, const struct gw_claims *c);
/* Frees the cache of verified access tokens (at gw_free). */
void gw_tokens_free(struct gw *g);
/* True if s looks like a JWT rather than an API key. */
bool gw_token_shaped(const char *s);
/* Checks token's signature (by its kid, a key not yet retired), issuer
 * (the cluster's name), type typ and expiry, and fills out: 0, or -1 with
 * why (a static string) set. */
int gw_token_verify(struct gw *g, const char *token, const char *typ, struct gw_claims *out, const char **why);

#endif
