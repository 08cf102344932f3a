/* store/users.c, apikeys.c, sessions.c, audit.c: users found by name and
 * email and kept unique, keys found by hash, refresh-token rotation with
 * reuse revoking the family (a refused command would leave nothing
 * behind, so reuse is an applied revocation), signing keys retiring after
 * their overlap by the cluster clock, and audit rows for commands with an
 * origin, refused ones too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "store/identity.h"
#include "tests/unit/lib/store_fixture.h"

static struct proto_result user_put(struct fixture *f, const char *id, const char *name, const char *email,
                                    const char *hash, uint64_t create)
{
	struct proto_cmd c = {.type = PROTO_CMD_USER_PUT, .ts_ms = 1000};
	c.u.user = (struct proto_user){id, name, email, "", "viewer", "", hash, 1, create};
	return store_fixture_apply(f, &c);
}

struct seen {
	char id[64], hash[160], name[64];
	int n;
};

static int seen_user(void *data, const struct store_user *u)
{
	struct seen *s = data;
	snprintf(s->id, sizeof(s->id), "%s", u->u->id);
	snprintf(s->hash, sizeof(s->hash), "%s", u->u->pw_hash);
	snprintf(s->name, sizeof(s->name), "%s", u->u->username);
	s->n++;
	return 0;
}

static int find(struct fixture *f, const char *name, struct seen *s)
{
	struct store_read *rd;
	memset(s, 0, sizeof(*s));
	assert_int_equal(store_read_begin(f->s, &rd), PROTO_OK);
	int rv = store_user_find(rd, name, seen_user, s);
	store_read_end(rd);
	return rv;
}

static int seen_role(void *data, const struct store_user *u)
{
	struct {
		char role[16], client[16];
		uint64_t active;
	} *g = data;
	snprintf(g->role, sizeof(g->role), "%s", u->u->role);
	snprintf(g->client, sizeof(g->client), "%s", u->u->client);
	g->active = u->u->active;
	return 0;
}

static void test_users_unique_and_found_by_name_or_email(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	assert_int_equal(user_put(f, "u1", "Alice", "alice@x.io", "$argon2id$h1", 1).code, PROTO_OK);
	assert_int_equal(find(f, "alice", &s), PROTO_OK);
	assert_string_equal(s.id, "u1");
	assert_int_equal(find(f, "ALICE@x.io", &s), PROTO_OK);
	assert_string_equal(s.id, "u1");
	/* another user may not take the name or the email; the same id twice is a conflict */
	assert_int_equal(user_put(f, "u2", "alice", "", "$argon2id$h2", 1).code, PROTO_ECONFLICT);
	assert_int_equal(user_put(f, "u2", "bob", "Alice@X.io", "$argon2id$h2", 1).code, PROTO_ECONFLICT);
	assert_int_equal(user_put(f, "u1", "carol", "", "$argon2id$h2", 1).code, PROTO_ECONFLICT);
	assert_int_equal(user_put(f, "u9", "nobody", "", "", 0).code, PROTO_ENOTFOUND); /* update of no one */
	/* a rename frees the old name; "" keeps the stored hash */
	assert_int_equal(user_put(f, "u1", "alicia", "alice@x.io", "", 0).code, PROTO_OK);
	assert_int_equal(find(f, "alice", &s), PROTO_ENOTFOUND);
	assert_int_equal(find(f, "alicia", &s), PROTO_OK);
	assert_string_equal(s.hash, "$argon2id$h1");
	assert_int_equal(user_put(f, "u2", "alice", "", "$argon2id$h2", 1).code, PROTO_OK);
	/* a user's own update (create 2) keeps role, client and active as stored */
	struct proto_cmd self = {.type = PROTO_CMD_USER_PUT, .ts_ms = 2000};
	self.u.user = (struct proto_user){"u2", "alice", "", "Alice", "admin", "", "", 1, 2};
	struct proto_cmd demote = self;
	demote.u.user = (struct proto_user){"u2", "alice", "", "", "viewer", "acme", "", 0, 0};
	assert_int_equal(store_fixture_apply(f, &demote).code, PROTO_OK);
	assert_int_equal(store_fixture_apply(f, &self).code, PROTO_OK);
	struct store_read *r2;
	struct { char role[16], client[16]; uint64_t active; } got = {"", "", 9};
	assert_int_equal(store_read_begin(f->s, &r2), PROTO_OK);
	assert_int_equal(store_user_get(r2, "u2", seen_role, &got), PROTO_OK);
	store_read_end(r2);
	assert_string_equal(got.role, "viewer");
	assert_string_equal(got.client, "acme");
	assert_int_equal(got.active, 0);
	struct proto_cmd del = {.type = PROTO_CMD_USER_DELETE, .ts_ms = 1, .u.user_id = "u1"};
	assert_int_equal(store_fixture_apply(f, &del).code, PROTO_OK);
	assert_int_equal(find(f, "alice@x.io", &s), PROTO_ENOTFOUND);
	assert_int_equal(store_fixture_apply(f, &del).code, PROTO_ENOTFOUND);
	struct store_read *rd;
	assert_int_equal(store_read_begin(f->s, &rd), PROTO_OK);
	assert_int_equal(store_users_count(rd), 1);
	assert_true(store_users_made(rd));
	store_read_end(rd);
}

