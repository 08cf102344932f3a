#!/usr/bin/python3
"""bench/auth_bench.py - what identity costs per request, measured on real nodes.

usage: bench/auth_bench.py   (after scripts/build.sh release; SHIPLOGD= another binary)

Starts a 3-node cluster of the release build on 127.0.0.1 (tests/integration/harness.py) with
the default Argon2id cost ([auth] password_ops 2, password_memory_kib 65536), then prints:

  login     POST /api/v1/auth/login: BENCH_LOGINS sequential logins (Argon2id check, a Raft
            write for the session, two JWTs signed), p50/p90 ms, and logins/s at 2 at once.
  reads     GET /api/releases/current on one node with wrk (BENCH_CONNS connections, BENCH_DUR s)
            with no credential check at all (/livez, for the floor), a key of cluster.toml, a
            managed API key (SHA-256, LMDB lookup) and a JWT (HS256 check, session and user
            lookups): requests/s, p50, and the node's CPU time per request (from /proc), whose
            difference to the cluster.toml key is what the credential costs per request (us).

Writes the table to bench/results/auth-<UTC timestamp>.txt. Stops everything by PID on exit.
"""
import datetime
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
os.environ.setdefault("SHIPLOGD", str(ROOT / "build-release" / "shiplogd"))
import harness as H  # noqa: E402

DUR = int(os.environ.get("BENCH_DUR", "8"))
CONNS = int(os.environ.get("BENCH_CONNS", "16"))
LOGINS = int(os.environ.get("BENCH_LOGINS", "30"))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def wrk(url, header):
    lua = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    lua.write('wrk.headers["Authorization"] = "%s"\n' % header if header else "")
    lua.close()
    out = subprocess.run(["wrk", "-t1", f"-c{CONNS}", f"-d{DUR}s", "--latency", "-s", lua.name, url],
                         capture_output=True, text=True, timeout=DUR + 30).stdout
    os.unlink(lua.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p50_ms = float(p50.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p50.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise SystemExit(f"wrk saw {bad.group(1)} failed responses:\n{out}")
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return rps, p50_ms, total


def main():
    c = H.Cluster(Path(tempfile.mkdtemp(prefix="shiplog-auth-bench-")), label="auth-bench")
    c.auth = {"password_ops": None, "password_memory_kib": None}  # the defaults
    c.write_config()
    lines = []

    def say(s=""):
        print(s, flush=True)
        lines.append(s)
    try:
        c.start_all()
        c.wait_leader()
        H.wait_until(lambda: c.post("n1", "/api/v1/auth/login", key=None, json={
            "username": "admin", "password": H.ADMIN_PASSWORD}).status_code == 200, 30, what="bootstrap admin")
        # login
        times = []
        for _ in range(LOGINS):
            t0 = time.perf_counter()
            r = c.post("n1", "/api/v1/auth/login", key=None, json={"username": "admin", "password": H.ADMIN_PASSWORD})
            times.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, H.show(r)
        token = r.json()["access_token"]
        done = []

        def loop(n):
            for _ in range(n):
                c.post("n1", "/api/v1/auth/login", key=None, json={"username": "admin", "password": H.ADMIN_PASSWORD})
                done.append(1)
        t0 = time.perf_counter()
        ths = [threading.Thread(target=loop, args=(LOGINS // 2,)) for _ in range(2)]
        [t.start() for t in ths]
        [t.join() for t in ths]
        par = len(done) / (time.perf_counter() - t0)
        times.sort()
        say(f"login (Argon2id ops=2 mem=64MiB, session write, 2 JWTs): p50 {statistics.median(times):.1f} ms, "
            f"p90 {times[int(len(times) * 0.9)]:.1f} ms, {par:.1f} logins/s at 2 at once")
        key = c.post("n1", "/api/v1/api-keys", json={"name": "bench", "scope": "read"}).json()["key"]
        c.collect("n1", "web", "Deployment", "shop", "app", H.release_body("v1", client="bench", env="prod"))
        node = c.nodes["n1"]
        read = node.url + "/api/releases/current?client_name=bench&env_name=prod"
        cases = [("no credential (/livez)", node.url + "/livez", None),
                 ("cluster.toml key", read, "Bearer " + H.ADMIN_KEY),
                 ("managed API key", read, "Bearer " + key),
                 ("JWT access token", read, "Bearer " + token)]
        say(f"reads on one node, wrk -t1 -c{CONNS} {DUR}s:")
        say(f"  {'credential':24} {'req/s':>9} {'p50 ms':>8} {'CPU us/req':>11} {'vs toml key':>12}")
        base = None
        for name, url, header in cases:
            cpu0 = cpu_seconds(node.proc.pid)
            rps, p50, total = wrk(url, header)
            us = (cpu_seconds(node.proc.pid) - cpu0) / total * 1e6
            if name == "cluster.toml key":
                base = us
            delta = f"{us - base:+.1f} us" if base is not None else ""
            say(f"  {name:24} {rps:9.0f} {p50:8.3f} {us:11.1f} {delta:>12}")
            if name == "JWT access token":
                jwt_rps = rps
            if name == "managed API key":
                key_rps = rps
        say(f"  JWT / managed API key throughput: {jwt_rps / key_rps:.2f}")
    finally:
        c.teardown()
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"auth-{datetime.datetime.utcnow():%Y%m%dT%H%M%SZ}.txt"
    path.write_text("\n".join(lines) + "\n")
    print("written", path)


if __name__ == "__main__":
    main()
