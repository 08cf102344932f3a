/* Pins the wire bytes of every actor message, apply result and batch protocol/ encodes today
 * (commands: test_protocol_golden.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/proto.h"
#include "tests/unit/lib/golden.h"

static void assert_msg_eq(const struct proto_msg *w, const struct proto_msg *g)
{
	assert_int_equal(g->type, w->type);
	const struct proto_msg *a = w, *b = g; /* a: the encoded message, b: the decoded one */
	switch (w->type) {
	case PROTO_MSG_PROPOSE:
		assert_int_equal(b->u.propose.timeout_ms, a->u.propose.timeout_ms);
		assert_int_equal(b->u.propose.hops, a->u.propose.hops);
		assert_int_equal(b->u.propose.cmd_len, a->u.propose.cmd_len);
		assert_memory_equal(b->u.propose.cmd, a->u.propose.cmd, a->u.propose.cmd_len);
		break;
	case PROTO_MSG_BARRIER:
		assert_int_equal(b->u.barrier.timeout_ms, a->u.barrier.timeout_ms);
		assert_int_equal(b->u.barrier.hops, a->u.barrier.hops);
		break;
	case PROTO_MSG_REPLY:
		assert_int_equal(b->u.reply.status, a->u.reply.status);
		assert_int_equal(b->u.reply.index, a->u.reply.index);
		assert_str_eq(a->u.reply.leader, b->u.reply.leader);
		assert_str_eq(a->u.reply.message, b->u.reply.message);
		assert_int_equal(b->u.reply.result_len, a->u.reply.result_len);
		if (a->u.reply.result_len > 0) {
			assert_memory_equal(b->u.reply.result, a->u.reply.result, a->u.reply.result_len);
		}
		break;
	case PROTO_MSG_STATUS:
		assert_int_equal(b->u.status.node_id, a->u.status.node_id);
		assert_int_equal(b->u.status.role, a->u.status.role);
		assert_int_equal(b->u.status.ready, a->u.status.ready);
		assert_int_equal(b->u.status.term, a->u.status.term);
		assert_int_equal(b->u.status.commit, a->u.status.commit);
		assert_int_equal(b->u.status.applied, a->u.status.applied);
		assert_int_equal(b->u.status.leader_id, a->u.status.leader_id);
		assert_str_eq(a->u.status.leader_name, b->u.status.leader_name);
		assert_int_equal(b->u.status.last_contact_ms, a->u.status.last_contact_ms);
		assert_str_eq(a->u.status.members, b->u.status.members);
		assert_int_equal(b->u.status.removed_id, a->u.status.removed_id);
		break;
	case PROTO_MSG_COLLECT:
		assert_str_eq(a->u.collect.job_id, b->u.collect.job_id);
		assert_str_eq(a->u.collect.cluster_id, b->u.collect.cluster_id);
		break;
	case PROTO_MSG_STATUS_QUERY:
		assert_int_equal(b->u.query_hops, a->u.query_hops);
		break;
	case PROTO_MSG_MEMBER_CHANGE:
		assert_int_equal(b->u.member.op, a->u.member.op);
		assert_int_equal(b->u.member.hops, a->u.member.hops);
		assert_int_equal(b->u.member.role, a->u.member.role);
		assert_int_equal(b->u.member.timeout_ms, a->u.member.timeout_ms);
		assert_int_equal(b->u.member.m.id, a->u.member.m.id);
		assert_str_eq(a->u.member.m.name, b->u.member.m.name);
		assert_str_eq(a->u.member.m.region, b->u.member.m.region);
		assert_str_eq(a->u.member.m.raft, b->u.member.m.raft);
		assert_str_eq(a->u.member.m.rpc, b->u.member.m.rpc);
		assert_str_eq(a->u.member.m.http, b->u.member.m.http);
		assert_str_eq(a->u.member.cluster, b->u.member.cluster);
		break;
	case PROTO_MSG_METRICS_QUERY:
		break;
	case PROTO_MSG_LEADER_CONFIRM:
		assert_int_equal(b->u.confirm.term, a->u.confirm.term);
		assert_int_equal(b->u.confirm.leader_id, a->u.confirm.leader_id);
		break;
	default:
		fail_msg("message type %u has no comparison", w->type);
	}
}

