"""shiplogd processes inside the node namespaces of net.py.

DB writes one cluster.toml for all nodes (the integration harness's format,
with addresses on the namespace IPs), starts each node with

    ip netns exec slj-nX <shiplogd> --config RUN/cluster.toml --node nX

(`ip netns exec` execs the binary, so the Popen PID is shiplogd's PID), and
offers the process faults the nemeses need: SIGTERM stop, kill -9, SIGSTOP /
SIGCONT, restart on the same data directory.  Every node's stdout+stderr goes
to RUN/nX.log.  Processes are only ever signalled by their PID.

Clock faults: with clock=True every node runs with libfaketime preloaded and
FAKETIME_TIMESTAMP_FILE=RUN/clock/nX (FAKETIME_NO_CACHE=1, so a rewrite takes
effect at once; FAKETIME_DONT_FAKE_MONOTONIC=1: only the wall clock moves, as
when an operator or a bad NTP server sets the date).  set_clock(node, s)
rewrites that file atomically.

The binary is copied into the run folder's scratch space at start, so a
rebuild of build/shiplogd during a run cannot mix two binaries in one
cluster.

Disk faults: DB(tmpfs={"n3": 40}) puts n3's data directory on a tmpfs of
that many MiB (mounted before the first start, source name TMPFS_SOURCE,
unmounted at teardown; cleanup_stale_mounts() removes mounts of an earlier
run that died).  fill_disk / free_disk put and remove a filler file there.
raft_files(node) lists a node's raft directory (segments, snapshots) for the
corrupt nemesis.

Expected exits: tolerate(node, reason, patterns) marks the node's current
incarnation, and every incarnation started until untolerate(node), as
allowed to exit by itself with a *clean* error: an exit status > 0 (or
SIGABRT right after a deliberate "FATAL ... stopping" line that matches
`patterns`), and no sanitizer report, assertion or SEGV in that
incarnation's log.  Such exits go to expected_exits (recorded in the
verdict) instead of crashes; anything else is still a crash.
"""

from __future__ import annotations

import atexit
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

import net as netmod

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from harness_procs import wait_stopped  # noqa: E402  (one definition of "stopped" for both suites)

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPLOGD = os.environ.get("SHIPLOGD") or str(REPO_ROOT / "build" / "shiplogd")
FAKETIME_LIBS = (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/faketime/libfaketimeMT.so.1",
)

ADMIN_KEY = "jepsen-admin-key"
HTTP_PORT, RAFT_PORT, RPC_PORT = 8000, 7000, 7100
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
TMPFS_SOURCE = "slj-jepsen-tmpfs"    # mount source name: ours alone
FILLER_NAME = "jepsen-filler"
START_MARK = re.compile(r"^===== jepsen: start #(\d+) of (\S+) ")

# Lines in a node's log that fail the run (sanitizers, assertions, crashes).
CRASH_PATTERNS = [
    re.compile(p) for p in (
        r"ERROR: AddressSanitizer",
        r"ERROR: LeakSanitizer",
        r"runtime error:",                 # UBSan
        r"Assertion .* failed",            # assert(3)
        r"assertion failed",
        r"\bSEGV\b|Segmentation fault",
        r"\babort(ed)?\b.*core dumped",
        r"\bpanic\b",
        r"\bFATAL\b",
    )
]
# The subset that no expected-exit pattern can excuse (only a deliberate
# FATAL line can be the expected error of a tolerated exit).
HARD_CRASH_PATTERNS = [p for p in CRASH_PATTERNS if p.pattern != r"\bFATAL\b"]


def faketime_lib():
    for p in FAKETIME_LIBS:
        if os.path.exists(p):
            return p
    return None


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"unsupported TOML value {v!r}")


