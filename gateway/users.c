/* /api/v1/users: users and their roles (admin, operator, viewer, optionally
 * limited to one client), the signed-in user's own profile and password.
 * Passwords are hashed (Argon2id) on the gateway's password threads before
 * anything is proposed: only the hash enters the Raft log. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"
#include "gateway/users.h"
#include "lib/secret.h"
#include "store/identity.h"

json_t *gw_user_json(const struct gw_user *u)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:b,s:o,s:o}", "id", u->id, "username", u->username, "role", u->role,
	                      "full_name", u->full_name, "is_active", u->active, "created_at", gw_json_time(u->created_ms),
	                      "updated_at", gw_json_time(u->updated_ms));
	json_object_set_new(o, "email", u->email[0] ? json_string(u->email) : json_null());
	json_object_set_new(o, "client_name", u->client[0] ? json_string(u->client) : json_null());
	return o;
}

static int copy_user(void *data, const struct store_user *su)
{
	struct gw_user *u = data;
	const struct proto_user *p = su->u;
	snprintf(u->id, sizeof(u->id), "%s", p->id);
	snprintf(u->username, sizeof(u->username), "%s", p->username);
	snprintf(u->email, sizeof(u->email), "%s", p->email);
	snprintf(u->full_name, sizeof(u->full_name), "%s", p->full_name);
	snprintf(u->role, sizeof(u->role), "%s", p->role);
	snprintf(u->client, sizeof(u->client), "%s", p->client);
	snprintf(u->pw_hash, sizeof(u->pw_hash), "%s", p->pw_hash);
	u->active = p->active != 0;
	u->created_ms = su->created_ms;
	u->updated_ms = su->updated_ms;
	u->found = true;
	return 1;
}

int gw_user_load(struct gw *g, const char *key, bool by_name, struct gw_user *out)
{
	struct store_read *rd;
	memset(out, 0, sizeof(*out));
	if (store_read_begin(g->store, &rd) != PROTO_OK) {
		return PROTO_EIO;
	}
	int rv = by_name ? store_user_find(rd, key, copy_user, out) : store_user_get(rd, key, copy_user, out);
	store_read_end(rd);
	return rv;
}

/* Checks the profile fields of body present in it into u; false (answered 400) if one is bad. */
static bool read_profile(struct gw_req *gr, json_t *body, struct gw_user *u, bool may_set_role)
{
	const char *username, *email, *full_name, *role, *client;
	if (!gw_opt_string(gr, body, "username", &username) || !gw_opt_string(gr, body, "email", &email) ||
	    !gw_opt_string(gr, body, "full_name", &full_name) || !gw_opt_string(gr, body, "role", &role) ||
	    !gw_opt_string(gr, body, "client_name", &client)) {
		return false;
	}
	if (username != NULL && (!proto_valid_name(username) || strlen(username) > 64 || strcmp(username, "me") == 0)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "username must be 1-64 letters, digits, '.', '_', '-' (not \"me\")");
		return false;
	}
	if (email != NULL && email[0] != '\0' &&
	    (!proto_valid_text(email, 254) || strchr(email, '@') == NULL || strchr(email, ' ') != NULL)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "email must be an address of at most 254 characters");
		return false;
	}
	if (full_name != NULL && full_name[0] != '\0' && !proto_valid_text(full_name, 200)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "full_name must be printable text of at most 200 characters");
		return false;
	}
	if (!may_set_role && (role != NULL || json_object_get(body, "client_name") != NULL ||
	                      json_object_get(body, "is_active") != NULL)) {
		gw_respond_error(gr, 403, "FORBIDDEN", "role, client_name and is_active are set by an admin");
		return false;
	}
	if (role != NULL && gw_role_parse(role) == GW_ROLE_NONE) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "role must be admin, operator or viewer");
		return false;
	}
	if (client != NULL && client[0] != '\0' && !proto_valid_name(client)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "client_name must be a client name");
		return false;
	}
	json_t *active = json_object_get(body, "is_active");
	if (active != NULL && !json_is_boolean(active)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "is_active must be true or false");
		return false;
	}
#define SET(f, v) snprintf(u->f, sizeof(u->f), "%s", v)
	if (username != NULL) SET(username, username);
	if (email != NULL) SET(email, email);
	if (full_name != NULL) SET(full_name, full_name);
	if (role != NULL) SET(role, role);
	if (json_object_get(body, "client_name") != NULL) SET(client, client != NULL ? client : "");
