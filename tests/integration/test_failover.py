"""Failover: kill -9 of the leader under write load, idempotent retries across
a leader's death, and a full restart after snapshots/compaction.

Failover times (kill -9 of the leader -> first acknowledged write sent
after the kill) are printed and, when $SHIPLOG_TEST_REPORT names a file,
appended to it as JSON lines."""

import json
import random
import shutil
import threading
import time

import pytest
import requests

import harness as H
from harness import Component

RELEASED_AT = "2024-06-01T12:00:00Z"


def tags(rels):
    return [e["image_tag"] for e in rels]


def put(c, node, comp, tag, key, timeout=10.0):
    body = H.release_body(tag, client=comp.client, env=comp.env, released_at=RELEASED_AT)
    return c.collect(node, comp.ns, comp.kind, comp.workload, comp.container, body,
                     idem=key, timeout=timeout)


class Targets:
    """Nodes the background writer may send to (changed by the main thread)."""

    def __init__(self, names):
        self._names = list(names)
        self._lock = threading.Lock()

    def remove(self, n):
        with self._lock:
            self._names = [x for x in self._names if x != n]

    def add(self, n):
        with self._lock:
            if n not in self._names:
                self._names.append(n)

    def pick(self):
        with self._lock:
            return random.choice(self._names) if self._names else None


class Writer(threading.Thread):
    """Writes distinct releases of one component, one at a time, each with its
    own Idempotency-Key, retried with the same key on 503 and connection errors
    (through random live nodes) for up to RETRY_S seconds."""

    RETRY_S = 15.0
    MAX_WRITES = 3000

    def __init__(self, c, comp, targets):
        super().__init__(daemon=True)
        self.c, self.comp, self.targets = c, comp, targets
        self.prefix = H.uid(6)
        self.stop_evt = threading.Event()
        self.lock = threading.Lock()
        self.attempted = []
        self.acked = []      # dicts: tag, index, t_attempt (start of acked attempt), t_ack, node, tries
        self.unacked = []    # tags given up on
        self.errors = []     # unexpected answers
        self.retries = 0

    def snapshot(self):
        with self.lock:
            return list(self.acked)

    def run(self):
        seq = 0
        while not self.stop_evt.is_set() and seq < self.MAX_WRITES:
            tag = f"fo-{self.prefix}-{seq:05d}"
            key = f"idem-{self.prefix}-{seq}"
            with self.lock:
                self.attempted.append(tag)
            deadline = time.monotonic() + self.RETRY_S
            tries = 0
            done = False
            while time.monotonic() < deadline and not done:
                node = self.targets.pick()
                if node is None:
                    time.sleep(0.05)
                    continue
                tries += 1
                t_attempt = time.monotonic()
                try:
                    r = put(self.c, node, self.comp, tag, key, timeout=6.0)
                except requests.RequestException:
                    time.sleep(0.03)
                    continue
                if r.status_code == 200:
                    rec = {"tag": tag, "index": H.idx(r), "t_attempt": t_attempt,
                           "t_ack": time.monotonic(), "node": node, "tries": tries}
                    with self.lock:
                        self.acked.append(rec)
                        self.retries += tries - 1
                    done = True
                elif r.status_code == 503:
                    time.sleep(0.03)
                else:
                    with self.lock:
                        self.errors.append(H.show(r))
                    done = True
            if not done:
                with self.lock:
                    self.unacked.append(tag)
            seq += 1
            time.sleep(0.01)


