/* When managed API keys were last used: noted per request in memory and
 * proposed as one KEYS_USED command every [auth] last_used_flush, so a
 * request never costs a Raft write for it. A node that dies loses at most
 * one period of "last used" times (they are informative, not security). */
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"

#define KEYUSE_MAX 256 /* distinct keys noted per period; more wait for the next */

struct use {
	char id[GW_ID_MAX];
	int64_t at_ms;
};

struct gw_keyuse {
	struct gw *g;
	uv_timer_t timer;
	bool open;
	bool in_flight;
	struct use uses[KEYUSE_MAX];
	unsigned n;
};

void gw_keyuse_note(struct gw *g, const char *key_id)
{
	struct gw_keyuse *k = g->keyuse;
	if (k == NULL) {
		return;
	}
	int64_t now = wall_now_ms();
	for (unsigned i = 0; i < k->n; i++) {
		if (strcmp(k->uses[i].id, key_id) == 0) {
			k->uses[i].at_ms = now;
			return;
		}
	}
	if (k->n < KEYUSE_MAX && strlen(key_id) < GW_ID_MAX) {
		memcpy(k->uses[k->n].id, key_id, strlen(key_id) + 1);
		k->uses[k->n++].at_ms = now;
	}
}

static void flushed(void *data, int status, const struct proto_reply *rep, const struct proto_result *res)
{
	(void)status, (void)rep, (void)res;
	((struct gw_keyuse *)data)->in_flight = false; /* lost ones come again with the next use */
}

static void on_flush(uv_timer_t *t)
{
	struct gw_keyuse *k = t->data;
	if (k->n == 0 || k->in_flight || k->g->stopping) {
		return;
	}
	struct proto_key_use uses[KEYUSE_MAX];
	for (unsigned i = 0; i < k->n; i++) {
		uses[i] = (struct proto_key_use){k->uses[i].id, k->uses[i].at_ms};
	}
	struct proto_cmd cmd = {.type = PROTO_CMD_KEYS_USED, .idem_key = "", .ts_ms = wall_now_ms()};
	cmd.u.keys_used.uses = uses;
	cmd.u.keys_used.n = k->n;
	struct proto_buf b;
	if (proto_cmd_encode(&cmd, &b) == PROTO_OK) {
		k->in_flight = gw_outbox_propose(k->g, &b, flushed, k) == PROTO_OK;
		proto_buf_free(&b);
	}
	k->n = 0;
}

int gw_keyuse_init(struct gw *g)
{
	struct gw_keyuse *k = calloc(1, sizeof(*k));
	if (k == NULL) {
		return PROTO_ENOMEM;
	}
	k->g = g;
	uv_timer_init(g->loop, &k->timer);
	k->timer.data = k;
	k->open = true;
	unsigned ms = g->cfg->identity.key_use_flush_ms;
	uv_timer_start(&k->timer, on_flush, ms, ms);
	g->keyuse = k;
	return PROTO_OK;
}

void gw_keyuse_close(struct gw *g)
{
	struct gw_keyuse *k = g->keyuse;
	if (k != NULL && k->open) {
		uv_close((uv_handle_t *)&k->timer, NULL);
		k->open = false;
	}
}

void gw_keyuse_free(struct gw *g)
{
	free(g->keyuse); /* after the loop ended: no callback can still name it */
	g->keyuse = NULL;
}
