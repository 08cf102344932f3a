/* Seed inputs for the snapshot and entryzip fuzzers, made by the tree's own
 * code: a store with releases, pings, a cluster and a job, its snapshot raw
 * and compressed, and compressed entries of real commands.
 * Usage: make_seeds DIR (writes DIR/snapshot/... and DIR/entryzip/...). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "protocol/proto.h"
#include "raft/entryzip.h"
#include "raft/snapzip.h"
#include "store/store.h"

static void put(const char *dir, const char *sub, const char *name, const void *p, size_t n)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static uint64_t index_;

static void apply(store *s, struct proto_cmd *c, const char *dir, const char *name)
{
	struct proto_buf b;
	struct proto_result r;
	struct entryzip_buf z = {0};
	if (c->idem_key == NULL) {
		c->idem_key = "";
	}
	if (proto_cmd_encode(c, &b) != PROTO_OK || store_apply(s, ++index_, b.data, b.len, &r) != PROTO_OK) {
		fprintf(stderr, "cannot apply %s\n", name);
		exit(1);
	}
	put(dir, "entryzip", name, b.data, b.len);
	size_t packed = entryzip_pack(b.data, b.len, &z);
	if (packed > 0) {
		char zname[96];
		snprintf(zname, sizeof(zname), "%s.lz4", name);
		put(dir, "entryzip", zname, z.p, packed);
	}
	entryzip_buf_free(&z);
	proto_buf_free(&b);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_seeds DIR\n");
		return 2;
	}
	const char *dir = argv[1];
	char sdir[512], err[256];
	mkdir(dir, 0755);
	snprintf(sdir, sizeof(sdir), "%s/store", dir);
	mkdir(sdir, 0755);
	store *s;
	if (store_open(&s, sdir, 64u << 20, err, sizeof(err)) != PROTO_OK) {
		fprintf(stderr, "store_open: %s\n", err);
		return 1;
	}
	struct proto_observation obs[24];
	char tags[24][16], names[24][16];
	for (int i = 0; i < 24; i++) {
		snprintf(tags[i], sizeof(tags[i]), "1.%d.0", i % 5);
		snprintf(names[i], sizeof(names[i]), "svc-%d", i);
		obs[i] = (struct proto_observation){"acme-prod", "production", i % 2 ? "payments" : "default", "Deployment",
		                                    names[i], "app", "registry.acme.io/team", names[i], tags[i],
		                                    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		                                    1700000000000 + i * 1000};
	}
	struct proto_cmd c = {.type = PROTO_CMD_OBSERVE, .ts_ms = 1700000000000, .n_obs = 24, .obs = obs};
	apply(s, &c, dir, "observe");
	c = (struct proto_cmd){.type = PROTO_CMD_PING, .ts_ms = 1700000001000, .idem_key = "k:ping-1"};
	c.ping = (struct proto_ping){"acme-prod", "production", "1.4.2", 1700000001000};
	apply(s, &c, dir, "ping");
	const char *ns[] = {"production"};
	c = (struct proto_cmd){.type = PROTO_CMD_CLUSTER_PUT, .ts_ms = 1700000002000};
	c.u.cluster = (struct proto_cluster){"c1", "kind-prod", "https://10.0.0.1:6443", "acme-prod", "production", "token",
	                                     "v1:c2VhbGVk", ns, 1, NULL, 0, 0, 60};
	apply(s, &c, dir, "cluster");
	const char *ids[] = {"j00000000001"}, *clusters[] = {"c1"};
	c = (struct proto_cmd){.type = PROTO_CMD_JOBS_QUEUE, .ts_ms = 1700000003000};
	c.u.jobs = (struct proto_jobs){ids, clusters, 1, 1, "manual"};
	apply(s, &c, dir, "jobs");
	c = (struct proto_cmd){.type = PROTO_CMD_PRUNE, .ts_ms = 1700000004000};
	c.u.prune = (struct proto_prune){3, 0, 100, 0, 1000};
	apply(s, &c, dir, "prune");
	/* identity: a user, a key, a signing key and a session, with an origin (audit) */
	c = (struct proto_cmd){.type = PROTO_CMD_USER_PUT, .ts_ms = 1700000005000,
	                       .origin = {"config:admin", "n1", "127.0.0.1", "n1-1"}};
	c.u.user = (struct proto_user){"u1", "alice", "alice@acme.io", "Alice", "operator", "acme-prod",
	                               "$argon2id$v=19$m=8192,t=1,p=1$c2FsdA$aGFzaA", 1, 1};
	apply(s, &c, dir, "user");
	c = (struct proto_cmd){.type = PROTO_CMD_APIKEY_PUT, .ts_ms = 1700000006000};
	c.u.apikey = (struct proto_apikey){"k1", "ci", "", "client:acme-prod",
	                                   "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
	                                   "shp_abcdefgh", "user:u1", 0};
	apply(s, &c, dir, "apikey");
	c = (struct proto_cmd){.type = PROTO_CMD_SIGNING_KEY, .ts_ms = 1700000007000};
	c.u.signing = (struct proto_signing_key){"kid1", "v1:c2VhbGVk", 0};
	apply(s, &c, dir, "signing");
	c = (struct proto_cmd){.type = PROTO_CMD_SESSION, .ts_ms = 1700000008000};
	c.u.session = (struct proto_session){PROTO_SESSION_START, "fam1", "u1", "jti1", "", 1700604800000};
	apply(s, &c, dir, "session");

	struct store_snapshot *snap;
	void *data, *z;
	size_t len, zlen;
	if (store_snapshot_open(s, &snap) != PROTO_OK || store_snapshot_serialize(snap, &data, &len) != PROTO_OK) {
		fprintf(stderr, "cannot snapshot\n");
		return 1;
	}
	store_snapshot_close(snap);
	put(dir, "snapshot", "state.raw", data, len);
	if (repl_snapshot_compress(data, len, &z, &zlen) != 0) {
		return 1;
	}
	put(dir, "snapshot", "state.lz4", z, zlen);
	free(z);
	free(data);
	store_close(s);
	return 0;
}
