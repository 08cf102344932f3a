/* What the nng side of the bus (bus.c) and its in-process lanes
 * (local.c) share. Not for actors: they use bus/bus.h. */
#ifndef SHIPLOG_BUS_INTERNAL_H
#define SHIPLOG_BUS_INTERNAL_H

#include <stdbool.h>

#include "bus/bus.h"
#include "bus/mailbox.h"

/* The first member of every request handed to a server's callback: tells
 * bus_reply which side answers it. */
struct bus_request_head {
	bool local;
};

/* inproc:// urls are served by the in-process lanes, never by nng. */
bool bus_local_url(const char *url);

/* Server side: in-process calls to url run cb(data, ...) on the loop of mb
 * (the server's mailbox). Unlisten on that loop before closing mb: requests
 * handed to cb and not yet answered are freed (their callers time out). */
struct local_listener;
int bus_local_listen(struct local_listener **out, struct mailbox *mb, const char *url, bus_request_cb cb, void *data);
void bus_local_unlisten(struct local_listener *l);
/* Answers an in-process request (on its server's loop) and frees it. */
void bus_local_reply(bus_request *r, const void *buf, size_t len);

/* Client side, same contract as bus_client_open/bus_call/bus_client_close;
 * a call made before its server listens waits for it until its timeout. */
struct local_client;
int bus_local_client_open(struct local_client **out, uv_loop_t *loop, const char *url);
int bus_local_call(struct local_client *c, const void *buf, size_t len, unsigned timeout_ms, bus_reply_cb cb,
                   void *data);
void bus_local_client_close(struct local_client *c);

/* Publish/subscribe, same contract as bus_pub_* and bus_sub_*. */
struct local_pub;
int bus_local_pub_open(struct local_pub **out, const char *url);
void bus_local_publish(struct local_pub *p, const void *buf, size_t len);
void bus_local_pub_close(struct local_pub *p);
struct local_sub;
int bus_local_sub_open(struct local_sub **out, uv_loop_t *loop, const char *url, bus_msg_cb cb, void *data);
void bus_local_sub_close(struct local_sub *s);

#endif
