/* gateway/jsonw.c and timefmt_format: the hand-written JSON and times must be
 * byte for byte what jansson's compact dump and strftime gave before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "gateway/internal.h"
#include "gateway/jsonw.h"

static void reference_time(int64_t ms, char *out, size_t cap)
{
	time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	int frac = (int)(ms - (int64_t)secs * 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, cap - n, frac != 0 ? ".%03dZ" : "Z", frac);
}

static void test_times_match_strftime(void **state)
{
	(void)state;
	char got[48], want[48];
	uint64_t x = 88172645463325252ull;
	int64_t fixed[] = {0, 1, 999, 1000, -1, -1000, -1001, 1700000000000, 1700000000123, 253402300799999};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		timefmt_format(fixed[i], got, sizeof(got));
		reference_time(fixed[i], want, sizeof(want));
		assert_string_equal(got, want);
	}
	for (int i = 0; i < 100000; i++) { /* 1970 .. 9999, some on whole seconds */
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int64_t ms = (int64_t)(x % 253402300799999ull);
		if (i % 3 == 0) {
			ms -= ms % 1000;
		}
		timefmt_format(ms, got, sizeof(got));
		reference_time(ms, want, sizeof(want));
		assert_string_equal(got, want);
	}
	timefmt_format(1700000000123, got, 8); /* cut to the buffer, still terminated */
	assert_string_equal(got, "2023-11");
}

static void test_strings_match_jansson(void **state)
{
	(void)state;
	char all[128];
	for (int c = 1; c < 128; c++) {
		all[c - 1] = (char)c;
	}
	all[127] = '\0';
	const char *cases[] = {"", "plain", "quote\" back\\slash /", all, "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80",
	                       "\x7f del", "tab\tnl\ncr\rff\fbs\b"};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct jsonw w = {0};
		jsonw_lit(&w, "{\"k\":");
		jsonw_str(&w, cases[i]);
		jsonw_lit(&w, ",\"n\":");
		jsonw_int(&w, -9007199254740993);
		jsonw_lit(&w, ",\"t\":");
		jsonw_time(&w, 1700000000123);
		jsonw_lit(&w, "}");
		size_t len;
		char *got = jsonw_take(&w, &len);
		assert_non_null(got);
		json_t *v = json_pack("{s:s,s:I,s:s}", "k", cases[i], "n", (json_int_t)-9007199254740993,
		                      "t", "2023-11-14T22:13:20.123Z");
		assert_non_null(v);
		char *want = json_dumps(v, JSON_COMPACT);
		assert_string_equal(got, want);
		assert_int_equal(len, strlen(want));
		free(want);
		free(got);
		json_decref(v);
	}
}

static void test_grows_past_first_block(void **state)
{
	(void)state;
	struct jsonw w = {0};
	jsonw_lit(&w, "[");
	for (int i = 0; i < 5000; i++) {
		jsonw_raw(&w, i ? "," : "", i ? 1 : 0);
		jsonw_str(&w, "sha256:0123456789abcdef0123456789abcdef");
	}
	jsonw_lit(&w, "]");
	size_t len;
	char *got = jsonw_take(&w, &len);
	assert_non_null(got);
	json_error_t err;
	json_t *v = json_loads(got, 0, &err);
	assert_non_null(v);
	assert_int_equal(json_array_size(v), 5000);
	assert_int_equal(w.len, 0); /* emptied by take */
	json_decref(v);
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_times_match_strftime),
	    cmocka_unit_test(test_strings_match_jansson),
	    cmocka_unit_test(test_grows_past_first_block),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
