/* GET /api/v1/events: the event log as a WebSocket stream (RFC 6455 through
 * h2o's wslay support). ?since=INDEX replays stored events after INDEX, then
 * the stream goes on live from the same cursor, so nothing is skipped or sent
 * twice; ?types=a,b filters; a client key sees its client's events only.
 * Every client is pumped from the gateway's timer and after each status
 * update; one that does not read is cut off (1008) once its queue passes
 * GW_WS_MAX_QUEUED, so it never holds the node back. Streams are capped per
 * node and per credential (or address), and a message a client sends over
 * [api] max_ws_message_bytes closes its stream. */
#define H2O_USE_LIBUV 1
#include <h2o/websocket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gateway/internal.h"

#define GW_WS_MAX_QUEUED (1u << 20) /* bytes queued for one client before it is cut off */
#define GW_WS_BATCH 500             /* events sent per pump */
#define GW_WS_SCAN 5000             /* events read per pump, sent or filtered out */
#define GW_WS_PING_MS 15000

struct gw_ws {
	struct queue link; /* in g->ws */
	struct gw *g;
	h2o_websocket_conn_t *conn;
	uint64_t after_index, after_seq; /* the last event sent (or skipped) */
	char types[512];                 /* ",a,b," or "" for all */
	char client[CFG_NAME_MAX];       /* non-empty: only this client's events */
	uint64_t last_ping_ms;
	uint64_t owner;                  /* gw_caller_key of who opened it: streams per credential */
	bool backlog;                    /* the last pump stopped at its batch size */
};

/* Refuses a stream over [api] max_streams or max_streams_per_credential. */
static bool streams_allowed(struct gw_req *gr, uint64_t owner)
{
	struct gw *g = gr->gw;
	unsigned mine = 0;
	struct queue *e;
	QUEUE_FOREACH(e, &g->ws) {
		mine += QUEUE_DATA(e, struct gw_ws, link)->owner == owner;
	}
	if (mine >= g->cfg->max_streams_per_key) {
		g->m.refused[GW_LIMIT_WS_STREAMS]++;
		gw_respond_error(gr, 429, "RATE_LIMIT_EXCEEDED",
		                 "this credential (or address) has %u event streams open on this node, the most "
		                 "[api] max_streams_per_credential allows",
		                 mine);
		return false;
	}
	if ((unsigned)g->n_ws >= g->cfg->max_streams) {
		g->m.refused[GW_LIMIT_WS_STREAMS]++;
		gw_add_header(gr, "retry-after", "5");
		gw_respond_error(gr, 503, "OVERLOADED", "this node serves %d event streams ([api] max_streams)", g->n_ws);
		return false;
	}
	return true;
}

static void ws_unlink(struct gw_ws *w)
{
	queue_remove(&w->link);
	w->g->n_ws--;
}

static void ws_drop(struct gw_ws *w)
{
	ws_unlink(w);
	h2o_websocket_close(w->conn);
	free(w);
}

static void on_ws_msg(h2o_websocket_conn_t *conn, const struct wslay_event_on_msg_recv_arg *arg)
{
	if (arg == NULL) {
		ws_drop(conn->data); /* closed by the peer or by an error */
	}
	/* Messages from clients carry nothing we act on. */
}

struct pump {
	struct gw_ws *w;
	int sent, scanned;
	bool full;
};

static bool wanted(const struct gw_ws *w, const struct store_event *e)
{
	if (w->client[0] != '\0' && strcmp(w->client, e->client) != 0) {
		return false;
	}
	if (w->types[0] != '\0') {
		char needle[80];
		snprintf(needle, sizeof(needle), ",%s,", e->type);
		return strstr(w->types, needle) != NULL;
	}
	return true;
}

static int pump_one(void *data, const struct store_event *e)
{
	struct pump *p = data;
	struct gw_ws *w = p->w;
	if (p->sent >= GW_WS_BATCH || p->scanned >= GW_WS_SCAN ||
	    wslay_event_get_queued_msg_length(w->conn->ws_ctx) > GW_WS_MAX_QUEUED) {
		p->full = true; /* the rest at the next pump: a filter matching little cannot make one pump long */
		return 1;
	}
	p->scanned++;
	w->after_index = e->index;
	w->after_seq = e->seq;
	if (!wanted(w, e)) {
		return 0;
	}
	char when[40];
	timefmt_format(e->ts_ms, when, sizeof(when));
	size_t cap = strlen(e->data) + strlen(e->type) + 160;
	char *text = malloc(cap);
	if (text == NULL) {
		return 1;
	}
	int n = snprintf(text, cap, "{\"index\":%llu,\"type\":\"%s\",\"timestamp\":\"%s\",\"data\":%s}",
	                 (unsigned long long)e->index, e->type, when, e->data);
	struct wslay_event_msg msg = {WSLAY_TEXT_FRAME, (const uint8_t *)text, (size_t)n};
	wslay_event_queue_msg(w->conn->ws_ctx, &msg); /* copies the text */
	free(text);
	p->sent++;
	return 0;
}

