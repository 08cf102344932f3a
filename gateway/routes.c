/* The route table: method, path pattern ("*" = one non-empty segment, a
 * last "**" = any further segments, none included), whether a credential is
 * required, and the handler. */
#include <stdio.h>
#include <string.h>

#include "gateway/internal.h"

struct route {
	const char *method;
	const char *pattern[GW_MAX_SEGS];
	int n;
	enum gw_role least; /* the least role allowed (access.c); NONE: anyone */
	unsigned flags;     /* GW_ACCESS_UNSCOPED, GW_ACCESS_USER */
	void (*handler)(struct gw_req *gr);
};

#define PUBLIC GW_ROLE_NONE
#define READ GW_ROLE_VIEWER
#define WRITE GW_ROLE_OPERATOR
#define ADMIN GW_ROLE_ADMIN
#define UNSCOPED GW_ACCESS_UNSCOPED
#define USER GW_ACCESS_USER

static const struct route routes[] = {
	{"GET", {"health"}, 1, PUBLIC, 0, gw_h_health},
	{"GET", {"livez"}, 1, PUBLIC, 0, gw_h_livez},
	{"GET", {"readyz"}, 1, PUBLIC, 0, gw_h_readyz},
	{"GET", {"metrics"}, 1, PUBLIC, 0, gw_h_metrics},
	/* Any badge path, so an incomplete one is still the red SVG (as the seed);
	 * the key in its path is checked by the handler, one answer for all failures. */
	{"GET", {"badges", "**"}, 2, PUBLIC, 0, gw_h_badge},
	{"POST", {"api", "collect"}, 2, WRITE, 0, gw_h_collect_now},
	{"PUT", {"api", "collect", "*", "*", "*", "*"}, 6, WRITE, 0, gw_h_collect_put},
	{"GET", {"api", "releases", "current"}, 3, READ, 0, gw_h_current},
	{"GET", {"api", "releases", "history", "*", "*", "*", "*", "*"}, 8, READ, 0, gw_h_history},
	{"GET", {"api", "clients-environments"}, 2, READ, 0, gw_h_clients},
	{"POST", {"api", "ping"}, 2, WRITE, 0, gw_h_ping},
	{"GET", {"api", "config"}, 2, READ, 0, gw_h_config},
	{"POST", {"api", "v1", "auth", "login"}, 4, PUBLIC, 0, gw_h_login},
	{"POST", {"api", "v1", "auth", "refresh"}, 4, PUBLIC, 0, gw_h_refresh},
	{"POST", {"api", "v1", "auth", "logout"}, 4, READ, USER, gw_h_logout},
	{"GET", {"api", "v1", "auth", "me"}, 4, READ, 0, gw_h_me},
	{"POST", {"api", "v1", "auth", "rotate-key"}, 4, ADMIN, UNSCOPED, gw_h_rotate_key},
	{"GET", {"api", "v1", "users"}, 3, ADMIN, UNSCOPED, gw_h_users_list},
	{"POST", {"api", "v1", "users"}, 3, ADMIN, UNSCOPED, gw_h_user_create},
	{"PUT", {"api", "v1", "users", "me"}, 4, READ, USER, gw_h_user_me_update},
	{"POST", {"api", "v1", "users", "me", "password"}, 5, READ, USER, gw_h_user_me_password},
	{"PUT", {"api", "v1", "users", "*"}, 4, ADMIN, UNSCOPED, gw_h_user_update},
	{"DELETE", {"api", "v1", "users", "*"}, 4, ADMIN, UNSCOPED, gw_h_user_delete},
	{"GET", {"api", "v1", "api-keys"}, 3, READ, 0, gw_h_apikeys_list},
	{"POST", {"api", "v1", "api-keys"}, 3, READ, 0, gw_h_apikey_create},
	{"DELETE", {"api", "v1", "api-keys", "*"}, 4, READ, 0, gw_h_apikey_delete},
	{"GET", {"api", "v1", "audit-logs"}, 3, WRITE, UNSCOPED, gw_h_audit},
	{"GET", {"api", "v1", "clusters"}, 3, READ, 0, gw_h_clusters_list},
	{"POST", {"api", "v1", "clusters"}, 3, WRITE, UNSCOPED, gw_h_cluster_create},
	{"GET", {"api", "v1", "clusters", "*"}, 4, READ, 0, gw_h_cluster_get},
	{"PUT", {"api", "v1", "clusters", "*"}, 4, WRITE, UNSCOPED, gw_h_cluster_update},
	{"DELETE", {"api", "v1", "clusters", "*"}, 4, WRITE, UNSCOPED, gw_h_cluster_delete},
	{"GET", {"api", "v1", "clusters", "*", "health"}, 5, READ, 0, gw_h_cluster_health},
	{"GET", {"api", "v1", "jobs"}, 3, READ, 0, gw_h_jobs_list},
	{"POST", {"api", "v1", "observations"}, 3, WRITE, 0, gw_h_observations},
	{"GET", {"api", "v1", "cluster"}, 3, READ, UNSCOPED, gw_h_cluster},
	{"GET", {"api", "v1", "events"}, 3, READ, 0, gw_h_events},
	{"GET", {"api", "v1", "webhooks"}, 3, READ, 0, gw_h_webhooks_list},
	{"POST", {"api", "v1", "webhooks"}, 3, WRITE, 0, gw_h_webhook_create},
	{"DELETE", {"api", "v1", "webhooks", "*"}, 4, WRITE, 0, gw_h_webhook_delete},
	{"GET", {"api", "v1", "webhooks", "*", "deliveries"}, 5, READ, 0, gw_h_webhook_deliveries},
	{"GET", {"api", "v1", "alerts"}, 3, READ, 0, gw_h_alerts},
	{"POST", {"api", "v1", "alerts", "*", "acknowledge"}, 5, WRITE, 0, gw_h_alert_ack},
	{"POST", {"api", "v1", "cluster", "nodes"}, 4, ADMIN, UNSCOPED, gw_h_cluster_add},
	{"DELETE", {"api", "v1", "cluster", "nodes", "*"}, 5, ADMIN, UNSCOPED, gw_h_cluster_remove},
	{"POST", {"api", "v1", "cluster", "transfer"}, 4, ADMIN, UNSCOPED, gw_h_cluster_transfer},
	{"GET", {"api", "v1", "cluster", "snapshot"}, 4, ADMIN, UNSCOPED, gw_h_cluster_snapshot},
	{"GET", {"api", "v1", "jobs", "*"}, 4, READ, 0, gw_h_job_get},
	{"POST", {"api", "v1", "import", "release-tracker"}, 4, ADMIN, UNSCOPED, gw_h_import_rt},
	{"GET", {"api", "v1", "routes"}, 3, PUBLIC, 0, gw_h_routes},
};

