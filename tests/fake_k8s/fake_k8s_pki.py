"""fake_k8s: the test PKI (CA, server and client certificates) made with the openssl CLI."""

import os
import subprocess


_OPENSSL_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,{ku}
extendedKeyUsage = serverAuth
subjectAltName = {san}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
[v3_client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,{ku}
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
"""


def _openssl(*args, cwd=None):
    r = subprocess.run(["openssl", *args], cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args),
                                                      r.stderr.decode(errors="replace")))


def _genkey(path, key_type, bits=2048):
    if key_type == "rsa":
        _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:%d" % bits,
                 "-out", path)
    else:
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-out", path)
    os.chmod(path, 0o600)


_PKI_FILES = {"ca_cert": "ca.crt", "ca_key": "ca.key", "server_cert": "server.crt",
              "server_key": "server.key", "client_cert": "client.crt", "client_key": "client.key"}


def make_pki(dir, key_type="ec", days=365,
             server_san="IP:127.0.0.1,DNS:localhost",
             ca_cn="fake-k8s-ca", client_cn="shiplog-collector",
             client_org="system:masters", bits=2048, ca_bits=None):
    """Create a CA, a server cert (SAN server_san) and a client cert, all with
    the openssl CLI, in `dir` (created if needed).  Returns a dict of paths
    (ca_cert, ca_key, server_cert, server_key, client_cert, client_key, dir)
    and PEM strings (ca_pem, server_cert_pem, server_key_pem, client_cert_pem,
    client_key_pem).  key_type: "ec" (P-256, fast) or "rsa" (`bits` for the
    server and client keys, `ca_bits` (default `bits`) for the CA's: kubeadm
    makes RSA 2048, many managed clusters RSA 4096)."""
    dir = os.path.abspath(str(dir))
    os.makedirs(dir, exist_ok=True)
    ku = "digitalSignature,keyEncipherment" if key_type == "rsa" else "digitalSignature"
    cnf = os.path.join(dir, "openssl.cnf")
    with open(cnf, "w") as f:
        f.write(_OPENSSL_CNF.format(ku=ku, san=server_san))
    p = {k: os.path.join(dir, v) for k, v in _PKI_FILES.items()}
    days = str(int(days))
    _genkey(p["ca_key"], key_type, ca_bits or bits)
    _openssl("req", "-config", cnf, "-new", "-x509", "-sha256", "-days", days,
             "-key", p["ca_key"], "-subj", "/CN=" + ca_cn,
             "-extensions", "v3_ca", "-out", p["ca_cert"])
    for who, subj, ext in (("server", "/CN=kube-apiserver", "v3_server"),
                           ("client", "/O=%s/CN=%s" % (client_org, client_cn), "v3_client")):
        key, crt = p[who + "_key"], p[who + "_cert"]
        csr = os.path.join(dir, who + ".csr")
        _genkey(key, key_type, bits)
        _openssl("req", "-config", cnf, "-new", "-sha256", "-key", key,
                 "-subj", subj, "-out", csr)
        _openssl("x509", "-req", "-sha256", "-days", days, "-in", csr,
                 "-CA", p["ca_cert"], "-CAkey", p["ca_key"],
                 "-set_serial", "0x" + os.urandom(8).hex(),
                 "-extfile", cnf, "-extensions", ext, "-out", crt)
        os.unlink(csr)
    return _load_pki(dir)


def _load_pki(dir):
    """make_pki() result for an existing directory, or None if incomplete."""
    dir = os.path.abspath(str(dir))
    p = {k: os.path.join(dir, v) for k, v in _PKI_FILES.items()}
    if not all(os.path.isfile(v) for v in p.values()):
        return None
    out = dict(p)
    out["dir"] = dir
    for k in ("ca_cert", "server_cert", "server_key", "client_cert", "client_key"):
        with open(p[k]) as f:
            out[("ca" if k == "ca_cert" else k) + "_pem"] = f.read()
    return out
