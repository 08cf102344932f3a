/* POST /api/v1/observations: a batch of sightings in one Raft command, as an
 * agent delivers one collection run. Retries carry an Idempotency-Key, so a
 * run is recorded once however often it is sent. */
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"

#define GW_MAX_BATCH 10000

struct batch {
	json_t *body; /* owns the strings obs point into */
	struct proto_observation *obs;
	uint32_t n;
};

static void batch_dispose(void *p)
{
	struct batch *b = p;
	if (b->body != NULL) {
		json_decref(b->body);
	}
	free(b->obs);
}

static void batch_done(struct gw_req *gr, const struct proto_result *res)
{
	struct batch *b = gr->ctx;
	if (res->replay) {
		gw_add_header(gr, "idempotent-replayed", "true");
	}
	gw_respond_json(gr, 200, json_pack("{s:s,s:I,s:I,s:I,s:o}", "status", "success", "accepted", (json_int_t)b->n,
	                                   "created", (json_int_t)res->created, "updated", (json_int_t)res->updated,
	                                   "timestamp", gw_json_time(wall_now_ms())));
}

/* Fills one observation; false (with the reason in why) if it is malformed. */
static bool read_one(json_t *o, const char *client, const char *env, struct proto_observation *ob, const char **why)
{
	ob->client = client;
	ob->env = env;
	if ((*why = gw_read_observation(o, "workload_kind", ob)) != NULL) {
		return false;
	}
	const char *seen = gw_str_member(o, "seen_at");
	ob->seen_at_ms = wall_now_ms();
	if (seen != NULL && timefmt_parse(seen, &ob->seen_at_ms) != 0) {
		*why = "seen_at must be an ISO 8601 time";
		return false;
	}
	return true;
}

void gw_h_observations(struct gw_req *gr)
{
	json_t *body = gw_body_object(gr);
	if (body == NULL) {
		return;
	}
	struct batch *b = h2o_mem_alloc_shared(&gr->req->pool, sizeof(*b), batch_dispose);
	memset(b, 0, sizeof(*b));
	b->body = body;
	gr->ctx = b;
	const char *client = gw_str_member(body, "client_name"), *env = gw_str_member(body, "env_name");
	json_t *list = json_object_get(body, "observations");
	if (client == NULL || env == NULL || !proto_valid_name(client) || !proto_valid_name(env)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "client_name and env_name are required names");
		return;
	}
	if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > GW_MAX_BATCH) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "observations must be an array of 1 to 10000 objects");
		return;
	}
	if (!gw_auth_allows(&gr->auth, client)) {
		gw_respond_error(gr, 403, "FORBIDDEN", "this API key may not write releases of client %s", client);
		return;
	}
	b->obs = calloc(json_array_size(list), sizeof(*b->obs));
	if (b->obs == NULL) {
		gw_respond_status(gr, PROTO_ENOMEM, NULL);
		return;
	}
	size_t i;
	json_t *o;
	json_array_foreach(list, i, o)
	{
		const char *why;
		if (!read_one(o, client, env, &b->obs[i], &why)) {
			gw_respond_error_details(gr, 400, "VALIDATION_ERROR",
			                         json_pack("[{s:I,s:s}]", "index", (json_int_t)i, "message", why),
			                         "observation %zu is malformed", i);
			return;
		}
	}
	b->n = (uint32_t)json_array_size(list);
	struct proto_cmd cmd = {.type = PROTO_CMD_OBSERVE, .n_obs = b->n, .obs = b->obs};
	gw_propose(gr, &cmd, batch_done);
}
