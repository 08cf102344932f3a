"""Workloads: client threads that drive shiplog and record a history.

Each client thread has a process id (Jepsen style: after an operation with
an unknown outcome the thread continues as a new process, pid + nthreads,
so no process ever has two operations open).  Every operation is an invoke
and a completion written through history.HistoryWriter.  Requests go to the
node addresses of net.py, one fresh HTTP connection per request (requests
without a Session, urllib3 retries off), timeout 1 s to connect, 2.5 s to
answer.

Outcome of a write:
  200                                -> ok   (index = X-Shiplog-Index)
  503 NO_LEADER, other 4xx           -> fail (definitely not applied)
  connection refused / connect timeout -> fail (nothing was sent)
  503 UNKNOWN_OUTCOME, other 5xx,
  read timeout, reset after sending  -> info (may have been applied)
Outcome of a read: 200 -> ok, anything else -> fail (reads change nothing).

Workloads (NAMES):
  register    one component's current release as a read/write register;
              writes through random nodes (image_tag = str(value), unique
              image_sha per write), reads with consistency=linearizable on
              random nodes.  Checker: linearizability (checkers.check_register).
  set         distinct releases added (one attempt each, with an
              Idempotency-Key); after healing, the full history is read from
              every node with ?index=<max acknowledged index>&wait=10s.
              Checker: checkers.check_set (lost / unexpected / duplicated /
              divergent).
  idempotent  each logical write has one Idempotency-Key and is retried with
              the same key through random nodes on fail/info, up to 6
              attempts; 20 % of acknowledged writes are sent once more with
              the same key (a client that lost the acknowledgement).  Each
              attempt sends a different image_sha, so a double apply shows
              as two history entries.  Checker:
              checkers.check_idempotent on every node's final history.
  stale       per-node readers (a fixed node per process, default
              consistency) record X-Shiplog-Index; two writers keep the index
              moving.  Checker: checkers.check_monotonic_reads.  Reads are
              attributed to the node's incarnation ("n2#3"), so a restart
              starts a new sequence; a read during which the node restarted
              is recorded as info; a reader whose node is not a member (the
              membership nemesis) issues nothing until it is one again.
Clients pick nodes among the current members (db.client_nodes()).
"""

from __future__ import annotations

import hashlib
import itertools
import random
import threading
import time

import requests

import checkers
from db import ADMIN_KEY
from history import FAIL, INFO, OK

REQ_TIMEOUT_S = 2.5
CONNECT_TIMEOUT_S = 1.0
NS = "jepsen"
KIND = "Deployment"
CLIENT = "jepsen"


def sha(*parts):
    return "sha256:" + hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


def request(ctx, node, method, path, *, params=None, json=None, headers=None,
            timeout=REQ_TIMEOUT_S):
    h = {"Authorization": f"Bearer {ADMIN_KEY}", "Connection": "close"}
    h.update(headers or {})
    return requests.request(method, ctx.db.nodes[node].url + path, params=params, json=json,
                            headers=h, timeout=(CONNECT_TIMEOUT_S, timeout),
                            allow_redirects=False)


def exc_outcome(e):
    """fail when nothing can have reached the node, else info."""
    if isinstance(e, requests.exceptions.ConnectTimeout):
        return FAIL
    if isinstance(e, requests.exceptions.ConnectionError):
        s = repr(e)
        if "NewConnectionError" in s or "Connection refused" in s:
            return FAIL
    return INFO


def error_code(r):
    try:
        return (r.json().get("error") or {}).get("code")
    except (ValueError, AttributeError):
        return None


def write_outcome(r):
    if r.status_code == 200:
        return OK
    if r.status_code == 503 and error_code(r) == "NO_LEADER":
        return FAIL
    if 400 <= r.status_code < 500:
        return FAIL
    return INFO


def resp_index(r):
    try:
        return int(r.headers.get("X-Shiplog-Index"))
    except (TypeError, ValueError):
        return None


