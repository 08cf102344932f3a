/* Pins the wire bytes of every command, message and batch protocol/ encodes today, so mixed versions keep working. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/proto.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- bytes vs hex ---- */

/* Parses hex digits (whitespace ignored) into a malloc'd buffer (never NULL). */
static unsigned char *hex_decode(const char *hex, size_t *len)
{
	unsigned char *p = malloc(strlen(hex) / 2 + 1);
	size_t n = 0;
	int hi = -1;
	assert_non_null(p);
	for (const char *c = hex; *c != '\0'; c++) {
		int v = 0;
		if (*c == ' ' || *c == '\n' || *c == '\t') {
			continue;
		}
		if (*c >= '0' && *c <= '9') {
			v = *c - '0';
		} else if (*c >= 'a' && *c <= 'f') {
			v = *c - 'a' + 10;
		} else {
			free(p);
			fail_msg("bad hex digit '%c' in a golden string", *c);
		}
		if (hi < 0) {
			hi = v;
		} else {
			p[n++] = (unsigned char)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0) {
		free(p);
		fail_msg("odd number of hex digits in a golden string");
	}
	*len = n;
	return p;
}

/* Prints up to 32 bytes of p from offset at, as spaced hex. */
static void print_window(const char *label, const unsigned char *p, size_t len, size_t at)
{
	char line[32 * 3 + 1];
	size_t k = 0;
	for (size_t i = at; i < len && i < at + 32; i++) {
		k += (size_t)snprintf(line + k, sizeof(line) - k, "%02x ", p[i]);
	}
	line[k] = '\0';
	print_error("  %s @%zu: %s\n", label, at, line);
}

/* Compares got with the golden hex; on a difference prints the first
 * differing offset, both sides around it, and got as a C literal. A golden
 * changes only with the format itself, and then with PROTO_VERSION. */
static bool bytes_match_hex(const char *what, const void *got_, size_t got_len, const char *hex)
{
	const unsigned char *got = got_;
	size_t want_len;
	unsigned char *want = hex_decode(hex, &want_len);
	size_t off = 0;
	while (off < want_len && off < got_len && want[off] == got[off]) {
		off++;
	}
	bool same = want_len == got_len && off == want_len;
	if (!same) {
		size_t at = off & ~(size_t)15;
		print_error("%s: golden mismatch: expected %zu bytes, got %zu; first difference at offset %zu\n", what,
		            want_len, got_len, off);
		print_window("expected", want, want_len, at);
		print_window("got     ", got, got_len, at);
		print_error("  got, as a literal:\n");
		for (size_t i = 0; i < got_len; i += 32) {
			char line[64 + 1];
			size_t k = 0;
			for (size_t j = i; j < got_len && j < i + 32; j++) {
				k += (size_t)snprintf(line + k, sizeof(line) - k, "%02x", got[j]);
			}
			line[k] = '\0';
			print_error("\t\"%s\"\n", line);
		}
	}
	free(want);
	return same;
}

#define assert_bytes_hex(what, data, len, hex) assert_true(bytes_match_hex((what), (data), (len), (hex)))

/* ---- field by field equality of decoded values ---- */

/* An encoder packs a NULL string as "", so "" is what decodes. */
static void str_eq(const char *want, const char *got, const char *field)
{
	if (want == NULL) {
		want = "";
	}
	if (got == NULL || strcmp(want, got) != 0) {
		fail_msg("decoded %s: expected \"%s\", got %s%s%s", field, want, got != NULL ? "\"" : "",
		         got != NULL ? got : "NULL", got != NULL ? "\"" : "");
	}
}

#define assert_str_eq(want, got) str_eq((want), (got), #got)

static void assert_strs_eq(const char *const *want, uint32_t n_want, const char *const *got, uint32_t n_got)
{
	assert_int_equal(n_got, n_want);
	for (uint32_t i = 0; i < n_want; i++) {
		assert_str_eq(want[i], got[i]);
	}
}

static void assert_obs_eq(const struct proto_cmd *w, const struct proto_cmd *g)
{
	assert_int_equal(g->n_obs, w->n_obs);
	if (w->n_obs == 0) {
		assert_null(g->obs);
	}
	for (uint32_t i = 0; i < w->n_obs; i++) {
		const struct proto_observation *a = &w->obs[i], *b = &g->obs[i];
		assert_str_eq(a->client, b->client);
		assert_str_eq(a->env, b->env);
		assert_str_eq(a->ns, b->ns);
		assert_str_eq(a->kind, b->kind);
		assert_str_eq(a->workload, b->workload);
		assert_str_eq(a->container, b->container);
		assert_str_eq(a->image_repo, b->image_repo);
		assert_str_eq(a->image_name, b->image_name);
		assert_str_eq(a->image_tag, b->image_tag);
		assert_str_eq(a->image_sha, b->image_sha);
		assert_int_equal(b->seen_at_ms, a->seen_at_ms);
	}
}

static void assert_cmd_eq(const struct proto_cmd *w, const struct proto_cmd *g)
{
	assert_int_equal(g->type, w->type);
	assert_int_equal(g->ts_ms, w->ts_ms);
	assert_str_eq(w->idem_key, g->idem_key);
	if (w->type == PROTO_CMD_OBSERVE || w->type == PROTO_CMD_COLLECT_RESULT) {
		assert_obs_eq(w, g);
	} else {
		assert_int_equal(g->n_obs, 0);
		assert_null(g->obs);
	}
	if (w->type != PROTO_CMD_PING) {
		assert_null(g->ping.client);
	}
	const struct proto_cmd *a = w, *b = g; /* a: the encoded command, b: the decoded one */
	switch (w->type) {
	case PROTO_CMD_NOOP:
	case PROTO_CMD_OBSERVE:
		break;
	case PROTO_CMD_PING:
		assert_str_eq(w->ping.client, g->ping.client);
		assert_str_eq(w->ping.env, g->ping.env);
		assert_str_eq(w->ping.version, g->ping.version);
		assert_int_equal(g->ping.at_ms, w->ping.at_ms);
		break;
	case PROTO_CMD_CLUSTER_PUT:
		assert_str_eq(a->u.cluster.id, b->u.cluster.id);
		assert_str_eq(a->u.cluster.name, b->u.cluster.name);
		assert_str_eq(a->u.cluster.server, b->u.cluster.server);
		assert_str_eq(a->u.cluster.client, b->u.cluster.client);
		assert_str_eq(a->u.cluster.env, b->u.cluster.env);
		assert_str_eq(a->u.cluster.cred_kinds, b->u.cluster.cred_kinds);
		assert_str_eq(a->u.cluster.sealed, b->u.cluster.sealed);
		assert_strs_eq(a->u.cluster.namespaces, a->u.cluster.n_namespaces, b->u.cluster.namespaces,
		               b->u.cluster.n_namespaces);
		assert_strs_eq(a->u.cluster.labels, a->u.cluster.n_labels, b->u.cluster.labels, b->u.cluster.n_labels);
		assert_int_equal(b->u.cluster.insecure, a->u.cluster.insecure);
		assert_int_equal(b->u.cluster.interval_s, a->u.cluster.interval_s);
		break;
	case PROTO_CMD_CLUSTER_DELETE:
		assert_str_eq(a->u.cluster_id, b->u.cluster_id);
		break;
	case PROTO_CMD_LEASE:
		assert_str_eq(a->u.lease.duty, b->u.lease.duty);
		assert_int_equal(b->u.lease.holder, a->u.lease.holder);
		assert_int_equal(b->u.lease.period_ms, a->u.lease.period_ms);
		break;
	case PROTO_CMD_JOBS_QUEUE:
		assert_strs_eq(a->u.jobs.ids, a->u.jobs.n, b->u.jobs.ids, b->u.jobs.n);
		assert_strs_eq(a->u.jobs.clusters, a->u.jobs.n_clusters, b->u.jobs.clusters, b->u.jobs.n_clusters);
		assert_str_eq(a->u.jobs.reason, b->u.jobs.reason);
		break;
	case PROTO_CMD_JOB_START:
		assert_str_eq(a->u.job_start.id, b->u.job_start.id);
		assert_str_eq(a->u.job_start.cluster_id, b->u.job_start.cluster_id);
		assert_int_equal(b->u.job_start.node, a->u.job_start.node);
		break;
	case PROTO_CMD_COLLECT_RESULT:
		assert_str_eq(a->u.collect.job_id, b->u.collect.job_id);
		assert_str_eq(a->u.collect.cluster_id, b->u.collect.cluster_id);
		assert_str_eq(a->u.collect.status, b->u.collect.status);
		assert_str_eq(a->u.collect.error, b->u.collect.error);
		assert_int_equal(b->u.collect.node, a->u.collect.node);
		assert_int_equal(b->u.collect.started_at_ms, a->u.collect.started_at_ms);
		assert_int_equal(b->u.collect.finished_at_ms, a->u.collect.finished_at_ms);
		break;
	case PROTO_CMD_MEMBER_PUT:
		assert_int_equal(b->u.member.id, a->u.member.id);
		assert_str_eq(a->u.member.name, b->u.member.name);
		assert_str_eq(a->u.member.region, b->u.member.region);
		assert_str_eq(a->u.member.raft, b->u.member.raft);
		assert_str_eq(a->u.member.rpc, b->u.member.rpc);
		assert_str_eq(a->u.member.http, b->u.member.http);
		break;
	case PROTO_CMD_MEMBER_DELETE:
		assert_int_equal(b->u.member_id, a->u.member_id);
		break;
	case PROTO_CMD_WEBHOOK_PUT:
		assert_str_eq(a->u.webhook.id, b->u.webhook.id);
		assert_str_eq(a->u.webhook.url, b->u.webhook.url);
		assert_strs_eq(a->u.webhook.events, a->u.webhook.n_events, b->u.webhook.events, b->u.webhook.n_events);
		assert_str_eq(a->u.webhook.sealed_secret, b->u.webhook.sealed_secret);
		assert_str_eq(a->u.webhook.client, b->u.webhook.client);
		break;
	case PROTO_CMD_WEBHOOK_DELETE:
		assert_str_eq(a->u.webhook_id, b->u.webhook_id);
		break;
	case PROTO_CMD_WEBHOOK_PROGRESS:
		assert_str_eq(a->u.delivery.webhook_id, b->u.delivery.webhook_id);
		assert_int_equal(b->u.delivery.event_index, a->u.delivery.event_index);
		assert_int_equal(b->u.delivery.event_seq, a->u.delivery.event_seq);
		assert_str_eq(a->u.delivery.event_type, b->u.delivery.event_type);
		assert_int_equal(b->u.delivery.ok, a->u.delivery.ok);
		assert_int_equal(b->u.delivery.http_status, a->u.delivery.http_status);
		assert_str_eq(a->u.delivery.error, b->u.delivery.error);
		assert_int_equal(b->u.delivery.node, a->u.delivery.node);
		assert_int_equal(b->u.delivery.duration_ms, a->u.delivery.duration_ms);
		break;
	case PROTO_CMD_ALERT:
		assert_str_eq(a->u.alert.id, b->u.alert.id);
		assert_str_eq(a->u.alert.action, b->u.alert.action);
		assert_str_eq(a->u.alert.kind, b->u.alert.kind);
		assert_str_eq(a->u.alert.severity, b->u.alert.severity);
		assert_str_eq(a->u.alert.message, b->u.alert.message);
		assert_str_eq(a->u.alert.client, b->u.alert.client);
		assert_str_eq(a->u.alert.by, b->u.alert.by);
		break;
	default:
		fail_msg("command type %u has no comparison", w->type);
	}
}

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

/* ---- what a case allocates, released by its teardown even when an assertion fails ---- */

static struct {
	struct proto_buf enc;       /* the encoder's output */
	unsigned char *golden;      /* the golden bytes */
	size_t golden_len;
	unsigned char *payload[4];  /* bytes a message or batch carries */
	struct proto_cmd cmd;       /* decoded from the golden bytes */
	struct proto_msg msg;
	struct proto_batch batch;
} held;

static int release_held(void **state)
{
	(void)state;
	proto_buf_free(&held.enc);
	free(held.golden);
	for (size_t i = 0; i < N(held.payload); i++) {
		free(held.payload[i]);
	}
	proto_cmd_free(&held.cmd);
	proto_msg_free(&held.msg);
	proto_batch_free(&held.batch);
	memset(&held, 0, sizeof(held));
	return 0;
}

/* ---- goldens used twice: as a case, and carried inside a PROPOSE, a REPLY or a batch ---- */

#define GOLDEN_CMD_NOOP \
	"950101cf0000018bcfe56801b270726f62653a6e6f64652d65752d313a3137c0"
#define GOLDEN_CMD_OBSERVE \
	"950102cf0000018bcfe56802ab6f62733a61636d653a3432929ba961636d652d" \
	"70726f64aa70726f64756374696f6ea87061796d656e7473aa4465706c6f796d" \
	"656e74ac636865636b6f75742d617069a3617070b972656769737472792e6163" \
	"6d652e696f2f7061796d656e7473ac636865636b6f75742d617069a776322e31" \
	"342e33d9477368613235363a3966383664303831383834633764363539613266" \
	"6561613063353561643031356133626634663162326230623832326364313564" \
	"366331356230663030613038cf0000018bcfe5687b9ba961636d652d70726f64" \
	"a773746167696e67ab6b7562652d73797374656da94461656d6f6e536574ad6e" \
	"6f64652d6578706f72746572a86578706f72746572b2717561792e696f2f7072" \
	"6f6d657468657573ad6e6f64652d6578706f72746572a5312e372e30d9477368" \
	"613235363a326332366234366236386666633638666639396234353363316433" \
	"3034313334313334323264373036343833626661306639386135653838363236" \
	"3665376165cf0000018bcfec60550000"
#define GOLDEN_CMD_PING \
	"950103cf0000018bcfe56803b670696e673a61636d653a70726f64756374696f" \
	"6e3a3994a461636d65aa70726f64756374696f6eb3736869706c6f672d616765" \
	"6e742f312e342e32cf0000018bcfe56b0900000000000000"
#define GOLDEN_RESULT \
	"96010dcf000000123456789a01030400"
#define GOLDEN_MSG_REPLY_EMPTY \
	"970103002aa0a0c40000000000000000"

/* ---- commands ---- */

static struct proto_observation obs_two[] = {
	{"acme-prod", "production", "payments", "Deployment", "checkout-api", "app", "registry.acme.io/payments",
	 "checkout-api", "v2.14.3", "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
	 1700000000123},
	{"acme-prod", "staging", "kube-system", "DaemonSet", "node-exporter", "exporter", "quay.io/prometheus",
	 "node-exporter", "1.7.0", "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
	 1700000456789},
};
/* Image repository, name, tag and digest may all be "". */
static struct proto_observation obs_bare[] = {{"c", "e", "ns", "Job", "w", "c", "", "", "", "", -40000}};

static const char *cluster_namespaces[] = {"payments", "checkout"};
static const char *cluster_labels[] = {"team", "payments", "tier", "gold"};
/* Sealed credentials are usually longer than 255 bytes: a str16. */
#define X10(s) s s s s s s s s s s
static const char cluster_sealed[] = "v1:" X10("ABCDEFGHIJKLMNOPQRSTUVWXYZ");
static const char *job_ids[] = {"job-0001", "job-0002"};
static const char *job_clusters[] = {"cl-7f3a", "cl-9b2c"};
static const char *job_one_id[] = {"job-0003"};
static const char *job_one_cluster[] = {"cl-1"};
static const char *webhook_events[] = {"release.created", "release.updated", "alert.raised"};

struct cmd_case {
	const char *name;
	struct proto_cmd cmd;
	const char *hex; /* proto_cmd_encode's output */
};

static const struct cmd_case cmd_cases[] = {
	{"noop", {.type = PROTO_CMD_NOOP, .ts_ms = 1700000000001, .idem_key = "probe:node-eu-1:17"}, GOLDEN_CMD_NOOP},
	{"noop_bare", {.type = PROTO_CMD_NOOP, .ts_ms = 0, .idem_key = ""},
	 "95010100a0c00000"},
	{"observe", {.type = PROTO_CMD_OBSERVE, .ts_ms = 1700000000002, .idem_key = "obs:acme:42", .n_obs = 2,
	             .obs = obs_two},
	 GOLDEN_CMD_OBSERVE},
	{"observe_bare", {.type = PROTO_CMD_OBSERVE, .ts_ms = -5, .idem_key = "", .n_obs = 1, .obs = obs_bare},
	 "950102fba0919ba163a165a26e73a34a6f62a177a163a0a0a0a0d2ffff63c000"},
	{"ping", {.type = PROTO_CMD_PING, .ts_ms = 1700000000003, .idem_key = "ping:acme:production:9",
	          .ping = {"acme", "production", "shiplog-agent/1.4.2", 1700000000777}},
	 GOLDEN_CMD_PING},
	{"ping_bare", {.type = PROTO_CMD_PING, .ts_ms = 0, .idem_key = "", .ping = {"c", "e", "", 0}},
	 "95010300a094a163a165a00000000000"},
	{"cluster_put", {.type = PROTO_CMD_CLUSTER_PUT, .ts_ms = 1700000000004, .idem_key = "cluster:cl-7f3a:put",
	                 .u.cluster = {"cl-7f3a", "prod-eu-west", "https://k8s.eu-west.acme.io:6443", "acme",
	                               "production", "token,ca_cert", cluster_sealed, cluster_namespaces,
	                               N(cluster_namespaces), cluster_labels, N(cluster_labels), 1, 300}},
	 "950104cf0000018bcfe56804b3636c75737465723a636c2d376633613a707574"
	 "9ba7636c2d37663361ac70726f642d65752d77657374d92068747470733a2f2f"
	 "6b38732e65752d776573742e61636d652e696f3a36343433a461636d65aa7072"
	 "6f64756374696f6ead746f6b656e2c63615f63657274da010776313a41424344"
	 "45464748494a4b4c4d4e4f505152535455565758595a4142434445464748494a"
	 "4b4c4d4e4f505152535455565758595a4142434445464748494a4b4c4d4e4f50"
	 "5152535455565758595a4142434445464748494a4b4c4d4e4f50515253545556"
	 "5758595a4142434445464748494a4b4c4d4e4f505152535455565758595a4142"
	 "434445464748494a4b4c4d4e4f505152535455565758595a4142434445464748"
	 "494a4b4c4d4e4f505152535455565758595a4142434445464748494a4b4c4d4e"
	 "4f505152535455565758595a4142434445464748494a4b4c4d4e4f5051525354"
	 "55565758595a4142434445464748494a4b4c4d4e4f505152535455565758595a"
	 "92a87061796d656e7473a8636865636b6f757494a47465616da87061796d656e"
	 "7473a474696572a4676f6c6401cd012c"},
	/* no namespaces (all), no labels, no credentials, the default period */
	{"cluster_put_bare", {.type = PROTO_CMD_CLUSTER_PUT, .ts_ms = 7, .idem_key = "",
	                      .u.cluster = {"cl-1", "kind", "https://127.0.0.1:6443", "dev", "local", "", "", NULL, 0,
	                                    NULL, 0, 0, 0}},
	 "95010407a09ba4636c2d31a46b696e64b668747470733a2f2f3132372e302e30"
	 "2e313a36343433a3646576a56c6f63616ca0a09090000000"},
	{"cluster_delete", {.type = PROTO_CMD_CLUSTER_DELETE, .ts_ms = 1700000000005, .idem_key = "cluster:cl-7f3a:del",
	                    .u.cluster_id = "cl-7f3a"},
	 "950105cf0000018bcfe56805b3636c75737465723a636c2d376633613a64656c"
	 "91a7636c2d3766336100000000000000"},
	{"lease", {.type = PROTO_CMD_LEASE, .ts_ms = 1700000000006, .idem_key = "lease:collect:cl-7f3a",
	           .u.lease = {"collect:cl-7f3a", 0x0123456789abcdefULL, 15000}},
	 "950106cf0000018bcfe56806b56c656173653a636f6c6c6563743a636c2d3766"
	 "336193af636f6c6c6563743a636c2d37663361cf0123456789abcdefcd3a9800"},
	/* small integers take the short msgpack forms */
	{"lease_small", {.type = PROTO_CMD_LEASE, .ts_ms = 200, .idem_key = "", .u.lease = {"alerting", 3, 70000}},
	 "950106ccc8a093a8616c657274696e6703ce000111700000"},
	{"jobs_queue", {.type = PROTO_CMD_JOBS_QUEUE, .ts_ms = 1700000000007, .idem_key = "jobs:schedule:1",
	                .u.jobs = {job_ids, job_clusters, N(job_ids), N(job_clusters), "schedule"}},
	 "950107cf0000018bcfe56807af6a6f62733a7363686564756c653a319392a86a"
	 "6f622d30303031a86a6f622d3030303292a7636c2d37663361a7636c2d396232"
	 "63a87363686564756c65000000000000"},
	{"jobs_queue_manual", {.type = PROTO_CMD_JOBS_QUEUE, .ts_ms = 8, .idem_key = "",
	                       .u.jobs = {job_one_id, job_one_cluster, 1, 1, "manual"}},
	 "95010708a09391a86a6f622d3030303391a4636c2d31a66d616e75616c000000"},
	{"jobs_queue_empty", {.type = PROTO_CMD_JOBS_QUEUE, .ts_ms = 9, .idem_key = "",
	                      .u.jobs = {NULL, NULL, 0, 0, "schedule"}},
	 "95010709a0939090a87363686564756c6500000000000000"},
	/* a node id with the top bit set: an unsigned 64-bit integer */
	{"job_start", {.type = PROTO_CMD_JOB_START, .ts_ms = 1700000000008, .idem_key = "job:job-0002:start",
	               .u.job_start = {"job-0002", "cl-9b2c", 0x8000000000000001ULL}},
	 "950108cf0000018bcfe56808b26a6f623a6a6f622d303030323a737461727493"
	 "a86a6f622d30303032a7636c2d39623263cf8000000000000001000000000000"},
	{"collect_result", {.type = PROTO_CMD_COLLECT_RESULT, .ts_ms = 1700000000009, .idem_key = "job:job-0001:done",
	                    .n_obs = 2, .obs = obs_two,
	                    .u.collect = {"job-0001", "cl-7f3a", "failed",
	                                  "forbidden: cannot list pods in namespace checkout", 2, 1700000000000,
	                                  1700000009876}},
	 "950109cf0000018bcfe56809b16a6f623a6a6f622d303030313a646f6e6598a8"
	 "6a6f622d30303031a7636c2d37663361a66661696c6564d931666f7262696464"
	 "656e3a2063616e6e6f74206c69737420706f647320696e206e616d6573706163"
	 "6520636865636b6f757402cf0000018bcfe56800cf0000018bcfe58e94929ba9"
	 "61636d652d70726f64aa70726f64756374696f6ea87061796d656e7473aa4465"
	 "706c6f796d656e74ac636865636b6f75742d617069a3617070b9726567697374"
	 "72792e61636d652e696f2f7061796d656e7473ac636865636b6f75742d617069"
	 "a776322e31342e33d9477368613235363a396638366430383138383463376436"
	 "3539613266656161306335356164303135613362663466316232623062383232"
	 "6364313564366331356230663030613038cf0000018bcfe5687b9ba961636d65"
	 "2d70726f64a773746167696e67ab6b7562652d73797374656da94461656d6f6e"
	 "536574ad6e6f64652d6578706f72746572a86578706f72746572b2717561792e"
	 "696f2f70726f6d657468657573ad6e6f64652d6578706f72746572a5312e372e"
	 "30d9477368613235363a32633236623436623638666663363866663939623435"
	 "3363316433303431333431333432326437303634383362666130663938613565"
	 "38383632363665376165cf0000018bcfec60550000000000"},
	/* a run that saw nothing */
	{"collect_result_empty", {.type = PROTO_CMD_COLLECT_RESULT, .ts_ms = 10, .idem_key = "",
	                          .u.collect = {"job-0003", "cl-1", "success", "", 1, 1000, 2000}},
	 "9501090aa098a86a6f622d30303033a4636c2d31a773756363657373a001cd03"
	 "e8cd07d090000000"},
	{"member_put", {.type = PROTO_CMD_MEMBER_PUT, .ts_ms = 1700000000010, .idem_key = "member:node-eu-1",
	                .u.member = {0xfedcba9876543210ULL, "node-eu-1", "eu-west-1", "10.0.1.17:7001",
	                             "tcp://10.0.1.17:7101", "10.0.1.17:8001"}},
	 "95010acf0000018bcfe5680ab06d656d6265723a6e6f64652d65752d3196cffe"
	 "dcba9876543210a96e6f64652d65752d31a965752d776573742d31ae31302e30"
	 "2e312e31373a37303031b47463703a2f2f31302e302e312e31373a37313031ae"
	 "31302e302e312e31373a383030310000"},
	{"member_put_bare", {.type = PROTO_CMD_MEMBER_PUT, .ts_ms = 11, .idem_key = "",
	                     .u.member = {1, "n1", "", "127.0.0.1:7001", "tcp://127.0.0.1:7101", "127.0.0.1:8001"}},
	 "95010a0ba09601a26e31a0ae3132372e302e302e313a37303031b47463703a2f"
	 "2f3132372e302e302e313a37313031ae3132372e302e302e313a383030310000"},
	{"member_delete", {.type = PROTO_CMD_MEMBER_DELETE, .ts_ms = 1700000000011, .idem_key = "member:node-eu-1:del",
	                   .u.member_id = 0xfedcba9876543210ULL},
	 "95010bcf0000018bcfe5680bb46d656d6265723a6e6f64652d65752d313a6465"
	 "6c91cffedcba98765432100000000000"},
	{"member_delete_small", {.type = PROTO_CMD_MEMBER_DELETE, .ts_ms = 12, .idem_key = "", .u.member_id = 5},
	 "95010b0ca0910500"},
	{"webhook_put", {.type = PROTO_CMD_WEBHOOK_PUT, .ts_ms = 1700000000012, .idem_key = "webhook:wh-42:put",
	                 .u.webhook = {"wh-42", "https://hooks.acme.io/shiplog/deliveries?token=abc", webhook_events,
	                               N(webhook_events), "v1:hmac:c2hpcGxvZy13ZWJob29rLXNlY3JldC0wMDQy", "acme"}},
	 "95010ccf0000018bcfe5680cb1776562686f6f6b3a77682d34323a70757495a5"
	 "77682d3432d93268747470733a2f2f686f6f6b732e61636d652e696f2f736869"
	 "706c6f672f64656c697665726965733f746f6b656e3d61626393af72656c6561"
	 "73652e63726561746564af72656c656173652e75706461746564ac616c657274"
	 "2e726169736564d92c76313a686d61633a63326870634778765a7931335a574a"
	 "6f623239724c584e6c59334a6c644330774d445179a461636d65000000000000"},
	/* every event, every client (admin), no secret */
	{"webhook_put_bare", {.type = PROTO_CMD_WEBHOOK_PUT, .ts_ms = 13, .idem_key = "",
	                      .u.webhook = {"wh-1", "http://127.0.0.1:9000/", NULL, 0, "", ""}},
	 "95010c0da095a477682d31b6687474703a2f2f3132372e302e302e313a393030"
	 "302f90a0a0000000"},
	{"webhook_delete", {.type = PROTO_CMD_WEBHOOK_DELETE, .ts_ms = 1700000000013, .idem_key = "webhook:wh-42:del",
	                    .u.webhook_id = "wh-42"},
	 "95010dcf0000018bcfe5680db1776562686f6f6b3a77682d34323a64656c91a5"
	 "77682d3432000000"},
	{"webhook_progress", {.type = PROTO_CMD_WEBHOOK_PROGRESS, .ts_ms = 1700000000014, .idem_key = "wh-42:7",
	                      .u.delivery = {"wh-42", 123456789012ULL, 7, "release.created", 1, 200,
	                                     "200 after 2 redirects", 3, 1234}},
	 "95010ecf0000018bcfe5680ea777682d34323a3799a577682d3432cf0000001c"
	 "be991a1407af72656c656173652e6372656174656401ccc8b532303020616674"
	 "657220322072656469726563747303cd04d2000000000000"},
	/* a failed attempt that got no answer */
	{"webhook_progress_no_answer", {.type = PROTO_CMD_WEBHOOK_PROGRESS, .ts_ms = 14, .idem_key = "",
	                                .u.delivery = {"wh-1", 1, 0, "alert.raised", 0, 0,
	                                               "connect: connection refused", 1, 30000}},
	 "95010e0ea099a477682d310100ac616c6572742e7261697365640000bb636f6e"
	 "6e6563743a20636f6e6e656374696f6e207265667573656401cd753000000000"},
	{"alert", {.type = PROTO_CMD_ALERT, .ts_ms = 1700000000015, .idem_key = "alert:collect:cl-7f3a:ack",
	           .u.alert = {"collect:cl-7f3a", "acknowledge", "collection_failing", "critical",
	                       "collection of cluster prod-eu-west failed 3 times", "acme", "alice@acme.io"}},
	 "95010fcf0000018bcfe5680fb9616c6572743a636f6c6c6563743a636c2d3766"
	 "33613a61636b97af636f6c6c6563743a636c2d37663361ab61636b6e6f776c65"
	 "646765b2636f6c6c656374696f6e5f6661696c696e67a8637269746963616cd9"
	 "31636f6c6c656374696f6e206f6620636c75737465722070726f642d65752d77"
	 "657374206661696c656420332074696d6573a461636d65ad616c696365406163"
	 "6d652e696f000000"},
	{"alert_raise", {.type = PROTO_CMD_ALERT, .ts_ms = 15, .idem_key = "",
	                 .u.alert = {"ping:acme:production", "raise", "client_offline", "warning", "no ping for 300s",
	                             "", ""}},
	 "95010f0fa097b470696e673a61636d653a70726f64756374696f6ea572616973"
	 "65ae636c69656e745f6f66666c696e65a77761726e696e67b06e6f2070696e67"
	 "20666f722033303073a0a00000000000"},
};

static void run_cmd_case(void **state)
{
	const struct cmd_case *k = *state;
	uint32_t version = 0;
	assert_int_equal(proto_cmd_encode(&k->cmd, &held.enc), PROTO_OK);
	assert_bytes_hex(k->name, held.enc.data, held.enc.len, k->hex);

	held.golden = hex_decode(k->hex, &held.golden_len);
	assert_int_equal(proto_format_version(held.golden, held.golden_len, &version), PROTO_OK);
	assert_int_equal(version, PROTO_VERSION);
	assert_false(proto_is_batch(held.golden, held.golden_len));
	assert_int_equal(proto_cmd_decode(held.golden, held.golden_len, &held.cmd), PROTO_OK);
	assert_cmd_eq(&k->cmd, &held.cmd);
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

/* A type (or member operation) added to proto.h without a golden case fails here. */
static void every_type_has_a_case(void **state)
{
	(void)state;
	for (uint32_t t = 1; t < PROTO_CMD_TYPE_MAX_; t++) {
		size_t i = 0;
		while (i < N(cmd_cases) && cmd_cases[i].cmd.type != t) {
			i++;
		}
		if (i == N(cmd_cases)) {
			fail_msg("command type %u has no golden case", t);
		}
	}
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

/* ---- one cmocka test per case ---- */

#define N_CASES (1 + N(cmd_cases) + N(msg_cases) + N(result_cases) + N(batch_cases) + N(results_cases))

static struct CMUnitTest tests[N_CASES];
static char names[N_CASES][64];
static size_t n_tests;

static void add(const char *kind, const char *name, CMUnitTestFunction f, const void *k)
{
	snprintf(names[n_tests], sizeof(names[n_tests]), "%s %s", kind, name);
	tests[n_tests] = (struct CMUnitTest){
		.name = names[n_tests], .test_func = f, .teardown_func = release_held, .initial_state = (void *)k};
	n_tests++;
}

int main(void)
{
	add("coverage", "every_type", every_type_has_a_case, NULL);
	for (size_t i = 0; i < N(cmd_cases); i++) {
		add("cmd", cmd_cases[i].name, run_cmd_case, &cmd_cases[i]);
	}
	for (size_t i = 0; i < N(msg_cases); i++) {
		add("msg", msg_cases[i].name, run_msg_case, &msg_cases[i]);
	}
	for (size_t i = 0; i < N(result_cases); i++) {
		add("result", result_cases[i].name, run_result_case, &result_cases[i]);
	}
	for (size_t i = 0; i < N(batch_cases); i++) {
		add("batch", batch_cases[i].name, run_batch_case, &batch_cases[i]);
	}
	for (size_t i = 0; i < N(results_cases); i++) {
		add("results", results_cases[i].name, run_results_case, &results_cases[i]);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
