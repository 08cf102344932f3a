/* Small background jobs on a loop's libuv thread pool, at most one of each
 * kind at a time, such as giving freed heap back to the system (memtrim). */
#ifndef SHIPLOG_NODE_POOLJOB_H
#define SHIPLOG_NODE_POOLJOB_H

#include <stdbool.h>
#include <uv.h>

struct pool_job {
	uv_work_t work;
	bool busy; /* queued or running */
	void (*fn)(void *arg);
	void *arg;
};

/* Runs fn(arg) on loop's pool unless j is still busy (then nothing happens).
 * From the loop's thread; j must outlive the job (its callback clears busy). */
void pool_job_soon(struct pool_job *j, uv_loop_t *loop, void (*fn)(void *arg), void *arg);

/* Runs malloc_trim(0) through j: glibc keeps freed memory in its arenas, and
 * after large transient allocations (a bulk load's request trees, the log
 * entries a snapshot covers) that is tens of MB a node. */
void memtrim_soon(struct pool_job *j, uv_loop_t *loop);

#endif
