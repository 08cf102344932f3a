/* Requests parked on ?index=&wait= (consistency.c): two binary min-heaps over
 * the same requests, one by the index each waits for and one by its
 * deadline. An apply releases only the requests it satisfies, and one timer,
 * armed for the nearest deadline, releases the expired ones: nothing scans
 * every parked request. At most [api] max_waiting are parked. */
#include <stdlib.h>

#include "gateway/internal.h"

enum { BY_INDEX, BY_DEADLINE };

static uint64_t key_of(const struct gw_req *gr, int h)
{
	return h == BY_INDEX ? gr->wait_index : gr->wait_deadline;
}

static void place(struct gw_waiters *w, int h, unsigned i, struct gw_req *gr)
{
	w->heap[h][i] = gr;
	gr->wait_pos[h] = i;
}

static void sift_up(struct gw_waiters *w, int h, unsigned i)
{
	struct gw_req *gr = w->heap[h][i];
	while (i > 0) {
		unsigned parent = (i - 1) / 2;
		if (key_of(w->heap[h][parent], h) <= key_of(gr, h)) {
			break;
		}
		place(w, h, i, w->heap[h][parent]);
		i = parent;
	}
	place(w, h, i, gr);
}

static void sift_down(struct gw_waiters *w, int h, unsigned i)
{
	struct gw_req *gr = w->heap[h][i];
	for (;;) {
		unsigned l = 2 * i + 1, r = l + 1, m = i;
		uint64_t km = key_of(gr, h);
		if (l < w->n && key_of(w->heap[h][l], h) < km) {
			m = l;
			km = key_of(w->heap[h][l], h);
		}
		if (r < w->n && key_of(w->heap[h][r], h) < km) {
			m = r;
		}
		if (m == i) {
			break;
		}
		place(w, h, i, w->heap[h][m]);
		i = m;
	}
	place(w, h, i, gr);
}

static void heap_remove(struct gw_waiters *w, int h, unsigned i, unsigned last)
{
	if (i == last) {
		return;
	}
	struct gw_req *moved = w->heap[h][last];
	place(w, h, i, moved);
	sift_down(w, h, i);
	sift_up(w, h, moved->wait_pos[h]);
}

static void on_deadline(uv_timer_t *t);

static void arm(struct gw *g)
{
	struct gw_waiters *w = &g->waiters;
	if (w->n == 0 || !w->timer_inited) {
		return;
	}
	uint64_t due = w->heap[BY_DEADLINE][0]->wait_deadline, now = uv_now(g->loop);
	if (due == UINT64_MAX) {
		uv_timer_stop(&w->timer);
		return;
	}
	uv_timer_start(&w->timer, on_deadline, due > now ? due - now : 0, 0);
}

int gw_waiters_init(struct gw *g)
{
	struct gw_waiters *w = &g->waiters;
	w->cap = g->cfg->max_waiting;
	w->heap[BY_INDEX] = calloc(w->cap + 1, sizeof(struct gw_req *));
	w->heap[BY_DEADLINE] = calloc(w->cap + 1, sizeof(struct gw_req *));
	if (w->heap[BY_INDEX] == NULL || w->heap[BY_DEADLINE] == NULL) {
		return PROTO_ENOMEM;
	}
	uv_timer_init(g->loop, &w->timer);
	w->timer.data = g;
	w->timer_inited = true;
	return PROTO_OK;
}

void gw_waiters_close(struct gw *g)
{
	struct gw_waiters *w = &g->waiters;
	if (w->timer_inited) {
		uv_close((uv_handle_t *)&w->timer, NULL);
		w->timer_inited = false;
	}
}

void gw_waiters_free(struct gw *g)
{
	free(g->waiters.heap[BY_INDEX]);
	free(g->waiters.heap[BY_DEADLINE]);
}

bool gw_waiters_park(struct gw *g, struct gw_req *gr)
{
	struct gw_waiters *w = &g->waiters;
	if (w->n >= w->cap) {
		return false;
	}
	unsigned i = w->n++;
	for (int h = BY_INDEX; h <= BY_DEADLINE; h++) {
		place(w, h, i, gr);
		sift_up(w, h, i);
	}
	gr->waiting = true;
	arm(g);
	return true;
}

void gw_waiters_remove(struct gw *g, struct gw_req *gr)
{
	struct gw_waiters *w = &g->waiters;
	if (!gr->waiting) {
		return;
	}
	unsigned last = --w->n;
	for (int h = BY_INDEX; h <= BY_DEADLINE; h++) {
		heap_remove(w, h, gr->wait_pos[h], last);
	}
	gr->waiting = false;
	arm(g);
}

/* Takes the top of heap h off both heaps and runs its read. */
static void release_top(struct gw *g, int h)
{
	struct gw_req *gr = g->waiters.heap[h][0];
	gw_waiters_remove(g, gr);
	gw_read_run(gr);
}

void gw_waiters_check(struct gw *g)
{
	struct gw_waiters *w = &g->waiters;
	uint64_t now = uv_now(g->loop);
	while (w->n > 0 && w->heap[BY_INDEX][0]->wait_index <= g->status.applied) {
		release_top(g, BY_INDEX);
	}
	while (w->n > 0 && w->heap[BY_DEADLINE][0]->wait_deadline <= now) {
		release_top(g, BY_DEADLINE);
	}
}

static void on_deadline(uv_timer_t *t)
{
	gw_waiters_check(t->data);
}