static void assert_result_eq(const struct proto_result *w, const struct proto_result *g)
{
	assert_int_equal(g->code, w->code);
	assert_int_equal(g->index, w->index);
	assert_int_equal(g->replay, w->replay);
	assert_int_equal(g->created, w->created);
	assert_int_equal(g->updated, w->updated);
}

/* ---- messages ---- */

struct msg_case {
	const char *name;
	struct proto_msg msg;
	const char *bin_hex; /* PROPOSE: the command, REPLY: the result (another golden); NULL for none */
	const char *hex;     /* proto_msg_encode's output */
};

static const struct msg_case msg_cases[] = {
	{"propose", {.type = PROTO_MSG_PROPOSE, .u.propose = {.timeout_ms = 2500, .hops = 1}}, GOLDEN_CMD_NOOP,
	 "950101cd09c401c420950101cf0000018bcfe56801b270726f62653a6e6f6465"
	 "2d65752d313a3137c000000000000000"},
	{"propose_from_gateway", {.type = PROTO_MSG_PROPOSE, .u.propose = {.timeout_ms = 120000, .hops = 0}},
	 GOLDEN_CMD_PING,
	 "950101ce0001d4c000c458950103cf0000018bcfe56803b670696e673a61636d"
	 "653a70726f64756374696f6e3a3994a461636d65aa70726f64756374696f6eb3"
	 "736869706c6f672d6167656e742f312e342e32cf0000018bcfe56b0900000000"
	 "0000000000000000"},
	{"barrier", {.type = PROTO_MSG_BARRIER, .u.barrier = {1500, 1}}, NULL,
	 "940102cd05dc0100"},
	{"barrier_from_gateway", {.type = PROTO_MSG_BARRIER, .u.barrier = {5, 0}}, NULL,
	 "9401020500000000"},
	{"reply", {.type = PROTO_MSG_REPLY, .u.reply = {.status = PROTO_ENOTLEADER, .index = 0x100000001ULL,
	                                                .leader = "node-eu-2",
	                                                .message = "not the leader: forward to node-eu-2"}},
	 GOLDEN_RESULT,
	 "97010304cf0000000100000001a96e6f64652d65752d32d9246e6f7420746865"
	 "206c65616465723a20666f727761726420746f206e6f64652d65752d32c41096"
	 "010dcf000000123456789a0103040000"},
	{"reply_empty",
	 {.type = PROTO_MSG_REPLY, .u.reply = {.status = PROTO_OK, .index = 42, .leader = "", .message = ""}}, NULL,
	 GOLDEN_MSG_REPLY_EMPTY},
	/* NULL strings and no result encode as "" and an empty bin */
	{"reply_null_strings", {.type = PROTO_MSG_REPLY, .u.reply = {.status = PROTO_OK, .index = 42}}, NULL,
	 GOLDEN_MSG_REPLY_EMPTY},
	{"status", {.type = PROTO_MSG_STATUS, .u.status = {0xfedcba9876543210ULL, PROTO_ROLE_FOLLOWER, 1, 70000, 123456,
	                                                   123450, 2, "node-eu-2", 250,
	                                                   "1:v:123456:1;2:v:123456:1;3:s:123000:0", 9}},
	 NULL,
	 "9d0104cffedcba98765432100101ce00011170ce0001e240ce0001e23a02a96e"
	 "6f64652d65752d32ccfad926313a763a3132333435363a313b323a763a313233"
	 "3435363a313b333a733a3132333030303a30090000000000"},
	{"status_leader", {.type = PROTO_MSG_STATUS, .u.status = {2, PROTO_ROLE_LEADER, 1, 5, 10, 10, 2, "n2", 0,
	                                                          "2:v:10:1", 0}},
	 NULL,
	 "9d0104020301050a0a02a26e3200a8323a763a31303a3100"},
	{"status_unavailable", {.type = PROTO_MSG_STATUS, .u.status = {1, PROTO_ROLE_UNAVAILABLE, 0, 0, 0, 0, 0, "", -1,
	                                                               "", 0}},
	 NULL,
	 "9d010401000000000000a0ffa0000000"},
	{"collect", {.type = PROTO_MSG_COLLECT, .u.collect = {"job-0001", "cl-7f3a"}}, NULL,
	 "940105a86a6f622d30303031a7636c2d3766336100000000"},
	{"status_query", {.type = PROTO_MSG_STATUS_QUERY, .u.query_hops = 1}, NULL,
	 "9301060100000000"},
	{"status_query_local", {.type = PROTO_MSG_STATUS_QUERY, .u.query_hops = 0}, NULL,
	 "9301060000000000"},
	{"member_add", {.type = PROTO_MSG_MEMBER_CHANGE,
	                .u.member = {PROTO_MEMBER_ADD, 1, 1, 10000,
	                             {0xfedcba9876543210ULL, "node-eu-1", "eu-west-1", "10.0.1.17:7001",
	                              "tcp://10.0.1.17:7101", "10.0.1.17:8001"},
	                             "shiplog-prod"}},
	 NULL,
	 "9d0107010101cd2710cffedcba9876543210a96e6f64652d65752d31a965752d"
	 "776573742d31ae31302e302e312e31373a37303031b47463703a2f2f31302e30"
	 "2e312e31373a37313031ae31302e302e312e31373a38303031ac736869706c6f"
	 "672d70726f640000"},
	{"member_remove", {.type = PROTO_MSG_MEMBER_CHANGE,
	                   .u.member = {PROTO_MEMBER_REMOVE, 0, 0, 20000, {3, "", "", "", "", ""}, ""}},
	 NULL,
	 "9d0107020000cd4e2003a0a0a0a0a0a0"},
	{"member_assign", {.type = PROTO_MSG_MEMBER_CHANGE,
	                   .u.member = {PROTO_MEMBER_ASSIGN, 1, 2, 20000, {4, "", "", "", "", ""}, ""}},
	 NULL,
	 "9d0107030102cd4e2004a0a0a0a0a0a0"},
	{"member_transfer", {.type = PROTO_MSG_MEMBER_CHANGE,
	                     .u.member = {PROTO_MEMBER_TRANSFER, 0, 0, 10000, {2, "", "", "", "", ""}, ""}},
	 NULL,
	 "9d0107040000cd271002a0a0a0a0a0a0"},
	/* m.id 0: to any voter */
	{"member_transfer_any", {.type = PROTO_MSG_MEMBER_CHANGE,
	                         .u.member = {PROTO_MEMBER_TRANSFER, 1, 0, 10000, {0, "", "", "", "", ""}, ""}},
	 NULL,
	 "9d0107040100cd271000a0a0a0a0a0a0"},
	{"metrics_query", {.type = PROTO_MSG_METRICS_QUERY}, NULL,
	 "9201080000000000"},
	{"leader_confirm", {.type = PROTO_MSG_LEADER_CONFIRM, .u.confirm = {0x1234567890ULL, 7}}, NULL,
	 "940109cf000000123456789007000000"},
};

