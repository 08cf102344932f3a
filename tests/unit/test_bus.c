/* The bus (bus/bus.c, bus/local.c): calls, replies, timeouts, closes
 * and publish/subscribe over the in-process lanes (inproc://) and nng's TCP,
 * on real libuv loops; one test runs the server on a second thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "bus/bus.h"
#include "protocol/status.h"

/* ---- an echo server that can also hold its requests ---- */

struct server_state {
	bool hold;              /* keep requests unanswered */
	bus_request *held[8];
	int n_held;
	int seen;
};

static void echo(void *data, bus_request *req, const void *buf, size_t len)
{
	struct server_state *st = data;
	st->seen++;
	if (st->hold && st->n_held < 8) {
		st->held[st->n_held++] = req;
		return;
	}
	bus_reply(req, buf, len);
}

struct reply_log {
	int calls;
	int status;
	char body[64];
};

static void on_reply(void *data, int status, const void *buf, size_t len)
{
	struct reply_log *l = data;
	l->calls++;
	l->status = status;
	snprintf(l->body, sizeof(l->body), "%.*s", (int)len, buf != NULL ? (const char *)buf : "");
}

/* Runs loop until *count reaches n or ms pass. */
static void run_until_count(uv_loop_t *loop, const int *count, int n, unsigned ms)
{
	uint64_t end = uv_now(loop) + ms;
	while (*count < n && uv_now(loop) < end) {
		uv_run(loop, UV_RUN_NOWAIT);
		uv_sleep(1);
		uv_update_time(loop);
	}
}

/* Runs loop until *flag is set or ms pass. */
static void run_until(uv_loop_t *loop, const int *flag, unsigned ms)
{
	run_until_count(loop, flag, 1, ms);
}

static void drain(uv_loop_t *loop)
{
	for (int i = 0; i < 50; i++) {
		uv_run(loop, UV_RUN_NOWAIT);
	}
}

/* A loop with an echo server at url and one client of it. */
struct pair {
	uv_loop_t loop;
	struct server_state st;
	bus_server *srv;
	bus_client *cl;
};

static void pair_open(struct pair *p, const char *url, bool hold)
{
	char err[200];
	const char *urls[] = {url};
	uv_loop_init(&p->loop);
	p->st = (struct server_state){.hold = hold};
	assert_int_equal(bus_server_open(&p->srv, &p->loop, urls, 1, echo, &p->st, err, sizeof(err)), PROTO_OK);
	assert_int_equal(bus_client_open(&p->cl, &p->loop, url), PROTO_OK);
}

/* "tcp://" becomes tcp://127.0.0.1:PORT with a port the kernel just gave
 * out (no fixed port: two runs or other tests never collide on one). */
