/* The unit tests' Raft cluster of real FSMs over temporary stores (see cluster.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/lib/cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/lib/tmpdir.h"

static struct cluster *current; /* started and not yet freed */

static void node_applied(void *data, uint64_t index)
{
	(void)index;
	((struct cluster_node *)data)->applied++;
}

static void node_snapshot(void *data)
{
	((struct cluster_node *)data)->snapshots++;
}

static void node_restored(void *data)
{
	((struct cluster_node *)data)->restores++;
}

/* The fixture's hook, after every step (those of raft_fixture_step_until_*
 * included): the leader-side repair, as the node's tick runs it. */
static void after_step(struct raft_fixture *f, struct raft_fixture_event *event)
{
	struct cluster *c = (struct cluster *)f; /* f is c's first member */
	(void)event;
	if (!c->probefix) {
		return;
	}
	for (unsigned i = 0; i < f->n; i++) {
		struct cluster_node *nd = &c->nodes[i];
		struct raft *r = raft_fixture_get(f, i);
		if (!raft_fixture_alive(f, i)) {
			continue;
		}
		if (r->current_term != nd->probefix_term) {
			repl_probe_fix_reset(&nd->probefix);
			nd->probefix_term = r->current_term;
		}
		repl_probe_fix(&nd->probefix, r, r->id);
	}
}

unsigned cluster_grow(struct cluster *c)
{
	unsigned i = c->f.n;
	struct cluster_node *nd = &c->nodes[i];
	char err[256];
	assert_true(i < CLUSTER_MAX);
	memset(nd, 0, sizeof(*nd));
	nd->c = c;
	nd->index = i;
	assert_int_equal(tmpdir_make(nd->dir, sizeof(nd->dir), "cluster"), 0);
	assert_int_equal(store_open(&nd->store, nd->dir, CLUSTER_MAP_SIZE, err, sizeof(err)), PROTO_OK);
	struct repl_fsm_hooks hooks = {.data = nd, .on_applied = node_applied, .on_snapshot = node_snapshot,
	                               .on_restored = node_restored};
	repl_fsm_init(&nd->fsm, nd->store, &hooks);
	/* The fixture's ioInit sets every method, async_work included, but not
	 * the version; raft_init refuses snapshot_async on an io below 2. */
	c->f.servers[i].io.version = 2;
	assert_int_equal(raft_fixture_grow(&c->f, &nd->fsm.raft_fsm), 0);
	struct raft *r = raft_fixture_get(&c->f, i);
	assert_true(r->io->version >= 2);
	assert_non_null(r->io->async_work); /* queued by the call, run by a later step */
	nd->fsm.raft = r;
	cluster_set_snapshot(c, i, CLUSTER_SNAPSHOT_THRESHOLD, CLUSTER_SNAPSHOT_TRAILING);
	return i;
}

struct cluster *cluster_start(unsigned n, unsigned n_voting)
{
	struct cluster *c = calloc(1, sizeof(*c)); /* zeroed: raft_fixture_initialize leaves f.n alone */
	struct raft_configuration conf;
	assert_non_null(c);
	assert_null(current); /* one at a time */
	assert_int_equal(raft_fixture_initialize(&c->f), 0);
	current = c;
	raft_fixture_hook(&c->f, after_step);
	for (unsigned i = 0; i < n; i++) {
		cluster_grow(c);
	}
	assert_int_equal(raft_fixture_configuration(&c->f, n_voting, &conf), 0);
	assert_int_equal(raft_fixture_bootstrap(&c->f, &conf), 0);
	raft_configuration_close(&conf);
	assert_int_equal(raft_fixture_start(&c->f), 0);
	assert_true(cluster_step_until_leader(c, CLUSTER_WAIT_MS));
	return c;
}

int cluster_teardown(void **state)
{
	(void)state;
	if (current != NULL) {
		cluster_free(current);
	}
	return 0;
}

void cluster_free(struct cluster *c)
{
	if (c == current) {
		current = NULL;
	}
	raft_fixture_close(&c->f);
	for (unsigned i = 0; i < c->f.n; i++) {
		struct cluster_node *nd = &c->nodes[i];
		repl_fsm_close(&nd->fsm);
		if (nd->store != NULL) {
			store_close(nd->store);
		}
		if (nd->dir[0] != '\0') {
			assert_int_equal(tmpdir_remove(nd->dir), 0);
		}
	}
	free(c);
}

