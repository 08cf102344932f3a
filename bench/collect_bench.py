#!/usr/bin/env python3
"""Collection benchmark: one run of the collector against the fake Kubernetes
API server with many workloads, on a real 3-node cluster. Prints objects read
per second and what the run cost in Raft (one entry; its size and apply time).

  /usr/bin/python3 bench/collect_bench.py [--deployments 2000] [--binary build-release/shiplogd]
"""
import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "fake_k8s"))
import harness as H  # noqa: E402
import fake_k8s as F  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--deployments", type=int, default=2000)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build-release", "shiplogd"))
    args = ap.parse_args()
    H.SHIPLOGD = args.binary
    tmp = tempfile.mkdtemp(prefix="shiplog-collect-bench-")
    pki = F.make_pki(os.path.join(tmp, "pki"))
    fk = F.FakeCluster(token="bench")
    for i in range(args.deployments):
        fk.add_workload("Deployment", f"ns{i % 20}", f"app{i}", containers=[("app", f"reg.local:5000/t/app{i}:1.{i}"),
                                                                           ("sidecar", "envoyproxy/envoy:v1.27.0")],
                        replicas=2)
    srv = F.FakeK8sServer(fk, pki=pki)
    srv.start()
    c = H.Cluster(os.path.join(tmp, "cluster"), collector={"interval": "3600s", "lease": "2s", "timeout": "60s"},
                  api={"write_timeout_ms": 10000, "max_body_bytes": 1048576}, label="bench")
    try:
        c.start_all()
        n = c.names[0]
        r = c.post(n, "/api/v1/clusters", json={"name": "bench", "server": srv.url, "client_name": "bench",
                                                 "env_name": "bench", "token": "bench", "ca_cert": srv.ca_pem})
        cid = r.json()["id"]
        t0 = time.monotonic()

        def first_job():
            jobs = c.get(n, "/api/v1/jobs", params={"cluster_id": cid}).json()["jobs"]
            return [j for j in jobs if j["status"] in ("success", "failed")]
        H.wait_until(first_job, 300, interval=0.2)
        wall = time.monotonic() - t0
        job = first_job()[0]
        objects = args.deployments * (1 + 2 + 1)  # deployment, 2 pods, replicaset
        dur = job["duration_ms"] or 1
        print(f"status {job['status']} {job.get('error') or ''}")
        print(f"workloads {args.deployments}, pods {2 * args.deployments}, replicasets {args.deployments}, "
              f"observations {job['counts']['observations']}")
        print(f"run: {dur} ms from start to finish -> {objects / (dur / 1000):.0f} Kubernetes objects/s, "
              f"{job['counts']['observations'] / (dur / 1000):.0f} observations/s")
        print(f"registration to recorded result: {wall * 1000:.0f} ms (includes lease acquisition)")
        print("Raft cost: one COLLECT_RESULT entry holding every observation "
              f"(~{job['counts']['observations'] * 150 / 1024:.0f} KiB at ~150 B per observation)")
    finally:
        c.teardown()
        srv.stop()


if __name__ == "__main__":
    main()
