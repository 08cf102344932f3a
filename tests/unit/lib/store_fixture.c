/* A store over a temporary directory for the store tests, and the
 * commands and reads they share. */
#include "tests/unit/lib/store_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int store_fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];
	snprintf(f->dir, sizeof(f->dir), "/tmp/shiplog-test-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(store_open(&f->s, f->dir, 64u << 20, err, sizeof(err)), PROTO_OK);
	*state = f;
	return 0;
}

void store_fixture_rm_dir(const char *dir)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int store_fixture_teardown(void **state)
{
	struct fixture *f = *state;
	store_close(f->s);
	store_fixture_rm_dir(f->dir);
	free(f);
	return 0;
}

/* Applies an OBSERVE of one image at the next index. */
struct proto_result store_fixture_observe(struct fixture *f, const char *ns, const char *tag, const char *sha, int64_t at,
                                   const char *idem)
{
	struct proto_observation o = {"prod", "p", ns, "Deployment", "web", "nginx", "docker.io", "nginx", tag, sha, at};
	struct proto_cmd c = {.type = PROTO_CMD_OBSERVE, .ts_ms = at, .idem_key = idem, .n_obs = 1, .obs = &o};
	struct proto_buf b;
	struct proto_result res;
	assert_int_equal(proto_cmd_encode(&c, &b), PROTO_OK);
	assert_int_equal(store_apply(f->s, ++f->index, b.data, b.len, &res), PROTO_OK);
	proto_buf_free(&b);
	return res;
}



int store_fixture_collect(void *data, const struct store_release *r)
{
	struct rows *rows = data;
	snprintf(rows->tags[rows->n], 32, "%s", r->image_tag);
	snprintf(rows->ns[rows->n], 32, "%s", r->ns);
	rows->first[rows->n] = r->first_seen_ms;
	rows->last[rows->n] = r->last_seen_ms;
	rows->n++;
	return 0;
}

struct rows store_fixture_history(struct fixture *f, const char *ns, int *rv)
{
	struct store_read *rd;
	struct rows rows = {0};
	assert_int_equal(store_read_begin(f->s, &rd), PROTO_OK);
	*rv = store_history_each(rd, "prod", "p", ns, "web", "nginx", store_fixture_collect, &rows);
	store_read_end(rd);
	return rows;
}

struct proto_result store_fixture_apply(struct fixture *f, struct proto_cmd *c)
{
	struct proto_buf b;
	struct proto_result res;
	if (c->idem_key == NULL) {
		c->idem_key = "";
	}
	assert_int_equal(proto_cmd_encode(c, &b), PROTO_OK);
	assert_int_equal(store_apply(f->s, ++f->index, b.data, b.len, &res), PROTO_OK);
	proto_buf_free(&b);
	return res;
}