class Component:
    def __init__(self, workload, env):
        self.workload, self.env = workload, env
        self.container = "app"

    @property
    def put_path(self):
        return f"/api/collect/{NS}/{KIND}/{self.workload}/{self.container}"

    @property
    def history_path(self):
        return f"/api/releases/history/{CLIENT}/{self.env}/{NS}/{self.workload}/{self.container}"

    def body(self, tag, image_sha):
        return {"image_tag": str(tag), "image_sha": image_sha, "image_repo": "jepsen",
                "image_name": self.workload, "client_name": CLIENT, "env_name": self.env}

    def current_tag(self, body):
        """image_tag of this component in a /api/releases/current answer."""
        for e in (body.get("namespaces") or {}).get(NS, []) or []:
            if e.get("workload_name") == self.workload and e.get("container_name") == self.container:
                return e.get("image_tag")
        return None


class Thread(threading.Thread):
    """A client thread: calls workload.step(ctx, self) at the thread's share
    of the rate until ctx.clients_stop is set (bounded by ctx.hard_deadline
    and a maximum op count)."""

    MAX_OPS = 1_000_000

    def __init__(self, ctx, workload, tid, nthreads, rate, role="client", node=None):
        super().__init__(name=f"client-{tid}", daemon=True)
        self.ctx, self.workload, self.tid = ctx, workload, tid
        self.nthreads = nthreads
        self.process = tid
        self.period = nthreads / max(rate, 0.01)
        self.role, self.node = role, node
        self.rng = random.Random(ctx.seed * 1000 + tid)
        self.ops = 0
        self.error = None

    def new_process(self):
        self.process += self.nthreads

    def run(self):
        ctx = self.ctx
        try:
            self.ctx.clients_go.wait(timeout=60)
            next_t = time.monotonic() + self.rng.uniform(0, self.period)
            while not ctx.clients_stop.is_set() and time.monotonic() < ctx.hard_deadline \
                    and self.ops < self.MAX_OPS:
                wait = next_t - time.monotonic()
                if wait > 0 and ctx.clients_stop.wait(wait):
                    break
                next_t = time.monotonic() + self.period * self.rng.uniform(0.5, 1.5)
                self.workload.step(ctx, self)
                self.ops += 1
        except Exception as e:  # noqa: BLE001 - a harness bug; reported in the verdict
            import traceback
            self.error = traceback.format_exc()
            ctx.log(f"client {self.tid}: {e!r}")

    # helpers -------------------------------------------------------------
    def write(self, f, value, node, path, body, headers=None):
        """One write op; returns (outcome, response or None)."""
        ctx = self.ctx
        ctx.history.invoke(self.process, f, value, node=node)
        try:
            r = request(ctx, node, "PUT", path, json=body, headers=headers)
        except requests.RequestException as e:
            out = exc_outcome(e)
            ctx.history.append(self.process, out, f, value, node=node, error=type(e).__name__)
            if out == INFO:
                self.new_process()
            return out, None
        out = write_outcome(r)
        extra = {}
        if out != OK:
            extra["error"] = f"{r.status_code} {error_code(r) or ''}".strip()
        ctx.history.append(self.process, out, f, value, index=resp_index(r),
                           node=r.headers.get("X-Shiplog-Node") or node, **extra)
        if out == INFO:
            self.new_process()
        return out, r


class Workload:
    name = "?"

    def __init__(self, ctx):
        self.ctx = ctx

    def threads(self, ctx):
        n = max(2, len(ctx.db.voters))
        return [Thread(ctx, self, i, n, ctx.rate) for i in range(n)]

    def step(self, ctx, th):
        raise NotImplementedError

    def final(self, ctx):
        return {}

    def check(self, ctx, events, final):
        raise NotImplementedError

    # shared: read a component's history on every node after healing
    def final_histories(self, ctx, comp, min_index, tries=4):
        out, info = {}, {}
        for n in ctx.db.client_nodes():
            vals = None
            for _ in range(tries):
                params = {"index": str(max(min_index, 0)), "wait": "10s"} if min_index else {}
                try:
                    r = request(ctx, n, "GET", comp.history_path, params=params, timeout=15)
                except requests.RequestException as e:
                    info[n] = repr(e)
                    time.sleep(1)
                    continue
                idx = resp_index(r)
                if r.status_code == 404 and not min_index:
                    vals = []
                    break
                if r.status_code != 200 or (min_index and (idx is None or idx < min_index)):
                    info[n] = f"{r.status_code} index={idx} (wanted >= {min_index})"
                    time.sleep(1)
                    continue
                vals = [e.get("image_tag") for e in r.json().get("releases", [])]
                info[n] = {"index": idx, "entries": len(vals)}
                break
            out[n] = vals
        return out, info


