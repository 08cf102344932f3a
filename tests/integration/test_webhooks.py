"""Webhooks: signed deliveries of every event in order, retries with backoff
recorded as deliveries, and no loss when the delivering node is killed."""
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import harness as H

SECRET = "whsec-test"


class Receiver:
    def __init__(self, fail_first=0):
        self.got = []  # (webhook id header, body dict)
        self.bad_signatures = 0
        self.fail_left = fail_first
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sig = self.headers.get("X-Webhook-Signature", "")
                want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                with outer.lock:
                    if not hmac.compare_digest(sig, want):
                        outer.bad_signatures += 1
                    if outer.fail_left > 0:
                        outer.fail_left -= 1
                        self.send_response(500)
                        self.end_headers()
                        return
                    outer.got.append((self.headers.get("X-Webhook-Id"), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def tags(self):
        with self.lock:
            return [b["data"]["image_tag"] for _, b in self.got if b["event"] == "release.created"]

    def close(self):
        self.server.shutdown()


def register(c, node, url, events=("release.created",)):
    r = c.post(node, "/api/v1/webhooks", json={"url": url, "events": list(events), "secret": SECRET})
    assert r.status_code == 201, H.show(r)
    assert SECRET not in r.text
    return r.json()["id"]


def put(c, node, tag):
    r = c.put(node, "/api/collect/hook/Deployment/app/main", json={"image_tag": tag, "image_sha": tag})
    assert r.status_code == 200, H.show(r)


def test_signed_in_order_and_retried(cluster_factory):
    c = cluster_factory()
    names = c.names
    rx = Receiver(fail_first=3)
    try:
        wid = register(c, names[0], rx.url)
        tags = [f"h{i}" for i in range(10)]
        for i, t in enumerate(tags):
            put(c, names[i % 3], t)
        H.wait_until(lambda: rx.tags() == tags, 30, what="every event delivered in order")
        assert rx.bad_signatures == 0
        ids = [i for i, _ in rx.got]
        assert all(i.startswith(wid + ":") for i in ids) and len(set(ids)) == len(ids)
        body = rx.got[0][1]
        assert body["event"] == body["type"] == "release.created" and body["timestamp"].endswith("Z")
        def deliveries():  # recorded after the receiver answered: wait for the last one
            return c.get(names[1], f"/api/v1/webhooks/{wid}/deliveries").json()["deliveries"]
        H.wait_until(lambda: sum(x["status"] == "delivered" for x in deliveries()) >= 10, 10,
                     what="deliveries recorded")
        d = deliveries()
        failed = [x for x in d if x["status"] == "failed"]
        assert len(failed) >= 3 and all(x["http_status"] == 500 for x in failed)
        times = sorted(x["at"] for x in failed)
        print("failed attempts at", times)
        H.wait_until(lambda: any(w["id"] == wid and w["delivery"]["delivered"] >= 10
                                 for w in c.get(names[2], "/api/v1/webhooks").json()["webhooks"]), 10,
                     what="delivery progress visible on another node")
        H.assert_error(c.post(names[0], "/api/v1/webhooks", json={"url": "ftp://x", "secret": "s"}), 400,
                       "VALIDATION_ERROR")
        assert c.request(names[0], "DELETE", f"/api/v1/webhooks/{wid}").status_code == 200
        H.assert_error(c.get(names[0], f"/api/v1/webhooks/{wid}/deliveries"), 404, "NOT_FOUND")
    finally:
        rx.close()


def test_no_loss_when_the_delivering_node_dies(cluster_factory):
    c = cluster_factory()
    names = c.names
    rx = Receiver()
    try:
        wid = register(c, names[0], rx.url)
        tags = [f"k{i}" for i in range(40)]
        holder = None
        for i, t in enumerate(tags):
            put(c, names[i % len(names)], t)
            if i == 15:
                # The holder is the node that delivered the last attempt: kill it mid-stream.
                H.wait_until(lambda: c.get(names[0], f"/api/v1/webhooks/{wid}/deliveries").json()["deliveries"], 20,
                             what="a first delivery")
                d = c.get(names[0], f"/api/v1/webhooks/{wid}/deliveries").json()["deliveries"]
                members = c.get(names[0], "/api/v1/cluster").json()["members"]
                holder = next(m["name"] for m in members if m["id"] == d[0]["node"])
                c.kill9(holder)
                names = [n for n in names if n != holder]
                c.wait_leader()
        H.wait_until(lambda: set(tags) <= set(rx.tags()), 40, what="every event delivered despite the kill")
        seen = rx.tags()
        firsts = [seen.index(t) for t in tags]
        assert firsts == sorted(firsts), "out of order"
        dups = len(seen) - len(set(seen))
        print(f"killed {holder}; {len(seen)} deliveries for {len(tags)} events ({dups} duplicates)")
        assert holder is not None
    finally:
        rx.close()


def test_cursor_moves_past_events_not_wanted_and_webhooks_per_client_are_capped(cluster_factory):
    c = cluster_factory(start=False)
    c.extra_tables = {"webhooks": {"max_per_client": 2, "threads": 2}}
    c.write_config()
    c.start_all()
    n = c.names[0]
    rx = Receiver()
    try:
        wid = register(c, n, rx.url, events=("client.ping",))  # wants none of the releases below
        for i in range(300):
            put(c, n, f"skip-{i}")
        top = c.applied_index(n)
        # The cursor passes the unwanted events without an attempt recorded.
        def hook():
            return next(w for w in c.get(n, "/api/v1/webhooks").json()["webhooks"] if w["id"] == wid)
        H.wait_until(lambda: hook()["delivery"]["cursor_index"] >= top - 5, 30,
                     what="the cursor moved past 300 events the webhook does not want")
        doc = hook()
        assert doc["delivery"]["attempts"] == 0 and doc["delivery"]["delivered"] == 0, doc
        assert c.get(n, f"/api/v1/webhooks/{wid}/deliveries").json()["deliveries"] == []
        # A wanted event after them is delivered.
        r = c.post(n, "/api/ping", json={"client_name": "hook-client", "env_name": "prod", "slave_version": "1"})
        assert r.status_code in (200, 201), H.show(r)
        H.wait_until(lambda: any(b["event"] == "client.ping" for _, b in rx.got), 20, what="the ping delivered")
        assert rx.tags() == [] and rx.bad_signatures == 0
        # [webhooks] max_per_client: the admin scope has room for one more, then 409.
        register(c, n, rx.url)
        r = c.post(n, "/api/v1/webhooks", json={"url": rx.url, "events": [], "secret": SECRET})
        H.assert_error(r, 409, "CONFLICT")
        assert "max_per_client" in r.json()["error"]["message"]
        # A client key has its own two.
        for _ in range(2):
            r = c.post(n, "/api/v1/webhooks", key=H.PROD_KEY, json={"url": rx.url, "events": [], "secret": SECRET})
            assert r.status_code == 201, H.show(r)
        r = c.post(n, "/api/v1/webhooks", key=H.PROD_KEY, json={"url": rx.url, "events": [], "secret": SECRET})
        H.assert_error(r, 409, "CONFLICT")
    finally:
        rx.close()
