/* config/: the [autopilot] table (max_voters, spread_regions), [health],
 * and unknown tables and keys refused with file, line and the known keys. */
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

static void test_health_defaults_follow_the_election_timeout(void **state)
{
	(void)state;
	struct cfg c;
	char err[512];
	assert_int_equal(load("[raft]\nelection_timeout_ms = 500\nheartbeat_ms = 100\n", &c, err, sizeof(err)), 0);
	assert_int_equal(c.ready_leader_silence_ms, 1000);
	assert_int_equal(c.ready_max_apply_lag, 1000);
	cfg_free(&c);
	assert_int_equal(load("[health]\nleader_silence = \"3s\"\nmax_apply_lag = 50\n", &c, err, sizeof(err)), 0);
	assert_int_equal(c.ready_leader_silence_ms, 3000);
	assert_int_equal(c.ready_max_apply_lag, 50);
	cfg_free(&c);
}

/* Asserts that loading extra fails with every piece of want in the message. */
static void refused(const char *extra, const char *const *want, size_t n)
{
	struct cfg c;
	char err[2048];
	assert_int_equal(load(extra, &c, err, sizeof(err)), -1);
	for (size_t i = 0; i < n; i++) {
		if (strstr(err, want[i]) == NULL) {
			fail_msg("error \"%s\" lacks \"%s\"", err, want[i]);
		}
	}
}

static void test_unknown_keys_and_tables_are_errors(void **state)
{
	(void)state;
	/* NODE_TABLE is 9 lines: the misspelt key is on line 12. */
	const char *key[] = {"unknown key \"election_timeout\" in [raft]", "known keys: election_timeout_ms, heartbeat_ms",
	                     "shiplog-test-config-", " 12 |"};
	refused("[raft]\nheartbeat_ms = 50\nelection_timeout = 400\n", key, 4);
	const char *table[] = {"unknown table or key \"ratelimit\"", "known tables: cluster, node, raft", "rate_limit",
	                       " 10 |"};
	refused("[ratelimit]\nanonymous_per_minute = 0\n", table, 4);
	const char *node[] = {"unknown key \"htpp\" in [node]", "known keys: id, name, region, raft, rpc, http, data"};
	refused("[[node]]\nid = 2\nname = \"n2\"\nraft = \"a\"\nrpc = \"b\"\nhtpp = \"c\"\n", node, 2);
	const char *sub[] = {"unknown key \"admin_key\" in [auth]"};
	refused("[auth]\nadmin_key = \"k\"\n", sub, 1);
	const char *k8s[] = {"unknown key \"kube_config\" in [k8s_cluster]"};
	refused("[[k8s_cluster]]\nname = \"a\"\nclient_name = \"c\"\nenv_name = \"e\"\nkube_config = \"x\"\n", k8s,
	        1);
	/* Free keys stay free: any client name in [auth.client_keys]. */
	struct cfg c;
	char err[512];
	assert_int_equal(load("[auth]\nadmin_keys = [\"a\"]\n[auth.client_keys]\n\"any-client\" = [\"k\"]\n", &c, err,
	                      sizeof(err)),
	                 0);
	assert_int_equal(c.n_client_keys, 1);
	cfg_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spread_regions_defaults),
		cmocka_unit_test(test_spread_regions_explicit),
		cmocka_unit_test(test_health_defaults_follow_the_election_timeout),
		cmocka_unit_test(test_unknown_keys_and_tables_are_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