static void run_msg_case(void **state)
{
	const struct msg_case *k = *state;
	struct proto_msg m = k->msg;
	size_t len = 0;
	if (k->bin_hex != NULL) {
		held.payload[0] = hex_decode(k->bin_hex, &len);
	}
	if (m.type == PROTO_MSG_PROPOSE) {
		m.u.propose.cmd = held.payload[0];
		m.u.propose.cmd_len = len;
	} else if (m.type == PROTO_MSG_REPLY && k->bin_hex != NULL) {
		m.u.reply.result = held.payload[0];
		m.u.reply.result_len = len;
	}
	assert_int_equal(proto_msg_encode(&m, &held.enc), PROTO_OK);
	assert_bytes_hex(k->name, held.enc.data, held.enc.len, k->hex);

	held.golden = hex_decode(k->hex, &held.golden_len);
	assert_int_equal(proto_msg_decode(held.golden, held.golden_len, &held.msg), PROTO_OK);
	assert_msg_eq(&m, &held.msg);
}

/* ---- results ---- */

struct result_case {
	const char *name;
	struct proto_result r;
	const char *hex; /* proto_result_encode's output */
};

static const struct result_case result_cases[] = {
	{"result", {PROTO_ECONFLICT, 0x123456789aULL, 1, 3, 4}, GOLDEN_RESULT},
	{"result_ok", {PROTO_OK, 5, 0, 0, 0},
	 "9601000500000000"},
	{"result_counts", {PROTO_OK, 70000, 0, 300, 65536},
	 "960100ce0001117000cd012cce0001000000000000000000"},
};

