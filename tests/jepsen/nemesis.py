"""Nemeses: faults injected on a schedule during a run.

Every nemesis has start(ctx) -> detail and stop(ctx) -> detail; a Schedule
thread alternates  quiet (interval s) -> fault (interval s) -> quiet -> ...
until the run's fault phase ends, then heals everything (heal_all).  Each
fault window is recorded in the Timeline: nemesis.jsonl gets one line per
start and per stop, and windows (start, end, name) feed the plots and the
failover-gap statistics.

This module holds mixed, the names (NEMESES, make, skip_reason), the
Schedule and heal_all; the Timeline, the Nemesis base class and none are in
nemesis_base.py, the other nemeses in nemeses_{net,process,clock,members,disk}.py.

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
import threading
import time

from nemeses_clock import ClockJumpNemesis, ClockSkewNemesis, ClockStrobeNemesis
from nemeses_disk import (CORRUPT_PATTERNS, DISK_FULL_PATTERNS, CorruptNemesis, DiskFullNemesis,
                          SnapshotInstallNemesis, _used_end)
from nemeses_members import MembershipNemesis
from nemeses_net import PacketNemesis, PartitionNemesis
from nemeses_process import KillAfterElectionNemesis, KillNemesis, PauseNemesis
from nemesis_base import Nemesis, NoNemesis, Timeline

# what runner, campaign and test_expected_exits use (`import nemesis as nemmod`)
__all__ = ["CORRUPT_PATTERNS", "DISK_FULL_PATTERNS", "NEMESES", "NOT_IN_MIXED", "SKIPPED",
           "Schedule", "Timeline", "_used_end", "heal_all", "make", "skip_reason"]

SKIPPED = {}


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
