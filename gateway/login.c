/* /api/v1/auth: login with a password (JSON or a form), refresh-token
 * rotation, logout and "who am I". A login starts a session (a Raft
 * command), so every node knows it; its tokens name the session, and a
 * logout or a detected refresh-token reuse ends it everywhere. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"
#include "gateway/tokens.h"
#include "gateway/users.h"
#include "lib/secret.h"

struct login {
	json_t *body;
	struct gw_user u;
	char family[GW_ID_MAX];
	char jti[GW_ID_MAX];     /* the refresh token's */
	int64_t refresh_exp_ms;
};

static void login_dispose(void *p)
{
	struct login *l = p;
	if (l->body != NULL) {
		json_decref(l->body);
	}
	secret_wipe(l->u.pw_hash, sizeof(l->u.pw_hash));
}

static struct login *login_new(struct gw_req *gr, json_t *body)
{
	struct login *l = h2o_mem_alloc_shared(&gr->req->pool, sizeof(*l), login_dispose);
	memset(l, 0, sizeof(*l));
	l->body = body;
	gr->ctx = l;
	return l;
}

static void new_id(char *out, size_t cap)
{
	secret_random_text(out, cap, 18);
}

/* Answers 200 with a fresh access token and the session's refresh token. */
static void answer_tokens(struct gw_req *gr, struct login *l)
{
	struct gw *g = gr->gw;
	int64_t now = wall_now_ms();
	struct gw_claims access = {.iat_ms = now, .exp_ms = now + g->cfg->identity.access_ttl_ms};
	struct gw_claims refresh = {.iat_ms = now, .exp_ms = l->refresh_exp_ms};
	snprintf(access.sub, sizeof(access.sub), "%s", l->u.id);
	snprintf(access.sid, sizeof(access.sid), "%s", l->family);
	snprintf(access.typ, sizeof(access.typ), "access");
	new_id(access.jti, sizeof(access.jti));
	access.idx = gr->index; /* where the session was started or rotated: other nodes wait for it */
	refresh = access;
	refresh.exp_ms = l->refresh_exp_ms;
	snprintf(refresh.typ, sizeof(refresh.typ), "refresh");
	snprintf(refresh.jti, sizeof(refresh.jti), "%s", l->jti);
	char *at = gw_token_sign(g, &access), *rt = gw_token_sign(g, &refresh);
	if (at == NULL || rt == NULL) {
		free(at);
		free(rt);
		gw_respond_error(gr, 503, "INTERNAL_ERROR", "no signing key to issue tokens with");
		return;
	}
	json_t *body = json_pack("{s:s,s:s,s:s,s:I,s:o,s:I,s:o}", "access_token", at, "refresh_token", rt,
	                         "token_type", "bearer", "expires_in", (json_int_t)(g->cfg->identity.access_ttl_ms / 1000),
	                         "expires_at", gw_json_time(access.exp_ms), "refresh_expires_in",
	                         (json_int_t)((l->refresh_exp_ms - now) / 1000), "user", gw_user_json(&l->u));
	secret_wipe(at, strlen(at));
	secret_wipe(rt, strlen(rt));
	free(at);
	free(rt);
	gw_add_header(gr, "cache-control", "no-store");
	gw_respond_json(gr, 200, body);
}

static void session_started(struct gw_req *gr, const struct proto_result *res)
{
	if (!gw_refuse_replay(gr, res)) {
		answer_tokens(gr, gr->ctx);
	}
}

static void login_refused(struct gw_req *gr)
{
	gw_respond_error(gr, 401, "UNAUTHORIZED", "invalid username or password");
}

static void password_checked(struct gw_req *gr, int status, const char *hash)
{
	(void)hash;
	struct login *l = gr->ctx;
	struct gw *g = gr->gw;
	if (status == -2) {
		gw_respond_error(gr, 503, "INTERNAL_ERROR", "the password could not be checked");
		return;
	}
	if (status != 0 || !l->u.found) {
		login_refused(gr);
		return;
	}
	if (!l->u.active) {
		gw_respond_error(gr, 403, "FORBIDDEN", "this user is disabled");
		return;
	}
	new_id(l->family, sizeof(l->family));
	new_id(l->jti, sizeof(l->jti));
	l->refresh_exp_ms = wall_now_ms() + g->cfg->identity.refresh_ttl_ms;
	snprintf(gr->auth.actor, sizeof(gr->auth.actor), "user:%s", l->u.id);
	struct proto_cmd cmd = {.type = PROTO_CMD_SESSION};
	cmd.u.session = (struct proto_session){PROTO_SESSION_START, l->family, l->u.id, l->jti, "", l->refresh_exp_ms};
	gw_propose(gr, &cmd, session_started);
}

