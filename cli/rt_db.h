/* Reading a Release Tracker database (rogosprojects/krelease-tracker,
 * internal/database/migrations.go: the tables as migrations 1-3 leave
 * them) with libsqlite3, read-only. */
#ifndef SHIPLOG_CLI_RT_DB_H
#define SHIPLOG_CLI_RT_DB_H

#include <stddef.h>
#include <stdint.h>

/* One row of `releases`, times parsed to UTC ms. */
struct rt_release {
	int64_t id;
	char *client, *env, *ns, *kind, *workload, *container;
	char *image_repo, *image_name, *image_tag, *image_sha;
	int64_t first_seen_ms, last_seen_ms;
	const char *skip; /* why the row is not imported, NULL to import it */
};

/* One row of `slave_pings`. */
struct rt_ping {
	char *client, *env, *version;
	int64_t last_ping_ms;
	const char *skip;
};

struct rt_db {
	struct rt_release *releases;
	size_t n_releases;
	struct rt_ping *pings;
	size_t n_pings;
	size_t n_pending; /* rows of pending_releases (a slave's queue: not imported) */
};

/* Reads every release, ping and the pending count of the database at path.
 * 0 on success; -1 with the reason in why (cap bytes) when the file is not a
 * readable Release Tracker database. */
int rt_db_read(const char *path, struct rt_db *db, char *why, size_t cap);

void rt_db_free(struct rt_db *db);

#endif
