"""Operation histories for the shiplog fault-injection harness.

A history is a sequence of *events*, one JSON object per line (JSON lines):

    {"process": 3, "type": "invoke", "f": "write", "value": 17, "time": 12.503}
    {"process": 3, "type": "ok",     "f": "write", "value": 17, "time": 12.511,
     "index": 942, "node": "n2"}

Fields
  process  int    logical client; one process has at most one operation in
                  flight at a time.
  type     str    "invoke" | "ok" | "fail" | "info".
  f        str    operation name: "read", "write", "cas", "add", "write-idem", ...
  value    any    JSON value.  On an invoke: the argument (value written, [old, new]
                  for cas, element added, ...).  On an ok read: the value read.
                  On other completions it normally repeats the argument.
  time     float  seconds from a monotonic clock (time.monotonic()); only
                  differences matter.  All processes must use the same clock.
  index    int    optional: raft index the answer reflects (X-Shiplog-Index).
  node     str    optional: node that answered (X-Shiplog-Node) or was asked.
  Any other key is kept and ignored by the checkers ("error", "latency", ...).

Completion semantics
  ok    the operation took effect (for a read: returned `value`).
  fail  the operation definitely did NOT take effect.
  info  unknown: it may or may not have taken effect, at any moment after its
        invoke -- possibly after operations invoked much later.  An info read
        carries no information and is dropped by the checkers.

Each invoke is followed (later in the file) by exactly one completion from the
same process.  In Jepsen a process that got "info" never issues again; the
pairing here does not rely on it: events are paired in file order per
process, so a process id reused after an info simply starts a new operation.
An invoke left without completion (history cut by a crash) is treated as
info; a completion without a pending invoke is ignored (or raises with
strict=True).
"""

import json
import math
import threading
import time as _time
from dataclasses import dataclass, field
from typing import Any, Iterable, List, Optional

INVOKE, OK, FAIL, INFO = "invoke", "ok", "fail", "info"
COMPLETIONS = (OK, FAIL, INFO)
EVENT_TYPES = (INVOKE,) + COMPLETIONS

__all__ = [
    "INVOKE", "OK", "FAIL", "INFO", "Op", "HistoryWriter", "load", "dump",
    "pair_ops", "freeze",
]


def freeze(v):
    """JSON value -> hashable equivalent (lists -> tuples, dicts -> sorted tuples)."""
    if isinstance(v, list):
        return tuple(freeze(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, freeze(x)) for k, x in v.items()))
    return v


@dataclass
class Op:
    """One invoke/completion pair.

    value:  the invoke's argument (falls back to the completion's value when
            the invoke had none).
    result: the completion's value (the value read, for an ok read); None for
            info ops that never completed.
    complete_time is math.inf when the outcome is info.
    """
    process: int
    f: str
    value: Any
    invoke_time: float
    complete_time: float
    outcome: str                 # "ok" | "fail" | "info"
    result: Any = None
    index: Optional[int] = None  # from the completion (or invoke) event
    node: Optional[str] = None   # from the completion (or invoke) event
    id: int = -1                 # position in pair_ops() output
    invoke_event: dict = field(default=None, repr=False)
    complete_event: Optional[dict] = field(default=None, repr=False)

    @property
    def latency(self):
        return self.complete_time - self.invoke_time

    def describe(self):
        """Short human-readable form used in checker reports."""
        if self.f == "read":
            what = "read -> %r" % (self.result,) if self.outcome == OK else "read"
        else:
            what = "%s %r" % (self.f, self.value)
        end = "inf" if math.isinf(self.complete_time) else "%.6f" % self.complete_time
        extra = ""
        if self.node is not None:
            extra += " node=%s" % self.node
        if self.index is not None:
            extra += " index=%s" % self.index
        return "p%s %s [%s] %.6f..%s%s" % (self.process, what, self.outcome,
                                          self.invoke_time, end, extra)

    def to_dict(self):
        return {
            "process": self.process, "f": self.f, "value": self.value,
            "result": self.result, "outcome": self.outcome,
            "invoke_time": self.invoke_time,
            "complete_time": None if math.isinf(self.complete_time) else self.complete_time,
            "index": self.index, "node": self.node,
        }


