/* An actor's own worker threads (workers.h): a mutex-guarded queue of jobs
 * in, a queue of finished jobs out, handed to the loop through a uv_async. */
#include "lib/workers.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

struct workers {
	uv_loop_t *loop;
	uv_async_t wake; /* finished jobs are waiting */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct worker_job *todo, *todo_tail, *finished;
	pthread_t *threads;
	unsigned n_threads, busy;
	bool stopping;
	char name[16];
};

static void *thread_main(void *arg)
{
	struct workers *w = arg;
	pthread_setname_np(pthread_self(), w->name);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->todo == NULL && !w->stopping) {
			pthread_cond_wait(&w->cv, &w->mu);
		}
		struct worker_job *j = w->todo;
		if (j == NULL) {
			break; /* stopping and nothing left to run */
		}
		w->todo = j->next;
		if (w->todo == NULL) {
			w->todo_tail = NULL;
		}
		pthread_mutex_unlock(&w->mu);
		j->run(j);
		j->status = 0;
		pthread_mutex_lock(&w->mu);
		j->next = w->finished;
		w->finished = j;
		uv_async_send(&w->wake);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Runs the done callbacks of finished jobs, oldest first. */
static void on_wake(uv_async_t *h)
{
	struct workers *w = h->data;
	pthread_mutex_lock(&w->mu);
	struct worker_job *list = w->finished, *rev = NULL;
	w->finished = NULL;
	pthread_mutex_unlock(&w->mu);
	while (list != NULL) {
		struct worker_job *next = list->next;
		list->next = rev;
		rev = list;
		list = next;
	}
	while (rev != NULL) {
		struct worker_job *next = rev->next;
		w->busy--;
		rev->done(rev, rev->status);
		rev = next;
	}
}

int workers_start(struct workers **out, uv_loop_t *loop, unsigned n, const char *name)
{
	struct workers *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		return -1;
	}
	n = n > 0 ? n : 1;
	w->loop = loop;
	snprintf(w->name, sizeof(w->name), "%s", name);
	w->threads = calloc(n, sizeof(pthread_t));
	if (w->threads == NULL || uv_async_init(loop, &w->wake, on_wake) != 0) {
		free(w->threads);
		free(w);
		return -1;
	}
	w->wake.data = w;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	for (unsigned i = 0; i < n; i++) {
		if (pthread_create(&w->threads[i], NULL, thread_main, w) != 0) {
			break;
		}
		w->n_threads++;
	}
	*out = w;
	if (w->n_threads == 0) {
		workers_stop(w);
		return -1;
	}
	return 0;
}

int workers_submit(struct workers *w, struct worker_job *j)
{
	if (w->stopping) {
		return UV_ECANCELED;
	}
	j->next = NULL;
	j->status = UV_ECANCELED;
	pthread_mutex_lock(&w->mu);
	if (w->todo_tail != NULL) {
		w->todo_tail->next = j;
	} else {
		w->todo = j;
	}
	w->todo_tail = j;
	w->busy++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

unsigned workers_busy(const struct workers *w)
{
	return w->busy;
}

static void on_closed(uv_handle_t *h)
{
	struct workers *w = h->data;
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w->threads);
	free(w);
}

void workers_stop(struct workers *w)
{
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	struct worker_job *cancelled = w->todo;
	w->todo = w->todo_tail = NULL;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (unsigned i = 0; i < w->n_threads; i++) {
		pthread_join(w->threads[i], NULL); /* the running jobs finish (each bounded by its own timeout) */
	}
	on_wake(&w->wake); /* their done callbacks */
	while (cancelled != NULL) {
		struct worker_job *next = cancelled->next;
		w->busy--;
		cancelled->done(cancelled, UV_ECANCELED);
		cancelled = next;
	}
	uv_close((uv_handle_t *)&w->wake, on_closed);
}
