/* The bus's in-process lanes: requests, replies and published messages
 * between actors of one node go from one loop's mailbox straight to the
 * other's, one copy and one wake-up each way. nng's inproc transport took
 * every message through its task threads as well (under the write benchmark,
 * 38k thread switches a second on nng:task threads).
 *
 * Every object lives on one loop; the registry of listeners and subscribers
 * is the only state threads share, under reg_mu. A reply finds its way back
 * through a lane, which outlives the client that may close meanwhile. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/internal.h"
#include "lib/queue.h"
#include "protocol/status.h"

#define LOCAL_URL_MAX 160
#define LOCAL_RETRY_MS 10         /* a call waiting for its server looks again this often */
#define LOCAL_SUB_QUEUE_MAX 4096  /* messages queued for a slow subscriber; later ones are lost */

#define OWNER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct queue listeners = {&listeners, &listeners}; /* struct local_listener, under reg_mu */
static struct queue subs = {&subs, &subs};                /* struct local_sub, under reg_mu */

bool bus_local_url(const char *url)
{
	return strncmp(url, "inproc://", 9) == 0;
}

static int copy_url(char *dst, const char *url)
{
	return snprintf(dst, LOCAL_URL_MAX, "%s", url) >= LOCAL_URL_MAX ? PROTO_EINVAL : PROTO_OK;
}

/* ---- lanes ---- */

struct lane {
	pthread_mutex_t mu;
	struct local_client *client; /* NULL once it closed */
	atomic_int refs;             /* the client and each request in flight */
};

/* A client: its calls wait in calls; replies come through its mailbox. */
struct local_client {
	struct mailbox mb;
	uv_loop_t *loop;
	char url[LOCAL_URL_MAX];
	struct lane *lane;
	struct queue calls; /* struct local_call in flight, newest first */
	uint64_t next_id;
	bool refuse_calls; /* closing: bus_call fails */
	bool closing;      /* closed: late replies are ignored */
};

static void lane_unref(struct lane *ln)
{
	if (atomic_fetch_sub(&ln->refs, 1) == 1) {
		pthread_mutex_destroy(&ln->mu);
		free(ln);
	}
}

/* ---- server ---- */

struct local_listener {
	struct queue reg; /* in listeners */
	char url[LOCAL_URL_MAX];
	struct mailbox *mb;
	bus_request_cb cb;
	void *data;
	struct queue handed; /* struct local_request given to cb and not answered (the loop's) */
};

struct local_request {
	struct bus_request_head head; /* first: bus_reply reads it */
	struct bus_item item;
	struct local_listener *l;
	struct queue link; /* in l->handed */
	struct lane *lane;
	uint64_t id;
	void *buf;
	size_t len;
};

struct local_reply {
	struct bus_item item;
	struct local_client *client;
	uint64_t id;
	size_t len;
	char buf[];
};

static void request_free(struct local_request *r)
{
	free(r->buf);
	lane_unref(r->lane);
	free(r);
}

static void request_drop(struct bus_item *it)
{
	request_free(OWNER_OF(it, struct local_request, item));
}

static void request_run(struct bus_item *it)
{
	struct local_request *r = OWNER_OF(it, struct local_request, item);
	struct local_listener *l = r->l;
	queue_insert_head(&l->handed, &r->link);
	void *buf = r->buf; /* the callback may answer, and free r, before it returns */
	r->buf = NULL;
	l->cb(l->data, (bus_request *)(void *)&r->head, buf, r->len);
	free(buf);
}

static void reply_run(struct bus_item *it);

static void reply_drop(struct bus_item *it)
{
	free(OWNER_OF(it, struct local_reply, item));
}

void bus_local_reply(bus_request *br, const void *buf, size_t len)
{
	struct local_request *r = (struct local_request *)(void *)br;
	queue_remove(&r->link);
	struct lane *ln = r->lane;
	pthread_mutex_lock(&ln->mu);
	if (ln->client != NULL) {
		struct local_reply *rep = malloc(sizeof(*rep) + len);
		if (rep != NULL) { /* else the caller times out, as with a lost reply */
			rep->item = (struct bus_item){.run = reply_run, .drop = reply_drop};
			rep->client = ln->client;
			rep->id = r->id;
			rep->len = len;
			if (len > 0) {
				memcpy(rep->buf, buf, len);
			}
			mailbox_push(&ln->client->mb, &rep->item);
		}
	}
	pthread_mutex_unlock(&ln->mu);
	request_free(r);
}

