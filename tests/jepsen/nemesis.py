"""Nemeses: faults injected on a schedule during a run.

Every nemesis has start(ctx) -> detail and stop(ctx) -> detail; a Schedule
thread alternates  quiet (interval s) -> fault (interval s) -> quiet -> ...
until the run's fault phase ends, then heals everything (heal_all).  Each
fault window is recorded in the Timeline: nemesis.jsonl gets one line per
start and per stop, and windows (start, end, name) feed the plots and the
failover-gap statistics.

Names (see NEMESES):
  none                       no faults (baseline)
  partition-random-halves    nodes split in two random halves
  partition-majorities-ring  every node sees a majority, no two the same one
  bridge                     two halves joined by one node that sees both
  isolate-leader             the current leader cut off from all peers
  kill / kill-leader         kill -9 a random node / the leader; restart at stop
  pause / pause-leader       SIGSTOP a random node / the leader; SIGCONT at stop
  clock-skew                 every node's wall clock set to a random offset
                             (libfaketime), reset at stop
  clock-jump                 one node's wall clock jumps 1-3 days (either way)
  clock-strobe               one or more nodes' clocks flip back and forth
                             rapidly during the window
  packet-loss                random packet loss between some nodes and peers
  packet-delay               egress delay with jitter on some nodes
  mixed                      each window a random one of the above
  membership                 shrink/grow through the membership API: remove a
                             random member (the leader included) / add a node
                             with a fresh identity through --join
Targeted at canonical/raft 0.15.0's known upstream bugs (issue F):
  kill-after-election        poll GET /health for a newly elected leader and
                             kill -9 it 0-300 ms after it won; the previous
                             victim is restarted at once (same data), so the
                             next election can win; a few rounds per window;
                             every victim restarted at stop
  disk-full                  one node's data directory is a small tmpfs
                             (runner mounts it, tmpfs_nodes()); the window
                             fills it with a filler file (0 bytes left), stop
                             removes the filler and restarts the node if it
                             exited.  A clean ENOSPC exit is expected and
                             recorded (verdict nodes.expected_exits); a
                             sanitizer report, assertion or SEGV is a failure
  corrupt                    kill -9 one node, then truncate its newest raft
                             segment/snapshot at a random offset or flip
                             random bits in one of its raft files (open
                             segment, closed segment, snapshot), restart it.
                             It must recover or refuse to start with a clean
                             error; a refusing node is removed
                             (DELETE /api/v1/cluster/nodes/{id}) and comes back
                             at stop with a fresh identity through --join.
                             LMDB files are never touched (no checksums)
  snapshot-install           runs with snapshot_threshold 32 / trailing 8
                             (raft_overrides, honoured by the runner); one
                             follower is cut off from its peers for the window
                             and, healed, must catch up by InstallSnapshot
disk-full and corrupt are not part of mixed (they need a tmpfs mount set up
before the start, and change what exits and identities the checkers accept);
kill-after-election and snapshot-install are (without the low thresholds).
Partitions only ever separate nodes from nodes; the client reaches every node.
"""

from __future__ import annotations

import json
import os
import threading
import time

import requests

from db import ADMIN_KEY
from net import random_halves

SKIPPED = {}


class Timeline:
    """Fault windows of a run; one JSON line per event in nemesis.jsonl."""

    def __init__(self, path):
        self.path = path
        self._fh = open(path, "a", encoding="utf-8") if path else None
        self._lock = threading.Lock()
        self.windows = []      # [start, end|None, name, detail]
        self._open = {}

    def event(self, kind, name, **detail):
        at = detail.pop("at", None)
        with self._lock:
            t = time.monotonic() if at is None else at
            rec = {"time": t, "type": kind, "name": name}
            rec.update(detail)
            if self._fh:
                self._fh.write(json.dumps(rec, default=str) + "\n")
                self._fh.flush()
            if kind == "start":
                w = [t, None, name, detail]
                self.windows.append(w)
                self._open[name] = w
            elif kind == "stop":
                w = self._open.pop(name, None)
                if w is not None:
                    w[1] = t
                    w[3] = dict(w[3], stop=detail)
            return t

    def close_all(self):
        with self._lock:
            t = time.monotonic()
            for w in self._open.values():
                w[1] = t
            self._open.clear()

    def plot_windows(self):
        return [(w[0], w[1], w[2]) for w in self.windows]

    def close(self):
        with self._lock:
            if self._fh:
                self._fh.close()
                self._fh = None


class Nemesis:
    name = "?"
    needs_clock = False
    raft_overrides = {}     # [raft] settings the runner uses for this nemesis

    def tmpfs_nodes(self, names, rng):
        """{node: MiB}: data directories the runner puts on a tmpfs."""
        return {}

    def start(self, ctx):
        return {}

    def stop(self, ctx):
        return {}


class NoNemesis(Nemesis):
    name = "none"


def _majorities_ring(names, rng):
    """Jepsen's majorities ring: nodes on a random ring, each sees the
    majority window centred on itself.  For 5 nodes the cut is symmetric
    (each node loses its two far neighbours).  For 3 nodes a symmetric ring
    of 2-node views is impossible; one random edge is cut instead (the two
    ends see {self, middle}, the middle sees all: every node sees a majority,
    no two the same one)."""
    ns = list(names)
    rng.shuffle(ns)
    n = len(ns)
    if n == 3:
        a, _, c = ns
        return {a: {c}, c: {a}}
    m = n // 2 + 1
    half = m // 2
    grudge = {}
    for i, node in enumerate(ns):
        view = {ns[(i + k) % n] for k in range(-half, m - half)}
        grudge[node] = set(ns) - view
    # make it symmetric (it already is for n=5)
    for a in list(grudge):
        for b in grudge[a]:
            grudge.setdefault(b, set()).add(a)
    return grudge


