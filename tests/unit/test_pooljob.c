/* node/pooljob: background work at the lowest CPU priority, without
 * changing the priority of the thread that asks for it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/pooljob.h"

struct seen {
	int calls;
	pid_t tid;
	int nice;
};

static pid_t my_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void record(void *arg)
{
	struct seen *s = arg;
	s->calls++;
	s->tid = my_tid();
	s->nice = getpriority(PRIO_PROCESS, (id_t)s->tid);
}

static void test_low_priority_job_runs_at_nice_19_on_its_own_thread(void **state)
{
	(void)state;
	int before = getpriority(PRIO_PROCESS, (id_t)my_tid());
	assert_true(before < 19);
	struct seen s = {0};
	pool_run_low_priority(record, &s);
	assert_int_equal(s.calls, 1);          /* done when the call returns */
	assert_int_not_equal(s.tid, my_tid()); /* not on the caller's thread */
	assert_int_equal(s.nice, 19);
	assert_int_equal(getpriority(PRIO_PROCESS, (id_t)my_tid()), before); /* the caller is untouched */

	pool_run_low_priority(record, &s); /* again: a fresh thread, the same priority */
	assert_int_equal(s.calls, 2);
	assert_int_equal(s.nice, 19);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_low_priority_job_runs_at_nice_19_on_its_own_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