int bus_local_listen(struct local_listener **out, struct mailbox *mb, const char *url, bus_request_cb cb, void *data)
{
	struct local_listener *l = calloc(1, sizeof(*l));
	if (l == NULL) {
		return PROTO_ENOMEM;
	}
	if (copy_url(l->url, url) != PROTO_OK) {
		free(l);
		return PROTO_EINVAL;
	}
	l->mb = mb;
	l->cb = cb;
	l->data = data;
	queue_init(&l->handed);
	pthread_mutex_lock(&reg_mu);
	queue_insert_head(&listeners, &l->reg);
	pthread_mutex_unlock(&reg_mu);
	*out = l;
	return PROTO_OK;
}

void bus_local_unlisten(struct local_listener *l)
{
	pthread_mutex_lock(&reg_mu);
	queue_remove(&l->reg);
	pthread_mutex_unlock(&reg_mu);
	while (!queue_empty(&l->handed)) {
		struct local_request *r = QUEUE_DATA(queue_head(&l->handed), struct local_request, link);
		queue_remove(&r->link);
		request_free(r);
	}
	free(l);
}

/* ---- client ---- */

struct local_call {
	struct queue link; /* in cl->calls */
	struct local_client *cl;
	uint64_t id;
	uv_timer_t timer;
	uint64_t deadline;
	struct local_request *req; /* while no listener has taken it */
	bus_reply_cb cb;
	void *data;
};


/* Hands c's request to the url's listener, if one listens now. */
static bool deliver(struct local_call *c)
{
	bool found = false;
	pthread_mutex_lock(&reg_mu);
	struct queue *e;
	QUEUE_FOREACH(e, &listeners) {
		struct local_listener *l = QUEUE_DATA(e, struct local_listener, reg);
		if (strcmp(l->url, c->cl->url) == 0) {
			c->req->l = l;
			mailbox_push(l->mb, &c->req->item);
			c->req = NULL;
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&reg_mu);
	return found;
}

static void call_free(uv_handle_t *h)
{
	free(h->data);
}

/* Forgets c (its callback is not run). */
static void call_end(struct local_call *c)
{
	queue_remove(&c->link);
	if (c->req != NULL) {
		request_free(c->req);
	}
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, call_free);
}

static void call_complete(struct local_call *c, int status, const void *buf, size_t len)
{
	bus_reply_cb cb = c->cb;
	void *data = c->data;
	call_end(c);
	cb(data, status, buf, len);
}

static void call_timer(uv_timer_t *h)
{
	struct local_call *c = h->data;
	uint64_t now = uv_now(c->cl->loop);
	if (c->req != NULL && now < c->deadline) {
		uint64_t left = c->deadline - now;
		uv_timer_start(&c->timer, call_timer, deliver(c) || left < LOCAL_RETRY_MS ? left : LOCAL_RETRY_MS, 0);
		return;
	}
	call_complete(c, PROTO_ETIMEOUT, NULL, 0);
}

static void reply_run(struct bus_item *it)
{
	struct local_reply *rep = OWNER_OF(it, struct local_reply, item);
	struct local_client *cl = rep->client;
	struct local_call *found = NULL;
	struct queue *e;
	if (!cl->closing) {
		QUEUE_FOREACH(e, &cl->calls) {
			struct local_call *c = QUEUE_DATA(e, struct local_call, link);
			if (c->id == rep->id) {
				found = c;
				break;
			}
		}
	}
	if (found != NULL) { /* else it timed out already */
		call_complete(found, PROTO_OK, rep->buf, rep->len);
	}
	free(rep);
}

static void client_free(void *owner)
{
	free(owner);
}

int bus_local_client_open(struct local_client **out, uv_loop_t *loop, const char *url)
{
	struct local_client *cl = calloc(1, sizeof(*cl));
	struct lane *ln = calloc(1, sizeof(*ln));
	if (cl == NULL || ln == NULL || copy_url(cl->url, url) != PROTO_OK) {
		free(cl);
		free(ln);
		return cl == NULL || ln == NULL ? PROTO_ENOMEM : PROTO_EINVAL;
	}
	cl->loop = loop;
	queue_init(&cl->calls);
	pthread_mutex_init(&ln->mu, NULL);
	atomic_init(&ln->refs, 1);
	ln->client = cl;
	cl->lane = ln;
	mailbox_init(&cl->mb, loop, cl, client_free);
	*out = cl;
	return PROTO_OK;
}

