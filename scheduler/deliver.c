/* Webhook deliveries, run by the scheduler. Each webhook is a duty with a
 * lease like a cluster's collection; its holder takes the next event after
 * the webhook's cursor (kept in Raft), POSTs it signed with
 * X-Webhook-Signature: sha256=<hex HMAC of the body> and X-Webhook-Id
 * <webhook>:<index>:<order> (the same on a retry, for deduplication), and
 * records the attempt through Raft: a success moves the cursor, a failure is
 * retried with exponential backoff. A new holder resumes at the cursor:
 * at-least-once, in order per webhook. Events the webhook does not want
 * are passed over by moving its cursor (skip_to), so a scan never rereads
 * them; one tick looks at DELIVER_SCAN events at most. Deliveries run on the
 * scheduler's own threads ([webhooks] threads), not libuv's pool. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/http.h"
#include "raft/propose.h"
#include "scheduler/duty.h"
#include "lib/secret.h"
#include "lib/workers.h"

static void deliver_tick(struct tick *t);

const struct duty_kind sched_webhook_duty = {.name = "webhook", .lease_prefix = "webhook:", .tick = deliver_tick};

#define DELIVER_TIMEOUT_MS 5000
#define DELIVER_SCAN 10000          /* events looked at per tick for one webhook */
#define DELIVER_SKIP_EVENTS 256     /* the cursor moves past this many events that do not match ... */
#define DELIVER_SKIP_MS 10000       /* ... or past fewer once they waited this long */
#define DELIVER_BACKOFF_MAX_MS 60000

struct attempt {
	struct worker_job job; /* first: the job's address is the attempt's */
	struct scheduler *s;
	struct duty_ref *ref; /* its duty (owned) */
	char webhook_id[PROTO_MAX_STR + 1];
	char url[PROTO_MAX_STR + 1];
	char type[64];
	char *body;
	char signature[80];
	char delivery_id[PROTO_MAX_STR + 64];
	uint64_t index, seq;
	long http_status;
	char error[256];
	int64_t duration_ms;
	char idem[PROTO_MAX_STR + 96];
};

static void attempt_free(struct attempt *a)
{
	free(a->ref);
	free(a->body);
	free(a);
}

static void post_run(struct worker_job *j)
{
	struct attempt *a = (struct attempt *)j;
	char sig[128], id[PROTO_MAX_STR + 96], ev[96];
	snprintf(sig, sizeof(sig), "X-Webhook-Signature: sha256=%s", a->signature);
	snprintf(id, sizeof(id), "X-Webhook-Id: %s", a->delivery_id);
	snprintf(ev, sizeof(ev), "X-Webhook-Event: %s", a->type);
	const char *const hdrs[] = {"Content-Type: application/json", sig, id, ev, NULL};
	struct http_request rq = {.url = a->url, .headers = hdrs, .body = a->body, .timeout_ms = DELIVER_TIMEOUT_MS};
	struct http_response rs;
	int64_t t0 = wall_now_ms();
	if (http_perform(&rq, &rs) == 0) {
		a->http_status = rs.status;
		if (a->http_status < 200 || a->http_status >= 300) {
			snprintf(a->error, sizeof(a->error), "HTTP %ld", a->http_status);
		}
	} else {
		snprintf(a->error, sizeof(a->error), "%s", rs.error);
	}
	http_response_free(&rs);
	a->duration_ms = wall_now_ms() - t0;
}

static void recorded(void *data, int status, const struct proto_result *res)
{
	struct attempt *a = data;
	(void)status;
	(void)res;
	struct scheduler *s = a->s;
	struct duty *d = duty_ref_find(a->ref);
	bool ok = status == PROTO_OK && a->error[0] == '\0';
	if (d != NULL) {
		d->running = false;
	}
	attempt_free(a);
	if (ok) {
		scheduler_tick_now(s); /* the next event right away */
	}
}

static void post_done(struct worker_job *j, int status)
{
	struct attempt *a = (struct attempt *)j;
	if (a->s->stopping || status == UV_ECANCELED) {
		attempt_free(a);
		return;
	}
	struct proto_cmd cmd = {.type = PROTO_CMD_WEBHOOK_PROGRESS, .idem_key = a->idem};
	snprintf(a->idem, sizeof(a->idem), "delivery:%s:%" PRIu64 ":%" PRIx64, a->delivery_id, a->s->self->id,
	         (uint64_t)wall_now_ms());
	cmd.u.delivery = (struct proto_delivery){a->webhook_id, a->index, a->seq, a->type, a->error[0] == '\0',
	                                         (uint64_t)a->http_status, a->error, a->s->self->id, a->duration_ms};
	if (repl_propose(a->s->raft, &cmd, a->s->cfg->write_timeout_ms, recorded, a) != PROTO_OK) {
		recorded(a, PROTO_ENOMEM, NULL);
	}
}

struct next_event {
	const struct proto_webhook *w;
	struct store_event e;
	char type[64], client[PROTO_MAX_STR + 1];
	char *data;
	bool found;
	unsigned scanned;                  /* events looked at, up to DELIVER_SCAN */
	uint64_t passed_index, passed_seq; /* the last one that did not match */
};

