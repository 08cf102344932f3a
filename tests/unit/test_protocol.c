/* protocol/: round trips of every command and message, and rejection of
 * truncated, mistyped, wrongly versioned and oversized input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/proto.h"

static struct proto_observation sample_obs(const char *tag)
{
	struct proto_observation o = {"prod-cluster", "prod", "default", "Deployment", "web", "nginx",
	                              "docker.io", "nginx", tag, "sha256:abc", 1700000000123};
	return o;
}

static void test_cmd_observe_round_trip(void **state)
{
	(void)state;
	struct proto_observation obs[2] = {sample_obs("1.21.0"), sample_obs("")};
	struct proto_cmd c = {.type = PROTO_CMD_OBSERVE, .ts_ms = 42, .idem_key = "k:abc", .n_obs = 2, .obs = obs};
	struct proto_buf b;
	assert_int_equal(proto_cmd_encode(&c, &b), PROTO_OK);
	assert_int_equal(b.len % 8, 0); /* raft 0.15.0 needs 8-byte multiples */
	struct proto_cmd d;
	assert_int_equal(proto_cmd_decode(b.data, b.len, &d), PROTO_OK);
	assert_int_equal(d.type, PROTO_CMD_OBSERVE);
	assert_int_equal(d.ts_ms, 42);
	assert_string_equal(d.idem_key, "k:abc");
	assert_int_equal(d.n_obs, 2);
	assert_string_equal(d.obs[0].image_tag, "1.21.0");
	assert_string_equal(d.obs[1].image_tag, "");
	assert_string_equal(d.obs[1].container, "nginx");
	assert_int_equal(d.obs[0].seen_at_ms, 1700000000123);
	proto_cmd_free(&d);
	proto_buf_free(&b);
}

static void test_cmd_ping_round_trip(void **state)
{
	(void)state;
	struct proto_cmd c = {.type = PROTO_CMD_PING, .ts_ms = -5, .idem_key = ""};
	c.ping.client = "c";
	c.ping.env = "e";
	c.ping.version = "v1";
	c.ping.at_ms = 99;
	struct proto_buf b;
	assert_int_equal(proto_cmd_encode(&c, &b), PROTO_OK);
	struct proto_cmd d;
	assert_int_equal(proto_cmd_decode(b.data, b.len, &d), PROTO_OK);
	assert_int_equal(d.ts_ms, -5);
	assert_string_equal(d.ping.version, "v1");
	assert_int_equal(d.ping.at_ms, 99);
	proto_cmd_free(&d);
	proto_buf_free(&b);
}

static void test_cmd_encode_rejects_bad_commands(void **state)
{
	(void)state;
	struct proto_buf b;
	struct proto_cmd none = {.type = PROTO_CMD_OBSERVE, .idem_key = "", .n_obs = 0};
	assert_int_equal(proto_cmd_encode(&none, &b), PROTO_EINVAL);
	struct proto_cmd bad_type = {.type = 99, .idem_key = ""};
	assert_int_equal(proto_cmd_encode(&bad_type, &b), PROTO_EINVAL);
	char big[PROTO_MAX_STR + 2];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	struct proto_observation o = sample_obs(big);
	struct proto_cmd long_str = {.type = PROTO_CMD_OBSERVE, .idem_key = "", .n_obs = 1, .obs = &o};
	assert_int_equal(proto_cmd_encode(&long_str, &b), PROTO_EINVAL);
}

/* Every strict prefix of a valid encoding must be rejected, never crash. */
static void test_cmd_decode_rejects_truncation(void **state)
{
	(void)state;
	struct proto_observation o = sample_obs("2.0");
	struct proto_cmd c = {.type = PROTO_CMD_OBSERVE, .idem_key = "key", .n_obs = 1, .obs = &o};
	struct proto_buf b;
	assert_int_equal(proto_cmd_encode(&c, &b), PROTO_OK);
	size_t unpadded = b.len;
	while (unpadded > 0 && b.data[unpadded - 1] == 0) {
		unpadded--;
	}
	for (size_t n = 0; n < unpadded; n++) {
		struct proto_cmd d;
		assert_int_not_equal(proto_cmd_decode(b.data, n, &d), PROTO_OK);
	}
	proto_buf_free(&b);
}

static void pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