class HistoryWriter:
    """Thread-safe recorder: appends events to a .jsonl file (flushed per line,
    so a crash of the harness leaves a usable prefix) and to `self.events`.

        w = HistoryWriter("run/history.jsonl")
        w.invoke(1, "write", 5)
        w.ok(1, "write", 5, index=12, node="n1")
        w.close()

    path may be None for an in-memory history.
    """

    def __init__(self, path=None, clock=_time.monotonic):
        self.path = path
        self.clock = clock
        self.events: List[dict] = []
        self._lock = threading.Lock()
        self._fh = open(path, "a", encoding="utf-8") if path else None

    def append(self, process, type, f, value=None, time=None, index=None,
               node=None, **extra):
        if type not in EVENT_TYPES:
            raise ValueError("bad event type %r" % (type,))
        ev = {"process": process, "type": type, "f": f, "value": value}
        if index is not None:
            ev["index"] = index
        if node is not None:
            ev["node"] = node
        ev.update(extra)
        with self._lock:
            # the timestamp is taken under the lock so file order == time order
            ev["time"] = self.clock() if time is None else float(time)
            self.events.append(ev)
            if self._fh:
                self._fh.write(json.dumps(ev, separators=(",", ":")) + "\n")
                self._fh.flush()
        return ev

    def invoke(self, process, f, value=None, **kw):
        return self.append(process, INVOKE, f, value, **kw)

    def ok(self, process, f, value=None, **kw):
        return self.append(process, OK, f, value, **kw)

    def fail(self, process, f, value=None, **kw):
        return self.append(process, FAIL, f, value, **kw)

    def info(self, process, f, value=None, **kw):
        return self.append(process, INFO, f, value, **kw)

    def snapshot(self):
        with self._lock:
            return list(self.events)

    def close(self):
        with self._lock:
            if self._fh:
                self._fh.close()
                self._fh = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def load(path):
    """Read a .jsonl history.  Blank lines are skipped; an unparsable *last*
    line (torn write at a crash) is dropped, anywhere else it raises."""
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    events = []
    nonblank = [i for i, l in enumerate(lines) if l.strip()]
    last = nonblank[-1] if nonblank else -1
    for i in nonblank:
        try:
            events.append(json.loads(lines[i]))
        except json.JSONDecodeError:
            if i == last:
                break
            raise ValueError("%s:%d: not JSON" % (path, i + 1))
    return events


def dump(history: Iterable[dict], path):
    with open(path, "w", encoding="utf-8") as fh:
        for ev in history:
            fh.write(json.dumps(ev, separators=(",", ":")) + "\n")


def pair_ops(history, strict=False):
    """Events -> list of Op, in invoke order (file order of the invokes).

    Pairing is by order per process: an invoke opens an op, the next
    completion of that process closes it.  Lenient cases (strict=False):
      - invoke while the process already has an op open: the open op becomes
        info (unknown outcome, complete_time inf);
      - invoke never completed: info;
      - completion with nothing open: ignored.
    Accepts Op objects too (returned as is, re-numbered).
    """
    history = list(history)
    if history and isinstance(history[0], Op):
        for i, op in enumerate(history):
            op.id = i
        return history
    ops: List[Op] = []
    open_ops = {}
    for n, ev in enumerate(history):
        t = ev.get("type")
        p = ev.get("process")
        if t == INVOKE:
            if p in open_ops:
                if strict:
                    raise ValueError("event %d: process %r invokes with an op open" % (n, p))
                open_ops.pop(p)  # stays info/inf
            op = Op(process=p, f=ev.get("f"), value=ev.get("value"),
                    invoke_time=float(ev["time"]), complete_time=math.inf,
                    outcome=INFO, index=ev.get("index"), node=ev.get("node"),
                    invoke_event=ev)
            ops.append(op)
            open_ops[p] = op
        elif t in COMPLETIONS:
            op = open_ops.pop(p, None)
            if op is None:
                if strict:
                    raise ValueError("event %d: completion for process %r with no invoke" % (n, p))
                continue
            if strict and ev.get("f") not in (None, op.f):
                raise ValueError("event %d: completion f %r != invoke f %r" % (n, ev.get("f"), op.f))
            op.outcome = t
            op.complete_event = ev
            if t != INFO:
                op.complete_time = float(ev["time"])
            op.result = ev.get("value")
            if op.value is None and t != INFO and op.f != "read":
                op.value = ev.get("value")
            if ev.get("index") is not None:
                op.index = ev.get("index")
            if ev.get("node") is not None:
                op.node = ev.get("node")
        else:
            raise ValueError("event %d: bad type %r" % (n, t))
    for i, op in enumerate(ops):
        op.id = i
    return ops
