/* Small background jobs on a loop's libuv thread pool, at most one of each
 * kind at a time, such as giving freed heap back to the system (memtrim). */
#ifndef SHIPLOG_LIB_POOLJOB_H
#define SHIPLOG_LIB_POOLJOB_H

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

/* Runs fn(arg) at the lowest CPU priority (nice 19) and returns when it is
 * done, so that long background work (a snapshot's or a backup's
 * serialization) leaves the event loops, and so request latency, alone on a
 * busy machine. For a pool worker: fn runs on a thread of its own, since an
 * unprivileged thread cannot raise its priority back and the pool also runs
 * raft_uv's file work. If no thread can be made, fn runs here, as is. */
void pool_run_low_priority(void (*fn)(void *arg), void *arg);

#endif
