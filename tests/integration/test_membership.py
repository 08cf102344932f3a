"""Membership on real nodes: 3 -> 5 (two joins with --join) -> 3 (two
removals, one of them the leader) while a client writes through random
nodes; every acknowledged write is on every remaining node. Also leadership
transfer and refused operations."""
import random
import subprocess
import threading
import time

import harness as H


def joiner_config(c, name, nid, region="local", ports=None):
    """A config file for a node that joins: its own [[node]] table only
    (ports: raft, rpc, http; free ones by default)."""
    ports = ports or H.free_ports(3)
    data = c.workdir / name
    text = c.config_path.read_text()
    head = text.split("[[node]]")[0]
    tail = text[text.index("[auth]"):]
    cfg = c.workdir / f"{name}.toml"
    cfg.write_text(head + f"""[[node]]
id = {nid}
name = "{name}"
region = "{region}"
raft = "127.0.0.1:{ports[0]}"
rpc = "tcp://127.0.0.1:{ports[1]}"
http = "127.0.0.1:{ports[2]}"
data = "{data}"

""" + tail)
    return cfg, f"http://127.0.0.1:{ports[2]}", f"127.0.0.1:{ports[0]}"


def start_joiner(c, name, nid, via, region="local", ports=None):
    cfg, url, raft = joiner_config(c, name, nid, region, ports)
    c.joiner_tables = getattr(c, "joiner_tables", {})
    c.joiner_tables[name] = cfg
    log = open(c.workdir / f"{name}.log", "ab")
    proc = subprocess.Popen([H.SHIPLOGD, "--config", str(cfg), "--node", name, "--join", via],
                            stdout=log, stderr=subprocess.STDOUT)
    H._register(proc)
    return proc, url, raft


def cluster_doc(c, node):
    r = c.get(node, "/api/v1/cluster")
    assert r.status_code == 200, H.show(r)
    return r.json()


class Writer(threading.Thread):
    """Writes distinct releases through random live nodes; keeps what was acknowledged."""

    def __init__(self, urls):
        super().__init__(daemon=True)
        self.urls = urls
        self.acked = []
        self.stop = threading.Event()
        self.gaps = []
        self.ack_times = []

    def unavailability(self, start, end):
        """The longest interval without an acknowledged write that overlaps [start, end]."""
        times = self.ack_times
        gaps = [b - a for a, b in zip(times, times[1:]) if b >= start and a <= end]
        return max(gaps, default=end - start)

    def run(self):
        import requests
        i = 0
        last_ok = time.monotonic()
        while not self.stop.is_set() and i < 5000:
            i += 1
            tag = f"m{i}"
            url = random.choice(self.urls)
            try:
                r = requests.put(f"{url}/api/collect/members/Deployment/w/c",
                                 headers={"Authorization": f"Bearer {H.ADMIN_KEY}", "Idempotency-Key": tag},
                                 json={"image_tag": tag, "image_sha": H.sha_for(tag)}, timeout=5)
                if r.status_code == 200:
                    now = time.monotonic()
                    self.gaps.append(now - last_ok)
                    self.ack_times.append(now)
                    last_ok = now
                    self.acked.append(tag)
            except Exception:
                pass
            time.sleep(0.02)


