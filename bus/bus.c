/* nng behind a small API, with results delivered on libuv loops; inproc://
 * urls take the in-process lanes of local.c instead.
 *
 * Every object owns a mailbox: nng callbacks (on nng's threads) push an item
 * and wake the loop with uv_async_send; the loop drains the items and runs
 * the actor's callback. Closing stops every aio first (nng_aio_stop waits for
 * running callbacks), so no nng thread touches an object after its close. */
#include "bus/bus.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/internal.h"
#include "protocol/status.h"

#define BUS_SERVER_SLOTS 128   /* requests one server handles at once over nng */
#define BUS_SERVER_LOCAL_MAX 4 /* inproc:// urls of one server */

static void set_err(char *err, size_t errlen, const char *what, const char *url, int rv)
{
	if (err != NULL) {
		snprintf(err, errlen, "bus: %s %s: %s", what, url, nng_strerror(rv));
	}
}

/* ---- server ---- */

enum slot_state { SLOT_RECV, SLOT_HANDED, SLOT_SEND, SLOT_DEAD };

struct bus_request {
	struct bus_request_head head; /* first: local is false */
	struct bus_item item;
	struct bus_server *srv;
	nng_ctx ctx;
	nng_aio *aio;
	nng_msg *msg;
	enum slot_state state;
};

struct bus_server {
	struct mailbox mb;
	nng_socket sock;
	bus_request_cb cb;
	void *data;
	struct bus_request slots[BUS_SERVER_SLOTS];
	int n_slots;
	struct local_listener *local[BUS_SERVER_LOCAL_MAX]; /* its inproc:// urls */
	size_t n_local;
};

static void slot_aio_cb(void *arg)
{
	struct bus_request *r = arg;
	int rv = nng_aio_result(r->aio);
	if (r->state == SLOT_SEND) {
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(r->aio));
		}
		r->state = SLOT_RECV;
		nng_ctx_recv(r->ctx, r->aio);
		return;
	}
	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
		r->state = SLOT_DEAD;
		return;
	}
	if (rv != 0) {
		nng_ctx_recv(r->ctx, r->aio);
		return;
	}
	r->msg = nng_aio_get_msg(r->aio);
	r->state = SLOT_HANDED;
	mailbox_push(&r->srv->mb, &r->item);
}

static void slot_run(struct bus_item *it)
{
	struct bus_request *r = (struct bus_request *)(void *)((char *)it - offsetof(struct bus_request, item));
	nng_msg *m = r->msg;
	r->msg = NULL;
	r->srv->cb(r->srv->data, r, nng_msg_body(m), nng_msg_len(m));
	nng_msg_free(m);
}

void bus_reply(bus_request *r, const void *buf, size_t len)
{
	nng_msg *m;
	if (r->head.local) {
		bus_local_reply(r, buf, len);
		return;
	}
	if (r->state != SLOT_HANDED) {
		return;
	}
	if (nng_msg_alloc(&m, len) != 0) {
		r->state = SLOT_RECV; /* the sender will time out */
		nng_ctx_recv(r->ctx, r->aio);
		return;
	}
	memcpy(nng_msg_body(m), buf, len);
	nng_aio_set_msg(r->aio, m);
	r->state = SLOT_SEND;
	nng_ctx_send(r->ctx, r->aio);
}

static void server_free(void *owner)
{
	free(owner);
}

static void slot_drop(struct bus_item *it)
{
	struct bus_request *r = (struct bus_request *)(void *)((char *)it - offsetof(struct bus_request, item));
	if (r->msg != NULL) {
		nng_msg_free(r->msg);
		r->msg = NULL;
	}
}

