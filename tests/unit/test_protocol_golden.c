/* Pins the wire bytes of every command protocol/ encodes today, so mixed versions keep working
 * (messages, results and batches: test_protocol_golden_msgs.c). */
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

static void assert_one_obs_eq(const struct proto_observation *a, const struct proto_observation *b)
{
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

static void assert_obs_eq(const struct proto_cmd *w, const struct proto_cmd *g)
{
	assert_int_equal(g->n_obs, w->n_obs);
	if (w->n_obs == 0) {
		assert_null(g->obs);
	}
	for (uint32_t i = 0; i < w->n_obs; i++) {
		assert_one_obs_eq(&w->obs[i], &g->obs[i]);
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
	case PROTO_CMD_IMPORT:
		assert_int_equal(b->u.import.n_rows, a->u.import.n_rows);
		assert_int_equal(b->u.import.n_pings, a->u.import.n_pings);
		for (uint32_t i = 0; i < a->u.import.n_rows; i++) {
			assert_one_obs_eq(&a->u.import.rows[i].obs, &b->u.import.rows[i].obs);
			assert_int_equal(b->u.import.rows[i].last_seen_ms, a->u.import.rows[i].last_seen_ms);
		}
		for (uint32_t i = 0; i < a->u.import.n_pings; i++) {
			assert_str_eq(a->u.import.pings[i].client, b->u.import.pings[i].client);
			assert_str_eq(a->u.import.pings[i].env, b->u.import.pings[i].env);
			assert_str_eq(a->u.import.pings[i].version, b->u.import.pings[i].version);
			assert_int_equal(b->u.import.pings[i].at_ms, a->u.import.pings[i].at_ms);
		}
		break;
	case PROTO_CMD_PRUNE:
		assert_int_equal(b->u.prune.history_keep, a->u.prune.history_keep);
		assert_int_equal(b->u.prune.history_before_ms, a->u.prune.history_before_ms);
		assert_int_equal(b->u.prune.jobs_keep, a->u.prune.jobs_keep);
		assert_int_equal(b->u.prune.jobs_before_ms, a->u.prune.jobs_before_ms);
		assert_int_equal(b->u.prune.max_deletes, a->u.prune.max_deletes);
		break;
	case PROTO_CMD_USER_PUT:
		assert_str_eq(a->u.user.id, b->u.user.id);
		assert_str_eq(a->u.user.username, b->u.user.username);
		assert_str_eq(a->u.user.email, b->u.user.email);
		assert_str_eq(a->u.user.full_name, b->u.user.full_name);
		assert_str_eq(a->u.user.role, b->u.user.role);
		assert_str_eq(a->u.user.client, b->u.user.client);
		assert_str_eq(a->u.user.pw_hash, b->u.user.pw_hash);
		assert_int_equal(b->u.user.active, a->u.user.active);
		assert_int_equal(b->u.user.create, a->u.user.create);
		break;
	case PROTO_CMD_USER_DELETE:
		assert_str_eq(a->u.user_id, b->u.user_id);
		break;
	case PROTO_CMD_APIKEY_PUT:
		assert_str_eq(a->u.apikey.id, b->u.apikey.id);
		assert_str_eq(a->u.apikey.name, b->u.apikey.name);
		assert_str_eq(a->u.apikey.description, b->u.apikey.description);
		assert_str_eq(a->u.apikey.scope, b->u.apikey.scope);
		assert_str_eq(a->u.apikey.hash, b->u.apikey.hash);
		assert_str_eq(a->u.apikey.prefix, b->u.apikey.prefix);
		assert_str_eq(a->u.apikey.owner, b->u.apikey.owner);
		assert_int_equal(b->u.apikey.expires_ms, a->u.apikey.expires_ms);
		break;
	case PROTO_CMD_APIKEY_DELETE:
		assert_str_eq(a->u.apikey_id, b->u.apikey_id);
		break;
	case PROTO_CMD_SIGNING_KEY:
		assert_str_eq(a->u.signing.kid, b->u.signing.kid);
		assert_str_eq(a->u.signing.sealed, b->u.signing.sealed);
		assert_int_equal(b->u.signing.overlap_ms, a->u.signing.overlap_ms);
		break;
	case PROTO_CMD_SESSION:
		assert_int_equal(b->u.session.op, a->u.session.op);
		assert_str_eq(a->u.session.family, b->u.session.family);
		assert_str_eq(a->u.session.user_id, b->u.session.user_id);
		assert_str_eq(a->u.session.jti, b->u.session.jti);
		assert_str_eq(a->u.session.new_jti, b->u.session.new_jti);
		assert_int_equal(b->u.session.expires_ms, a->u.session.expires_ms);
		break;
	case PROTO_CMD_KEYS_USED:
		assert_int_equal(b->u.keys_used.n, a->u.keys_used.n);
		for (uint32_t i = 0; i < a->u.keys_used.n; i++) {
			assert_str_eq(a->u.keys_used.uses[i].id, b->u.keys_used.uses[i].id);
			assert_int_equal(b->u.keys_used.uses[i].at_ms, a->u.keys_used.uses[i].at_ms);
		}
		break;
	case PROTO_CMD_PRUNE_IDENTITY:
		assert_int_equal(b->u.prune_identity.sessions_before_ms, a->u.prune_identity.sessions_before_ms);
		assert_int_equal(b->u.prune_identity.audit_keep, a->u.prune_identity.audit_keep);
		assert_int_equal(b->u.prune_identity.audit_before_ms, a->u.prune_identity.audit_before_ms);
		assert_int_equal(b->u.prune_identity.max_deletes, a->u.prune_identity.max_deletes);
		break;
	default:
		fail_msg("command type %u has no comparison", w->type);
	}
	if (w->origin.actor == NULL) {
		assert_null(g->origin.actor);
	} else {
		assert_str_eq(w->origin.actor, g->origin.actor);
		assert_str_eq(w->origin.node, g->origin.node);
		assert_str_eq(w->origin.addr, g->origin.addr);
		assert_str_eq(w->origin.request_id, g->origin.request_id);
	}
}

static struct proto_key_use uses_two[] = {{"k018c0000000abc", 1700000000000}, {"k018c0000000def", 1700000005000}};

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

/* An imported Release Tracker row (first and last sighting) and ping. */
static struct proto_import_row import_rows[] = {
	{{"acme", "prod", "default", "Deployment", "web", "app", "docker.io", "nginx", "1.21.0", "sha256:ab",
	  1701426600000},
	 1701445500000},
};
static struct proto_ping import_pings[] = {{"acme", "prod", "v1.0.0", 1701445200000}};

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
	{"import", {.type = PROTO_CMD_IMPORT, .ts_ms = 16, .idem_key = "rt-import-1",
	            .u.import = {import_rows, 1, import_pings, 1}},
	 "95011010ab72742d696d706f72742d3192919ca461636d65a470726f64a76465"
	 "6661756c74aa4465706c6f796d656e74a3776562a3617070a9646f636b65722e"
	 "696fa56e67696e78a6312e32312e30a97368613235363a6162cf0000018c24ed"
	 "9840cf0000018c260dfc609194a461636d65a470726f64a676312e302e30cf00"
	 "00018c2609688000"},
	{"prune", {.type = PROTO_CMD_PRUNE, .ts_ms = 17, .idem_key = "retention:1",
	           .u.prune = {100, 1690000000000, 10000, 1699000000000, 5000}},
	 "95011111ab726574656e74696f6e3a319564cf000001897bd98400cd2710cf00"
	 "00018b944a9e00cd1388000000000000"},
	{"user_put", {.type = PROTO_CMD_USER_PUT, .ts_ms = 18, .idem_key = "k:u1",
	              .u.user = {"u-admin", "admin", "ops@acme.io", "Administrator", "admin", "",
	                         "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA", 1, 1}},
	 "95031212a46b3a753199a7752d61646d696ea561646d696eab6f70734061636d"
	 "652e696fad41646d696e6973747261746f72a561646d696ea0d92c246172676f"
	 "6e32696424763d3139246d3d36353533362c743d322c703d3124633246736441"
	 "246147467a6141010100000000000000"},
	{"user_delete", {.type = PROTO_CMD_USER_DELETE, .ts_ms = 19, .idem_key = "", .u.user_id = "u-old"}, "95031313a091a5752d6f6c6400000000"},
	{"apikey_put", {.type = PROTO_CMD_APIKEY_PUT, .ts_ms = 20, .idem_key = "k:a1",
	                .u.apikey = {"k018c0000000abc", "ci", "pipeline writes", "client:acme-prod",
	                             "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "shp_AbCdEfGh",
	                             "user:u-admin", 1800000000000}},
	 "95031414a46b3a613198af6b3031386330303030303030616263a26369af7069"
	 "70656c696e6520777269746573b0636c69656e743a61636d652d70726f64d940"
	 "3966383664303831383834633764363539613266656161306335356164303135"
	 "6133626634663162326230623832326364313564366331356230663030613038"
	 "ac7368705f4162436445664768ac757365723a752d61646d696ecf000001a318"
	 "5c50000000000000"},
	{"apikey_delete", {.type = PROTO_CMD_APIKEY_DELETE, .ts_ms = 21, .idem_key = "", .u.apikey_id = "k018c0000000abc"},
	 "95031515a091af6b30313863303030303030306162630000"},
	{"signing_key", {.type = PROTO_CMD_SIGNING_KEY, .ts_ms = 22, .idem_key = "identity:1:1",
	                 .u.signing = {"kid-1", "v1:c2VhbGVk", 3600000}},
	 "95031616ac6964656e746974793a313a3193a56b69642d31ab76313a63325668"
	 "6247566bce0036ee8000000000000000"},
	{"session", {.type = PROTO_CMD_SESSION, .ts_ms = 23, .idem_key = "",
	             .u.session = {PROTO_SESSION_ROTATE, "fam-1", "u-admin", "jti-1", "jti-2", 1700604800000}},
	 "95031717a09602a566616d2d31a7752d61646d696ea56a74692d31a56a74692d"
	 "32cf0000018bf3f1ec00000000000000"},
	{"keys_used", {.type = PROTO_CMD_KEYS_USED, .ts_ms = 24, .idem_key = "", .u.keys_used = {uses_two, 2}}, "95031818a0919292af6b3031386330303030303030616263cf0000018bcfe568"
	 "0092af6b3031386330303030303030646566cf0000018bcfe57b880000000000"},
	{"prune_identity", {.type = PROTO_CMD_PRUNE_IDENTITY, .ts_ms = 26, .idem_key = "retention:identity:1",
	                    .u.prune_identity = {1700000000000, 1000000, 1690000000000, 5000}},
	 "9503191ab4726574656e74696f6e3a6964656e746974793a3194cf0000018bcf"
	 "e56800ce000f4240cf000001897bd98400cd138800000000"},
	/* the origin (audit) rides as a sixth element; commands without one keep their bytes */
	{"origin", {.type = PROTO_CMD_USER_DELETE, .ts_ms = 25, .idem_key = "k:d", .u.user_id = "u-old",
	            .origin = {"user:u-admin", "n1", "127.0.0.1", "n1-42"}},
	 "96031319a36b3a6491a5752d6f6c6494ac757365723a752d61646d696ea26e31"
	 "a93132372e302e302e31a56e312d3432"},
};

