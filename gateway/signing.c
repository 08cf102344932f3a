/* POST /api/v1/auth/rotate-key (admin): a new JWT signing key, random and
 * sealed before it is proposed. Tokens signed by the keys before it keep
 * verifying for [auth] key_rotation_overlap (or ?overlap=), then fail. */
#include <stdio.h>
#include <stdlib.h>

#include "gateway/internal.h"
#include "gateway/tokens.h"
#include "lib/secret.h"

struct rotation {
	char kid[32];
	char *sealed;
	int64_t overlap_ms;
};

static void rotation_dispose(void *p)
{
	free(((struct rotation *)p)->sealed);
}

static void rotated(struct gw_req *gr, const struct proto_result *res)
{
	struct rotation *r = gr->ctx;
	if (gw_refuse_replay(gr, res)) {
		return;
	}
	gw_respond_json(gr, 200, json_pack("{s:s,s:I,s:o}", "kid", r->kid, "overlap_ms", (json_int_t)r->overlap_ms,
	                                   "previous_keys_retire_at", gw_json_time(wall_now_ms() + r->overlap_ms)));
}

void gw_h_rotate_key(struct gw_req *gr)
{
	struct gw *g = gr->gw;
	if (!g->have_secret_key) {
		gw_respond_error(gr, 503, "INTERNAL_ERROR", "[collector] secret_key is not set: a signing key cannot be kept sealed");
		return;
	}
	struct rotation *r = h2o_mem_alloc_shared(&gr->req->pool, sizeof(*r), rotation_dispose);
	*r = (struct rotation){.overlap_ms = g->cfg->identity.key_overlap_ms};
	gr->ctx = r;
	const char *overlap = gw_query(gr, "overlap");
	if (overlap != NULL) {
		long long ms = cfg_parse_duration_ms(overlap, 1000);
		if (ms < 0 || ms > 30LL * 86400000) {
			gw_respond_error(gr, 400, "VALIDATION_ERROR", "overlap must be a duration of at most 30 days, e.g. 1h");
			return;
		}
		r->overlap_ms = ms;
	}
	unsigned char key[GW_TOKEN_KEY_BYTES];
	secret_random(key, sizeof(key));
	secret_random_text(r->kid, sizeof(r->kid), 9);
	int rv = secret_seal(g->secret_key, key, sizeof(key), &r->sealed);
	secret_wipe(key, sizeof(key));
	if (rv != 0) {
		gw_respond_status(gr, PROTO_ENOMEM, NULL);
		return;
	}
	struct proto_cmd cmd = {.type = PROTO_CMD_SIGNING_KEY};
	cmd.u.signing = (struct proto_signing_key){r->kid, r->sealed, r->overlap_ms};
	gw_propose(gr, &cmd, rotated);
}
