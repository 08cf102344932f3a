"""Process nemeses: kill -9 / SIGSTOP of a node or the leader, kill right after an election."""

from __future__ import annotations

import threading
import time

from nemesis_base import Nemesis


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
