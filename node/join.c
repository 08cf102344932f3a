#include "node/join.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/http.h"
#include "lib/log.h"

#define JOIN_TRIES 120          /* every 500 ms: a minute */
#define JOIN_TIMEOUT_MS 40000u  /* one attempt: the member may wait for a catch-up */
#define JOIN_MAX_ANSWER 65536u  /* bytes of an answer kept (it is only shown) */

/* POSTs body to url as the admin; the answer's status (0 when none came)
 * and its first bytes in msg. */
static long post_join(const struct cfg *cfg, const char *url, const char *body, char *msg, size_t cap)
{
	static const char *const json[] = {"Content-Type: application/json", NULL};
	struct http_request rq = {
		.url = url,
		.headers = json,
		.bearer = cfg->n_admin_keys > 0 ? cfg->admin_keys[0] : "",
		.body = body,
		.timeout_ms = JOIN_TIMEOUT_MS,
		.max_response = JOIN_MAX_ANSWER,
	};
	struct http_response rs;
	long status = http_perform(&rq, &rs) == 0 ? rs.status : 0;
	snprintf(msg, cap, "%s", rs.body != NULL ? rs.body : "");
	http_response_free(&rs);
	return status;
}

int node_join(const struct cfg *cfg, const struct cfg_node *self, const char *member, const sigset_t *sigs)
{
	char url[512];
	snprintf(url, sizeof(url), "%s%s/api/v1/cluster/nodes", strncmp(member, "http", 4) == 0 ? "" : "http://", member);
	json_t *b = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "id", (json_int_t)self->id, "name", self->name,
	                      "region", self->region, "raft", self->raft, "rpc", self->rpc, "http", self->http, "role",
	                      "voter", "cluster", cfg->cluster_name);
	char *body = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	int rv = -1;
	for (int i = 0; i < JOIN_TRIES && body != NULL; i++) {
		char msg[2048];
		long status = post_join(cfg, url, body, msg, sizeof(msg));
		if (status == 200) {
			log_info("join", "%s added this node (%s, id %llu)", member, self->name,
			        (unsigned long long)self->id);
			rv = 0;
			break;
		}
		if (status >= 400 && status < 500) {
			log_error("join", "%s refused this node: HTTP %ld %s", member, status, msg);
			break;
		}
		struct timespec wait = {0, 500 * 1000000L};
		int sig = sigtimedwait(sigs, NULL, &wait);
		if (sig > 0) {
			rv = 1;
			break;
		}
	}
	free(body);
	return rv;
}
