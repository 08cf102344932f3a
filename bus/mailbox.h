/* A loop's mailbox: any thread pushes items, the owning libuv loop runs
 * them, oldest first (uv_async wakes it; several pushes may share one
 * wake-up). Used by the bus (bus/bus.c, bus/local.c) only. */
#ifndef SHIPLOG_BUS_MAILBOX_H
#define SHIPLOG_BUS_MAILBOX_H

#include <pthread.h>
#include <uv.h>

struct bus_item {
	struct bus_item *next;
	void (*run)(struct bus_item *item);  /* runs on the loop */
	void (*drop)(struct bus_item *item); /* if set, frees an item never run (mailbox closed) */
};

struct mailbox {
	uv_async_t async;
	pthread_mutex_t mu;
	struct bus_item *head, *tail;
	void *owner;
	void (*closed)(void *owner); /* frees the owner once the handle closed */
};

/* Opens mb on loop; closed(owner) runs after mailbox_close has finished. */
int mailbox_init(struct mailbox *mb, uv_loop_t *loop, void *owner, void (*closed)(void *owner));

/* Queues it and wakes the loop; any thread. */
void mailbox_push(struct mailbox *mb, struct bus_item *it);

/* On the loop: runs the items queued so far now (a close that must
 * answer what already arrived); later pushes wake the loop as usual. */
void mailbox_run_queued(struct mailbox *mb);

/* On the loop: drops the items not yet run (each item's drop, else the
 * given one, may be NULL) and closes. */
void mailbox_close(struct mailbox *mb, void (*drop)(struct bus_item *));

#endif
