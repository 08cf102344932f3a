"""GET /metrics on every node: Prometheus text with the Raft, HTTP, LMDB and
lease metrics, counters moving with the traffic."""
import harness as H


def scrape(c, node):
    r = c.get(node, "/metrics", key=None)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain"), H.show(r)
    return r.text, H.parse_metrics(r.text)


def test_metrics_on_every_node(cluster):
    names = cluster.names
    for i in range(6):
        assert cluster.put(names[i % 3], "/api/collect/m/Deployment/w/c",
                           json={"image_tag": f"t{i}", "image_sha": "s"}).status_code == 200
    leader = cluster.leader()
    follower = next(n for n in names if n != leader)
    assert cluster.get(follower, "/api/releases/current",
                       params={"client_name": "unknown", "env_name": "unknown",
                               "consistency": "linearizable"}).status_code == 200
    for n in names:
        text, v = scrape(cluster, n)
        for name in ("shiplog_raft_term", "shiplog_raft_commit_index", "shiplog_raft_applied_index",
                     "shiplog_raft_leader_changes_total", "shiplog_lmdb_map_size_bytes", "shiplog_lmdb_used_bytes",
                     "shiplog_leases_held", "shiplog_websocket_clients", "shiplog_raft_snapshots_total"):
            assert name in v, f"{n} lacks {name}"
        assert v[f'shiplog_raft_state{{state="{"leader" if n == leader else "follower"}"}}'] == 1
        assert v["shiplog_raft_applied_index"] >= 6
        assert "# TYPE shiplog_http_request_duration_seconds histogram" in text
    _, before = scrape(cluster, leader)
    obs = [{"namespace": "m", "workload_kind": "Deployment", "workload_name": f"w{k}", "container_name": "c",
            "image_tag": "1.0.0", "image_sha": f"sha256:{k:064x}"} for k in range(200)]
    assert cluster.post(leader, "/api/v1/observations",
                        json={"client_name": "m", "env_name": "m", "observations": obs}).status_code == 200
    _, lv = scrape(cluster, leader)
    grew = lv["shiplog_raft_entry_bytes_total"] - before["shiplog_raft_entry_bytes_total"]
    raw = lv["shiplog_raft_entry_uncompressed_bytes_total"] - before["shiplog_raft_entry_uncompressed_bytes_total"]
    assert 0 < grew < raw / 2, (grew, raw)  # 200 like observations in one entry: LZ4 shrinks them
    assert lv["shiplog_raft_proposals_total"] >= 6
    assert lv["shiplog_raft_apply_duration_seconds_count"] >= 6
    assert lv["shiplog_barrier_rounds_total"] >= 1 and lv["shiplog_barrier_reads_total"] >= 1
    _, fv = scrape(cluster, follower)
    assert fv["shiplog_forwarded_writes_total"] >= 1
    # every forwarded write that succeeded waited for the leader and then for its apply here
    assert fv["shiplog_forward_duration_seconds_count"] >= 1
    assert fv["shiplog_forward_apply_wait_seconds_count"] >= 1
    assert fv['shiplog_http_requests_total{route="PUT /api/collect/*/*/*/*",code="200"}'] >= 1
