"""The Release Tracker's slaves, unmodified, with a shiplog node as master.

A slave (rogosprojects/krelease-tracker) sends two requests to its master:
- internal/sync/client.go syncSingleRelease: PUT /api/collect/{namespace}/
  {workload_type}/{workload_name}/{container} with X-API-Key and a JSON map
  (Go sorts map keys) whose released_at is a time.Time (RFC 3339, nanoseconds
  when there are any); anything but 200 leaves the release pending and it is
  sent again on the next tick.
- internal/ping/client.go SendPing: POST /api/ping with X-API-Key and the
  PingRequest struct (client_name, env_name, slave_version, timestamp).
Both go through Go's net/http Transport: its headers as it writes them, and,
with PROXY_URL set, the absolute-form request line to the proxy. The tests
replay those bytes on a raw socket, on a leader and a follower, directly
and through a forwarding proxy of the kind PROXY_URL points at."""

import json
import socket
import socketserver
import threading
from datetime import datetime, timezone

import pytest

import harness as H
from harness import PROD_CLIENT, PROD_KEY, Component

ROLES = ("leader", "follower")


def go_request(method, host_port, path, key, body, absolute=False):
    """The bytes Go's http.Transport writes for http.NewRequest(method, url,
    bytes.NewBuffer(body)) with Content-Type and X-API-Key set (Go writes
    header names canonicalised: X-Api-Key)."""
    target = f"http://{host_port}{path}" if absolute else path
    head = (f"{method} {target} HTTP/1.1\r\n"
            f"Host: {host_port}\r\n"
            "User-Agent: Go-http-client/1.1\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Content-Type: application/json\r\n"
            f"X-Api-Key: {key}\r\n"
            "Accept-Encoding: gzip\r\n"
            "\r\n")
    return head.encode() + body


def send_raw(addr, data, timeout=5.0):
    """Sends data and reads one HTTP/1.1 response: (status, headers, body)."""
    with socket.create_connection(addr, timeout=timeout) as s:
        s.sendall(data)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
        n = int(headers.get("content-length", "0"))
        while len(body) < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, headers, body[:n]


def go_time(dt):
    """time.Time's MarshalJSON: RFC 3339 with nanoseconds, trailing zeros cut."""
    s = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        s += "." + f"{dt.microsecond * 1000:09d}".rstrip("0")
    return s + "Z"


def sync_body(tag, sha, repo, name, client, env, last_seen):
    """syncSingleRelease's map[string]interface{}, as json.Marshal writes it."""
    m = {"image_tag": tag, "image_sha": sha, "image_repo": repo, "image_name": name,
         "client_name": client, "env_name": env, "released_at": go_time(last_seen)}
    return json.dumps(dict(sorted(m.items())), separators=(",", ":")).encode()


def ping_body(client, env, version, now):
    """SendPing's PingRequest, fields in struct order."""
    return json.dumps({"client_name": client, "env_name": env, "slave_version": version,
                       "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ")}, separators=(",", ":")).encode()