@pytest.mark.shiplog_timeout(300)
def test_kill9_leader_under_write_load(cluster_factory):
    c = cluster_factory()
    comp = Component.unique("fo")
    targets = Targets(c.names)
    w = Writer(c, comp, targets)
    w.start()
    results = []
    try:
        H.wait_until(lambda: len(w.snapshot()) >= 10, 20, what="10 writes before the first kill")
        for rnd in (1, 2, 3):
            ldr = c.leader()
            n_before = len(w.snapshot())
            targets.remove(ldr)
            t_kill = time.monotonic()
            c.kill9(ldr)

            def first_after():
                for a in w.snapshot()[n_before:]:
                    if a["t_attempt"] >= t_kill:
                        return a
                return None
            first = H.wait_until(first_after, 25, interval=0.01,
                                 what=f"round {rnd}: an acknowledged write after kill -9 of {ldr}")
            failover_ms = (first["t_ack"] - t_kill) * 1000.0
            new_ldr = c.leader(timeout=20)
            rec = {"test": "kill9_leader_under_write_load", "round": rnd, "killed": ldr,
                   "new_leader": new_ldr, "failover_ms": round(failover_ms, 1),
                   "first_ack_via": first["node"], "first_ack_tries": first["tries"]}
            results.append(rec)
            print(f"\nfailover round {rnd}: killed leader {ldr}, new leader {new_ldr}, "
                  f"first acknowledged write {failover_ms:.0f} ms after kill -9 "
                  f"(via {first['node']}, {first['tries']} tries)")
            H.report(rec)

            c.start(ldr)  # same data directory
            tgt = c.applied_index(new_ldr) or 0
            c.wait_applied(ldr, tgt, timeout=30)
            targets.add(ldr)
            n_restart = len(w.snapshot())
            H.wait_until(lambda: len(w.snapshot()) >= n_restart + 5, 20,
                         what=f"writes continuing after {ldr} rejoined")
        time.sleep(0.5)
    finally:
        w.stop_evt.set()
        w.join(timeout=40)
    assert not w.is_alive(), "writer thread did not stop"
    assert not w.errors, f"unexpected answers: {w.errors[:5]}"
    assert not w.unacked, f"writes never acknowledged within {w.RETRY_S}s of retries: {w.unacked}"

    acked = w.snapshot()
    assert len(acked) >= 30, f"only {len(acked)} writes acknowledged"
    by_index = {}
    for a in acked:
        assert a["index"] not in by_index, (
            f"two acknowledged writes share index {a['index']}: {by_index.get(a['index'])} and {a}")
        by_index[a["index"]] = a
    max_idx = max(by_index)
    acked_tags = [a["tag"] for a in sorted(acked, key=lambda a: a["index"])]
    attempted = set(w.attempted)
    for node in c.names:
        c.wait_applied(node, max_idx, timeout=30)
        r = c.history(node, comp, index=max_idx, wait="10s", timeout=20)
        assert r.status_code == 200, H.show(r)
        hist = list(reversed(tags(r.json()["releases"])))  # oldest first
        assert len(hist) == len(set(hist)), f"{node}: a write was applied twice"
        missing = [t for t in acked_tags if t not in set(hist)]
        assert not missing, f"{node}: {len(missing)} acknowledged writes lost: {missing[:10]}"
        phantom = [t for t in hist if t not in attempted]
        assert not phantom, f"{node}: releases nobody wrote: {phantom[:10]}"
        in_order = [t for t in hist if t in set(acked_tags)]
        assert in_order == acked_tags, f"{node}: history order differs from acknowledgement order"
    print(f"\n{len(acked)} acknowledged writes ({w.retries} retries) present on all nodes; "
          f"failover ms: {[r['failover_ms'] for r in results]}")
    H.report({"test": "kill9_leader_under_write_load", "acked_writes": len(acked),
              "retries": w.retries,
              "failover_ms": [r["failover_ms"] for r in results]})