static int seen_key(void *data, const struct store_apikey *k)
{
	struct seen *s = data;
	snprintf(s->id, sizeof(s->id), "%s", k->k->id);
	snprintf(s->name, sizeof(s->name), "%lld", (long long)k->last_used_ms);
	s->n++;
	return 0;
}

static int key_by_hash(struct fixture *f, const char *hash, struct seen *s)
{
	struct store_read *rd;
	memset(s, 0, sizeof(*s));
	assert_int_equal(store_read_begin(f->s, &rd), PROTO_OK);
	int rv = store_apikey_by_hash(rd, hash, seen_key, s);
	store_read_end(rd);
	return rv;
}

static void test_keys_by_hash_used_and_revoked(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	const char *h = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
	struct proto_cmd put = {.type = PROTO_CMD_APIKEY_PUT, .ts_ms = 5};
	put.u.apikey = (struct proto_apikey){"k1", "ci", "", "read", h, "shp_abcdefgh", "config:admin", 0};
	assert_int_equal(store_fixture_apply(f, &put).code, PROTO_OK);
	assert_int_equal(store_fixture_apply(f, &put).code, PROTO_ECONFLICT); /* keys are never replaced */
	put.u.apikey.id = "k2";
	assert_int_equal(store_fixture_apply(f, &put).code, PROTO_ECONFLICT); /* nor their hash reused */
	assert_int_equal(key_by_hash(f, h, &s), PROTO_OK);
	assert_string_equal(s.id, "k1");
	assert_string_equal(s.name, "0");
	struct proto_key_use uses[] = {{"k1", 7000}, {"gone", 7000}};
	struct proto_cmd used = {.type = PROTO_CMD_KEYS_USED, .ts_ms = 7000, .u.keys_used = {uses, 2}};
	assert_int_equal(store_fixture_apply(f, &used).code, PROTO_OK);
	uses[0].at_ms = 6000; /* an older report does not move it back */
	assert_int_equal(store_fixture_apply(f, &used).code, PROTO_OK);
	key_by_hash(f, h, &s);
	assert_string_equal(s.name, "7000");
	struct proto_cmd del = {.type = PROTO_CMD_APIKEY_DELETE, .ts_ms = 8, .u.apikey_id = "k1"};
	assert_int_equal(store_fixture_apply(f, &del).code, PROTO_OK);
	assert_int_equal(key_by_hash(f, h, &s), PROTO_ENOTFOUND);
}

static struct proto_result session(struct fixture *f, uint32_t op, const char *jti, const char *new_jti, int64_t ts,
                                   int64_t exp)
{
	struct proto_cmd c = {.type = PROTO_CMD_SESSION, .ts_ms = ts};
	c.u.session = (struct proto_session){op, "fam", "u1", jti, new_jti, exp};
	return store_fixture_apply(f, &c);
}

