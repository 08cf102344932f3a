"""Process and HTTP harness for the shiplog integration tests.

A Cluster writes a cluster.toml for N nodes on free loopback ports, starts
`shiplogd --config FILE --node NAME` for each node (stdout+stderr to a log
file per node), and offers the fault operations the tests need: stop
(SIGTERM), kill9, sigstop/sigcont, restart on the same data directory.

Every process started here is recorded in _ALL_PROCS and killed at teardown
and at interpreter exit, also after failures. Every wait is bounded.
Only 127.0.0.1 is used.

Split by concern: harness_http.py (response helpers, raw HTTP/1.1 client),
harness_procs.py (process bookkeeping, free ports), harness_util.py
(wait_until, ids, timestamps, release bodies, report). This module
re-exports their names, so tests import only `harness`.
"""

from __future__ import annotations

import json as _json
import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path

import requests

# re-exported: tests use these as H.x and `from harness import x`
from harness_http import (  # noqa: F401
    BADGE_COLOURS, COMMON_HEADERS, RawResponse, _raw_complete, _raw_parse, _raw_split,
    _RawRequest, assert_error, badge_colours, check_headers, idx, parse_metrics, raw_request, show,
)
from harness_procs import (  # noqa: F401
    _ALL_PROCS, _PORTS_LOCK, _PROCS_LOCK, _USED_PORTS, _register, free_ports,
    kill_all_processes, wait_stopped,
)
from harness_util import (  # noqa: F401
    Fatal, files_holding, iso, now_iso, parse_ts, release_body, report, same_instant, sha_for, ts, uid,
    wait_until,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPLOGD = os.environ.get("SHIPLOGD") or str(REPO_ROOT / "build" / "shiplogd")
CLI = os.environ.get("SHIPLOG_CLI") or str(Path(SHIPLOGD).parent / "cli" / "shiplog")

ADMIN_KEY = "test-admin-key"
ADMIN_PASSWORD = "test-admin-password"


def run_cli(node, *args, key=ADMIN_KEY):
    """The `shiplog` CLI against one node (SHIPLOG_SERVER, SHIPLOG_API_KEY), bounded to 20 s."""
    env = dict(os.environ, SHIPLOG_SERVER=node.url, SHIPLOG_API_KEY=key)
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=20)


PROD_CLIENT = "production-cluster"
PROD_KEY = "production-cluster-token"
DEV_CLIENT = "dev-cluster"
DEV_KEY = "dev-cluster-token"
CLIENT_KEYS = {PROD_CLIENT: [PROD_KEY], DEV_CLIENT: [DEV_KEY]}

NODE_NAMES = ("n1", "n2", "n3")

DEFAULT_RAFT = {
    "election_timeout_ms": 300,
    "heartbeat_ms": 60,
    "snapshot_threshold": 1024,
    "snapshot_trailing": 128,
}
DEFAULT_API = {
    "write_timeout_ms": 2000,
    "max_body_bytes": 1048576,
}
# Collection: short periods so tests see runs and lease moves quickly.
DEFAULT_COLLECTOR = {
    "secret_key": "test-secret-passphrase-for-shiplog-clusters",
    "interval": "2s",
    "lease": "2s",
    "timeout": "3s",
}

# 0 = off (DESIGN.md); the harness polls /health anonymously many times a second
DEFAULT_RATE_LIMIT = {
    "anonymous_per_minute": 0,
    "authenticated_per_minute": 0,
}

ERROR_CODES = {
    "VALIDATION_ERROR", "UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND",
    "PAYLOAD_TOO_LARGE", "NO_LEADER", "UNKNOWN_OUTCOME",
    "METHOD_NOT_ALLOWED", "INTERNAL_ERROR", "IDEMPOTENCY_KEY_REUSED",
}
PING_STATUSES = {"online", "warning", "offline", "never"}
RAFT_STATES = {"leader", "follower", "candidate"}

