/* The h2o server on the gateway's libuv loop: accept, parse the request
 * into a gw_req, route, and answer with the common headers. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"
#include "gateway/tokens.h"
#include "lib/log.h"

int gw_init(struct gw **out, const struct gw_config *c)
{
	struct gw *g = calloc(1, sizeof(*g));
	if (g == NULL) {
		return PROTO_ENOMEM;
	}
	g->cfg = c->cfg;
	g->self = c->self;
	g->store = c->store;
	snprintf(g->raft_url, sizeof(g->raft_url), "%s", c->raft_url);
	snprintf(g->status_url, sizeof(g->status_url), "%s", c->status_url);
	g->status.last_contact_ms = -1;
	queue_init(&g->ws);
	if (c->secret_key != NULL) {
		memcpy(g->secret_key, c->secret_key, sizeof(g->secret_key));
		g->have_secret_key = true;
	}
	*out = g;
	return PROTO_OK;
}

void gw_free(struct gw *g)
{
	gw_waiters_free(g);
	gw_conns_free(g);
	gw_keyuse_free(g);
	gw_tokens_free(g);
	free(g->ratelimit);
	free(g);
}

int64_t gw_last_contact(struct gw *g)
{
	if (!g->status.known || g->status.last_contact_ms < 0) {
		return -1;
	}
	if (g->status.role == PROTO_ROLE_LEADER) {
		return 0;
	}
	return g->status.last_contact_ms + (int64_t)(uv_now(g->loop) - g->status.received_ms);
}

static void on_status(void *data, const void *buf, size_t len)
{
	struct gw *g = data;
	struct proto_msg m;
	if (proto_msg_decode(buf, len, &m) != PROTO_OK) {
		return;
	}
	if (m.type == PROTO_MSG_STATUS) {
		struct proto_node_status *s = &m.u.status;
		g->status.role = s->role;
		g->status.ready = s->ready;
		g->status.term = s->term;
		g->status.commit = s->commit;
		g->status.applied = s->applied;
		g->status.last_contact_ms = s->last_contact_ms;
		g->status.received_ms = uv_now(g->loop);
		g->status.known = true;
		snprintf(g->status.leader, sizeof(g->status.leader), "%s", s->leader_name);
		/* Removed: a configuration is known and our id is not in it. */
		bool listed = false;
		for (const char *p = s->members; p != NULL && *p != '\0' && !listed;) {
			listed = strtoull(p, NULL, 10) == g->self->id;
			p = strchr(p, ';');
			p = p != NULL ? p + 1 : NULL;
		}
		if (s->applied != g->status.applied_seen) {
			g->status.applied_seen = s->applied;
			gw_events_pump_all(g); /* new entries may carry events */
		}
		g->status.removed = s->role == PROTO_ROLE_REMOVED || (s->members != NULL && s->members[0] != '\0' && !listed);
		gw_waiters_check(g);
	}
	proto_msg_free(&m);
}

void gw_add_header(struct gw_req *gr, const char *name, const char *value)
{
	h2o_req_t *req = gr->req;
	size_t n = strlen(value);
	char *v = h2o_mem_alloc_pool(&req->pool, n + 1);
	memcpy(v, value, n + 1);
	h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 0, NULL, v, n);
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}

/* Counts the answer and sets its status and headers; NULL when the request is gone. */
static h2o_req_t *begin_response(struct gw_req *gr, int status, const char *content_type, size_t len)
{
	h2o_req_t *req = gr->req;
	char buf[64];
	if (req == NULL) {
		return NULL;
	}
	gw_pending_detach(gr);
	struct gw_route_stats *rs = &gr->gw->stats[gr->route >= 0 && gr->route < GW_ROUTES ? gr->route : GW_ROUTES];
	int code = 0;
	while (code < GW_CODES - 1 && gw_codes[code] != status) {
		code++;
	}
	rs->by_code[code]++;
	metrics_observe(&rs->seconds, (double)(uv_hrtime() - gr->start_ns) / 1e9);
	req->res.status = status;
	req->res.reason = reason(status);
	gw_add_header(gr, "content-type", content_type);
	gw_add_header(gr, "x-request-id", gr->request_id);
	gw_add_header(gr, "x-shiplog-node", gr->gw->self->name);
	gw_add_header(gr, "x-shiplog-leader", gr->gw->status.leader);
	snprintf(buf, sizeof(buf), "%" PRId64, gw_last_contact(gr->gw));
	gw_add_header(gr, "x-shiplog-last-contact", buf);
	snprintf(buf, sizeof(buf), "%" PRIu64, gr->index);
	gw_add_header(gr, "x-shiplog-index", buf);
	req->res.content_length = len;
	gr->req = NULL; /* answered: later callbacks must not touch it */
	return req;
}

