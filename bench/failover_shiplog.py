#!/usr/bin/python3
"""failover_shiplog.py - leader kill -9 under a steady writer, for a shiplog cluster (stdlib only).

usage: failover_shiplog.py --ports 29101,29102,29103 --pids P1,P2,P3 --key ADMIN_KEY [--trial 1]
                           [--pre 2.0] [--post 4.0] [--interval 0.01] [--timeout 4.0]

The same measurement as ../shared/bench/peers/failover.py does for etcd, written for shiplog's API:
an open-loop writer starts one write every INTERVAL seconds (100/s by default), each on its own
thread and fresh TCP connection, round-robin over the nodes (a node that refuses a connection leaves
the rotation). Each write is PUT /api/collect/failover/Deployment/fo<TRIAL>/c with a distinct
image_tag and its own Idempotency-Key. After PRE seconds the leader (GET /health: raft.state) is sent
SIGKILL; writes go on for POST seconds, then in-flight writes are awaited (<= TIMEOUT + 1 s).

first_ack_after_kill_ms = first acknowledgement of a write SENT after the kill, minus the kill time
gap_ms                  = that acknowledgement minus the last acknowledgement received before the kill
Afterwards every acknowledged image_tag must be in the component's history (linearizable read on a
survivor). Prints one line: RESULT {json}
"""
import argparse
import http.client
import json
import os
import signal
import sys
import threading
import time
import uuid

ap = argparse.ArgumentParser()
ap.add_argument("--ports", required=True)
ap.add_argument("--pids", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--trial", type=int, default=1)
ap.add_argument("--pre", type=float, default=2.0)
ap.add_argument("--post", type=float, default=4.0)
ap.add_argument("--interval", type=float, default=0.01)
ap.add_argument("--timeout", type=float, default=4.0)
a = ap.parse_args()

PORTS = [int(p) for p in a.ports.split(",")]
PIDS = dict(zip(PORTS, (int(p) for p in a.pids.split(","))))
AUTH = {"Authorization": "Bearer " + a.key}
PATH = f"/api/collect/failover/Deployment/fo{a.trial}/c"
SHA = "sha256:" + "0123456789abcdef" * 4
RUN = uuid.uuid4().hex[:8]


def call(port, method, path, body=None, headers=None, timeout=2.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = dict(AUTH)
        h.update(headers or {})
        c.request(method, path, body, h)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def health(port):
    try:
        st, body = call(port, "GET", "/health", timeout=1.0)
        return json.loads(body)["raft"] if st == 200 else None
    except (OSError, ValueError, KeyError):
        return None


def find_leader(ports):
    for p in ports:
        h = health(p)
        if h and h.get("state") == "leader":
            return p, h.get("term")
    return None, None


leader_port, term0 = find_leader(PORTS)
if leader_port is None:
    sys.exit("failover_shiplog.py: no leader found")
pid = PIDS[leader_port]
if open(f"/proc/{pid}/comm").read().strip() != "shiplogd":
    sys.exit(f"failover_shiplog.py: pid {pid} is not shiplogd")

lock = threading.Lock()
live = list(PORTS)
recs = []  # (seq, port, t_send, t_done, ok, err)
inflight = [0]


def writer(seq, port):
    t_send = time.monotonic()
    ok, err = False, ""
    tag = f"fo.{a.trial}.{RUN}.{seq:06d}"
    body = json.dumps({"image_tag": tag, "image_sha": SHA, "image_repo": "registry.local:5000/bench/app",
                       "client_name": "bench", "env_name": "failover"})
    try:
        st, resp = call(port, "PUT", PATH, body, {"Content-Type": "application/json",
                                                  "Idempotency-Key": f"fo-{RUN}-{a.trial}-{seq}"}, a.timeout)
        ok = st == 200
        if not ok:
            try:
                err = f"http{st}:" + json.loads(resp)["error"]["code"]
            except (ValueError, KeyError, TypeError):
                err = f"http{st}"
    except ConnectionRefusedError:
        err = "refused"
        with lock:
            if port in live and len(live) > 1:
                live.remove(port)
    except OSError as e:
        err = type(e).__name__
    t_done = time.monotonic()
    with lock:
        recs.append((seq, port, t_send, t_done, ok, err, tag))
        inflight[0] -= 1


t0 = time.monotonic()
t_kill = None
threads, seq = [], 0
max_writes = int((a.pre + a.post) / a.interval) + 1
while seq < max_writes:
    now = time.monotonic()
    if t_kill is None and now - t0 >= a.pre:
        os.kill(pid, signal.SIGKILL)
        t_kill = time.monotonic()
    if now - t0 >= a.pre + a.post:
        break
    with lock:
        port = live[seq % len(live)]
        busy = inflight[0] >= 1500
        if not busy:
            inflight[0] += 1
    if not busy:
        th = threading.Thread(target=writer, args=(seq, port), daemon=True)
        th.start()
        threads.append(th)
    seq += 1
    d = t0 + seq * a.interval - time.monotonic()
    if d > 0:
        time.sleep(d)
end = time.monotonic() + a.timeout + 1
for th in threads:
    th.join(max(0.0, end - time.monotonic()))

with lock:
    R = list(recs)
acks = [r for r in R if r[4]]
before = [r[3] for r in acks if r[3] < t_kill]
after_sent = [r[3] for r in acks if r[2] > t_kill]
after_any = [r[3] for r in acks if r[3] >= t_kill]
last_before = max(before) if before else None
first_after = min(after_sent) if after_sent else None
first_any = min(after_any) if after_any else None
ms = lambda x: None if x is None else round(x * 1000, 1)  # noqa: E731
errs = {}
for r in R:
    if not r[4]:
        errs[r[5]] = errs.get(r[5], 0) + 1

survivors = [p for p in PORTS if p != leader_port]
new_port, term1 = None, None
deadline = time.monotonic() + 5
while new_port is None and time.monotonic() < deadline:
    new_port, term1 = find_leader(survivors)
    if new_port is None:
        time.sleep(0.1)

missing, stored = None, None
for p in survivors:
    try:
        st, body = call(p, "GET", f"/api/releases/history/bench/failover/failover/fo{a.trial}/c?consistency=linearizable",
                        timeout=10.0)
        if st != 200:
            continue
        have = {x["image_tag"] for x in json.loads(body)["releases"]}
        mine = {t for t in have if t.startswith(f"fo.{a.trial}.{RUN}.")}
        stored = len(mine)
        missing = sum(1 for r in acks if r[6] not in have)
        break
    except (OSError, ValueError, KeyError):
        continue

node_of = {p: f"n{i + 1}" for i, p in enumerate(PORTS)}
out = {
    "trial": a.trial, "killed": node_of[leader_port], "killed_pid": pid, "term_before": term0,
    "new_leader": node_of.get(new_port), "term_after": term1,
    "writes_started": len(threads), "writes_finished": len(R), "acked": len(acks),
    "last_ack_before_kill_ms": ms(last_before - t_kill) if last_before else None,
    "first_ack_after_kill_ms": ms(first_after - t_kill) if first_after else None,
    "gap_ms": ms(first_after - last_before) if first_after and last_before else None,
    "gap_any_ms": ms(first_any - last_before) if first_any and last_before else None,
    "errors": errs, "keys_stored": stored, "acked_keys_missing": missing,
}
print("RESULT " + json.dumps(out), flush=True)