def test_grow_to_five_and_shrink_to_three_under_writes(cluster_factory):
    c = cluster_factory()
    names = c.names
    doc = cluster_doc(c, names[0])
    assert [m["role"] for m in doc["members"]] == ["voter"] * 3 and doc["leader"]["name"] in names
    assert all(m["name"] and m["http"] for m in doc["members"])
    w = Writer([c.nodes[n].url for n in names])
    w.start()
    t0 = time.monotonic()
    p4, url4, raft4 = start_joiner(c, "n4", 4, c.nodes[names[1]].http_addr)
    p5, url5, raft5 = start_joiner(c, "n5", 5, c.nodes[names[2]].http_addr)
    H.wait_until(lambda: sum(m["role"] == "voter" for m in cluster_doc(c, names[0])["members"]) == 5, 60,
                 what="two nodes joined as voters")
    steps = [("join n4 and n5 (spare -> voter)", t0, time.monotonic())]
    print(f"3 -> 5 voters in {time.monotonic() - t0:.1f} s")
    # The new nodes serve the API and have caught up.
    import requests
    for url in (url4, url5):
        H.wait_until(lambda: requests.get(url + "/health", timeout=2).json()["raft"]["applied_index"] >=
                     c.applied_index(names[0]) - 5, 30, what="joined node caught up")
    # Joining twice is harmless: the same request again changes nothing.
    n4 = next(m for m in cluster_doc(c, names[0])["members"] if m["id"] == 4)
    r = c.post(names[0], "/api/v1/cluster/nodes", json={"id": 4, "name": "n4", "raft": n4["raft"], "rpc": n4["rpc"],
                                                         "http": n4["http"], "region": "local"})
    assert r.status_code == 200, H.show(r)
    assert sum(m["role"] == "voter" for m in cluster_doc(c, names[0])["members"]) == 5
    # Remove the leader (leadership moves first) and one more.
    leader = cluster_doc(c, names[0])["leader"]
    t1 = time.monotonic()
    r = c.request(names[0], "DELETE", f"/api/v1/cluster/nodes/{leader['id']}", timeout=30)
    assert r.status_code == 200, H.show(r)
    steps.append(("remove the leader (transfer first)", t1, time.monotonic()))
    t2 = time.monotonic()
    other = next(m for m in cluster_doc(c, "n1" if leader["name"] != "n1" else "n2")["members"]
                 if m["name"] not in (leader["name"],) and m["id"] in (4, 5))
    alive = [n for n in names if n != leader["name"]]
    r = c.request(alive[0], "DELETE", f"/api/v1/cluster/nodes/{other['id']}", timeout=30)
    assert r.status_code == 200, H.show(r)
    steps.append(("remove a follower", t2, time.monotonic()))
    print(f"5 -> 3 voters in {time.monotonic() - t1:.1f} s")
    doc = cluster_doc(c, alive[0])
    print("after removals:", [(m["id"], m["name"], m["role"], m["http"]) for m in doc["members"]], doc["leader"])
    assert len(doc["members"]) == 3 and doc["leader"]["name"] != leader["name"]
    time.sleep(1.0)
    w.stop.set()
    w.join(timeout=10)
    assert len(w.acked) > 20
    print(f"{len(w.acked)} writes acknowledged; longest gap between acknowledged writes {max(w.gaps):.2f} s")
    for what, start, end in steps:  # a write every 20 ms: a gap of ~20-40 ms is no unavailability
        print(f"unavailability during {what}: {w.unavailability(start, end) * 1000:.0f} ms "
              f"(operation took {(end - start) * 1000:.0f} ms)")
    remaining = {m["http"] for m in doc["members"]}
    for http in remaining:
        url = "http://" + http
        hist = requests.get(url + "/api/releases/history/unknown/unknown/members/w/c",
                            headers={"Authorization": f"Bearer {H.ADMIN_KEY}"},
                            params={"index": c.applied_index(alive[0]), "wait": "10s"}, timeout=15).json()
        tags = {e["image_tag"] for e in hist["releases"]}
        missing = [t for t in w.acked if t not in tags]
        assert not missing, f"{url} lost {missing[:5]}"
    for p in (p4, p5):
        p.terminate()
        p.wait(timeout=10)


def test_transfer_and_refused_operations(cluster_factory):
    c = cluster_factory()
    names = c.names
    doc = cluster_doc(c, names[0])
    target = next(m for m in doc["members"] if m["name"] != doc["leader"]["name"])
    r = c.post(names[1], "/api/v1/cluster/transfer", json={"id": target["id"]})
    assert r.status_code == 200, H.show(r)
    H.wait_until(lambda: cluster_doc(c, names[0])["leader"]["id"] == target["id"], 10, what="leadership moved")
    H.assert_error(c.request(names[0], "DELETE", "/api/v1/cluster/nodes/99"), 404, "NOT_FOUND")
    H.assert_error(c.request(names[0], "DELETE", "/api/v1/cluster/nodes/x"), 400, "VALIDATION_ERROR")
    used = doc["members"][0]
    r = c.post(names[0], "/api/v1/cluster/nodes", json={"name": "n9", "raft": used["raft"], "rpc": "tcp://127.0.0.1:9",
                                                         "http": "127.0.0.1:9"})
    H.assert_error(r, 409, "CONFLICT")
    r = c.post(names[0], "/api/v1/cluster/nodes", json={"name": "n9", "raft": "127.0.0.1:9", "rpc": "tcp://127.0.0.1:9",
                                                         "http": "127.0.0.1:9", "cluster": "another"})
    H.assert_error(r, 400, "VALIDATION_ERROR")
    H.assert_error(c.post(names[0], "/api/v1/cluster/transfer", json={"id": 42}), 404, "NOT_FOUND")
    r = c.post(names[0], "/api/v1/cluster/nodes", key=H.PROD_KEY, json={})
    H.assert_error(r, 403, "FORBIDDEN")


def test_last_voter_cannot_be_removed(cluster_factory):
    c = cluster_factory(n=1)
    H.assert_error(c.request("n1", "DELETE", "/api/v1/cluster/nodes/1"), 400, "VALIDATION_ERROR")


