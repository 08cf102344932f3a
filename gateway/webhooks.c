/* /api/v1/webhooks: registration (the secret is sealed before it enters the
 * Raft log and never shown again), listing with delivery progress, removal,
 * and each webhook's recent delivery attempts. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"
#include "lib/secret.h"

#define GW_MAX_WEBHOOK_EVENTS 32

static json_t *webhook_json(const struct store_webhook *w)
{
	json_t *events = json_array();
	for (uint32_t i = 0; i < w->w->n_events; i++) {
		json_array_append_new(events, json_string(w->w->events[i]));
	}
	json_t *o = json_pack("{s:s,s:s,s:o,s:o,s:{s:I,s:I,s:I,s:I}}", "id", w->w->id, "url", w->w->url, "events", events,
	                      "created_at", gw_json_time(w->created_ms), "delivery", "delivered", (json_int_t)w->delivered,
	                      "attempts", (json_int_t)w->attempts, "consecutive_failures", (json_int_t)w->failures,
	                      "cursor_index", (json_int_t)w->after_index);
	json_object_set_new(o, "client_name", w->w->client[0] ? json_string(w->w->client) : json_null());
	return o;
}

struct wh_list {
	struct gw_req *gr;
	json_t *list;
};

static bool visible(const struct gw_req *gr, const struct proto_webhook *w)
{
	return gw_auth_allows(&gr->auth, w->client);
}

static int list_row(void *data, const struct store_webhook *w)
{
	struct wh_list *l = data;
	if (visible(l->gr, w->w)) {
		json_array_append_new(l->list, webhook_json(w));
	}
	return 0;
}

static void read_webhooks(struct gw_req *gr)
{
	struct store_read *rd;
	struct wh_list l = {gr, json_array()};
	if (store_read_begin(gr->gw->store, &rd) != PROTO_OK) {
		json_decref(l.list);
		gw_respond_status(gr, PROTO_EIO, NULL);
		return;
	}
	gr->index = gw_state_index(gr->gw, rd);
	store_webhooks_each(rd, list_row, &l);
	store_read_end(rd);
	size_t n = json_array_size(l.list);
	gw_respond_json(gr, 200, json_pack("{s:o,s:I}", "webhooks", l.list, "total", (json_int_t)n));
}

void gw_h_webhooks_list(struct gw_req *gr)
{
	gw_read(gr, read_webhooks);
}

struct wh_form {
	json_t *body;
	char *sealed;
	const char *events[GW_MAX_WEBHOOK_EVENTS];
	struct proto_webhook w;
	char id[40];
};

static void form_dispose(void *p)
{
	struct wh_form *f = p;
	if (f->body != NULL) {
		json_decref(f->body);
	}
	free(f->sealed);
}

static void created(struct gw_req *gr, const struct proto_result *res)
{
	struct wh_form *f = gr->ctx;
	struct store_webhook w = {.w = &f->w, .created_ms = wall_now_ms(), .after_index = res->index};
	gw_respond_json(gr, 201, webhook_json(&w));
}

struct wh_count {
	const char *client;
	unsigned n;
};

static int count_row(void *data, const struct store_webhook *w)
{
	struct wh_count *c = data;
	c->n += strcmp(w->w->client, c->client) == 0;
	return 0;
}

/* Refuses a webhook over [webhooks] max_per_client for its client (checked
 * here, at the gateway: two creates racing may pass it by one). */
static bool room_for_one(struct gw_req *gr, const char *client)
{
	struct store_read *rd;
	struct wh_count c = {client, 0};
	if (store_read_begin(gr->gw->store, &rd) == PROTO_OK) {
		store_webhooks_each(rd, count_row, &c);
		store_read_end(rd);
	}
	if (c.n >= gr->gw->cfg->webhooks_per_client) {
		gw_respond_error(gr, 409, "CONFLICT", "%s has %u webhooks, the most [webhooks] max_per_client allows",
		                 client[0] ? client : "the admin scope", c.n);
		return false;
	}
	return true;
}

