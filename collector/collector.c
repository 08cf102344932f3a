/* Collector actor. One run:
 *   COLLECT(job, cluster) -> read the cluster (store) and open its sealed
 *   credentials -> propose JOB_START -> k8s_collect on the thread pool ->
 *   propose COLLECT_RESULT (observations + outcome) -> answer the scheduler.
 * Both proposals carry idempotency keys derived from the job id, so a retry
 * or a re-run of the same job after a lease moved is applied at most once. */
#include "collector/collector.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "k8s/k8s.h"
#include "raft/propose.h"
#include "lib/secret.h"
#include "lib/log.h"
#include "lib/workers.h"

struct collector {
	const struct cfg *cfg;
	const struct cfg_node *self;
	store *store;
	unsigned char key[SECRET_KEY_BYTES];
	bool have_key;
	char url[CFG_ADDR_MAX], raft_url[CFG_ADDR_MAX];
	uv_loop_t *loop;
	bus_server *server;
	bus_client *raft;
	struct workers *workers; /* [collector] threads: runs never take libuv's pool (raft_uv's) */
	int running; /* runs in flight */
	bool stopping;
};

/* One collection run; owns copies of everything it needs off the loop. */
struct run {
	struct worker_job job; /* first: the job's address is the run's */
	struct collector *col;
	bus_request *req;
	char job_id[PROTO_MAX_STR + 1], cluster_id[PROTO_MAX_STR + 1];
	char idem[PROTO_MAX_STR + 32];
	struct k8s_target t;
	char *server, *client, *env;
	char **namespaces;
	unsigned n_namespaces;
	json_t *creds;
	int64_t started_ms, finished_ms;
	struct k8s_result res;
	int rv;
	char error[512];
};

int collector_init(struct collector **out, const struct collector_config *c)
{
	struct collector *col = calloc(1, sizeof(*col));
	if (col == NULL) {
		return PROTO_ENOMEM;
	}
	col->cfg = c->cfg;
	col->self = c->self;
	col->store = c->store;
	if (c->secret_key != NULL) {
		memcpy(col->key, c->secret_key, sizeof(col->key));
		col->have_key = true;
	}
	snprintf(col->url, sizeof(col->url), "%s", c->url);
	snprintf(col->raft_url, sizeof(col->raft_url), "%s", c->raft_url);
	*out = col;
	return PROTO_OK;
}

void collector_free(struct collector *c)
{
	free(c);
}

static void run_free(struct run *r)
{
	for (unsigned i = 0; i < r->n_namespaces; i++) {
		free(r->namespaces[i]);
	}
	free(r->namespaces);
	free(r->server);
	free(r->client);
	free(r->env);
	if (r->creds != NULL) {
		json_decref(r->creds);
	}
	k8s_result_free(&r->res);
	free(r);
}

static void answer(struct run *r, int status)
{
	struct proto_msg m = {.type = PROTO_MSG_REPLY};
	struct proto_buf b;
	m.u.reply.status = status;
	m.u.reply.leader = "";
	m.u.reply.message = r->error;
	/* Once stopping, the server that handed us req is closed (req is gone). */
	if (r->req != NULL && !r->col->stopping && proto_msg_encode(&m, &b) == PROTO_OK) {
		bus_reply(r->req, b.data, b.len);
		proto_buf_free(&b);
	}
	r->col->running--;
	run_free(r);
}

static void result_applied(void *data, int status, const struct proto_result *res)
{
	struct run *r = data;
	if (status != PROTO_OK) {
		log_warn("collector", "job %s: result not recorded: %s", r->job_id, proto_strerror(status));
	}
	(void)res;
	answer(r, status);
}

