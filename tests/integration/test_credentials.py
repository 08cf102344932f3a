"""Real credentials, as users hold them: an RSA-4096 CA with a 2 KB bound
service-account token (a JWT), and a kubeconfig of several contexts with
embedded RSA client certificates. Both register and collect from the fake
Kubernetes API on real nodes; fields over their limits get a 400 that names
the field and the limit; no secret reaches the data directories or logs."""
import base64
import json
import os
import subprocess
import sys

import pytest

import harness as H

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fake_k8s"))
import fake_k8s as F  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fake_k8s", "fixtures", "basic.json")
ENV = "k8s-creds"
WEB = ("production", "Deployment", "web", "nginx")


def bound_token(size=2048):
    """A service-account token the shape the kubelet projects: a signed JWT
    with the bound pod, its audience and expiry, padded to about size bytes."""
    def b64(d):
        return base64.urlsafe_b64encode(json.dumps(d, separators=(",", ":")).encode()).rstrip(b"=").decode()
    head = b64({"alg": "RS256", "kid": H.uid()})
    claims = {"aud": ["https://kubernetes.default.svc.cluster.local"], "exp": 2000000000, "iat": 1700000000,
              "iss": "https://kubernetes.default.svc.cluster.local",
              "kubernetes.io": {"namespace": "shiplog", "pod": {"name": "shiplog-0", "uid": H.uid()},
                                "serviceaccount": {"name": "shiplog-collector", "uid": H.uid()}},
              "sub": "system:serviceaccount:shiplog:shiplog-collector", "pad": ""}
    body = b64(claims)
    sig = base64.urlsafe_b64encode(os.urandom(512)).rstrip(b"=").decode()  # an RSA-4096 signature
    claims["pad"] = "x" * max(0, (size - len(head) - len(body) - len(sig) - 2) * 3 // 4)  # base64 grows 4/3
    return ".".join([head, b64(claims), sig])


@pytest.fixture(scope="module")
def rsa_pki(tmp_path_factory):
    return F.make_pki(tmp_path_factory.mktemp("rsa4096"), key_type="rsa", bits=4096)


def serve(pki, token=None, client_cert=None):
    cluster = F.FakeCluster(token=token)
    cluster.load_fixture(FIXTURE)
    return F.FakeK8sServer(cluster, pki=pki, client_cert=client_cert).start()


def current(c, node, client):
    r = c.get(node, "/api/releases/current", params={"client_name": client, "env_name": ENV})
    assert r.status_code == 200, H.show(r)
    return {(row["namespace"], row["workload_type"], row["workload_name"], row["container_name"]): row
            for rows in r.json()["namespaces"].values() for row in rows}


def wait_collected(c, client):
    for n in c.names:
        H.wait_until(lambda: WEB in current(c, n, client), 40, what=f"collection from {client} visible on {n}")


def assert_no_secret_at_rest(c, secrets, present):
    """Neither LMDB, the Raft log, snapshots nor the logs hold a secret, while
    the scan does find what is stored in clear (present, such as a name)."""
    roots = [p for n in c.names for p in (c.nodes[n].data_dir, c.nodes[n].log_path)]
    assert H.files_holding(roots, [present.encode()]), "the scan finds what is there"
    assert H.files_holding(roots, [s.encode() for s in secrets]) == []


def test_rsa4096_ca_and_2kb_bound_token(cluster_factory, rsa_pki):
    token = bound_token(2048)
    assert 2000 <= len(token) <= 2100
    text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", rsa_pki["ca_cert"]], check=True,
                          stdout=subprocess.PIPE, timeout=30).stdout.decode()
    assert "Public-Key: (4096 bit)" in text and "rsaEncryption" in text
    srv = serve(rsa_pki, token=token)
    try:
        c = cluster_factory()
        n = c.names[1]
        name = "rsa4096-" + H.uid()
        r = c.post(n, "/api/v1/clusters", json={"name": name, "server": srv.url,
                                                "client_name": H.PROD_CLIENT, "env_name": ENV, "token": token,
                                                "ca_cert": rsa_pki["ca_pem"]})
        assert r.status_code == 201, H.show(r)
        assert token not in r.text and "BEGIN CERTIFICATE" not in r.text
        assert r.json()["credentials"] == {"token": True, "ca_cert": True, "client_cert": False, "client_key": False}
        wait_collected(c, H.PROD_CLIENT)
        assert current(c, c.names[0], H.PROD_CLIENT)[WEB]["image_tag"] == "1.21.0"
        seen = {e["authorization"] for e in list(srv.cluster.request_log) if e["path"].startswith("/api")}
        assert seen == {"Bearer " + token}, "every list call carried the whole token"
        assert_no_secret_at_rest(c, [token, rsa_pki["ca_pem"].splitlines()[5]], name)
    finally:
        srv.close()


