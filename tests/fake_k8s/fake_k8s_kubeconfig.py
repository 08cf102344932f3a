"""fake_k8s: kubeconfig YAML for one or several fake clusters, as `kubectl config` writes it."""

import base64
import json
import re


_PLAIN_SCALAR = re.compile(r"^[A-Za-z_/][A-Za-z0-9._/:+=-]*$")
_YAML_SPECIAL = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _yq(s):
    """A YAML scalar: plain when unambiguous, else a JSON (= YAML) double-quoted string."""
    s = str(s)
    if _PLAIN_SCALAR.match(s) and s.lower() not in _YAML_SPECIAL and ": " not in s:
        return s
    return json.dumps(s)


def _b64(pem):
    if isinstance(pem, str):
        pem = pem.encode()
    return base64.b64encode(pem).decode()


def kubeconfig_multi(entries, current=None):
    """A kubeconfig with several clusters/users/contexts.  Each entry is a dict
    with the keyword arguments of kubeconfig() (server_url, ca_pem, token,
    client_cert_pem, client_key_pem, name, namespace, ca_file,
    client_cert_file, client_key_file, insecure).  Keys are written in the
    order kubectl writes them (sorted)."""
    if not entries:
        raise ValueError("no entries")
    names = [e.get("name", "fake") for e in entries]
    if current is None:
        current = names[0]
    L = ["apiVersion: v1", "clusters:"]
    for e in entries:
        L.append("- cluster:")
        if e.get("ca_pem"):
            L.append("    certificate-authority-data: " + _b64(e["ca_pem"]))
        elif e.get("ca_file"):
            L.append("    certificate-authority: " + _yq(e["ca_file"]))
        if e.get("insecure"):
            L.append("    insecure-skip-tls-verify: true")
        L.append("    server: " + _yq(e["server_url"]))
        L.append("  name: " + _yq(e.get("name", "fake")))
    L.append("contexts:")
    for e in entries:
        n = e.get("name", "fake")
        L.append("- context:")
        L.append("    cluster: " + _yq(n))
        if e.get("namespace"):
            L.append("    namespace: " + _yq(e["namespace"]))
        L.append("    user: " + _yq(n))
        L.append("  name: " + _yq(n))
    L.append("current-context: " + _yq(current))
    L.append("kind: Config")
    L.append("preferences: {}")
    L.append("users:")
    for e in entries:
        L.append("- name: " + _yq(e.get("name", "fake")))
        u = []
        if e.get("client_cert_pem"):
            u.append("    client-certificate-data: " + _b64(e["client_cert_pem"]))
        elif e.get("client_cert_file"):
            u.append("    client-certificate: " + _yq(e["client_cert_file"]))
        if e.get("client_key_pem"):
            u.append("    client-key-data: " + _b64(e["client_key_pem"]))
        elif e.get("client_key_file"):
            u.append("    client-key: " + _yq(e["client_key_file"]))
        if e.get("token"):
            u.append("    token: " + _yq(e["token"]))
        if u:
            L.append("  user:")
            L.extend(u)
        else:
            L.append("  user: {}")
    return "\n".join(L) + "\n"


def kubeconfig(server_url, ca_pem, token=None, client_cert_pem=None,
               client_key_pem=None, name="fake", namespace=None, ca_file=None,
               client_cert_file=None, client_key_file=None, insecure=False):
    """A kubeconfig YAML string for one cluster, as `kubectl config` writes it
    (certificate-authority-data etc. base64 of the PEM)."""
    return kubeconfig_multi([dict(
        server_url=server_url, ca_pem=ca_pem, token=token,
        client_cert_pem=client_cert_pem, client_key_pem=client_key_pem,
        name=name, namespace=namespace, ca_file=ca_file,
        client_cert_file=client_cert_file, client_key_file=client_key_file,
        insecure=insecure)])
