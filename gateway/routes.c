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
	bool auth; /* a valid API key is required */
	void (*handler)(struct gw_req *gr);
};

static const struct route routes[] = {
	{"GET", {"health"}, 1, false, gw_h_health},
	{"GET", {"livez"}, 1, false, gw_h_livez},
	{"GET", {"readyz"}, 1, false, gw_h_readyz},
	{"GET", {"metrics"}, 1, false, gw_h_metrics},
	/* Any badge path, so an incomplete one is still the red SVG (as the seed). */
	{"GET", {"badges", "**"}, 2, false, gw_h_badge},
	{"POST", {"api", "collect"}, 2, true, gw_h_collect_now},
	{"PUT", {"api", "collect", "*", "*", "*", "*"}, 6, true, gw_h_collect_put},
	{"GET", {"api", "releases", "current"}, 3, true, gw_h_current},
	{"GET", {"api", "releases", "history", "*", "*", "*", "*", "*"}, 8, true, gw_h_history},
	{"GET", {"api", "clients-environments"}, 2, true, gw_h_clients},
	{"POST", {"api", "ping"}, 2, true, gw_h_ping},
	{"GET", {"api", "config"}, 2, true, gw_h_config},
	{"GET", {"api", "v1", "clusters"}, 3, true, gw_h_clusters_list},
	{"POST", {"api", "v1", "clusters"}, 3, true, gw_h_cluster_create},
	{"GET", {"api", "v1", "clusters", "*"}, 4, true, gw_h_cluster_get},
	{"PUT", {"api", "v1", "clusters", "*"}, 4, true, gw_h_cluster_update},
	{"DELETE", {"api", "v1", "clusters", "*"}, 4, true, gw_h_cluster_delete},
	{"GET", {"api", "v1", "clusters", "*", "health"}, 5, true, gw_h_cluster_health},
	{"GET", {"api", "v1", "jobs"}, 3, true, gw_h_jobs_list},
	{"POST", {"api", "v1", "observations"}, 3, true, gw_h_observations},
	{"GET", {"api", "v1", "cluster"}, 3, true, gw_h_cluster},
	{"GET", {"api", "v1", "events"}, 3, true, gw_h_events},
	{"GET", {"api", "v1", "webhooks"}, 3, true, gw_h_webhooks_list},
	{"POST", {"api", "v1", "webhooks"}, 3, true, gw_h_webhook_create},
	{"DELETE", {"api", "v1", "webhooks", "*"}, 4, true, gw_h_webhook_delete},
	{"GET", {"api", "v1", "webhooks", "*", "deliveries"}, 5, true, gw_h_webhook_deliveries},
	{"GET", {"api", "v1", "alerts"}, 3, true, gw_h_alerts},
	{"POST", {"api", "v1", "alerts", "*", "acknowledge"}, 5, true, gw_h_alert_ack},
	{"POST", {"api", "v1", "cluster", "nodes"}, 4, true, gw_h_cluster_add},
	{"DELETE", {"api", "v1", "cluster", "nodes", "*"}, 5, true, gw_h_cluster_remove},
	{"POST", {"api", "v1", "cluster", "transfer"}, 4, true, gw_h_cluster_transfer},
	{"GET", {"api", "v1", "cluster", "snapshot"}, 4, true, gw_h_cluster_snapshot},
	{"GET", {"api", "v1", "jobs", "*"}, 4, true, gw_h_job_get},
	{"POST", {"api", "v1", "import", "release-tracker"}, 4, true, gw_h_import_rt},
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
 * credentials travel in headers, never cookies, so any origin may call. */
static void cors_headers(struct gw_req *gr)
{
	if (h2o_find_header_by_str(&gr->req->headers, H2O_STRLIT("origin"), -1) < 0 ||
	    (gr->target.n_seg > 0 && strcmp(gr->target.seg[0], "badges") == 0)) {
		return; /* badges carry their own, always */
	}
	gw_add_header(gr, "access-control-allow-origin", "*");
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
		/* A valid key is limited as a credential; anything else by address.
		 * Probes and metrics are not limited; a badge limits itself by the
		 * key in its path (badge.c). */
		if (r->auth && !gw_rate_limit_json(gr, gw_auth_credential(&gr->auth))) {
			return;
		}
		if (r->auth) {
			if (gr->auth.kind == GW_AUTH_NONE) {
				gw_respond_error(gr, 401, "UNAUTHORIZED", "an API key is required (Authorization: Bearer KEY)");
				return;
			}
			if (gr->auth.kind == GW_AUTH_INVALID) {
				gw_respond_error(gr, 401, "UNAUTHORIZED", "invalid API key");
				return;
			}
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