@pytest.mark.shiplog_timeout(150)
@pytest.mark.parametrize("first_attempt", ["acknowledged", "in_flight"])
def test_idempotent_retry_after_leader_killed(cluster_factory, first_attempt):
    c = cluster_factory()
    ldr = c.leader()
    survivors = [n for n in c.names if n != ldr]
    comp = Component.unique("idfo")
    ka, kb, kc = (f"{x}-{H.uid()}" for x in "abc")
    ra = put(c, ldr, comp, "A", ka)
    assert ra.status_code == 200, H.show(ra)
    c.wait_all_applied(H.idx(ra))

    if first_attempt == "acknowledged":
        rb = put(c, ldr, comp, "B", kb)
        assert rb.status_code == 200, H.show(rb)
        rc = put(c, ldr, comp, "C", kc)
        assert rc.status_code == 200, H.show(rc)
        c.kill9(ldr)
        retry, attempts = c.collect_retry(comp, "B", idem=kb, nodes=survivors,
                                          released_at=RELEASED_AT, deadline_s=20)
        assert H.idx(retry) == H.idx(rb), (
            f"retry after failover answered index {H.idx(retry)}, first was {H.idx(rb)}: "
            f"{H.show(retry)} attempts {attempts}")
        expected = ["C", "B", "A"]
        top = H.idx(rc)
        outcome = "acknowledged"
    else:
        # the whole request is on the wire when the leader gets SIGKILL
        body = H.release_body("B", client=comp.client, env=comp.env, released_at=RELEASED_AT)
        rb = H.raw_request(c.nodes[ldr].http_port, "PUT",
                           f"/api/collect/{comp.ns}/{comp.kind}/{comp.workload}/{comp.container}",
                           json.dumps(body).encode(),
                           headers={"Content-Type": "application/json", "Idempotency-Key": kb,
                                    "Authorization": f"Bearer {H.ADMIN_KEY}"},
                           timeout=10, after_send=lambda: c.kill9(ldr), allow_no_response=True)
        outcome = f"{rb.status_code}" if rb is not None else "no answer"
        # another write first, so that a second application of B would show
        rc, _ = c.collect_retry(comp, "C", idem=kc, nodes=survivors,
                                released_at=RELEASED_AT, deadline_s=20)
        retry, attempts = c.collect_retry(comp, "B", idem=kb, nodes=survivors,
                                          released_at=RELEASED_AT, deadline_s=20)
        if rb is not None and rb.status_code == 200:
            assert H.idx(retry) == H.idx(rb), (H.show(rb), H.show(retry))
        if H.idx(retry) < H.idx(rc):
            expected = ["C", "B", "A"]   # the first attempt had been committed
        else:
            expected = ["B", "C", "A"]   # the first attempt was lost; the retry applied it
        top = max(H.idx(rc), H.idx(retry))
    print(f"\nfirst attempt to the leader {ldr}: {outcome}; retry answered index "
          f"{H.idx(retry)} after {len(attempts)} attempts; expected history {expected}")

    # a further retry through the other survivor gives the same answer
    again, _ = c.collect_retry(comp, "B", idem=kb, nodes=survivors[::-1],
                               released_at=RELEASED_AT, deadline_s=20)
    assert H.idx(again) == H.idx(retry), (H.show(again), H.show(retry))

    for node in survivors:
        assert tags(c.releases(node, comp, index=top)) == expected, node
    c.start(ldr)
    c.wait_applied(ldr, top, timeout=30)
    assert tags(c.releases(ldr, comp, index=top)) == expected
    H.report({"test": "idempotent_retry_after_leader_killed", "first_attempt": first_attempt,
              "outcome": outcome, "expected": expected})


