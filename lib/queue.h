/* An intrusive, circular, doubly linked list: embed a struct queue in each
 * element, keep one as the head, recover the element with QUEUE_DATA. No
 * allocation; every operation is O(1). Not thread-safe: one owner. */
#ifndef SHIPLOG_LIB_QUEUE_H
#define SHIPLOG_LIB_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

struct queue {
	struct queue *next; /* the head itself when this is the last */
	struct queue *prev; /* the head itself when this is the first */
};

/* An empty list (a head), or an element that is in no list. */
static inline void queue_init(struct queue *q)
{
	q->next = q;
	q->prev = q;
}

static inline bool queue_empty(const struct queue *head)
{
	return head->next == head;
}

/* Appends e (in no list) at the end of head's list. */
static inline void queue_insert_tail(struct queue *head, struct queue *e)
{
	e->next = head;
	e->prev = head->prev;
	head->prev->next = e;
	head->prev = e;
}

/* Puts e (in no list) at the front of head's list. */
static inline void queue_insert_head(struct queue *head, struct queue *e)
{
	e->prev = head;
	e->next = head->next;
	head->next->prev = e;
	head->next = e;
}

/* Takes e out of its list; it is then in no list (removing it again is
 * harmless). */
static inline void queue_remove(struct queue *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	queue_init(e);
}

/* The first element of a non-empty list. */
static inline struct queue *queue_head(const struct queue *head)
{
	return head->next;
}

/* The element of type `type` whose member `field` is e. */
#define QUEUE_DATA(e, type, field) ((type *)(void *)((char *)(e) - offsetof(type, field)))

/* Every element e of head's list, in order; e must not be removed inside. */
#define QUEUE_FOREACH(e, head) for ((e) = (head)->next; (e) != (head); (e) = (e)->next)

/* As QUEUE_FOREACH, but e may be removed (n is the next one, kept aside). */
#define QUEUE_FOREACH_SAFE(e, n, head) \
	for ((e) = (head)->next, (n) = (e)->next; (e) != (head); (e) = (n), (n) = (e)->next)

#endif