def _bridge(names, rng):
    ns = list(names)
    rng.shuffle(ns)
    k = len(ns) // 2
    left, mid, right = set(ns[:k]), ns[k], set(ns[k + 1:])
    g = {}
    for a in left:
        g[a] = set(right)
    for b in right:
        g[b] = set(left)
    return g, mid


class PartitionNemesis(Nemesis):
    def __init__(self, kind):
        self.kind = kind
        self.name = kind

    def start(self, ctx):
        names = ctx.db.client_nodes()
        if self.kind == "partition-random-halves":
            comps = random_halves(names, ctx.rng)
            grudge = ctx.net.complete_grudge(comps)
            detail = {"components": [sorted(c) for c in comps]}
        elif self.kind == "partition-majorities-ring":
            grudge = _majorities_ring(names, ctx.rng)
            detail = {"cut": sorted({tuple(sorted((a, b))) for a, bs in grudge.items() for b in bs})}
        elif self.kind == "bridge":
            grudge, mid = _bridge(names, ctx.rng)
            detail = {"bridge": mid, "cut": sorted({tuple(sorted((a, b)))
                                                     for a, bs in grudge.items() for b in bs})}
        elif self.kind == "isolate-leader":
            ldr = ctx.db.leader() or ctx.rng.choice(names)
            others = set(names) - {ldr}
            grudge = ctx.net.complete_grudge([{ldr}, others])
            detail = {"isolated": ldr}
        else:
            raise ValueError(self.kind)
        ctx.net.partition(grudge)
        return detail

    def stop(self, ctx):
        ctx.net.heal()
        return {}


class KillNemesis(Nemesis):
    def __init__(self, leader=False):
        self.leader = leader
        self.name = "kill-leader" if leader else "kill"
        self.victims = []

    def start(self, ctx):
        cands = ctx.db.running()
        if not cands:
            return {"killed": []}
        target = None
        if self.leader:
            target = ctx.db.leader()
        if target is None or target not in cands:
            target = ctx.rng.choice(cands)
        ctx.db.kill(target)
        self.victims.append(target)
        return {"killed": [target], "was_leader": self.leader and target is not None}

    def stop(self, ctx):
        out = []
        while self.victims:
            v = self.victims.pop()
            try:
                ctx.db.start(v, wait=True, timeout=20)
                out.append(v)
            except Exception as e:  # noqa: BLE001 - recorded, heal_all retries
                ctx.log(f"nemesis: restart of {v} failed: {e}")
        return {"restarted": out}


class PauseNemesis(Nemesis):
    def __init__(self, leader=False):
        self.leader = leader
        self.name = "pause-leader" if leader else "pause"
        self.victims = []

    def start(self, ctx):
        cands = ctx.db.live()
        if not cands:
            return {"paused": []}
        target = ctx.db.leader() if self.leader else None
        if target is None or target not in cands:
            target = ctx.rng.choice(cands)
        ctx.db.pause(target)
        self.victims.append(target)
        return {"paused": [target]}

    def stop(self, ctx):
        out = []
        while self.victims:
            v = self.victims.pop()
            ctx.db.resume(v)
            out.append(v)
        return {"resumed": out}


class ClockSkewNemesis(Nemesis):
    """Every node gets a random wall-clock offset in [-max, +max] s, some
    small (ms) and some large; reset to 0 at stop."""
    name = "clock-skew"
    needs_clock = True

    def __init__(self, max_s=300.0):
        self.max_s = max_s

    def start(self, ctx):
        offs = {}
        for n in ctx.db.names:
            scale = ctx.rng.choice((0.05, 1.0, 30.0, self.max_s))
            offs[n] = round(ctx.rng.uniform(-scale, scale), 3)
            ctx.db.set_clock(n, offs[n])
        return {"offsets_s": offs}

    def stop(self, ctx):
        for n in ctx.db.names:
            ctx.db.set_clock(n, 0)
        return {}


class ClockJumpNemesis(Nemesis):
    """One random node's wall clock jumps by 1-3 days, forwards or back
    (a VM restored from a snapshot, a dead RTC, a bad NTP server); reset at
    stop.  Aimed at anything keyed on the proposer's wall clock, such as
    the 24 h Idempotency-Key window."""
    name = "clock-jump"
    needs_clock = True

    def start(self, ctx):
        node = ctx.rng.choice(ctx.db.names)
        off = ctx.rng.choice((-1, 1)) * round(ctx.rng.uniform(1.0, 3.0) * 86400, 3)
        ctx.db.set_clock(node, off)
        return {"node": node, "offset_s": off}

    def stop(self, ctx):
        for n in ctx.db.names:
            ctx.db.set_clock(n, 0)
        return {}


class ClockStrobeNemesis(Nemesis):
    """Some nodes' clocks flip between +0 and +delta every period ms while
    the window lasts (a background thread)."""
    name = "clock-strobe"
    needs_clock = True

    def __init__(self, max_delta_s=262.0, max_period_ms=1000.0):
        self.max_delta_s = max_delta_s
        self.max_period_ms = max_period_ms
        self._stop = None
        self._thread = None

    def start(self, ctx):
        k = ctx.rng.randint(1, len(ctx.db.names))
        nodes = ctx.rng.sample(ctx.db.names, k)
        delta = round(ctx.rng.uniform(-self.max_delta_s, self.max_delta_s), 3)
        period = ctx.rng.uniform(20.0, self.max_period_ms) / 1000.0
        self._stop = threading.Event()
        stop = self._stop
        deadline = time.monotonic() + 120.0   # bounded even if stop() is never called

        def loop():
            flip = False
            n = 0
            while not stop.wait(period) and time.monotonic() < deadline and n < 100000:
                flip = not flip
                n += 1
                for node in nodes:
                    ctx.db.set_clock(node, delta if flip else 0)
        self._thread = threading.Thread(target=loop, name="clock-strobe", daemon=True)
        self._thread.start()
        return {"nodes": sorted(nodes), "delta_s": delta, "period_ms": round(period * 1000, 1)}

    def stop(self, ctx):
        if self._stop is not None:
            self._stop.set()
            self._thread.join(timeout=5)
        for n in ctx.db.names:
            ctx.db.set_clock(n, 0)
        return {}


