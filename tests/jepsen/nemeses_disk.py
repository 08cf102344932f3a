"""Disk and raft-file nemeses: disk-full, corrupt, snapshot-install; expected-exit patterns."""

from __future__ import annotations

import os
import threading
import time

import requests

from db import ADMIN_KEY
from nemeses_members import join_fresh, member_id, remove_member
from nemesis_base import Nemesis


# A clean disk-full error in a node's log (libraft, LMDB, our own messages).
# shiplogd's deliberate stop when an LMDB write fails during apply (DESIGN:
# "an LMDB I/O error during apply stops the node rather than diverging") is
# printed as "FATAL: store apply of entry N failed (I/O error); stopping to
# avoid divergence" followed by abort(): it loses the errno, but inside a
# disk-full window on the filled node it is that deliberate stop, not a crash.
DISK_FULL_PATTERNS = (
    r"No space left on device", r"ENOSPC", r"MDB_MAP_FULL", r"[Dd]isk (is )?full",
    r"\bno space\b",
    r"\bFATAL: store apply of entry \d+ failed \(I/O error\); stopping to avoid divergence$",
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
    r"\braft: (start|init|io)\b", r"checksum", r"corrupt", r"[Mm]alformed", r"truncat",
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
