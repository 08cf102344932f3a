"""Smoke campaign of the fault-injection harness, as a pytest test.

Runs `tests/jepsen/campaign --smoke` (about 2 minutes: register x kill,
set x partition-random-halves, idempotent x kill-leader, stale x pause) and
asserts that every verdict is valid.  Skipped unless run as root with
`ip netns` and iptables available.  SHIPLOGD selects the binary (default
build/shiplogd).

    sudo /usr/bin/python3 -m pytest -q tests/jepsen/test_smoke.py
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import db  # noqa: E402
import net  # noqa: E402


def _skip_reason():
    ok, why = net.available()
    if not ok:
        return why
    if not os.path.exists(db.SHIPLOGD):
        return f"shiplogd not built at {db.SHIPLOGD}"
    return None


def test_smoke_campaign():
    why = _skip_reason()
    if why:
        pytest.skip(why)
    runs = HERE / "runs"
    runs.mkdir(exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix="campaign-smoke-", dir=runs))
    summary = out / "summary.json"
    p = subprocess.run([sys.executable, str(HERE / "campaign"), "--smoke", "--out", str(out),
                        "--json", str(summary)],
                       capture_output=True, text=True, timeout=900)
    print(p.stdout[-6000:])
    print(p.stderr[-3000:], file=sys.stderr)
    assert summary.exists(), f"campaign wrote no summary (exit {p.returncode})"
    rows = json.loads(summary.read_text())
    assert len(rows) >= 4
    bad = [r for r in rows if r["valid"] is not True]
    assert not bad, "invalid verdicts:\n" + "\n".join(
        f"{r['workload']} x {r['nemesis']}: {r['valid']} invalid={r.get('invalid')} "
        f"{r.get('reason') or ''} -> {r.get('run_dir')}" for r in bad)
    for r in rows:
        assert r["ops"] and r["ok"] > 0, f"no successful operations: {r}"
    assert p.returncode == 0, p.stdout[-2000:]
    shutil.rmtree(out, ignore_errors=True)  # kept (under runs/) only when something failed