void gw_h_login(struct gw_req *gr)
{
	json_t *body = gw_body_fields(gr);
	if (body == NULL) {
		return;
	}
	struct login *l = login_new(gr, body);
	const char *name, *email, *password;
	if (!gw_opt_string(gr, body, "username", &name) || !gw_opt_string(gr, body, "email", &email) ||
	    !gw_opt_string(gr, body, "password", &password)) {
		return;
	}
	if (name == NULL) {
		name = email;
	}
	if (name == NULL || password == NULL || name[0] == '\0' || strlen(name) > 254 || strlen(password) > 1024) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "username (or email) and password are required");
		return;
	}
	if (!gw_tokens_ready(gr->gw)) {
		gw_respond_error(gr, 503, "INTERNAL_ERROR",
		                 "sign-in is not available yet: the cluster has no signing key (is [collector] secret_key set?)");
		return;
	}
	gw_user_load(gr->gw, name, true, &l->u);
	gw_pw_run(gr, GW_PW_VERIFY, l->u.found ? l->u.pw_hash : NULL, password, NULL, password_checked);
}

static void rotated(struct gw_req *gr, const struct proto_result *res)
{
	if (res->code == PROTO_ENOTFOUND) {
		gw_respond_error(gr, 401, "UNAUTHORIZED", "the session has ended (logged out, revoked or expired)");
		return;
	}
	if (res->code != PROTO_OK) {
		gw_respond_status(gr, res->code, NULL);
		return;
	}
	if (res->updated == 1) {
		gw_respond_error(gr, 401, "UNAUTHORIZED", "refresh token already used: the session is revoked");
		return;
	}
	if (!gw_refuse_replay(gr, res)) {
		answer_tokens(gr, gr->ctx);
	}
}

void gw_h_refresh(struct gw_req *gr)
{
	json_t *body = gw_body_fields(gr);
	if (body == NULL) {
		return;
	}
	struct login *l = login_new(gr, body);
	const char *token, *why;
	struct gw_claims c;
	if (!gw_opt_string(gr, body, "refresh_token", &token)) {
		return;
	}
	if (token == NULL) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "refresh_token is required");
		return;
	}
	if (gw_token_verify(gr->gw, token, "refresh", &c, &why) != 0) {
		gw_respond_error(gr, 401, "UNAUTHORIZED", "%s", why);
		return;
	}
	if (gw_user_load(gr->gw, c.sub, false, &l->u) != PROTO_OK || !l->u.active) {
		gw_respond_error(gr, 401, "UNAUTHORIZED", "user disabled or deleted");
		return;
	}
	struct gw_auth s = {.cred = GW_CRED_JWT};
	snprintf(s.user_id, sizeof(s.user_id), "%s", c.sub);
	snprintf(s.session, sizeof(s.session), "%s", c.sid);
	if (gw_auth_session_check(gr->gw, gr, &s) == -1) { /* ended, or its password changed since (-2: not here yet) */
		gw_respond_error(gr, 401, "UNAUTHORIZED", "%s", s.why);
		return;
	}
	snprintf(l->family, sizeof(l->family), "%s", c.sid);
	new_id(l->jti, sizeof(l->jti));
	l->refresh_exp_ms = wall_now_ms() + gr->gw->cfg->identity.refresh_ttl_ms;
	snprintf(gr->auth.actor, sizeof(gr->auth.actor), "user:%s", c.sub);
	struct proto_cmd cmd = {.type = PROTO_CMD_SESSION};
	cmd.u.session = (struct proto_session){PROTO_SESSION_ROTATE, l->family, l->u.id, c.jti, l->jti, l->refresh_exp_ms};
	gw_propose_any(gr, &cmd, rotated);
}

static void logged_out(struct gw_req *gr, const struct proto_result *res)
{
	(void)res;
	gw_respond_json(gr, 200, json_pack("{s:s}", "message", "Successfully logged out"));
}

void gw_h_logout(struct gw_req *gr)
{
	struct proto_cmd cmd = {.type = PROTO_CMD_SESSION};
	cmd.u.session = (struct proto_session){PROTO_SESSION_REVOKE, gr->auth.session, gr->auth.user_id, "", "", 0};
	gw_propose(gr, &cmd, logged_out);
}

void gw_h_me(struct gw_req *gr)
{
	const struct gw_auth *a = &gr->auth;
	if (a->cred == GW_CRED_JWT) {
		struct gw_user u;
		if (gw_user_load(gr->gw, a->user_id, false, &u) != PROTO_OK) {
			gw_respond_error(gr, 401, "UNAUTHORIZED", "user deleted");
			return;
		}
		json_t *o = gw_user_json(&u);
		secret_wipe(u.pw_hash, sizeof(u.pw_hash));
		json_object_set_new(o, "auth", json_string("token"));
		gw_respond_json(gr, 200, o);
		return;
	}
	json_t *o = json_pack("{s:s,s:s,s:s}", "id", a->cred == GW_CRED_APIKEY ? a->key_id : a->actor, "role",
	                      gw_role_name(a->role), "auth", a->cred == GW_CRED_APIKEY ? "api_key" : "config_key");
	json_object_set_new(o, "client_name", a->client != NULL ? json_string(a->client) : json_null());
	json_object_set_new(o, "scope", a->scope != NULL ? json_string(a->scope) : json_null());
	gw_respond_json(gr, 200, o);
}
