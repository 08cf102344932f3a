#include "node/memtrim.h"

#include <malloc.h>

static void trim_run(uv_work_t *w)
{
	(void)w;
	malloc_trim(0);
}

static void trim_done(uv_work_t *w, int status)
{
	struct memtrim *t = w->data;
	(void)status;
	t->busy = false;
}

void memtrim_soon(struct memtrim *t, uv_loop_t *loop)
{
	if (t->busy) {
		return;
	}
	t->work.data = t;
	t->busy = uv_queue_work(loop, &t->work, trim_run, trim_done) == 0;
}