static struct store_session session_get(struct fixture *f, int *rv)
{
	struct store_read *rd;
	struct store_session s;
	assert_int_equal(store_read_begin(f->s, &rd), PROTO_OK);
	*rv = store_session_get(rd, "fam", &s);
	store_read_end(rd);
	return s;
}

static void test_refresh_rotation_and_reuse(void **state)
{
	struct fixture *f = *state;
	int rv;
	assert_int_equal(session(f, PROTO_SESSION_START, "r1", "", 1000, 100000).code, PROTO_OK);
	assert_int_equal(session(f, PROTO_SESSION_START, "r1", "", 1000, 100000).code, PROTO_ECONFLICT);
	struct proto_result r = session(f, PROTO_SESSION_ROTATE, "r1", "r2", 2000, 200000);
	assert_int_equal(r.code, PROTO_OK);
	assert_int_equal(r.updated, 0);
	struct store_session s = session_get(f, &rv);
	assert_int_equal(rv, PROTO_OK);
	assert_string_equal(s.jti, "r2");
	assert_false(s.revoked);
	/* r1 again: applied as a revocation of the whole family, said in updated */
	r = session(f, PROTO_SESSION_ROTATE, "r1", "r3", 3000, 300000);
	assert_int_equal(r.code, PROTO_OK);
	assert_int_equal(r.updated, 1);
	s = session_get(f, &rv);
	assert_true(s.revoked);
	assert_string_equal(s.jti, "r2");
	assert_int_equal(session(f, PROTO_SESSION_ROTATE, "r2", "r4", 4000, 400000).code, PROTO_ENOTFOUND);
}

static void test_session_expiry_and_revoke(void **state)
{
	struct fixture *f = *state;
	int rv;
	assert_int_equal(session(f, PROTO_SESSION_START, "r1", "", 1000, 5000).code, PROTO_OK);
	/* past its expiry by the cluster clock (which moves at most a minute per entry) */
	assert_int_equal(session(f, PROTO_SESSION_ROTATE, "r1", "r2", 6000, 90000).code, PROTO_ENOTFOUND);
	session_get(f, &rv);
	assert_int_equal(rv, PROTO_OK);
	assert_int_equal(session(f, PROTO_SESSION_REVOKE, "", "", 7000, 0).code, PROTO_OK);
	assert_true(session_get(f, &rv).revoked);
}

struct keys {
	char kid[4][32];
	int64_t retire[4];
	int n;
};

static int seen_signing(void *data, const struct store_signing_key *k)
{
	struct keys *ks = data;
	snprintf(ks->kid[ks->n], sizeof(ks->kid[0]), "%s", k->kid);
	ks->retire[ks->n++] = k->retire_ms;
	return 0;
}

static struct keys signing_keys(struct fixture *f)
{
	struct store_read *rd;
	struct keys ks = {0};
	assert_int_equal(store_read_begin(f->s, &rd), PROTO_OK);
	store_signing_keys_each(rd, seen_signing, &ks);
	store_read_end(rd);
	return ks;
}

static void test_signing_keys_retire_after_overlap(void **state)
{
	struct fixture *f = *state;
	struct proto_cmd c = {.type = PROTO_CMD_SIGNING_KEY, .ts_ms = 10000};
	c.u.signing = (struct proto_signing_key){"a", "v1:sealed-a", 0};
	assert_int_equal(store_fixture_apply(f, &c).code, PROTO_OK);
	c.ts_ms = 20000;
	c.u.signing = (struct proto_signing_key){"b", "v1:sealed-b", 30000};
	assert_int_equal(store_fixture_apply(f, &c).code, PROTO_OK);
	struct keys ks = signing_keys(f);
	assert_int_equal(ks.n, 2);
	assert_string_equal(ks.kid[0], "a");
	assert_int_equal(ks.retire[0], 50000); /* verifies until 20000 + 30000 */
	assert_int_equal(ks.retire[1], 0);     /* b signs */
	c.u.signing.kid = "b";
	assert_int_equal(store_fixture_apply(f, &c).code, PROTO_ECONFLICT);
	c.ts_ms = 60000; /* past a's retirement: it goes when c arrives */
	c.u.signing = (struct proto_signing_key){"c", "v1:sealed-c", 1000};
	assert_int_equal(store_fixture_apply(f, &c).code, PROTO_OK);
	ks = signing_keys(f);
	assert_int_equal(ks.n, 2);
	assert_string_equal(ks.kid[0], "b");
	assert_int_equal(ks.retire[0], 61000);
	assert_string_equal(ks.kid[1], "c");
}