class PacketNemesis(Nemesis):
    def __init__(self, kind):
        self.kind = kind
        self.name = kind
        self.targets = []

    def start(self, ctx):
        names = ctx.db.client_nodes()
        k = ctx.rng.randint(1, len(names))
        self.targets = sorted(ctx.rng.sample(names, k))
        if self.kind == "packet-loss":
            pct = ctx.rng.choice((10, 20, 35, 50))
            for n in self.targets:
                ctx.net.set_loss(n, pct)
            return {"nodes": self.targets, "loss_pct": pct}
        delay = ctx.rng.choice((50, 100, 200, 400))
        jitter = delay // 2
        for n in self.targets:
            ctx.net.set_delay(n, delay, jitter, run_dir=str(ctx.run_dir))
        return {"nodes": self.targets, "delay_ms": delay, "jitter_ms": jitter,
                "method": ctx.net.delay_method()}

    def stop(self, ctx):
        for n in self.targets:
            if self.kind == "packet-loss":
                ctx.net.set_loss(n, 0)
            else:
                ctx.net.clear_delay(n)
        t, self.targets = self.targets, []
        return {"nodes": t}


def member_id(ctx, name):
    """(raft id of `name` in GET /api/v1/cluster or None, the document)."""
    doc = ctx.db.cluster_doc()
    for m in (doc or {}).get("members", []):
        if m.get("name") == name:
            return m.get("id"), doc
    return None, doc


def remove_member(ctx, name, via=None):
    """DELETE /api/v1/cluster/nodes/{id} of `name` through `via` (a random
    live member by default); an unknown outcome is settled by looking at
    GET /api/v1/cluster.  Returns a detail dict with 'removed'."""
    members = ctx.db.client_nodes()
    nid, _ = member_id(ctx, name)
    if nid is None:
        return {"node": name, "removed": False, "skipped": f"{name} not in GET /api/v1/cluster"}
    if via is None:
        via = ctx.rng.choice([m for m in members if m in ctx.db.live() and m != name]
                             or members)
    status = None
    try:
        r = requests.delete(f"{ctx.db.nodes[via].url}/api/v1/cluster/nodes/{nid}",
                            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                            timeout=(1.0, 30.0))
        status = f"{r.status_code} {r.text[:200]}"
        removed = r.status_code == 200
    except requests.RequestException as e:
        status = repr(e)
        removed = False
    if not removed:
        # unknown outcome: look at the membership as the cluster sees it
        time.sleep(1.0)
        now_id, _ = member_id(ctx, name)
        removed = now_id is None or now_id != nid
    if removed:
        ctx.db.members.discard(name)
    return {"node": name, "id": nid, "via": via, "answer": status, "removed": removed}


def join_fresh(ctx, node, via=None):
    """Give `node` a fresh identity (new raft id, empty data directory, a
    config with only its own table) and start it with --join through `via`
    (a random live member by default); bounded wait until GET
    /api/v1/cluster lists it as a voter."""
    live_members = [m for m in ctx.db.client_nodes() if m in ctx.db.live() and m != node]
    if not live_members:
        return {"node": node, "joined": False, "skipped": "no live member"}
    via = via or ctx.rng.choice(live_members)
    ctx.db.stop(node)
    ctx.db.write_joiner_config(node)
    nid = ctx.db.nodes[node].id
    ctx.db.start(node, wait=True, timeout=30, join_via=f"{ctx.db.nodes[via].addr}:8000")
    ctx.db.members.add(node)
    deadline = time.monotonic() + 30
    joined = False
    while time.monotonic() < deadline and not joined:
        doc = ctx.db.cluster_doc()
        joined = any(m.get("id") == nid and m.get("role") == "voter"
                     for m in (doc or {}).get("members", []))
        if not joined:
            time.sleep(0.3)
    return {"node": node, "id": nid, "via": via, "joined": joined}


class MembershipNemesis(Nemesis):
    """Shrink and grow the cluster through the membership API (issue C).

    Each window start is a random change, the window stop the opposite one:
      grow:   a node outside the cluster (a spare, or one removed earlier)
              gets a fresh identity (new raft id, empty data directory, a
              config with only its own table) and is started with
              --join <a random member's http address>; it is a member once
              GET /api/v1/cluster lists it as a voter (bounded wait).
      shrink: DELETE /api/v1/cluster/nodes/{id} of a random member (the
              leader included: leadership moves first), sent to a random
              member; the removed node is then stopped (SIGTERM).
    The cluster never shrinks below `min_members` voters nor grows beyond
    the nodes that have namespaces.  Clients talk to the current members."""
    name = "membership"

    def __init__(self, min_members=2):
        self.min_members = min_members
        self.last = None

    def grow(self, ctx):
        outside = [n for n in ctx.db.names if n not in ctx.db.members]
        live_members = [m for m in ctx.db.client_nodes() if m in ctx.db.live()]
        if not outside or not live_members:
            return {"action": "grow", "skipped": "no node outside the cluster" if not outside
                    else "no live member"}
        node = ctx.rng.choice(outside)
        via = ctx.rng.choice(live_members)
        d = join_fresh(ctx, node, via)
        return dict({"action": "grow"}, **d, members=ctx.db.client_nodes())

    def shrink(self, ctx):
        members = ctx.db.client_nodes()
        if len(members) <= self.min_members:
            return {"action": "shrink", "skipped": f"only {len(members)} members"}
        victim = ctx.rng.choice(members)
        if member_id(ctx, victim)[0] is None:
            return {"action": "shrink", "skipped": f"{victim} not in GET /api/v1/cluster"}
        via = ctx.rng.choice([m for m in members if m in ctx.db.live()] or members)
        d = remove_member(ctx, victim, via)
        if d.get("removed"):
            ctx.db.stop(victim)
        return dict({"action": "shrink"}, **d, members=ctx.db.client_nodes())

    def start(self, ctx):
        outside = [n for n in ctx.db.names if n not in ctx.db.members]
        can_grow = bool(outside)
        can_shrink = len(ctx.db.members) > self.min_members
        if can_grow and (not can_shrink or ctx.rng.random() < 0.5):
            self.last = "grow"
            return self.grow(ctx)
        self.last = "shrink"
        return self.shrink(ctx)

    def stop(self, ctx):
        last, self.last = self.last, None
        if last == "grow":
            return self.shrink(ctx)
        if last == "shrink":
            return self.grow(ctx)
        return {}


