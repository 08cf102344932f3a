"""The `shiplog` CLI against a real cluster, and `shiplogd`'s handling of bad
configuration files (clear message, exit 1, nothing started)."""
import json
import re
import subprocess

import harness as H

CLI = H.CLI
run_cli = H.run_cli


def test_cli_release_put_current_history_status(cluster):
    nodes = [cluster.nodes[n] for n in cluster.names]
    tag = "cli-" + H.uid()
    put = run_cli(nodes[1], "release", "put", "cli-ns", "Deployment", "cli-app", "web",
                  "--tag", tag, "--sha", H.sha_for(tag), "--client", H.PROD_CLIENT, "--env", "cli")
    assert put.returncode == 0, put.stderr
    assert tag in put.stdout
    # Every node answers the CLI's reads once it has applied the write.
    for node in nodes:
        H.wait_until(lambda: cluster.applied_index(node.name) >= cluster.applied_index(nodes[1].name), 10)
        cur = run_cli(node, "--json", "release", "current", "--client", H.PROD_CLIENT, "--env", "cli")
        assert cur.returncode == 0, cur.stderr
        doc = json.loads(cur.stdout)
        assert doc["namespaces"]["cli-ns"][0]["image_tag"] == tag
        hist = run_cli(node, "release", "history", H.PROD_CLIENT, "cli", "cli-ns", "cli-app", "web")
        assert hist.returncode == 0 and tag in hist.stdout
    st = run_cli(nodes[0], "status")
    assert st.returncode == 0, st.stderr
    assert "leader" in st.stdout and all(n in st.stdout for n in cluster.names)
    # Errors are reported with the API's code and a non-zero exit.
    bad = run_cli(nodes[0], "release", "history", H.PROD_CLIENT, "cli", "cli-ns", "nope", "web")
    assert bad.returncode == 1 and "NOT_FOUND" in bad.stderr
    denied = run_cli(nodes[0], "status", key="wrong-key")
    assert denied.returncode == 1 and "UNAUTHORIZED" in denied.stderr


def start_with_config(tmp_path, text, node="n1"):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    return subprocess.run([H.SHIPLOGD, "--config", str(cfg), "--node", node],
                          capture_output=True, text=True, timeout=20, cwd=tmp_path)


GOOD_NODE = """
[[node]]
id = 1
name = "n1"
raft = "127.0.0.1:1"
rpc = "tcp://127.0.0.1:2"
http = "127.0.0.1:3"
data = "d1"
"""