# --------------------------------------------------------------- register

class Register(Workload):
    name = "register"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.comp = Component("register", "register")
        self.seq = itertools.count()

    def step(self, ctx, th):
        node = th.rng.choice(ctx.db.client_nodes())
        if th.rng.random() < 0.5:
            v = th.rng.randrange(5)
            n = next(self.seq)
            th.write("write", v, node, self.comp.put_path,
                     self.comp.body(v, sha(ctx.run_id, "reg", n)))
            return
        ctx.history.invoke(th.process, "read", None, node=node)
        try:
            r = request(ctx, node, "GET", "/api/releases/current",
                        params={"client_name": CLIENT, "env_name": self.comp.env,
                                "consistency": "linearizable"})
        except requests.RequestException as e:
            ctx.history.fail(th.process, "read", None, node=node, error=type(e).__name__)
            return
        if r.status_code != 200:
            ctx.history.fail(th.process, "read", None, node=node,
                             error=f"{r.status_code} {error_code(r) or ''}".strip())
            return
        try:
            tag = self.comp.current_tag(r.json())
            val = None if tag is None else int(tag)
        except (ValueError, TypeError) as e:
            ctx.history.fail(th.process, "read", None, node=node, error=f"bad body {e!r}")
            return
        ctx.history.ok(th.process, "read", val, index=resp_index(r),
                       node=r.headers.get("X-Shiplog-Node") or node)

    def check(self, ctx, events, final):
        return {"linearizable": checkers.check_register(events, initial=None,
                                                        time_limit=ctx.check_time_limit)}


# -------------------------------------------------------------------- set

class SetWorkload(Workload):
    name = "set"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.comp = Component("set", "set")
        self.seq = itertools.count()

    def step(self, ctx, th):
        v = next(self.seq)
        node = th.rng.choice(ctx.db.client_nodes())
        th.write("add", v, node, self.comp.put_path,
                 self.comp.body(v, sha(ctx.run_id, "set", v)),
                 headers={"Idempotency-Key": f"{ctx.run_id}-set-{v}"})

    def final(self, ctx):
        acked = [e.get("index") or 0 for e in ctx.history.snapshot()
                 if e["type"] == OK and e["f"] == "add"]
        min_index = max(acked) if acked else 0
        tags, info = self.final_histories(ctx, self.comp, min_index)
        reads = {}
        for n, vals in tags.items():
            if vals is None:
                reads[n] = None
                continue
            out = []
            for t in vals:
                try:
                    out.append(int(t))
                except (TypeError, ValueError):
                    out.append(t)
            reads[n] = out
        return {"min_index": min_index, "reads": reads, "read_info": info}

    def check(self, ctx, events, final):
        return {"set": checkers.check_set(events, final.get("reads"), f="add")}


# ------------------------------------------------------------- idempotent