void cluster_set_snapshot(struct cluster *c, unsigned i, unsigned threshold, unsigned trailing)
{
	struct raft *r = cluster_raft(c, i);
	raft_set_snapshot_threshold(r, threshold);
	raft_set_snapshot_trailing(r, trailing);
}

void cluster_set_probefix(struct cluster *c, bool on)
{
	c->probefix = on;
}

struct raft *cluster_raft(struct cluster *c, unsigned i)
{
	assert_true(i < c->f.n);
	return raft_fixture_get(&c->f, i);
}

struct cluster_node *cluster_node(struct cluster *c, unsigned i)
{
	assert_true(i < c->f.n);
	return &c->nodes[i];
}

unsigned cluster_leader_index(struct cluster *c)
{
	unsigned i = raft_fixture_leader_index(&c->f);
	assert_true(i < c->f.n);
	assert_true(raft_fixture_alive(&c->f, i));
	return i;
}

struct raft *cluster_leader(struct cluster *c)
{
	return raft_fixture_get(&c->f, cluster_leader_index(c));
}

/* The fixture updates its leader after a step: right after a kill it still
 * names the dead one. */
static bool has_live_leader(struct raft_fixture *f, void *arg)
{
	(void)arg;
	unsigned i = raft_fixture_leader_index(f);
	return i < f->n && raft_fixture_alive(f, i);
}

bool cluster_step_until_leader(struct cluster *c, unsigned max_ms)
{
	return raft_fixture_step_until(&c->f, has_live_leader, NULL, max_ms);
}

bool cluster_step_until_applied(struct cluster *c, unsigned i, raft_index index, unsigned max_ms)
{
	assert_true(i < c->f.n);
	return raft_fixture_step_until_applied(&c->f, i, index, max_ms);
}

struct all_applied {
	struct cluster *c;
	struct raft *l; /* whose configuration says who must apply */
	raft_index index;
};

/* Whether server i counts for "every live member": alive, and a voter or
 * standby of l's configuration (spares get no entries). */
static bool is_live_member(struct cluster *c, struct raft *l, unsigned i)
{
	int role = cluster_role_of(l, raft_fixture_get(&c->f, i)->id);
	return raft_fixture_alive(&c->f, i) && (role == RAFT_VOTER || role == RAFT_STANDBY);
}

static bool all_applied(struct raft_fixture *f, void *arg)
{
	struct all_applied *a = arg;
	for (unsigned i = 0; i < f->n; i++) {
		if (is_live_member(a->c, a->l, i) && raft_last_applied(raft_fixture_get(f, i)) < a->index) {
			return false;
		}
	}
	return true;
}

bool cluster_step_until_all_applied(struct cluster *c, raft_index index, unsigned max_ms)
{
	struct all_applied a = {c, cluster_leader(c), index};
	return raft_fixture_step_until(&c->f, all_applied, &a, max_ms);
}

void cluster_step_for(struct cluster *c, unsigned ms)
{
	raft_fixture_step_until_elapsed(&c->f, ms);
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
	struct cluster *c = req->data;
	(void)result;
	c->apply_status = status;
}

static bool apply_done(struct raft_fixture *f, void *arg)
{
	(void)f;
	return ((struct cluster *)arg)->apply_status != -1;
}

raft_index cluster_propose(struct cluster *c, const struct proto_cmd *cmd)
{
	struct proto_buf enc;
	assert_int_equal(proto_cmd_encode(cmd, &enc), PROTO_OK);
	struct raft_buffer buf;
	buf.len = (enc.len + 7) & ~(size_t)7; /* 0.15.0 asserts a multiple of 8 */
	buf.base = raft_malloc(buf.len);
	assert_non_null(buf.base);
	memset(buf.base, 0, buf.len);
	memcpy(buf.base, enc.data, enc.len);
	proto_buf_free(&enc);

	struct raft *l = cluster_leader(c);
	c->apply.data = c;
	c->apply_status = -1;
	assert_int_equal(raft_apply(l, &c->apply, &buf, 1, apply_cb), 0);
	raft_index index = raft_last_index(l);
	assert_true(raft_fixture_step_until(&c->f, apply_done, c, CLUSTER_WAIT_MS));
	assert_int_equal(c->apply_status, 0);
	struct all_applied a = {c, l, index};
	assert_true(raft_fixture_step_until(&c->f, all_applied, &a, CLUSTER_WAIT_MS));
	c->proposals++;
	return index;
}