int bus_server_open(bus_server **out, uv_loop_t *loop, const char *const urls[], size_t n_urls,
                    bus_request_cb cb, void *data, char *err, size_t errlen)
{
	struct bus_server *s = calloc(1, sizeof(*s));
	int rv;
	if (s == NULL) {
		return PROTO_ENOMEM;
	}
	s->cb = cb;
	s->data = data;
	if ((rv = nng_rep0_open(&s->sock)) != 0) {
		set_err(err, errlen, "open", "rep", rv);
		free(s);
		return PROTO_EINTERNAL;
	}
	nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, 32u << 20);
	for (size_t i = 0; i < n_urls; i++) {
		if (bus_local_url(urls[i])) {
			continue; /* served by local.c below */
		}
		if ((rv = nng_listen(s->sock, urls[i], NULL, 0)) != 0) {
			set_err(err, errlen, "listen", urls[i], rv);
			nng_close(s->sock);
			free(s);
			return PROTO_ECONNECT;
		}
	}
	mailbox_init(&s->mb, loop, s, server_free);
	for (size_t i = 0; i < n_urls; i++) {
		if (bus_local_url(urls[i]) && s->n_local < BUS_SERVER_LOCAL_MAX &&
		    bus_local_listen(&s->local[s->n_local], &s->mb, urls[i], cb, data) == PROTO_OK) {
			s->n_local++;
		}
	}
	for (int i = 0; i < BUS_SERVER_SLOTS; i++) {
		struct bus_request *r = &s->slots[i];
		r->srv = s;
		r->item.run = slot_run;
		if (nng_ctx_open(&r->ctx, s->sock) != 0 || nng_aio_alloc(&r->aio, slot_aio_cb, r) != 0) {
			break;
		}
		s->n_slots++;
		r->state = SLOT_RECV;
		nng_ctx_recv(r->ctx, r->aio);
	}
	*out = s;
	return PROTO_OK;
}

void bus_server_close(bus_server *s)
{
	for (size_t i = 0; i < s->n_local; i++) {
		bus_local_unlisten(s->local[i]);
	}
	nng_close(s->sock);
	for (int i = 0; i < s->n_slots; i++) {
		nng_aio_stop(s->slots[i].aio);
	}
	for (int i = 0; i < s->n_slots; i++) {
		nng_aio_free(s->slots[i].aio);
		if (s->slots[i].state == SLOT_HANDED) {
			s->slots[i].state = SLOT_DEAD;
		}
	}
	mailbox_close(&s->mb, slot_drop);
}

/* ---- client ---- */

struct bus_call {
	struct bus_item item;
	struct bus_call *prev, *next; /* in-flight list, for close */
	struct bus_client *cl;
	nng_ctx ctx;
	nng_aio *aio;
	int receiving; /* 0 while the request is sent, 1 while the reply is awaited */
	bus_reply_cb cb;
	void *data;
};

struct bus_client {
	struct mailbox mb;
	nng_socket sock;
	struct bus_call *calls;
	struct local_client *local; /* set for inproc:// urls: nothing else is used */
	bool closing;               /* bus_call refuses new calls */
};