struct audit_rows {
	char type[8][32], actor[8][32], target[8][64];
	int32_t code[8];
	int n;
};

static int seen_audit(void *data, const struct store_audit *e)
{
	struct audit_rows *a = data;
	if (a->n < 8) {
		snprintf(a->type[a->n], 32, "%s", e->type);
		snprintf(a->actor[a->n], 32, "%s", e->actor);
		snprintf(a->target[a->n], 64, "%s", e->target);
		a->code[a->n++] = e->code;
	}
	return 0;
}

static void test_audit_rows_for_commands_with_an_origin(void **state)
{
	struct fixture *f = *state;
	struct proto_cmd c = {.type = PROTO_CMD_USER_PUT, .ts_ms = 1000,
	                      .origin = {"user:u-admin", "n2", "127.0.0.1", "n2-7"}};
	c.u.user = (struct proto_user){"u1", "alice", "", "", "viewer", "", "$argon2id$h", 1, 1};
	assert_int_equal(store_fixture_apply(f, &c).code, PROTO_OK);
	assert_int_equal(store_fixture_apply(f, &c).code, PROTO_ECONFLICT); /* refused: recorded too */
	user_put(f, "u2", "bob", "", "$argon2id$h", 1); /* no origin: no row */
	struct audit_rows a = {0};
	struct store_read *rd;
	assert_int_equal(store_read_begin(f->s, &rd), PROTO_OK);
	assert_int_equal(store_audit_each(rd, UINT64_MAX, 0, seen_audit, &a), PROTO_OK);
	store_read_end(rd);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.type[0], "user.put"); /* newest first */
	assert_int_equal(a.code[0], PROTO_ECONFLICT);
	assert_int_equal(a.code[1], PROTO_OK);
	assert_string_equal(a.actor[1], "user:u-admin");
	assert_string_equal(a.target[1], "u1 (alice)");
}

static struct proto_result idem_ping(struct fixture *f, const char *key, const char *version)
{
	struct proto_cmd c = {.type = PROTO_CMD_PING, .ts_ms = 1000, .idem_key = key};
	c.ping = (struct proto_ping){"prod", "p", version, 1000};
	return store_fixture_apply(f, &c);
}

/* store/apply.c: a client key bound to its request ("k2:<who>:<key>#<hash>"):
 * the same request replays, another request with the key is refused
 * (ECONFLICT, replay 2) and applies nothing, another credential's key is its own. */
static void test_idempotency_key_bound_to_its_request(void **state)
{
	struct fixture *f = *state;
	struct proto_result first = idem_ping(f, "k2:aaaa:deploy-1#h1", "1.0");
	assert_int_equal(first.code, PROTO_OK);
	assert_int_equal(first.replay, 0);
	struct proto_result again = idem_ping(f, "k2:aaaa:deploy-1#h1", "1.0");
	assert_int_equal(again.replay, 1);
	assert_int_equal(again.index, first.index);
	struct proto_result other = idem_ping(f, "k2:aaaa:deploy-1#h2", "2.0");
	assert_int_equal(other.code, PROTO_ECONFLICT);
	assert_int_equal(other.replay, 2);
	struct proto_result theirs = idem_ping(f, "k2:bbbb:deploy-1#h2", "2.0");
	assert_int_equal(theirs.code, PROTO_OK);
	assert_int_equal(theirs.replay, 0);
	assert_int_equal(idem_ping(f, "k2:aaaa:deploy-1#h1", "1.0").replay, 1); /* still the first */
	assert_int_equal(idem_ping(f, "k:old#1", "3.0").replay, 0); /* other keys as before, "#" or not */
	assert_int_equal(idem_ping(f, "k:old#2", "3.0").replay, 0);
	assert_int_equal(idem_ping(f, "auto:n1:1", "3.0").replay, 0);
	assert_int_equal(idem_ping(f, "auto:n1:1", "3.0").replay, 1);
}

