"""Backup under write load, restored into a new cluster: exactly the writes
acknowledged at or below the backup's index, plus clients and clusters.
A node whose data directory is wiped rejoins as a new member and catches up
by snapshot."""
import shutil
import subprocess
import threading
import time

import requests

import harness as H


def writer(c, names, acked, stop):
    i = 0
    while not stop.is_set() and i < 3000:
        i += 1
        tag = f"b{i}"
        try:
            r = c.put(names[i % len(names)], "/api/collect/backup/Deployment/app/main",
                      json={"image_tag": tag, "image_sha": H.sha_for(tag), "client_name": H.PROD_CLIENT,
                            "env_name": "bk"}, headers={"Idempotency-Key": tag})
            if r.status_code == 200:
                acked.append((tag, H.idx(r)))
        except requests.RequestException:
            pass


def test_backup_under_load_restores_into_a_new_cluster(cluster_factory, tmp_path):
    c = cluster_factory()
    names = c.names
    r = c.post(names[0], "/api/ping", json={"client_name": H.PROD_CLIENT, "env_name": "bk"})
    assert r.status_code == 200
    acked, stop = [], threading.Event()
    t = threading.Thread(target=writer, args=(c, names, acked, stop), daemon=True)
    t.start()
    H.wait_until(lambda: len(acked) > 30, 20, what="writes before the backup")
    r = c.get(names[1], "/api/v1/cluster/snapshot", timeout=20)
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream", H.show(r)
    backup_index = H.idx(r)
    H.assert_error(c.get(names[1], "/api/v1/cluster/snapshot", key=H.PROD_KEY), 403, "FORBIDDEN")
    H.wait_until(lambda: any(i > backup_index for _, i in acked), 20, what="writes after the backup")
    stop.set()
    t.join(timeout=20)
    path = tmp_path / "backup.snap"
    path.write_bytes(r.content)

    # A new single-node cluster from the backup.
    n = cluster_factory(n=1, start=False)
    proc = subprocess.run([H.SHIPLOGD, "--config", str(n.config_path), "--node", "n1", "--restore", str(tmp_path / "nope")],
                          capture_output=True, text=True, timeout=20)
    assert proc.returncode == 1 and "nope" in proc.stderr
    n.nodes["n1"].extra_args = ["--restore", str(path)]
    n.start_all()
    hist = n.get("n1", f"/api/releases/history/{H.PROD_CLIENT}/bk/backup/app/main").json()
    tags = {e["image_tag"] for e in hist["releases"]}
    expected = {tag for tag, i in acked if i <= backup_index}
    later = {tag for tag, i in acked if i > backup_index}
    assert expected <= tags, f"missing {sorted(expected - tags)[:5]}"
    assert not (later & tags), f"writes after the backup appeared: {sorted(later & tags)[:5]}"
    ce = n.get("n1", "/api/clients-environments").json()
    assert "bk" in ce["clients_environments"][H.PROD_CLIENT]
    assert ce["ping_statuses"][H.PROD_CLIENT]["bk"]["status"] == "online"
    # The new cluster takes writes, and knows only its own member.
    r = n.put("n1", "/api/collect/backup/Deployment/app/main", json={"image_tag": "after", "image_sha": "x"})
    assert r.status_code == 200, H.show(r)
    doc = n.get("n1", "/api/v1/cluster").json()
    assert [m["name"] for m in doc["members"]] == ["n1"]
    print(f"backup at index {backup_index}: {len(expected)} acknowledged writes restored, {len(later)} later ones absent")


def test_wiped_node_rejoins_and_catches_up_by_snapshot(cluster_factory):
    c = cluster_factory(raft={"snapshot_threshold": 32, "snapshot_trailing": 8})
    names = c.names
    for i in range(120):
        assert c.put(names[i % 3], "/api/collect/wipe/Deployment/app/main",
                     json={"image_tag": f"w{i}", "image_sha": f"s{i}"}).status_code == 200
    victim = next(n for n in names if n != c.leader())
    vid = next(m["id"] for m in c.get(names[0], "/api/v1/cluster").json()["members"] if m["name"] == victim)
    c.stop(victim)
    survivor = next(n for n in names if n != victim)
    r = c.request(survivor, "DELETE", f"/api/v1/cluster/nodes/{vid}", timeout=20)
    assert r.status_code == 200, H.show(r)
    shutil.rmtree(c.nodes[victim].data_dir)
    # Same addresses, a new id: it joins as a new member.
    c.nodes[victim].extra_args = ["--join", c.nodes[survivor].http_addr]
    c.nodes[victim].id = 10
    c.write_config()
    c.start(victim, wait=True)
    H.wait_until(lambda: c.applied_index(victim) >= c.applied_index(survivor) - 2 and c.applied_index(victim) > 100,
                 30, what="the wiped node caught up")
    hist = c.get(victim, "/api/releases/history/unknown/unknown/wipe/app/main").json()
    assert len(hist["releases"]) == 120
    # Its log began after the leader compacted (threshold 32): only a snapshot could bring the first writes.
    assert hist["releases"][-1]["image_tag"] == "w0"