def test_removed_node_says_so_and_autopilot_removes_the_unreachable(cluster_factory):
    c = cluster_factory(n=3, start=False)
    c.extra_tables = {"autopilot": {"remove_unreachable_after": "2s"}}
    c.write_config()
    c.start_all()
    names = c.names
    # A removed live node learns it and refuses writes clearly.
    leader = c.leader()
    victim = next(n for n in names if n != leader)
    vid = next(m["id"] for m in cluster_doc(c, leader)["members"] if m["name"] == victim)
    assert c.request(leader, "DELETE", f"/api/v1/cluster/nodes/{vid}", timeout=20).status_code == 200
    H.wait_until(lambda: c.health(victim)[1]["raft"]["state"] == "removed", 10, what="the removed node knows")
    r = c.put(victim, "/api/collect/a/Deployment/b/c", json={"image_tag": "x", "image_sha": "y"})
    H.assert_error(r, 503, "NODE_REMOVED")
    assert c.get(victim, "/api/releases/current", params={"client_name": "a", "env_name": "b"}).status_code == 200
    c.stop(victim)
    c.start(victim)  # it remembers across restarts
    H.wait_until(lambda: c.health(victim)[1]["raft"]["state"] == "removed", 10, what="removed after a restart")
    c.stop(victim)
    # Autopilot: a member unreachable longer than the threshold is removed... unless it is one of the last two voters.
    doc = cluster_doc(c, leader)
    assert len(doc["members"]) == 2
    other = next(n for n in names if n not in (leader, victim))
    c.kill9(other)
    time.sleep(4)
    assert len(cluster_doc(c, leader)["members"]) == 2  # never below two voters: quorum would be lost for good
    c.start(other)


def test_autopilot_removes_a_dead_node_from_five(cluster_factory):
    c = cluster_factory(n=5, start=False)
    c.extra_tables = {"autopilot": {"remove_unreachable_after": "2s"}}
    c.write_config()
    c.start_all()
    leader = c.leader()
    dead = next(n for n in c.names if n != leader)
    c.kill9(dead)
    t0 = time.monotonic()
    H.wait_until(lambda: len(cluster_doc(c, leader)["members"]) == 4, 15, what="autopilot removal")
    print(f"autopilot removed {dead} {time.monotonic() - t0:.1f} s after kill -9 (threshold 2 s)")
    assert c.put(leader, "/api/collect/a/Deployment/b/c", json={"image_tag": "x", "image_sha": "y"}).status_code == 200


def test_autopilot_spreads_voters_to_a_new_region(cluster_factory):
    """[autopilot] max_voters = 3 (spread_regions is on by default then): three
    voters in region "local"; a node joining in region "r2" becomes a standby,
    is promoted, and then one "local" voter, never the leader, steps down."""
    c = cluster_factory(n=3, start=False)
    c.extra_tables = {"autopilot": {"max_voters": 3}}
    c.write_config()
    c.start_all()
    leader = c.leader()
    p4, _, _ = start_joiner(c, "n4", 4, c.nodes[leader].http_addr, region="r2")

    def roles():
        return {m["name"]: (m["role"], m["region"]) for m in cluster_doc(c, leader)["members"]}

    t0 = time.monotonic()
    H.wait_until(lambda: roles().get("n4", ("",))[0] == "voter" and
                 sum(r == "voter" for r, _ in roles().values()) == 3, 30, what="n4 (region r2) voter, 3 voters")
    print(f"voters spread to r2 in {time.monotonic() - t0:.1f} s: {roles()}")
    r = roles()
    assert r["n4"] == ("voter", "r2") and r[leader][0] == "voter"
    assert sorted(role for role, _ in r.values()) == ["standby", "voter", "voter", "voter"]
    assert c.put(leader, "/api/collect/a/Deployment/b/c", json={"image_tag": "x", "image_sha": "y"}).status_code == 200
    p4.terminate()
    p4.wait(timeout=10)


def test_rejoin_at_a_removed_nodes_address_is_not_removed(cluster_factory):
    """A node removed while down, replaced at once by a fresh node (new id,
    empty data) on the same addresses: the leader's removal notice for the
    old id reaches the new process, which must not take it for itself
    (found by tests/jepsen, corrupt nemesis: the rejoined node marked itself
    removed and refused every write, for good)."""
    c = cluster_factory(n=3)
    leader = c.leader()
    victim = next(n for n in c.names if n != leader)
    node = c.nodes[victim]
    ports = [node.raft_port, node.rpc_port, node.http_port]
    vid = next(m["id"] for m in cluster_doc(c, leader)["members"] if m["name"] == victim)
    c.kill9(victim)
    r = c.request(leader, "DELETE", f"/api/v1/cluster/nodes/{vid}", timeout=20)
    assert r.status_code == 200, H.show(r)
    # at once, within the notice's one-second retry window
    proc, url, _ = start_joiner(c, "fresh", 77, c.nodes[leader].url.replace("http://", ""), ports=ports)
    import requests
    H.wait_until(lambda: any(m["id"] == 77 and m["role"] == "voter" for m in cluster_doc(c, leader)["members"]),
                 20, what="the fresh node is a voter")
    time.sleep(1.5)  # past the notice's retry window
    h = requests.get(f"{url}/health", timeout=3).json()
    assert h["raft"]["state"] != "removed", h
    r = requests.put(f"{url}/api/collect/rejoin/Deployment/w/c", headers={"Authorization": f"Bearer {H.ADMIN_KEY}"},
                     json={"image_tag": "t1", "image_sha": H.sha_for("t1")}, timeout=10)
    assert r.status_code == 200, H.show(r)
    proc.terminate()
    proc.wait(timeout=10)
