#include "cli/rt_db.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/timefmt.h"

#define SKIP_NO_SHA "no image_sha (the seed's migration 3 deletes such rows)"
#define SKIP_TIME "unreadable time"
#define SKIP_ORDER "last_seen before first_seen"

static char *column_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return strdup(t != NULL ? (const char *)t : "");
}

/* The seed writes Go's Format(RFC3339), in UTC or a local offset; its
 * DEFAULT CURRENT_TIMESTAMP columns hold "YYYY-MM-DD HH:MM:SS" in UTC. */
static int parse_time(const char *s, int64_t *ms)
{
	if (timefmt_parse(s, ms) == 0) {
		return 0;
	}
	char zoned[64];
	if (strlen(s) + 2 > sizeof(zoned)) {
		return -1;
	}
	snprintf(zoned, sizeof(zoned), "%sZ", s);
	return timefmt_parse(zoned, ms);
}

/* Room for one more item of size in *items (n used, *cap allocated); false if out of memory. */
static bool grow(void **items, size_t n, size_t *cap, size_t size, size_t first)
{
	if (n < *cap) {
		return true;
	}
	size_t c = *cap != 0 ? *cap * 2 : first;
	void *p = realloc(*items, c * size);
	if (p == NULL) {
		return false;
	}
	*items = p;
	*cap = c;
	return true;
}

static int has_column(sqlite3 *conn, const char *table, const char *column)
{
	char sql[128];
	snprintf(sql, sizeof(sql), "SELECT 1 FROM pragma_table_info('%s') WHERE name = ?", table);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(conn, sql, -1, &st, NULL) != SQLITE_OK) {
		return 0;
	}
	sqlite3_bind_text(st, 1, column, -1, SQLITE_STATIC);
	int found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

static int read_releases(sqlite3 *conn, struct rt_db *db)
{
	sqlite3_stmt *st;
	const char *sql = "SELECT id, client_name, env_name, namespace, workload_type, workload_name, container_name, "
	                  "image_repo, image_name, image_tag, image_sha, first_seen, last_seen FROM releases ORDER BY id";
	if (sqlite3_prepare_v2(conn, sql, -1, &st, NULL) != SQLITE_OK) {
		return -1;
	}
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		void *items = db->releases;
		bool ok = grow(&items, db->n_releases, &cap, sizeof(*db->releases), 1024);
		db->releases = items;
		if (!ok) {
			break;
		}
		struct rt_release *r = &db->releases[db->n_releases++];
		memset(r, 0, sizeof(*r));
		r->id = sqlite3_column_int64(st, 0);
		char **text[] = {&r->client, &r->env, &r->ns, &r->kind, &r->workload, &r->container,
		                 &r->image_repo, &r->image_name, &r->image_tag, &r->image_sha};
		for (int i = 0; i < 10; i++) {
			*text[i] = column_text(st, i + 1);
		}
		char *first = column_text(st, 11), *last = column_text(st, 12);
		if (r->image_sha == NULL || r->image_sha[0] == '\0') {
			r->skip = SKIP_NO_SHA;
		} else if (parse_time(first, &r->first_seen_ms) != 0 || parse_time(last, &r->last_seen_ms) != 0) {
			r->skip = SKIP_TIME;
		} else if (r->last_seen_ms < r->first_seen_ms) {
			r->skip = SKIP_ORDER;
		}
		free(first);
		free(last);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int read_pings(sqlite3 *conn, struct rt_db *db)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(conn, "SELECT client_name, env_name, slave_version, last_ping_time FROM slave_pings ORDER BY id",
	                       -1, &st, NULL) != SQLITE_OK) {
		return -1;
	}
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		void *items = db->pings;
		bool ok = grow(&items, db->n_pings, &cap, sizeof(*db->pings), 64);
		db->pings = items;
		if (!ok) {
			break;
		}
		struct rt_ping *p = &db->pings[db->n_pings++];
		memset(p, 0, sizeof(*p));
		p->client = column_text(st, 0);
		p->env = column_text(st, 1);
		p->version = column_text(st, 2); /* NULL in the table: "" */
		char *at = column_text(st, 3);
		if (parse_time(at, &p->last_ping_ms) != 0) {
			p->skip = SKIP_TIME;
		}
		free(at);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static size_t count_rows(sqlite3 *conn, const char *sql)
{
	sqlite3_stmt *st;
	size_t n = 0;
	if (sqlite3_prepare_v2(conn, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		n = (size_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return n;
}

int rt_db_read(const char *path, struct rt_db *db, char *why, size_t cap)
{
	sqlite3 *conn = NULL;
	memset(db, 0, sizeof(*db));
	if (sqlite3_open_v2(path, &conn, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		snprintf(why, cap, "cannot open %s: %s", path, conn != NULL ? sqlite3_errmsg(conn) : "out of memory");
		sqlite3_close(conn);
		return -1;
	}
	int rv = -1;
	if (!has_column(conn, "releases", "image_sha") || !has_column(conn, "slave_pings", "last_ping_time")) {
		snprintf(why, cap, "%s is not a Release Tracker database (after its migrations 1-3: releases with image_sha, "
		                   "slave_pings)", path);
	} else if (read_releases(conn, db) != 0 || read_pings(conn, db) != 0) {
		snprintf(why, cap, "cannot read %s: %s", path, sqlite3_errmsg(conn));
	} else {
		if (has_column(conn, "pending_releases", "id")) {
			db->n_pending = count_rows(conn, "SELECT count(*) FROM pending_releases");
		}
		rv = 0;
	}
	sqlite3_close(conn);
	if (rv != 0) {
		rt_db_free(db);
	}
	return rv;
}

void rt_db_free(struct rt_db *db)
{
	for (size_t i = 0; i < db->n_releases; i++) {
		struct rt_release *r = &db->releases[i];
		char *text[] = {r->client, r->env, r->ns, r->kind, r->workload, r->container,
		                r->image_repo, r->image_name, r->image_tag, r->image_sha};
		for (int k = 0; k < 10; k++) {
			free(text[k]);
		}
	}
	for (size_t i = 0; i < db->n_pings; i++) {
		free(db->pings[i].client);
		free(db->pings[i].env);
		free(db->pings[i].version);
	}
	free(db->releases);
	free(db->pings);
	memset(db, 0, sizeof(*db));
}