static int decode_packed(msgpack_sbuffer *sb)
{
	struct proto_cmd d;
	int rv = proto_cmd_decode(sb->data, sb->size, &d);
	if (rv == PROTO_OK) {
		proto_cmd_free(&d);
	}
	msgpack_sbuffer_destroy(sb);
	return rv;
}

static void test_cmd_decode_rejects_wrong_types_and_versions(void **state)
{
	(void)state;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	/* version 2 */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 5);
	msgpack_pack_uint32(&pk, 2);
	msgpack_pack_uint32(&pk, PROTO_CMD_NOOP);
	msgpack_pack_int64(&pk, 1);
	pack_str(&pk, "");
	msgpack_pack_nil(&pk);
	assert_int_equal(decode_packed(&sb), PROTO_EINVAL);
	/* timestamp as a string */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 5);
	msgpack_pack_uint32(&pk, 1);
	msgpack_pack_uint32(&pk, PROTO_CMD_NOOP);
	pack_str(&pk, "now");
	pack_str(&pk, "");
	msgpack_pack_nil(&pk);
	assert_int_equal(decode_packed(&sb), PROTO_EINVAL);
	/* an observation with 10 fields instead of 11 */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 5);
	msgpack_pack_uint32(&pk, 1);
	msgpack_pack_uint32(&pk, PROTO_CMD_OBSERVE);
	msgpack_pack_int64(&pk, 1);
	pack_str(&pk, "");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 10);
	for (int i = 0; i < 10; i++) {
		pack_str(&pk, "x");
	}
	assert_int_equal(decode_packed(&sb), PROTO_EINVAL);
	/* a string holding a NUL byte */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 5);
	msgpack_pack_uint32(&pk, 1);
	msgpack_pack_uint32(&pk, PROTO_CMD_NOOP);
	msgpack_pack_int64(&pk, 1);
	msgpack_pack_str(&pk, 3);
	msgpack_pack_str_body(&pk, "a\0b", 3);
	msgpack_pack_nil(&pk);
	assert_int_equal(decode_packed(&sb), PROTO_EINVAL);
	/* not an array at all */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 0);
	assert_int_equal(decode_packed(&sb), PROTO_EINVAL);
}

static void test_decode_rejects_garbage_and_oversize(void **state)
{
	(void)state;
	struct proto_cmd d;
	struct proto_msg m;
	const char garbage[] = {(char)0xc1, 1, 2, 3};
	assert_int_not_equal(proto_cmd_decode(garbage, sizeof(garbage), &d), PROTO_OK);
	assert_int_not_equal(proto_msg_decode(garbage, sizeof(garbage), &m), PROTO_OK);
	assert_int_equal(proto_cmd_decode(NULL, 0, &d), PROTO_EINVAL);
	assert_int_equal(proto_cmd_decode(garbage, (size_t)PROTO_MAX_MSG + 1, &d), PROTO_ETOOBIG);
	/* A valid command followed by non-zero bytes is not padding. */
	struct proto_cmd c = {.type = PROTO_CMD_NOOP, .idem_key = ""};
	struct proto_buf b;
	assert_int_equal(proto_cmd_encode(&c, &b), PROTO_OK);
	char *longer = malloc(b.len + 8);
	memcpy(longer, b.data, b.len);
	memset(longer + b.len, 7, 8);
	assert_int_equal(proto_cmd_decode(longer, b.len + 8, &d), PROTO_EINVAL);
	free(longer);
	proto_buf_free(&b);
	/* Random bytes never crash the decoders. */
	srand(7);
	char buf[64];
	for (int i = 0; i < 20000; i++) {
		size_t n = (size_t)(rand() % 64) + 1;
		for (size_t k = 0; k < n; k++) {
			buf[k] = (char)rand();
		}
		if (proto_cmd_decode(buf, n, &d) == PROTO_OK) {
			proto_cmd_free(&d);
		}
		if (proto_msg_decode(buf, n, &m) == PROTO_OK) {
			proto_msg_free(&m);
		}
	}
}