class KillAfterElectionNemesis(Nemesis):
    """kill -9 of leaders right after they win an election (issue F: a new
    leader's first moments: its barrier, entries of earlier terms).

    A background thread runs `rounds` rounds during the window.  Round 0
    kills the current leader (the trigger, recorded as such) and restarts it
    at once on the same data.  Every next round polls GET /health on the
    live nodes every `poll_s` until a leader with a higher term than the
    last victim's shows up, waits a random 0-`max_delay_ms` ms counted from
    that detection and kills it, then restarts it at once (no wait), so a
    majority can form for the next election.  stop() ends the thread and
    restarts (waiting for /health) every victim still down."""
    name = "kill-after-election"

    def __init__(self, rounds=(2, 4), max_delay_ms=300.0, poll_s=0.02, elect_timeout_s=8.0):
        self.rounds_range = rounds
        self.max_delay_ms = max_delay_ms
        self.poll_s = poll_s
        self.elect_timeout_s = elect_timeout_s
        self._stop = None
        self._thread = None
        self.rounds = []
        self.victims = set()

    def _kill_restart(self, ctx, node):
        ctx.db.kill(node)
        self.victims.add(node)
        try:
            ctx.db.start(node, wait=False)
            return True
        except Exception as e:  # noqa: BLE001 - recorded; stop() retries
            ctx.log(f"nemesis: immediate restart of {node} failed: {e!r}")
            return False

    def _loop(self, ctx, n_rounds, stop, deadline):
        ldr, term = ctx.db.leader_term(timeout=0.5)
        if ldr is None:
            self.rounds.append({"round": 0, "skipped": "no leader"})
            return
        t0 = time.monotonic()
        restarted = self._kill_restart(ctx, ldr)
        self.rounds.append({"round": 0, "trigger": True, "killed": ldr, "term": term,
                            "restarted_at_once": restarted})
        last_term = term
        last_kill = t0
        for i in range(1, n_rounds):
            if stop.is_set() or time.monotonic() > deadline:
                break
            found = None
            polls = 0
            t_deadline = time.monotonic() + self.elect_timeout_s
            while not stop.is_set() and time.monotonic() < min(t_deadline, deadline) \
                    and polls < 2000:
                polls += 1
                n, t = ctx.db.leader_term(timeout=0.3)
                if n is not None and t > last_term:
                    found = (n, t, time.monotonic())
                    break
                stop.wait(self.poll_s)
            if found is None:
                self.rounds.append({"round": i, "no_new_leader_within_s":
                                    round(time.monotonic() - last_kill, 3), "polls": polls})
                continue
            n, t, t_seen = found
            target = ctx.rng.uniform(0.0, self.max_delay_ms) / 1000.0
            left = target - (time.monotonic() - t_seen)
            if left > 0:
                time.sleep(left)
            t_kill = time.monotonic()
            restarted = self._kill_restart(ctx, n)
            self.rounds.append({
                "round": i, "killed": n, "term": t,
                "elected_seen_after_previous_kill_ms": round((t_seen - last_kill) * 1000, 1),
                "planned_delay_ms": round(target * 1000, 1),
                "killed_after_seen_ms": round((t_kill - t_seen) * 1000, 1),
                "polls": polls, "restarted_at_once": restarted})
            last_term, last_kill = t, t_kill

    def start(self, ctx):
        self.rounds = []
        n_rounds = ctx.rng.randint(*self.rounds_range)
        self._stop = threading.Event()
        stop = self._stop
        deadline = time.monotonic() + 60.0   # bounded even if stop() is never called
        self._thread = threading.Thread(target=self._loop, args=(ctx, n_rounds, stop, deadline),
                                        name="kill-after-election", daemon=True)
        self._thread.start()
        return {"rounds_planned": n_rounds, "max_delay_ms": self.max_delay_ms}

    def stop(self, ctx):
        if self._stop is not None:
            self._stop.set()
            self._thread.join(timeout=20)
        out, failed = [], []
        for v in sorted(self.victims):
            try:
                if not ctx.db.nodes[v].running():
                    ctx.db.start(v, wait=True, timeout=20)
                    out.append(v)
                else:
                    ctx.db.wait_ready(v, timeout=20)
            except Exception as e:  # noqa: BLE001 - recorded, heal_all retries
                failed.append(f"{v}: {e}")
                ctx.log(f"nemesis: restart of {v} failed: {e}")
        self.victims = set()
        kills = [r for r in self.rounds if r.get("killed") and not r.get("trigger")]
        return {"rounds": self.rounds, "kills_after_election": len(kills),
                "restarted_at_stop": out, "restart_failed": failed}


# A clean disk-full error in a node's log (libraft, LMDB, our own messages).
# shiplogd's deliberate stop when an LMDB write fails during apply (DESIGN:
# "an LMDB I/O error during apply stops the node rather than diverging") is
# printed as "FATAL: store apply of entry N failed (I/O error); stopping to
# avoid divergence" followed by abort(): it loses the errno, but inside a
# disk-full window on the filled node it is that deliberate stop, not a crash.
DISK_FULL_PATTERNS = (
    r"No space left on device", r"ENOSPC", r"MDB_MAP_FULL", r"[Dd]isk (is )?full",
    r"\bno space\b",
    r"^FATAL: store apply of entry \d+ failed \(I/O error\); stopping to avoid divergence$",
)