int bus_local_call(struct local_client *cl, const void *buf, size_t len, unsigned timeout_ms, bus_reply_cb cb,
                   void *data)
{
	if (cl->refuse_calls) {
		return PROTO_ESHUTDOWN;
	}
	struct local_call *c = calloc(1, sizeof(*c));
	struct local_request *r = calloc(1, sizeof(*r));
	void *copy = malloc(len > 0 ? len : 1);
	if (c == NULL || r == NULL || copy == NULL) {
		free(c);
		free(r);
		free(copy);
		return PROTO_ENOMEM;
	}
	if (len > 0) {
		memcpy(copy, buf, len);
	}
	r->head.local = true;
	r->item = (struct bus_item){.run = request_run, .drop = request_drop};
	r->buf = copy;
	r->len = len;
	r->id = c->id = ++cl->next_id;
	atomic_fetch_add(&cl->lane->refs, 1);
	r->lane = cl->lane;
	c->cl = cl;
	c->req = r;
	c->cb = cb;
	c->data = data;
	c->deadline = uv_now(cl->loop) + timeout_ms;
	queue_insert_head(&cl->calls, &c->link);
	uv_timer_init(cl->loop, &c->timer);
	c->timer.data = c;
	bool sent = deliver(c);
	uv_timer_start(&c->timer, call_timer, sent || timeout_ms < LOCAL_RETRY_MS ? timeout_ms : LOCAL_RETRY_MS, 0);
	return PROTO_OK;
}

void bus_local_client_close(struct local_client *cl)
{
	struct lane *ln = cl->lane;
	cl->refuse_calls = true; /* before the lane goes: a call needs it */
	pthread_mutex_lock(&ln->mu);
	ln->client = NULL;
	pthread_mutex_unlock(&ln->mu);
	lane_unref(ln);
	mailbox_run_queued(&cl->mb); /* replies that arrived answer their calls (no more can come) */
	cl->closing = true;          /* replies taken by a drain under way are ignored */
	while (!queue_empty(&cl->calls)) {
		call_complete(QUEUE_DATA(queue_head(&cl->calls), struct local_call, link), PROTO_ESHUTDOWN, NULL, 0);
	}
	mailbox_close(&cl->mb, NULL); /* queued replies carry their drop */
}

/* ---- publish / subscribe ---- */

struct local_pub {
	char url[LOCAL_URL_MAX];
};

struct local_sub {
	struct queue reg; /* in subs */
	char url[LOCAL_URL_MAX];
	struct mailbox mb;
	bus_msg_cb cb;
	void *data;
	atomic_int queued;
	bool closing;
};

struct local_msg {
	struct bus_item item;
	struct local_sub *s;
	size_t len;
	char buf[];
};

static void msg_run(struct bus_item *it)
{
	struct local_msg *m = OWNER_OF(it, struct local_msg, item);
	struct local_sub *s = m->s;
	atomic_fetch_sub(&s->queued, 1);
	if (!s->closing) {
		s->cb(s->data, m->buf, m->len);
	}
	free(m);
}

static void msg_drop(struct bus_item *it)
{
	free(OWNER_OF(it, struct local_msg, item));
}

int bus_local_pub_open(struct local_pub **out, const char *url)
{
	struct local_pub *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		return PROTO_ENOMEM;
	}
	if (copy_url(p->url, url) != PROTO_OK) {
		free(p);
		return PROTO_EINVAL;
	}
	*out = p;
	return PROTO_OK;
}

void bus_local_publish(struct local_pub *p, const void *buf, size_t len)
{
	pthread_mutex_lock(&reg_mu);
	struct queue *e;
	QUEUE_FOREACH(e, &subs) {
		struct local_sub *s = QUEUE_DATA(e, struct local_sub, reg);
		if (strcmp(s->url, p->url) != 0 || atomic_load(&s->queued) >= LOCAL_SUB_QUEUE_MAX) {
			continue;
		}
		struct local_msg *m = malloc(sizeof(*m) + len);
		if (m == NULL) {
			continue;
		}
		m->item = (struct bus_item){.run = msg_run, .drop = msg_drop};
		m->s = s;
		m->len = len;
		if (len > 0) {
			memcpy(m->buf, buf, len);
		}
		atomic_fetch_add(&s->queued, 1);
		mailbox_push(&s->mb, &m->item);
	}
	pthread_mutex_unlock(&reg_mu);
}

void bus_local_pub_close(struct local_pub *p)
{
	free(p);
}

static void sub_free(void *owner)
{
	free(owner);
}

int bus_local_sub_open(struct local_sub **out, uv_loop_t *loop, const char *url, bus_msg_cb cb, void *data)
{
	struct local_sub *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return PROTO_ENOMEM;
	}
	if (copy_url(s->url, url) != PROTO_OK) {
		free(s);
		return PROTO_EINVAL;
	}
	s->cb = cb;
	s->data = data;
	atomic_init(&s->queued, 0);
	mailbox_init(&s->mb, loop, s, sub_free);
	pthread_mutex_lock(&reg_mu);
	queue_insert_head(&subs, &s->reg);
	pthread_mutex_unlock(&reg_mu);
	*out = s;
	return PROTO_OK;
}

void bus_local_sub_close(struct local_sub *s)
{
	pthread_mutex_lock(&reg_mu);
	queue_remove(&s->reg);
	pthread_mutex_unlock(&reg_mu);
	s->closing = true;
	mailbox_close(&s->mb, NULL);
}
