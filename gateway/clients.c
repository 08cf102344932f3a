/* Clients/environments, pings, configuration and health. */
#include <string.h>

#include "gateway/internal.h"

#define PING_ONLINE_MS (10LL * 60 * 1000)  /* online: last ping at most 10 min ago */
#define PING_WARNING_MS (15LL * 60 * 1000) /* warning: at most 15 min */

struct clients_acc {
	json_t *envs;     /* client -> [env] */
	json_t *statuses; /* client -> env -> {status, last_ping} */
	int64_t now;
	size_t n_envs;
};

static const char *ping_status(int64_t last, int64_t now)
{
	if (last <= 0) {
		return "never";
	}
	if (now - last <= PING_ONLINE_MS) {
		return "online";
	}
	return now - last <= PING_WARNING_MS ? "warning" : "offline";
}

static int clients_row(void *data, const struct store_env *e)
{
	struct clients_acc *acc = data;
	json_t *list = json_object_get(acc->envs, e->client);
	if (list == NULL) {
		list = json_array();
		json_object_set_new(acc->envs, e->client, list);
		json_object_set_new(acc->statuses, e->client, json_object());
	}
	json_array_append_new(list, json_string(e->env));
	json_t *st = json_pack("{s:s}", "status", ping_status(e->last_ping_ms, acc->now));
	if (e->last_ping_ms > 0) {
		json_object_set_new(st, "last_ping", gw_json_time(e->last_ping_ms));
		if (e->version[0] != '\0') {
			json_object_set_new(st, "slave_version", json_string(e->version));
		}
	}
	json_object_set_new(json_object_get(acc->statuses, e->client), e->env, st);
	acc->n_envs++;
	return 0;
}

static void read_clients(struct gw_req *gr)
{
	struct store_read *rd;
	struct clients_acc acc = {json_object(), json_object(), wall_now_ms(), 0};
	const char *only = gr->auth.client;
	if (store_read_begin(gr->gw->store, &rd) != PROTO_OK) {
		json_decref(acc.envs);
		json_decref(acc.statuses);
		gw_respond_status(gr, PROTO_EIO, "cannot read the store");
		return;
	}
	gr->index = gw_state_index(gr->gw, rd);
	int rv = store_envs_each(rd, only, clients_row, &acc);
	uint64_t releases = store_release_count(rd, only);
	store_read_end(rd);
	if (rv != PROTO_OK) {
		json_decref(acc.envs);
		json_decref(acc.statuses);
		gw_respond_status(gr, rv, "cannot read the store");
		return;
	}
	size_t n_clients = json_object_size(acc.envs);
	gw_respond_json(gr, 200, json_pack("{s:o,s:o,s:{s:I,s:I,s:I},s:o}", "clients_environments", acc.envs,
	                                   "ping_statuses", acc.statuses, "statistics", "total_clients",
	                                   (json_int_t)n_clients, "total_environments", (json_int_t)acc.n_envs,
	                                   "total_releases", (json_int_t)releases, "timestamp", gw_json_time(acc.now)));
}

void gw_h_clients(struct gw_req *gr)
{
	gw_read(gr, read_clients);
}

static void ping_done(struct gw_req *gr, const struct proto_result *res)
{
	(void)res;
	gw_respond_json(gr, 200, json_pack("{s:s,s:o}", "status", "ok", "timestamp", gw_json_time(wall_now_ms())));
}

/* Fills cmd from a ping body (strings point into body); answers and returns
 * false when the body is not acceptable. */
static bool ping_command(struct gw_req *gr, json_t *body, struct proto_cmd *cmd)
{
	const char *client, *env, *version, *ts;
	int64_t at;
	if (!gw_opt_string(gr, body, "client_name", &client) || !gw_opt_string(gr, body, "env_name", &env) ||
	    !gw_opt_string(gr, body, "slave_version", &version) || !gw_opt_string(gr, body, "timestamp", &ts)) {
		return false;
	}
	if (client == NULL || env == NULL || !proto_valid_name(client) || !proto_valid_name(env)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "client_name and env_name are required names");
		return false;
	}
	if ((version != NULL && version[0] != '\0' && !proto_valid_text(version, 128)) ||
	    (ts != NULL && timefmt_parse(ts, &at) != 0)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "slave_version must be printable and timestamp ISO 8601");
		return false;
	}
	if (!gw_auth_allows(&gr->auth, client)) {
		gw_respond_error(gr, 403, "FORBIDDEN", "this API key may not ping for client %s", client);
		return false;
	}
	/* The receiving node's clock dates the ping: agents' clocks may be off. */
	cmd->type = PROTO_CMD_PING;
	cmd->ping.client = client;
	cmd->ping.env = env;
	cmd->ping.version = version != NULL ? version : "";
	cmd->ping.at_ms = wall_now_ms();
	return true;
}

void gw_h_ping(struct gw_req *gr)
{
	json_t *body = gw_body_object(gr);
	struct proto_cmd cmd = {0};
	if (body == NULL) {
		return;
	}
	if (ping_command(gr, body, &cmd)) {
		gw_propose(gr, &cmd, ping_done); /* the command is encoded before this returns */
	}
	json_decref(body);
}

static json_t *members_json(struct gw *g)
{
	json_t *members = json_array();
	for (size_t i = 0; i < g->cfg->n_nodes; i++) {
		const struct cfg_node *n = &g->cfg->nodes[i];
		json_array_append_new(members, json_pack("{s:I,s:s,s:s,s:s,s:s,s:s}", "id", (json_int_t)n->id, "name",
		                                         n->name, "region", n->region, "raft", n->raft, "rpc", n->rpc,
		                                         "http", n->http));
	}
	return members;
}

/* "master": every node is a master in the seed's terms, and its pages take
 * their multi-client control panel only in that mode (dashboard.js). */
void gw_h_config(struct gw_req *gr)
{
	struct gw *g = gr->gw;
	bool admin = gr->auth.role == GW_ROLE_ADMIN && gr->auth.client == NULL;
	const char *client = gr->auth.client != NULL ? gr->auth.client : "";
	gw_respond_json(gr, 200, json_pack("{s:s,s:s,s:s,s:{s:b,s:s},s:s,s:s,s:s,s:o}", "mode", "master", "env_name",
	                                   "unknown", "client_name", client[0] ? client : "unknown", "api_key_type",
	                                   "is_admin", admin, "authenticated_client", client, "cluster",
	                                   g->cfg->cluster_name, "node", g->self->name, "leader", g->status.leader,
	                                   "members", members_json(g)));
}