static bool matches(const struct route *r, struct gw_req *gr)
{
	bool rest = r->n > 0 && strcmp(r->pattern[r->n - 1], "**") == 0;
	int fixed = rest ? r->n - 1 : r->n;
	if (rest ? gr->target.n_seg < fixed : r->n != gr->target.n_seg) {
		return false;
	}
	for (int i = 0; i < fixed; i++) {
		if (strcmp(r->pattern[i], "*") == 0 ? gr->target.seg[i][0] == '\0' : strcmp(r->pattern[i], gr->target.seg[i]) != 0) {
			return false;
		}
	}
	return true;
}

const char *gw_route_label(int i, char *buf, size_t cap)
{
	size_t n_routes = sizeof(routes) / sizeof(routes[0]);
	if (i < 0 || (size_t)i >= n_routes) {
		snprintf(buf, cap, "unmatched");
		return buf;
	}
	size_t n = (size_t)snprintf(buf, cap, "%s ", routes[i].method);
	for (int k = 0; k < routes[i].n && n < cap; k++) {
		n += (size_t)snprintf(buf + n, cap - n, "/%s", routes[i].pattern[k]);
	}
	return buf;
}

/* Cross-origin use from a browser page of another origin (the seed's
 * web/static/manual-collect-client.html sends PUTs with Authorization):
 * credentials travel in headers, never cookies. [api] cors_origins names
 * the origins allowed ("*": any, the default); others get no CORS headers,
 * so the browser keeps the answer from the page. */
static void cors_headers(struct gw_req *gr)
{
	const struct cfg *cfg = gr->gw->cfg;
	ssize_t i = h2o_find_header_by_str(&gr->req->headers, H2O_STRLIT("origin"), -1);
	if (i < 0 || (gr->target.n_seg > 0 && strcmp(gr->target.seg[0], "badges") == 0)) {
		return; /* badges carry their own, always */
	}
	h2o_iovec_t origin = gr->req->headers.entries[i].value;
	const char *allow = NULL;
	for (size_t k = 0; k < cfg->n_cors_origins && allow == NULL; k++) {
		const char *o = cfg->cors_origins[k];
		if (strcmp(o, "*") == 0 || (strlen(o) == origin.len && strncasecmp(o, origin.base, origin.len) == 0)) {
			allow = o;
		}
	}
	if (allow == NULL) {
		return;
	}
	gw_add_header(gr, "access-control-allow-origin", allow);
	if (strcmp(allow, "*") != 0) {
		gw_add_header(gr, "vary", "Origin");
	}
	gw_add_header(gr, "access-control-expose-headers", "X-Request-Id, X-Shiplog-Index, X-Shiplog-Node");
}

