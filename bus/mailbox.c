/* A loop's mailbox: a mutex-guarded list and a uv_async. */
#include "bus/mailbox.h"

#include <string.h>

/* Takes every queued item, oldest first. */
static struct bus_item *mailbox_take(struct mailbox *mb)
{
	pthread_mutex_lock(&mb->mu);
	struct bus_item *it = mb->head;
	mb->head = mb->tail = NULL;
	pthread_mutex_unlock(&mb->mu);
	return it;
}

static void mailbox_drain(uv_async_t *h)
{
	struct mailbox *mb = h->data;
	struct bus_item *it = mailbox_take(mb);
	while (it != NULL) {
		struct bus_item *next = it->next;
		it->run(it);
		it = next;
	}
}

void mailbox_run_queued(struct mailbox *mb)
{
	mailbox_drain(&mb->async);
}

int mailbox_init(struct mailbox *mb, uv_loop_t *loop, void *owner, void (*closed)(void *))
{
	memset(mb, 0, sizeof(*mb));
	mb->owner = owner;
	mb->closed = closed;
	mb->async.data = mb;
	pthread_mutex_init(&mb->mu, NULL);
	return uv_async_init(loop, &mb->async, mailbox_drain);
}

void mailbox_push(struct mailbox *mb, struct bus_item *it)
{
	it->next = NULL;
	pthread_mutex_lock(&mb->mu);
	if (mb->tail != NULL) {
		mb->tail->next = it;
	} else {
		mb->head = it;
	}
	mb->tail = it;
	pthread_mutex_unlock(&mb->mu);
	uv_async_send(&mb->async);
}

static void mailbox_on_close(uv_handle_t *h)
{
	struct mailbox *mb = h->data;
	pthread_mutex_destroy(&mb->mu);
	mb->closed(mb->owner);
}

void mailbox_close(struct mailbox *mb, void (*drop)(struct bus_item *))
{
	struct bus_item *it = mailbox_take(mb);
	while (it != NULL) {
		struct bus_item *next = it->next;
		if (it->drop != NULL) {
			it->drop(it);
		} else if (drop != NULL) {
			drop(it);
		}
		it = next;
	}
	uv_close((uv_handle_t *)&mb->async, mailbox_on_close);
}
