/* The message bus between actors, on nng: request/reply and
 * publish/subscribe, inproc inside a node and TCP between nodes.
 *
 * nng completes its work on its own threads; the bus hands every result to
 * the owning actor's libuv loop (uv_async), so actor code runs single-threaded
 * and never sees nng. All functions except bus_publish must be called on the
 * loop the object was opened with. Buffers passed to callbacks are valid only
 * during the call. */
#ifndef SHIPLOG_BUS_BUS_H
#define SHIPLOG_BUS_BUS_H

#include <stddef.h>
#include <uv.h>

typedef struct bus_server bus_server;
typedef struct bus_request bus_request;
typedef struct bus_client bus_client;
typedef struct bus_pub bus_pub;
typedef struct bus_sub bus_sub;

/* A request arrived; answer it exactly once with bus_reply (possibly later,
 * from another callback of the same loop). */
typedef void (*bus_request_cb)(void *data, bus_request *req, const void *buf, size_t len);

/* Listens on every url (e.g. "inproc://x", "tcp://127.0.0.1:7101"). Returns
 * 0 or a PROTO_E* code with err filled. */
int bus_server_open(bus_server **out, uv_loop_t *loop, const char *const urls[], size_t n_urls,
                    bus_request_cb cb, void *data, char *err, size_t errlen);
/* Sends the answer to req and releases it. */
void bus_reply(bus_request *req, const void *buf, size_t len);
/* Stops listening; requests not yet answered are dropped (their senders time
 * out). The server is freed once the loop has run the close. */
void bus_server_close(bus_server *s);

/* status is PROTO_OK, PROTO_ETIMEOUT, PROTO_ECONNECT or PROTO_ESHUTDOWN. */
typedef void (*bus_reply_cb)(void *data, int status, const void *buf, size_t len);

/* Connects (in the background, reconnecting forever) to url. */
int bus_client_open(bus_client **out, uv_loop_t *loop, const char *url);
/* Sends a request; cb fires exactly once, on the loop: with the reply, an
 * error, or PROTO_ESHUTDOWN when the client is closed first. Returns 0, or
 * PROTO_ENOMEM or PROTO_ESHUTDOWN (a client being closed), and then cb
 * never fires. */
int bus_call(bus_client *c, const void *buf, size_t len, unsigned timeout_ms, bus_reply_cb cb, void *data);
/* Closes the client. Calls still in flight end before it returns: their
 * callbacks run inside this call (with the reply if it had reached this
 * node, else PROTO_ESHUTDOWN), so a caller closing from its own teardown
 * must be ready for them; a bus_call they make on this client fails. */
void bus_client_close(bus_client *c);

/* A publisher; bus_publish may be called from any thread and never blocks
 * (slow subscribers lose messages). */
int bus_pub_open(bus_pub **out, const char *url);
void bus_publish(bus_pub *p, const void *buf, size_t len);
void bus_pub_close(bus_pub *p);

typedef void (*bus_msg_cb)(void *data, const void *buf, size_t len);
/* Subscribes to every message published at url. */
int bus_sub_open(bus_sub **out, uv_loop_t *loop, const char *url, bus_msg_cb cb, void *data);
void bus_sub_close(bus_sub *s);

#endif
