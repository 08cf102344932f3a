/* Password hashing and checking (Argon2id, lib/password.h) on threads of
 * the gateway's own: tens of milliseconds each, so never on the event loop,
 * and never in libuv's pool, which raft_uv's disk work uses. */
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"
#include "lib/password.h"
#include "lib/secret.h"
#include "lib/workers.h"

#define PW_QUEUE_MAX 64 /* jobs waiting beyond this are refused (503) */

struct pw_job {
	struct worker_job w;
	struct gw_pending_call *pc;
	enum gw_pw_op op;
	struct password_cost cost;
	char *hash, *password, *new_password;
	int status;
	char out[PASSWORD_HASH_MAX];
	gw_pw_cb cb;
};

static char *dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static void wipe_free(char *s)
{
	if (s != NULL) {
		secret_wipe(s, strlen(s));
		free(s);
	}
}

static void pw_work(struct worker_job *w)
{
	struct pw_job *j = (struct pw_job *)w;
	if (j->op == GW_PW_HASH) {
		j->status = password_hash(j->password, &j->cost, j->out) == 0 ? 0 : -2;
		return;
	}
	if (j->hash == NULL) { /* the same work as a real check, for an unknown user */
		char scratch[PASSWORD_HASH_MAX];
		j->status = password_hash(j->password, &j->cost, scratch) == 0 ? -1 : -2;
		return;
	}
	j->status = password_verify(j->hash, j->password) == 0 ? 0 : -1;
	if (j->status == 0 && j->op == GW_PW_CHANGE) {
		j->status = password_hash(j->new_password, &j->cost, j->out) == 0 ? 0 : -2;
	}
}

static void pw_done(struct worker_job *w, int status)
{
	struct pw_job *j = (struct pw_job *)w;
	struct gw_req *gr = gw_pending_call_take(j->pc);
	if (gr != NULL && gr->req != NULL) {
		j->cb(gr, status != 0 ? -2 : j->status, j->out);
	}
	wipe_free(j->hash);
	wipe_free(j->password);
	wipe_free(j->new_password);
	secret_wipe(j->out, sizeof(j->out));
	free(j);
}

bool gw_pw_run(struct gw_req *gr, enum gw_pw_op op, const char *hash, const char *password, const char *new_password,
               gw_pw_cb cb)
{
	struct gw *g = gr->gw;
	const struct cfg_identity *id = &g->cfg->identity;
	if (g->pw_workers == NULL || workers_busy(g->pw_workers) >= id->password_threads + PW_QUEUE_MAX) {
		gw_add_header(gr, "retry-after", "1");
		gw_respond_error(gr, 503, "BUSY", "too many password checks under way on this node; retry shortly");
		return false;
	}
	struct pw_job *j = calloc(1, sizeof(*j));
	if (j == NULL) {
		gw_respond_status(gr, PROTO_ENOMEM, NULL);
		return false;
	}
	j->w.run = pw_work;
	j->w.done = pw_done;
	j->op = op;
	j->cost = (struct password_cost){id->password_ops, (size_t)id->password_memory_kib * 1024};
	j->hash = dup_or_null(hash);
	j->password = dup_or_null(password != NULL ? password : "");
	j->new_password = dup_or_null(new_password);
	j->cb = cb;
	j->pc = gw_pending_call_new(gr);
	if (j->pc == NULL || workers_submit(g->pw_workers, &j->w) != 0) {
		if (j->pc != NULL) {
			gw_pending_call_take(j->pc);
		}
		wipe_free(j->hash);
		wipe_free(j->password);
		wipe_free(j->new_password);
		free(j);
		gw_respond_status(gr, PROTO_ESHUTDOWN, NULL);
		return false;
	}
	return true;
}

int gw_pw_init(struct gw *g)
{
	return workers_start(&g->pw_workers, g->loop, g->cfg->identity.password_threads, "gw-passwords");
}

void gw_pw_stop(struct gw *g)
{
	if (g->pw_workers != NULL) {
		workers_stop(g->pw_workers);
		g->pw_workers = NULL;
	}
}
