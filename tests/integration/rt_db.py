"""A Release Tracker database as its migrations leave it.

The schema follows rogosprojects/krelease-tracker internal/database/
migrations.go after versions 1-3 (written here from reading them): the
releases and pending_releases tables with image_sha and their unique key on
(namespace, workload_name, container_name, client_name, env_name,
image_sha), slave_pings, schema_migrations, and the indexes. Times are TEXT,
as the seed's Go code stores them."""

import sqlite3

SCHEMA = """
CREATE TABLE schema_migrations (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE slave_pings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_name TEXT NOT NULL,
    env_name TEXT NOT NULL,
    last_ping_time DATETIME NOT NULL,
    status TEXT NOT NULL DEFAULT 'online',
    slave_version TEXT,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    UNIQUE(client_name, env_name)
);
CREATE INDEX idx_slave_pings_last_ping ON slave_pings(last_ping_time);
CREATE INDEX idx_slave_pings_status ON slave_pings(status);
"""

RELEASE_TABLE = """
CREATE TABLE {name} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_name TEXT NOT NULL,
    env_name TEXT NOT NULL,
    namespace TEXT NOT NULL,
    workload_name TEXT NOT NULL,
    workload_type TEXT NOT NULL,
    container_name TEXT NOT NULL,
    image_repo TEXT NOT NULL,
    image_name TEXT NOT NULL,
    image_tag TEXT NOT NULL,
    image_sha TEXT NOT NULL DEFAULT '',
    first_seen DATETIME NOT NULL,
    last_seen DATETIME NOT NULL,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    UNIQUE(namespace, workload_name, container_name, client_name, env_name, image_sha)
);
"""

INDEXES = """
CREATE INDEX idx_releases_component ON releases(namespace, workload_name, container_name, client_name, env_name);
CREATE INDEX idx_releases_last_seen ON releases(last_seen);
CREATE INDEX idx_releases_namespace ON releases(namespace);
CREATE INDEX idx_pending_releases_created_at ON pending_releases(created_at);
"""

MIGRATIONS = [(1, "Initial schema"), (2, "Add image_sha column and update unique constraints"),
              (3, "Delete all releases without image SHA")]

FIELDS = ("client_name", "env_name", "namespace", "workload_name", "workload_type", "container_name",
          "image_repo", "image_name", "image_tag", "image_sha", "first_seen", "last_seen")


def create(path):
    """A new database at path with the seed's schema; returns the connection."""
    conn = sqlite3.connect(str(path))
    conn.executescript(SCHEMA + RELEASE_TABLE.format(name="releases") +
                       RELEASE_TABLE.format(name="pending_releases") + INDEXES)
    conn.executemany("INSERT INTO schema_migrations (version, description) VALUES (?, ?)", MIGRATIONS)
    return conn


def add_release(conn, **f):
    """One releases row; created_at/updated_at default to last_seen."""
    cols = list(FIELDS) + ["created_at", "updated_at"]
    vals = [f[k] for k in FIELDS] + [f.get("created_at", f["last_seen"]), f.get("updated_at", f["last_seen"])]
    conn.execute(f"INSERT INTO releases ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", vals)


def add_ping(conn, client, env, last_ping_time, slave_version=None):
    """One slave_pings row, as UpsertSlavePing writes it."""
    conn.execute("INSERT INTO slave_pings (client_name, env_name, last_ping_time, status, slave_version, "
                 "created_at, updated_at) VALUES (?, ?, ?, 'online', ?, ?, ?)",
                 (client, env, last_ping_time, slave_version, last_ping_time, last_ping_time))