static void run_result_case(void **state)
{
	const struct result_case *k = *state;
	struct proto_result d;
	assert_int_equal(proto_result_encode(&k->r, &held.enc), PROTO_OK);
	assert_bytes_hex(k->name, held.enc.data, held.enc.len, k->hex);

	held.golden = hex_decode(k->hex, &held.golden_len);
	assert_int_equal(proto_result_decode(held.golden, held.golden_len, &d), PROTO_OK);
	assert_result_eq(&k->r, &d);
}

/* ---- batches and their results ---- */

struct batch_case {
	const char *name;
	const char *cmds[4]; /* goldens of the commands, NULL after the last */
	const char *hex;     /* proto_batch_encode's output */
};

static const struct batch_case batch_cases[] = {
	/* a command over 255 bytes (bin16) and a shorter one (bin8) */
	{"batch", {GOLDEN_CMD_OBSERVE, GOLDEN_CMD_PING},
	 "93014092c50190950102cf0000018bcfe56802ab6f62733a61636d653a343292"
	 "9ba961636d652d70726f64aa70726f64756374696f6ea87061796d656e7473aa"
	 "4465706c6f796d656e74ac636865636b6f75742d617069a3617070b972656769"
	 "737472792e61636d652e696f2f7061796d656e7473ac636865636b6f75742d61"
	 "7069a776322e31342e33d9477368613235363a39663836643038313838346337"
	 "6436353961326665616130633535616430313561336266346631623262306238"
	 "32326364313564366331356230663030613038cf0000018bcfe5687b9ba96163"
	 "6d652d70726f64a773746167696e67ab6b7562652d73797374656da94461656d"
	 "6f6e536574ad6e6f64652d6578706f72746572a86578706f72746572b2717561"
	 "792e696f2f70726f6d657468657573ad6e6f64652d6578706f72746572a5312e"
	 "372e30d9477368613235363a3263323662343662363866666336386666393962"
	 "3435336331643330343133343133343232643730363438336266613066393861"
	 "356538383632363665376165cf0000018bcfec60550000c458950103cf000001"
	 "8bcfe56803b670696e673a61636d653a70726f64756374696f6e3a3994a46163"
	 "6d65aa70726f64756374696f6eb3736869706c6f672d6167656e742f312e342e"
	 "32cf0000018bcfe56b090000000000000000000000000000"},
	{"batch_of_noops", {GOLDEN_CMD_NOOP, GOLDEN_CMD_NOOP},
	 "93014092c420950101cf0000018bcfe56801b270726f62653a6e6f64652d6575"
	 "2d313a3137c0c420950101cf0000018bcfe56801b270726f62653a6e6f64652d"
	 "65752d313a3137c0"},
};