START_TIMEOUT_S = 30.0
LEADER_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class TestTimeout(BaseException):
    """Raised by the per-test SIGALRM guard (see conftest.py)."""


# ---------------------------------------------------------------- processes

CLUSTERS: list["Cluster"] = []


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return _json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"unsupported TOML value {v!r}")




class Node:
    def __init__(self, cluster, nid, name, raft_port, rpc_port, http_port, data_dir, log_path):
        self.cluster = cluster
        self.id = nid
        self.name = name
        self.raft_port = raft_port
        self.rpc_port = rpc_port
        self.http_port = http_port
        self.data_dir = Path(data_dir)
        self.log_path = Path(log_path)
        self.extra_args = []  # e.g. ["--join", addr] or ["--restore", file]
        self.raft = {}        # [raft] settings of this node only (its own copy of cluster.toml)
        self.proc = None
        self.paused = False
        self.expected_down = True
        self.starts = 0
        self.exit_codes = []  # (how, code) for every stop we observed

    @property
    def url(self):
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def raft_addr(self):
        return f"127.0.0.1:{self.raft_port}"

    @property
    def rpc_addr(self):
        return f"tcp://127.0.0.1:{self.rpc_port}"

    @property
    def http_addr(self):
        return f"127.0.0.1:{self.http_port}"

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def __repr__(self):
        return f"<Node {self.name} pid={self.proc.pid if self.proc else None} http={self.http_port}>"


_NOTSET = object()