static void test_msg_round_trips(void **state)
{
	(void)state;
	struct proto_buf b;
	struct proto_msg m = {.type = PROTO_MSG_PROPOSE}, d;
	m.u.propose.timeout_ms = 2000;
	m.u.propose.hops = 1;
	m.u.propose.cmd = "12345678";
	m.u.propose.cmd_len = 8;
	assert_int_equal(proto_msg_encode(&m, &b), PROTO_OK);
	assert_int_equal(proto_msg_decode(b.data, b.len, &d), PROTO_OK);
	assert_int_equal(d.type, PROTO_MSG_PROPOSE);
	assert_int_equal(d.u.propose.hops, 1);
	assert_int_equal(d.u.propose.cmd_len, 8);
	assert_memory_equal(d.u.propose.cmd, "12345678", 8);
	proto_msg_free(&d);
	proto_buf_free(&b);

	struct proto_msg r = {.type = PROTO_MSG_REPLY};
	r.u.reply.status = PROTO_EUNKNOWN;
	r.u.reply.index = 77;
	r.u.reply.leader = "n2";
	r.u.reply.message = "";
	assert_int_equal(proto_msg_encode(&r, &b), PROTO_OK);
	assert_int_equal(proto_msg_decode(b.data, b.len, &d), PROTO_OK);
	assert_int_equal(d.u.reply.status, PROTO_EUNKNOWN);
	assert_int_equal(d.u.reply.index, 77);
	assert_string_equal(d.u.reply.leader, "n2");
	assert_int_equal(d.u.reply.result_len, 0);
	proto_msg_free(&d);
	proto_buf_free(&b);

	struct proto_msg s = {.type = PROTO_MSG_STATUS};
	s.u.status.node_id = 3;
	s.u.status.role = PROTO_ROLE_LEADER;
	s.u.status.applied = 12;
	s.u.status.leader_name = "n3";
	s.u.status.last_contact_ms = -1;
	s.u.status.members = "1:v:12:1";
	s.u.status.removed_id = 101;
	assert_int_equal(proto_msg_encode(&s, &b), PROTO_OK);
	assert_int_equal(proto_msg_decode(b.data, b.len, &d), PROTO_OK);
	assert_int_equal(d.u.status.role, PROTO_ROLE_LEADER);
	assert_int_equal(d.u.status.removed_id, 101);
	assert_int_equal(d.u.status.applied, 12);
	assert_int_equal(d.u.status.last_contact_ms, -1);
	assert_string_equal(d.u.status.leader_name, "n3");
	proto_msg_free(&d);
	proto_buf_free(&b);

	struct proto_msg c = {.type = PROTO_MSG_LEADER_CONFIRM};
	c.u.confirm.term = 0x1234567890ull;
	c.u.confirm.leader_id = 7;
	assert_int_equal(proto_msg_encode(&c, &b), PROTO_OK);
	assert_int_equal(proto_msg_decode(b.data, b.len, &d), PROTO_OK);
	assert_int_equal(d.type, PROTO_MSG_LEADER_CONFIRM);
	assert_true(d.u.confirm.term == 0x1234567890ull);
	assert_int_equal(d.u.confirm.leader_id, 7);
	proto_msg_free(&d);
	assert_int_not_equal(proto_msg_decode(b.data, b.len - 8, &d), PROTO_OK); /* truncated (past the zero padding) */
	proto_buf_free(&b);

	struct proto_result res = {.code = PROTO_OK, .index = 9, .replay = 1, .created = 2}, out;
	assert_int_equal(proto_result_encode(&res, &b), PROTO_OK);
	assert_int_equal(proto_result_decode(b.data, b.len, &out), PROTO_OK);
	assert_int_equal(out.index, 9);
	assert_int_equal(out.replay, 1);
	assert_int_equal(out.created, 2);
	proto_buf_free(&b);
}

static void test_msg_rejects_reply_with_bad_status(void **state)
{
	(void)state;
	struct proto_buf b;
	struct proto_msg r = {.type = PROTO_MSG_REPLY}, d;
	r.u.reply.status = PROTO_STATUS_COUNT_ + 3;
	r.u.reply.leader = "";
	r.u.reply.message = "";
	assert_int_equal(proto_msg_encode(&r, &b), PROTO_OK);
	assert_int_equal(proto_msg_decode(b.data, b.len, &d), PROTO_EINVAL);
	proto_buf_free(&b);
	struct proto_msg e = {.type = PROTO_MSG_PROPOSE};
	e.u.propose.cmd = "";
	e.u.propose.cmd_len = 0;
	assert_int_equal(proto_msg_encode(&e, &b), PROTO_OK);
	assert_int_equal(proto_msg_decode(b.data, b.len, &d), PROTO_EINVAL); /* empty command */
	proto_buf_free(&b);
}

