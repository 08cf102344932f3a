/* GET /metrics: the gateway's own request metrics, then the raft actor's
 * (asked over the bus), in the Prometheus text format. */
#include <stdio.h>
#include <string.h>

#include "gateway/internal.h"

const int gw_codes[GW_CODES] = {200, 201, 400, 401, 403, 404, 405, 409, 413, 429, 500, 501, 503, 504, 0};
const char *const gw_limit_names[GW_LIMIT_KINDS_] = {"rate", "connections", "waits", "ws_streams"};

static void render_http(struct gw *g, struct metrics_text *t)
{
	char label[160], labels[256];
	metrics_header(t, "shiplog_http_requests_total", "counter", "HTTP requests by route and status");
	for (int i = 0; i <= GW_ROUTES; i++) {
		for (int c = 0; c < GW_CODES; c++) {
			if (g->stats[i].by_code[c] == 0) {
				continue;
			}
			gw_route_label(i < GW_ROUTES ? i : -1, label, sizeof(label));
			metrics_printf(t, "shiplog_http_requests_total{route=\"%s\",code=\"%s%d\"} %llu\n", label,
			               gw_codes[c] ? "" : "other", gw_codes[c] ? gw_codes[c] : 0,
			               (unsigned long long)g->stats[i].by_code[c]);
		}
	}
	metrics_header(t, "shiplog_http_request_duration_seconds", "histogram", "HTTP request latency by route");
	for (int i = 0; i <= GW_ROUTES; i++) {
		if (g->stats[i].seconds.count == 0) {
			continue;
		}
		gw_route_label(i < GW_ROUTES ? i : -1, label, sizeof(label));
		snprintf(labels, sizeof(labels), "route=\"%s\"", label);
		metrics_hist_render(t, "shiplog_http_request_duration_seconds", labels, &g->stats[i].seconds);
	}
	metrics_header(t, "shiplog_websocket_clients", "gauge", "Open WebSocket event streams");
	metrics_printf(t, "shiplog_websocket_clients %d\n", g->n_ws);
	metrics_header(t, "shiplog_limit_refusals_total", "counter", "Requests refused by a configured limit");
	for (int i = 0; i < GW_LIMIT_KINDS_; i++) {
		metrics_printf(t, "shiplog_limit_refusals_total{limit=\"%s\"} %llu\n", gw_limit_names[i],
		               (unsigned long long)g->m.refused[i]);
	}
	metrics_header(t, "shiplog_rate_limit_evictions_total", "counter", "Live rate-limit slots taken over");
	metrics_printf(t, "shiplog_rate_limit_evictions_total %llu\n", (unsigned long long)g->m.rate_evictions);
}

struct lease_count {
	struct gw *g;
	struct store_read *rd;
	int64_t now;
	int held;
};

static int count_lease(void *data, const struct store_cluster *sc)
{
	struct lease_count *lc = data;
	char duty[PROTO_MAX_STR + 16];
	struct store_lease l;
	snprintf(duty, sizeof(duty), "collect:%s", sc->c->id);
	if (store_lease_get(lc->rd, duty, &l) == PROTO_OK && l.holder == lc->g->self->id && l.expires_ms > lc->now) {
		lc->held++;
	}
	return 0;
}

static void metrics_reply(struct gw_req *gr, int status, const void *buf, size_t len);

static void on_raft_metrics(void *data, int status, const void *buf, size_t len)
{
	struct gw_req *gr = gw_pending_call_take(data);
	if (gr != NULL && gr->req != NULL) {
		metrics_reply(gr, status, buf, len);
	}
}

static void metrics_reply(struct gw_req *gr, int status, const void *buf, size_t len)
{
	struct gw *g = gr->gw;
	struct metrics_text t = {0};
	struct proto_msg m;
	render_http(g, &t);
	struct lease_count lc = {.g = g, .now = wall_now_ms()};
	if (store_read_begin(g->store, &lc.rd) == PROTO_OK) {
		store_clusters_each(lc.rd, count_lease, &lc);
		store_read_end(lc.rd);
	}
	metrics_header(&t, "shiplog_leases_held", "gauge", "Collection leases this node holds");
	metrics_printf(&t, "shiplog_leases_held %d\n", lc.held);
	if (status == PROTO_OK && proto_msg_decode(buf, len, &m) == PROTO_OK) {
		if (m.type == PROTO_MSG_REPLY && m.u.reply.result_len > 0) {
			metrics_printf(&t, "%.*s", (int)m.u.reply.result_len, (const char *)m.u.reply.result);
		}
		proto_msg_free(&m);
	}
	gw_respond_raw(gr, 200, "text/plain; version=0.0.4", t.p != NULL ? t.p : "", t.len);
	metrics_text_free(&t);
}

void gw_h_metrics(struct gw_req *gr)
{
	struct proto_msg m = {.type = PROTO_MSG_METRICS_QUERY};
	if (gw_raft_call(gr, &m, 1000, on_raft_metrics) != PROTO_OK) {
		metrics_reply(gr, PROTO_ECONNECT, NULL, 0);
	}
}
