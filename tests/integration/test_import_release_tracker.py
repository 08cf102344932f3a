"""`shiplog import release-tracker FILE.db` into a 3-node cluster.

The database is built with the Release Tracker's schema as its migrations
leave it (rt_db.py, from internal/database/migrations.go): several clients,
environments and workload kinds, histories with rollbacks (the seed keeps
one row per digest, so a rollback stretches the old row), times in the
formats the seed writes, pings, a row without a digest, and a slave's
pending row. Every release's history and every ping are read back on every
node; a second import writes nothing; an import killed half-way and run
again ends in the same state."""

import json
import os
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest

import harness as H
import rt_db

CLI = H.CLI
BASE = datetime(2024, 1, 1, tzinfo=timezone.utc)


def at(days, fmt="z"):
    """A time as the seed stores it: Go's Format(RFC3339) in UTC or with a
    local offset, or SQLite's CURRENT_TIMESTAMP form."""
    t = BASE + timedelta(days=days)
    if fmt == "z":
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    if fmt == "offset":
        return (t + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+01:00")
    return t.strftime("%Y-%m-%d %H:%M:%S")


def sha(tag):
    return "sha256:" + (tag.encode().hex() * 64)[:64]


def build_db(path, prefix, n_components=6):
    """Fills a seed database; returns (expected histories, expected pings)."""
    conn = rt_db.create(path)
    expected = {}
    kinds = ["Deployment", "StatefulSet", "DaemonSet"]
    fmts = ["z", "offset", "sqlite"]
    for c in range(n_components):
        client = f"{prefix}-client{c % 2}"
        env = ["prod", "staging", "dev"][c % 3]
        comp = (client, env, f"ns{c % 2}", f"app{c}", "main")
        kind = kinds[c % 3]
        # A 1.0 -> 1.1 -> 1.2 -> 1.0 (rollback): the seed stretches 1.0's row.
        spans = [("1.1", 10, 19), ("1.2", 20, 29), ("1.0", 0, 40 + c)]
        if c % 2:
            spans = spans[:2]  # no rollback here: 1.2 is current
        rows = []
        for k, (tag, first, last) in enumerate(spans):
            f = fmts[(c + k) % 3]
            rt_db.add_release(conn, client_name=client, env_name=env, namespace=comp[2], workload_name=comp[3],
                              workload_type=kind, container_name=comp[4], image_repo="registry.local:5000/team",
                              image_name=f"app{c}", image_tag=tag, image_sha=sha(tag),
                              first_seen=at(first, f), last_seen=at(last, f))
            rows.append((tag, sha(tag), BASE + timedelta(days=first), BASE + timedelta(days=last), kind))
        expected[comp] = sorted(rows, key=lambda r: r[3], reverse=True)  # newest first
    # skipped: no digest (the seed's migration 3 deletes such rows)
    rt_db.add_release(conn, client_name=f"{prefix}-client0", env_name="prod", namespace="ns0", workload_name="nosha",
                      workload_type="Deployment", container_name="main", image_repo="", image_name="x",
                      image_tag="0.1", image_sha="", first_seen=at(1), last_seen=at(2))
    # skipped: text that is not UTF-8 (no JSON body can carry it)
    conn.execute("INSERT INTO releases (client_name, env_name, namespace, workload_name, workload_type, "
                 "container_name, image_repo, image_name, image_tag, image_sha, first_seen, last_seen) "
                 f"VALUES ('{prefix}-client0','prod','ns0','latin1','Deployment','main','','x',"
                 "CAST(X'ff41' AS TEXT),'sha256:ff','2024-01-01T00:00:00Z','2024-01-02T00:00:00Z')")
    pings = {}
    for c in range(2):
        client, env = f"{prefix}-client{c}", "prod"
        rt_db.add_ping(conn, client, env, at(50 + c, fmts[c]), slave_version="v1.0.0" if c == 0 else None)
        pings[(client, env)] = BASE + timedelta(days=50 + c)
    conn.execute("INSERT INTO pending_releases (client_name, env_name, namespace, workload_name, workload_type, "
                 "container_name, image_repo, image_name, image_tag, image_sha, first_seen, last_seen) "
                 "VALUES ('p','prod','ns','w','Deployment','c','','x','9','sha256:9','2024-01-01T00:00:00Z',"
                 "'2024-01-01T00:00:00Z')")
    conn.commit()
    conn.close()
    return expected, pings


def run_import(node, db, *extra, timeout=120):
    env = dict(os.environ, SHIPLOG_SERVER=node.url, SHIPLOG_API_KEY=H.ADMIN_KEY)
    p = subprocess.run([CLI, "--json", "import", "release-tracker", str(db), *extra], env=env,
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])


