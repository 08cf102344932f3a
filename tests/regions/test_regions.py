"""Three emulated regions: latency, a cut-off minority region, a far standby.

Topology (network namespaces of tests/jepsen/net.py with the layout
"slr" / 10.78.0.0/24, so it can run beside a jepsen run on "slj" /
10.77.0.0/24):

    region east : n1, n2        voters
    region west : n3, n4        voters
    region far  : n5 (voter), n6 (standby: joins with --join while
                  [autopilot] max_voters = 5, so it replicates without voting)

Every node's cluster.toml table has its `region`.  Inter-region delay is
emulated with NFQUEUE (tests/jepsen/nfqdelay.py, through Net.set_delay with
`peers`): each node delays the packets it sends to nodes of other regions by
D ms, so the round trip between regions is 2*D; nothing within a region.  The
client (this process) is on the bridge with no delay to any node: it is "next
to" whichever node it talks to.

The test
  1. starts n1..n5, joins n6 (checks it is a standby in region far), moves
     leadership to n1 (east);
  2. prints the latency of sequential PUT /api/collect writes through n1 for
     D = 0, 20, 40 ms (median, p99), also as JSON in the test's tmp dir;
  3. with D = 40: a stale read of current releases on n6 answers locally
     (X-Shiplog-Node n6) at an index >= an acknowledged write's index
     (?index=&wait=); stale vs linearizable read latency on n6 is printed,
     not asserted;
  4. cuts region west off (iptables DROP between west and the rest): writes
     through east keep being acknowledged, a write in west is not;
  5. heals and checks that every write acknowledged during the test is in
     /api/releases/current on all six nodes, and that n6 is still a standby;
  6. no node crashed and no sanitizer/assertion line is in any log.

Root only (namespaces, iptables); skipped otherwise.  SHIPLOGD selects the
binary (default build/shiplogd).  About 35 s; hard limit HARD_LIMIT_S.

    sudo SHIPLOGD=build/shiplogd /usr/bin/python3 -m pytest -s tests/regions/test_regions.py
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import signal
import statistics
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "jepsen"))

import db as dbmod  # noqa: E402
import net as netmod  # noqa: E402

LAYOUT = netmod.Layout(prefix="slr", subnet="10.78.0", max_nodes=6)
REGIONS = {"east": ("n1", "n2"), "west": ("n3", "n4"), "far": ("n5", "n6")}
REGION_OF = {n: r for r, ns in REGIONS.items() for n in ns}
VOTERS = ("n1", "n2", "n3", "n4", "n5")
STANDBY = "n6"
DELAYS_MS = (0, 20, 40)
WRITES_PER_DELAY = 40
WARMUP_WRITES = 3
READS = 20
CUT_SECONDS = 5.0
HARD_LIMIT_S = 170
LOCK_PATH = "/run/lock/shiplog-regions.lock" if os.path.isdir("/run/lock") \
    else "/tmp/shiplog-regions.lock"
LOCK_WAIT_S = 60
AUTH = {"Authorization": f"Bearer {dbmod.ADMIN_KEY}"}
CLIENT, ENV = "regions-client", "prod"


class HardLimit(BaseException):
    pass


def _skip_reason():
    ok, why = netmod.available()
    if not ok:
        return why
    if not os.path.exists(dbmod.SHIPLOGD):
        return f"shiplogd not found at {dbmod.SHIPLOGD} (set SHIPLOGD)"
    return None


def pctl(xs, p):
    """Nearest-rank percentile of a non-empty list."""
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100.0 * len(s)) - 1)]


def index_of(r):
    v = r.headers.get("X-Shiplog-Index")
    return int(v) if v is not None else None


def show(r):
    return f"{r.status_code} {dict((k, v) for k, v in r.headers.items() if k.lower().startswith('x-shiplog'))} " \
           f"{r.text[:300]!r}"


class Client:
    """HTTP to the nodes from the root namespace (keep-alive per node)."""

    def __init__(self, d):
        self.d = d
        self.sessions = {}

    def url(self, node, path):
        return self.d.nodes[node].url + path

    def s(self, node):
        if node not in self.sessions:
            self.sessions[node] = requests.Session()
        return self.sessions[node]

    def put_release(self, node, ns, workload, tag, idem, timeout=8.0):
        body = {"image_tag": tag, "image_sha": "sha256:" + uuid.uuid5(uuid.NAMESPACE_URL, tag).hex * 2,
                "image_repo": "docker.io", "image_name": "app",
                "client_name": CLIENT, "env_name": ENV}
        return self.s(node).put(self.url(node, f"/api/collect/{ns}/Deployment/{workload}/app"),
                                json=body, headers={**AUTH, "Idempotency-Key": idem},
                                timeout=(2.0, timeout))

    def current(self, node, *, index=None, consistency=None, timeout=8.0):
        params = {"client_name": CLIENT, "env_name": ENV}
        if index is not None:
            params.update(index=str(index), wait="5s")
        if consistency:
            params["consistency"] = consistency
        return self.s(node).get(self.url(node, "/api/releases/current"), params=params,
                                headers=AUTH, timeout=(2.0, timeout))

    def cluster(self, node):
        r = self.s(node).get(self.url(node, "/api/v1/cluster"), headers=AUTH, timeout=(2.0, 5.0))
        return r.json() if r.status_code == 200 else None

    def close(self):
        for s in self.sessions.values():
            s.close()


def error_code(r):
    try:
        return (r.json().get("error") or {}).get("code")
    except ValueError:
        return None


def wait_for(fn, timeout, what, interval=0.1):
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
            if last:
                return last
        except (requests.RequestException, ValueError, KeyError, TypeError) as e:
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last {last!r}")
        time.sleep(interval)


def present(doc, ns, workload):
    """The (image_tag) of workload in namespace ns of a /api/releases/current answer."""
    for e in (doc.get("namespaces") or {}).get(ns, []):
        if e.get("workload_name") == workload:
            return e.get("image_tag")
    return None


def set_region_delay(net, delay_ms, run_dir):
    for n in net.names:
        others = [p for p in net.names if REGION_OF[p] != REGION_OF[n]]
        if delay_ms > 0:
            net.set_delay(n, delay_ms, run_dir=str(run_dir), peers=others)
        else:
            net.clear_delay(n)


def test_regions(tmp_path):
    why = _skip_reason()
    if why:
        pytest.skip(why)
    t_start = time.monotonic()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    results_path = tmp_path / "regions-results.json"
    log_lines = []

    def log(msg):
        line = f"[{time.monotonic() - t_start:6.1f}s] {msg}"
        log_lines.append(line)
        print(line, flush=True)

    def on_alarm(signum, frame):
        raise HardLimit(f"test_regions exceeded its {HARD_LIMIT_S}s limit")

    lock_fh = open(LOCK_PATH, "w")
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                lock_fh.close()
                pytest.fail(f"another regions run holds {LOCK_PATH} for over {LOCK_WAIT_S}s")
            time.sleep(0.5)

    old_alarm = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, HARD_LIMIT_S)
    net = d = cl = None
    try:
        net = netmod.Net(list(VOTERS) + [STANDBY], log=log, layout=LAYOUT)
        net.setup()
        d = dbmod.DB(run_dir, list(VOTERS), spares=[STANDBY], layout=LAYOUT, log=log,
                     regions=REGION_OF, autopilot={"max_voters": 5})
        log(f"binary {d.binary_src}; delay method: nfqueue (nfqdelay.py), per region pair")
        d.start_all()
        d.start_monitor()
        assert d.wait_leader(30), "no leader among n1..n5"
        cl = Client(d)
        _run(net, d, cl, run_dir, results_path, log, t_start)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_alarm)
        if cl is not None:
            cl.close()
        if d is not None:
            d.teardown()
        if net is not None:
            net.teardown()
        fcntl.flock(lock_fh, fcntl.LOCK_UN)
        lock_fh.close()
        leftovers = [ns for ns in netmod.existing_namespaces() if ns.startswith(LAYOUT.prefix)]
        print(f"teardown done after {time.monotonic() - t_start:.1f}s; "
              f"namespaces left: {leftovers or 'none'}", flush=True)
        (tmp_path / "test.log").write_text("\n".join(log_lines) + "\n")


def _run(net, d, cl, run_dir, results_path, log, t_start):
    acked = {}   # (ns, workload) -> (tag, index): every write acknowledged (200)

    def write(node, ns, workload, idem=None, retry_s=0.0):
        """One release; retried with the same Idempotency-Key on 503 and
        connection errors for retry_s.  Returns (response|None, seconds of
        the last attempt, attempts)."""
        idem = idem or uuid.uuid4().hex
        tag = f"{workload}-v1"
        end = time.monotonic() + retry_s
        attempts = []
        while True:
            t0 = time.monotonic()
            try:
                r = cl.put_release(node, ns, workload, tag, idem)
            except requests.RequestException as e:
                r = None
                attempts.append(type(e).__name__)
            dt = time.monotonic() - t0
            if r is not None:
                attempts.append(r.status_code)
                if r.status_code == 200:
                    acked[(ns, workload)] = (tag, index_of(r))
                    return r, dt, attempts
                if r.status_code != 503:
                    raise AssertionError(f"write through {node} answered {show(r)}")
            if time.monotonic() >= end:
                return r, dt, attempts
            time.sleep(0.05)

    def voters_settled():
        """The leader's own view: n1..n5 voters, each answering and caught up. Asked before n6
        joins and before the transfer: the autopilot replaces a voter silent for three election
        timeouts by a standby, and raft transfers only to a caught-up voter."""
        lead = d.leader()
        doc = cl.cluster(lead) if lead else None
        if not doc or not doc["leader"] or doc["leader"]["name"] != lead:
            return None
        by = {m["name"]: m for m in doc["members"]}
        ok = all(n in by and by[n]["role"] == "voter" and (n == lead or (
            by[n]["reachable"] and by[n]["match_index"] is not None and
            by[n]["match_index"] >= doc["commit_index"])) for n in VOTERS)
        return doc if ok else None
    wait_for(voters_settled, 30, "every voter answering and caught up, as the leader sees it")

    # ------------------------------------------------ n6 joins as a standby
    d.write_joiner_config(STANDBY)
    d.start(STANDBY, join_via=f"{d.nodes['n1'].addr}:{dbmod.HTTP_PORT}")
    sid = d.nodes[STANDBY].id

    def standby_ok():
        doc = cl.cluster("n1")
        m = next((m for m in doc["members"] if m["id"] == sid), None)
        # its name and region arrive in a later entry than its role: wait for both
        return doc if m and m["role"] == "standby" and m.get("name") else None
    doc = wait_for(standby_ok, 30, f"{STANDBY} listed as a standby")
    roles = {m["name"]: (m["role"], m.get("region")) for m in doc["members"]}
    log(f"members: {roles}")
    assert roles == {**{n: ("voter", REGION_OF[n]) for n in VOTERS},
                     STANDBY: ("standby", "far")}, roles

    # ------------------------------------------------ leadership to east (n1)
    def leader_is_n1():
        doc = cl.cluster("n2")
        return doc and doc["leader"] and doc["leader"]["name"] == "n1"
    transfers = []   # answers of POST /api/v1/cluster/transfer (reported)
    for _ in range(3):
        if leader_is_n1():
            break
        wait_for(voters_settled, 30, "every voter answering and caught up before the transfer")
        r = cl.s("n2").post(cl.url("n2", "/api/v1/cluster/transfer"), json={"id": 1},
                            headers=AUTH, timeout=(2.0, 15.0))
        transfers.append(f"{r.status_code} {error_code(r) or ''}".strip())
        if r.status_code != 200:
            log(f"transfer to n1 answered {show(r)}")
        try:
            wait_for(leader_is_n1, 5, "n1 leading")
        except AssertionError:
            pass
    assert leader_is_n1(), f"leadership did not move to n1; transfer answers {transfers}"
    log(f"leader: n1 (east); transfer answers {transfers or 'none needed'}")

    # ------------------------------------------------ latency per delay
    table = []
    for delay in DELAYS_MS:
        set_region_delay(net, delay, run_dir)
        lat = []
        for i in range(WARMUP_WRITES + WRITES_PER_DELAY):
            r, dt, attempts = write("n1", f"lat{delay}", f"w{i}", retry_s=10.0)
            assert r is not None and r.status_code == 200, \
                f"write {i} at {delay} ms not acknowledged: attempts {attempts}"
            if i >= WARMUP_WRITES and len(attempts) == 1:
                lat.append(dt * 1000.0)
        leader = (cl.cluster("n1") or {}).get("leader") or {}
        row = {"inter_region_delay_ms": delay, "writes": len(lat),
               "median_ms": round(statistics.median(lat), 2),
               "p99_ms": round(pctl(lat, 99), 2), "min_ms": round(min(lat), 2),
               "max_ms": round(max(lat), 2), "leader": leader.get("name")}
        table.append(row)
        log(f"delay {delay} ms: median {row['median_ms']} ms, p99 {row['p99_ms']} ms "
            f"({row['writes']} writes, leader {row['leader']})")

    # ------------------------------------------------ far standby reads (40 ms)
    r, _, attempts = write("n1", "standby", "marker", retry_s=10.0)
    assert r is not None and r.status_code == 200, f"marker write: {attempts}"
    mark = index_of(r)
    r = cl.current(STANDBY, index=mark)
    assert r.status_code == 200, f"stale read on {STANDBY}: {show(r)}"
    assert r.headers.get("X-Shiplog-Node") == STANDBY, show(r)
    assert index_of(r) is not None and index_of(r) >= mark, f"index < {mark}: {show(r)}"
    assert present(r.json(), "standby", "marker") == "marker-v1", r.text[:500]
    stale, lin = [], []
    for _ in range(READS):
        t0 = time.monotonic()
        r = cl.current(STANDBY)
        stale.append((time.monotonic() - t0) * 1000.0)
        assert r.status_code == 200 and index_of(r) >= mark, show(r)
        assert r.headers.get("X-Shiplog-Node") == STANDBY, show(r)
        t0 = time.monotonic()
        r = cl.current(STANDBY, consistency="linearizable")
        lin.append((time.monotonic() - t0) * 1000.0)
        assert r.status_code == 200 and index_of(r) >= mark, show(r)
        assert present(r.json(), "standby", "marker") == "marker-v1"
    reads = {"node": STANDBY, "inter_region_delay_ms": DELAYS_MS[-1], "reads": READS,
             "stale_median_ms": round(statistics.median(stale), 2),
             "stale_p99_ms": round(pctl(stale, 99), 2),
             "linearizable_median_ms": round(statistics.median(lin), 2),
             "linearizable_p99_ms": round(pctl(lin, 99), 2)}
    log(f"reads on {STANDBY} (far): stale median {reads['stale_median_ms']} ms, "
        f"linearizable median {reads['linearizable_median_ms']} ms")

    # ------------------------------------------------ cut west off
    cut = {"region": "west", "seconds": CUT_SECONDS}
    net.partition(net.complete_grudge([set(REGIONS["west"]),
                                       set(REGIONS["east"]) | set(REGIONS["far"])]))
    log("west cut off from east and far")
    t_cut = time.monotonic()
    cut_acks, cut_fail, i = [], [], 0
    while time.monotonic() - t_cut < CUT_SECONDS:
        node = ("n1", "n2")[i % 2]
        r, dt, attempts = write(node, "cut", f"c{i}", retry_s=10.0)
        if r is not None and r.status_code == 200:
            cut_acks.append(time.monotonic() - t_cut)
        else:
            cut_fail.append((f"c{i}", node, attempts))
        i += 1
    # a write in the cut-off minority is not acknowledged
    r, dt, attempts = write("n3", "cut", "minority", retry_s=0.0)
    minority = f"{r.status_code} {error_code(r)}" if r is not None else str(attempts[-1])
    cut.update(writes=i, acked=len(cut_acks), not_acked=len(cut_fail),
               minority_write=minority, minority_write_s=round(dt, 2))
    log(f"during the cut: {len(cut_acks)}/{i} writes through east acknowledged; "
        f"a write through n3 (west) answered {minority} after {dt:.2f}s")
    assert not cut_fail, f"writes through east not acknowledged during the cut: {cut_fail}"
    assert len(cut_acks) >= 10, cut
    assert cut_acks[-1] > CUT_SECONDS - 1.5, f"acknowledgements stopped: {cut_acks}"
    assert r is None or r.status_code != 200, f"write in the minority acknowledged: {show(r)}"
    acked.pop(("cut", "minority"), None)

    # ------------------------------------------------ heal; every ack everywhere
    net.heal()
    log("healed")
    top = max(ix for _, ix in acked.values())
    every = list(VOTERS) + [STANDBY]
    for n in every:
        wait_for(lambda: (d.health(n) or {}).get("raft", {}).get("applied_index", 0) >= top,
                 20, f"{n} applied_index >= {top}")
    missing = {}
    for n in every:
        r = cl.current(n, index=top)
        assert r.status_code == 200, f"{n}: {show(r)}"
        docn = r.json()
        lost = [k for k, (tag, _) in acked.items() if present(docn, *k) != tag]
        if lost:
            missing[n] = lost[:10] + ([f"... {len(lost)} in all"] if len(lost) > 10 else [])
    log(f"{len(acked)} acknowledged writes checked on {len(every)} nodes at index >= {top}")
    assert not missing, f"acknowledged writes missing after healing: {missing}"
    # spread_regions (on with max_voters): while west was cut off, the
    # autopilot may have replaced an unreachable west voter by the standby.
    # It promotes first and demotes after, one change at a time, so right
    # after the heal it can be between the two (6 voters): wait for it to
    # settle at max_voters.
    def roles_now():
        doc = cl.cluster(STANDBY)
        return {m["name"]: m["role"] for m in doc["members"]} if doc is not None else {}
    roles, settle_by = roles_now(), time.monotonic() + 15
    while list(roles.values()).count("voter") != 5 and time.monotonic() < settle_by:
        time.sleep(0.1)
        roles = roles_now()
    voters = sorted(n for n, r in roles.items() if r == "voter")
    standbys = sorted(n for n, r in roles.items() if r == "standby")
    log(f"roles after the cut: voters {voters}, standby {standbys}")
    assert len(voters) == 5 and len(standbys) == 1, roles
    assert standbys == [STANDBY] or REGION_OF[standbys[0]] == "west", roles

    # ------------------------------------------------ results
    set_region_delay(net, 0, run_dir)
    runtime = round(time.monotonic() - t_start, 1)
    out = {"regions": {r: list(ns) for r, ns in REGIONS.items()}, "standby": STANDBY,
           "delay_method": "nfqueue (tests/jepsen/nfqdelay.py), egress to other regions",
           "binary": d.binary_src, "raft": d.raft, "write_latency_through_n1": table,
           "transfer_answers": transfers, "standby_reads": reads, "cut": cut, "acknowledged_writes": len(acked),
           "runtime_s_before_teardown": runtime}
    results_path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrite latency, sequential PUT /api/collect through n1 (east, leader); "
          f"raft heartbeat {d.raft['heartbeat_ms']} ms, election timeout {d.raft['election_timeout_ms']} ms")
    print(f"{'delay one-way':>14} {'writes':>7} {'median ms':>10} {'p99 ms':>8} {'max ms':>8} {'leader':>7}")
    for row in table:
        print(f"{row['inter_region_delay_ms']:>11} ms {row['writes']:>7} {row['median_ms']:>10.2f} "
              f"{row['p99_ms']:>8.2f} {row['max_ms']:>8.2f} {row['leader'] or '-':>7}")
    print(f"reads on standby {STANDBY} (far) at {reads['inter_region_delay_ms']} ms: "
          f"stale median {reads['stale_median_ms']:.2f} ms (p99 {reads['stale_p99_ms']:.2f}), "
          f"linearizable median {reads['linearizable_median_ms']:.2f} ms "
          f"(p99 {reads['linearizable_p99_ms']:.2f})")
    print(f"cut of west: {cut}")
    print(f"results: {results_path}", flush=True)

    assert not d.crashes, f"nodes exited on their own: {d.crashes}"
    bad = d.scan_logs()
    assert not bad, f"crash/sanitizer lines in node logs: {bad}"
