/* The gateway's requests to the raft actor, sent once per loop turn: the
 * writes of a turn go as one PROPOSE (a batch when there are several: one
 * Raft entry, one result each), its linearizable reads as one BARRIER.
 * Fewer messages mean fewer thread hand-offs per request. */
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"

#define OUTBOX_MAX_CMDS 512          /* per message; the rest go in the next one */
#define OUTBOX_MAX_BYTES (4u << 20)

struct outbox_item {
	struct outbox_item *next;
	gw_outbox_cb cb;
	void *data;
	struct proto_buf cmd; /* proposals: the encoded command */
};

/* One message in flight: the items it answers, in order. */
struct outbox_call {
	struct gw *g;
	bool propose;
	bool batch;
	uint32_t n;
	struct outbox_item *items[];
};

static void item_done(struct outbox_item *it, int status, const struct proto_reply *rep, const struct proto_result *res)
{
	it->cb(it->data, status, rep, res);
	proto_buf_free(&it->cmd);
	free(it);
}

static void call_done(void *data, int status, const void *buf, size_t len)
{
	struct outbox_call *c = data;
	struct proto_msg m;
	struct proto_result one, *res = NULL;
	bool have = status == PROTO_OK && proto_msg_decode(buf, len, &m) == PROTO_OK;
	if (have && m.type != PROTO_MSG_REPLY) {
		proto_msg_free(&m);
		have = false;
	}
	if (have && c->propose && m.u.reply.status == PROTO_OK) {
		res = c->batch ? calloc(c->n, sizeof(*res)) : &one;
		int rv = res == NULL ? PROTO_ENOMEM
		         : c->batch  ? proto_results_decode(m.u.reply.result, m.u.reply.result_len, res, c->n)
		                     : proto_result_decode(m.u.reply.result, m.u.reply.result_len, res);
		if (rv != PROTO_OK) {
			m.u.reply.status = PROTO_EINTERNAL; /* the command went through; its result is unreadable */
			m.u.reply.message = "malformed apply result";
		}
	}
	for (uint32_t i = 0; i < c->n; i++) {
		bool ok = have && m.u.reply.status == PROTO_OK;
		item_done(c->items[i], have ? PROTO_OK : status == PROTO_OK ? PROTO_EINTERNAL : status,
		          have ? &m.u.reply : NULL, ok && res != NULL ? &res[i] : NULL);
	}
	if (res != &one) {
		free(res);
	}
	if (have) {
		proto_msg_free(&m);
	}
	free(c);
}

/* Sends items[0..n) in one message; on failure answers them. */
static void send_call(struct gw *g, bool propose, struct outbox_item **items, uint32_t n)
{
	struct outbox_call *c = malloc(sizeof(*c) + n * sizeof(c->items[0]));
	struct proto_buf batch = {0}, b = {0};
	struct proto_msg m = {.type = propose ? PROTO_MSG_PROPOSE : PROTO_MSG_BARRIER};
	int rv = c != NULL ? PROTO_OK : PROTO_ENOMEM;
	if (rv == PROTO_OK && propose) {
		m.u.propose.timeout_ms = g->cfg->write_timeout_ms;
		m.u.propose.cmd = items[0]->cmd.data;
		m.u.propose.cmd_len = items[0]->cmd.len;
		if (n > 1) {
			struct proto_slice *v = malloc(n * sizeof(*v));
			rv = v != NULL ? PROTO_OK : PROTO_ENOMEM;
			for (uint32_t i = 0; rv == PROTO_OK && i < n; i++) {
				v[i] = (struct proto_slice){items[i]->cmd.data, items[i]->cmd.len};
			}
			if (rv == PROTO_OK) {
				rv = proto_batch_encode(v, n, &batch);
			}
			free(v);
			m.u.propose.cmd = batch.data;
			m.u.propose.cmd_len = batch.len;
		}
	} else if (rv == PROTO_OK) {
		m.u.barrier.timeout_ms = g->cfg->write_timeout_ms;
	}
	if (rv == PROTO_OK) {
		rv = proto_msg_encode(&m, &b);
	}
	proto_buf_free(&batch);
	if (rv == PROTO_OK) {
		c->g = g;
		c->propose = propose;
		c->batch = propose && n > 1;
		c->n = n;
		memcpy(c->items, items, n * sizeof(items[0]));
		rv = bus_call(g->raft, b.data, b.len, g->cfg->write_timeout_ms + 1500, call_done, c);
	}
	proto_buf_free(&b);
	if (rv != PROTO_OK) {
		free(c);
		for (uint32_t i = 0; i < n; i++) {
			item_done(items[i], rv, NULL, NULL);
		}
	}
}

/* Sends a queue (oldest first) in messages of at most the limits. */
static void flush_queue(struct gw *g, bool propose, struct outbox_item *head)
{
	struct outbox_item *group[OUTBOX_MAX_CMDS];
	while (head != NULL) {
		uint32_t n = 0;
		size_t bytes = 0;
		while (head != NULL && n < OUTBOX_MAX_CMDS && (n == 0 || bytes + head->cmd.len <= OUTBOX_MAX_BYTES)) {
			bytes += head->cmd.len;
			group[n++] = head;
			head = head->next;
		}
		send_call(g, propose, group, n);
	}
}

static void on_check(uv_check_t *h)
{
	struct gw *g = h->data;
	struct gw_outbox *o = &g->outbox;
	struct outbox_item *p = o->proposals, *b = o->barriers;
	o->proposals = o->barriers = NULL;
	o->proposals_tail = &o->proposals;
	o->barriers_tail = &o->barriers;
	uv_check_stop(h); /* started again by the next enqueue */
	flush_queue(g, true, p);
	flush_queue(g, false, b);
}

void gw_outbox_init(struct gw *g)
{
	struct gw_outbox *o = &g->outbox;
	o->proposals_tail = &o->proposals;
	o->barriers_tail = &o->barriers;
	uv_check_init(g->loop, &o->check);
	o->check.data = g;
	o->inited = true;
}

static int enqueue(struct gw *g, struct outbox_item ***tail, struct proto_buf *cmd, gw_outbox_cb cb, void *data)
{
	if (g->stopping || !g->outbox.inited) {
		return PROTO_ESHUTDOWN;
	}
	struct outbox_item *it = calloc(1, sizeof(*it));
	if (it == NULL) {
		return PROTO_ENOMEM;
	}
	it->cb = cb;
	it->data = data;
	if (cmd != NULL) {
		it->cmd = *cmd;
		*cmd = (struct proto_buf){0};
	}
	**tail = it;
	*tail = &it->next;
	uv_check_start(&g->outbox.check, on_check);
	return PROTO_OK;
}

int gw_outbox_propose(struct gw *g, struct proto_buf *cmd, gw_outbox_cb cb, void *data)
{
	return enqueue(g, &g->outbox.proposals_tail, cmd, cb, data);
}

int gw_outbox_barrier(struct gw *g, gw_outbox_cb cb, void *data)
{
	return enqueue(g, &g->outbox.barriers_tail, NULL, cb, data);
}

void gw_outbox_close(struct gw *g)
{
	struct gw_outbox *o = &g->outbox;
	if (!o->inited) {
		return;
	}
	o->inited = false;
	uv_close((uv_handle_t *)&o->check, NULL);
	struct outbox_item *lists[] = {o->proposals, o->barriers};
	o->proposals = o->barriers = NULL;
	for (int k = 0; k < 2; k++) {
		for (struct outbox_item *it = lists[k], *next; it != NULL; it = next) {
			next = it->next;
			item_done(it, PROTO_ESHUTDOWN, NULL, NULL);
		}
	}
}
