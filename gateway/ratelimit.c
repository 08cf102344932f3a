/* Rate limits ([rate_limit] in cluster.toml): fixed one-minute windows per
 * credential (authenticated_per_minute) or, without one, per source address
 * (anonymous_per_minute); 0 turns a limit off. Counters live in an
 * open-addressing table of [rate_limit] slots on the gateway's thread; when
 * the probed slots are all live, the least recently used one is taken over,
 * so a crowded table still limits (a flood of new addresses only resets
 * counters of callers quieter than it). */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"

#define RL_PROBES 8

struct rl_slot {
	uint64_t key;     /* hash of the credential or address; 0 = free */
	int64_t window;   /* minute number of the count */
	int64_t used_ms;  /* last request counted */
	uint32_t count;
};

static struct rl_slot *table_of(struct gw *g)
{
	if (g->ratelimit == NULL) {
		g->ratelimit = calloc(g->cfg->rate_slots, sizeof(struct rl_slot));
	}
	return g->ratelimit;
}

/* The slot of key: its own, else a free or stale one, else the least
 * recently used of the probed ones. */
static struct rl_slot *slot_for(struct rl_slot *t, size_t n, uint64_t key, int64_t window)
{
	struct rl_slot *free_slot = NULL, *lru = NULL;
	for (int i = 0; i < RL_PROBES; i++) {
		struct rl_slot *s = &t[(key + (uint64_t)i) % n];
		if (s->key == key) {
			return s;
		}
		if (free_slot == NULL && (s->key == 0 || s->window < window)) {
			free_slot = s;
		}
		if (lru == NULL || s->used_ms < lru->used_ms) {
			lru = s;
		}
	}
	return free_slot != NULL ? free_slot : lru;
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

uint64_t gw_addr_key(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6) {
		return hash("addr6", &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
	return hash("addr4", &((const struct sockaddr_in *)sa)->sin_addr, 4); /* the address, not the port */
}

uint64_t gw_caller_key(struct gw_req *gr, const char *credential)
{
	if (credential != NULL) {
		return hash("key", credential, strlen(credential));
	}
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	gr->req->conn->callbacks->get_peername(gr->req->conn, (struct sockaddr *)&ss);
	return gw_addr_key((struct sockaddr *)&ss);
}

bool gw_rate_limit(struct gw_req *gr, const char *credential, unsigned *retry_s)
{
	struct gw *g = gr->gw;
	unsigned limit = credential != NULL ? g->cfg->rate_authenticated : g->cfg->rate_anonymous;
	*retry_s = 0;
	if (limit == 0) {
		return true;
	}
	uint64_t key = gw_caller_key(gr, credential);
	int64_t now = wall_now_ms();
	int64_t window = now / 60000;
	struct rl_slot *t = table_of(g);
	if (t == NULL) {
		return true; /* no memory for the table: nobody is limited, nothing breaks */
	}
	struct rl_slot *slot = slot_for(t, g->cfg->rate_slots, key, window);
	if (slot->key != key || slot->window != window) {
		if (slot->key != key && slot->key != 0 && slot->window == window) {
			g->m.rate_evictions++;
		}
		slot->key = key;
		slot->window = window;
		slot->count = 0;
	}
	slot->count++;
	slot->used_ms = now;
	char buf[32];
	snprintf(buf, sizeof(buf), "%u", limit);
	gw_add_header(gr, "x-ratelimit-limit", buf);
	snprintf(buf, sizeof(buf), "%u", slot->count >= limit ? 0 : limit - slot->count);
	gw_add_header(gr, "x-ratelimit-remaining", buf);
	snprintf(buf, sizeof(buf), "%lld", (long long)((window + 1) * 60));
	gw_add_header(gr, "x-ratelimit-reset", buf);
	if (slot->count > limit) {
		*retry_s = (unsigned)(((window + 1) * 60000 - now + 999) / 1000);
		snprintf(buf, sizeof(buf), "%u", *retry_s);
		gw_add_header(gr, "retry-after", buf);
		g->m.refused[GW_LIMIT_RATE]++;
		return false;
	}
	return true;
}

bool gw_rate_limit_json(struct gw_req *gr, const char *credential)
{
	unsigned retry_s;
	if (gw_rate_limit(gr, credential, &retry_s)) {
		return true;
	}
	unsigned limit = credential != NULL ? gr->gw->cfg->rate_authenticated : gr->gw->cfg->rate_anonymous;
	gw_respond_error(gr, 429, "RATE_LIMIT_EXCEEDED", "more than %u requests a minute; retry after %u s", limit,
	                 retry_s);
	return false;
}
