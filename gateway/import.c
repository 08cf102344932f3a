/* POST /api/v1/import/release-tracker: rows of a Release Tracker database
 * (`shiplog import release-tracker` sends them in batches, each under an
 * Idempotency-Key derived from its rows). Admin keys only: an import writes
 * any client's history. */
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"

#define GW_MAX_IMPORT 5000 /* releases + pings in one request (one Raft entry) */

struct import_req {
	json_t *body; /* owns the strings the command points into */
	struct proto_import im;
};

static void import_dispose(void *p)
{
	struct import_req *q = p;
	if (q->body != NULL) {
		json_decref(q->body);
	}
	free(q->im.rows);
	free(q->im.pings);
}

static void import_done(struct gw_req *gr, const struct proto_result *res)
{
	struct import_req *q = gr->ctx;
	if (res->replay) {
		gw_add_header(gr, "idempotent-replayed", "true");
	}
	json_int_t n = q->im.n_rows, changed = (json_int_t)res->created + (json_int_t)res->updated;
	/* replayed: this batch was written before (a rerun); the counts are that first write's. */
	gw_respond_json(gr, 200, json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:b,s:o}", "status", "success", "releases", n,
	                                   "pings", (json_int_t)q->im.n_pings, "created", (json_int_t)res->created,
	                                   "updated", (json_int_t)res->updated, "unchanged", n > changed ? n - changed : 0,
	                                   "replayed", res->replay != 0, "timestamp", gw_json_time(wall_now_ms())));
}

static bool a_time(json_t *o, const char *k, int64_t *ms)
{
	const char *s = gw_str_member(o, k);
	return s != NULL && timefmt_parse(s, ms) == 0;
}

/* Fills one row; NULL, or why it is malformed. */
static const char *read_row(json_t *o, void *item)
{
	struct proto_import_row *r = item;
	struct proto_observation *ob = &r->obs;
	ob->client = gw_str_member(o, "client_name");
	ob->env = gw_str_member(o, "env_name");
	const char *why = gw_read_observation(o, "workload_type", ob);
	if (why != NULL) {
		return why;
	}
	if (ob->image_sha[0] == '\0') {
		return "image_sha is required";
	}
	if (!a_time(o, "first_seen", &ob->seen_at_ms) || !a_time(o, "last_seen", &r->last_seen_ms)) {
		return "first_seen and last_seen must be ISO 8601 times";
	}
	if (r->last_seen_ms < ob->seen_at_ms) {
		return "last_seen is before first_seen";
	}
	return NULL;
}

static const char *read_ping(json_t *o, void *item)
{
	struct proto_ping *p = item;
	if (!json_is_object(o)) {
		return "each ping is an object";
	}
	p->client = gw_str_member(o, "client_name");
	p->env = gw_str_member(o, "env_name");
	p->version = gw_str_member(o, "slave_version");
	if (p->client == NULL || p->env == NULL || !proto_valid_name(p->client) || !proto_valid_name(p->env)) {
		return "client_name and env_name must be names";
	}
	p->version = p->version != NULL ? p->version : "";
	if (p->version[0] != '\0' && !proto_valid_text(p->version, 128)) {
		return "slave_version must be printable, at most 128 characters";
	}
	if (!a_time(o, "last_ping", &p->at_ms)) {
		return "last_ping must be an ISO 8601 time";
	}
	return NULL;
}

static bool refuse(struct gw_req *gr, const char *field, size_t i, const char *why)
{
	gw_respond_error_details(gr, 400, "VALIDATION_ERROR",
	                         json_pack("[{s:s,s:I,s:s}]", "field", field, "index", (json_int_t)i, "message", why),
	                         "%s[%zu] is malformed: %s", field, i, why);
	return false;
}

typedef const char *(*read_item_fn)(json_t *o, void *item); /* NULL, or why o is malformed */

static bool read_list(struct gw_req *gr, json_t *list, const char *field, size_t size, read_item_fn read, void **out,
                      uint32_t *n)
{
	if (list == NULL || json_array_size(list) == 0) {
		return true;
	}
	*out = calloc(json_array_size(list), size);
	if (*out == NULL) {
		gw_respond_status(gr, PROTO_ENOMEM, NULL);
		return false;
	}
	size_t i;
	json_t *o;
	json_array_foreach(list, i, o)
	{
		void *item = (char *)*out + i * size;
		const char *why = read(o, item);
		if (why != NULL) {
			return refuse(gr, field, i, why);
		}
	}
	*n = (uint32_t)json_array_size(list);
	return true;
}

void gw_h_import_rt(struct gw_req *gr)
{
	json_t *body = gw_body_object(gr);
	if (body == NULL) {
		return;
	}
	struct import_req *q = h2o_mem_alloc_shared(&gr->req->pool, sizeof(*q), import_dispose);
	memset(q, 0, sizeof(*q));
	q->body = body;
	gr->ctx = q;
	json_t *rows = json_object_get(body, "releases"), *pings = json_object_get(body, "pings");
	if ((rows != NULL && !json_is_array(rows)) || (pings != NULL && !json_is_array(pings))) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "releases and pings must be arrays");
		return;
	}
	size_t total = json_array_size(rows) + json_array_size(pings);
	if (total == 0 || total > GW_MAX_IMPORT) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "releases and pings together must hold 1 to %d items",
		                 GW_MAX_IMPORT);
		return;
	}
	void *row_mem = NULL, *ping_mem = NULL;
	bool ok = read_list(gr, rows, "releases", sizeof(struct proto_import_row), read_row, &row_mem, &q->im.n_rows);
	q->im.rows = row_mem; /* freed with the request, whatever happens */
	ok = ok && read_list(gr, pings, "pings", sizeof(struct proto_ping), read_ping, &ping_mem, &q->im.n_pings);
	q->im.pings = ping_mem;
	if (!ok) {
		return;
	}
	struct proto_cmd cmd = {.type = PROTO_CMD_IMPORT, .u.import = q->im};
	gw_propose(gr, &cmd, import_done);
}
