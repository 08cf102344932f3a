"""One fault-injection run: cluster in namespaces, workload, nemesis, checks.

Used by the `run` script (same arguments) and, through `run`, by `campaign`.

Phases (times relative to the clients' start):
  [0, T)          clients run; the nemesis schedule injects faults
                  (quiet `--warmup` s first, then fault/quiet windows of
                  `--interval` s each)
  T               every fault healed (network, clocks, pauses; killed nodes
                  restarted), a leader awaited
  [T, T+R)        clients keep running (--recovery R s): the cluster must
                  serve again
  then            clients stopped, final reads (set, idempotent), checkers,
                  pictures, verdict.json; the cluster and the namespaces are
                  torn down on every exit path (finally + atexit + signals).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import random
import shutil
import signal
import sys
import threading
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import db as dbmod  # noqa: E402
import history as hist  # noqa: E402
import nemesis as nemmod  # noqa: E402
import net as netmod  # noqa: E402
import plot  # noqa: E402
import workloads as wlmod  # noqa: E402

LOCK_PATH = "/run/lock/shiplog-jepsen.lock" if os.path.isdir("/run/lock") \
    else "/tmp/shiplog-jepsen.lock"
WRITE_FS = ("write", "add", "write-idem")


class RunAborted(BaseException):
    """Raised in the main thread by SIGINT/SIGTERM/SIGHUP/SIGALRM."""


class Ctx:
    pass


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="tests/jepsen/run",
                                 description="one shiplog fault-injection run")
    ap.add_argument("--nemesis", required=True, choices=nemmod.NEMESES)
    ap.add_argument("--workload", required=True, choices=sorted(wlmod.NAMES))
    ap.add_argument("--time", type=float, default=30.0, help="fault phase, seconds")
    ap.add_argument("--nodes", type=int, default=3, choices=(3, 5))
    ap.add_argument("--rate", type=float, default=15.0, help="total ops/s (all clients)")
    ap.add_argument("--out", help="run folder (default tests/jepsen/runs/<stamp>-<workload>-<nemesis>)")
    ap.add_argument("--interval", type=float, default=5.0,
                    help="length of each fault window and each quiet window, s")
    ap.add_argument("--warmup", type=float, default=3.0, help="quiet time before the first fault")
    ap.add_argument("--recovery", type=float, default=6.0,
                    help="seconds of client load after healing")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--snapshot-threshold", type=int, default=None,
                    help="raft snapshot_threshold (default 256, low so snapshots and installs "
                         "happen; a nemesis may ask for lower, e.g. snapshot-install: 32)")
    ap.add_argument("--snapshot-trailing", type=int, default=None,
                    help="raft snapshot_trailing (default 64; snapshot-install: 8)")
    ap.add_argument("--keep-data", action="store_true",
                    help="keep the nodes' data directories even when the run is valid")
    ap.add_argument("--check-time-limit", type=float, default=120.0,
                    help="linearizability search budget, s")
    a = ap.parse_args(argv)
    if a.time <= 0 or a.time > 3600:
        ap.error("--time must be in (0, 3600]")
    if a.rate <= 0 or a.rate > 1000:
        ap.error("--rate must be in (0, 1000]")
    return a


class Logger:
    def __init__(self, path):
        self.t0 = time.monotonic()
        self._fh = open(path, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def __call__(self, msg):
        line = f"[{time.monotonic() - self.t0:8.3f}] {msg}"
        with self._lock:
            print(line, flush=True)
            if self._fh:
                self._fh.write(line + "\n")
                self._fh.flush()

    def close(self):
        with self._lock:
            if self._fh:
                self._fh.close()
                self._fh = None


def op_counts(events):
    ops = hist.pair_ops(events)
    by_f = defaultdict(Counter)
    for o in ops:
        by_f[o.f][o.outcome] += 1
    total = Counter()
    for c in by_f.values():
        total.update(c)
    return {"total": len(ops), "ok": total[hist.OK], "fail": total[hist.FAIL],
            "info": total[hist.INFO],
            "by_f": {f: dict(c) for f, c in sorted(by_f.items())}}


def failover_gaps(events, windows, t_start, t_end):
    """Longest stretch without an ok write (WRITE_FS) overlapping each fault
    window; gaps are measured between consecutive ok write completions over
    the whole run (run start and end count as boundaries)."""
    oks = sorted(float(e["time"]) for e in events
                 if e.get("type") == hist.OK and e.get("f") in WRITE_FS)
    points = [t_start] + oks + [t_end]
    gaps = list(zip(points, points[1:]))
    out = []
    overall = 0.0
    for s, e, name in windows:
        e = t_end if e is None else e
        best = 0.0
        for a, b in gaps:
            if b >= s and a <= e:
                best = max(best, b - a)
        first_ok = next((t for t in oks if t >= s), None)
        out.append({"name": name, "start_s": round(s - t_start, 3), "end_s": round(e - t_start, 3),
                    "longest_gap_s": round(best, 3),
                    "first_ok_write_after_start_s": None if first_ok is None
                    else round(first_ok - s, 3)})
        overall = max(overall, best)
    quiet = 0.0
    for a, b in gaps:
        if not any(b >= s and a <= (t_end if e is None else e) for s, e, _ in windows):
            quiet = max(quiet, b - a)
    return {"max_gap_during_faults_s": round(overall, 3),
            "max_gap_without_faults_s": round(quiet, 3),
            "ok_writes": len(oks), "windows": out}


def recovery_check(events, healed_at, end_at):
    oks = [float(e["time"]) for e in events
           if e.get("type") == hist.OK and e.get("f") in WRITE_FS and float(e["time"]) >= healed_at]
    reads = [float(e["time"]) for e in events
             if e.get("type") == hist.OK and e.get("f") == "read" and float(e["time"]) >= healed_at]
    return {"valid": bool(oks) or (bool(reads) and not any(
                e.get("f") in WRITE_FS for e in events if e.get("type") == hist.INVOKE)),
            "ok_writes_after_heal": len(oks), "ok_reads_after_heal": len(reads),
            "first_ok_write_after_heal_s": round(min(oks) - healed_at, 3) if oks else None,
            "window_s": round(end_at - healed_at, 3)}


def check_members(ctx, attempts=3):
    """At the end every node the harness counts as a member answers
    GET /health and does not call itself removed (a member stuck in
    'removed' mode refuses every write and linearizable read).  Bounded:
    `attempts` tries of 1 s per node."""
    states = {}
    for n in ctx.db.client_nodes():
        st = None
        for _ in range(attempts):
            h = ctx.db.health(n, timeout=1.0)
            if h and isinstance(h.get("raft"), dict):
                st = h["raft"].get("state")
                break
            time.sleep(0.3)
        states[n] = st
    bad = {n: st for n, st in states.items() if st is None or st == "removed"}
    return {"valid": not bad, "states": states, "bad": bad}


def _valid(v):
    return v is True or v == "skipped"


def default_out(workload, nemesis):
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return HERE / "runs" / f"{stamp}-{workload}-{nemesis}"


def write_json(path, obj):
    tmp = str(path) + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, default=str, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)


def main(argv):
    a = parse_args(argv)
    run_dir = Path(a.out) if a.out else default_out(a.workload, a.nemesis)
    if run_dir.exists() and any(run_dir.iterdir()):
        print(f"run folder {run_dir} exists and is not empty", file=sys.stderr)
        return 2
    run_dir.mkdir(parents=True, exist_ok=True)
    log = Logger(run_dir / "run.log")
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1 << 30)
    verdict = {"workload": a.workload, "nemesis": a.nemesis, "nodes": a.nodes,
               "time_s": a.time, "rate": a.rate, "interval_s": a.interval, "seed": seed,
               "run_dir": str(run_dir), "valid": False, "checkers": {},
               "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}

    clock_ok = dbmod.faketime_lib() is not None
    skip = nemmod.skip_reason(a.nemesis, clock_ok)
    if skip:
        verdict.update(valid="skipped", reason=skip)
        write_json(run_dir / "verdict.json", verdict)
        log(f"skipped: {skip}")
        log.close()
        return 0
    ok, why = netmod.available()
    if not ok:
        verdict.update(valid="skipped", reason=why)
        write_json(run_dir / "verdict.json", verdict)
        log(f"skipped: {why}")
        log.close()
        return 0

    # one run at a time on this machine: the namespace names are fixed
    lock_fh = open(LOCK_PATH, "w")
    deadline = time.monotonic() + 600
    waited = False
    while True:
        try:
            fcntl.flock(lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if not waited:
                log(f"waiting for {LOCK_PATH} (another jepsen run is in progress)")
                waited = True
            if time.monotonic() > deadline:
                print("another jepsen run holds " + LOCK_PATH, file=sys.stderr)
                return 2
            time.sleep(1)

    def on_signal(signum, _frame):
        raise RunAborted(f"signal {signal.Signals(signum).name}")
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM,
                                                      signal.SIGHUP, signal.SIGALRM)}
    # the whole run is bounded: faults + recovery + setup, checks and teardown
    signal.alarm(int(a.time + a.recovery + a.check_time_limit + 300))

    ctx = Ctx()
    ctx.run_dir, ctx.run_id, ctx.seed = run_dir, f"r{seed:x}", seed
    ctx.rng = random.Random(seed)
    ctx.rate, ctx.log = a.rate, log
    ctx.check_time_limit = a.check_time_limit
    ctx.clients_go, ctx.clients_stop = threading.Event(), threading.Event()
    ctx.hard_deadline = time.monotonic() + a.time + a.recovery + 120
    names = [f"n{i}" for i in range(1, a.nodes + 1)]
    # nodes the membership nemesis may add (namespaces exist for them)
    spares = [f"n{i}" for i in range(a.nodes + 1, netmod.MAX_NODES + 1)] \
        if a.nemesis in ("membership", "mixed") else []
    ctx.net = netmod.Net(names + spares, log=log)
    ctx.db = None
    ctx.history = hist.HistoryWriter(str(run_dir / "history.jsonl"))
    timeline = nemmod.Timeline(str(run_dir / "nemesis.jsonl"))
    threads = []
    schedule = None
    exit_code = 1
    try:
        nem = nemmod.make(a.nemesis, clock_ok)
        log(f"run {run_dir.name}: workload {a.workload}, nemesis {a.nemesis}, {a.nodes} nodes, "
            f"{a.time}s, rate {a.rate}/s, seed {seed}")
        stale = dbmod.cleanup_stale_mounts()
        if stale:
            log(f"unmounted tmpfs left by an earlier run: {stale}")
        ctx.net.setup()
        # [raft]: the defaults, then what the nemesis asks for, then the command line
        raft_cfg = {"snapshot_threshold": 256, "snapshot_trailing": 64}
        raft_cfg.update(getattr(nem, "raft_overrides", {}) or {})
        if a.snapshot_threshold is not None:
            raft_cfg["snapshot_threshold"] = a.snapshot_threshold
        if a.snapshot_trailing is not None:
            raft_cfg["snapshot_trailing"] = a.snapshot_trailing
        tmpfs = nem.tmpfs_nodes(names, ctx.rng) if hasattr(nem, "tmpfs_nodes") else {}
        verdict["raft"] = raft_cfg
        verdict["tmpfs_mib"] = tmpfs
        ctx.db = dbmod.DB(run_dir, names, spares=spares, clock=nem.needs_clock, log=log,
                          raft=raft_cfg, tmpfs=tmpfs)
        verdict["binary"] = ctx.db.binary_src
        verdict["delay_method"] = ctx.net.delay_method() if a.nemesis in ("packet-delay", "mixed") else None
        ctx.db.start_all()
        ldr = ctx.db.wait_leader(30)
        if ldr is None:
            raise RuntimeError("no leader elected within 30 s of the start")
        log(f"cluster up, leader {ldr}")
        ctx.db.start_monitor()
        wl = wlmod.make(a.workload, ctx)
        threads = wl.threads(ctx)
        for t in threads:
            t.start()
        t_start = time.monotonic()
        fault_end = t_start + a.time
        schedule = nemmod.Schedule(ctx, nem, timeline, until=fault_end,
                                   interval=a.interval, warmup=a.warmup)
        ctx.clients_go.set()
        schedule.start()
        while time.monotonic() < fault_end:
            time.sleep(min(0.5, max(0.0, fault_end - time.monotonic())))
        schedule.halt.set()
        schedule.join(timeout=90)
        timeline.close_all()
        heal_problems = nemmod.heal_all(ctx)
        healed_at = time.monotonic()
        timeline.event("heal", "heal", problems=heal_problems)
        ldr = ctx.db.wait_leader(30)
        log(f"healed ({heal_problems or 'ok'}); leader {ldr}")
        rec_end = time.monotonic() + a.recovery
        while time.monotonic() < rec_end:
            time.sleep(min(0.5, max(0.0, rec_end - time.monotonic())))
        ctx.clients_stop.set()
        for t in threads:
            t.join(timeout=wlmod.REQ_TIMEOUT_S * 3 + 5)
        t_end = time.monotonic()
        stuck = [t.name for t in threads if t.is_alive()]
        log(f"clients stopped ({sum(t.ops for t in threads)} ops); final reads")
        final = wl.final(ctx)
        write_json(run_dir / "final.json", final)
        members_check = check_members(ctx)

        events = ctx.history.snapshot()
        log("checking")
        checks = wl.check(ctx, events, final)
        crash_lines = ctx.db.scan_logs()
        checks["nodes"] = {"valid": not crash_lines and not ctx.db.crashes,
                           "unexpected_exits": ctx.db.crashes, "log_lines": crash_lines,
                           "expected_exits": ctx.db.expected_exits}
        checks["recovery"] = recovery_check(events, healed_at, t_end)
        checks["members"] = members_check
        client_errors = [t.error for t in threads if t.error]
        checks["harness"] = {"valid": not client_errors and not stuck and not schedule.errors
                             and not heal_problems,
                             "client_errors": client_errors, "stuck_clients": stuck,
                             "nemesis_errors": schedule.errors, "heal_problems": heal_problems}
        verdict["checkers"] = checks
        verdict["ops"] = op_counts(events)
        verdict["failover"] = failover_gaps(events, timeline.plot_windows(), t_start, t_end)
        verdict["nemesis_windows"] = len(timeline.windows)
        verdict["node_starts"] = {n: ctx.db.nodes[n].epoch for n in ctx.db.names}
        verdict["final_members"] = ctx.db.client_nodes()
        verdict["valid"] = all(_valid(c.get("valid")) for c in checks.values())
        title = f"{a.workload} / {a.nemesis} ({a.nodes} nodes, {a.time:g}s) - " \
                f"{'valid' if verdict['valid'] is True else 'INVALID'}"
        try:
            plot.timeline(events, timeline.plot_windows(), str(run_dir / "timeline.svg"), title=title)
            plot.latency(events, timeline.plot_windows(), str(run_dir / "latency.svg"), title=title)
        except Exception as e:  # noqa: BLE001 - pictures are not the verdict
            log(f"plot failed: {e!r}")
        exit_code = 0 if verdict["valid"] is True else 1
    except RunAborted as e:
        verdict["error"] = f"aborted: {e}"
        log(f"aborted: {e}")
    except Exception as e:  # noqa: BLE001
        verdict["error"] = f"{e!r}"
        verdict["traceback"] = traceback.format_exc()
        log(f"run failed: {e!r}\n{traceback.format_exc()}")
    finally:
        signal.alarm(0)
        ctx.clients_stop.set()
        ctx.clients_go.set()
        if schedule is not None:
            schedule.halt.set()
        try:
            if ctx.db is not None:
                ctx.db.teardown()
        finally:
            ctx.net.teardown()
            ctx.history.close()
            timeline.close()
            for s, h in old.items():
                signal.signal(s, h)
        verdict["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        write_json(run_dir / "verdict.json", verdict)
        if verdict["valid"] is True and not a.keep_data:
            shutil.rmtree(run_dir / "data", ignore_errors=True)
        summary = {k: (v.get("valid") if isinstance(v, dict) else v)
                   for k, v in verdict["checkers"].items()}
        log(f"verdict: {'VALID' if verdict['valid'] is True else 'INVALID'} {summary} "
            f"ops={verdict.get('ops', {}).get('total')} -> {run_dir}")
        log.close()
        fcntl.flock(lock_fh, fcntl.LOCK_UN)
        lock_fh.close()
    return exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