/* Sends what the store holds after the client's cursor; false if it was dropped. */
static bool ws_pump(struct gw_ws *w)
{
	struct store_read *rd;
	struct pump p = {.w = w};
	if (store_read_begin(w->g->store, &rd) != PROTO_OK) {
		return true;
	}
	store_events_each(rd, w->after_index, w->after_seq, pump_one, &p);
	store_read_end(rd);
	w->backlog = p.full;
	if (wslay_event_get_queued_msg_length(w->conn->ws_ctx) > GW_WS_MAX_QUEUED) {
		static const char reason[] = "client too slow: events not read";
		wslay_event_queue_close(w->conn->ws_ctx, 1008, (const uint8_t *)reason, sizeof(reason) - 1);
		if (w->conn->sock != NULL) {
			h2o_websocket_proceed(w->conn); /* the close frame, if the socket still takes bytes */
			int fd = h2o_socket_get_fd(w->conn->sock);
			if (fd >= 0) {
				/* Reset, not a graceful close: what sits in the kernel buffers is
				 * dropped, and the write stuck on them fails so h2o closes now. */
				struct linger lg = {1, 0};
				setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
				shutdown(fd, SHUT_RDWR);
			}
		}
		ws_drop(w); /* a reader that stalls gets no more of the node */
		return false;
	}
	uint64_t now = uv_now(w->g->loop);
	if (now - w->last_ping_ms >= GW_WS_PING_MS) {
		struct wslay_event_msg ping = {WSLAY_PING, (const uint8_t *)"", 0};
		wslay_event_queue_msg(w->conn->ws_ctx, &ping);
		w->last_ping_ms = now;
	}
	if (w->conn->sock != NULL) { /* NULL until h2o has sent the 101 and handed the socket over */
		h2o_websocket_proceed(w->conn);
	}
	return true;
}

void gw_events_pump_all(struct gw *g)
{
	struct queue *e, *next;
	QUEUE_FOREACH_SAFE(e, next, &g->ws) {
		ws_pump(QUEUE_DATA(e, struct gw_ws, link)); /* may drop it */
	}
}

void gw_events_timer(uv_timer_t *t)
{
	gw_events_pump_all(t->data);
}

void gw_events_close_all(struct gw *g)
{
	while (!queue_empty(&g->ws)) {
		ws_drop(QUEUE_DATA(queue_head(&g->ws), struct gw_ws, link));
	}
}

void gw_h_events(struct gw_req *gr)
{
	const char *client_key = NULL;
	const char *since = gw_query(gr, "since"), *types = gw_query(gr, "types");
	if (h2o_is_websocket_handshake(gr->req, &client_key) != 0 || client_key == NULL) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "GET /api/v1/events is a WebSocket (Upgrade: websocket)");
		return;
	}
	uint64_t owner = gw_caller_key(gr, gw_auth_credential(&gr->auth));
	if (!streams_allowed(gr, owner)) {
		return;
	}
	struct gw_ws *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		gw_respond_status(gr, PROTO_ENOMEM, NULL);
		return;
	}
	w->g = gr->gw;
	w->owner = owner;
	if (since != NULL) {
		char *end;
		w->after_index = strtoull(since, &end, 10);
		if (*since < '0' || *since > '9' || *end != '\0') {
			free(w);
			gw_respond_error(gr, 400, "VALIDATION_ERROR", "since must be a Raft index (X-Shiplog-Index)");
			return;
		}
		w->after_seq = UINT64_MAX; /* everything after INDEX: events of INDEX itself were seen */
	} else {
		w->after_index = gr->index; /* live only: from what this node has applied now */
		w->after_seq = UINT64_MAX;
	}
	if (types != NULL && strlen(types) + 3 < sizeof(w->types)) {
		snprintf(w->types, sizeof(w->types), ",%s,", types);
	}
	if (gr->auth.client != NULL) {
		snprintf(w->client, sizeof(w->client), "%s", gr->auth.client);
	}
	w->last_ping_ms = uv_now(gr->gw->loop);
	struct gw *g = gr->gw;
	h2o_req_t *req = gr->req;
	gr->req = NULL; /* h2o owns the connection from here */
	w->conn = h2o_upgrade_to_websocket(req, client_key, w, on_ws_msg);
	/* wslay would buffer up to 2 GiB of one message; clients send us nothing
	 * we use, so a message over the cap closes the stream (1009). */
	wslay_event_config_set_max_recv_msg_length(w->conn->ws_ctx, g->cfg->max_ws_message);
	queue_insert_head(&g->ws, &w->link);
	g->n_ws++;
	ws_pump(w);
}