/* A REQ context sends, then receives: the same aio serves both steps. */
static void call_aio_cb(void *arg)
{
	struct bus_call *c = arg;
	if (!c->receiving) {
		if (nng_aio_result(c->aio) != 0) {
			nng_msg_free(nng_aio_get_msg(c->aio));
			nng_aio_set_msg(c->aio, NULL);
			mailbox_push(&c->cl->mb, &c->item);
			return;
		}
		c->receiving = 1;
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	mailbox_push(&c->cl->mb, &c->item);
}

static void call_unlink_free(struct bus_call *c)
{
	if (c->prev != NULL) {
		c->prev->next = c->next;
	} else {
		c->cl->calls = c->next;
	}
	if (c->next != NULL) {
		c->next->prev = c->prev;
	}
	nng_aio_free(c->aio);
	nng_ctx_close(c->ctx);
	free(c);
}

/* Ends c: unlinks and frees it, then runs its callback with its result
 * (or with status when the call ended in error). */
static void call_finish(struct bus_call *c, int status)
{
	int rv = nng_aio_result(c->aio);
	nng_msg *m = rv == 0 ? nng_aio_get_msg(c->aio) : NULL;
	if (rv == 0) {
		status = PROTO_OK;
	}
	bus_reply_cb cb = c->cb;
	void *data = c->data;
	call_unlink_free(c);
	cb(data, status, m != NULL ? nng_msg_body(m) : NULL, m != NULL ? nng_msg_len(m) : 0);
	if (m != NULL) {
		nng_msg_free(m);
	}
}

static void call_run(struct bus_item *it)
{
	struct bus_call *c = (struct bus_call *)it;
	int rv = nng_aio_result(c->aio);
	call_finish(c, rv == NNG_ETIMEDOUT ? PROTO_ETIMEOUT : rv == NNG_ECLOSED ? PROTO_ESHUTDOWN : PROTO_ECONNECT);
}

static void client_free(void *owner)
{
	free(owner);
}

int bus_client_open(bus_client **out, uv_loop_t *loop, const char *url)
{
	struct bus_client *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return PROTO_ENOMEM;
	}
	if (bus_local_url(url)) {
		int rv = bus_local_client_open(&c->local, loop, url);
		if (rv != PROTO_OK) {
			free(c);
			return rv;
		}
		*out = c;
		return PROTO_OK;
	}
	if (nng_req0_open(&c->sock) != 0) {
		free(c);
		return PROTO_EINTERNAL;
	}
	/* A lost reply is retried by the caller with its idempotency key, not by nng. */
	nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, 20);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, 250);
	nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, 32u << 20);
	if (nng_dial(c->sock, url, NULL, NNG_FLAG_NONBLOCK) != 0) {
		nng_close(c->sock);
		free(c);
		return PROTO_ECONNECT;
	}
	mailbox_init(&c->mb, loop, c, client_free);
	*out = c;
	return PROTO_OK;
}

int bus_call(bus_client *cl, const void *buf, size_t len, unsigned timeout_ms, bus_reply_cb cb, void *data)
{
	if (cl->local != NULL) {
		return bus_local_call(cl->local, buf, len, timeout_ms, cb, data);
	}
	if (cl->closing) {
		return PROTO_ESHUTDOWN;
	}
	struct bus_call *c = calloc(1, sizeof(*c));
	nng_msg *m;
	if (c == NULL) {
		return PROTO_ENOMEM;
	}
	c->cl = cl;
	c->cb = cb;
	c->data = data;
	c->item.run = call_run;
	if (nng_ctx_open(&c->ctx, cl->sock) != 0) {
		free(c);
		return PROTO_ENOMEM;
	}
	if (nng_aio_alloc(&c->aio, call_aio_cb, c) != 0) {
		nng_ctx_close(c->ctx);
		free(c);
		return PROTO_ENOMEM;
	}
	if (nng_msg_alloc(&m, len) != 0) {
		nng_aio_free(c->aio);
		nng_ctx_close(c->ctx);
		free(c);
		return PROTO_ENOMEM;
	}
	memcpy(nng_msg_body(m), buf, len);
	c->next = cl->calls;
	if (cl->calls != NULL) {
		cl->calls->prev = c;
	}
	cl->calls = c;
	nng_aio_set_timeout(c->aio, (nng_duration)timeout_ms);
	nng_aio_set_msg(c->aio, m);
	nng_ctx_send(c->ctx, c->aio);
	return PROTO_OK;
}

void bus_client_close(bus_client *cl)
{
	if (cl->local != NULL) {
		bus_local_client_close(cl->local);
		free(cl);
		return;
	}
	cl->closing = true;
	nng_close(cl->sock);
	for (struct bus_call *c = cl->calls; c != NULL; c = c->next) {
		nng_aio_stop(c->aio); /* every aio has completed once this returns */
	}
	mailbox_close(&cl->mb, NULL); /* queued results are answered below, with the rest */
	while (cl->calls != NULL) {
		call_finish(cl->calls, PROTO_ESHUTDOWN);
	}
}

/* ---- publish / subscribe ---- */

struct bus_pub {
	nng_socket sock;
	struct local_pub *local; /* set for inproc:// urls */
};