class DiskFullNemesis(Nemesis):
    """One node's data directory on a `mib` MiB tmpfs (a 60 s run needs
    ~25 MiB: three preallocated 8 MiB open raft segments, a few snapshots,
    <1 MiB of LMDB); the window fills it to the last byte with a filler
    file, stop removes it.  The node may keep running (writes failing) or
    exit with a clean disk-full error, which is recorded as expected; if it
    exited it is restarted on the same data at stop (a refusal to start
    then is a failure).  In half of the windows leadership is first moved
    to that node (POST /api/v1/cluster/transfer), so that the leader's disk
    write fails (upstream #320); otherwise it may still be or become the
    leader."""
    name = "disk-full"

    def __init__(self, mib=40):
        self.mib = mib
        self.node = None
        self.epoch = None

    def tmpfs_nodes(self, names, rng):
        self.node = rng.choice(list(names))
        return {self.node: self.mib}

    def _make_leader(self, ctx, n):
        """POST /api/v1/cluster/transfer to `n` (bounded wait, 3 s)."""
        nid = member_id(ctx, n)[0]
        via = [m for m in ctx.db.client_nodes() if m in ctx.db.live()]
        if nid is None or not via:
            return "no id or no live member"
        try:
            r = requests.post(f"{ctx.db.nodes[ctx.rng.choice(via)].url}/api/v1/cluster/transfer",
                              json={"id": nid}, headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                              timeout=(1.0, 5.0))
            ans = f"{r.status_code} {r.text[:120]}"
        except requests.RequestException as e:
            ans = repr(e)
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and ctx.db.leader() != n:
            time.sleep(0.1)
        return ans

    def start(self, ctx):
        n = self.node
        transfer = None
        if ctx.rng.random() < 0.5 and ctx.db.leader() != n:
            # half of the windows hit the leader's disk (upstream #320)
            transfer = self._make_leader(ctx, n)
        ctx.db.tolerate(n, "disk-full", DISK_FULL_PATTERNS)
        self.epoch = ctx.db.nodes[n].epoch
        was_leader = ctx.db.leader() == n
        d = ctx.db.fill_disk(n)
        return dict(d, node=n, leader=was_leader, transfer=transfer,
                    running=ctx.db.nodes[n].running())

    def stop(self, ctx):
        n = self.node
        d = ctx.db.free_disk(n)
        node = ctx.db.nodes[n]
        out = dict(d, node=n)
        # the monitor classifies an exit within 0.2 s; give it the time
        time.sleep(0.5)
        exits = [e for e in ctx.db.expected_exits if e["node"] == n and e["epoch"] >= self.epoch]
        crashes = [c for c in ctx.db.crashes if c["node"] == n and c["epoch"] >= self.epoch]
        out["exited_clean"] = [{k: e[k] for k in ("epoch", "returncode", "lines")} for e in exits]
        out["crashed"] = crashes
        ctx.db.untolerate(n)
        if not node.running() and n in ctx.db.members:
            try:
                ctx.db.start(n, wait=True, timeout=30)
                out["restarted"] = True
            except Exception as e:  # noqa: BLE001 - recorded; the nodes checker sees the exit
                out["restarted"] = False
                out["restart_error"] = str(e)
                ctx.log(f"nemesis: restart of {n} after disk-full failed: {e}")
        else:
            out["still_running"] = node.running()
        return out


# A clean refusal to start on a damaged raft directory.
CORRUPT_PATTERNS = (
    r"^raft: (start|init|io)\b", r"checksum", r"corrupt", r"[Mm]alformed", r"truncat",
    r"shiplogd: the raft actor failed to start", r"load", r"parse",
)


def _used_end(path, size):
    """Offset after the last non-zero byte (open segments are preallocated
    with zeros); reads at most `size` bytes in 1 MiB blocks."""
    end = 0
    with open(path, "rb") as f:
        off = 0
        while off < size:
            blk = f.read(1 << 20)
            if not blk:
                break
            stripped = blk.rstrip(b"\0")
            if stripped:
                end = off + len(stripped)
            off += len(blk)
    return end


