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

/* Runs fn(arg) on the calling thread (a pool worker) at the lowest CPU
 * priority (nice 19), so that long background work (a snapshot's or a
 * backup's serialization) leaves the event loops, and so request latency,
 * alone on a busy machine. Only when the worker's priority can be restored
 * afterwards (root, or RLIMIT_NICE allows it): the pool also runs raft_uv's
 * file work. Otherwise fn runs at the worker's priority. */
void pool_run_low_priority(void (*fn)(void *arg), void *arg);

#endif
