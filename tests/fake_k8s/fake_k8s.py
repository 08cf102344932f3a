#!/usr/bin/python3
"""A fake Kubernetes API server for shiplog's collector tests (tests only).

Python 3 stdlib only.  Serves, over HTTPS on 127.0.0.1, the read-only part of
the Kubernetes API that the collector uses, in the real JSON shapes:

    GET /version, /api, /apis, /healthz, /livez, /readyz
    GET /api/v1/namespaces[/{name}]
    GET /api/v1/pods, /api/v1/namespaces/{ns}/pods[/{name}]
    GET /apis/apps/v1/{deployments,statefulsets,daemonsets,replicasets}
    GET /apis/apps/v1/namespaces/{ns}/{resource}[/{name}]

List queries: labelSelector (=, ==, !=, key, !key, in, notin), fieldSelector
(metadata.name, metadata.namespace, status.phase, spec.nodeName), limit and
continue.  Items inside lists carry no kind/apiVersion (as the real server);
zero-valued `omitempty` status fields are left out (e.g. a Deployment with no
ready pods has no `readyReplicas`).

The state lives in a FakeCluster that tests mutate while the collector runs
(rollouts, rollbacks, deletions, readiness, injected failures, delays, token).
Pods, ReplicaSets and statuses are derived from the workloads on every request.

Control endpoints (no auth, not logged, never failed or delayed) let a
process that did not start the server drive it:
    POST /_fake/call      {"method": "set_image", "args": [...], "kwargs": {...}}
    GET  /_fake/requests  the request log (JSON list)
    POST /_fake/reset     clear the request log

CLI:  /usr/bin/python3 fake_k8s.py --fixture FILE --token T --pki-dir DIR --port 0
prints one JSON line {"url": ..., "ca": ..., ...} once listening, serves until
SIGTERM/SIGINT.
"""

import argparse
import json
import os
import signal
import sys
import tempfile
import threading

# The implementation lives in the fake_k8s_*.py modules next to this file;
# everything importers use is re-exported here.
from fake_k8s_cluster import FakeCluster  # noqa: F401
from fake_k8s_images import default_digest, image_id, normalize_image  # noqa: F401
from fake_k8s_kubeconfig import kubeconfig, kubeconfig_multi  # noqa: F401
from fake_k8s_model import KINDS  # noqa: F401
from fake_k8s_pki import _load_pki, make_pki  # noqa: F401
from fake_k8s_selectors import parse_label_selector  # noqa: F401
from fake_k8s_server import FakeK8sServer  # noqa: F401

__all__ = ["make_pki", "FakeCluster", "FakeK8sServer", "kubeconfig",
           "kubeconfig_multi", "default_digest", "image_id", "normalize_image",
           "KINDS"]


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description="fake Kubernetes API server (tests only)")
    ap.add_argument("--fixture", help="JSON fixture file")
    ap.add_argument("--token", help="bearer token to accept")
    ap.add_argument("--pki-dir", help="PKI directory (created with openssl if incomplete)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--http", action="store_true", help="plain HTTP (debugging)")
    ap.add_argument("--client-cert", choices=("off", "optional", "required"), default="off")
    ap.add_argument("--runtime", choices=("containerd", "docker"))
    ap.add_argument("--kubeconfig", help="also write a kubeconfig to this file")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)

    cluster = FakeCluster(token=a.token)
    if a.fixture:
        cluster.load_fixture(a.fixture)
    if a.runtime:
        cluster.set_runtime(a.runtime)
    pki = None
    if not a.http:
        pdir = a.pki_dir or tempfile.mkdtemp(prefix="fake_k8s_pki_")
        pki = _load_pki(pdir) or make_pki(pdir)
    srv = FakeK8sServer(cluster, pki=pki, tls=not a.http,
                        client_cert=None if a.client_cert == "off" else a.client_cert,
                        port=a.port, verbose=a.verbose)
    stop = threading.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: stop.set())
    srv.start()
    info = {"url": srv.url, "ca": srv.ca_path, "port": srv.port, "token": cluster.token,
            "control": srv.url + "/_fake", "pid": os.getpid()}
    if pki:
        info.update(client_cert=pki["client_cert"], client_key=pki["client_key"])
    if a.kubeconfig:
        with open(a.kubeconfig, "w") as f:
            f.write(srv.kubeconfig() if pki else kubeconfig(srv.url, None, token=cluster.token))
        info["kubeconfig"] = os.path.abspath(a.kubeconfig)
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