/* Commands described by schema.c: every field kind round-trips, and a body
 * with one field too few is refused. */
static void test_schema_commands_round_trip(void **state)
{
	(void)state;
	const char *ns[] = {"prod", "default"}, *labels[] = {"team", "web"};
	struct proto_cmd c = {.type = PROTO_CMD_CLUSTER_PUT, .ts_ms = 7, .idem_key = "k"};
	c.u.cluster = (struct proto_cluster){"c1", "kind", "https://h:6443", "cl", "env", "token", "v1:xyz",
	                                     ns, 2, labels, 2, 1, 30};
	struct proto_buf b;
	struct proto_cmd d;
	assert_int_equal(proto_cmd_encode(&c, &b), PROTO_OK);
	assert_int_equal(proto_cmd_decode(b.data, b.len, &d), PROTO_OK);
	assert_string_equal(d.u.cluster.server, "https://h:6443");
	assert_int_equal(d.u.cluster.n_namespaces, 2);
	assert_string_equal(d.u.cluster.namespaces[1], "default");
	assert_string_equal(d.u.cluster.labels[1], "web");
	assert_int_equal(d.u.cluster.interval_s, 30);
	proto_cmd_free(&d);
	proto_buf_free(&b);

	struct proto_observation o = sample_obs("3.0");
	struct proto_cmd r = {.type = PROTO_CMD_COLLECT_RESULT, .idem_key = "", .n_obs = 1, .obs = &o};
	r.u.collect = (struct proto_collect){"j1", "c1", "success", "", 2, -5, 9};
	assert_int_equal(proto_cmd_encode(&r, &b), PROTO_OK);
	assert_int_equal(proto_cmd_decode(b.data, b.len, &d), PROTO_OK);
	assert_int_equal(d.n_obs, 1);
	assert_string_equal(d.obs[0].image_tag, "3.0");
	assert_int_equal(d.u.collect.started_at_ms, -5);
	assert_int_equal(d.u.collect.node, 2);
	proto_cmd_free(&d);
	proto_buf_free(&b);

	struct proto_cmd empty = {.type = PROTO_CMD_COLLECT_RESULT, .idem_key = ""}; /* a run that saw nothing */
	empty.u.collect = (struct proto_collect){"j2", "c1", "failed", "401", 1, 0, 0};
	assert_int_equal(proto_cmd_encode(&empty, &b), PROTO_OK);
	assert_int_equal(proto_cmd_decode(b.data, b.len, &d), PROTO_OK);
	assert_int_equal(d.n_obs, 0);
	assert_string_equal(d.u.collect.error, "401");
	proto_cmd_free(&d);
	proto_buf_free(&b);

	struct proto_cmd m = {.type = PROTO_CMD_MEMBER_PUT, .idem_key = ""};
	m.u.member = (struct proto_member){4, "n4", "eu", "127.0.0.1:7004", "tcp://127.0.0.1:7104", "127.0.0.1:8004"};
	assert_int_equal(proto_cmd_encode(&m, &b), PROTO_OK);
	assert_int_equal(proto_cmd_decode(b.data, b.len, &d), PROTO_OK);
	assert_int_equal(d.u.member.id, 4);
	assert_string_equal(d.u.member.region, "eu");
	proto_cmd_free(&d);
	proto_buf_free(&b);

	/* A LEASE body with 2 fields instead of 3 is refused. */
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 5);
	msgpack_pack_uint32(&pk, 1);
	msgpack_pack_uint32(&pk, PROTO_CMD_LEASE);
	msgpack_pack_int64(&pk, 1);
	pack_str(&pk, "");
	msgpack_pack_array(&pk, 2);
	pack_str(&pk, "collect:c1");
	msgpack_pack_uint64(&pk, 1);
	assert_int_equal(decode_packed(&sb), PROTO_EINVAL);
	/* A string where a number belongs is refused. */
	struct proto_cmd bad = {.type = PROTO_CMD_CLUSTER_PUT, .idem_key = ""};
	bad.u.cluster = c.u.cluster;
	bad.u.cluster.n_namespaces = PROTO_MAX_OBS + 1;
	assert_int_equal(proto_cmd_encode(&bad, &b), PROTO_EINVAL);
}