raft_index cluster_ping(struct cluster *c, const char *client, const char *env)
{
	char version[32];
	snprintf(version, sizeof(version), "v%llu", (unsigned long long)c->proposals);
	int64_t at = 1000000 + (int64_t)c->proposals * 1000;
	struct proto_cmd cmd = {.type = PROTO_CMD_PING, .ts_ms = at, .idem_key = ""};
	cmd.ping = (struct proto_ping){client, env, version, at};
	return cluster_propose(c, &cmd);
}

raft_index cluster_observe(struct cluster *c, const char *ns, const char *workload, const char *tag)
{
	char sha[40];
	snprintf(sha, sizeof(sha), "sha256:%llu", (unsigned long long)c->proposals);
	int64_t at = 1000000 + (int64_t)c->proposals * 1000;
	struct proto_observation o = {"prod", "p", ns, "Deployment", workload, "app", "docker.io", workload, tag, sha, at};
	struct proto_cmd cmd = {.type = PROTO_CMD_OBSERVE, .ts_ms = at, .idem_key = "", .n_obs = 1, .obs = &o};
	return cluster_propose(c, &cmd);
}

raft_index cluster_propose_n(struct cluster *c, unsigned n)
{
	raft_index last = 0;
	for (unsigned k = 0; k < n; k++) {
		char name[32], tag[32];
		uint64_t seq = c->proposals;
		if (seq % 2 == 0) {
			snprintf(name, sizeof(name), "env%llu", (unsigned long long)(seq % 5));
			last = cluster_ping(c, "prod", name);
		} else {
			snprintf(name, sizeof(name), "web%llu", (unsigned long long)(seq % 7));
			snprintf(tag, sizeof(tag), "1.%llu", (unsigned long long)seq);
			last = cluster_observe(c, "default", name, tag);
		}
	}
	return last;
}

void cluster_kill(struct cluster *c, unsigned i)
{
	assert_true(i < c->f.n);
	raft_fixture_kill(&c->f, i);
}

void cluster_revive(struct cluster *c, unsigned i)
{
	assert_true(i < c->f.n);
	raft_fixture_revive(&c->f, i);
}

void cluster_disconnect(struct cluster *c, unsigned i)
{
	assert_true(i < c->f.n);
	for (unsigned j = 0; j < c->f.n; j++) {
		if (j != i) {
			raft_fixture_disconnect(&c->f, i, j);
			raft_fixture_disconnect(&c->f, j, i);
		}
	}
}

void cluster_reconnect(struct cluster *c, unsigned i)
{
	assert_true(i < c->f.n);
	for (unsigned j = 0; j < c->f.n; j++) {
		if (j != i) {
			raft_fixture_reconnect(&c->f, i, j);
			raft_fixture_reconnect(&c->f, j, i);
		}
	}
}

uint64_t cluster_store_applied(struct cluster *c, unsigned i)
{
	return store_applied(cluster_node(c, i)->store);
}

/* Server i's whole state, serialized as a snapshot (malloc'd). */
static void serialize(struct cluster *c, unsigned i, void **data, size_t *len)
{
	struct store_snapshot *snap;
	assert_int_equal(store_snapshot_open(cluster_node(c, i)->store, &snap), PROTO_OK);
	assert_int_equal(store_snapshot_serialize(snap, data, len), PROTO_OK);
	store_snapshot_close(snap);
}

bool cluster_same_state(struct cluster *c, unsigned i, unsigned j)
{
	void *a, *b;
	size_t alen, blen;
	serialize(c, i, &a, &alen);
	serialize(c, j, &b, &blen);
	bool same = alen == blen && memcmp(a, b, alen) == 0;
	free(a);
	free(b);
	return same;
}