@pytest.mark.shiplog_timeout(300)
def test_full_restart_after_snapshots(cluster_factory):
    c = cluster_factory(raft={"snapshot_threshold": 64, "snapshot_trailing": 16})
    client = f"snap-{H.uid()}"
    comps = [Component(client, "prod" if j % 2 else "stage", f"ns{j % 4}", f"w{j:02d}", "app")
             for j in range(30)]
    seq = [f"v{k}" for k in range(9)] + ["v0"]  # ends with a rollback to v0
    ldr = c.leader()
    names = c.names
    idem_key = f"snap-idem-{H.uid()}"
    idem_first = None
    top = 0
    t0 = time.monotonic()
    for k, tag in enumerate(seq):
        for j, comp in enumerate(comps):
            node = names[(j + k) % 3]
            key = idem_key if (k, j) == (0, 0) else None
            body = H.release_body(tag, client=comp.client, env=comp.env,
                                  released_at=H.ts("2024-01-01T00:00:00Z", hours=k))
            r = c.collect(node, comp.ns, comp.kind, comp.workload, comp.container, body,
                          idem=key)
            if r.status_code == 503:  # tolerate an election during the load
                r, _ = c.collect_retry(comp, tag, idem=key or f"snap-{H.uid()}",
                                       released_at=body["released_at"])
            assert r.status_code == 200, H.show(r)
            top = max(top, H.idx(r))
            if key:
                idem_first = (H.idx(r), body)
    rp = c.post(ldr, "/api/ping", json={"client_name": client, "env_name": "prod"})
    assert rp.status_code == 200, H.show(rp)
    top = max(top, H.idx(rp))
    print(f"\n{len(seq) * len(comps)} releases written in {time.monotonic() - t0:.1f}s, "
          f"last index {top}")
    c.wait_all_applied(top, timeout=30)

    snaps = {n: sorted(p.name for p in c.nodes[n].data_dir.rglob("snapshot-*")) for n in names}
    print(f"snapshot files: { {n: len(v) for n, v in snaps.items()} }")
    assert any(snaps.values()), (
        f"no snapshot-* file under any data dir after {top} entries with snapshot_threshold=64")
    for n in names:  # /metrics tells how long the last snapshot took and how big it was
        v = H.parse_metrics(c.get(n, "/metrics", key=None).text)
        if v["shiplog_raft_snapshots_total"] >= 1:
            assert 0 < v["shiplog_raft_last_snapshot_duration_seconds"] < 30, (n, v)
            assert v["shiplog_raft_last_snapshot_size_bytes"] > 0, (n, v)
        else:
            assert v["shiplog_raft_last_snapshot_size_bytes"] == 0, (n, v)
        assert v["shiplog_raft_snapshot_in_progress"] in (0, 1), (n, v)

    expected = list(reversed(seq))  # newest first: v0 (rollback), v8 ... v0
    problems = []
    for n in names:
        rc, forced = c.stop(n)
        if forced or rc != 0:
            problems.append(f"{n}: SIGTERM stop gave exit code {rc}, forced SIGKILL={forced}")
    c.start_all()
    for n in names:
        c.wait_applied(n, top, timeout=30)
        for comp in comps:
            r = c.history(n, comp, index=top)
            assert r.status_code == 200, f"{n} after restart: {H.show(r)}"
            assert tags(r.json()["releases"]) == expected, (n, comp, tags(r.json()["releases"]))
        ce = c.get(n, "/api/clients-environments").json()
        assert sorted(ce["clients_environments"][client]) == ["prod", "stage"], ce
        assert ce["ping_statuses"][client]["prod"]["status"] == "online", ce["ping_statuses"]

    # the idempotency key written before the snapshots still answers the first result
    i_first, body = idem_first
    r = c.collect(c.leader(), comps[0].ns, comps[0].kind, comps[0].workload, comps[0].container,
                  body, idem=idem_key)
    assert r.status_code == 200, H.show(r)
    assert H.idx(r) == i_first, f"idempotency key forgotten after snapshot+restart: {H.show(r)}"
    assert tags(c.releases(c.leader(), comps[0], consistency="linearizable")) == expected

    # writes still work, through every node
    for n in names:
        i = c.write(n, comps[1], f"after-{n}")
        for m in names:
            assert tags(c.releases(m, comps[1], index=i))[0] == f"after-{n}"
    assert not problems, "; ".join(problems)


def load_batch(c, node, client, env, n):
    """n releases, one per workload, in one POST /api/v1/observations (one Raft entry)."""
    obs = [{"namespace": f"ns{k % 8}", "workload_kind": "Deployment", "workload_name": f"w{k}",
            "container_name": "app", "image_tag": f"1.0.{k}", "image_sha": "sha256:%064x" % k}
           for k in range(n)]
    r = c.post(node, "/api/v1/observations", json={"client_name": client, "env_name": env, "observations": obs},
               timeout=60)
    assert r.status_code == 200, H.show(r)
    return H.idx(r)


