"""Tests of the expected-exit classification (db.DB.classify_exit,
scan_logs) used by the disk-full and corrupt nemeses, and of the corrupt
nemesis's helper that finds the written part of a preallocated segment.
No processes, no namespaces: a DB object is built without its constructor.

    /usr/bin/python3 -m pytest -q tests/jepsen/test_expected_exits.py
"""

import re
import signal
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import db as dbmod  # noqa: E402
import nemesis as nemmod  # noqa: E402


def make_db(tmp_path, log_text):
    d = dbmod.DB.__new__(dbmod.DB)
    d.nodes = {"n1": dbmod.Node("n1", tmp_path)}
    d.nodes["n1"].log_path.write_text(log_text)
    d.tolerated, d.expected_exits, d.crashes = {}, [], []
    d._lock = threading.RLock()
    return d


def section(epoch, *lines):
    return (f"\n===== jepsen: start #{epoch} of n1 at 2026-01-01T00:00:00 =====\n"
            + "".join(ln + "\n" for ln in lines))


DISK = [re.compile(p) for p in nemmod.DISK_FULL_PATTERNS]
CORRUPT = [re.compile(p) for p in nemmod.CORRUPT_PATTERNS]
STORE_FATAL = "FATAL: store apply of entry 72 failed (I/O error); stopping to avoid divergence"


def test_deliberate_store_stop_on_disk_full_is_expected(tmp_path):
    d = make_db(tmp_path, section(1, "raft: node n1 started") + section(2, "gateway up", STORE_FATAL))
    d.tolerated[("n1", 2)] = ("disk-full", DISK)
    e = d.classify_exit("n1", 2, -signal.SIGABRT)
    assert e["clean"], e
    d.expected_exits.append(e)
    assert d.scan_logs() == {}


def test_same_line_outside_a_tolerated_incarnation_is_a_crash(tmp_path):
    d = make_db(tmp_path, section(1, STORE_FATAL) + section(2, "ok"))
    d.tolerated[("n1", 2)] = ("disk-full", DISK)
    assert d.classify_exit("n1", 1, -signal.SIGABRT) is None
    assert d.scan_logs() == {"n1": [STORE_FATAL]}


def test_sanitizer_report_is_never_excused(tmp_path):
    asan = "==1==ERROR: AddressSanitizer: attempting double-free on 0x6 in uvSegmentLoad"
    d = make_db(tmp_path, section(1, "raft: start: load closed segment: checksum mismatch", asan))
    d.tolerated[("n1", 1)] = ("corrupt", CORRUPT)
    e = d.classify_exit("n1", 1, 1)
    assert not e["clean"] and e["crash_lines"] == [asan], e


def test_clean_refusal_to_start_is_expected(tmp_path):
    d = make_db(tmp_path, section(1, "raft: start: load closed segment 1-9: checksum mismatch",
                                  "shiplogd: the raft actor failed to start"))
    d.tolerated[("n1", 1)] = ("corrupt", CORRUPT)
    assert d.classify_exit("n1", 1, 1)["clean"]


def test_signal_or_status_zero_or_unrelated_message_is_not_clean(tmp_path):
    d = make_db(tmp_path, section(1, "something else went wrong"))
    d.tolerated[("n1", 1)] = ("disk-full", DISK)
    assert d.classify_exit("n1", 1, -signal.SIGSEGV)["why"].startswith("killed by signal")
    assert d.classify_exit("n1", 1, 0)["why"] == "exit status 0"
    assert d.classify_exit("n1", 1, 1)["why"].startswith("no line matching")
    # SIGABRT without the deliberate FATAL line is a crash too
    d2 = make_db(tmp_path, section(1, "write: No space left on device"))
    d2.tolerated[("n1", 1)] = ("disk-full", DISK)
    assert not d2.classify_exit("n1", 1, -signal.SIGABRT)["clean"]
    assert d2.classify_exit("n1", 1, 1)["clean"]


def test_used_end_of_a_preallocated_segment(tmp_path):
    p = tmp_path / "open-1"
    p.write_bytes(b"\x01" * 5000 + b"\0" * (3 << 20))
    assert nemmod._used_end(p, p.stat().st_size) == 5000
    q = tmp_path / "open-2"
    q.write_bytes(b"\0" * 4096)
    assert nemmod._used_end(q, 4096) == 0


def test_mixed_leaves_out_disk_and_corruption():
    names = {m.name for m in nemmod.make("mixed").members}
    assert "kill-after-election" in names and "snapshot-install" in names
    assert not names & {"disk-full", "corrupt", "none"}
    assert nemmod.make("snapshot-install").raft_overrides == {"snapshot_threshold": 32,
                                                             "snapshot_trailing": 8}
