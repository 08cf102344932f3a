/* Jobs (GET /api/v1/jobs, /api/v1/jobs/{id}) and the seed's POST
 * /api/collect, which queues a collection of every cluster the caller may
 * see; the nodes holding those clusters' leases run them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"

#define JOBS_PER_PAGE_MAX 500
#define COLLECT_MAX_CLUSTERS 1024

static json_t *job_json(struct gw *g, const struct store_job *j)
{
	const struct cfg_node *n = j->node != 0 ? cfg_find_node_id(g->cfg, j->node) : NULL;
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:{s:I,s:I,s:I}}", "id", j->id, "type", j->type, "status",
	                      j->status, "cluster_id", j->cluster_id, "reason", j->reason, "created_at",
	                      gw_json_time(j->created_ms), "counts", "observations", (json_int_t)j->observations,
	                      "created", (json_int_t)j->entries_created, "updated", (json_int_t)j->entries_updated);
	json_object_set_new(o, "node", n != NULL ? json_string(n->name) : json_null());
	json_object_set_new(o, "started_at", j->started_ms ? gw_json_time(j->started_ms) : json_null());
	json_object_set_new(o, "finished_at", j->finished_ms ? gw_json_time(j->finished_ms) : json_null());
	json_object_set_new(o, "duration_ms", j->finished_ms && j->started_ms ? json_integer(j->finished_ms - j->started_ms)
	                                                                       : json_null());
	json_object_set_new(o, "error", j->error[0] ? json_string(j->error) : json_null());
	return o;
}

struct jobs_acc {
	struct gw_req *gr;
	json_t *list;
	const char *status, *cluster;
	size_t skip, take, total;
	json_t *clients; /* cluster id -> client, for client keys */
};

static int jobs_row(void *data, const struct store_job *j)
{
	struct jobs_acc *acc = data;
	if ((acc->status != NULL && strcmp(acc->status, j->status) != 0) ||
	    (acc->cluster != NULL && strcmp(acc->cluster, j->cluster_id) != 0)) {
		return 0;
	}
	if (acc->clients != NULL && json_object_get(acc->clients, j->cluster_id) == NULL) {
		return 0; /* a client key sees the jobs of its clusters only */
	}
	if (acc->total >= acc->skip && acc->total < acc->skip + acc->take) {
		json_array_append_new(acc->list, job_json(acc->gr->gw, j));
	}
	acc->total++;
	return 0;
}

static int own_cluster(void *data, const struct store_cluster *sc)
{
	struct jobs_acc *acc = data;
	if (gw_auth_allows(&acc->gr->auth, sc->c->client)) {
		json_object_set_new(acc->clients, sc->c->id, json_true());
	}
	return 0;
}

static bool page_params(struct gw_req *gr, size_t *page, size_t *per_page)
{
	const char *p = gw_query(gr, "page"), *pp = gw_query(gr, "per_page");
	char *end;
	*page = 1;
	*per_page = 50;
	if (p != NULL) {
		unsigned long long v = strtoull(p, &end, 10);
		if (*p < '1' || *p > '9' || *end != '\0' || v > 1000000) {
			return false;
		}
		*page = (size_t)v;
	}
	if (pp != NULL) {
		unsigned long long v = strtoull(pp, &end, 10);
		if (*pp < '1' || *pp > '9' || *end != '\0' || v > JOBS_PER_PAGE_MAX) {
			return false;
		}
		*per_page = (size_t)v;
	}
	return true;
}

static void read_jobs(struct gw_req *gr)
{
	struct store_read *rd;
	size_t page, per_page;
	page_params(gr, &page, &per_page);
	struct jobs_acc acc = {.gr = gr, .list = json_array(), .status = gw_query(gr, "status"),
	                       .cluster = gw_query(gr, "cluster_id"), .skip = (page - 1) * per_page, .take = per_page};
	if (store_read_begin(gr->gw->store, &rd) != PROTO_OK) {
		json_decref(acc.list);
		gw_respond_status(gr, PROTO_EIO, NULL);
		return;
	}
	gr->index = gw_state_index(gr->gw, rd);
	int rv = PROTO_OK;
	if (gr->auth.client != NULL) {
		acc.clients = json_object();
		rv = store_clusters_each(rd, own_cluster, &acc);
	}
	if (rv == PROTO_OK) {
		rv = store_jobs_each(rd, jobs_row, &acc);
	}
	store_read_end(rd);
	if (acc.clients != NULL) {
		json_decref(acc.clients);
	}
	if (rv != PROTO_OK) {
		json_decref(acc.list);
		gw_respond_status(gr, rv, NULL);
		return;
	}
	gw_respond_json(gr, 200, json_pack("{s:o,s:I,s:I,s:I}", "jobs", acc.list, "total", (json_int_t)acc.total, "page",
	                                   (json_int_t)page, "per_page", (json_int_t)per_page));
}

