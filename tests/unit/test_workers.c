/* lib/workers: jobs run on the pool's own threads (not the loop's, not
 * libuv's pool), done callbacks on the loop in submission order for one
 * thread, and a stop that finishes the running job and cancels the rest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "lib/workers.h"

struct job {
	struct worker_job j; /* first */
	int id;
	pthread_t ran_on;
	int status;
	int *order, *n_order;
	int sleep_ms;
	char thread_name[16];
};

static void run(struct worker_job *wj)
{
	struct job *j = (struct job *)wj;
	j->ran_on = pthread_self();
	pthread_getname_np(pthread_self(), j->thread_name, sizeof(j->thread_name));
	if (j->sleep_ms > 0) {
		usleep((useconds_t)j->sleep_ms * 1000);
	}
}

static void done(struct worker_job *wj, int status)
{
	struct job *j = (struct job *)wj;
	j->status = status;
	j->order[(*j->n_order)++] = j->id;
}

static void test_jobs_run_off_the_loop_and_finish_in_order(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct workers *w;
	assert_int_equal(workers_start(&w, &loop, 1, "test-w"), 0);
	struct job jobs[5];
	int order[5], n = 0;
	for (int i = 0; i < 5; i++) {
		jobs[i] = (struct job){.j = {.run = run, .done = done}, .id = i, .order = order, .n_order = &n, .status = -99};
		assert_int_equal(workers_submit(w, &jobs[i].j), 0);
	}
	assert_int_equal(workers_busy(w), 5);
	while (n < 5) {
		uv_run(&loop, UV_RUN_ONCE);
	}
	for (int i = 0; i < 5; i++) {
		assert_int_equal(order[i], i); /* one thread: submission order */
		assert_int_equal(jobs[i].status, 0);
		assert_false(pthread_equal(jobs[i].ran_on, pthread_self()));
		assert_string_equal(jobs[i].thread_name, "test-w");
	}
	assert_int_equal(workers_busy(w), 0);
	workers_stop(w);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_stop_finishes_the_running_job_and_cancels_the_queued(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct workers *w;
	assert_int_equal(workers_start(&w, &loop, 1, "test-stop"), 0);
	int order[3], n = 0;
	struct job slow = {.j = {.run = run, .done = done}, .id = 0, .order = order, .n_order = &n, .sleep_ms = 200};
	struct job q1 = {.j = {.run = run, .done = done}, .id = 1, .order = order, .n_order = &n};
	struct job q2 = {.j = {.run = run, .done = done}, .id = 2, .order = order, .n_order = &n};
	assert_int_equal(workers_submit(w, &slow.j), 0);
	usleep(50 * 1000); /* the slow one is running */
	assert_int_equal(workers_submit(w, &q1.j), 0);
	assert_int_equal(workers_submit(w, &q2.j), 0);
	workers_stop(w); /* joins: the slow job finished by now */
	assert_int_equal(n, 3);
	assert_int_equal(order[0], 0);
	assert_int_equal(slow.status, 0);
	assert_int_equal(q1.status, UV_ECANCELED);
	assert_int_equal(q2.status, UV_ECANCELED);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jobs_run_off_the_loop_and_finish_in_order),
		cmocka_unit_test(test_stop_finishes_the_running_job_and_cancels_the_queued),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
