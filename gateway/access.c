/* The access rules, in one place (DESIGN.md "Authentication"): each route
 * names the least role it needs and whether a client-scoped credential or a
 * non-user credential may use it (routes.c); this file decides. Viewers and
 * read keys read; operators also write releases, pings, clusters, webhooks
 * and alerts; admins do everything. A client-scoped credential sees only its
 * client: handlers filter lists and answer 404 for another client's ids. */
#include <string.h>

#include "gateway/internal.h"

static const char *const role_names[] = {
	[GW_ROLE_NONE] = "", [GW_ROLE_BADGE] = "badge", [GW_ROLE_VIEWER] = "viewer",
	[GW_ROLE_OPERATOR] = "operator", [GW_ROLE_ADMIN] = "admin",
};

const char *gw_role_name(enum gw_role r)
{
	return r <= GW_ROLE_ADMIN ? role_names[r] : "";
}

enum gw_role gw_role_parse(const char *name)
{
	for (int r = GW_ROLE_VIEWER; r <= GW_ROLE_ADMIN; r++) {
		if (strcmp(name, role_names[r]) == 0) {
			return (enum gw_role)r;
		}
	}
	return GW_ROLE_NONE;
}

int gw_scope_parse(const char *scope, enum gw_role *role, const char **client)
{
	static const struct {
		const char *prefix;
		enum gw_role role;
	} scoped[] = {{"client:", GW_ROLE_OPERATOR}, {"read:", GW_ROLE_VIEWER}, {"badge:", GW_ROLE_BADGE}};
	*client = NULL;
	if (strcmp(scope, "admin") == 0 || strcmp(scope, "operator") == 0) {
		*role = gw_role_parse(scope);
		return 0;
	}
	if (strcmp(scope, "read") == 0) {
		*role = GW_ROLE_VIEWER;
		return 0;
	}
	for (size_t i = 0; i < sizeof(scoped) / sizeof(scoped[0]); i++) {
		size_t n = strlen(scoped[i].prefix);
		if (strncmp(scope, scoped[i].prefix, n) == 0 && proto_valid_name(scope + n)) {
			*role = scoped[i].role;
			*client = scope + n;
			return 0;
		}
	}
	return -1;
}

bool gw_may_grant(const struct gw_auth *a, enum gw_role role, const char *client)
{
	if (a->kind != GW_AUTH_OK || role > a->role || a->role < GW_ROLE_VIEWER) {
		return false;
	}
	return a->client == NULL || (client != NULL && strcmp(client, a->client) == 0);
}

bool gw_access_check(struct gw_req *gr, enum gw_role least, unsigned flags)
{
	const struct gw_auth *a = &gr->auth;
	if (least == GW_ROLE_NONE) {
		return true;
	}
	if (a->kind == GW_AUTH_NONE) {
		gw_respond_error(gr, 401, "UNAUTHORIZED", "a credential is required (Authorization: Bearer API-KEY or TOKEN)");
		return false;
	}
	if (a->kind == GW_AUTH_INVALID) {
		gw_respond_error(gr, 401, "UNAUTHORIZED", "%s", a->why != NULL ? a->why : "invalid credential");
		return false;
	}
	if ((flags & GW_ACCESS_USER) && a->cred != GW_CRED_JWT) {
		gw_respond_error(gr, 403, "FORBIDDEN", "this needs a signed-in user (POST /api/v1/auth/login), not an API key");
		return false;
	}
	if (a->role < least) {
		gw_respond_error(gr, 403, "FORBIDDEN", "this needs the %s role; this credential is %s", gw_role_name(least),
		                 gw_role_name(a->role));
		return false;
	}
	if ((flags & GW_ACCESS_UNSCOPED) && a->client != NULL) {
		gw_respond_error(gr, 403, "FORBIDDEN", "a credential limited to client %s may not use this", a->client);
		return false;
	}
	return true;
}
