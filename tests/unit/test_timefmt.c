/* lib/timefmt: RFC 3339 times written and read back; an offset may not move
 * an instant out of the range the format writes (found by fuzz/fuzz_time). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/timefmt.h"

static void round_trip(const char *text, int64_t want_ms, const char *want_text)
{
	int64_t ms = -1, again = -1;
	char out[64];
	assert_int_equal(timefmt_parse(text, &ms), 0);
	assert_int_equal(ms, want_ms);
	timefmt_format(ms, out, sizeof(out));
	assert_string_equal(out, want_text);
	assert_int_equal(timefmt_parse(out, &again), 0);
	assert_int_equal(again, ms);
}

static void test_round_trips(void **state)
{
	(void)state;
	round_trip("1970-01-01T00:00:00Z", 0, "1970-01-01T00:00:00Z");
	round_trip("2026-12-07T22:37:23.123Z", 1796683043123, "2026-12-07T22:37:23.123Z");
	round_trip("2026-12-08T00:37:23.5+02:00", 1796683043500, "2026-12-07T22:37:23.500Z");
	round_trip("1970-01-01T02:00:00+02:00", 0, "1970-01-01T00:00:00Z");
	round_trip("9999-12-31T23:59:59.999Z", TIMEFMT_MAX_MS, "9999-12-31T23:59:59.999Z");
}

static void test_offsets_may_not_leave_the_range(void **state)
{
	(void)state;
	int64_t ms = 42;
	assert_int_equal(timefmt_parse("1970-01-01T00:37:25+02:00", &ms), -1); /* the fuzzer's input */
	assert_int_equal(timefmt_parse("9999-12-31T23:00:00-02:00", &ms), -1);
	assert_int_equal(timefmt_parse("1969-12-31T23:59:59Z", &ms), -1);
	assert_int_equal(ms, 42); /* untouched when refused */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_offsets_may_not_leave_the_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
