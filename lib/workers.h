/* Threads of an actor's own for blocking work that may be slow (a
 * Kubernetes collection, a webhook POST waiting for its timeout), so that it
 * never takes the libuv thread pool that raft_uv's disk work and snapshots
 * run on. Jobs run in submission order on the pool's threads; each job's
 * done callback runs on the loop's thread, as with uv_queue_work. */
#ifndef SHIPLOG_LIB_WORKERS_H
#define SHIPLOG_LIB_WORKERS_H

#include <uv.h>

struct workers;

struct worker_job {
	void (*run)(struct worker_job *j);             /* on a worker thread */
	void (*done)(struct worker_job *j, int status); /* on the loop: 0, or UV_ECANCELED (never ran) */
	struct worker_job *next;                        /* private */
	int status;                                     /* private */
};

/* Starts n threads (at least 1) named name for jobs whose done callbacks
 * run on loop. 0, or a negative errno. */
int workers_start(struct workers **out, uv_loop_t *loop, unsigned n, const char *name);

/* Queues j; from the loop's thread. 0, or UV_ECANCELED once stopping. */
int workers_submit(struct workers *w, struct worker_job *j);

/* Jobs queued or running. */
unsigned workers_busy(const struct workers *w);

/* Stops taking jobs: the queued ones get done(UV_ECANCELED), the running
 * ones finish, then the threads end and w is freed once its handle closed.
 * From the loop's thread; the loop must run on for the last callbacks. */
void workers_stop(struct workers *w);

#endif