void gw_respond_raw(struct gw_req *gr, int status, const char *content_type, const char *body, size_t len)
{
	h2o_req_t *req = begin_response(gr, status, content_type, len);
	if (req != NULL) {
		h2o_send_inline(req, body, len);
	}
}

static void free_owned(void *p)
{
	free(*(void **)p);
}

static void owned_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
	(void)gen;
	(void)req; /* everything was sent in one final h2o_send */
}

void gw_respond_owned(struct gw_req *gr, int status, const char *content_type, void *body, size_t len)
{
	h2o_req_t *req = gr->req;
	/* the body lives as long as the request's pool: freed with it */
	void **owner = req != NULL ? h2o_mem_alloc_shared(&req->pool, sizeof(void *), free_owned) : NULL;
	if (owner == NULL) {
		free(body);
		return;
	}
	*owner = body;
	h2o_generator_t *gen = h2o_mem_alloc_pool(&req->pool, sizeof(*gen));
	gen->proceed = owned_proceed;
	gen->stop = NULL;
	begin_response(gr, status, content_type, len);
	h2o_start_response(req, gen);
	h2o_iovec_t v = h2o_iovec_init(body, len);
	h2o_send(req, &v, 1, H2O_SEND_STATE_FINAL);
}

void gw_respond_json(struct gw_req *gr, int status, json_t *body)
{
	char *s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (s == NULL) {
		static const char oom[] = "{\"error\":{\"code\":\"INTERNAL_ERROR\",\"message\":\"out of memory\",\"details\":[]}}";
		gw_respond_raw(gr, 500, "application/json", oom, sizeof(oom) - 1);
		return;
	}
	gw_respond_raw(gr, status, "application/json", s, strlen(s));
	free(s);
}

static void respond_error_v(struct gw_req *gr, int status, const char *code, json_t *details, const char *fmt,
                            va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	json_t *body = json_pack("{s:{s:s,s:s,s:o},s:s}", "error", "code", code, "message", msg, "details",
	                         details != NULL ? details : json_array(), "request_id", gr->request_id);
	gw_respond_json(gr, status, body);
}

void gw_respond_error(struct gw_req *gr, int status, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	respond_error_v(gr, status, code, NULL, fmt, ap);
	va_end(ap);
}

void gw_respond_error_details(struct gw_req *gr, int status, const char *code, json_t *details, const char *fmt,
                              ...)
{
	va_list ap;
	va_start(ap, fmt);
	respond_error_v(gr, status, code, details, fmt, ap);
	va_end(ap);
}

void gw_respond_status(struct gw_req *gr, int status, const char *message)
{
	const char *m = message != NULL && message[0] != '\0' ? message : proto_strerror(status);
	switch (status) {
	case PROTO_EINVAL:
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "%s", m);
		break;
	case PROTO_ENOTFOUND:
		gw_respond_error(gr, 404, "NOT_FOUND", "%s", m);
		break;
	case PROTO_ETOOBIG:
		gw_respond_error(gr, 413, "PAYLOAD_TOO_LARGE", "%s", m);
		break;
	case PROTO_ENOLEADER:
	case PROTO_ENOTLEADER:
	case PROTO_ECONNECT:
		gw_respond_error(gr, 503, "NO_LEADER", "no leader could be reached in time; nothing was applied");
		break;
	case PROTO_EUNKNOWN:
	case PROTO_ETIMEOUT:
		gw_respond_error(gr, 503, "UNKNOWN_OUTCOME",
		                 "the write may or may not have been applied; retry with the same Idempotency-Key");
		break;
	case PROTO_EREMOVED:
		gw_respond_error(gr, 503, "NODE_REMOVED",
		                 "this node was removed from the cluster; send requests to a member (GET /api/v1/cluster)");
		break;
	case PROTO_EBUSY:
		gw_add_header(gr, "retry-after", "1");
		gw_respond_error(gr, 503, "BUSY", "%s", m);
		break;
	case PROTO_ESHUTDOWN:
		gw_respond_error(gr, 503, "UNKNOWN_OUTCOME", "the node is shutting down; retry with the same Idempotency-Key");
		break;
	default:
		gw_respond_error(gr, 500, "INTERNAL_ERROR", "%s", m);
		break;
	}
}