static void run_cmd_case(void **state)
{
	const struct cmd_case *k = *state;
	uint32_t version = 0;
	assert_int_equal(proto_cmd_encode(&k->cmd, &held.enc), PROTO_OK);
	assert_bytes_hex(k->name, held.enc.data, held.enc.len, k->hex);

	held.golden = hex_decode(k->hex, &held.golden_len);
	assert_int_equal(proto_format_version(held.golden, held.golden_len, &version), PROTO_OK);
	assert_int_equal(version, k->cmd.type >= PROTO_CMD_USER_PUT || k->cmd.origin.actor != NULL ? PROTO_CMD_VERSION_IDENTITY
	                                                                                          : PROTO_VERSION);
	assert_false(proto_is_batch(held.golden, held.golden_len));
	assert_int_equal(proto_cmd_decode(held.golden, held.golden_len, &held.cmd), PROTO_OK);
	assert_cmd_eq(&k->cmd, &held.cmd);
}

/* A command type added to proto.h without a golden case fails here. */
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
}

int main(void)
{
	golden_add("coverage", "every_type", every_type_has_a_case, NULL);
	for (size_t i = 0; i < N(cmd_cases); i++) {
		golden_add("cmd", cmd_cases[i].name, run_cmd_case, &cmd_cases[i]);
	}
	return golden_run();
}