def test_kubeconfig_of_several_contexts_with_rsa_client_certificates(cluster_factory, rsa_pki, tmp_path):
    srv = serve(rsa_pki, client_cert="required")  # no token: only the client certificate admits
    other = F.make_pki(tmp_path / "other", key_type="rsa", bits=2048)
    try:
        entries = [
            {"name": "staging", "server_url": "https://127.0.0.1:1", "ca_pem": other["ca_pem"],
             "client_cert_pem": other["client_cert_pem"], "client_key_pem": other["client_key_pem"]},
            {"name": "production", "server_url": srv.url, "ca_pem": rsa_pki["ca_pem"], "namespace": "production",
             "client_cert_pem": rsa_pki["client_cert_pem"], "client_key_pem": rsa_pki["client_key_pem"]},
            {"name": "dev", "server_url": "https://127.0.0.1:2", "token": "dev-token"},
        ]
        kc = base64.b64encode(F.kubeconfig_multi(entries, current="staging").encode()).decode()
        assert len(kc) > 12000
        c = cluster_factory()
        n = c.names[0]
        base = {"client_name": H.DEV_CLIENT, "env_name": ENV, "kubeconfig": kc}
        r = c.post(n, "/api/v1/clusters", json=dict(base, name="kc-" + H.uid(), context="qa"))
        H.assert_error(r, 400, "VALIDATION_ERROR")
        assert "staging, production, dev" in r.json()["error"]["message"], r.text
        name = "kc-" + H.uid()
        r = c.post(n, "/api/v1/clusters", json=dict(base, name=name, context="production"))
        assert r.status_code == 201, H.show(r)
        doc = r.json()
        assert doc["server"] == srv.url
        assert doc["credentials"] == {"token": False, "ca_cert": True, "client_cert": True, "client_key": True}
        wait_collected(c, H.DEV_CLIENT)
        users = {e.get("user") for e in list(srv.cluster.request_log) if e["path"].startswith("/api")}
        assert users == {"cert:shiplog-collector"}, users
        key_line = rsa_pki["client_key_pem"].splitlines()[3]
        assert_no_secret_at_rest(c, [key_line, kc[1000:1100]], name)
    finally:
        srv.close()


def test_fields_over_their_limits_are_named(cluster):
    n = cluster.names[0]
    base = {"name": "big-" + H.uid(), "server": "https://127.0.0.1:6443", "client_name": H.PROD_CLIENT,
            "env_name": ENV}
    for field, size, limit in (("token", 8193, 8192), ("ca_cert", 16385, 16384), ("kubeconfig", 65537, 65536)):
        r = cluster.post(n, "/api/v1/clusters", json=dict(base, **{field: "A" * size}))
        H.assert_error(r, 400, "VALIDATION_ERROR")
        err = r.json()["error"]
        assert field in err["message"] and str(limit) in err["message"], err
        assert err["details"] == [{"field": field, "limit": limit, "length": size, "message": "too long"}], err
    # Each within its limit, all together over what one sealed record holds.
    pem = "-----BEGIN CERTIFICATE-----\n" + "A" * 16000 + "\n-----END CERTIFICATE-----\n"
    r = cluster.post(n, "/api/v1/clusters", json=dict(base, token="t" * 8000, ca_cert=pem, client_cert=pem,
                                                      client_key=pem.replace("CERTIFICATE", "PRIVATE KEY")))
    H.assert_error(r, 400, "VALIDATION_ERROR")
    assert r.json()["error"]["details"][0]["field"] == "credentials (sealed)"
    assert r.json()["error"]["details"][0]["limit"] == 32768
    assert cluster.get(n, "/api/v1/clusters").json()["clusters"] == []  # nothing was written
    assert cluster.health(n)[0] == 200