static int pick(void *data, const struct store_event *e)
{
	struct next_event *n = data;
	if (n->scanned++ >= DELIVER_SCAN) {
		return 1; /* the rest at the next tick, once the cursor moved past these */
	}
	n->passed_index = e->index;
	n->passed_seq = e->seq;
	if (n->w->client[0] != '\0' && strcmp(n->w->client, e->client) != 0) {
		return 0;
	}
	if (n->w->n_events > 0) {
		bool wanted = false;
		for (uint32_t i = 0; i < n->w->n_events && !wanted; i++) {
			wanted = strcmp(n->w->events[i], e->type) == 0;
		}
		if (!wanted) {
			return 0;
		}
	}
	n->e = *e;
	snprintf(n->type, sizeof(n->type), "%s", e->type);
	snprintf(n->client, sizeof(n->client), "%s", e->client);
	n->data = strdup(e->data);
	n->found = n->data != NULL;
	return 1;
}

/* Moves the webhook's cursor past events it does not want (an event type
 * "" in WEBHOOK_PROGRESS: no attempt recorded), so that the next scans start
 * after them instead of reading them again at every tick. */
static void skip_to(struct tick *t, struct duty *d, const struct store_webhook *wh, const struct next_event *n)
{
	struct scheduler *s = t->s;
	struct attempt *a = calloc(1, sizeof(*a));
	if (a == NULL || (a->ref = duty_ref_new(s, d)) == NULL) {
		free(a);
		return;
	}
	a->s = s;
	snprintf(a->idem, sizeof(a->idem), "skip:%s:%" PRIu64 ":%" PRIu64, wh->w->id, n->passed_index, n->passed_seq);
	struct proto_cmd cmd = {.type = PROTO_CMD_WEBHOOK_PROGRESS, .idem_key = a->idem};
	cmd.u.delivery = (struct proto_delivery){wh->w->id, n->passed_index, n->passed_seq, "", 1, 0, "", s->self->id, 0};
	d->running = true;
	d->last_run_ms = t->now;
	if (repl_propose(s->raft, &cmd, s->cfg->write_timeout_ms, recorded, a) != PROTO_OK) {
		recorded(a, PROTO_ENOMEM, NULL);
	}
}

static void deliver_next(struct tick *t, struct duty *d, const struct store_webhook *wh)
{
	struct scheduler *s = t->s;
	if (wh->failures > 0) {
		int64_t backoff = 500;
		for (uint64_t i = 1; i < wh->failures && backoff < DELIVER_BACKOFF_MAX_MS; i++) {
			backoff *= 2;
		}
		if (t->now - wh->last_attempt_ms < (backoff < DELIVER_BACKOFF_MAX_MS ? backoff : DELIVER_BACKOFF_MAX_MS)) {
			return;
		}
	}
	struct next_event n = {.w = wh->w};
	store_events_each(t->rd, wh->after_index, wh->after_seq, pick, &n);
	if (!n.found) {
		unsigned passed = n.scanned > DELIVER_SCAN ? DELIVER_SCAN : n.scanned;
		if (passed >= DELIVER_SKIP_EVENTS || (passed > 0 && t->now - d->last_run_ms >= DELIVER_SKIP_MS)) {
			skip_to(t, d, wh, &n);
		}
		return;
	}
	void *secret = NULL;
	size_t secret_len = 0;
	if (!s->have_key || secret_open(s->key, wh->w->sealed_secret, &secret, &secret_len) != 0) {
		free(n.data);
		return; /* cannot sign without the shared key: leave it to a node that can */
	}
	struct attempt *a = calloc(1, sizeof(*a));
	char when[40];
	time_t secs = (time_t)(n.e.ts_ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	size_t cap = strlen(n.data) + 256;
	if (a == NULL || (a->body = malloc(cap)) == NULL) {
		free(a);
		free(n.data);
		free(secret);
		return;
	}
	snprintf(a->body, cap, "{\"event\":\"%s\",\"type\":\"%s\",\"index\":%" PRIu64 ",\"timestamp\":\"%s\",\"data\":%s}",
	         n.type, n.type, n.e.index, when, n.data);
	secret_hmac_sha256_hex(secret, secret_len, a->body, strlen(a->body), a->signature);
	free(secret);
	free(n.data);
	a->s = s;
	if ((a->ref = duty_ref_new(s, d)) == NULL) {
		attempt_free(a);
		return;
	}
	snprintf(a->webhook_id, sizeof(a->webhook_id), "%s", wh->w->id);
	snprintf(a->url, sizeof(a->url), "%s", wh->w->url);
	snprintf(a->type, sizeof(a->type), "%s", n.type);
	snprintf(a->delivery_id, sizeof(a->delivery_id), "%s:%" PRIu64 ":%" PRIu64, wh->w->id, n.e.index, n.e.seq);
	a->index = n.e.index;
	a->seq = n.e.seq;
	a->job.run = post_run;
	a->job.done = post_done;
	d->running = true;
	if (workers_submit(s->workers, &a->job) != 0) {
		d->running = false;
		attempt_free(a);
	}
}

static int on_webhook(void *data, const struct store_webhook *wh)
{
	struct tick *t = data;
	struct duty *d = duty_for(t->s, &sched_webhook_duty, wh->w->id);
	if (d == NULL) {
		return 0;
	}
	duty_lease_step(t, d);
	if (d->held && !d->running) {
		deliver_next(t, d, wh);
	}
	return 0;
}

static void deliver_tick(struct tick *t)
{
	store_webhooks_each(t->rd, on_webhook, t);
}