static void propose_result(struct run *r)
{
	size_t seen = r->res.n, skipped = r->rv == 0 ? k8s_result_drop_invalid(&r->res, r->error, sizeof(r->error)) : 0;
	if (skipped > 0) {
		log_warn("collector", "job %s: %s (of %zu)", r->job_id, r->error, seen);
	}
	bool ok = r->rv == 0;
	struct proto_cmd cmd = {.type = PROTO_CMD_COLLECT_RESULT, .idem_key = r->idem};
	snprintf(r->idem, sizeof(r->idem), "job:%s:result", r->job_id);
	cmd.u.collect = (struct proto_collect){r->job_id, r->cluster_id, ok ? "success" : "failed", r->error,
	                                       r->col->self->id, r->started_ms, r->finished_ms};
	cmd.n_obs = ok ? (uint32_t)r->res.n : 0;
	cmd.obs = ok ? r->res.obs : NULL;
	if (r->res.n > PROTO_MAX_OBS) {
		snprintf(r->error, sizeof(r->error), "%zu containers: more than one command holds", r->res.n);
		cmd.u.collect.status = "failed";
		cmd.u.collect.error = r->error;
		cmd.n_obs = 0;
	}
	int rv = repl_propose(r->col->raft, &cmd, r->col->cfg->write_timeout_ms * 2, result_applied, r);
	if (rv != PROTO_OK) {
		snprintf(r->error, sizeof(r->error), "cannot propose the result: %s", proto_strerror(rv));
		answer(r, rv);
	}
}

static void work_run(struct worker_job *j)
{
	struct run *r = (struct run *)j;
	r->rv = k8s_collect(&r->t, r->started_ms, &r->res);
	if (r->rv != 0) {
		snprintf(r->error, sizeof(r->error), "%s", r->res.error);
	}
	r->finished_ms = wall_now_ms();
}

static void work_done(struct worker_job *j, int status)
{
	struct run *r = (struct run *)j;
	if (r->col->stopping) {
		r->col->running--; /* the bus is closed: nobody to answer or propose to */
		run_free(r);
		return;
	}
	if (status == UV_ECANCELED) {
		snprintf(r->error, sizeof(r->error), "cancelled: the node is stopping");
		answer(r, PROTO_ESHUTDOWN);
		return;
	}
	propose_result(r);
}

static void started(void *data, int status, const struct proto_result *res)
{
	struct run *r = data;
	(void)res;
	if (status != PROTO_OK || r->col->stopping) {
		snprintf(r->error, sizeof(r->error), "cannot start job: %s", proto_strerror(status));
		answer(r, status != PROTO_OK ? status : PROTO_ESHUTDOWN);
		return;
	}
	r->started_ms = wall_now_ms();
	r->job.run = work_run;
	r->job.done = work_done;
	if (workers_submit(r->col->workers, &r->job) != 0) {
		snprintf(r->error, sizeof(r->error), "cannot queue the collection");
		r->rv = -1;
		r->finished_ms = r->started_ms;
		propose_result(r);
	}
}

/* Copies what the run needs from the cluster record. */
static int load_cluster(void *data, const struct store_cluster *sc)
{
	struct run *r = data;
	const struct proto_cluster *c = sc->c;
	r->server = strdup(c->server);
	r->client = strdup(c->client);
	r->env = strdup(c->env);
	r->namespaces = calloc(c->n_namespaces + 1, sizeof(char *));
	for (uint32_t i = 0; r->namespaces != NULL && i < c->n_namespaces; i++) {
		r->namespaces[r->n_namespaces++] = strdup(c->namespaces[i]);
	}
	r->t.insecure = (int)c->insecure;
	if (c->sealed[0] != '\0' && r->col->have_key) {
		void *plain;
		size_t len;
		if (secret_open(r->col->key, c->sealed, &plain, &len) == 0) {
			r->creds = json_loadb(plain, len, 0, NULL);
			free(plain);
		}
		if (r->creds == NULL) {
			snprintf(r->error, sizeof(r->error), "cannot open the credentials: is [collector] secret_key the same on every node?");
		}
	} else if (c->sealed[0] != '\0') {
		snprintf(r->error, sizeof(r->error), "[collector] secret_key is not set on node %s", r->col->self->name);
	}
	return 0;
}

