"""Process bookkeeping of the harness: every process started is killed at exit; free loopback ports; waiting for SIGSTOP to take hold."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import threading
import time


_ALL_PROCS: dict[int, subprocess.Popen] = {}
_PROCS_LOCK = threading.Lock()
_PORTS_LOCK = threading.Lock()
_USED_PORTS: set[int] = set()


def _register(proc):
    with _PROCS_LOCK:
        _ALL_PROCS[proc.pid] = proc


def kill_all_processes():
    """Last-resort cleanup: SIGCONT then SIGKILL every process still running."""
    with _PROCS_LOCK:
        procs = list(_ALL_PROCS.values())
    for p in procs:
        if p.poll() is None:
            for sig in (signal.SIGCONT, signal.SIGKILL):
                try:
                    os.kill(p.pid, sig)
                except OSError:
                    pass
    for p in procs:
        try:
            p.wait(timeout=5)
        except Exception:  # noqa: BLE001
            pass


atexit.register(kill_all_processes)


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1, never handed out twice in this run."""
    socks, ports = [], []
    with _PORTS_LOCK:
        try:
            for _ in range(n * 20):
                if len(ports) == n:
                    break
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind(("127.0.0.1", 0))
                socks.append(s)
                p = s.getsockname()[1]
                if p in _USED_PORTS or p in ports:
                    continue
                ports.append(p)
        finally:
            for s in socks:
                s.close()
        assert len(ports) == n, "could not allocate free ports"
        _USED_PORTS.update(ports)
    return ports


def wait_stopped(pid, timeout=5.0):
    """Waits until every thread of pid is stopped: kill(SIGSTOP) returns
    before that, and a node's raft thread can still receive, persist and
    acknowledge an entry meanwhile (a no-quorum test once saw its write
    committed by a follower that was "stopped")."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            states = []
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    states.append(f.read().rsplit(")", 1)[1].split()[0])
        except OSError:
            return  # gone
        if states and all(st in ("T", "t", "Z", "X") for st in states):
            return
        time.sleep(0.002)
    raise AssertionError(f"process {pid} did not stop within {timeout} s")