void gw_h_webhook_create(struct gw_req *gr)
{
	if (!gr->gw->have_secret_key) {
		gw_respond_error(gr, 503, "INTERNAL_ERROR", "[collector] secret_key is not set: webhook secrets cannot be stored");
		return;
	}
	json_t *body = gw_body_object(gr);
	if (body == NULL) {
		return;
	}
	struct wh_form *f = h2o_mem_alloc_shared(&gr->req->pool, sizeof(*f), form_dispose);
	memset(f, 0, sizeof(*f));
	f->body = body;
	gr->ctx = f;
	const char *url, *secret;
	if (!gw_opt_string(gr, body, "url", &url) || !gw_opt_string(gr, body, "secret", &secret)) {
		return;
	}
	if (url == NULL || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
	    !proto_valid_text(url, 1000) || secret == NULL || !proto_valid_text(secret, 256)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "url (http or https) and secret are required");
		return;
	}
	json_t *events = json_object_get(body, "events");
	if (events != NULL && (!json_is_array(events) || json_array_size(events) > GW_MAX_WEBHOOK_EVENTS)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "events must be an array of at most 32 event types");
		return;
	}
	size_t i;
	json_t *v;
	json_array_foreach(events, i, v)
	{
		if (!json_is_string(v) || !proto_valid_text(json_string_value(v), 60)) {
			gw_respond_error(gr, 400, "VALIDATION_ERROR", "events must hold event type names");
			return;
		}
		f->events[f->w.n_events++] = json_string_value(v);
	}
	if (!room_for_one(gr, gr->auth.client != NULL ? gr->auth.client : "")) {
		return;
	}
	if (secret_seal(gr->gw->secret_key, secret, strlen(secret), &f->sealed) != 0) {
		gw_respond_error(gr, 500, "INTERNAL_ERROR", "cannot seal the secret");
		return;
	}
	snprintf(f->id, sizeof(f->id), "w%011" PRIx64 "%04x", (uint64_t)wall_now_ms(), (unsigned)rand() & 0xffff);
	f->w = (struct proto_webhook){f->id, url, f->events, f->w.n_events, f->sealed,
	                              gr->auth.client != NULL ? gr->auth.client : ""};
	struct proto_cmd cmd = {.type = PROTO_CMD_WEBHOOK_PUT, .u.webhook = f->w};
	gw_propose(gr, &cmd, created);
}

struct wh_one {
	struct gw_req *gr;
	bool found, allowed;
};

static int one_row(void *data, const struct store_webhook *w)
{
	struct wh_one *o = data;
	o->found = true;
	o->allowed = visible(o->gr, w->w);
	return 0;
}

/* Whether gr may act on webhook id; answers 404/403 otherwise. */
static bool may_see(struct gw_req *gr, struct store_read *rd, const char *id)
{
	struct wh_one o = {.gr = gr};
	if (store_webhook_get(rd, id, one_row, &o) != PROTO_OK || !o.found) {
		gw_respond_error(gr, 404, "NOT_FOUND", "no such webhook");
		return false;
	}
	if (!o.allowed) {
		gw_respond_error(gr, 404, "NOT_FOUND", "no such webhook"); /* another client's ids do not leak */
		return false;
	}
	return true;
}

static void deleted(struct gw_req *gr, const struct proto_result *res)
{
	(void)res;
	gw_respond_json(gr, 200, json_pack("{s:s,s:s}", "status", "deleted", "id", gr->target.seg[3]));
}

void gw_h_webhook_delete(struct gw_req *gr)
{
	struct store_read *rd;
	if (store_read_begin(gr->gw->store, &rd) != PROTO_OK) {
		gw_respond_status(gr, PROTO_EIO, NULL);
		return;
	}
	bool ok = may_see(gr, rd, gr->target.seg[3]);
	store_read_end(rd);
	if (ok) {
		struct proto_cmd cmd = {.type = PROTO_CMD_WEBHOOK_DELETE, .u.webhook_id = gr->target.seg[3]};
		gw_propose(gr, &cmd, deleted);
	}
}

static int delivery_row(void *data, const struct store_delivery *d)
{
	json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:I,s:I,s:o,s:I}", "attempt", (json_int_t)d->attempt, "event_index",
	                      (json_int_t)d->event_index, "event_type", d->event_type, "status",
	                      d->ok ? "delivered" : "failed", "http_status", (json_int_t)d->http_status, "node",
	                      (json_int_t)d->node, "at", gw_json_time(d->at_ms), "duration_ms", (json_int_t)d->duration_ms);
	json_object_set_new(o, "error", d->error[0] ? json_string(d->error) : json_null());
	json_array_append_new(data, o);
	return json_array_size(data) >= 500; /* the newest 500 */
}

static void read_deliveries(struct gw_req *gr)
{
	struct store_read *rd;
	if (store_read_begin(gr->gw->store, &rd) != PROTO_OK) {
		gw_respond_status(gr, PROTO_EIO, NULL);
		return;
	}
	gr->index = gw_state_index(gr->gw, rd);
	if (!may_see(gr, rd, gr->target.seg[3])) {
		store_read_end(rd);
		return;
	}
	json_t *list = json_array();
	store_deliveries_each(rd, gr->target.seg[3], delivery_row, list);
	store_read_end(rd);
	size_t n = json_array_size(list);
	gw_respond_json(gr, 200, json_pack("{s:s,s:o,s:I}", "webhook_id", gr->target.seg[3], "deliveries", list, "total",
	                                   (json_int_t)n));
}

void gw_h_webhook_deliveries(struct gw_req *gr)
{
	gw_read(gr, read_deliveries);
}
