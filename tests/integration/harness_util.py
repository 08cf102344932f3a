"""Bounded waits (wait_until, Fatal), ids, timestamps, release bodies, the
$SHIPLOG_TEST_REPORT writer and the at-rest secret scan (files_holding)."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json as _json
import os
import pathlib
import re
import time
import uuid


class Fatal(Exception):
    """An error that wait_until must not swallow (e.g. a node died)."""


def wait_until(fn, timeout, interval=0.05, what=None):
    """Call fn until it returns a truthy value, at most `timeout` seconds.

    Ordinary exceptions raised by fn count as "not yet" (the last one is
    reported on timeout); Fatal is re-raised at once."""
    deadline = time.monotonic() + timeout
    last_exc = None
    last_val = None
    while True:
        try:
            last_val = fn()
            if last_val:
                return last_val
        except Fatal:
            raise
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last_exc = exc
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:.1f}s waiting for {what or getattr(fn, '__name__', fn)}; "
                f"last value {last_val!r}, last error {last_exc!r}")
        time.sleep(interval)


def uid(n=8):
    return uuid.uuid4().hex[:n]


def sha_for(tag):
    return "sha256:" + hashlib.sha256(tag.encode()).hexdigest()


def iso(dt):
    return dt.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso():
    return iso(_dt.datetime.now(_dt.timezone.utc))


def ts(base, **delta):
    """ISO string of a fixed base time (a 'YYYY-MM-DDTHH:MM:SSZ' string) plus a delta."""
    return iso(parse_ts(base) + _dt.timedelta(**delta))


_FRAC = re.compile(r"\.(\d+)")


def parse_ts(s):
    """Parse an ISO-8601 / RFC-3339 timestamp into an aware UTC datetime."""
    assert isinstance(s, str) and s, f"not a timestamp string: {s!r}"
    t = s.strip()
    if t.endswith("Z") or t.endswith("z"):
        t = t[:-1] + "+00:00"
    # normalise fractional seconds to 6 digits for fromisoformat
    t = _FRAC.sub(lambda m: "." + (m.group(1) + "000000")[:6], t, count=1)
    dt = _dt.datetime.fromisoformat(t)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_dt.timezone.utc)
    return dt.astimezone(_dt.timezone.utc)


def same_instant(a, b):
    return parse_ts(a) == parse_ts(b)


def release_body(tag, *, sha=None, client=None, env=None, released_at=None,
                 repo="docker.io", name="app", **extra):
    body = {"image_tag": tag, "image_sha": sha or sha_for(tag)}
    if repo is not None:
        body["image_repo"] = repo
    if name is not None:
        body["image_name"] = name
    if client is not None:
        body["client_name"] = client
    if env is not None:
        body["env_name"] = env
    if released_at is not None:
        body["released_at"] = released_at
    body.update(extra)
    return body


def report(record):
    """Append one JSON line to $SHIPLOG_TEST_REPORT (when set)."""
    path = os.environ.get("SHIPLOG_TEST_REPORT")
    if not path:
        return
    rec = dict(record)
    rec.setdefault("time", now_iso())
    with open(path, "a", encoding="utf-8") as f:
        f.write(_json.dumps(rec, sort_keys=True) + "\n")


def files_holding(root_paths, needles):
    """The files under root_paths (directories or files) that contain any of
    needles (bytes). Only the allocated regions of sparse files are read
    (SEEK_DATA/SEEK_HOLE), so an LMDB map of a gigabyte costs what it holds."""
    found = []
    files = []
    for root in root_paths:
        root = pathlib.Path(root)
        files.extend([root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()])
    for path in files:
        with open(path, "rb") as f:
            fd, off, size = f.fileno(), 0, os.fstat(f.fileno()).st_size
            while off < size:
                try:
                    start = os.lseek(fd, off, os.SEEK_DATA)
                except OSError:  # ENXIO: only a hole is left
                    break
                end = os.lseek(fd, start, os.SEEK_HOLE)
                f.seek(start)
                data = f.read(end - start)
                if any(n in data for n in needles):
                    found.append(str(path))
                    break
                off = end
    return found