uint64_t gw_state_index(struct gw *g, struct store_read *rd)
{
	uint64_t idx = store_read_index(rd);
	return g->status.applied > idx ? g->status.applied : idx;
}

const char *gw_query(struct gw_req *gr, const char *key)
{
	for (int i = 0; i < gr->target.n_query; i++) {
		if (strcmp(gr->target.qk[i], key) == 0) {
			return gr->target.qv[i];
		}
	}
	return NULL;
}

/* Splits gr's path and query (target.c). */
static bool parse_target(struct gw_req *gr)
{
	h2o_req_t *req = gr->req;
	return gw_parse_target(&req->pool, req->path.base, req->path.len, req->query_at, &gr->target);
}

static void on_req_dispose(void *p)
{
	struct gw_req *gr = p;
	gr->req = NULL;
	gw_pending_detach(gr);
	if (gr->large_body) { /* a bulk request's parsed tree is freed with the request */
		memtrim_soon(&gr->gw->trim, gr->gw->loop);
	}
}

static void set_request_id(struct gw_req *gr)
{
	h2o_req_t *req = gr->req;
	ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-request-id"), -1);
	if (i >= 0) {
		h2o_iovec_t v = req->headers.entries[i].value;
		bool ok = v.len > 0 && v.len <= 64;
		for (size_t k = 0; ok && k < v.len; k++) {
			char c = v.base[k];
			ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_' || c == '.';
		}
		if (ok) {
			memcpy(gr->request_id, v.base, v.len);
			gr->request_id[v.len] = '\0';
			return;
		}
	}
	snprintf(gr->request_id, sizeof(gr->request_id), "%s-%" PRIx64 "-%" PRIx64, gr->gw->self->name,
	         (uint64_t)wall_now_ms(), ++gr->gw->request_seq);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
	struct gw *g = *(struct gw **)(self + 1);
	struct gw_req *gr = h2o_mem_alloc_shared(&req->pool, sizeof(*gr), on_req_dispose);
	memset(gr, 0, sizeof(*gr));
	gr->gw = g;
	gr->req = req;
	gr->large_body = req->entity.len >= (1u << 20);
	gr->route = GW_ROUTES;
	gr->start_ns = uv_hrtime();
	set_request_id(gr);
	{
		struct store_read *rd;
		if (store_read_begin(g->store, &rd) == PROTO_OK) {
			gr->index = gw_state_index(gr->gw, rd);
			store_read_end(rd);
		}
	}
	if (req->entity.base != NULL && req->entity.len > g->cfg->max_body_bytes) {
		gw_respond_error(gr, 413, "PAYLOAD_TOO_LARGE", "request body is %zu bytes; the limit is %zu", req->entity.len,
		                 g->cfg->max_body_bytes);
		return 0;
	}
	if (!parse_target(gr)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "malformed request target");
		return 0;
	}
	gw_route(gr);
	return 0;
}

static void on_accept(uv_stream_t *listener, int status)
{
	struct gw *g = listener->data;
	if (status != 0 || g->stopping) {
		return;
	}
	uv_close_cb on_close;
	uv_stream_t *conn = gw_conn_new(g, &on_close);
	if (conn == NULL) {
		return;
	}
	if (uv_accept(listener, conn) != 0) {
		uv_close((uv_handle_t *)conn, gw_conn_free_unaccepted);
		return;
	}
	uv_tcp_nodelay((uv_tcp_t *)conn, 1);
	gw_conn_accepted(g, conn);
	h2o_socket_t *sock = h2o_uv_socket_create(conn, on_close);
	h2o_accept(&g->accept_ctx, sock);
}

