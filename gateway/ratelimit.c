/* Rate limits ([rate_limit] in cluster.toml): fixed one-minute windows per
 * credential (authenticated_per_minute) or, without one, per source address
 * (anonymous_per_minute); 0 turns a limit off. Counters live in a small
 * open-addressing table on the gateway's thread; a stale slot is reused. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"

#define RL_SLOTS 4096
#define RL_PROBES 8

struct rl_slot {
	uint64_t key;    /* hash of the credential or address; 0 = free */
	int64_t window;  /* minute number of the count */
	uint32_t count;
};

static struct rl_slot *table_of(struct gw *g)
{
	if (g->ratelimit == NULL) {
		g->ratelimit = calloc(RL_SLOTS, sizeof(struct rl_slot));
	}
	return g->ratelimit;
}

static uint64_t hash(const char *kind, const void *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *k = kind; *k != '\0'; k++) {
		h = (h ^ (unsigned char)*k) * 1099511628211ULL;
	}
	for (size_t i = 0; i < n; i++) {
		h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ULL;
	}
	return h != 0 ? h : 1;
}

bool gw_rate_limit(struct gw_req *gr, const char *credential)
{
	struct gw *g = gr->gw;
	unsigned limit = credential != NULL ? g->cfg->rate_authenticated : g->cfg->rate_anonymous;
	if (limit == 0) {
		return true;
	}
	uint64_t key;
	if (credential != NULL) {
		key = hash("key", credential, strlen(credential));
	} else {
		struct sockaddr_storage ss;
		memset(&ss, 0, sizeof(ss));
		gr->req->conn->callbacks->get_peername(gr->req->conn, (struct sockaddr *)&ss);
		if (ss.ss_family == AF_INET6) {
			key = hash("addr6", &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
		} else {
			key = hash("addr4", &((struct sockaddr_in *)&ss)->sin_addr, 4); /* the address, not the port */
		}
	}
	int64_t now = wall_now_ms();
	int64_t window = now / 60000;
	struct rl_slot *t = table_of(g), *slot = NULL;
	if (t == NULL) {
		return true;
	}
	for (int i = 0; i < RL_PROBES; i++) {
		struct rl_slot *s = &t[(key + (uint64_t)i) % RL_SLOTS];
		if (s->key == key || s->key == 0 || s->window < window) {
			slot = s;
			if (s->key == key) {
				break;
			}
		}
	}
	if (slot == NULL) {
		return true; /* table crowded: do not punish anyone */
	}
	if (slot->key != key || slot->window != window) {
		slot->key = key;
		slot->window = window;
		slot->count = 0;
	}
	slot->count++;
	char buf[32];
	snprintf(buf, sizeof(buf), "%u", limit);
	gw_add_header(gr, "x-ratelimit-limit", buf);
	snprintf(buf, sizeof(buf), "%u", slot->count >= limit ? 0 : limit - slot->count);
	gw_add_header(gr, "x-ratelimit-remaining", buf);
	snprintf(buf, sizeof(buf), "%lld", (long long)((window + 1) * 60));
	gw_add_header(gr, "x-ratelimit-reset", buf);
	if (slot->count > limit) {
		snprintf(buf, sizeof(buf), "%lld", (long long)((window + 1) * 60000 - now + 999) / 1000);
		gw_add_header(gr, "retry-after", buf);
		gw_respond_error(gr, 429, "RATE_LIMIT_EXCEEDED", "more than %u requests a minute; retry after %s s", limit, buf);
		return false;
	}
	return true;
}
