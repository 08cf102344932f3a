/* lib/log: the text and JSON line formats, level filtering, and the
 * parsers behind [log] level and format. stderr is redirected into a pipe
 * for each case. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/log.h"

/* Runs fn with stderr going into a pipe; what it wrote, NUL-terminated. */
static void capture(void (*fn)(void), char *out, size_t cap)
{
	int fds[2], saved = dup(STDERR_FILENO);
	assert_int_equal(pipe(fds), 0);
	dup2(fds[1], STDERR_FILENO);
	close(fds[1]);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	ssize_t n = read(fds[0], out, cap - 1);
	close(fds[0]);
	out[n > 0 ? n : 0] = '\0';
}

static void write_info_and_debug(void)
{
	struct log_field f[] = {{"peer", "n2"}, {"level", "spoofed"}};
	log_write(LOG_LEVEL_INFO, "raft", f, 2, "leader is %s\n", "n2");
	log_debug("raft", "not shown at info");
}

static void test_text_line(void **state)
{
	(void)state;
	char buf[4096];
	log_setup(LOG_LEVEL_INFO, LOG_FORMAT_TEXT, "n1");
	capture(write_info_and_debug, buf, sizeof(buf));
	/* "2026-12-07T16:10:00.123Z INFO raft: leader is n2 peer=n2 level=spoofed\n", once */
	assert_int_equal(strlen(buf) > 24, 1);
	assert_int_equal(buf[4], '-');
	assert_int_equal(buf[23], 'Z');
	assert_string_equal(buf + 24, " INFO raft: leader is n2 peer=n2 level=spoofed\n");
}

static void test_json_line(void **state)
{
	(void)state;
	char buf[4096];
	log_setup(LOG_LEVEL_INFO, LOG_FORMAT_JSON, "n1");
	capture(write_info_and_debug, buf, sizeof(buf));
	char *nl = strchr(buf, '\n');
	assert_non_null(nl);
	assert_string_equal(nl + 1, ""); /* one line: the debug one is dropped */
	json_error_t err;
	json_t *o = json_loads(buf, 0, &err);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "level")), "info"); /* a field cannot replace it */
	assert_string_equal(json_string_value(json_object_get(o, "component")), "raft");
	assert_string_equal(json_string_value(json_object_get(o, "node")), "n1");
	assert_string_equal(json_string_value(json_object_get(o, "message")), "leader is n2");
	assert_string_equal(json_string_value(json_object_get(o, "peer")), "n2");
	assert_int_equal(strlen(json_string_value(json_object_get(o, "time"))), 24);
	json_decref(o);
}

static void write_bad_utf8(void)
{
	log_error("store", "path %s", "/data/\xff\xfe");
}

static void test_json_stays_valid_with_bad_utf8(void **state)
{
	(void)state;
	char buf[4096];
	log_setup(LOG_LEVEL_DEBUG, LOG_FORMAT_JSON, NULL);
	capture(write_bad_utf8, buf, sizeof(buf));
	json_t *o = json_loads(buf, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "message")), "path /data/??");
	assert_string_equal(json_string_value(json_object_get(o, "level")), "error");
	json_decref(o);
}

static void write_warn_and_error(void)
{
	log_info("gateway", "dropped");
	log_warn("gateway", "kept one");
	log_error("gateway", "kept two");
}

static void test_level_filters(void **state)
{
	(void)state;
	char buf[4096];
	log_setup(LOG_LEVEL_WARN, LOG_FORMAT_TEXT, "n1");
	capture(write_warn_and_error, buf, sizeof(buf));
	assert_null(strstr(buf, "dropped"));
	assert_non_null(strstr(buf, " WARN gateway: kept one\n"));
	assert_non_null(strstr(buf, " ERROR gateway: kept two\n"));
	assert_false(log_enabled(LOG_LEVEL_INFO));
	assert_true(log_enabled(LOG_LEVEL_ERROR));
}

static void test_parsers(void **state)
{
	(void)state;
	enum log_level l;
	enum log_format f;
	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_parse("WARNING", &l), 0);
	assert_int_equal(l, LOG_LEVEL_WARN);
	assert_int_equal(log_level_parse("error", &l), 0);
	assert_int_equal(l, LOG_LEVEL_ERROR);
	assert_int_equal(log_level_parse("loud", &l), -1);
	assert_int_equal(log_level_parse("", &l), -1);
	assert_int_equal(log_format_parse("json", &f), 0);
	assert_int_equal(f, LOG_FORMAT_JSON);
	assert_int_equal(log_format_parse("text", &f), 0);
	assert_int_equal(f, LOG_FORMAT_TEXT);
	assert_int_equal(log_format_parse("xml", &f), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_line),
		cmocka_unit_test(test_json_line),
		cmocka_unit_test(test_json_stays_valid_with_bad_utf8),
		cmocka_unit_test(test_level_filters),
		cmocka_unit_test(test_parsers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
