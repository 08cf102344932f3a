/* An actor: one thread, one libuv loop, start/stop hooks that run on it. */
#ifndef SHIPLOG_NODE_ACTOR_H
#define SHIPLOG_NODE_ACTOR_H

#include <pthread.h>
#include <uv.h>


struct node_actor {
	const char *name;                           /* for logs */
	void *self;                                 /* passed to the hooks */
	int (*start)(void *self, uv_loop_t *loop);  /* 0 or a PROTO_E* code */
	void (*stop)(void *self);                   /* closes the actor's handles */
	unsigned grace_ms;                          /* after stop, the loop is ended after this */
	/* private */
	uv_loop_t loop;
	uv_async_t stop_async;
	uv_timer_t grace;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int started;  /* the start hook has returned */
	int start_rc; /* what it returned */
	int running;  /* the thread exists */
	int abandoned; /* the grace period ended the loop */
};

/* Creates the thread and waits until the start hook returned; returns its
 * result (on failure the thread has ended and nothing is left running). */
int node_actor_start(struct node_actor *a);

/* Runs the stop hook on the actor's thread and joins it. Handles still open
 * grace_ms later are abandoned (the process is exiting). */
void node_actor_stop(struct node_actor *a);

#endif