#undef SET
	if (active != NULL) {
		u->active = json_is_true(active);
	}
	return true;
}

bool gw_password_ok(struct gw_req *gr, const char *field, const char *pw)
{
	size_t min = gr->gw->cfg->identity.min_password;
	if (pw == NULL || strlen(pw) < min || strlen(pw) > 1024 || !proto_valid_text(pw, 1024)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "%s must be %zu to 1024 printable characters", field, min);
		return false;
	}
	return true;
}

/* One user write under way: the user as it will be, and the body it came from. */
struct user_form {
	json_t *body;
	struct gw_user u;
	bool create;
	bool self;     /* the user's own update: role, client and active stay as stored (USER_PUT create 2) */
	int ok_status; /* 201 or 200 */
	const char *message; /* answered instead of the user, when set */
};

static void form_dispose(void *p)
{
	struct user_form *f = p;
	if (f->body != NULL) {
		json_decref(f->body);
	}
	secret_wipe(f->u.pw_hash, sizeof(f->u.pw_hash));
}

static struct user_form *form_new(struct gw_req *gr, json_t *body)
{
	struct user_form *f = h2o_mem_alloc_shared(&gr->req->pool, sizeof(*f), form_dispose);
	memset(f, 0, sizeof(*f));
	f->body = body;
	f->ok_status = 200;
	gr->ctx = f;
	return f;
}

static void user_written(struct gw_req *gr, const struct proto_result *res)
{
	struct user_form *f = gr->ctx;
	if (res->code == PROTO_ECONFLICT) {
		gw_respond_error(gr, 409, "CONFLICT", f->create ? "a user with this id, username or email exists"
		                                               : "that username or email is another user's");
		return;
	}
	if (res->code == PROTO_ENOTFOUND) {
		gw_respond_error(gr, 404, "NOT_FOUND", "no such user");
		return;
	}
	if (res->code != PROTO_OK) {
		gw_respond_status(gr, res->code, NULL);
		return;
	}
	if (f->message != NULL) {
		gw_respond_json(gr, 200, json_pack("{s:s}", "message", f->message));
		return;
	}
	f->u.updated_ms = wall_now_ms();
	if (f->create) {
		f->u.created_ms = f->u.updated_ms;
	}
	gw_respond_json(gr, f->ok_status, gw_user_json(&f->u));
}

/* Proposes f->u; hash is its new password hash, or "" to keep the stored one. */
static void propose_user(struct gw_req *gr, struct user_form *f, const char *hash)
{
	struct proto_cmd cmd = {.type = PROTO_CMD_USER_PUT};
	cmd.u.user = (struct proto_user){f->u.id, f->u.username, f->u.email, f->u.full_name, f->u.role, f->u.client,
	                                 hash, f->u.active, f->create ? 1u : f->self ? 2u : 0u};
	gw_propose_any(gr, &cmd, user_written);
}

static void hashed(struct gw_req *gr, int status, const char *hash)
{
	struct user_form *f = gr->ctx;
	if (status == -1) {
		gw_respond_error(gr, 401, "UNAUTHORIZED", "current_password is wrong");
		return;
	}
	if (status != 0) {
		gw_respond_error(gr, 503, "INTERNAL_ERROR", "the password could not be hashed");
		return;
	}
	snprintf(f->u.pw_hash, sizeof(f->u.pw_hash), "%s", hash);
	propose_user(gr, f, f->u.pw_hash);
}

/* Writes f->u with the body's "password" (if any) hashed first. */
static void write_user(struct gw_req *gr, struct user_form *f)
{
	const char *pw;
	if (!gw_opt_string(gr, f->body, "password", &pw)) {
		return;
	}
	if (pw == NULL) {
		propose_user(gr, f, "");
		return;
	}
	if (gw_password_ok(gr, "password", pw)) {
		gw_pw_run(gr, GW_PW_HASH, NULL, pw, NULL, hashed);
	}
}

void gw_h_user_create(struct gw_req *gr)
{
	json_t *body = gw_body_object(gr);
	if (body == NULL) {
		return;
	}
	struct user_form *f = form_new(gr, body);
	f->create = true;
	f->ok_status = 201;
	f->u.active = true;
	snprintf(f->u.role, sizeof(f->u.role), "viewer");
	if (!read_profile(gr, body, &f->u, true)) {
		return;
	}
	const char *pw;
	if (f->u.username[0] == '\0' || !gw_opt_string(gr, body, "password", &pw) || !gw_password_ok(gr, "password", pw)) {
		if (f->u.username[0] == '\0') {
			gw_respond_error(gr, 400, "VALIDATION_ERROR", "username and password are required");
		}
		return;
	}
	char rnd[16];
	secret_random_text(rnd, sizeof(rnd), 6);
	snprintf(f->u.id, sizeof(f->u.id), "u%011" PRIx64 "%s", (uint64_t)wall_now_ms(), rnd);
	write_user(gr, f);
}

