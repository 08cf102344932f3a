#include "lib/pooljob.h"

#include <malloc.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

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

struct low_job {
	void (*fn)(void *arg);
	void *arg;
};

static void *low_thread(void *p)
{
	struct low_job *j = p;
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19); /* this thread only: it ends with the job */
	j->fn(j->arg);
	return NULL;
}

void pool_run_low_priority(void (*fn)(void *arg), void *arg)
{
	struct low_job j = {fn, arg};
	pthread_t t;
	if (pthread_create(&t, NULL, low_thread, &j) != 0) {
		fn(arg); /* no thread to spare: at the caller's priority */
		return;
	}
	pthread_join(t, NULL);
}
