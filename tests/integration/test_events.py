"""GET /api/v1/events (WebSocket): a write on one node reaches a client on
another with the write's index; since= replays exactly what was missed, also
on another node after the leader died; types= and client keys filter; a
reader that does not read is cut off without slowing the node."""
import json
import socket
import time

import websocket

import harness as H


def connect(c, node, key=H.ADMIN_KEY, **params):
    q = "&".join(f"{k}={v}" for k, v in params.items())
    url = f"ws://{c.nodes[node].http_addr}/api/v1/events?apikey={key}" + (f"&{q}" if q else "")
    ws = websocket.create_connection(url, timeout=5)
    return ws


def recv_until(ws, pred, timeout=10):
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ws.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            msg = ws.recv()
        except websocket.WebSocketTimeoutException:
            break
        if not msg:
            continue
        ev = json.loads(msg)
        got.append(ev)
        if pred(ev, got):
            break
    return got


def put(c, node, tag, client="unknown", env="unknown"):
    r = c.put(node, "/api/collect/ev/Deployment/app/main",
              json={"image_tag": tag, "image_sha": tag, "client_name": client, "env_name": env})
    assert r.status_code == 200, H.show(r)
    return H.idx(r)


def test_write_reaches_another_node_with_its_index(cluster):
    n1, n3 = cluster.names[0], cluster.names[2]
    ws = connect(cluster, n3)
    index = put(cluster, n1, "ev-" + H.uid())
    got = recv_until(ws, lambda e, g: e["type"] == "release.created" and e["index"] == index)
    ws.close()
    ev = [e for e in got if e["type"] == "release.created"][-1]
    assert ev["index"] == index and ev["data"]["workload_name"] == "app" and ev["timestamp"].endswith("Z")


def test_since_replays_exactly_once_across_nodes_and_a_leader_death(cluster_factory):
    c = cluster_factory()
    names = c.names
    first = put(c, names[0], "a0")
    ws = connect(c, names[1], since=0)
    got = recv_until(ws, lambda e, g: e["index"] >= first)
    last = got[-1]["index"]
    ws.close()
    missed = [put(c, names[i % 3], f"a{i}") for i in range(1, 6)]
    leader = c.leader()
    c.kill9(leader)
    survivor = next(n for n in names if n != leader)
    c.wait_leader()
    missed += [put(c, survivor, f"b{i}") for i in range(3)]
    ws = connect(c, survivor, since=last, types="release.created")
    got = recv_until(ws, lambda e, g: e["index"] >= missed[-1])
    ws.close()
    indexes = [e["index"] for e in got]
    assert indexes == sorted(set(indexes)), "a duplicate or out of order"
    assert set(missed) <= set(indexes), f"missed {sorted(set(missed) - set(indexes))}"
    assert all(e["type"] == "release.created" for e in got)
    c.restart(leader)


def test_client_key_sees_its_client_only(cluster):
    n = cluster.names[0]
    ws = connect(cluster, n, key=H.PROD_KEY)
    put(cluster, n, "other-" + H.uid(), client=H.DEV_CLIENT, env="x")
    mine = put(cluster, n, "mine-" + H.uid(), client=H.PROD_CLIENT, env="x")
    got = recv_until(ws, lambda e, g: e["index"] >= mine)
    ws.close()
    assert got and all(e["data"].get("client_name") == H.PROD_CLIENT for e in got)


def test_slow_reader_is_cut_off_and_the_node_keeps_serving(cluster):
    n = cluster.names[1]
    # A raw WebSocket client that never reads: the node must drop it.
    s = socket.create_connection((cluster.nodes[n].http_addr.split(":")[0], int(cluster.nodes[n].http_addr.split(":")[1])))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall((f"GET /api/v1/events?since=0&apikey={H.ADMIN_KEY} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
              .encode())
    t0 = time.monotonic()
    worst = 0.0
    for i in range(8):  # batches of 2500 observations: ~2 MB of events each; more in all than socket buffers hold
        obs = [{"namespace": "slow", "workload_kind": "Deployment", "workload_name": f"w{i}-{k}",
                "container_name": "c", "image_tag": "t" * 200, "image_sha": f"s{i}-{k}"} for k in range(2500)]
        a = time.monotonic()
        r = cluster.post(cluster.names[0], "/api/v1/observations",
                         json={"client_name": "slow", "env_name": "slow", "observations": obs}, timeout=30)
        assert r.status_code == 200, H.show(r)
        assert cluster.get(n, "/health", key=None).status_code == 200
        worst = max(worst, time.monotonic() - a)
    def clients():
        return H.parse_metrics(cluster.get(n, "/metrics", key=None).text)["shiplog_websocket_clients"]
    H.wait_until(lambda: clients() == 0, 20, what="the stalled reader dropped")
    # Its socket ends (EOF after what the kernel had buffered).
    s.settimeout(5)
    deadline = time.monotonic() + 10
    try:
        while time.monotonic() < deadline and s.recv(1 << 20):
            pass
    except ConnectionResetError:
        pass  # reset: dropped at once
    s.close()
    assert time.monotonic() < deadline, "the stalled reader's socket was never closed"