def test_bad_config_files_are_refused_clearly(tmp_path):
    cases = {
        "syntax": ("[cluster\nname = 'x'\n" + GOOD_NODE, "bad.toml"),
        "missing cluster": (GOOD_NODE, "cluster"),
        "wrong type": ('[cluster]\nname = 5\n' + GOOD_NODE, "name"),
        "no nodes": ('[cluster]\nname = "x"\n', "node"),
        "bad heartbeat": ('[cluster]\nname = "x"\n[raft]\nelection_timeout_ms = 100\nheartbeat_ms = 90\n' + GOOD_NODE,
                          "heartbeat"),
        "duplicate ids": ('[cluster]\nname = "x"\n' + GOOD_NODE + GOOD_NODE, "unique"),
        # A typo is an error with the file, the line and the known keys, not a setting silently off.
        "misspelt key": ('[cluster]\nname = "x"\n[raft]\nelection_timeout = 300\n' + GOOD_NODE,
                         'unknown key "election_timeout" in [raft]; known keys: election_timeout_ms'),
        "its line": ('[cluster]\nname = "x"\n[raft]\nelection_timeout = 300\n' + GOOD_NODE, " 4 | election_timeout"),
        "misspelt table": ('[cluster]\nname = "x"\n[ratelimit]\nanonymous_per_minute = 0\n' + GOOD_NODE,
                           'unknown table or key "ratelimit"'),
    }
    for what, (text, needle) in cases.items():
        r = start_with_config(tmp_path, text)
        assert r.returncode == 1, f"{what}: exit {r.returncode}\n{r.stderr}"
        assert needle in r.stderr, f"{what}: {r.stderr}"
        assert not (tmp_path / "d1").exists(), f"{what}: started anyway"
    r = start_with_config(tmp_path, '[cluster]\nname = "x"\n' + GOOD_NODE, node="n9")
    assert r.returncode == 1 and "n9" in r.stderr
    r = subprocess.run([H.SHIPLOGD, "--config", str(tmp_path / "absent.toml"), "--node", "n1"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and "absent.toml" in r.stderr
    r = subprocess.run([H.SHIPLOGD, "--help"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0 and "--config" in r.stdout


def test_cli_cluster_status_and_transfer(cluster):
    node = cluster.nodes[cluster.names[0]]
    st = run_cli(node, "cluster", "status")
    assert st.returncode == 0, st.stderr
    assert "leader" in st.stdout and st.stdout.count("voter") == 3
    doc = json.loads(run_cli(node, "--json", "cluster", "status").stdout)
    target = next(m for m in doc["members"] if m["name"] != doc["leader"]["name"])
    tr = run_cli(node, "cluster", "transfer", str(target["id"]))
    assert tr.returncode == 0, tr.stderr
    H.wait_until(lambda: json.loads(run_cli(node, "--json", "cluster", "status").stdout)["leader"]["id"] == target["id"],
                 10)
    bad = run_cli(node, "cluster", "remove", "77")
    assert bad.returncode == 1 and "NOT_FOUND" in bad.stderr


def test_cli_backup(cluster, tmp_path):
    node = cluster.nodes[cluster.names[0]]
    out = tmp_path / "b.snap"
    r = run_cli(node, "cluster", "backup", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:8] == b"SHIPSNP1"
    denied = run_cli(node, "cluster", "backup", str(tmp_path / "x.snap"), key=H.PROD_KEY)
    assert denied.returncode == 1 and not (tmp_path / "x.snap").exists()


def test_log_level_and_format_are_checked(tmp_path):
    for text, needle in (('[log]\nlevel = "loud"\n', "level"), ('[log]\nformat = "xml"\n', "format")):
        r = start_with_config(tmp_path, '[cluster]\nname = "x"\n' + text + GOOD_NODE)
        assert r.returncode == 1, r.stderr
        assert "[log]" in r.stderr and needle in r.stderr, r.stderr
        assert not (tmp_path / "d1").exists(), "started anyway"


def test_json_log_lines(cluster_factory):
    """[log] format = "json": every line a node writes is one JSON object with
    time, level, component, node and message; [log] level = "warn" drops the
    info lines (a node's start and stop)."""
    c = cluster_factory(start=False)
    c.extra_tables = {"log": {"format": "json"}}
    c.write_config()
    c.start_all()
    c.write(c.names[0], H.Component(H.PROD_CLIENT, "logs", "ns", "app", "web"), "1.0")
    name = c.names[1]
    c.stop(name)
    text = c.nodes[name].log_path.read_text("utf-8")
    # The sanitizers' exit report and the harness's start marks are not the node's log lines.
    assert not re.search(r"^\d{4}-\d\d-\d\dT\S+ (DEBUG|INFO|WARN|ERROR) ", text, re.M), text
    docs = [json.loads(ln) for ln in text.splitlines() if ln.startswith("{")]  # fails on a broken object
    for d in docs:
        assert {"time", "level", "component", "node", "message"} <= d.keys(), d
        assert d["node"] == name and d["level"] in ("debug", "info", "warn", "error"), d
    assert any(d["component"] == "raft" and "started at" in d["message"] for d in docs), docs
    assert any(d["component"] == "shiplogd" and d["message"] == "stopped" for d in docs), docs

    quiet = cluster_factory(n=1, start=False)
    quiet.extra_tables = {"log": {"level": "warn"}}
    quiet.write_config()
    quiet.start_all()
    only = quiet.names[0]
    quiet.stop(only)
    text = quiet.nodes[only].log_path.read_text("utf-8")
    assert "started at" not in text and "stopped" not in text, text
