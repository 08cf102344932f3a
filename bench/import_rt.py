#!/usr/bin/python3
"""bench/import_rt.py - `shiplog import release-tracker` speed on a large database.

usage: bench/import_rt.py [ROWS]      (default 100000; needs build-release/, scripts/build.sh release)

Builds a Release Tracker database with the seed's schema (tests/integration/rt_db.py) holding
ROWS releases (2000 clients/environments x components, 5 versions each, times in the seed's
formats) and 1000 pings, starts a fresh 3-node shiplog cluster of the release build on
127.0.0.1 (the integration harness, fsync on), imports it through a follower at two batch sizes
(each into its own fresh cluster), runs the import a second time (nothing to write), and checks
one component's history on every node. Prints rows/s for each run. Everything it starts is
stopped by PID on exit.
"""
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
os.environ.setdefault("SHIPLOGD", str(ROOT / "build-release" / "shiplogd"))
import harness as H  # noqa: E402
import rt_db  # noqa: E402

CLI = str(ROOT / "build-release" / "cli" / "shiplog")
VERSIONS = 5


def build(path, rows):
    conn = rt_db.create(path)
    rng = random.Random(7)
    n_comp = rows // VERSIONS
    base = 1_700_000_000
    for c in range(n_comp):
        client, env = f"client{c % 40}", ["prod", "staging", "dev", "qa", "perf"][c % 5]
        t = base + rng.randrange(0, 3_000_000)
        for v in range(VERSIONS):
            first, last = t, t + rng.randrange(60, 86400)
            t = last + 1
            iso = lambda s: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s))  # noqa: E731
            rt_db.add_release(conn, client_name=client, env_name=env, namespace=f"ns{c % 7}",
                              workload_name=f"app{c}", workload_type="Deployment", container_name="main",
                              image_repo="registry.example.com/team", image_name=f"app{c}",
                              image_tag=f"1.{v}.0", image_sha="sha256:%064x" % rng.getrandbits(256),
                              first_seen=iso(first), last_seen=iso(last))
    for p in range(1000):
        rt_db.add_ping(conn, f"client{p % 40}", f"env{p}", time.strftime("%Y-%m-%dT%H:%M:%SZ"), "v1.0.0")
    conn.commit()
    conn.close()
    return n_comp * VERSIONS


def run_import(node, db, batch):
    env = dict(os.environ, SHIPLOG_SERVER=node.url, SHIPLOG_API_KEY=H.ADMIN_KEY)
    t0 = time.monotonic()
    p = subprocess.run([CLI, "--json", "import", "release-tracker", str(db), "--batch", str(batch)], env=env,
                       capture_output=True, text=True, timeout=1800)
    secs = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit(f"import failed: {p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1]), secs


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    for tool in (CLI, os.environ["SHIPLOGD"]):
        if not os.access(tool, os.X_OK):
            sys.exit(f"{tool} missing: run scripts/build.sh release")
    work = Path(tempfile.mkdtemp(prefix="import-bench-"))
    db = work / "releases.db"
    t0 = time.monotonic()
    n = build(db, rows)
    print(f"database: {n} releases, 1000 pings, {db.stat().st_size / 1e6:.1f} MB, built in "
          f"{time.monotonic() - t0:.1f} s")
    results = []
    for batch in (500, 2000):
        c = H.Cluster(work / f"cluster-b{batch}", label=f"import-{batch}")
        c.write_config()
        try:
            c.start_all()
            fol = c.nodes[c.followers()[0]]
            s, secs = run_import(fol, db, batch)
            assert s["created"] == n, s
            again, secs2 = run_import(fol, db, batch)
            assert again["created"] == 0 and again["updated"] == 0, again
            for name in H.NODE_NAMES:
                r = c.get(name, "/api/releases/history/client0/prod/ns0/app0/main",
                          params={"consistency": "linearizable"})
                assert r.status_code == 200 and len(r.json()["history"]["releases"]) == VERSIONS, r.text[:300]
            results.append((batch, secs, n / secs, secs2, n / secs2))
        finally:
            c.teardown()
    print(f"\n{'batch':>6} {'import s':>9} {'rows/s':>9} {'again s':>8} {'rows/s':>9}")
    for batch, secs, rate, secs2, rate2 in results:
        print(f"{batch:>6} {secs:>9.1f} {rate:>9.0f} {secs2:>8.1f} {rate2:>9.0f}")


if __name__ == "__main__":
    main()