class Node:
    def __init__(self, name, run_dir, layout=netmod.DEFAULT_LAYOUT, region="jepsen"):
        self.name = name
        self.id = int(name.lstrip("n"))
        self.addr = layout.node_addr(name)
        self.region = region
        self.data_dir = Path(run_dir) / "data" / name
        self.log_path = Path(run_dir) / f"{name}.log"
        self.clock_path = Path(run_dir) / "clock" / name
        self.config_path = None
        self.proc = None
        self.paused = False
        self.expected_down = True
        self.epoch = 0          # incremented at every start
        self.exits = []         # (how, returncode, time)
        self.clock_offset = 0.0
        self.tolerance = None   # (reason, [regex]) while exits may be expected
        self.tmpfs_mb = None    # data directory on a tmpfs of this size

    @property
    def raft_dir(self):
        return self.data_dir / "raft"

    @property
    def url(self):
        return f"http://{self.addr}:{HTTP_PORT}"

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def tag(self):
        """Node name qualified by its process incarnation: n2#3 (checker reset
        across restarts: a restarted node is a new 'node' for the monotonic
        read checker)."""
        return f"{self.name}#{self.epoch}"


class DB:
    """names: the initial voters (the [[node]] tables of cluster.toml).
    spares: further nodes (namespaces exist) that only the membership
    nemesis starts, each time with a fresh data directory, a fresh raft id
    and a config of its own holding just its table, through --join.
    layout: the net.Layout of the namespaces (default the jepsen one);
    regions: {node: region} for the `region` of each [[node]] table
    (default "jepsen"); autopilot: the [autopilot] table, if any."""

    def __init__(self, run_dir, names, *, spares=(), clock=False, raft=None, api=None, log=None,
                 binary=None, layout=None, regions=None, autopilot=None, tmpfs=None):
        self.run_dir = Path(run_dir)
        self.layout = layout or netmod.DEFAULT_LAYOUT
        self.voters = list(names)
        self.names = list(names) + list(spares)   # every node that may ever run
        regions = regions or {}
        self.nodes = {n: Node(n, run_dir, self.layout, regions.get(n, "jepsen"))
                      for n in self.names}
        self.autopilot = dict(autopilot or {})
        self.members = set(self.voters)           # as far as the nemesis knows
        self._next_id = 100
        self.log = log or (lambda msg: None)
        self.raft = {"election_timeout_ms": 300, "heartbeat_ms": 60,
                     "snapshot_threshold": 1024, "snapshot_trailing": 128}
        self.raft.update(raft or {})
        self.api = {"write_timeout_ms": 2000, "max_body_bytes": 1048576}
        self.api.update(api or {})
        self.clock = clock
        self.faketime = faketime_lib() if clock else None
        if clock and not self.faketime:
            raise RuntimeError("libfaketime not installed (apt-get install -y faketime)")
        self.config_path = self.run_dir / "cluster.toml"
        self._lock = threading.RLock()
        self._closed = False
        self.events = []        # (time, node, what) process events
        self.crashes = []       # unexpected exits seen by the monitor
        self.expected_exits = []  # exits allowed by tolerate() (clean errors)
        self.tolerated = {}     # (node, epoch) -> (reason, [regex])
        self._mounts = []       # tmpfs mount points (Path)
        for n, mb in (tmpfs or {}).items():
            self.nodes[n].tmpfs_mb = int(mb)
        self._monitor_stop = threading.Event()
        self._monitor = None
        src = binary or SHIPLOGD
        if not os.path.exists(src):
            raise RuntimeError(f"shiplogd not found at {src} (set SHIPLOGD)")
        bindir = self.run_dir / ".bin"
        bindir.mkdir(parents=True, exist_ok=True)
        self.binary = str(bindir / "shiplogd")
        shutil.copy2(src, self.binary)
        self.binary_src = src
        self.write_config()
        atexit.register(self.teardown)

    # ----------------------------------------------------------- config
    def write_config(self):
        for n in self.voters:
            self.nodes[n].config_path = self.config_path
        self.config_path.write_text(self._config_text(self.voters), encoding="utf-8")

    def write_joiner_config(self, name):
        """A fresh identity for `name`: new raft id, own config, empty data."""
        node = self.nodes[name]
        self._next_id += 1
        node.id = self._next_id
        node.config_path = self.run_dir / f"join-{name}-id{node.id}.toml"
        node.config_path.write_text(self._config_text([name]), encoding="utf-8")
        shutil.rmtree(node.data_dir, ignore_errors=True)
        return node.config_path

    def _config_text(self, table_nodes):
        lines = ["[cluster]", 'name = "jepsen"', "", "[raft]"]
        lines += [f"{k} = {toml_value(v)}" for k, v in self.raft.items()]
        lines += ["", "[api]"]
        lines += [f"{k} = {toml_value(v)}" for k, v in self.api.items()]
        lines += ["", "[collector]",
                  'secret_key = "jepsen-secret-passphrase-for-shiplog-clusters"',
                  'interval = "60s"', 'lease = "10s"', 'timeout = "10s"',
                  "", "[rate_limit]", "anonymous_per_minute = 0",
                  "authenticated_per_minute = 0"]
        if self.autopilot:
            lines += ["", "[autopilot]"]
            lines += [f"{k} = {toml_value(v)}" for k, v in self.autopilot.items()]
        for node in (self.nodes[n] for n in table_nodes):
            lines += ["", "[[node]]", f"id = {node.id}",
                      f"name = {toml_value(node.name)}", f"region = {toml_value(node.region)}",
                      f'raft = "{node.addr}:{RAFT_PORT}"',
                      f'rpc = "tcp://{node.addr}:{RPC_PORT}"',
                      f'http = "{node.addr}:{HTTP_PORT}"',
                      f"data = {toml_value(str(node.data_dir))}"]
        lines += ["", "[auth]", f"admin_keys = {toml_value([ADMIN_KEY])}",
                  'admin_user = "admin"', 'admin_password = "jepsen-admin-password"',
                  "", "[auth.client_keys]"]
        return "\n".join(lines) + "\n"

    # -------------------------------------------------------- processes
    def _env(self, node):
        env = dict(os.environ)
        asan = env.get("ASAN_OPTIONS", "")
        opts = [o for o in asan.split(":") if o]
        if not any(o.startswith("detect_leaks=") for o in opts):
            opts.append("detect_leaks=0")
        if self.faketime and not any(o.startswith("verify_asan_link_order=") for o in opts):
            opts.append("verify_asan_link_order=0")
        env["ASAN_OPTIONS"] = ":".join(opts)
        if self.faketime:
            env["LD_PRELOAD"] = self.faketime
            env["FAKETIME_TIMESTAMP_FILE"] = str(node.clock_path)
            env["FAKETIME_NO_CACHE"] = "1"
            env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
        return env

    def note(self, node, what):
        self.events.append((time.monotonic(), node, what))

    def start(self, name, wait=True, timeout=START_TIMEOUT_S, join_via=None):
        """Start a node (its own config); join_via: a member's http address
        to --join through (a fresh identity: see write_joiner_config)."""
        node = self.nodes[name]
        with self._lock:
            if node.running():
                return
            node.data_dir.mkdir(parents=True, exist_ok=True)
            if node.tmpfs_mb and node.data_dir not in self._mounts:
                self.mount_tmpfs(name)
            if self.faketime and not node.clock_path.exists():
                self.set_clock(name, node.clock_offset)
            node.epoch += 1
            if node.tolerance is not None:
                self.tolerated[(name, node.epoch)] = node.tolerance
            with open(node.log_path, "ab") as log:
                log.write(f"\n===== jepsen: start #{node.epoch} of {name} at "
                          f"{time.strftime('%Y-%m-%dT%H:%M:%S')} =====\n".encode())
                log.flush()
                args = ["ip", "netns", "exec", self.layout.node_ns(name), self.binary,
                        "--config", str(node.config_path), "--node", name]
                if join_via:
                    args += ["--join", join_via]
                    log.write(f"===== jepsen: joining through {join_via} as id {node.id} =====\n".encode())
                    log.flush()
                node.proc = subprocess.Popen(
                    args,
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    env=self._env(node), start_new_session=True)
            node.paused = False
            node.expected_down = False
            self.note(name, f"start#{node.epoch}")
        if wait:
            self.wait_ready(name, timeout)

    def start_all(self, timeout=START_TIMEOUT_S):
        for n in self.voters:
            self.start(n, wait=False)
        for n in self.voters:
            self.wait_ready(n, timeout)

    def client_nodes(self):
        """Nodes clients talk to: the current members."""
        return sorted(self.members)

    def wait_ready(self, name, timeout=START_TIMEOUT_S):
        node = self.nodes[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not node.running():
                raise RuntimeError(f"{name} exited ({node.proc.returncode}) while starting; "
                                   f"see {node.log_path}")
            if self.health(name, timeout=0.5) is not None:
                return True
            time.sleep(0.1)
        raise RuntimeError(f"{name} not answering /health after {timeout}s")

    def _signal(self, node, sig):
        if node.proc is None:
            return
        try:
            os.kill(node.proc.pid, sig)
        except ProcessLookupError:
            pass

    def _reap(self, node, how, timeout):
        try:
            node.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        node.exits.append((how, node.proc.returncode, time.monotonic()))
        return True

    def stop(self, name, timeout=STOP_TIMEOUT_S):
        """SIGTERM (SIGKILL after `timeout`)."""
        node = self.nodes[name]
        with self._lock:
            node.expected_down = True
            if not node.running():
                return
            if node.paused:
                self._signal(node, signal.SIGCONT)
                node.paused = False
            self._signal(node, signal.SIGTERM)
            if not self._reap(node, "sigterm", timeout):
                self._signal(node, signal.SIGKILL)
                self._reap(node, "sigterm-timeout-sigkill", 10)
            self.note(name, "stop")

    def kill(self, name):
        node = self.nodes[name]
        with self._lock:
            node.expected_down = True
            if node.running():
                self._signal(node, signal.SIGKILL)
                self._reap(node, "sigkill", 10)
            node.paused = False
            self.note(name, "kill")

    def pause(self, name):
        node = self.nodes[name]
        with self._lock:
            if node.running() and not node.paused:
                self._signal(node, signal.SIGSTOP)
                try:
                    wait_stopped(node.proc.pid)  # kill() returns before every thread has stopped
                except AssertionError:
                    self._signal(node, signal.SIGCONT)  # not left half-paused behind the nemesis's back
                    raise
                node.paused = True
                self.note(name, "pause")

    def resume(self, name):
        node = self.nodes[name]
        with self._lock:
            if node.running() and node.paused:
                self._signal(node, signal.SIGCONT)
                self.note(name, "resume")
            node.paused = False

    def restart(self, name, wait=True):
        self.stop(name)
        self.start(name, wait=wait)

    def set_clock(self, name, offset_s):
        """Wall-clock offset of a node in seconds (libfaketime)."""
        node = self.nodes[name]
        node.clock_offset = float(offset_s)
        if not self.faketime:
            return
        node.clock_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = node.clock_path.with_suffix(".tmp")
        # libfaketime: "+N" / "-N" relative offset in seconds
        tmp.write_text(f"{'+' if offset_s >= 0 else '-'}{abs(offset_s):.3f}\n")
        os.replace(tmp, node.clock_path)

    def live(self):
        return [n for n in self.names if self.nodes[n].running() and not self.nodes[n].paused]

    def running(self):
        return [n for n in self.names if self.nodes[n].running()]

    # ---------------------------------------------------- expected exits
    def tolerate(self, name, reason, patterns):
        """Exits of `name`'s current incarnation and of those started until
        untolerate() are expected if clean (see the module docstring)."""
        node = self.nodes[name]
        with self._lock:
            node.tolerance = (reason, [re.compile(p) for p in patterns])
            self.tolerated[(name, node.epoch)] = node.tolerance

    def untolerate(self, name):
        with self._lock:
            self.nodes[name].tolerance = None

    def log_lines(self, name):
        """(epoch, line) for every line of node `name`'s log, epoch being the
        incarnation that wrote it (None before the first start mark)."""
        node = self.nodes[name]
        if not node.log_path.exists():
            return
        epoch = None
        with open(node.log_path, "rb") as f:
            for raw in f:
                line = raw.decode("utf-8", "replace").rstrip()
                m = START_MARK.match(line)
                if m:
                    epoch = int(m.group(1))
                    continue
                yield epoch, line

    def log_section(self, name, epoch):
        """Lines of node `name`'s log written by incarnation `epoch`."""
        return [line for e, line in self.log_lines(name) if e == epoch]

    def classify_exit(self, name, epoch, rc):
        """None when (name, epoch) is not tolerated; else a record whose
        'clean' says whether the exit is an expected clean error."""
        tol = self.tolerated.get((name, epoch))
        if tol is None:
            return None
        reason, pats = tol
        lines = self.log_section(name, epoch)
        allowed = [ln for ln in lines if any(p.search(ln) for p in pats)]
        crash = [ln for ln in lines if any(p.search(ln) for p in HARD_CRASH_PATTERNS)
                 or (any(p.search(ln) for p in CRASH_PATTERNS)
                     and not any(p.search(ln) for p in pats))]
        deliberate_abort = rc == -signal.SIGABRT and any(
            re.search(r"\bFATAL\b.*\bstopping\b", ln) for ln in allowed)
        if crash:
            why = "crash lines in the log"
        elif rc is None or rc == 0:
            why = "exit status 0"    # a clean stop nobody asked for
        elif rc < 0 and not deliberate_abort:
            why = f"killed by signal {-rc}"
        elif not allowed:
            why = f"no line matching the expected error ({reason})"
        else:
            why = None
        return {"node": name, "epoch": epoch, "returncode": rc, "reason": reason,
                "clean": why is None, "why": why, "lines": (allowed or lines)[-5:],
                "crash_lines": crash[:10]}

    # ------------------------------------------------------------ disks
    def mount_tmpfs(self, name):
        node = self.nodes[name]
        path = node.data_dir
        path.mkdir(parents=True, exist_ok=True)
        if any(p.name for p in path.iterdir()):
            raise RuntimeError(f"{path} is not empty; cannot mount a tmpfs there")
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={node.tmpfs_mb}m,mode=0755",
                            TMPFS_SOURCE, str(path)], capture_output=True, text=True, timeout=10)
        if p.returncode != 0:
            raise RuntimeError(f"mount tmpfs on {path}: {p.stderr.strip()}")
        self._mounts.append(path)
        self.log(f"db: {name} data directory on a {node.tmpfs_mb} MiB tmpfs ({path})")

    def unmount_all(self):
        while self._mounts:
            path = self._mounts.pop()
            _umount(path)

    def disk_usage(self, name):
        st = os.statvfs(self.nodes[name].data_dir)
        return {"size": st.f_blocks * st.f_frsize, "free": st.f_bavail * st.f_frsize}

    def fill_disk(self, name, deadline_s=20.0):
        """Fill the filesystem of `name`'s data directory with a filler file
        until ENOSPC; returns the bytes written and the bytes left."""
        path = self.nodes[name].data_dir / FILLER_NAME
        before = self.disk_usage(name)["free"]
        written = 0
        deadline = time.monotonic() + deadline_s
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for chunk in (1 << 20, 4096, 512):
                buf = b"\xa5" * chunk
                for _ in range(1 << 16):
                    if time.monotonic() > deadline:
                        break
                    try:
                        n = os.write(fd, buf)
                    except OSError as e:
                        if e.errno == errno.ENOSPC:
                            break
                        raise
                    written += n
                    if n < chunk:
                        break
        finally:
            os.close(fd)
        return {"free_before": before, "filler_bytes": written,
                "free_after": self.disk_usage(name)["free"]}

    def free_disk(self, name):
        path = self.nodes[name].data_dir / FILLER_NAME
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            size = 0
        return {"filler_removed": size, "free": self.disk_usage(name)["free"]}

    def raft_files(self, name):
        """The node's raft directory: [{name, kind, size, mtime, ...}], kind
        one of open, closed, snapshot, snapshot-meta, metadata, other."""
        out = []
        d = self.nodes[name].raft_dir
        if not d.is_dir():
            return out
        for p in sorted(d.iterdir()):
            st = p.stat()
            rec = {"name": p.name, "path": str(p), "size": st.st_size, "mtime": st.st_mtime}
            m_closed = re.fullmatch(r"(\d+)-(\d+)", p.name)
            m_open = re.fullmatch(r"open-(\d+)", p.name)
            m_snap = re.fullmatch(r"snapshot-(\d+)-(\d+)-(\d+)(\.meta)?", p.name)
            if m_closed:
                rec.update(kind="closed", first=int(m_closed.group(1)), last=int(m_closed.group(2)))
            elif m_open:
                rec.update(kind="open", counter=int(m_open.group(1)))
            elif m_snap:
                rec.update(kind="snapshot-meta" if m_snap.group(4) else "snapshot",
                           term=int(m_snap.group(1)), index=int(m_snap.group(2)))
            elif p.name.startswith("metadata"):
                rec.update(kind="metadata")
            else:
                rec.update(kind="other")
            out.append(rec)
        return out

    # ---------------------------------------------------------- monitor
    def start_monitor(self, interval=0.2):
        """Watch for nodes that exit although nothing stopped them."""
        def loop():
            while not self._monitor_stop.wait(interval):
                with self._lock:
                    for node in self.nodes.values():
                        if node.proc is not None and not node.expected_down \
                                and node.proc.poll() is not None:
                            node.expected_down = True
                            rc = node.proc.returncode
                            node.exits.append(("unexpected", rc, time.monotonic()))
                            exp = self.classify_exit(node.name, node.epoch, rc)
                            if exp is not None and exp["clean"]:
                                self.expected_exits.append(exp)
                                self.note(node.name, f"exited rc={rc} ({exp['reason']}, expected)")
                                self.log(f"db: {node.name} exited with {rc}: expected "
                                         f"({exp['reason']}): {exp['lines'][-1:]}")
                                continue
                            rec = {"node": node.name, "epoch": node.epoch, "returncode": rc}
                            if exp is not None:
                                rec.update(tolerated=exp["reason"], why=exp["why"],
                                           lines=exp["lines"], crash_lines=exp["crash_lines"])
                            self.crashes.append(rec)
                            self.note(node.name, f"crashed rc={rc}")
                            self.log(f"db: {node.name} exited unexpectedly with {rc}")
        self._monitor = threading.Thread(target=loop, name="db-monitor", daemon=True)
        self._monitor.start()

    # ------------------------------------------------------------- http
    def health(self, name, timeout=1.0):
        try:
            r = requests.get(self.nodes[name].url + "/health", timeout=(timeout, timeout))
            if r.status_code not in (200, 503):  # 503: answering, but not ready (no leader, lagging)
                return None
            return r.json()
        except (requests.RequestException, ValueError):
            return None

    def leader(self, timeout=0.7):
        """The leader as the reachable live nodes see it: the node reporting
        state leader with the highest term (None when none does)."""
        best = None
        for n in self.live():
            h = self.health(n, timeout=timeout)
            if not h or not isinstance(h.get("raft"), dict):
                continue
            r = h["raft"]
            if r.get("state") == "leader":
                if best is None or r.get("term", 0) > best[1]:
                    best = (n, r.get("term", 0))
        return best[0] if best else None

    def leader_term(self, timeout=0.3, exclude=()):
        """(leader, term) as in leader(), polling only live nodes not in
        `exclude`; (None, max term seen) when none reports leader."""
        best, top = None, 0
        for n in self.live():
            if n in exclude:
                continue
            h = self.health(n, timeout=timeout)
            if not h or not isinstance(h.get("raft"), dict):
                continue
            r = h["raft"]
            top = max(top, r.get("term", 0) or 0)
            if r.get("state") == "leader" and (best is None or r.get("term", 0) > best[1]):
                best = (n, r.get("term", 0))
        return best if best else (None, top)

    def wait_leader(self, timeout=30.0):
        """A leader that every live node agrees on."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            views = {}
            for n in self.live():
                h = self.health(n, timeout=0.7)
                if h and isinstance(h.get("raft"), dict):
                    views[n] = h["raft"]
            leaders = [n for n, v in views.items() if v.get("state") == "leader"]
            if len(leaders) == 1 and len(views) == len(self.live()) and \
                    all(v.get("leader") == leaders[0] for v in views.values()):
                return leaders[0]
            time.sleep(0.1)
        return None

    def cluster_doc(self, via=None, timeout=3.0):
        """GET /api/v1/cluster from `via` or the first live member answering."""
        for n in ([via] if via else [m for m in self.client_nodes() if m in self.live()]):
            try:
                r = requests.get(self.nodes[n].url + "/api/v1/cluster",
                                 headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                                 timeout=(1.0, timeout))
                if r.status_code == 200:
                    return r.json()
            except (requests.RequestException, ValueError):
                continue
        return None

    def applied(self):
        out = {}
        for n in self.live():
            h = self.health(n)
            out[n] = h["raft"].get("applied_index") if h and isinstance(h.get("raft"), dict) else None
        return out

    # ------------------------------------------------------------- logs
    def scan_logs(self):
        """Crash/assertion lines in every node's log: {node: [lines]}."""
        found = {}
        for n in self.nodes:
            hits = []
            for epoch, line in self.log_lines(n):
                tol = self.tolerated.get((n, epoch))
                if tol and any(p.search(line) for p in tol[1]) and \
                        not any(p.search(line) for p in HARD_CRASH_PATTERNS) and \
                        self._exit_clean(n, epoch):
                    continue    # the expected error of a clean exit
                if any(p.search(line) for p in CRASH_PATTERNS):
                    hits.append(line[:400])
                    if len(hits) >= 20:
                        break
            if hits:
                found[n] = hits
        return found

    def _exit_clean(self, name, epoch):
        return any(e["node"] == name and e["epoch"] == epoch for e in self.expected_exits)

    # --------------------------------------------------------- teardown
    def teardown(self):
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._monitor_stop.set()
        running = [n for n in self.nodes.values() if n.running()]
        for node in running:
            node.expected_down = True
            if node.paused:
                self._signal(node, signal.SIGCONT)
                node.paused = False
            self._signal(node, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for node in running:
            if not self._reap(node, "teardown-sigterm", max(0.1, deadline - time.monotonic())):
                self._signal(node, signal.SIGKILL)
                self._reap(node, "teardown-sigkill", 10)
        if self._monitor is not None:
            self._monitor.join(timeout=2)
        try:
            self.unmount_all()
        finally:
            shutil.rmtree(self.run_dir / ".bin", ignore_errors=True)


def _umount(path):
    p = subprocess.run(["umount", str(path)], capture_output=True, text=True, timeout=10)
    if p.returncode != 0:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, text=True, timeout=10)


def cleanup_stale_mounts():
    """Unmount tmpfs mounts left by a run of this harness that died without
    tearing down (source name TMPFS_SOURCE is ours alone)."""
    gone = []
    try:
        with open("/proc/self/mounts", encoding="utf-8") as f:
            mounts = [ln.split() for ln in f]
    except OSError:
        return gone
    for fields in mounts:
        if len(fields) >= 3 and fields[0] == TMPFS_SOURCE and fields[2] == "tmpfs":
            path = fields[1].replace("\\040", " ")
            _umount(path)
            gone.append(path)
    return gone