class CorruptNemesis(Nemesis):
    """Damage one node's raft files while it is down (kill -9), restart it.

    Each window: a random member is killed; one injection:
      truncate  the newest (by mtime) written segment, or the newest
                snapshot (a coin decides), is truncated at a random offset
                inside its written part;
      bitflip   1-4 random bits flipped inside the written part of a random
                open segment, closed segment or snapshot file.
    The node is restarted and watched (bounded) until it answers /health
    ('started') or exits ('refused'); a refusing exit must be clean (exit
    status > 0, no assertion / sanitizer / SEGV): it is expected, anything
    else is a crash.  A node that does neither ('start-timeout') and still
    does not answer at stop is hung: recorded as a failure (nodes checker),
    killed and replaced like a refusing one.  At stop a started node is checked to catch up with
    the leader's applied index; a refused one is removed from the cluster
    (DELETE /api/v1/cluster/nodes/{id}) and brought back with a fresh
    identity and an empty data directory through --join.  LMDB files are
    never touched: LMDB has no checksums, damage there is out of scope."""
    name = "corrupt"
    KINDS = ("open", "closed", "snapshot")

    def __init__(self, start_timeout_s=20.0):
        self.start_timeout_s = start_timeout_s
        self.cur = None

    def _inject(self, ctx, node):
        files = [f for f in ctx.db.raft_files(node) if f["kind"] in self.KINDS and f["size"] > 0]
        for f in files:
            f["used"] = _used_end(f["path"], f["size"]) if f["kind"] == "open" else f["size"]
        files = [f for f in files if f["used"] > 0]
        if not files:
            return {"mode": "none", "why": "no written raft file"}
        # JEPSEN_CORRUPT=truncate:snapshot,bitflip:open ... narrows the choice
        # (to reproduce a finding); unset: every mode and kind
        only = [x.split(":", 1) for x in os.environ.get("JEPSEN_CORRUPT", "").split(",")
                if ":" in x]
        def allowed(mode, kind):
            return not only or [mode, kind] in only or [mode, "segment"] in only \
                and kind in ("open", "closed")
        modes = [m for m in ("truncate", "bitflip")
                 if any(allowed(m, f["kind"]) for f in files)]
        if not modes:
            return {"mode": "none", "why": "JEPSEN_CORRUPT allows no file present"}
        mode = ctx.rng.choice(modes)
        files = [f for f in files if allowed(mode, f["kind"])]
        if mode == "truncate":
            # the newest segment or the newest snapshot (the open segment is
            # nearly always the newest file of all)
            groups = [[x for x in files if x["kind"] in ("open", "closed")],
                      [x for x in files if x["kind"] == "snapshot"]]
            group = ctx.rng.choice([g for g in groups if g])
            f = max(group, key=lambda x: (x["mtime"], x["name"]))
            off = ctx.rng.randrange(0, f["used"])
            os.truncate(f["path"], off)
            return {"mode": "truncate", "file": f["name"], "kind": f["kind"], "size": f["size"],
                    "written": f["used"], "truncated_at": off}
        kinds = sorted({f["kind"] for f in files})
        kind = ctx.rng.choice(kinds)
        f = ctx.rng.choice([x for x in files if x["kind"] == kind])
        flips = []
        with open(f["path"], "r+b") as fh:
            for _ in range(ctx.rng.randint(1, 4)):
                off = ctx.rng.randrange(0, f["used"])
                bit = ctx.rng.randrange(8)
                fh.seek(off)
                b = fh.read(1)[0]
                fh.seek(off)
                fh.write(bytes([b ^ (1 << bit)]))
                flips.append([off, bit])
        return {"mode": "bitflip", "file": f["name"], "kind": kind, "size": f["size"],
                "written": f["used"], "flips": flips}

    def start(self, ctx):
        cands = [n for n in ctx.db.client_nodes() if ctx.db.nodes[n].running()]
        if len(cands) < 2:
            self.cur = None
            return {"skipped": "fewer than two running members"}
        node = ctx.rng.choice(cands)
        was_leader = ctx.db.leader() == node
        ctx.db.kill(node)
        inj = self._inject(ctx, node)
        ctx.db.tolerate(node, "corrupt", CORRUPT_PATTERNS)
        epoch_before = ctx.db.nodes[node].epoch
        ctx.db.start(node, wait=False)
        epoch = ctx.db.nodes[node].epoch
        outcome, lines = None, []
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if not ctx.db.nodes[node].running():
                outcome = "refused"
                break
            if ctx.db.health(node, timeout=0.5) is not None:
                outcome = "started"
                break
            time.sleep(0.1)
        if outcome is None:
            outcome = "start-timeout"
        rc = None
        if outcome == "refused":
            time.sleep(0.4)     # let the monitor classify the exit
            rc = ctx.db.nodes[node].proc.returncode
            lines = ctx.db.log_section(node, epoch)[-6:]
        self.cur = {"node": node, "epoch": epoch, "outcome": outcome}
        if outcome == "started":
            ctx.db.untolerate(node)     # from here on any exit is a crash
        return {"node": node, "was_leader": was_leader, "killed_epoch": epoch_before,
                "injection": inj, "outcome": outcome, "returncode": rc, "log_tail": lines}

    def stop(self, ctx):
        cur, self.cur = self.cur, None
        if cur is None:
            return {}
        node = cur["node"]
        out = {"node": node, "outcome_at_start": cur["outcome"]}
        exp = [e for e in ctx.db.expected_exits if e["node"] == node and e["epoch"] == cur["epoch"]]
        crash = [c for c in ctx.db.crashes if c["node"] == node and c["epoch"] == cur["epoch"]]
        out["clean_exit"] = bool(exp)
        if crash:
            out["crash"] = crash
        if cur["outcome"] == "start-timeout" and ctx.db.nodes[node].running() \
                and ctx.db.health(node, timeout=1.0) is None:
            # neither up nor refusing: hung at start (a failure, not a clean
            # refusal); kill it and replace it like a refusing node
            ctx.db.untolerate(node)
            ctx.db.kill(node)
            ctx.db.crashes.append({"node": node, "epoch": cur["epoch"], "returncode": None,
                                   "why": "hung at start: no /health and no exit for "
                                          f"{self.start_timeout_s:.0f} s + the window; killed",
                                   "lines": ctx.db.log_section(node, cur["epoch"])[-5:]})
            out["hung"] = True
        if ctx.db.nodes[node].running():
            ctx.db.untolerate(node)
            # bounded: does it catch up with the others?
            deadline = time.monotonic() + 10.0
            caught = False
            app = {}
            while time.monotonic() < deadline and not caught:
                app = ctx.db.applied()
                others = [v for k, v in app.items() if k != node and v is not None]
                mine = app.get(node)
                caught = mine is not None and bool(others) and mine >= min(others)
                if not caught:
                    time.sleep(0.3)
            out.update(action="none", caught_up=caught, applied=app)
            return out
        # refused (or hung): replace it with a fresh member
        ctx.db.untolerate(node)
        if ctx.db.nodes[node].running():
            ctx.db.stop(node)
        rm = remove_member(ctx, node)
        out["remove"] = rm
        if not rm.get("removed"):
            out["action"] = "remove-failed"
            return out
        # JEPSEN_REJOIN_DELAY_S: wait before the fresh identity starts on the
        # old addresses (default 0: replace at once, as a script would)
        delay = min(max(float(os.environ.get("JEPSEN_REJOIN_DELAY_S", "0") or 0), 0.0), 30.0)
        if delay:
            time.sleep(delay)
            out["rejoin_delay_s"] = delay
        out["join"] = join_fresh(ctx, node)
        out["action"] = "replaced"
        out["members"] = ctx.db.client_nodes()
        return out