static int split_host_port(const char *addr, char *host, size_t cap, int *port)
{
	const char *colon = strrchr(addr, ':');
	if (colon == NULL || (size_t)(colon - addr) >= cap) {
		return -1;
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	*port = atoi(colon + 1);
	return *port > 0 && *port < 65536 ? 0 : -1;
}

int gw_start(void *self, uv_loop_t *loop)
{
	struct gw *g = self;
	struct sockaddr_in addr;
	char host[CFG_ADDR_MAX];
	int port, rv;
	g->loop = loop;
	h2o_config_init(&g->config);
	/* Larger bodies than max_body_bytes reach us so we can answer 413 in our
	 * format; h2o itself refuses beyond this. */
	g->config.max_request_entity_size = g->cfg->max_body_bytes * 4 + 4096;
	h2o_hostconf_t *host_conf = h2o_config_register_host(&g->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	h2o_pathconf_t *path = h2o_config_register_path(host_conf, "/", 0);
	h2o_handler_t *h = h2o_create_handler(path, sizeof(*h) + sizeof(struct gw *));
	*(struct gw **)(h + 1) = g;
	h->on_req = on_req;
	h2o_context_init(&g->ctx, loop, &g->config);
	g->ctx_inited = true;
	g->accept_ctx.ctx = &g->ctx;
	g->accept_ctx.hosts = g->config.hosts;

	if (bus_client_open(&g->raft, loop, g->raft_url) != PROTO_OK ||
	    bus_sub_open(&g->sub, loop, g->status_url, on_status, g) != PROTO_OK) {
		log_error("gateway", "cannot reach the raft actor");
		return PROTO_ECONNECT;
	}
	uv_timer_init(loop, &g->wait_timer);
	g->wait_timer.data = g;
	g->timer_inited = true;
	uv_timer_start(&g->wait_timer, gw_events_timer, 25, 25);
	if (gw_waiters_init(g) != PROTO_OK || gw_conns_init(g) != PROTO_OK) {
		return PROTO_ENOMEM;
	}
	gw_outbox_init(g);
	if (gw_keyuse_init(g) != PROTO_OK || gw_pw_init(g) != 0) {
		return PROTO_ENOMEM;
	}

	if (split_host_port(g->self->http, host, sizeof(host), &port) != 0 || uv_ip4_addr(host, port, &addr) != 0) {
		log_error("gateway", "bad http address %s", g->self->http);
		return PROTO_EINVAL;
	}
	uv_tcp_init(loop, &g->listener);
	g->listener.data = g;
	g->listening = true;
	if ((rv = uv_tcp_bind(&g->listener, (const struct sockaddr *)&addr, 0)) != 0 ||
	    (rv = uv_listen((uv_stream_t *)&g->listener, 1024, on_accept)) != 0) {
		log_error("gateway", "listen on %s: %s", g->self->http, uv_strerror(rv));
		return PROTO_ECONNECT;
	}
	log_info("gateway", "node %s serving http://%s", g->self->name, g->self->http);
	return PROTO_OK;
}

void gw_stop(void *self)
{
	struct gw *g = self;
	g->stopping = true;
	gw_events_close_all(g);
	if (g->listening) {
		uv_close((uv_handle_t *)&g->listener, NULL);
		g->listening = false;
	}
	if (g->timer_inited) {
		uv_close((uv_handle_t *)&g->wait_timer, NULL);
		g->timer_inited = false;
	}
	gw_waiters_close(g);
	gw_keyuse_close(g);
	gw_pw_stop(g);
	if (g->sub != NULL) {
		bus_sub_close(g->sub);
		g->sub = NULL;
	}
	gw_outbox_close(g);
	if (g->raft != NULL) {
		bus_client_close(g->raft);
		g->raft = NULL;
	}
	/* Open HTTP connections are not drained: the process is exiting, and a
	 * write in flight has either been committed or will be retried by its
	 * client with its Idempotency-Key. */
}
