"""Linearizable reads: the leader confirms its term with the other voters over
the bus, without a log entry (ReadIndex); when the voters cannot answer, the
round falls back to a barrier entry through the log and reads still see every
acknowledged write."""
import os
import shutil
import subprocess

import pytest

import harness as H
from harness import Component


def metrics(c, node):
    return H.parse_metrics(c.get(node, "/metrics", key=None).text)


def read_tags(c, node, client, env):
    r = c.current(node, client, env, consistency="linearizable")
    assert r.status_code == 200, H.show(r)
    return [x["image_tag"] for ns in r.json()["namespaces"].values() for x in ns]


def test_reads_confirm_the_term_without_log_entries(cluster):
    comp = Component(f"rr-{H.uid()}", "prod", "ns", "w", "app")
    leader = cluster.leader()
    before = metrics(cluster, leader)
    for i, node in enumerate(cluster.names * 4):
        cluster.write(node, comp, f"v{i}")
        # every read, on any node, sees the write acknowledged just before it
        assert read_tags(cluster, cluster.names[(i + 1) % 3], comp.client, comp.env) == [f"v{i}"]
    after = metrics(cluster, leader)
    assert after["shiplog_barrier_rounds_total"] >= before["shiplog_barrier_rounds_total"] + 1
    assert after["shiplog_barrier_reads_total"] >= before["shiplog_barrier_reads_total"] + 12
    # all voters reachable: every round was confirmed over the bus, none went through the log
    assert after["shiplog_barrier_log_rounds_total"] == before["shiplog_barrier_log_rounds_total"], after


def _iptables(args):
    return subprocess.run(["iptables", "-w", "5"] + args, capture_output=True, text=True, timeout=20)


def _skip_reason():
    if os.geteuid() != 0:
        return "needs root (iptables)"
    if shutil.which("iptables") is None:
        return "iptables not installed"
    if _iptables(["-L", "INPUT", "-n"]).returncode != 0:
        return "iptables cannot list INPUT here"
    return None


def test_unconfirmed_round_falls_back_to_a_barrier_entry(cluster_factory):
    why = _skip_reason()
    if why:
        pytest.skip(why)
    c = cluster_factory()
    leader = c.leader()
    comp = Component(f"rr-{H.uid()}", "prod", "ns", "w", "app")
    c.write(leader, comp, "before")
    # the followers' bus ports drop everything: raft (its own port) still works,
    # the leader's confirmation requests get no answer
    rules = [["INPUT", "-i", "lo", "-p", "tcp", "--dport", str(c.nodes[n].rpc_port), "-j", "DROP"]
             for n in c.names if n != leader]
    added = []
    try:
        for rule in rules:
            r = _iptables(["-I"] + rule)
            assert r.returncode == 0, r.stderr
            added.append(rule)
        before = metrics(c, leader)
        c.write(leader, comp, "during")
        assert read_tags(c, leader, comp.client, comp.env) == ["during"]
        after = metrics(c, leader)
        assert after["shiplog_barrier_log_rounds_total"] >= before["shiplog_barrier_log_rounds_total"] + 1, after
    finally:
        for rule in added:
            _iptables(["-D"] + rule)
    # healed: rounds are confirmed over the bus again, once TCP has retransmitted what was dropped

    def confirmed_read():
        base = metrics(c, leader)["shiplog_barrier_log_rounds_total"]
        assert read_tags(c, leader, comp.client, comp.env) == ["during"]
        return metrics(c, leader)["shiplog_barrier_log_rounds_total"] == base
    H.wait_until(confirmed_read, 20, what="a read confirmed over the bus after the heal")