def state_of(cluster, node, expected, pings):
    """What node holds for the expected components and pings."""
    out = {}
    for (client, env, ns, wl, ctr) in expected:
        r = cluster.get(node, f"/api/releases/history/{client}/{env}/{ns}/{wl}/{ctr}",
                        params={"consistency": "linearizable"})
        assert r.status_code == 200, H.show(r)
        out[(client, env, ns, wl, ctr)] = [
            (e["image_tag"], e["image_sha"], H.parse_ts(e["first_seen"]), H.parse_ts(e["last_seen"]),
             e["workload_type"]) for e in r.json()["history"]["releases"]]
    ce = cluster.get(node, "/api/clients-environments", params={"consistency": "linearizable"}).json()
    for (client, env) in pings:
        ps = ce["ping_statuses"][client][env]
        out[("ping", client, env)] = H.parse_ts(ps["last_ping"])
    return out


def assert_imported(cluster, expected, pings):
    for node in H.NODE_NAMES:
        got = state_of(cluster, node, expected, pings)
        for comp, hist in expected.items():
            assert got[comp] == hist, (node, comp, got[comp], hist)
            client, env, ns, wl, ctr = comp
            cur = cluster.current(node, client, env, consistency="linearizable").json()
            row = next(r for r in cur["namespaces"][ns] if r["workload_name"] == wl and r["container_name"] == ctr)
            assert row["image_tag"] == hist[0][0], (node, comp, row)  # current: the newest release
        for (client, env), t in pings.items():
            assert got[("ping", client, env)] == t, (node, client, env)
    return got


def test_import_then_again(cluster, tmp_path):
    db = tmp_path / "releases.db"
    expected, pings = build_db(db, "imp")
    n_rows = sum(len(h) for h in expected.values())
    dry = subprocess.run([CLI, "--json", "import", "release-tracker", str(db), "--dry-run"],
                         capture_output=True, text=True, timeout=30,
                         env=dict(os.environ, SHIPLOG_SERVER="http://127.0.0.1:1"))
    assert dry.returncode == 0, dry.stderr
    assert len([ln for ln in dry.stdout.splitlines() if "registry.local" in ln or "app" in ln]) >= n_rows
    for (client, env, ns, wl, ctr) in expected:
        assert cluster.history("n1", H.Component(client, env, ns, wl, ctr)).status_code == 404  # dry: nothing
    s = run_import(cluster.nodes[cluster.followers()[0]], db, "--batch", "4")
    assert s["releases_read"] == n_rows + 2, s
    assert s["created"] == n_rows and s["unchanged"] == 0, s
    assert sum(s["skipped"].values()) == 2 and s["skipped"]["text that is not UTF-8"] == 1, s
    assert s["pings_read"] == 2 and s["pings_written"] == 2, s
    assert s["pending_skipped"] == 1, s
    first = assert_imported(cluster, expected, pings)
    # again: nothing written, the same state everywhere
    s = run_import(cluster.nodes[cluster.leader()], db, "--batch", "5")
    assert s["created"] == 0 and s["updated"] == 0 and s["unchanged"] == n_rows, s
    for node in H.NODE_NAMES:
        assert state_of(cluster, node, expected, pings) == first


@pytest.mark.shiplog_timeout(240)
def test_import_killed_half_way_then_rerun(cluster, tmp_path):
    db = tmp_path / "big.db"
    expected, pings = build_db(db, "kill", n_components=200)
    env = dict(os.environ, SHIPLOG_SERVER=cluster.nodes["n1"].url, SHIPLOG_API_KEY=H.ADMIN_KEY)
    p = subprocess.Popen([CLI, "import", "release-tracker", str(db), "--batch", "1"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def landed():
            b = cluster.get("n1", "/api/clients-environments").json()
            return sum(1 for c in b["clients_environments"] if c.startswith("kill-"))
        H.wait_until(lambda: landed() > 0 or p.poll() is not None, 30, what="the first batches")
        time.sleep(0.3)
        assert p.poll() is None, "the import finished before it could be killed: make it larger"
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
    s = run_import(cluster.nodes["n2"], db, "--batch", "1")
    n_rows = sum(len(h) for h in expected.values())
    assert 0 < s["created"] < n_rows, s  # some rows were written before the kill
    assert s["created"] + s["updated"] + s["unchanged"] == n_rows, s
    assert_imported(cluster, expected, pings)


def test_import_after_the_slaves_reported(cluster, tmp_path):
    """Slaves pointed at shiplog first: the current image they re-sent merges
    with its imported row, and older rows go below it."""
    db = tmp_path / "late.db"
    expected, pings = build_db(db, "late", n_components=2)
    comp = next(iter(expected))
    client, env, ns, wl, ctr = comp
    tag, digest, first, last, kind = expected[comp][0]
    resent = last + timedelta(days=5)  # the slave's sync after the switch
    r = cluster.put("n3", f"/api/collect/{ns}/{kind}/{wl}/{ctr}",
                    json={"image_tag": tag, "image_sha": digest, "image_repo": "registry.local:5000/team",
                          "image_name": wl, "client_name": client, "env_name": env,
                          "released_at": resent.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert r.status_code == 200, H.show(r)
    run_import(cluster.nodes["n1"], db)
    want = dict(expected)
    want[comp] = [(tag, digest, first, resent, kind)] + expected[comp][1:]
    assert_imported(cluster, want, pings)
