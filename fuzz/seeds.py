#!/usr/bin/python3
"""Seed corpora for fuzz/ from real encodings in the tree (no network).

    seeds.py OUT_DIR

writes OUT_DIR/<target>/<name> for every fuzz target:
  proto      the golden wire bytes of tests/unit/test_protocol_golden*.c
  target     request paths the route table and the tests use
  time       RFC 3339 times as the API writes and accepts them
  kubeconfig kubeconfigs as `kubectl config` writes them (tests/fake_k8s)
  imageref   the fake cluster's images and pods' imageIDs, and the unit test's references
  k8s_lists  the fake Kubernetes API's lists of the basic fixture
  segments   raft_uv open segments: empty, one batch, a torn tail
(snapshot and entryzip seeds come from fuzz/make_seeds, the tree's C code.)"""
import base64
import json
import os
import re
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "fake_k8s"))


def write(out, target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def golden_hex(path):
    """Runs of adjacent C string literals holding only hex digits."""
    text = open(path).read()
    for m in re.finditer(r'((?:"[0-9a-f]+"\s*)+)', text):
        joined = "".join(re.findall(r'"([0-9a-f]+)"', m.group(1)))
        if len(joined) >= 16 and len(joined) % 2 == 0:
            yield bytes.fromhex(joined)


def raft_crc(data):
    crc = 0
    for b in data:
        crc ^= b << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


def segment(entries):
    """An open segment: format 1, then one batch of entries (term 1, type command)."""
    hdr = struct.pack("<Q", len(entries))
    for e in entries:
        hdr += struct.pack("<QBBHI", 1, 1, 0, 0, len(e))
    data = b"".join(e + b"\0" * (-len(e) % 8) for e in entries)
    return struct.pack("<Q", 1) + struct.pack("<II", raft_crc(hdr), raft_crc(data)) + hdr + data


def main(out):
    n = 0
    for f in ("test_protocol_golden.c", "test_protocol_golden_msgs.c"):
        for i, b in enumerate(golden_hex(os.path.join(ROOT, "tests", "unit", f))):
            write(out, "proto", f"{f[:-2]}-{i}", b)
            n += 1
    paths = ["/health", "/api/releases/current?client_name=a&env_name=b",
             "/api/releases/history/acme/prod/default/web/nginx?limit=10&before=42",
             "/badges/key/acme/prod/Deployment/web/nginx", "/api/collect/ns/Deployment/w%2Fx/c",
             "http://127.0.0.1:8001/api/v1/events?since=3&types=release.created,client.ping&apikey=k",
             "/api/v1/clusters/c1/health?index=12&wait=5s&consistency=linearizable", "/a+b?q=x+y%20z&&=&k"]
    for i, p in enumerate(paths):
        write(out, "target", f"path-{i}", p)
    for i, t in enumerate(["2026-12-07T22:37:23Z", "2026-12-07T22:37:23.123Z", "2026-12-07T22:37:23.5+02:00",
                           "1970-01-01T00:00:00Z", "2024-02-29T23:59:59.999-11:30"]):
        write(out, "time", f"t-{i}", t)
    import fake_k8s as F
    pem = "-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIBADAKBggqhkjOPQQDAjAjMSEwHwYDVQQDDBhrM3Mt\n-----END CERTIFICATE-----\n"
    key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIClientKey\n-----END EC PRIVATE KEY-----\n"
    entries = [{"name": "staging", "server_url": "https://10.0.0.1:6443", "ca_pem": pem, "token": "t0k3n",
                "namespace": "staging"},
               {"name": "production", "server_url": "https://10.0.0.2:6443", "ca_pem": pem, "client_cert_pem": pem,
                "client_key_pem": key},
               {"name": "dev", "server_url": "https://127.0.0.1:6443", "insecure": True}]
    write(out, "kubeconfig", "multi", F.kubeconfig_multi(entries, current="production"))
    write(out, "kubeconfig", "one", F.kubeconfig_multi(entries[:1]))
    cluster = F.FakeCluster(token="t")
    cluster.load_fixture(os.path.join(ROOT, "tests", "fake_k8s", "fixtures", "basic.json"))
    lists = {r: cluster.objects(r) for r in ("pods", "replicasets", "deployments", "statefulsets", "daemonsets")}
    write(out, "k8s_lists", "basic", json.dumps(lists))
    images = set()
    for pod in lists["pods"]:
        for st in pod.get("status", {}).get("containerStatuses", []) + pod.get("status", {}).get("initContainerStatuses", []):
            images.update([st.get("image", ""), st.get("imageID", "")])
    for src in open(os.path.join(ROOT, "tests", "unit", "test_imageref.c")).read().split('"')[1::2]:
        if re.fullmatch(r"[A-Za-z0-9._:/@+-]{3,}", src):
            images.add(src)
    for i, im in enumerate(sorted(x for x in images if x)):
        write(out, "imageref", f"ref-{i}", im)
    cmd = next(golden_hex(os.path.join(ROOT, "tests", "unit", "test_protocol_golden.c")))
    write(out, "segments", "empty", b"")
    write(out, "segments", "one-batch", segment([cmd]))
    write(out, "segments", "torn-tail", segment([cmd, cmd]) + b"\0" * 64)
    write(out, "segments", "cut", segment([cmd])[:-5])
    print(f"seeds in {out}: {n} protocol encodings, {len(images)} image references, and the rest")


if __name__ == "__main__":
    main(sys.argv[1])
