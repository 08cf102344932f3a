#include "node/actor.h"

#include "lib/log.h"

#include <stdio.h>
#include <string.h>

static void on_grace(uv_timer_t *t)
{
	struct node_actor *a = t->data;
	uv_stop(t->loop);
	a->abandoned = 1;
}

static void walk_report(uv_handle_t *h, void *arg)
{
	struct node_actor *a = arg;
	if (!uv_is_closing(h)) {
		log_warn(a->name, "handle %s still open at exit", uv_handle_type_name(uv_handle_get_type(h)));
	}
}

static void on_stop(uv_async_t *h)
{
	struct node_actor *a = h->data;
	a->stop(a->self);
	uv_close((uv_handle_t *)&a->stop_async, NULL);
	uv_timer_init(&a->loop, &a->grace);
	a->grace.data = a;
	uv_timer_start(&a->grace, on_grace, a->grace_ms, 0);
	uv_unref((uv_handle_t *)&a->grace); /* it must not keep the loop alive */
}

static void *actor_main(void *arg)
{
	struct node_actor *a = arg;
	char tname[16];
	snprintf(tname, sizeof(tname), "sl-%s", a->name); /* shows in top and perf */
	pthread_setname_np(pthread_self(), tname);
	uv_loop_init(&a->loop);
	a->stop_async.data = a;
	uv_async_init(&a->loop, &a->stop_async, on_stop);
	int rc = a->start(a->self, &a->loop);
	pthread_mutex_lock(&a->mu);
	a->started = 1;
	a->start_rc = rc;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	if (rc != 0) {
		on_stop(&a->stop_async);
	}
	uv_run(&a->loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&a->grace, NULL);
	uv_run(&a->loop, UV_RUN_NOWAIT);
	if (uv_loop_close(&a->loop) != 0 && !a->abandoned) {
		uv_walk(&a->loop, walk_report, a);
	}
	return NULL;
}

int node_actor_start(struct node_actor *a)
{
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	if (pthread_create(&a->thread, NULL, actor_main, a) != 0) {
		return -1;
	}
	a->running = 1;
	pthread_mutex_lock(&a->mu);
	while (!a->started) {
		pthread_cond_wait(&a->cv, &a->mu);
	}
	int rc = a->start_rc;
	pthread_mutex_unlock(&a->mu);
	if (rc != 0) {
		pthread_join(a->thread, NULL);
		a->running = 0;
	}
	return rc;
}

void node_actor_stop(struct node_actor *a)
{
	if (!a->running) {
		return;
	}
	uv_async_send(&a->stop_async);
	pthread_join(a->thread, NULL);
	a->running = 0;
}
