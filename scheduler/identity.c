/* Identity bootstrap: the holder of the "identity" lease makes the
 * cluster's first JWT signing key (random, sealed with [collector]
 * secret_key before it is proposed) and its first admin user, from [auth]
 * admin_user / admin_password (hashed on the scheduler's worker threads).
 * When no admin_password is set, a random one is made and printed once, by
 * this node only. Both are created once: a key or any user already in the
 * store ends the duty (users: ever, so deleting them all does not bring
 * the bootstrap admin back), and it holds no lease afterwards. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/password.h"
#include "lib/secret.h"
#include "lib/workers.h"
#include "raft/propose.h"
#include "scheduler/duty.h"
#include "store/identity.h"

#define SIGNING_KEY_BYTES 32
#define ADMIN_ID "u-admin"

static void identity_tick(struct tick *t);

const struct duty_kind sched_identity_duty = {.name = "identity", .lease_prefix = "", .tick = identity_tick};

static int any_key(void *data, const struct store_signing_key *k)
{
	(void)k;
	*(bool *)data = true;
	return 1;
}

struct admin_job {
	struct worker_job w;
	struct duty_ref *ref;
	struct password_cost cost;
	char password[CFG_NAME_MAX];
	char hash[PASSWORD_HASH_MAX];
	bool generated;
	int status;
};

/* One of the tick's proposals is over (ref freed); the duty runs again
 * once all are, and soon if one failed. */
static void one_done(struct duty_ref *ref, int status)
{
	struct duty *d = duty_ref_find(ref);
	free(ref);
	if (d != NULL) {
		d->running -= d->running > 0;
		if (status != PROTO_OK) {
			d->last_run_ms = 0; /* try again at the next tick */
		}
	}
}

static void proposed(void *data, int status, const struct proto_result *res)
{
	(void)res;
	one_done(data, status);
}

static void propose(struct scheduler *s, struct duty_ref *ref, struct proto_cmd *cmd)
{
	char idem[96];
	snprintf(idem, sizeof(idem), "identity:%" PRIu64 ":%" PRIu64, s->self->id, ++s->seq);
	cmd->idem_key = idem;
	cmd->origin = (struct proto_origin){"node:bootstrap", s->self->name, "", ""};
	if (repl_propose(s->raft, cmd, s->cfg->write_timeout_ms, proposed, ref) != PROTO_OK) {
		proposed(ref, PROTO_ENOMEM, NULL);
	}
}

static void make_signing_key(struct scheduler *s, struct duty_ref *ref)
{
	unsigned char key[SIGNING_KEY_BYTES];
	char kid[32], *sealed = NULL;
	secret_random(key, sizeof(key));
	secret_random_text(kid, sizeof(kid), 9);
	int rv = secret_seal(s->key, key, sizeof(key), &sealed);
	secret_wipe(key, sizeof(key));
	if (rv != 0) {
		proposed(ref, PROTO_ENOMEM, NULL);
		return;
	}
	struct proto_cmd cmd = {.type = PROTO_CMD_SIGNING_KEY};
	cmd.u.signing = (struct proto_signing_key){kid, sealed, 0};
	propose(s, ref, &cmd);
	free(sealed);
}

static void admin_hash(struct worker_job *w)
{
	struct admin_job *j = (struct admin_job *)w;
	j->status = password_hash(j->password, &j->cost, j->hash);
}

static void admin_hashed(struct worker_job *w, int status)
{
	struct admin_job *j = (struct admin_job *)w;
	if (status != 0 || j->status != 0 || duty_ref_find(j->ref) == NULL) {
		one_done(j->ref, PROTO_EINTERNAL);
	} else {
		struct scheduler *s = j->ref->s;
		struct proto_cmd cmd = {.type = PROTO_CMD_USER_PUT};
		cmd.u.user = (struct proto_user){ADMIN_ID, s->cfg->admin_user, "", "Administrator", "admin", "", j->hash, 1, 1};
		if (j->generated) { /* once, here: it exists nowhere else in clear */
			fprintf(stderr, "\nshiplog: first admin user \"%s\", password: %s\n"
			                "shiplog: (printed once; set [auth] admin_password to choose it)\n\n",
			        s->cfg->admin_user, j->password);
		}
		propose(s, j->ref, &cmd);
	}
	secret_wipe(j->password, sizeof(j->password));
	secret_wipe(j->hash, sizeof(j->hash));
	free(j);
}

static void make_admin(struct scheduler *s, struct duty_ref *ref)
{
	struct admin_job *j = calloc(1, sizeof(*j));
	if (j == NULL) {
		proposed(ref, PROTO_ENOMEM, NULL);
		return;
	}
	const struct cfg_identity *id = &s->cfg->identity;
	j->ref = ref;
	j->cost = (struct password_cost){id->password_ops, (size_t)id->password_memory_kib * 1024};
	if (s->cfg->admin_password[0] != '\0') {
		snprintf(j->password, sizeof(j->password), "%s", s->cfg->admin_password);
	} else {
		secret_random_text(j->password, sizeof(j->password), 15);
		j->generated = true;
	}
	j->w.run = admin_hash;
	j->w.done = admin_hashed;
	if (workers_submit(s->workers, &j->w) != 0) {
		secret_wipe(j->password, sizeof(j->password));
		free(j);
		proposed(ref, PROTO_ESHUTDOWN, NULL);
	}
}

static void identity_tick(struct tick *t)
{
	struct scheduler *s = t->s;
	bool have_key = false;
	store_signing_keys_each(t->rd, any_key, &have_key);
	bool need_key = !have_key && s->have_key; /* without secret_key no key can be kept sealed */
	bool need_admin = !store_users_made(t->rd) && s->cfg->admin_user[0] != '\0';
	if (!need_key && !need_admin) {
		return; /* done: hold no lease, write nothing */
	}
	struct duty *d = duty_for(s, &sched_identity_duty, "identity");
	if (d == NULL) {
		return;
	}
	duty_lease_step(t, d);
	if (!d->held || d->running || t->now - d->last_run_ms < 1000) {
		return;
	}
	/* both at once when both are due: each proposal holds a reference */
	struct duty_ref *key_ref = need_key ? duty_ref_new(s, d) : NULL;
	struct duty_ref *admin_ref = need_admin ? duty_ref_new(s, d) : NULL;
	if ((need_key && key_ref == NULL) || (need_admin && admin_ref == NULL)) {
		free(key_ref);
		free(admin_ref);
		return;
	}
	d->last_run_ms = t->now;
	d->running = (key_ref != NULL) + (admin_ref != NULL);
	if (key_ref != NULL) {
		make_signing_key(s, key_ref);
	}
	if (admin_ref != NULL) {
		make_admin(s, admin_ref);
	}
}