class SnapshotInstallNemesis(Nemesis):
    """Force InstallSnapshot: with snapshot_threshold 32 / trailing 8 (the
    runner applies raft_overrides) one follower is cut off from its peers
    for the window, long enough for the leader to snapshot and drop the
    entries it lacks; at stop the partition heals and the follower must
    catch up from a snapshot (upstream #343: a follower that starts an
    election while installing one).  So that a slow workload cannot leave
    the follower within reach of the log, a thread writes to a component
    of its own (jepsen-nemesis/snapfill, read by no checker) through the
    majority until the leader's newest snapshot index minus the trailing
    count passes the follower's applied index (at most 400 writes).  Recorded: the follower's and leader's
    applied index, the leader's snapshots on disk, whether the follower's
    log end is below the leader's retained log (an install is needed), the
    catch-up time, and snapshot files that appeared on the follower."""
    name = "snapshot-install"
    raft_overrides = {"snapshot_threshold": 32, "snapshot_trailing": 8}

    def __init__(self):
        self.cur = None
        self.round = 0
        self.fill_ok, self.fill_done = 0, False
        self._stop = None
        self._thread = None

    def _fill(self, ctx, victim, others, v_applied, stop, deadline):
        """Writes to a component of its own (no checker reads it) through
        the majority side until the leader holds a snapshot that leaves the
        victim's log end behind its retained log (bounded: 400 writes, the
        window).  Without it a slow workload may not outrun 32+8 entries."""
        trailing = ctx.db.raft.get("snapshot_trailing", 0)
        path = "/api/collect/jepsen-nemesis/Deployment/snapfill/app"
        i = 0
        while not stop.is_set() and time.monotonic() < deadline and i < 400:
            i += 1
            node = others[i % len(others)]
            body = {"image_tag": f"f{i}", "image_sha": f"sha256:{ctx.run_id}-fill-{self.round}-{i}",
                    "image_repo": "jepsen", "image_name": "snapfill", "client_name": "jepsen-nemesis",
                    "env_name": "snapfill"}
            try:
                r = requests.put(ctx.db.nodes[node].url + path, json=body,
                                 headers={"Authorization": f"Bearer {ADMIN_KEY}",
                                          "Connection": "close"}, timeout=(1.0, 2.5))
                if r.status_code == 200:
                    self.fill_ok += 1
            except requests.RequestException:
                pass
            if i % 4 == 0:
                ldr = ctx.db.leader()
                idx = [f["index"] for f in ctx.db.raft_files(ldr) if f["kind"] == "snapshot"] \
                    if ldr and ldr != victim else []
                if idx and v_applied is not None and max(idx) - trailing > v_applied + 1:
                    self.fill_done = True
                    return
            stop.wait(0.03)

    def start(self, ctx):
        names = ctx.db.client_nodes()
        ldr = ctx.db.leader()
        cands = [n for n in names if n != ldr and ctx.db.nodes[n].running()] or names
        victim = ctx.rng.choice(cands)
        others = sorted(set(names) - {victim})
        ctx.net.partition(ctx.net.complete_grudge([{victim}, set(others)]))
        app = ctx.db.applied()
        snaps = sorted(f["name"] for f in ctx.db.raft_files(victim) if f["kind"] == "snapshot")
        self.cur = {"node": victim, "leader": ldr, "applied": app.get(victim),
                    "snapshots": snaps}
        self.round += 1
        self.fill_ok, self.fill_done = 0, False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._fill, args=(ctx, victim, others, app.get(victim), self._stop,
                                     time.monotonic() + 30.0),
            name="snapshot-fill", daemon=True)
        self._thread.start()
        return {"isolated": victim, "leader": ldr, "applied": app}

    def stop(self, ctx):
        cur, self.cur = self.cur, None
        if cur is None:
            ctx.net.heal()
            return {}
        v = cur["node"]
        if self._stop is not None:
            self._stop.set()
            self._thread.join(timeout=10)
        ldr = ctx.db.leader()
        app = ctx.db.applied()
        trailing = ctx.db.raft.get("snapshot_trailing", 0)
        ldr_snaps = [f["index"] for f in ctx.db.raft_files(ldr) if f["kind"] == "snapshot"] \
            if ldr else []
        v_applied = app.get(v)
        if v_applied is None:
            v_applied = cur["applied"]
        newest = max(ldr_snaps) if ldr_snaps else None
        needs = None
        if newest is not None and v_applied is not None:
            needs = v_applied < newest - trailing
        t0 = time.monotonic()       # the heal itself takes tens of ms
        ctx.net.heal()
        heal_s = time.monotonic() - t0
        target = max([x for k, x in app.items() if k != v and x is not None] or [0])
        caught = None
        while time.monotonic() - t0 < 15.0:
            h = ctx.db.health(v, timeout=0.5)
            a = (h or {}).get("raft", {}).get("applied_index") if isinstance(h, dict) else None
            if a is not None and a >= target:
                caught = round(time.monotonic() - t0, 3)
                break
            time.sleep(0.1)
        new_snaps = []
        for _ in range(20):     # a snapshot file written by the install (bounded, 2 s)
            new_snaps = sorted(f["name"] for f in ctx.db.raft_files(v)
                               if f["kind"] == "snapshot" and f["name"] not in cur["snapshots"])
            if new_snaps or caught is None:
                break
            time.sleep(0.1)
        installed = sorted(s for s in new_snaps
                           if int(s.split("-")[2]) in ldr_snaps and
                           v_applied is not None and int(s.split("-")[2]) > v_applied)
        return {"isolated": v, "leader": ldr, "applied_at_heal": app,
                "filler_writes_ok": self.fill_ok, "filler_reached_target": self.fill_done,
                "leader_snapshot_indexes": sorted(ldr_snaps), "trailing": trailing,
                "install_needed": needs, "heal_s": round(heal_s, 3),
                "caught_up_after_s": caught,
                "new_follower_snapshots": new_snaps, "snapshots_matching_leader": installed}


