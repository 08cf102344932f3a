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
Partitions only ever separate nodes from nodes; the client reaches every node.
"""

from __future__ import annotations

import json
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

    def _id_of(self, ctx, name):
        doc = ctx.db.cluster_doc()
        for m in (doc or {}).get("members", []):
            if m.get("name") == name:
                return m.get("id"), doc
        return None, doc

    def grow(self, ctx):
        outside = [n for n in ctx.db.names if n not in ctx.db.members]
        live_members = [m for m in ctx.db.client_nodes() if m in ctx.db.live()]
        if not outside or not live_members:
            return {"action": "grow", "skipped": "no node outside the cluster" if not outside
                    else "no live member"}
        node = ctx.rng.choice(outside)
        via = ctx.rng.choice(live_members)
        ctx.db.stop(node)
        ctx.db.write_joiner_config(node)
        nid = ctx.db.nodes[node].id
        ctx.db.start(node, wait=True, timeout=30,
                     join_via=f"{ctx.db.nodes[via].addr}:8000")
        ctx.db.members.add(node)
        deadline = time.monotonic() + 30
        joined = False
        while time.monotonic() < deadline and not joined:
            doc = ctx.db.cluster_doc()
            joined = any(m.get("id") == nid and m.get("role") == "voter"
                         for m in (doc or {}).get("members", []))
            if not joined:
                time.sleep(0.3)
        return {"action": "grow", "node": node, "id": nid, "via": via, "joined": joined,
                "members": ctx.db.client_nodes()}

    def shrink(self, ctx):
        members = ctx.db.client_nodes()
        if len(members) <= self.min_members:
            return {"action": "shrink", "skipped": f"only {len(members)} members"}
        victim = ctx.rng.choice(members)
        nid, doc = self._id_of(ctx, victim)
        if nid is None:
            return {"action": "shrink", "skipped": f"{victim} not in GET /api/v1/cluster"}
        via = ctx.rng.choice([m for m in members if m in ctx.db.live()] or members)
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
            now_id, _ = self._id_of(ctx, victim)
            removed = now_id is None or now_id != nid
        if removed:
            ctx.db.members.discard(victim)
            ctx.db.stop(victim)
        return {"action": "shrink", "node": victim, "id": nid, "via": via,
                "answer": status, "removed": removed, "members": ctx.db.client_nodes()}

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
]


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
    }
    if name == "mixed":
        members = [simple[n]() for n in simple if n != "none"
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
