/* The store tests' fixture: a store over a temporary directory, and the
 * commands and reads the tests share (tests/unit/test_store*.c). */
#ifndef SHIPLOG_TESTS_UNIT_STORE_FIXTURE_H
#define SHIPLOG_TESTS_UNIT_STORE_FIXTURE_H

#include <stdint.h>

#include "store/store.h"

struct fixture {
	char dir[128];
	store *s;
	uint64_t index;
};

struct rows {
	char tags[64][32];
	int64_t first[64], last[64];
	char ns[64][32];
	int n;
};

/* cmocka setup/teardown: a fresh store in a new temporary directory; closed and removed. */
int store_fixture_setup(void **state);
int store_fixture_teardown(void **state);
/* rm -rf dir */
void store_fixture_rm_dir(const char *dir);
/* Applies an OBSERVE of one image of component prod/p/NS/web/nginx (Deployment) at the next index. */
struct proto_result store_fixture_observe(struct fixture *f, const char *ns, const char *tag, const char *sha,
                                          int64_t at, const char *idem);
/* A store_release_cb that appends to a struct rows. */
int store_fixture_collect(void *data, const struct store_release *r);
/* The history of prod/p/NS/web/nginx; *rv: store_history_each's answer. */
struct rows store_fixture_history(struct fixture *f, const char *ns, int *rv);
/* Encodes and applies c at the next index (an idem_key of NULL is ""). */
struct proto_result store_fixture_apply(struct fixture *f, struct proto_cmd *c);

#endif
