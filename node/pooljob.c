#include "node/pooljob.h"

#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
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

void pool_run_low_priority(void (*fn)(void *arg), void *arg)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);
	struct rlimit rl;
	errno = 0;
	int old = getpriority(PRIO_PROCESS, (id_t)tid);
	bool can_restore = geteuid() == 0 ||
	                   (getrlimit(RLIMIT_NICE, &rl) == 0 && (rl.rlim_cur == RLIM_INFINITY || 20 - (long)rl.rlim_cur <= old));
	bool niced = errno == 0 && can_restore && setpriority(PRIO_PROCESS, (id_t)tid, 19) == 0;
	fn(arg);
	if (niced) {
		setpriority(PRIO_PROCESS, (id_t)tid, old);
	}
}
