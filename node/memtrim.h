/* Giving the heap's free pages back to the system. glibc keeps freed memory
 * in its arenas; after large transient allocations (a bulk load's request
 * trees, the log entries a snapshot covers) that is tens of MB a node. */
#ifndef SHIPLOG_NODE_MEMTRIM_H
#define SHIPLOG_NODE_MEMTRIM_H

#include <stdbool.h>
#include <uv.h>

struct memtrim {
	uv_work_t work;
	bool busy; /* a trim is queued or running */
};

/* Runs malloc_trim(0) on loop's thread pool, unless one is already under
 * way. From the loop's thread; t must outlive the job (its callback clears busy). */
void memtrim_soon(struct memtrim *t, uv_loop_t *loop);

#endif