/* Answers a CORS preflight for a known path with the methods it serves. */
static void preflight(struct gw_req *gr)
{
	char methods[128] = "OPTIONS";
	size_t n = strlen(methods);
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (matches(&routes[i], gr) && strstr(methods, routes[i].method) == NULL) {
			n += (size_t)snprintf(methods + n, sizeof(methods) - n, ", %s", routes[i].method);
		}
	}
	gw_add_header(gr, "access-control-allow-methods", methods); /* the origin: cors_headers */
	gw_add_header(gr, "access-control-allow-headers", "Authorization, Content-Type, X-API-Key, Idempotency-Key");
	gw_add_header(gr, "access-control-max-age", "600");
	gw_respond_raw(gr, 204, "text/plain", "", 0);
}

/* The routed request again, once its session's index is here (the
 * session was checked again by gw_read_run). */
static void resume_route(struct gw_req *gr)
{
	const struct route *r = &routes[gr->route];
	gr->auth.wait_index = 0;
	if (gw_access_check(gr, r->least, r->flags)) {
		r->handler(gr);
	}
}

/* A token whose session was started through another node a moment ago:
 * waits (at most [api] write_timeout_ms) for that index to be applied here,
 * as ?index= would, rather than refuse it. False if it cannot wait. */
static bool park_for_session(struct gw_req *gr)
{
	struct gw *g = gr->gw;
	gr->wait_index = gr->auth.wait_index;
	gr->wait_deadline = uv_now(g->loop) + g->cfg->write_timeout_ms;
	gr->read = resume_route;
	if (gw_waiters_park(g, gr)) {
		return true;
	}
	gr->wait_index = 0;
	return false;
}

void gw_route(struct gw_req *gr)
{
	h2o_iovec_t method = gr->req->method;
	bool path_known = false;
	bool options = h2o_memis(method.base, method.len, H2O_STRLIT("OPTIONS"));
	cors_headers(gr);
	if (gw_conn_refused(gr)) {
		return;
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *r = &routes[i];
		if (!matches(r, gr)) {
			continue;
		}
		if (options) {
			preflight(gr);
			return;
		}
		path_known = true;
		bool head = h2o_memis(method.base, method.len, H2O_STRLIT("HEAD")) && strcmp(r->method, "GET") == 0;
		if (!head && !h2o_memis(method.base, method.len, r->method, strlen(r->method))) {
			continue;
		}
		gr->route = (int)i;
		gr->auth = gw_auth_resolve(gr->gw, gr);
		/* A valid credential is limited as itself; anything else by address.
		 * Probes and metrics are not limited; a badge limits itself by the
		 * key in its path (badge.c). */
		bool limited = r->least != GW_ROLE_NONE || r->handler == gw_h_login || r->handler == gw_h_refresh;
		if (limited && !gw_rate_limit_json(gr, gw_auth_credential(&gr->auth))) {
			return;
		}
		if (gr->auth.wait_index > 0 && park_for_session(gr)) {
			return;
		}
		if (!gw_access_check(gr, r->least, r->flags)) {
			return;
		}
		r->handler(gr);
		return;
	}
	if (!gw_rate_limit_json(gr, NULL)) { /* unknown paths and methods spend the address's budget */
		return;
	}
	if (path_known) {
		gw_respond_error(gr, 405, "METHOD_NOT_ALLOWED", "method %.*s is not allowed here", (int)method.len, method.base);
		return;
	}
	gw_respond_error(gr, 404, "NOT_FOUND", "no such endpoint");
}

/* GET /api/v1/routes: every route with its access rule, from the table
 * itself, so tools and tests (the access matrix) never drift from it. */
void gw_h_routes(struct gw_req *gr)
{
	json_t *list = json_array();
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		char path[256] = "";
		size_t n = 0;
		for (int k = 0; k < routes[i].n && n < sizeof(path); k++) {
			n += (size_t)snprintf(path + n, sizeof(path) - n, "/%s", routes[i].pattern[k]);
		}
		json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:b,s:b}", "method", routes[i].method, "path", path,
		                                      "least_role", routes[i].least == GW_ROLE_NONE ? "none" : gw_role_name(routes[i].least),
		                                      "unscoped_only", (routes[i].flags & GW_ACCESS_UNSCOPED) != 0,
		                                      "users_only", (routes[i].flags & GW_ACCESS_USER) != 0));
	}
	gw_respond_json(gr, 200, json_pack("{s:o}", "routes", list));
}
