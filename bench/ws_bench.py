#!/usr/bin/env python3
"""Events fan-out benchmark: 100 WebSocket clients on one node of a real
3-node cluster, events written in batches through another node; prints the
events per second the node streamed (to each client and in all).

  /usr/bin/python3 bench/ws_bench.py [--clients 100] [--events 20000] [--binary build-release/shiplogd]
"""
import argparse
import os
import sys
import tempfile
import threading
import time

import websocket

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness as H  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build-release", "shiplogd"))
    args = ap.parse_args()
    H.SHIPLOGD = args.binary
    c = H.Cluster(tempfile.mkdtemp(prefix="shiplog-ws-bench-"), label="ws-bench",
                  api={"write_timeout_ms": 10000, "max_body_bytes": 8 << 20})
    try:
        c.start_all()
        reader, writer = c.names[1], c.names[0]
        counts = [0] * args.clients
        done = threading.Event()
        socks = [websocket.create_connection(
            f"ws://{c.nodes[reader].http_addr}/api/v1/events?apikey={H.ADMIN_KEY}&types=release.created", timeout=60)
            for _ in range(args.clients)]

        dropped = [False] * args.clients

        def consume(i):
            ws = socks[i]
            try:
                while counts[i] < args.events:
                    if ws.recv():
                        counts[i] += 1
            except websocket.WebSocketException:
                dropped[i] = True  # cut off as a slow reader

        threads = [threading.Thread(target=consume, args=(i,), daemon=True) for i in range(args.clients)]
        for t in threads:
            t.start()
        # Written in batches, keeping every client's backlog under ~1500 events
        # (the node cuts off readers that fall further behind).
        batch = 500
        t0 = time.monotonic()
        for b in range(args.events // batch):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and min(counts) < b * batch - 1000:
                time.sleep(0.005)
            obs = [{"namespace": "bench", "workload_kind": "Deployment", "workload_name": f"w{b}-{k}",
                    "container_name": "c", "image_tag": "1.0", "image_sha": "sha256:x"} for k in range(batch)]
            r = c.post(writer, "/api/v1/observations", json={"client_name": "b", "env_name": "b", "observations": obs},
                       timeout=60)
            assert r.status_code == 200, H.show(r)
        t_written = time.monotonic() - t0
        for t in threads:
            t.join(timeout=300)
        elapsed = time.monotonic() - t0
        got = sum(counts)
        print(f"{args.clients} clients on one node, {args.events} events each ({got} delivered in all)")
        print(f"written in {t_written:.2f} s; all delivered after {elapsed:.2f} s")
        print(f"per client {args.events / elapsed:.0f} events/s; node total {got / elapsed:.0f} events/s; "
              f"{sum(dropped)} clients cut off as slow readers")
        for s in socks:
            s.close()
    finally:
        c.teardown()


if __name__ == "__main__":
    main()