def test_stop_while_a_snapshot_is_taken(cluster_factory):
    """SIGTERM reaching a node while it serializes a snapshot: the snapshot is
    abandoned (or finishes), the node exits cleanly, and it restarts with all
    its data and snapshots again."""
    c = cluster_factory(raft={"snapshot_threshold": 4, "snapshot_trailing": 2}, api={"max_body_bytes": 4 << 20})
    client = f"snapstop-{H.uid()}"
    ldr = c.leader()
    envs = [f"e{b}" for b in range(16)]
    top = max(load_batch(c, ldr, client, env, 10000) for env in envs)  # 160k releases: ~70 MB to serialize
    c.wait_all_applied(top, timeout=60)

    def snapshot_state():
        out = {}
        for n in c.names:
            v = H.parse_metrics(c.get(n, "/metrics", key=None).text)
            out[n] = (v["shiplog_raft_snapshot_in_progress"], v["shiplog_raft_snapshots_total"],
                      v["shiplog_raft_last_snapshot_duration_seconds"])
        return out

    victim = None
    deadline = time.monotonic() + 60
    round_no = 0
    while victim is None and time.monotonic() < deadline:
        round_no += 1  # every 4 entries each node snapshots the whole state
        for k in range(4):
            top = load_batch(c, ldr, client, f"more{round_no}-{k}", 10)
        for _ in range(200):  # look for a node in the middle of one, for up to ~2 s
            busy = [n for n, (inp, _, _) in snapshot_state().items() if inp == 1]
            if busy:
                victim = busy[0]
                break
            time.sleep(0.01)
    assert victim is not None, "no node was seen taking a snapshot in 60 s"
    _, taken_before, took = snapshot_state()[victim]
    t0 = time.monotonic()
    rc, forced = c.stop(victim)
    print(f"\n{victim} stopped {time.monotonic() - t0:.2f}s after SIGTERM during its snapshot "
          f"(snapshots before: {taken_before:.0f}, the last took {took:.2f}s)")
    assert (rc, forced) == (0, False), f"{victim}: exit code {rc}, forced={forced}\n{c.log_tail(victim)}"
    log = c.nodes[victim].log_path.read_text("utf-8", "replace")
    assert "ERROR: AddressSanitizer" not in log and "runtime error" not in log, c.log_tail(victim)
    print("abandoned" if "snapshot abandoned: the node is stopping" in log else "it finished before the stop")

    c.start(victim)
    c.wait_applied(victim, top, timeout=60)
    for env in envs:
        r = c.current(victim, client, env, index=top)
        assert r.status_code == 200, H.show(r)
        assert r.json()["total"] == 10000, (victim, env, r.json()["total"])
    for k in range(8):  # it snapshots again after its restart
        top = load_batch(c, ldr, client, f"after-{k}", 10)
    c.wait_applied(victim, top, timeout=30)
    H.wait_until(lambda: snapshot_state()[victim][1] >= 1, 30, what=f"{victim} snapshotting after its restart")


def _last_snapshot_index(node):
    """The index of the newest snapshot-TERM-INDEX-TIME file in a node's data dir (0: none)."""
    idx = [int(p.name.split("-")[2]) for p in node.data_dir.rglob("snapshot-*") if not p.name.endswith(".meta")]
    return max(idx, default=0)


