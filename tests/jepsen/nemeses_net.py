"""Network nemeses: the partitions, packet loss and packet delay."""

from __future__ import annotations

from nemesis_base import Nemesis
from net import random_halves


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