void cluster_assert_converged(struct cluster *c)
{
	unsigned li = cluster_leader_index(c);
	struct raft *l = raft_fixture_get(&c->f, li);
	uint64_t applied = cluster_store_applied(c, li);
	for (unsigned i = 0; i < c->f.n; i++) {
		if (i == li || !is_live_member(c, l, i)) {
			continue;
		}
		if (cluster_store_applied(c, i) != applied || !cluster_same_state(c, li, i)) {
			fail_msg("server %u (applied %llu) differs from the leader %u (applied %llu)", i,
			         (unsigned long long)cluster_store_applied(c, i), li, (unsigned long long)applied);
		}
	}
}

const struct raft_server *cluster_server_in(struct raft *r, raft_id id)
{
	for (unsigned i = 0; i < r->configuration.n; i++) {
		if (r->configuration.servers[i].id == id) {
			return &r->configuration.servers[i];
		}
	}
	return NULL;
}

int cluster_role_of(struct raft *r, raft_id id)
{
	const struct raft_server *s = cluster_server_in(r, id);
	return s != NULL ? s->role : -1;
}

unsigned cluster_voters(struct raft *r)
{
	unsigned n = 0;
	for (unsigned i = 0; i < r->configuration.n; i++) {
		n += r->configuration.servers[i].role == RAFT_VOTER;
	}
	return n;
}

void cluster_change_cb(struct raft_change *req, int status)
{
	struct cluster *c = req->data;
	c->change_status = status;
}

static bool change_done(struct raft_fixture *f, void *arg)
{
	(void)f;
	return ((struct cluster *)arg)->change_status != -1;
}

struct raft_change *cluster_change_begin(struct cluster *c)
{
	c->change.data = c;
	c->change_status = -1;
	return &c->change;
}

int cluster_change_wait(struct cluster *c)
{
	assert_true(raft_fixture_step_until(&c->f, change_done, c, CLUSTER_WAIT_MS));
	return c->change_status;
}

size_t cluster_place_input(struct cluster *c, const char *const *regions, struct repl_place_member *m)
{
	struct raft *l = cluster_leader(c);
	raft_index last = raft_last_index(l);
	assert_true(l->configuration.n <= CLUSTER_MAX);
	for (unsigned i = 0; i < l->configuration.n; i++) {
		const struct raft_server *sv = &l->configuration.servers[i];
		unsigned at = (unsigned)sv->id - 1; /* fixture ids are index + 1 */
		bool alive = raft_fixture_alive(&c->f, at);
		bool caught_up = sv->id == l->id || l->leader_state.progress[i].match_index == last;
		m[i] = (struct repl_place_member){sv->id, sv->role, regions[at], alive, alive && caught_up};
	}
	return l->configuration.n;
}

int cluster_place_until_done(struct cluster *c, const char *const *regions, unsigned max_voters,
                             struct repl_place_step *taken, int cap)
{
	for (int steps = 0; steps < cap; steps++) {
		struct repl_place_member m[CLUSTER_MAX];
		size_t n = cluster_place_input(c, regions, m);
		struct repl_place_step s = repl_place_next(m, n, max_voters, cluster_leader(c)->id);
		if (s.action == REPL_PLACE_NONE) {
			return steps;
		}
		taken[steps] = s;
		struct raft_change *req = cluster_change_begin(c);
		int role = s.action == REPL_PLACE_PROMOTE ? RAFT_VOTER : RAFT_STANDBY;
		assert_int_equal(raft_assign(cluster_leader(c), req, s.id, role, cluster_change_cb), 0);
		assert_int_equal(cluster_change_wait(c), 0);
	}
	fail_msg("placement did not settle");
	return -1;
}

static void transfer_cb(struct raft_transfer *req)
{
	struct cluster *c = req->data;
	c->transferred = true;
}

static bool transfer_done(struct raft_fixture *f, void *arg)
{
	(void)f;
	return ((struct cluster *)arg)->transferred;
}

int cluster_transfer(struct cluster *c, struct raft *r, raft_id id)
{
	c->transfer.data = c;
	c->transferred = false;
	return raft_transfer(r, &c->transfer, id, transfer_cb);
}

void cluster_transfer_wait(struct cluster *c)
{
	assert_true(raft_fixture_step_until(&c->f, transfer_done, c, CLUSTER_WAIT_MS));
}