static uint64_t audit_rows(struct fixture *f)
{
	struct audit_rows a = {0};
	struct store_read *rd;
	assert_int_equal(store_read_begin(f->s, &rd), PROTO_OK);
	store_audit_each(rd, UINT64_MAX, 0, seen_audit, &a);
	store_read_end(rd);
	return (uint64_t)a.n;
}

/* store/prune_identity.c: expired sessions go by their expiry index, audit
 * rows beyond the newest audit_keep or before a time go oldest first, both
 * within max_deletes, and the store says whether there is anything to do. */
static void test_prune_identity(void **state)
{
	struct fixture *f = *state;
	struct proto_cmd c = {.type = PROTO_CMD_SESSION, .ts_ms = 1000};
	const char *fams[] = {"f1", "f2", "f3"};
	int64_t exps[] = {5000, 9000, 20000};
	for (int i = 0; i < 3; i++) {
		c.u.session = (struct proto_session){PROTO_SESSION_START, fams[i], "u1", "j", "", exps[i]};
		assert_int_equal(store_fixture_apply(f, &c).code, PROTO_OK);
	}
	/* a rotation moves f1's expiry past the bound: its old index row must not make it go */
	c.u.session = (struct proto_session){PROTO_SESSION_ROTATE, "f1", "u1", "j", "j2", 30000};
	assert_int_equal(store_fixture_apply(f, &c).code, PROTO_OK);
	for (int i = 0; i < 6; i++) {
		struct proto_cmd u = {.type = PROTO_CMD_USER_DELETE, .ts_ms = 1000 + i, .u.user_id = "nobody",
		                      .origin = {"config:admin", "n1", "", ""}};
		store_fixture_apply(f, &u); /* refused, and audited */
	}
	assert_int_equal(audit_rows(f), 6);
	struct proto_prune_identity p = {10000, 4, 0, 1};
	struct store_read *rd;
	assert_int_equal(store_read_begin(f->s, &rd), PROTO_OK);
	assert_true(store_identity_prunable(rd, &p));
	store_read_end(rd);
	struct proto_cmd pc = {.type = PROTO_CMD_PRUNE_IDENTITY, .ts_ms = 12000, .u.prune_identity = p};
	struct proto_result r = store_fixture_apply(f, &pc);
	assert_int_equal(r.updated, 1);
	assert_int_equal(r.created, 1); /* max_deletes stopped it */
	pc.u.prune_identity.max_deletes = 0;
	r = store_fixture_apply(f, &pc);
	assert_int_equal(r.updated, 2); /* the other expired session and audit rows down to 4 */
	assert_int_equal(r.created, 0);
	struct store_session s;
	assert_int_equal(store_read_begin(f->s, &rd), PROTO_OK);
	assert_int_equal(store_session_get(rd, "f1", &s), PROTO_OK);
	assert_int_equal(store_session_get(rd, "f2", &s), PROTO_ENOTFOUND);
	assert_int_equal(store_session_get(rd, "f3", &s), PROTO_OK);
	assert_false(store_identity_prunable(rd, &p));
	store_read_end(rd);
	assert_int_equal(audit_rows(f), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_users_unique_and_found_by_name_or_email, store_fixture_setup,
		                                store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_keys_by_hash_used_and_revoked, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_refresh_rotation_and_reuse, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_session_expiry_and_revoke, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_signing_keys_retire_after_overlap, store_fixture_setup,
		                                store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_audit_rows_for_commands_with_an_origin, store_fixture_setup,
		                                store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_idempotency_key_bound_to_its_request, store_fixture_setup,
		                                store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_prune_identity, store_fixture_setup, store_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
