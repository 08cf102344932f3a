/* lib/queue.h: insertion order, removal from any place, removal while
 * iterating, and an element taken out twice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/queue.h"

struct item {
	int v;
	struct queue link;
};

static void expect_order(struct queue *head, const int *want, size_t n)
{
	struct queue *e;
	size_t i = 0;
	QUEUE_FOREACH(e, head) {
		assert_true(i < n);
		assert_int_equal(QUEUE_DATA(e, struct item, link)->v, want[i]);
		i++;
	}
	assert_int_equal(i, n);
}

static void test_insert_and_remove(void **state)
{
	(void)state;
	struct queue head;
	struct item it[4] = {{.v = 0}, {.v = 1}, {.v = 2}, {.v = 3}};
	queue_init(&head);
	assert_true(queue_empty(&head));
	queue_insert_tail(&head, &it[1].link);
	queue_insert_tail(&head, &it[2].link);
	queue_insert_head(&head, &it[0].link);
	queue_insert_tail(&head, &it[3].link);
	expect_order(&head, (int[]){0, 1, 2, 3}, 4);
	assert_ptr_equal(QUEUE_DATA(queue_head(&head), struct item, link), &it[0]);
	queue_remove(&it[2].link); /* middle */
	expect_order(&head, (int[]){0, 1, 3}, 3);
	assert_true(queue_empty(&it[2].link)); /* in no list now */
	queue_insert_tail(&head, &it[2].link);
	expect_order(&head, (int[]){0, 1, 3, 2}, 4);
	queue_remove(&it[2].link);
	queue_remove(&it[2].link); /* again: harmless */
	queue_remove(&it[0].link); /* first */
	queue_remove(&it[3].link); /* last */
	expect_order(&head, (int[]){1}, 1);
	queue_remove(&it[1].link);
	assert_true(queue_empty(&head));
}

static void test_remove_while_iterating(void **state)
{
	(void)state;
	struct queue head, *e, *n;
	struct item it[6];
	queue_init(&head);
	for (int i = 0; i < 6; i++) {
		it[i].v = i;
		queue_insert_tail(&head, &it[i].link);
	}
	QUEUE_FOREACH_SAFE(e, n, &head) {
		if (QUEUE_DATA(e, struct item, link)->v % 2 == 0) {
			queue_remove(e);
		}
	}
	expect_order(&head, (int[]){1, 3, 5}, 3);
	while (!queue_empty(&head)) {
		queue_remove(queue_head(&head));
	}
	assert_true(queue_empty(&head));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_and_remove),
		cmocka_unit_test(test_remove_while_iterating),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