@pytest.mark.parametrize("leader_snapshot", ["older", "none"])
def test_follower_with_a_newer_snapshot_than_the_leader_catches_up(cluster_factory, leader_snapshot):
    """A follower, n3, comes back with a snapshot newer than the leader's, to a leader, n1, elected
    while it was down: raft_uv fails the messages queued for it after a few heartbeats, and the
    leader restarts it at its match index + 1 = 1, below its log. canonical/raft 0.15 then
    - "older": sends its snapshot, which n3 answers with that snapshot's index as its last
      one, and probes one entry at a time below n3's log: n3 never caught up while n1 took no
      newer snapshot (found by bench/run with snapshot_threshold 65536; raft/probefix.c);
    - "none" (n1 never took one): sends its whole log from entry 1, which n3 appended after its
      own and then could not find: raft stopped or the node crashed (raft/recvguard.c)."""
    n1_raft = {"snapshot_threshold": 400, "snapshot_trailing": 64} if leader_snapshot == "older" else \
        {"snapshot_threshold": 1000000, "snapshot_trailing": 64}
    c = cluster_factory(raft=n1_raft, start=False)
    c.nodes["n3"].raft = {"snapshot_threshold": 40, "snapshot_trailing": 16}
    c.write_config()
    c.start_all()
    comp = Component(f"newer-snap-{H.uid()}", "prod", "default", "w", "app")
    lead, follower = c.nodes["n1"], c.nodes["n3"]

    def snapshots_apart():
        s_lead, s_f = _last_snapshot_index(lead), _last_snapshot_index(follower)
        if leader_snapshot == "none":
            return s_f > 100
        return s_lead > 0 and s_f - 16 > s_lead
    top, k = 0, 0
    while not snapshots_apart():
        assert k < 2000, f"snapshots not apart after {k} writes: n1 {_last_snapshot_index(lead)}, " \
                         f"n3 {_last_snapshot_index(follower)}"
        top = c.write(c.names[k % 2], comp, f"v{k}")
        k += 1
        if k % 20 == 0:
            c.wait_all_applied(top, timeout=10)
    c.wait_all_applied(top, timeout=10)
    print(f"\nafter {k} writes: snapshot of n1 at {_last_snapshot_index(lead)}, of n3 at "
          f"{_last_snapshot_index(follower)}")
    assert leader_snapshot != "none" or _last_snapshot_index(lead) == 0
    c.kill9("n3")

    def move_to(target):
        def moved():
            ldr = c.leader()
            if ldr == target:
                return True
            c.post(ldr, "/api/v1/cluster/transfer", json={"id": c.nodes[target].id}, timeout=15)
            return c.leader() == target
        H.wait_until(moved, 30, interval=0.5, what=f"leadership on {target}")
    # n1 must win an election while n3 is down: from n2 if n1 leads already
    if c.leader() == "n1":
        move_to("n2")
    move_to("n1")
    for j in range(5):
        top = c.write("n1", comp, f"after-{j}")
    # raft_uv fails messages queued for a peer it cannot reach after a few heartbeats: the new
    # leader then restarts n3 at its match index + 1 = 1
    time.sleep(2)
    c.start("n3")
    t0 = time.monotonic()
    c.wait_applied("n3", top, timeout=20)
    m1 = H.parse_metrics(c.get("n1", "/metrics", key=None).text)
    m3 = H.parse_metrics(c.get("n3", "/metrics", key=None).text)
    print(f"n3 caught up with index {top} in {time.monotonic() - t0:.2f}s; probes restarted by n1: "
          f"{m1['shiplog_raft_probe_restarts_total']}, appends trimmed by n3: "
          f"{m3['shiplog_raft_appends_trimmed_total']}")
    assert tags(c.releases("n3", comp, index=top))[0] == "after-4"
    st, h = c.health("n3")
    assert st == 200 and h["raft"]["state"] == "follower", (st, h)
    # the repair under test did its part (else this run did not reproduce the bug)
    if leader_snapshot == "older":
        assert m1["shiplog_raft_probe_restarts_total"] >= 1, m1["shiplog_raft_probe_restarts_total"]
    else:
        assert m3["shiplog_raft_appends_trimmed_total"] >= 1, m3["shiplog_raft_appends_trimmed_total"]


def test_voter_that_lost_its_data_catches_up(cluster_factory):
    """A voter restarted with an empty data directory (a lost disk) holds less than the leader's
    match index for it: the leader must walk its probe down (raft/probefix.c restarts a probe
    once per match index, not for ever) and the node catches up."""
    c = cluster_factory()
    comp = Component(f"lost-{H.uid()}", "prod", "default", "w", "app")
    ldr = c.leader()
    victim = next(n for n in c.names if n != ldr)
    top = 0
    for k in range(30):
        top = c.write(ldr, comp, f"v{k}")
    c.wait_all_applied(top, timeout=10)
    c.kill9(victim)
    shutil.rmtree(c.nodes[victim].data_dir)
    for k in range(5):
        top = c.write(ldr, comp, f"after-{k}")
    c.start(victim)
    c.wait_applied(victim, top, timeout=20)
    assert tags(c.releases(victim, comp, index=top))[:2] == ["after-4", "after-3"]
    st, h = c.health(victim)
    assert st == 200 and h["raft"]["state"] == "follower", (st, h)