int bus_pub_open(bus_pub **out, const char *url)
{
	struct bus_pub *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		return PROTO_ENOMEM;
	}
	if (bus_local_url(url)) {
		int rv = bus_local_pub_open(&p->local, url);
		if (rv != PROTO_OK) {
			free(p);
			return rv;
		}
		*out = p;
		return PROTO_OK;
	}
	if (nng_pub0_open(&p->sock) != 0 || nng_listen(p->sock, url, NULL, 0) != 0) {
		nng_close(p->sock);
		free(p);
		return PROTO_ECONNECT;
	}
	*out = p;
	return PROTO_OK;
}

void bus_publish(bus_pub *p, const void *buf, size_t len)
{
	if (p->local != NULL) {
		bus_local_publish(p->local, buf, len);
		return;
	}
	nng_send(p->sock, (void *)buf, len, NNG_FLAG_NONBLOCK);
}

void bus_pub_close(bus_pub *p)
{
	if (p->local != NULL) {
		bus_local_pub_close(p->local);
		free(p);
		return;
	}
	nng_close(p->sock);
	free(p);
}

struct bus_sub {
	struct mailbox mb;
	struct bus_item item;
	nng_socket sock;
	nng_aio *aio;
	nng_msg *msg;
	bus_msg_cb cb;
	void *data;
	struct local_sub *local; /* set for inproc:// urls */
};

static void sub_aio_cb(void *arg)
{
	struct bus_sub *s = arg;
	int rv = nng_aio_result(s->aio);
	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
		return;
	}
	if (rv != 0) {
		nng_recv_aio(s->sock, s->aio);
		return;
	}
	s->msg = nng_aio_get_msg(s->aio);
	mailbox_push(&s->mb, &s->item);
}

static void sub_run(struct bus_item *it)
{
	struct bus_sub *s = (struct bus_sub *)((char *)it - offsetof(struct bus_sub, item));
	nng_msg *m = s->msg;
	s->msg = NULL;
	nng_recv_aio(s->sock, s->aio); /* re-arm first: the callback below may be slow */
	s->cb(s->data, nng_msg_body(m), nng_msg_len(m));
	nng_msg_free(m);
}

static void sub_free(void *owner)
{
	free(owner);
}

int bus_sub_open(bus_sub **out, uv_loop_t *loop, const char *url, bus_msg_cb cb, void *data)
{
	struct bus_sub *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return PROTO_ENOMEM;
	}
	s->cb = cb;
	s->data = data;
	s->item.run = sub_run;
	if (bus_local_url(url)) {
		int rv = bus_local_sub_open(&s->local, loop, url, cb, data);
		if (rv != PROTO_OK) {
			free(s);
			return rv;
		}
		*out = s;
		return PROTO_OK;
	}
	if (nng_sub0_open(&s->sock) != 0) {
		free(s);
		return PROTO_EINTERNAL;
	}
	nng_socket_set(s->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0);
	nng_socket_set_ms(s->sock, NNG_OPT_RECONNMINT, 10);
	if (nng_dial(s->sock, url, NULL, NNG_FLAG_NONBLOCK) != 0 || nng_aio_alloc(&s->aio, sub_aio_cb, s) != 0) {
		nng_close(s->sock);
		free(s);
		return PROTO_ECONNECT;
	}
	mailbox_init(&s->mb, loop, s, sub_free);
	nng_recv_aio(s->sock, s->aio);
	*out = s;
	return PROTO_OK;
}

static void sub_drop(struct bus_item *it)
{
	struct bus_sub *s = (struct bus_sub *)((char *)it - offsetof(struct bus_sub, item));
	if (s->msg != NULL) {
		nng_msg_free(s->msg);
		s->msg = NULL;
	}
}

void bus_sub_close(bus_sub *s)
{
	if (s->local != NULL) {
		bus_local_sub_close(s->local);
		free(s);
		return;
	}
	nng_close(s->sock);
	nng_aio_stop(s->aio);
	nng_aio_free(s->aio);
	mailbox_close(&s->mb, sub_drop);
}