void gw_h_user_update(struct gw_req *gr)
{
	json_t *body = gw_body_object(gr);
	if (body == NULL) {
		return;
	}
	struct user_form *f = form_new(gr, body);
	if (gw_user_load(gr->gw, gr->target.seg[3], false, &f->u) != PROTO_OK) {
		gw_respond_error(gr, 404, "NOT_FOUND", "no such user");
		return;
	}
	if (read_profile(gr, body, &f->u, true)) {
		write_user(gr, f);
	}
}

static void user_deleted(struct gw_req *gr, const struct proto_result *res)
{
	(void)res;
	gw_respond_json(gr, 200, json_pack("{s:s,s:s}", "message", "User deleted", "id", gr->target.seg[3]));
}

void gw_h_user_delete(struct gw_req *gr)
{
	if (gr->auth.cred == GW_CRED_JWT && strcmp(gr->auth.user_id, gr->target.seg[3]) == 0) {
		gw_respond_error(gr, 409, "CONFLICT", "a user cannot delete itself");
		return;
	}
	struct proto_cmd cmd = {.type = PROTO_CMD_USER_DELETE, .u.user_id = gr->target.seg[3]};
	gw_propose(gr, &cmd, user_deleted);
}

struct users_acc {
	json_t *list;
};

static int list_row(void *data, const struct store_user *su)
{
	struct gw_user u;
	copy_user(&u, su);
	json_array_append_new(((struct users_acc *)data)->list, gw_user_json(&u));
	secret_wipe(u.pw_hash, sizeof(u.pw_hash));
	return 0;
}

static void read_users(struct gw_req *gr)
{
	struct store_read *rd;
	struct users_acc acc = {json_array()};
	if (store_read_begin(gr->gw->store, &rd) != PROTO_OK) {
		json_decref(acc.list);
		gw_respond_status(gr, PROTO_EIO, NULL);
		return;
	}
	gr->index = gw_state_index(gr->gw, rd);
	store_users_each(rd, list_row, &acc);
	store_read_end(rd);
	size_t n = json_array_size(acc.list);
	gw_respond_json(gr, 200, json_pack("{s:o,s:I}", "users", acc.list, "total", (json_int_t)n));
}

void gw_h_users_list(struct gw_req *gr)
{
	gw_read(gr, read_users);
}

void gw_h_user_me_update(struct gw_req *gr)
{
	json_t *body = gw_body_object(gr);
	if (body == NULL) {
		return;
	}
	struct user_form *f = form_new(gr, body);
	if (gw_user_load(gr->gw, gr->auth.user_id, false, &f->u) != PROTO_OK) {
		gw_respond_error(gr, 404, "NOT_FOUND", "no such user");
		return;
	}
	if (json_object_get(body, "password") != NULL) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "change the password with POST /api/v1/users/me/password");
		return;
	}
	f->self = true;
	if (read_profile(gr, body, &f->u, false)) {
		propose_user(gr, f, "");
	}
}

void gw_h_user_me_password(struct gw_req *gr)
{
	json_t *body = gw_body_object(gr);
	if (body == NULL) {
		return;
	}
	struct user_form *f = form_new(gr, body);
	const char *cur, *next, *confirm;
	if (!gw_opt_string(gr, body, "current_password", &cur) || !gw_opt_string(gr, body, "new_password", &next) ||
	    !gw_opt_string(gr, body, "confirm_new_password", &confirm)) {
		return;
	}
	if (cur == NULL) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "current_password and new_password are required");
		return;
	}
	if (!gw_password_ok(gr, "new_password", next)) {
		return;
	}
	if (confirm != NULL && strcmp(confirm, next) != 0) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "confirm_new_password does not match new_password");
		return;
	}
	if (gw_user_load(gr->gw, gr->auth.user_id, false, &f->u) != PROTO_OK) {
		gw_respond_error(gr, 404, "NOT_FOUND", "no such user");
		return;
	}
	f->message = "Password updated successfully";
	f->self = true;
	gw_pw_run(gr, GW_PW_CHANGE, f->u.pw_hash, cur, next, hashed);
}