/* A cluster's sealed credentials may be PROTO_MAX_SEALED long (real RSA
 * certificates and bound tokens), not one byte more; other fields keep
 * PROTO_MAX_STR. */
static void test_sealed_credentials_limit(void **state)
{
	(void)state;
	char *sealed = malloc(PROTO_MAX_SEALED + 2);
	assert_non_null(sealed);
	memset(sealed, 'Q', PROTO_MAX_SEALED);
	sealed[PROTO_MAX_SEALED] = '\0';
	struct proto_cmd c = {.type = PROTO_CMD_CLUSTER_PUT, .idem_key = "k"};
	c.u.cluster = (struct proto_cluster){"c1", "kind", "https://h:6443", "cl", "env", "token", sealed, NULL, 0, NULL, 0, 0, 30};
	struct proto_buf b;
	struct proto_cmd d;
	assert_int_equal(proto_cmd_encode(&c, &b), PROTO_OK);
	assert_int_equal(proto_cmd_decode(b.data, b.len, &d), PROTO_OK);
	assert_int_equal(strlen(d.u.cluster.sealed), PROTO_MAX_SEALED);
	proto_cmd_free(&d);
	proto_buf_free(&b);
	sealed[PROTO_MAX_SEALED] = 'Q';
	sealed[PROTO_MAX_SEALED + 1] = '\0';
	assert_int_equal(proto_cmd_encode(&c, &b), PROTO_EINVAL);
	sealed[PROTO_MAX_STR + 1] = '\0';
	c.u.cluster.sealed = "v1:";
	c.u.cluster.server = sealed; /* server keeps the default limit */
	assert_int_equal(proto_cmd_encode(&c, &b), PROTO_EINVAL);
	free(sealed);
}


/* The format version is read from any msgpack array and uint form. */
static void test_format_version_peek(void **state)
{
	(void)state;
	uint32_t v = 0;
	struct proto_buf b;
	struct proto_cmd c = {.type = PROTO_CMD_PING, .idem_key = "k"};
	c.ping = (struct proto_ping){"cl", "prod", "", 1};
	assert_int_equal(proto_cmd_encode(&c, &b), PROTO_OK);
	assert_int_equal(proto_format_version(b.data, b.len, &v), PROTO_OK);
	assert_int_equal(v, PROTO_VERSION);
	proto_buf_free(&b);
	const unsigned char fix[] = {0x93, 0x05, 0x01}, u8[] = {0x92, 0xcc, 0xc8}, u16[] = {0xdc, 0x00, 0x02, 0xcd, 0x01, 0x2c},
	                    u32[] = {0xdd, 0, 0, 0, 2, 0xce, 0x00, 0x01, 0x00, 0x00};
	assert_int_equal(proto_format_version(fix, sizeof(fix), &v), PROTO_OK);
	assert_int_equal(v, 5);
	assert_int_equal(proto_format_version(u8, sizeof(u8), &v), PROTO_OK);
	assert_int_equal(v, 200);
	assert_int_equal(proto_format_version(u16, sizeof(u16), &v), PROTO_OK);
	assert_int_equal(v, 300);
	assert_int_equal(proto_format_version(u32, sizeof(u32), &v), PROTO_OK);
	assert_int_equal(v, 65536);
	const unsigned char u64[] = {0x91, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0}, u64small[] = {0x91, 0xcf, 0, 0, 0, 0, 0, 0, 0, 7};
	assert_int_equal(proto_format_version(u64, sizeof(u64), &v), PROTO_OK);
	assert_int_equal(v, UINT32_MAX);
	assert_int_equal(proto_format_version(u64small, sizeof(u64small), &v), PROTO_OK);
	assert_int_equal(v, 7);
	const unsigned char not_array[] = {0x05, 0x01}, signed_v[] = {0x92, 0xff}, cut[] = {0x92, 0xcd, 0x01};
	assert_int_equal(proto_format_version(not_array, sizeof(not_array), &v), PROTO_EINVAL);
	assert_int_equal(proto_format_version(signed_v, sizeof(signed_v), &v), PROTO_EINVAL);
	assert_int_equal(proto_format_version(cut, sizeof(cut), &v), PROTO_EINVAL);
	assert_int_equal(proto_format_version(fix, 1, &v), PROTO_EINVAL);
	assert_int_equal(proto_format_version(fix, 0, &v), PROTO_EINVAL);
}

