/* GET /api/v1/audit-logs: who did what, when, through which node and from
 * where, newest first, in pages (?limit=, ?before= the previous page's
 * "next"), filtered by ?actor=, ?type= (a prefix, e.g. "user.") and
 * ?since= / ?until= (times). A page scans a bounded number of rows, so a
 * filter that matches little still answers promptly (with a "next"). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"
#include "store/identity.h"

#define AUDIT_SCAN_MAX 20000 /* rows one page looks at */

struct audit_page {
	json_t *list;
	size_t limit, scanned;
	const char *actor, *type;
	int64_t since_ms, until_ms;
	uint64_t next_index, next_seq; /* where the next page starts; 0: no more */
};

static int audit_row(void *data, const struct store_audit *e)
{
	struct audit_page *p = data;
	if (++p->scanned > AUDIT_SCAN_MAX || json_array_size(p->list) >= p->limit) {
		return 1;
	}
	p->next_index = e->index;
	p->next_seq = e->seq;
	if (e->ts_ms < p->since_ms) {
		p->next_index = 0; /* older rows only from here */
		return 1;
	}
	if ((p->actor != NULL && strcmp(e->actor, p->actor) != 0) ||
	    (p->type != NULL && strncmp(e->type, p->type, strlen(p->type)) != 0) || e->ts_ms > p->until_ms) {
		return 0;
	}
	char id[48];
	snprintf(id, sizeof(id), "%" PRIu64 "-%" PRIu64, e->index, e->seq);
	json_array_append_new(p->list, json_pack("{s:s,s:I,s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "id", id, "index",
	                                         (json_int_t)e->index, "timestamp", gw_json_time(e->ts_ms), "actor",
	                                         e->actor, "type", e->type, "target", e->target, "node", e->node,
	                                         "address", e->addr, "request_id", e->request_id, "result",
	                                         e->code == PROTO_OK ? "ok" : proto_strerror(e->code)));
	return 0;
}

static bool query_time(struct gw_req *gr, const char *name, int64_t *out)
{
	const char *v = gw_query(gr, name);
	if (v != NULL && timefmt_parse(v, out) != 0) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "%s must be an ISO 8601 time", name);
		return false;
	}
	return true;
}

static void read_audit(struct gw_req *gr)
{
	struct audit_page p = {.limit = 100, .until_ms = INT64_MAX, .actor = gw_query(gr, "actor"),
	                       .type = gw_query(gr, "type")};
	const char *before = gw_query(gr, "before");
	uint64_t bi = UINT64_MAX, bs = 0, limit = 100;
	if (!gw_query_count(gr, "limit", 1000, &limit)) {
		return;
	}
	p.limit = limit;
	if (before != NULL && sscanf(before, "%" SCNu64 "-%" SCNu64, &bi, &bs) != 2) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "before must be the \"next\" of a previous page");
		return;
	}
	if (!query_time(gr, "since", &p.since_ms) || !query_time(gr, "until", &p.until_ms)) {
		return;
	}
	struct store_read *rd;
	if (store_read_begin(gr->gw->store, &rd) != PROTO_OK) {
		gw_respond_status(gr, PROTO_EIO, NULL);
		return;
	}
	gr->index = gw_state_index(gr->gw, rd);
	p.list = json_array();
	bool more = false;
	store_audit_each(rd, bi, bs, audit_row, &p);
	more = p.next_index != 0 && (json_array_size(p.list) >= p.limit || p.scanned > AUDIT_SCAN_MAX);
	store_read_end(rd);
	json_t *body = json_pack("{s:o,s:I}", "audit_logs", p.list, "count", (json_int_t)json_array_size(p.list));
	if (more) {
		char next[48];
		snprintf(next, sizeof(next), "%" PRIu64 "-%" PRIu64, p.next_index, p.next_seq);
		json_object_set_new(body, "next", json_string(next));
	} else {
		json_object_set_new(body, "next", json_null());
	}
	gw_respond_json(gr, 200, body);
}

void gw_h_audit(struct gw_req *gr)
{
	gw_read(gr, read_audit);
}