static void on_collect(struct collector *col, bus_request *req, const struct proto_collect_req *c)
{
	struct run *r = calloc(1, sizeof(*r));
	struct store_read *rd;
	if (r == NULL) {
		return; /* the scheduler times out and retries */
	}
	col->running++;
	r->col = col;
	r->req = req;
	snprintf(r->job_id, sizeof(r->job_id), "%s", c->job_id);
	snprintf(r->cluster_id, sizeof(r->cluster_id), "%s", c->cluster_id);
	int rv = store_read_begin(col->store, &rd);
	if (rv == PROTO_OK) {
		rv = store_cluster_get(rd, r->cluster_id, load_cluster, r);
		store_read_end(rd);
	}
	if (rv != PROTO_OK || r->server == NULL) {
		snprintf(r->error, sizeof(r->error), "cluster %.200s: %s", r->cluster_id, proto_strerror(rv));
		answer(r, rv != PROTO_OK ? rv : PROTO_ENOMEM);
		return;
	}
	r->t.server = r->server;
	r->t.client = r->client;
	r->t.env = r->env;
	r->t.namespaces = (const char *const *)r->namespaces;
	r->t.n_namespaces = r->n_namespaces;
	r->t.timeout_ms = col->cfg->k8s_timeout_ms;
	r->t.page_size = col->cfg->lists.page_size;
	r->t.max_response = col->cfg->lists.max_bytes;
	r->t.max_items = col->cfg->lists.max_items;
	r->t.token = json_string_value(json_object_get(r->creds, "token"));
	r->t.ca_pem = json_string_value(json_object_get(r->creds, "ca_cert"));
	r->t.client_cert_pem = json_string_value(json_object_get(r->creds, "client_cert"));
	r->t.client_key_pem = json_string_value(json_object_get(r->creds, "client_key"));
	struct proto_cmd cmd = {.type = PROTO_CMD_JOB_START, .idem_key = r->idem};
	snprintf(r->idem, sizeof(r->idem), "job:%s:start:%llu", r->job_id, (unsigned long long)col->self->id);
	cmd.u.job_start = (struct proto_job_start){r->job_id, r->cluster_id, col->self->id};
	if (r->error[0] != '\0') {
		r->rv = -1; /* credentials could not be opened: record a failed run */
		r->started_ms = r->finished_ms = wall_now_ms();
		propose_result(r);
		return;
	}
	if ((rv = repl_propose(col->raft, &cmd, col->cfg->write_timeout_ms, started, r)) != PROTO_OK) {
		snprintf(r->error, sizeof(r->error), "cannot start job: %s", proto_strerror(rv));
		answer(r, rv);
	}
}

static void on_request(void *data, bus_request *req, const void *buf, size_t len)
{
	struct collector *col = data;
	struct proto_msg m;
	if (proto_msg_decode(buf, len, &m) != PROTO_OK) {
		return;
	}
	if (m.type == PROTO_MSG_COLLECT && !col->stopping) {
		on_collect(col, req, &m.u.collect);
	}
	proto_msg_free(&m);
}

int collector_start(void *self, uv_loop_t *loop)
{
	struct collector *col = self;
	char err[256];
	const char *urls[] = {col->url};
	col->loop = loop;
	if (workers_start(&col->workers, loop, col->cfg->collector_threads, "collect") != 0) {
		log_error("collector", "cannot start its threads");
		return PROTO_ENOMEM;
	}
	if (bus_client_open(&col->raft, loop, col->raft_url) != PROTO_OK ||
	    bus_server_open(&col->server, loop, urls, 1, on_request, col, err, sizeof(err)) != PROTO_OK) {
		log_error("collector", "cannot open the bus");
		return PROTO_ECONNECT;
	}
	return PROTO_OK;
}

void collector_stop(void *self)
{
	struct collector *col = self;
	col->stopping = true;
	if (col->server != NULL) {
		bus_server_close(col->server);
		col->server = NULL;
	}
	if (col->workers != NULL) {
		workers_stop(col->workers); /* the runs under way end (their done frees them) */
		col->workers = NULL;
	}
	if (col->raft != NULL) {
		bus_client_close(col->raft);
		col->raft = NULL;
	}
}