class Idempotent(Workload):
    name = "idempotent"
    MAX_ATTEMPTS = 6

    def __init__(self, ctx):
        super().__init__(ctx)
        self.comp = Component("idempotent", "idempotent")
        self.seq = itertools.count()

    def key(self, n):
        return f"{self.ctx.run_id}-idem-{n}"

    RESEND_P = 0.2

    def step(self, ctx, th):
        n = next(self.seq)
        key = self.key(n)
        for attempt in range(self.MAX_ATTEMPTS):
            node = th.rng.choice(ctx.db.client_nodes())
            out, _ = th.write("write-idem", [key, attempt], node, self.comp.put_path,
                              self.comp.body(n, sha(key, attempt)),
                              headers={"Idempotency-Key": key})
            if out == OK:
                if attempt < self.MAX_ATTEMPTS - 1 and th.rng.random() < self.RESEND_P:
                    # a client whose acknowledgement got lost retries anyway:
                    # send the same key once more, through another random node
                    node = th.rng.choice(ctx.db.client_nodes())
                    th.write("write-idem", [key, attempt + 1], node, self.comp.put_path,
                             self.comp.body(n, sha(key, attempt + 1)),
                             headers={"Idempotency-Key": key})
                return
            if ctx.clients_stop.is_set() or time.monotonic() > ctx.hard_deadline:
                return
            ctx.clients_stop.wait(th.rng.uniform(0.1, 0.5))

    def final(self, ctx):
        acked = [e.get("index") or 0 for e in ctx.history.snapshot()
                 if e["type"] == OK and e["f"] == "write-idem"]
        min_index = max(acked) if acked else 0
        tags, info = self.final_histories(ctx, self.comp, min_index)
        reads = {n: (None if vals is None else [[self.key(t)] for t in vals])
                 for n, vals in tags.items()}
        return {"min_index": min_index, "reads": reads, "read_info": info}

    def check(self, ctx, events, final):
        reads = final.get("reads") or {}
        if not any(v is not None for v in reads.values()):
            return {"idempotent": {"valid": "unknown", "reason": "no node answered the final read"}}
        return {"idempotent": checkers.check_idempotent(events, reads, f="write-idem")}


# ------------------------------------------------------------------ stale

class Stale(Workload):
    name = "stale"
    WRITERS = 2

    def __init__(self, ctx):
        super().__init__(ctx)
        self.comp = Component("stale", "stale")
        self.seq = itertools.count()

    def threads(self, ctx):
        names = ctx.db.names
        n = len(names) + self.WRITERS
        out = []
        # readers get 2/3 of the rate, writers 1/3
        rrate = ctx.rate * 2 / 3 * n / len(names)
        wrate = ctx.rate / 3 * n / self.WRITERS
        for i, node in enumerate(names):
            out.append(Thread(ctx, self, i, n, rrate, role="reader", node=node))
        for k in range(self.WRITERS):
            out.append(Thread(ctx, self, len(names) + k, n, wrate, role="writer"))
        return out

    def step(self, ctx, th):
        if th.role == "writer":
            v = next(self.seq)
            node = th.rng.choice(ctx.db.client_nodes())
            th.write("write", v, node, self.comp.put_path,
                     self.comp.body(v, sha(ctx.run_id, "stale", v)))
            return
        if th.node not in ctx.db.members:
            return  # not in the cluster now (membership nemesis): nothing to read
        node = ctx.db.nodes[th.node]
        tag = node.tag()
        ctx.history.invoke(th.process, "read", None, node=tag)
        try:
            r = request(ctx, th.node, "GET", "/api/releases/current",
                        params={"client_name": CLIENT, "env_name": self.comp.env})
        except requests.RequestException as e:
            ctx.history.fail(th.process, "read", None, node=tag, error=type(e).__name__)
            return
        if r.status_code != 200:
            ctx.history.fail(th.process, "read", None, node=tag,
                             error=f"{r.status_code} {error_code(r) or ''}".strip())
            return
        if node.tag() != tag:
            # the node restarted while this read was in flight: which
            # incarnation answered is unknown
            ctx.history.info(th.process, "read", None, node=tag, error="node restarted")
            th.new_process()
            return
        try:
            val = self.comp.current_tag(r.json())
        except ValueError:
            val = None
        ctx.history.ok(th.process, "read", val, index=resp_index(r), node=tag,
                       answered_by=r.headers.get("X-Shiplog-Node"))

    def check(self, ctx, events, final):
        return {"monotonic_reads": checkers.check_monotonic_reads(events, fs=("read",))}


NAMES = {"register": Register, "set": SetWorkload, "idempotent": Idempotent, "stale": Stale}


def make(name, ctx):
    return NAMES[name](ctx)