class Cluster:
    _next_seq = 1

    @classmethod
    def peek_seq(cls):
        """Sequence number the next Cluster will get."""
        return cls._next_seq

    def __init__(self, workdir, n=3, raft=None, api=None, label="cluster", collector=None):
        self.seq = Cluster._next_seq
        Cluster._next_seq += 1
        self.label = label
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.raft = dict(DEFAULT_RAFT, **(raft or {}))
        self.api = dict(DEFAULT_API, **(api or {}))
        self.collector = dict(DEFAULT_COLLECTOR, **(collector or {}))
        ports = free_ports(3 * n)
        self.nodes: dict[str, Node] = {}
        for i in range(n):
            name = f"n{i + 1}"
            self.nodes[name] = Node(
                self, i + 1, name, ports[3 * i], ports[3 * i + 1], ports[3 * i + 2],
                self.workdir / name, self.workdir / f"{name}.log")
        self.config_path = self.workdir / "cluster.toml"
        self.write_config()
        self.closed = False
        self.crashes = []  # (node, exit code) of unexpected exits already reported
        CLUSTERS.append(self)

    # -------------------------------------------------------------- config
    def config_of(self, node):
        """The cluster.toml a node reads: a copy of its own when it has [raft] overrides."""
        return self.workdir / f"cluster-{node.name}.toml" if node.raft else self.config_path

    def write_config(self):
        self._write_config(self.config_path, self.raft)
        for node in self.nodes.values():
            if node.raft:
                self._write_config(self.config_of(node), dict(self.raft, **node.raft))

    def _write_config(self, path, raft):
        lines = ["[cluster]", 'name = "test"', "", "[raft]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in raft.items()]
        lines += ["", "[api]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in self.api.items()]
        lines += ["", "[collector]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in self.collector.items()]
        lines += ["", "[rate_limit]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in getattr(self, "rate_limit", DEFAULT_RATE_LIMIT).items()]
        for node in self.nodes.values():
            lines += [
                "", "[[node]]",
                f"id = {node.id}",
                f"name = {_toml_value(node.name)}",
                'region = "local"',
                f"raft = {_toml_value(node.raft_addr)}",
                f"rpc = {_toml_value(node.rpc_addr)}",
                f"http = {_toml_value(node.http_addr)}",
                f"data = {_toml_value(str(node.data_dir))}",
            ]
        # [auth]: c.auth overrides or adds keys (Argon2id kept cheap here: tests
        # log in often; the bench measures the default cost)
        auth = {"admin_keys": [ADMIN_KEY], "admin_user": "admin", "admin_password": ADMIN_PASSWORD,
                "password_ops": 1, "password_memory_kib": 8192}
        auth.update(getattr(self, "auth", {}))
        lines += ["", "[auth]"] + [f"{k} = {_toml_value(v)}" for k, v in auth.items() if v is not None]
        lines += ["", "[auth.client_keys]"]
        for client, keys in getattr(self, "client_keys", CLIENT_KEYS).items():
            lines.append(f"{_toml_value(client)} = {_toml_value(keys)}")
        for table, values in getattr(self, "extra_tables", {}).items():
            lines += ["", f"[{table}]"] + [f"{k} = {_toml_value(v)}" for k, v in values.items()]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    @property
    def names(self):
        return list(self.nodes)

    # ----------------------------------------------------------- processes
    def start(self, name, wait=True, timeout=START_TIMEOUT_S):
        node = self.nodes[name]
        assert not node.running(), f"{name} already running"
        if not os.path.exists(SHIPLOGD):
            raise Fatal(f"shiplogd binary not found at {SHIPLOGD} (set SHIPLOGD or build it)")
        node.data_dir.mkdir(parents=True, exist_ok=True)
        node.starts += 1
        with open(node.log_path, "ab") as log:
            log.write(f"\n===== harness: start #{node.starts} of {name} at {now_iso()} =====\n".encode())
            log.flush()
            node.proc = subprocess.Popen(
                [SHIPLOGD, "--config", str(self.config_of(node)), "--node", name, *node.extra_args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=str(self.workdir), start_new_session=True)
        _register(node.proc)
        node.paused = False
        node.expected_down = False
        if wait:
            self.wait_ready(name, timeout)

    def start_all(self, wait_leader=True):
        for name in self.nodes:
            if not self.nodes[name].running():
                self.start(name, wait=False)
        for name in self.nodes:
            self.wait_ready(name)
        if wait_leader:
            self.wait_leader()
            self.wait_bootstrapped()

    def wait_bootstrapped(self, timeout=15):
        """Once per cluster: until every node has the bootstrap admin user (its
        writes would otherwise land amid a test's first ones)."""
        if getattr(self, "_bootstrapped", False) or "admin_keys" in getattr(self, "auth", {}) or \
                getattr(self, "rate_limit", None):  # its requests would spend a test's budget
            return
        def made():
            for n in self.nodes:
                r = self.get(n, "/api/v1/users")
                if r.status_code != 200 or r.json()["total"] < 1:
                    return False
            return True
        wait_until(made, timeout, what="the bootstrap admin user on every node")
        self._bootstrapped = True

    def _note_exit(self, node, how):
        if node.proc is not None and node.proc.poll() is not None:
            node.exit_codes.append((how, node.proc.returncode))

    def stop(self, name, timeout=STOP_TIMEOUT_S):
        """SIGTERM, wait up to `timeout` s, then SIGKILL. Returns (exit code, forced)."""
        node = self.nodes[name]
        node.expected_down = True
        if not node.running():
            return (node.proc.returncode if node.proc else None), False
        if node.paused:
            self._signal(node, signal.SIGCONT)
            node.paused = False
        self._signal(node, signal.SIGTERM)
        forced = False
        try:
            node.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            forced = True
            self._signal(node, signal.SIGKILL)
            node.proc.wait(timeout=10)
        self._note_exit(node, "sigterm" if not forced else "sigterm-timeout-sigkill")
        return node.proc.returncode, forced

    def kill9(self, name):
        node = self.nodes[name]
        node.expected_down = True
        if node.running():
            self._signal(node, signal.SIGKILL)
            node.proc.wait(timeout=10)
            self._note_exit(node, "sigkill")
        node.paused = False

    def sigstop(self, name):
        node = self.nodes[name]
        assert node.running(), f"{name} not running"
        self._signal(node, signal.SIGSTOP)
        node.paused = True
        wait_stopped(node.proc.pid)

    def sigcont(self, name):
        node = self.nodes[name]
        if node.running():
            self._signal(node, signal.SIGCONT)
        node.paused = False

    def restart(self, name, wait=True, timeout=START_TIMEOUT_S):
        node = self.nodes[name]
        if node.running():
            self.stop(name)
        self.start(name, wait=wait, timeout=timeout)

    @staticmethod
    def _signal(node, sig):
        try:
            os.kill(node.proc.pid, sig)
        except ProcessLookupError:
            pass

    def unexpected_exits(self):
        """Nodes whose process exited although no test stopped them."""
        out = []
        for node in self.nodes.values():
            if node.proc is not None and not node.expected_down and node.proc.poll() is not None:
                out.append((node.name, node.proc.returncode))
        return out

    def teardown(self):
        if self.closed:
            return
        self.closed = True
        running = [n for n in self.nodes.values() if n.running()]
        for node in running:
            node.expected_down = True
            if node.paused:
                self._signal(node, signal.SIGCONT)
                node.paused = False
            self._signal(node, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for node in running:
            try:
                node.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                self._note_exit(node, "teardown-sigterm")
            except subprocess.TimeoutExpired:
                self._signal(node, signal.SIGKILL)
                try:
                    node.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
                self._note_exit(node, "teardown-sigkill")

    def leak_reports(self):
        """LeakSanitizer reports of shiplog's own leaks in the nodes' logs. A node
        reports at exit when ASAN_OPTIONS has detect_leaks=1 (scripts/test.sh
        sets it, with LSAN_OPTIONS exitcode=0 so exit codes stay meaningful).
        Only direct leaks are judged (an indirect one is held by a direct one),
        and those allocated by libh2o or libuv are left out (their contexts,
        pools and loops are not torn down at exit)."""
        out = []
        for node in self.nodes.values():
            if not node.log_path.exists():
                continue
            text = node.log_path.read_text("utf-8", "replace")
            for block in re.split(r"\n\s*\n", text):
                lines = block.strip().splitlines()
                if not lines or not lines[0].startswith("Direct leak of"):
                    continue
                first = next((ln for ln in lines if ln.strip().startswith("#1 ")), "")
                if "libh2o.so" in first or "libuv.so" in first:
                    continue
                out.append(f"{node.name}: " + "\n".join(lines[:12]))
        return out

    def live_nodes(self):
        return [n.name for n in self.nodes.values() if n.running() and not n.paused]

    # ----------------------------------------------------------------- logs
    def log_tail(self, name, lines=60):
        path = self.nodes[name].log_path
        if not path.exists():
            return "(no log)"
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode("utf-8", "replace")
        return "\n".join(data.splitlines()[-lines:])

    def describe(self):
        parts = []
        for n in self.nodes.values():
            state = "running" if n.running() else f"exited({n.proc.returncode if n.proc else '-'})"
            if n.paused:
                state += ",SIGSTOPped"
            parts.append(f"{n.name}[{state} http={n.http_port}]")
        return f"cluster#{self.seq} {self.label} at {self.workdir}: " + " ".join(parts)

    # ----------------------------------------------------------------- http
    def request(self, name, method, path, *, key=ADMIN_KEY, auth="bearer", params=None,
                json=_NOTSET, data=None, headers=None, timeout=5.0):
        """One HTTP request to a node. auth: bearer | header | query | None."""
        node = self.nodes[name]
        h = dict(headers or {})
        q = list(params.items()) if isinstance(params, dict) else list(params or [])
        if key is not None and auth is not None:
            if auth == "bearer":
                h["Authorization"] = f"Bearer {key}"
            elif auth == "header":
                h["X-API-Key"] = key
            elif auth == "query":
                q.append(("apikey", key))
            else:
                raise ValueError(auth)
        kw = {}
        if json is not _NOTSET:
            kw["json"] = json
        if data is not None:
            kw["data"] = data
        return requests.request(method, node.url + path, params=q or None, headers=h,
                                timeout=(2.0, timeout), allow_redirects=False, **kw)

    def get(self, name, path, **kw):
        return self.request(name, "GET", path, **kw)

    def put(self, name, path, **kw):
        return self.request(name, "PUT", path, **kw)

    def post(self, name, path, **kw):
        return self.request(name, "POST", path, **kw)

    def health(self, name, timeout=1.5):
        """(status, json-or-None) of GET /health (200 healthy, 503 with the same
        body and a "reason" when not ready); (None, None) when unreachable."""
        try:
            r = self.request(name, "GET", "/health", key=None, timeout=timeout)
        except requests.RequestException:
            return None, None
        try:
            return r.status_code, r.json()
        except ValueError:
            return r.status_code, None

    def applied_index(self, name):
        st, h = self.health(name)
        if h is None:
            return None
        return int(h["raft"]["applied_index"])

    def wait_ready(self, name, timeout=START_TIMEOUT_S):
        node = self.nodes[name]

        def ready():
            if not node.running():
                raise Fatal(f"{name} exited with code {node.proc.returncode} while starting; "
                            f"log tail:\n{self.log_tail(name, 40)}")
            try:  # the process serves; /health is 503 until it has a leader
                return self.request(name, "GET", "/livez", key=None, timeout=1.0).status_code == 200
            except requests.RequestException:
                return False
        wait_until(ready, timeout, interval=0.1, what=f"{name} /livez 200")

    def _leader_view(self):
        live = self.live_nodes()
        views = {}
        for n in live:
            st, h = self.health(n, timeout=1.0)
            if h is None or not isinstance(h.get("raft"), dict):
                return None
            views[n] = h["raft"]
        leaders = [n for n, v in views.items() if v.get("state") == "leader"]
        if len(leaders) != 1:
            return None
        ldr = leaders[0]
        if all(v.get("leader") == ldr for v in views.values()):
            return ldr
        return None

    def wait_leader(self, timeout=LEADER_TIMEOUT_S):
        """Name of the leader once every live node agrees on one."""
        return wait_until(self._leader_view, timeout, interval=0.05,
                          what="a leader agreed on by all live nodes")

    def leader(self, timeout=LEADER_TIMEOUT_S):
        return self.wait_leader(timeout)

    def followers(self, timeout=LEADER_TIMEOUT_S):
        ldr = self.leader(timeout)
        return [n for n in self.live_nodes() if n != ldr]

    def wait_applied(self, name, index, timeout=10.0):
        """Wait until node `name` reports raft.applied_index >= index in /health."""
        return wait_until(lambda: (self.applied_index(name) or -1) >= index, timeout,
                          what=f"{name} applied_index >= {index}")

    def wait_all_applied(self, index, timeout=10.0, names=None):
        for n in names or self.live_nodes():
            self.wait_applied(n, index, timeout)

    # ----------------------------------------------------- release helpers
    def collect(self, name, ns, kind, workload, container, body, *, key=ADMIN_KEY,
                idem=None, timeout=10.0, auth="bearer"):
        headers = {"Idempotency-Key": idem} if idem else None
        return self.request(name, "PUT", f"/api/collect/{ns}/{kind}/{workload}/{container}",
                            json=body, key=key, auth=auth, headers=headers, timeout=timeout)

    def write(self, node, comp, tag, *, released_at=None, key=ADMIN_KEY, idem=None, **extra):
        """Write one release for component `comp` through `node`; assert 200; return its index.
        `extra` goes to release_body (sha=, repo=, name=, ...)."""
        body = release_body(tag, client=comp.client, env=comp.env, released_at=released_at, **extra)
        r = self.collect(node, comp.ns, comp.kind, comp.workload, comp.container, body,
                         key=key, idem=idem)
        assert r.status_code == 200, f"write failed: {show(r)}"
        return idx(r)

    def history(self, name, comp, *, index=None, wait=None, consistency=None,
                key=ADMIN_KEY, timeout=10.0):
        params = {}
        if index is not None:
            params["index"] = str(index)
            params["wait"] = wait or "5s"
        if consistency:
            params["consistency"] = consistency
        return self.get(name, comp.history_path, params=params, key=key, timeout=timeout)

    def current(self, name, client, env, *, index=None, wait=None, consistency=None,
                key=ADMIN_KEY, timeout=10.0):
        params = {"client_name": client, "env_name": env}
        if index is not None:
            params["index"] = str(index)
            params["wait"] = wait or "5s"
        if consistency:
            params["consistency"] = consistency
        return self.get(name, "/api/releases/current", params=params, key=key, timeout=timeout)

    def releases(self, name, comp, **kw):
        """History releases list of a component (asserts 200)."""
        r = self.history(name, comp, **kw)
        assert r.status_code == 200, f"history failed: {show(r)}"
        return r.json()["releases"]

    def collect_retry(self, comp, body_tag, *, idem, nodes=None, deadline_s=20.0,
                      released_at=None, per_request_timeout=8.0, on_attempt=None):
        """Write with an Idempotency-Key, retrying with the same key on 503 and
        connection errors through (random) live nodes until `deadline_s`.
        Returns (response, attempts); raises AssertionError if never acknowledged."""
        body = release_body(body_tag, client=comp.client, env=comp.env, released_at=released_at)
        deadline = time.monotonic() + deadline_s
        attempts = []
        while time.monotonic() < deadline:
            cands = [n for n in (nodes or self.live_nodes()) if self.nodes[n].running()
                     and not self.nodes[n].paused]
            if not cands:
                time.sleep(0.05)
                continue
            n = random.choice(cands)
            t0 = time.monotonic()
            if on_attempt:
                on_attempt(n, t0)
            try:
                r = self.collect(n, comp.ns, comp.kind, comp.workload, comp.container, body,
                                 idem=idem, timeout=per_request_timeout)
            except requests.RequestException as exc:
                attempts.append((n, type(exc).__name__))
                time.sleep(0.05)
                continue
            attempts.append((n, r.status_code))
            if r.status_code == 200:
                return r, attempts
            if r.status_code != 503:
                raise AssertionError(f"write answered {r.status_code}, not 200/503: {show(r)}")
            time.sleep(0.05)
        raise AssertionError(f"write {body_tag} (key {idem}) not acknowledged within "
                             f"{deadline_s}s; attempts {attempts}")


class Component:
    """client/env/namespace/kind/workload/container of one tracked container."""

    def __init__(self, client, env, ns, workload, container, kind="Deployment"):
        self.client, self.env, self.ns = client, env, ns
        self.workload, self.container, self.kind = workload, container, kind

    @classmethod
    def unique(cls, prefix="c", client=None, env="prod", ns="default", kind="Deployment"):
        u = uid()
        return cls(client or f"{prefix}-client-{u}", env, ns, f"{prefix}-wl-{u}", "app", kind)

    @property
    def history_path(self):
        return (f"/api/releases/history/{self.client}/{self.env}/{self.ns}/"
                f"{self.workload}/{self.container}")

    def __repr__(self):
        return f"<Component {self.client}/{self.env}/{self.ns}/{self.kind}/{self.workload}/{self.container}>"


def live_clusters():
    return [c for c in CLUSTERS if not c.closed]


def log_tails_text(since_seq, lines=60):
    """Log tails of every cluster still running or created since `since_seq`."""
    out = []
    for c in CLUSTERS:
        if c.closed and c.seq < since_seq:
            continue
        out.append("### " + c.describe())
        for name in c.nodes:
            out.append(f"--- {name} log tail ({c.nodes[name].log_path}) ---")
            out.append(c.log_tail(name, lines))
    return "\n".join(out)