class MixedNemesis(Nemesis):
    name = "mixed"

    def __init__(self, members):
        self.members = members
        self.current = None

    @property
    def needs_clock(self):
        return any(m.needs_clock for m in self.members)

    def start(self, ctx):
        self.current = ctx.rng.choice(self.members)
        d = self.current.start(ctx)
        return dict(d, fault=self.current.name)

    def stop(self, ctx):
        cur, self.current = self.current, None
        return cur.stop(ctx) if cur else {}


NEMESES = [
    "none", "partition-random-halves", "partition-majorities-ring", "bridge",
    "isolate-leader", "kill", "kill-leader", "pause", "pause-leader", "clock-skew",
    "clock-jump", "clock-strobe", "packet-loss", "packet-delay", "mixed", "membership",
    "kill-after-election", "disk-full", "corrupt", "snapshot-install",
]

# not drawn by mixed: need set-up before the start (tmpfs) or change what
# exits and identities the checkers accept
NOT_IN_MIXED = ("none", "disk-full", "corrupt")


def make(name, clock_available=True):
    """Nemesis by name; raises KeyError for unknown or skipped names."""
    if name in SKIPPED:
        raise KeyError(name)
    simple = {
        "none": NoNemesis,
        "partition-random-halves": lambda: PartitionNemesis("partition-random-halves"),
        "partition-majorities-ring": lambda: PartitionNemesis("partition-majorities-ring"),
        "bridge": lambda: PartitionNemesis("bridge"),
        "isolate-leader": lambda: PartitionNemesis("isolate-leader"),
        "kill": lambda: KillNemesis(False),
        "kill-leader": lambda: KillNemesis(True),
        "pause": lambda: PauseNemesis(False),
        "pause-leader": lambda: PauseNemesis(True),
        "clock-skew": ClockSkewNemesis,
        "clock-jump": ClockJumpNemesis,
        "clock-strobe": ClockStrobeNemesis,
        "packet-loss": lambda: PacketNemesis("packet-loss"),
        "packet-delay": lambda: PacketNemesis("packet-delay"),
        "membership": MembershipNemesis,
        "kill-after-election": KillAfterElectionNemesis,
        "disk-full": DiskFullNemesis,
        "corrupt": CorruptNemesis,
        "snapshot-install": SnapshotInstallNemesis,
    }
    if name == "mixed":
        members = [simple[n]() for n in simple if n not in NOT_IN_MIXED
                   and (clock_available or not n.startswith("clock"))]
        return MixedNemesis(members)
    return simple[name]()


def skip_reason(name, clock_available):
    if name in SKIPPED:
        return SKIPPED[name]
    if name.startswith("clock") and not clock_available:
        return "libfaketime not installed (apt-get install -y faketime)"
    return None


class Schedule(threading.Thread):
    """quiet -> fault -> quiet -> fault ... until `until` (monotonic), each
    phase `interval` s (+-20 %), first quiet `warmup` s.  A fault still
    active at `until` is stopped then."""

    def __init__(self, ctx, nemesis, timeline, until, interval=5.0, warmup=3.0):
        super().__init__(name="nemesis", daemon=True)
        self.ctx, self.nemesis, self.timeline = ctx, nemesis, timeline
        self.until, self.interval, self.warmup = until, interval, warmup
        self.halt = threading.Event()
        self.errors = []
        self.cycles = 0

    def _sleep_until(self, t):
        while not self.halt.is_set():
            left = min(t, self.until) - time.monotonic()
            if left <= 0:
                return
            self.halt.wait(min(left, 0.2))

    def run(self):
        nem = self.nemesis
        if isinstance(nem, NoNemesis):
            return
        try:
            self._sleep_until(time.monotonic() + self.warmup)
            while not self.halt.is_set() and time.monotonic() < self.until - 1.0 \
                    and self.cycles < 10000:
                self.cycles += 1
                label = nem.name
                try:
                    t0 = time.monotonic()
                    detail = nem.start(self.ctx)
                    if isinstance(nem, MixedNemesis):
                        label = "mixed:" + detail.get("fault", "?")
                    self.timeline.event("start", label, at=t0, **detail)
                    self.ctx.log(f"nemesis: start {label} {json.dumps(detail, default=str)}")
                except Exception as e:  # noqa: BLE001 - recorded, run continues
                    self.errors.append(f"start {nem.name}: {e!r}")
                    self.ctx.log(f"nemesis: start {nem.name} failed: {e!r}")
                    label = None
                self._sleep_until(time.monotonic() + self._jitter())
                try:
                    detail = nem.stop(self.ctx)
                    if label:
                        self.timeline.event("stop", label, **detail)
                    self.ctx.log(f"nemesis: stop {label or nem.name} {json.dumps(detail, default=str)}")
                except Exception as e:  # noqa: BLE001
                    self.errors.append(f"stop {nem.name}: {e!r}")
                    self.ctx.log(f"nemesis: stop {nem.name} failed: {e!r}")
                    if label:
                        self.timeline.event("stop", label, error=repr(e))
                self._sleep_until(time.monotonic() + self._jitter())
        except Exception as e:  # noqa: BLE001
            self.errors.append(repr(e))

    def _jitter(self):
        return self.interval * self.ctx.rng.uniform(0.8, 1.2)


def heal_all(ctx):
    """Undo every fault: network, clocks, pauses, dead nodes (restarted)."""
    problems = []
    try:
        ctx.net.clear_all()
    except Exception as e:  # noqa: BLE001
        problems.append(f"net: {e!r}")
    for n in ctx.db.names:
        try:
            ctx.db.set_clock(n, 0)
            ctx.db.resume(n)
        except Exception as e:  # noqa: BLE001
            problems.append(f"{n}: {e!r}")
    for n in ctx.db.client_nodes():
        node = ctx.db.nodes[n]
        if not node.running():
            try:
                ctx.db.start(n, wait=True, timeout=30)
            except Exception as e:  # noqa: BLE001
                problems.append(f"restart {n}: {e!r}")
    return problems