void gw_h_jobs_list(struct gw_req *gr)
{
	size_t page, per_page;
	const char *status = gw_query(gr, "status");
	if (!page_params(gr, &page, &per_page)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "page must be >= 1 and per_page between 1 and 500");
		return;
	}
	if (status != NULL && strcmp(status, "queued") != 0 && strcmp(status, "running") != 0 &&
	    strcmp(status, "success") != 0 && strcmp(status, "failed") != 0 && strcmp(status, "cancelled") != 0) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "status must be queued, running, success, failed or cancelled");
		return;
	}
	gw_read(gr, read_jobs);
}

static int job_cluster_check(void *data, const struct store_cluster *sc)
{
	struct gw_req *gr = data;
	return gw_auth_allows(&gr->auth, sc->c->client) ? 0 : 1;
}

static void read_job(struct gw_req *gr)
{
	struct store_read *rd;
	struct store_job *j = malloc(sizeof(*j));
	if (j == NULL || store_read_begin(gr->gw->store, &rd) != PROTO_OK) {
		free(j);
		gw_respond_status(gr, PROTO_EIO, NULL);
		return;
	}
	gr->index = gw_state_index(gr->gw, rd);
	int rv = store_job_get(rd, gr->target.seg[3], j);
	bool allowed = gr->auth.client == NULL;
	if (rv == PROTO_OK && !allowed) {
		struct jobs_acc acc = {.gr = gr, .clients = json_object()};
		store_clusters_each(rd, own_cluster, &acc);
		allowed = json_object_get(acc.clients, j->cluster_id) != NULL;
		json_decref(acc.clients);
	}
	store_read_end(rd);
	if (rv != PROTO_OK) {
		gw_respond_status(gr, rv, rv == PROTO_ENOTFOUND ? "no such job" : NULL);
	} else if (!allowed) {
		gw_respond_error(gr, 404, "NOT_FOUND", "no such job"); /* another client's ids do not leak */
	} else {
		gw_respond_json(gr, 200, job_json(gr->gw, j));
	}
	free(j);
}

void gw_h_job_get(struct gw_req *gr)
{
	(void)job_cluster_check;
	gw_read(gr, read_job);
}

/* ---- POST /api/collect ---- */

struct collect_acc {
	struct gw_req *gr;
	const char **ids;
	const char **clusters;
	uint32_t n;
};

static int collect_row(void *data, const struct store_cluster *sc)
{
	struct collect_acc *acc = data;
	struct gw_req *gr = acc->gr;
	if (!gw_auth_allows(&gr->auth, sc->c->client) || acc->n == COLLECT_MAX_CLUSTERS) {
		return 0;
	}
	char id[192];
	/* Time-ordered ids: jobs list newest first by key order. */
	snprintf(id, sizeof(id), "j%013" PRIx64 "-%s-%04" PRIx64, (uint64_t)wall_now_ms(), gr->gw->self->name,
	         ++gr->gw->request_seq & 0xffff);
	acc->ids[acc->n] = h2o_strdup(&gr->req->pool, id, SIZE_MAX).base;
	acc->clusters[acc->n] = h2o_strdup(&gr->req->pool, sc->c->id, SIZE_MAX).base;
	acc->n++;
	return 0;
}

static void collect_queued(struct gw_req *gr, const struct proto_result *res)
{
	struct collect_acc *acc = gr->ctx;
	(void)res;
	json_t *jobs = json_array();
	for (uint32_t i = 0; i < acc->n; i++) {
		json_array_append_new(jobs, json_pack("{s:s,s:s,s:s}", "id", acc->ids[i], "cluster_id", acc->clusters[i],
		                                      "status", "queued"));
	}
	/* "accepted", as the seed's implementation answers and its "Collect Now"
	 * button (web/static/js/dashboard.js) checks. */
	gw_respond_json(gr, 200, json_pack("{s:s,s:s,s:o,s:o}", "status", "accepted", "message",
	                                   acc->n ? "Collection process started successfully" : "No cluster to collect",
	                                   "jobs", jobs,
	                                   "timestamp", gw_json_time(wall_now_ms())));
}

void gw_h_collect_now(struct gw_req *gr)
{
	struct store_read *rd;
	struct collect_acc *acc = h2o_mem_alloc_pool(&gr->req->pool, sizeof(*acc));
	acc->gr = gr;
	acc->n = 0;
	acc->ids = h2o_mem_alloc_pool(&gr->req->pool, COLLECT_MAX_CLUSTERS * sizeof(char *));
	acc->clusters = h2o_mem_alloc_pool(&gr->req->pool, COLLECT_MAX_CLUSTERS * sizeof(char *));
	gr->ctx = acc;
	if (store_read_begin(gr->gw->store, &rd) != PROTO_OK) {
		gw_respond_status(gr, PROTO_EIO, NULL);
		return;
	}
	int rv = store_clusters_each(rd, collect_row, acc);
	store_read_end(rd);
	if (rv != PROTO_OK) {
		gw_respond_status(gr, rv, NULL);
		return;
	}
	if (acc->n == 0) {
		collect_queued(gr, NULL);
		return;
	}
	struct proto_cmd cmd = {.type = PROTO_CMD_JOBS_QUEUE};
	cmd.u.jobs = (struct proto_jobs){acc->ids, acc->clusters, acc->n, acc->n, "manual"};
	gw_propose(gr, &cmd, collect_queued);
}