static const char *test_url(const char *url, char *buf, size_t cap)
{
	if (strcmp(url, "tcp://") != 0) {
		return url;
	}
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	snprintf(buf, cap, "tcp://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
	return buf;
}

/* state: the url (inproc://NAME or "tcp://"). */
static void test_call_and_reply(void **state)
{
	struct pair p;
	char url[64];
	pair_open(&p, test_url(*state, url, sizeof(url)), false);
	struct reply_log l = {0};
	assert_int_equal(bus_call(p.cl, "hello", 5, 2000, on_reply, &l), PROTO_OK);
	run_until(&p.loop, &l.calls, 2000);
	assert_int_equal(l.calls, 1);
	assert_int_equal(l.status, PROTO_OK);
	assert_string_equal(l.body, "hello");
	bus_client_close(p.cl);
	bus_server_close(p.srv);
	drain(&p.loop);
	assert_int_equal(uv_loop_close(&p.loop), 0);
}

/* A call made before its server listens reaches it once it does; with no
 * server at all it times out. */
static void test_local_waits_for_server_then_times_out(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_loop_init(&loop);
	bus_client *cl;
	assert_int_equal(bus_client_open(&cl, &loop, "inproc://test-bus-late"), PROTO_OK);
	struct reply_log early = {0}, lost = {0};
	assert_int_equal(bus_call(cl, "early", 5, 3000, on_reply, &early), PROTO_OK);
	int never = 0;
	run_until(&loop, &never, 60);
	struct server_state st = {0};
	bus_server *srv;
	char err[200];
	const char *urls[] = {"inproc://test-bus-late"};
	assert_int_equal(bus_server_open(&srv, &loop, urls, 1, echo, &st, err, sizeof(err)), PROTO_OK);
	run_until(&loop, &early.calls, 3000);
	assert_int_equal(early.status, PROTO_OK);
	assert_string_equal(early.body, "early");
	bus_server_close(srv);
	drain(&loop);

	uint64_t t0 = uv_now(&loop);
	assert_int_equal(bus_call(cl, "lost", 4, 100, on_reply, &lost), PROTO_OK);
	run_until(&loop, &lost.calls, 2000);
	assert_int_equal(lost.calls, 1);
	assert_int_equal(lost.status, PROTO_ETIMEOUT);
	assert_true(uv_now(&loop) - t0 >= 100);
	bus_client_close(cl);
	drain(&loop);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* A reply after the caller timed out, or after it closed, goes nowhere; a
 * closed client ends its calls with PROTO_ESHUTDOWN, once; a server closed
 * with requests in hand frees them. */
static void test_local_late_replies_and_closes(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct server_state st = {.hold = true};
	bus_server *srv;
	bus_client *a, *b, *c;
	char err[200];
	const char *urls[] = {"inproc://test-bus-hold"};
	assert_int_equal(bus_server_open(&srv, &loop, urls, 1, echo, &st, err, sizeof(err)), PROTO_OK);
	assert_int_equal(bus_client_open(&a, &loop, urls[0]), PROTO_OK);
	assert_int_equal(bus_client_open(&b, &loop, urls[0]), PROTO_OK);
	assert_int_equal(bus_client_open(&c, &loop, urls[0]), PROTO_OK);
	struct reply_log la = {0}, lb = {0}, lc = {0};
	assert_int_equal(bus_call(a, "a", 1, 50, on_reply, &la), PROTO_OK);
	assert_int_equal(bus_call(b, "b", 1, 5000, on_reply, &lb), PROTO_OK);
	assert_int_equal(bus_call(c, "c", 1, 5000, on_reply, &lc), PROTO_OK);
	run_until(&loop, &la.calls, 2000);
	assert_int_equal(la.status, PROTO_ETIMEOUT);
	assert_int_equal(st.n_held, 3);
	bus_client_close(b);
	assert_int_equal(lb.calls, 1);
	assert_int_equal(lb.status, PROTO_ESHUTDOWN);
	for (int i = 0; i < 2; i++) { /* a's and b's requests: answered too late */
		bus_reply(st.held[i], "late", 4);
	}
	int never = 0;
	run_until(&loop, &never, 30);
	assert_int_equal(la.calls, 1);
	assert_int_equal(lb.calls, 1);
	bus_server_close(srv); /* c's request is still held */
	drain(&loop);
	assert_int_equal(lc.calls, 0);
	bus_client_close(a);
	bus_client_close(c);
	assert_int_equal(lc.calls, 1);
	assert_int_equal(lc.status, PROTO_ESHUTDOWN);
	drain(&loop);
	assert_int_equal(la.calls, 1);
	assert_int_equal(lc.calls, 1);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* A callback run by the close tries to call again on the closing client. */
struct reentry {
	struct reply_log log;
	bus_client *cl;
	int again; /* what that bus_call returned */
};

static void on_reply_call_again(void *data, int status, const void *buf, size_t len)
{
	struct reentry *e = data;
	on_reply(&e->log, status, buf, len);
	e->again = bus_call(e->cl, "again", 5, 1000, on_reply, &e->log);
}

/* Closing a client with calls in flight runs each callback once, inside
 * the close, with PROTO_ESHUTDOWN; a call made from one of them is refused
 * (its callback never runs). */
static void test_close_ends_calls(void **state)
{
	struct pair p;
	char url[64];
	pair_open(&p, test_url(*state, url, sizeof(url)), true);
	struct reentry e = {.cl = p.cl, .again = -1};
	struct reply_log other = {0};
	assert_int_equal(bus_call(p.cl, "first", 5, 5000, on_reply_call_again, &e), PROTO_OK);
	assert_int_equal(bus_call(p.cl, "second", 6, 5000, on_reply, &other), PROTO_OK);
	run_until_count(&p.loop, &p.st.n_held, 2, 3000); /* both reach the server, which holds them */
	assert_int_equal(p.st.n_held, 2);
	assert_int_equal(e.log.calls + other.calls, 0);
	bus_client_close(p.cl);
	assert_int_equal(e.log.calls, 1);
	assert_int_equal(e.log.status, PROTO_ESHUTDOWN);
	assert_int_equal(e.again, PROTO_ESHUTDOWN);
	assert_int_equal(other.calls, 1);
	assert_int_equal(other.status, PROTO_ESHUTDOWN);
	for (int i = 0; i < p.st.n_held; i++) {
		bus_reply(p.st.held[i], "late", 4);
	}
	int never = 0;
	run_until(&p.loop, &never, 30);
	assert_int_equal(e.log.calls, 1);
	assert_int_equal(other.calls, 1);
	bus_server_close(p.srv);
	drain(&p.loop);
	assert_int_equal(uv_loop_close(&p.loop), 0);
}

/* A reply already queued for the client when it closes answers its call. */
static void test_local_close_delivers_arrived_reply(void **state)
{
	(void)state;
	struct pair p;
	pair_open(&p, "inproc://test-bus-arrived", true);
	struct reply_log answered = {0}, pending = {0};
	assert_int_equal(bus_call(p.cl, "one", 3, 5000, on_reply, &answered), PROTO_OK);
	assert_int_equal(bus_call(p.cl, "two", 3, 5000, on_reply, &pending), PROTO_OK);
	run_until_count(&p.loop, &p.st.n_held, 2, 3000);
	assert_int_equal(p.st.n_held, 2);
	bus_reply(p.st.held[0], "ans", 3); /* queued in the client's mailbox, not yet run */
	bus_client_close(p.cl);
	assert_int_equal(answered.calls + pending.calls, 2);
	struct reply_log *ok = answered.status == PROTO_OK ? &answered : &pending;
	struct reply_log *shut = ok == &answered ? &pending : &answered;
	assert_int_equal(ok->status, PROTO_OK);
	assert_string_equal(ok->body, "ans");
	assert_int_equal(shut->status, PROTO_ESHUTDOWN);
	bus_reply(p.st.held[1], "late", 4);
	bus_server_close(p.srv);
	drain(&p.loop);
	assert_int_equal(answered.calls + pending.calls, 2);
	assert_int_equal(uv_loop_close(&p.loop), 0);
}

/* ---- many calls to a server on another thread ---- */

struct server_thread {
	uv_loop_t loop;
	uv_async_t stop;
	bus_server *srv;
	struct server_state st;
	uv_sem_t ready;
};

static void stop_server(uv_async_t *h)
{
	struct server_thread *t = h->data;
	bus_server_close(t->srv);
	uv_close((uv_handle_t *)h, NULL);
}

static void server_main(void *arg)
{
	struct server_thread *t = arg;
	char err[200];
	const char *urls[] = {"inproc://test-bus-thread"};
	uv_loop_init(&t->loop);
	t->stop.data = t;
	uv_async_init(&t->loop, &t->stop, stop_server);
	assert_int_equal(bus_server_open(&t->srv, &t->loop, urls, 1, echo, &t->st, err, sizeof(err)), PROTO_OK);
	uv_sem_post(&t->ready);
	uv_run(&t->loop, UV_RUN_DEFAULT);
	uv_loop_close(&t->loop);
}

#define THREAD_CALLS 2000

static void test_local_across_threads(void **state)
{
	(void)state;
	struct server_thread t = {0};
	uv_thread_t th;
	uv_sem_init(&t.ready, 0);
	assert_int_equal(uv_thread_create(&th, server_main, &t), 0);
	uv_sem_wait(&t.ready);
	uv_loop_t loop;
	uv_loop_init(&loop);
	bus_client *cl;
	assert_int_equal(bus_client_open(&cl, &loop, "inproc://test-bus-thread"), PROTO_OK);
	static struct reply_log logs[THREAD_CALLS];
	static char bodies[THREAD_CALLS][16];
	for (int i = 0; i < THREAD_CALLS; i++) {
		int n = snprintf(bodies[i], sizeof(bodies[i]), "m%d", i);
		assert_int_equal(bus_call(cl, bodies[i], (size_t)n, 10000, on_reply, &logs[i]), PROTO_OK);
	}
	int done = 0;
	uint64_t end = uv_now(&loop) + 10000;
	while (!done && uv_now(&loop) < end) {
		uv_run(&loop, UV_RUN_ONCE);
		done = 1;
		for (int i = 0; i < THREAD_CALLS && done; i++) {
			done = logs[i].calls == 1;
		}
	}
	for (int i = 0; i < THREAD_CALLS; i++) {
		assert_int_equal(logs[i].calls, 1);
		assert_int_equal(logs[i].status, PROTO_OK);
		assert_string_equal(logs[i].body, bodies[i]);
	}
	uv_async_send(&t.stop);
	uv_thread_join(&th);
	bus_client_close(cl);
	drain(&loop);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- publish / subscribe ---- */

struct msgs {
	int n;
	char last[32];
};

static void on_msg(void *data, const void *buf, size_t len)
{
	struct msgs *m = data;
	m->n++;
	snprintf(m->last, sizeof(m->last), "%.*s", (int)len, (const char *)buf);
}

static void test_local_publish(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_loop_init(&loop);
	bus_pub *p;
	bus_sub *s1, *s2, *other;
	struct msgs m1 = {0}, m2 = {0}, mo = {0};
	assert_int_equal(bus_pub_open(&p, "inproc://test-bus-pub"), PROTO_OK);
	assert_int_equal(bus_sub_open(&s1, &loop, "inproc://test-bus-pub", on_msg, &m1), PROTO_OK);
	assert_int_equal(bus_sub_open(&s2, &loop, "inproc://test-bus-pub", on_msg, &m2), PROTO_OK);
	assert_int_equal(bus_sub_open(&other, &loop, "inproc://test-bus-other", on_msg, &mo), PROTO_OK);
	bus_publish(p, "one", 3);
	bus_publish(p, "two", 3);
	drain(&loop);
	assert_int_equal(m1.n, 2);
	assert_int_equal(m2.n, 2);
	assert_string_equal(m2.last, "two");
	assert_int_equal(mo.n, 0);
	bus_publish(p, "three", 5);
	bus_sub_close(s1); /* queued for s1, never delivered */
	drain(&loop);
	assert_int_equal(m1.n, 2);
	assert_int_equal(m2.n, 3);
	bus_sub_close(s2);
	bus_sub_close(other);
	bus_pub_close(p);
	drain(&loop);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate(test_call_and_reply, "inproc://test-bus-call"),
		cmocka_unit_test_prestate(test_call_and_reply, "tcp://"),
		cmocka_unit_test(test_local_waits_for_server_then_times_out),
		cmocka_unit_test(test_local_late_replies_and_closes),
		cmocka_unit_test_prestate(test_close_ends_calls, "inproc://test-bus-close"),
		cmocka_unit_test_prestate(test_close_ends_calls, "tcp://"),
		cmocka_unit_test(test_local_close_delivers_arrived_reply),
		cmocka_unit_test(test_local_across_threads),
		cmocka_unit_test(test_local_publish),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