static void test_batch_round_trip_and_rejects(void **state)
{
	(void)state;
	struct proto_observation o = sample_obs("2.0");
	struct proto_cmd c1 = {.type = PROTO_CMD_OBSERVE, .ts_ms = 1, .idem_key = "a", .n_obs = 1, .obs = &o};
	struct proto_cmd c2 = {.type = PROTO_CMD_PING, .ts_ms = 2, .idem_key = "b"};
	c2.ping.client = "c";
	c2.ping.env = "e";
	c2.ping.version = "v";
	struct proto_buf b1, b2, batch;
	assert_int_equal(proto_cmd_encode(&c1, &b1), PROTO_OK);
	assert_int_equal(proto_cmd_encode(&c2, &b2), PROTO_OK);
	struct proto_slice v[2] = {{b1.data, b1.len}, {b2.data, b2.len}};
	assert_int_equal(proto_batch_encode(v, 2, &batch), PROTO_OK);
	assert_int_equal(batch.len % 8, 0);
	assert_true(proto_is_batch(batch.data, batch.len));
	assert_false(proto_is_batch(b1.data, b1.len));
	struct proto_batch d;
	assert_int_equal(proto_batch_decode(batch.data, batch.len, &d), PROTO_OK);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.cmds[1].len, b2.len);
	assert_memory_equal(d.cmds[0].data, b1.data, b1.len);
	struct proto_cmd back;
	assert_int_equal(proto_cmd_decode(d.cmds[1].data, d.cmds[1].len, &back), PROTO_OK);
	assert_string_equal(back.idem_key, "b");
	proto_cmd_free(&back);
	proto_batch_free(&d);
	/* a command is not a batch, nor is an empty batch; truncations fail cleanly */
	assert_int_not_equal(proto_batch_decode(b1.data, b1.len, &d), PROTO_OK);
	struct proto_buf none;
	assert_int_not_equal(proto_batch_encode(v, 0, &none), PROTO_OK);
	for (size_t cut = 1; cut < batch.len - 8; cut++) {
		assert_int_not_equal(proto_batch_decode(batch.data, cut, &d), PROTO_OK);
	}
	/* a batch's results round trip, and the count must match */
	struct proto_result r[2] = {{PROTO_OK, 7, 0, 1, 0}, {PROTO_ECONFLICT, 7, 1, 0, 0}}, rb[2];
	struct proto_buf rbuf;
	assert_int_equal(proto_results_encode(r, 2, &rbuf), PROTO_OK);
	assert_int_equal(proto_results_decode(rbuf.data, rbuf.len, rb, 2), PROTO_OK);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(rb[i].code, r[i].code);
		assert_int_equal(rb[i].index, r[i].index);
		assert_int_equal(rb[i].replay, r[i].replay);
		assert_int_equal(rb[i].created, r[i].created);
	}
	assert_int_not_equal(proto_results_decode(rbuf.data, rbuf.len, rb, 1), PROTO_OK);
	proto_buf_free(&rbuf);
	proto_buf_free(&batch);
	proto_buf_free(&b1);
	proto_buf_free(&b2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmd_observe_round_trip),
		cmocka_unit_test(test_cmd_ping_round_trip),
		cmocka_unit_test(test_cmd_encode_rejects_bad_commands),
		cmocka_unit_test(test_cmd_decode_rejects_truncation),
		cmocka_unit_test(test_cmd_decode_rejects_wrong_types_and_versions),
		cmocka_unit_test(test_decode_rejects_garbage_and_oversize),
		cmocka_unit_test(test_msg_round_trips),
		cmocka_unit_test(test_msg_rejects_reply_with_bad_status),
		cmocka_unit_test(test_schema_commands_round_trip),
		cmocka_unit_test(test_sealed_credentials_limit),
		cmocka_unit_test(test_batch_round_trip_and_rejects),
		cmocka_unit_test(test_format_version_peek),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
