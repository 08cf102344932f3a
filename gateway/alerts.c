/* GET /api/v1/alerts (?severity=, ?status=) and POST
 * /api/v1/alerts/{id}/acknowledge. */
#include <string.h>

#include "gateway/internal.h"

struct alert_list {
	struct gw_req *gr;
	json_t *list;
	const char *severity, *status;
};

static bool visible(const struct gw_req *gr, const char *client)
{
	return gw_auth_allows(&gr->auth, client);
}

static json_t *opt_time(int64_t ms)
{
	return ms > 0 ? gw_json_time(ms) : json_null();
}

static int alert_row(void *data, const struct store_alert *a)
{
	struct alert_list *l = data;
	if (!visible(l->gr, a->client) || (l->severity != NULL && strcmp(l->severity, a->severity) != 0) ||
	    (l->status != NULL && strcmp(l->status, a->status) != 0)) {
		return 0;
	}
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o}", "id", a->id, "kind", a->kind, "severity", a->severity,
	                      "status", a->status, "message", a->message, "raised_at", opt_time(a->raised_ms),
	                      "resolved_at", opt_time(a->resolved_ms), "acknowledged_at", opt_time(a->acked_ms));
	json_object_set_new(o, "client_name", a->client[0] ? json_string(a->client) : json_null());
	json_object_set_new(o, "acknowledged_by", a->acked_by[0] ? json_string(a->acked_by) : json_null());
	json_array_append_new(l->list, o);
	return 0;
}

static void read_alerts(struct gw_req *gr)
{
	struct store_read *rd;
	struct alert_list l = {gr, json_array(), gw_query(gr, "severity"), gw_query(gr, "status")};
	if (store_read_begin(gr->gw->store, &rd) != PROTO_OK) {
		json_decref(l.list);
		gw_respond_status(gr, PROTO_EIO, NULL);
		return;
	}
	gr->index = gw_state_index(gr->gw, rd);
	store_alerts_each(rd, alert_row, &l);
	store_read_end(rd);
	size_t n = json_array_size(l.list);
	gw_respond_json(gr, 200, json_pack("{s:o,s:I}", "alerts", l.list, "total", (json_int_t)n));
}

void gw_h_alerts(struct gw_req *gr)
{
	const char *sev = gw_query(gr, "severity"), *st = gw_query(gr, "status");
	if ((sev != NULL && strcmp(sev, "warning") != 0 && strcmp(sev, "critical") != 0) ||
	    (st != NULL && strcmp(st, "firing") != 0 && strcmp(st, "acknowledged") != 0 && strcmp(st, "resolved") != 0)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR",
		                 "severity is warning or critical; status is firing, acknowledged or resolved");
		return;
	}
	gw_read(gr, read_alerts);
}

struct ack_check {
	const char *id;
	bool found;
	char client[PROTO_MAX_STR + 1];
};

static int ack_find(void *data, const struct store_alert *a)
{
	struct ack_check *c = data;
	if (strcmp(a->id, c->id) == 0) {
		c->found = true;
		snprintf(c->client, sizeof(c->client), "%s", a->client);
		return 1;
	}
	return 0;
}

static void acked(struct gw_req *gr, const struct proto_result *res)
{
	(void)res;
	gw_respond_json(gr, 200, json_pack("{s:s,s:s}", "id", gr->target.seg[3], "status", "acknowledged"));
}

void gw_h_alert_ack(struct gw_req *gr)
{
	struct store_read *rd;
	struct ack_check c = {.id = gr->target.seg[3]};
	if (store_read_begin(gr->gw->store, &rd) != PROTO_OK) {
		gw_respond_status(gr, PROTO_EIO, NULL);
		return;
	}
	store_alerts_each(rd, ack_find, &c);
	store_read_end(rd);
	if (!c.found) {
		gw_respond_error(gr, 404, "NOT_FOUND", "no such alert");
		return;
	}
	if (!visible(gr, c.client)) {
		gw_respond_error(gr, 404, "NOT_FOUND", "no such alert"); /* another client's ids do not leak */
		return;
	}
	const char *by = gr->auth.actor;
	struct proto_cmd cmd = {.type = PROTO_CMD_ALERT};
	cmd.u.alert = (struct proto_alert){gr->target.seg[3], "acknowledge", "", "", "", "", by};
	gw_propose(gr, &cmd, acked);
}
