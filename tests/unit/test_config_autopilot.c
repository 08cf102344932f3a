/* node/config: the [autopilot] table (max_voters, spread_regions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

#define NODE_TABLE                                                                                                     \
	"[cluster]\nname = \"t\"\n"                                                                                        \
	"[[node]]\nid = 1\nname = \"n1\"\nraft = \"127.0.0.1:1\"\nrpc = \"tcp://127.0.0.1:2\"\n"                           \
	"http = \"127.0.0.1:3\"\ndata = \"/tmp/n1\"\n"

/* Loads NODE_TABLE followed by extra; returns cfg_load's result. */
static int load(const char *extra, struct cfg *c, char *err, size_t errlen)
{
	char path[] = "/tmp/shiplog-test-config-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	fprintf(f, "%s%s", NODE_TABLE, extra);
	fclose(f);
	int rv = cfg_load(path, c, err, errlen);
	unlink(path);
	return rv;
}

static void test_spread_regions_defaults(void **state)
{
	(void)state;
	struct cfg c;
	char err[512];
	assert_int_equal(load("", &c, err, sizeof(err)), 0);
	assert_int_equal(c.max_voters, 0);
	assert_false(c.spread_regions); /* no cap: autopilot leaves roles alone */
	cfg_free(&c);
	assert_int_equal(load("[autopilot]\nmax_voters = 3\n", &c, err, sizeof(err)), 0);
	assert_int_equal(c.max_voters, 3);
	assert_true(c.spread_regions); /* on once voters are capped */
	cfg_free(&c);
}

static void test_spread_regions_explicit(void **state)
{
	(void)state;
	struct cfg c;
	char err[512];
	assert_int_equal(load("[autopilot]\nmax_voters = 5\nspread_regions = false\n", &c, err, sizeof(err)), 0);
	assert_false(c.spread_regions);
	cfg_free(&c);
	assert_int_equal(load("[autopilot]\nspread_regions = true\n", &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "spread_regions needs max_voters"));
	assert_int_equal(load("[autopilot]\nmax_voters = 3\nspread_regions = \"yes\"\n", &c, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spread_regions_defaults),
		cmocka_unit_test(test_spread_regions_explicit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