class ForwardProxy(socketserver.ThreadingTCPServer):
    """An HTTP forward proxy as PROXY_URL points at (squid, tinyproxy): it takes
    the absolute-form request, opens the origin named in it, and forwards
    the request in origin form with Via and X-Forwarded-For added."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), ProxyHandler)
        self.seen = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.shutdown()
        self.server_close()
        self.thread.join(5)


class ProxyHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(5)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
        assert target.startswith("http://")
        hostport, _, path = target[len("http://"):].partition("/")
        headers = [ln for ln in lines[1:] if ln]
        n = next(int(ln.split(":", 1)[1]) for ln in headers if ln.lower().startswith("content-length:"))
        while len(body) < n:
            body += self.request.recv(65536)
        self.server.seen.append((method, target, headers))
        host, port = hostport.rsplit(":", 1)
        out = [f"{method} /{path} {version}"] + headers + [
            "Via: 1.1 test-proxy", f"X-Forwarded-For: {self.client_address[0]}"]
        status, rh, rbody = send_raw((host, int(port)), ("\r\n".join(out) + "\r\n\r\n").encode() + body)
        reply = f"HTTP/1.1 {status} X\r\nContent-Length: {len(rbody)}\r\nConnection: close\r\n"
        if "content-type" in rh:
            reply += f"Content-Type: {rh['content-type']}\r\n"
        self.request.sendall(reply.encode() + b"\r\n" + rbody)


@pytest.fixture(scope="module")
def proxy():
    p = ForwardProxy()
    yield p
    p.close()


def node_of(cluster, role):
    return cluster.leader() if role == "leader" else cluster.followers()[0]


def addr(cluster, name):
    n = cluster.nodes[name]
    return "127.0.0.1", n.http_port


def hostport(cluster, name):
    return f"127.0.0.1:{cluster.nodes[name].http_port}"


def sync_path(ns, kind, workload, container):
    return f"/api/collect/{ns}/{kind}/{workload}/{container}"  # fmt.Sprintf, no escaping


@pytest.mark.parametrize("via", ["direct", "absolute-form", "proxy"])
@pytest.mark.parametrize("role", ROLES)
def test_slave_sync_client_replayed(cluster, proxy, role, via):
    n = node_of(cluster, role)
    wl = f"sync-{H.uid()}"
    comp = Component(PROD_CLIENT, "prod", "production", wl, "app")
    seen1 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    seen2 = datetime(2024, 5, 2, 12, 0, 0, 250000, tzinfo=timezone.utc)  # nanoseconds in the JSON
    sha = "sha256:" + "a" * 64
    status = []
    for last_seen in (seen1, seen2, seen2):  # a resend after a failed delete changes nothing
        body = sync_body("2.3.4", sha, "registry.local:5000/team", "app", PROD_CLIENT, "prod", last_seen)
        path = sync_path("production", "Deployment", wl, "app")
        if via == "proxy":
            data = go_request("PUT", hostport(cluster, n), path, PROD_KEY, body, absolute=True)
            st, _, rb = send_raw(proxy.server_address, data)
        else:
            data = go_request("PUT", hostport(cluster, n), path, PROD_KEY, body, absolute=via == "absolute-form")
            st, _, rb = send_raw(addr(cluster, n), data)
        assert st == 200, (st, rb)  # the slave deletes the pending row only on exactly 200
        status.append(json.loads(rb)["status"])
    assert status == ["success"] * 3
    for node in H.NODE_NAMES:
        r = cluster.history(node, comp, consistency="linearizable")
        assert r.status_code == 200, H.show(r)
        rows = r.json()["history"]["releases"]
        assert len(rows) == 1, rows
        row = rows[0]
        assert (row["image_repo"], row["image_name"], row["image_tag"], row["image_sha"]) == \
            ("registry.local:5000/team", "app", "2.3.4", sha), row
        assert H.parse_ts(row["first_seen"]) == H.parse_ts("2024-05-01T12:00:00Z")
        assert H.parse_ts(row["last_seen"]) == H.parse_ts("2024-05-02T12:00:00.250Z")
    if via == "proxy":
        method, target, headers = proxy.seen[-1]
        assert method == "PUT" and target.startswith("http://"), proxy.seen[-1]


@pytest.mark.parametrize("via", ["direct", "proxy"])
@pytest.mark.parametrize("role", ROLES)
def test_slave_ping_client_replayed(cluster, proxy, role, via):
    n = node_of(cluster, role)
    env = f"ping-{H.uid()}"
    body = ping_body(PROD_CLIENT, env, "v1.0.0", datetime.now(timezone.utc))
    data = go_request("POST", hostport(cluster, n), "/api/ping", PROD_KEY, body, absolute=via == "proxy")
    st, h, rb = send_raw(proxy.server_address if via == "proxy" else addr(cluster, n), data)
    assert st == 200, (st, rb)
    b = json.loads(rb)
    assert b["status"] == "ok"
    H.parse_ts(b["timestamp"])
    for node in H.NODE_NAMES:
        r = cluster.get(node, "/api/clients-environments", params={"consistency": "linearizable"})
        ps = r.json()["ping_statuses"][PROD_CLIENT][env]
        assert ps["status"] == "online", ps
        assert abs((H.parse_ts(ps["last_ping"]) - datetime.now(timezone.utc)).total_seconds()) < 60, ps


def test_slave_with_a_wrong_key_is_refused(cluster):
    """A slave with a wrong MASTER_API_KEY gets 401 and keeps its release pending."""
    n = cluster.leader()
    body = ping_body(PROD_CLIENT, "prod", "v1.0.0", datetime.now(timezone.utc))
    st, _, rb = send_raw(addr(cluster, n), go_request("POST", hostport(cluster, n), "/api/ping", "nope", body))
    assert st == 401, rb


def test_absolute_form_target_with_a_query(cluster):
    """RFC 9112 3.2.2: the server accepts an absolute-form target, query included."""
    n = cluster.leader()
    hp = hostport(cluster, n)
    req = (f"GET http://{hp}/api/releases/current?client_name={PROD_CLIENT}&env_name=prod HTTP/1.1\r\n"
           f"Host: {hp}\r\nX-Api-Key: {PROD_KEY}\r\n\r\n").encode()
    st, _, rb = send_raw(addr(cluster, n), req)
    assert st == 200, rb
    assert "ordered_namespaces" in json.loads(rb)
