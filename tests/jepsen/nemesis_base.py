"""Nemesis base: the Timeline of fault windows, the Nemesis base class, NoNemesis."""

from __future__ import annotations

import json
import threading
import time


class Timeline:
    """Fault windows of a run; one JSON line per event in nemesis.jsonl."""

    def __init__(self, path):
        self.path = path
        self._fh = open(path, "a", encoding="utf-8") if path else None
        self._lock = threading.Lock()
        self.windows = []      # [start, end|None, name, detail]
        self._open = {}

    def event(self, kind, name, **detail):
        at = detail.pop("at", None)
        with self._lock:
            t = time.monotonic() if at is None else at
            rec = {"time": t, "type": kind, "name": name}
            rec.update(detail)
            if self._fh:
                self._fh.write(json.dumps(rec, default=str) + "\n")
                self._fh.flush()
            if kind == "start":
                w = [t, None, name, detail]
                self.windows.append(w)
                self._open[name] = w
            elif kind == "stop":
                w = self._open.pop(name, None)
                if w is not None:
                    w[1] = t
                    w[3] = dict(w[3], stop=detail)
            return t

    def close_all(self):
        with self._lock:
            t = time.monotonic()
            for w in self._open.values():
                w[1] = t
            self._open.clear()

    def plot_windows(self):
        return [(w[0], w[1], w[2]) for w in self.windows]

    def close(self):
        with self._lock:
            if self._fh:
                self._fh.close()
                self._fh = None


class Nemesis:
    name = "?"
    needs_clock = False
    raft_overrides = {}     # [raft] settings the runner uses for this nemesis

    def tmpfs_nodes(self, names, rng):
        """{node: MiB}: data directories the runner puts on a tmpfs."""
        return {}

    def start(self, ctx):
        return {}

    def stop(self, ctx):
        return {}


class NoNemesis(Nemesis):
    name = "none"
