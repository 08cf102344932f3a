"""Clock nemeses (libfaketime): skew, jump, strobe."""

from __future__ import annotations

import threading
import time

from nemesis_base import Nemesis


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