static void run_batch_case(void **state)
{
	const struct batch_case *k = *state;
	struct proto_slice v[N(k->cmds)];
	uint32_t n = 0, version = 0;
	while (n < N(k->cmds) && k->cmds[n] != NULL) {
		held.payload[n] = hex_decode(k->cmds[n], &v[n].len);
		v[n].data = held.payload[n];
		n++;
	}
	assert_int_equal(proto_batch_encode(v, n, &held.enc), PROTO_OK);
	assert_bytes_hex(k->name, held.enc.data, held.enc.len, k->hex);

	held.golden = hex_decode(k->hex, &held.golden_len);
	assert_true(proto_is_batch(held.golden, held.golden_len));
	assert_int_equal(proto_format_version(held.golden, held.golden_len, &version), PROTO_OK);
	assert_int_equal(version, PROTO_VERSION);
	assert_int_equal(proto_batch_decode(held.golden, held.golden_len, &held.batch), PROTO_OK);
	assert_int_equal(held.batch.n, n);
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(held.batch.cmds[i].len, v[i].len);
		assert_memory_equal(held.batch.cmds[i].data, v[i].data, v[i].len);
	}
}

struct results_case {
	const char *name;
	struct proto_result r[4];
	uint32_t n;
	const char *hex; /* proto_results_encode's output */
};

static const struct results_case results_cases[] = {
	{"results", {{PROTO_OK, 1000, 0, 2, 1}, {PROTO_ECONFLICT, 0x100000001ULL, 1, 0, 0}}, 2,
	 "9201929500cd03e8000201950dcf000000010000000101000000000000000000"},
};

static void run_results_case(void **state)
{
	const struct results_case *k = *state;
	struct proto_result d[N(k->r)];
	assert_int_equal(proto_results_encode(k->r, k->n, &held.enc), PROTO_OK);
	assert_bytes_hex(k->name, held.enc.data, held.enc.len, k->hex);

	held.golden = hex_decode(k->hex, &held.golden_len);
	assert_int_equal(proto_results_decode(held.golden, held.golden_len, d, k->n), PROTO_OK);
	for (uint32_t i = 0; i < k->n; i++) {
		assert_result_eq(&k->r[i], &d[i]);
	}
}

/* A message type or member operation added to proto.h without a golden case fails here. */
static void every_type_has_a_case(void **state)
{
	(void)state;
	for (uint32_t t = 1; t < PROTO_MSG_TYPE_MAX_; t++) {
		size_t i = 0;
		while (i < N(msg_cases) && msg_cases[i].msg.type != t) {
			i++;
		}
		if (i == N(msg_cases)) {
			fail_msg("message type %u has no golden case", t);
		}
	}
	for (uint32_t op = PROTO_MEMBER_ADD; op <= PROTO_MEMBER_TRANSFER; op++) {
		size_t i = 0;
		while (i < N(msg_cases) &&
		       (msg_cases[i].msg.type != PROTO_MSG_MEMBER_CHANGE || msg_cases[i].msg.u.member.op != op)) {
			i++;
		}
		if (i == N(msg_cases)) {
			fail_msg("member change operation %u has no golden case", op);
		}
	}
}

int main(void)
{
	golden_add("coverage", "every_type", every_type_has_a_case, NULL);
	for (size_t i = 0; i < N(msg_cases); i++) {
		golden_add("msg", msg_cases[i].name, run_msg_case, &msg_cases[i]);
	}
	for (size_t i = 0; i < N(result_cases); i++) {
		golden_add("result", result_cases[i].name, run_result_case, &result_cases[i]);
	}
	for (size_t i = 0; i < N(batch_cases); i++) {
		golden_add("batch", batch_cases[i].name, run_batch_case, &batch_cases[i]);
	}
	for (size_t i = 0; i < N(results_cases); i++) {
		golden_add("results", results_cases[i].name, run_results_case, &results_cases[i]);
	}
	return golden_run();
}
