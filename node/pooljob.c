#include "node/pooljob.h"

#include <malloc.h>

static void job_run(uv_work_t *w)
{
	struct pool_job *j = w->data;
	j->fn(j->arg);
}

static void job_done(uv_work_t *w, int status)
{
	struct pool_job *j = w->data;
	(void)status;
	j->busy = false;
}

void pool_job_soon(struct pool_job *j, uv_loop_t *loop, void (*fn)(void *arg), void *arg)
{
	if (j->busy) {
		return;
	}
	j->work.data = j;
	j->fn = fn;
	j->arg = arg;
	j->busy = uv_queue_work(loop, &j->work, job_run, job_done) == 0;
}

static void trim(void *arg)
{
	(void)arg;
	malloc_trim(0);
}

void memtrim_soon(struct pool_job *j, uv_loop_t *loop)
{
	pool_job_soon(j, loop, trim, NULL);
}
