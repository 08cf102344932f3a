#include "node/join.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JOIN_TRIES 120 /* every 500 ms: a minute */

struct answer {
	char buf[2048];
	size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct answer *a = ud;
	size_t add = size * n;
	size_t room = sizeof(a->buf) - 1 - a->len;
	memcpy(a->buf + a->len, p, add < room ? add : room);
	a->len += add < room ? add : room;
	a->buf[a->len] = '\0';
	return add;
}

static long post_join(const struct cfg *cfg, const char *url, const char *body, struct answer *ans)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	char auth[512];
	long status = 0;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cfg->n_admin_keys > 0 ? cfg->admin_keys[0] : "");
	hdrs = curl_slist_append(hdrs, auth);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, ans);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 40000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(h) == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
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
		struct answer ans = {.len = 0};
		ans.buf[0] = '\0';
		long status = post_join(cfg, url, body, &ans);
		if (status == 200) {
			fprintf(stderr, "join: %s added this node (%s, id %llu)\n", member, self->name,
			        (unsigned long long)self->id);
			rv = 0;
			break;
		}
		if (status >= 400 && status < 500) {
			fprintf(stderr, "join: %s refused this node: HTTP %ld %s\n", member, status, ans.buf);
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
