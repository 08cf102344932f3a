"""fake_k8s: FakeK8sServer, the threaded HTTPS/HTTP server on 127.0.0.1, and its lifecycle."""

import http.server
import socket
import ssl
import sys
import tempfile
import threading

from fake_k8s_cluster import FakeCluster
from fake_k8s_handler import _Handler
from fake_k8s_kubeconfig import kubeconfig
from fake_k8s_pki import _load_pki, make_pki


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, fake):
        self.fake = fake
        self._conns = set()
        self._conns_lock = threading.Lock()
        super().__init__(addr, _Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.fake._ssl_ctx is not None:
            sock = self.fake._ssl_ctx.wrap_socket(sock, server_side=True,
                                                  do_handshake_on_connect=False)
        return sock, addr

    def _conns_add(self, s):
        with self._conns_lock:
            self._conns.add(s)

    def _conns_discard(self, s):
        with self._conns_lock:
            self._conns.discard(s)

    def close_all(self):
        with self._conns_lock:
            conns = list(self._conns)
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        e = sys.exc_info()[1]
        self.fake.errors.append(repr(e))
        if self.fake.verbose:
            super().handle_error(request, client_address)


class FakeK8sServer:
    """HTTPS (or plain HTTP) server for a FakeCluster on 127.0.0.1.

    client_cert: None (no client certs asked), "optional" (a client cert
    signed by the test CA authenticates the request, a bearer token works
    too) or "required" (TLS handshake fails without one)."""

    def __init__(self, cluster=None, pki=None, token=None, tls=True, client_cert=None,
                 host="127.0.0.1", port=0, verbose=False, pki_dir=None):
        if not host.startswith("127."):
            raise ValueError("fake_k8s listens on loopback only")
        self.cluster = cluster if cluster is not None else FakeCluster()
        if token is not None:
            self.cluster.set_token(token)
        self.tls = tls
        if client_cert not in (None, "optional", "required"):
            raise ValueError("client_cert must be None, 'optional' or 'required'")
        self.client_cert = client_cert if tls else None
        self.host = host
        self._port = port
        self.verbose = verbose
        self.errors = []
        self._tmp = None
        if tls and pki is None:
            if pki_dir is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="fake_k8s_pki_")
                pki_dir = self._tmp.name
            pki = _load_pki(pki_dir) or make_pki(pki_dir)
        self.pki = pki
        self._ssl_ctx = None
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(pki["server_cert"], pki["server_key"])
            if self.client_cert:
                ctx.load_verify_locations(pki["ca_cert"])
                ctx.verify_mode = (ssl.CERT_REQUIRED if self.client_cert == "required"
                                   else ssl.CERT_OPTIONAL)
            self._ssl_ctx = ctx
        self._srv = None
        self._thread = None
        self._stopping = threading.Event()

    # ---- lifecycle --------------------------------------------------------------

    def start(self):
        """Listen (same port again after a stop()) and serve in a daemon thread."""
        if self._srv is not None:
            return self
        self._stopping.clear()
        self._srv = _Server((self.host, self._port), self)
        self._port = self._srv.server_address[1]
        self._thread = threading.Thread(target=self._srv.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="fake_k8s:%d" % self._port, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop listening and cut open connections; pending delays end at once."""
        srv = self._srv
        if srv is None:
            return
        self._stopping.set()
        srv.shutdown()
        srv.server_close()
        srv.close_all()
        self._thread.join(5)
        self._srv = None

    def close(self):
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # ---- info ---------------------------------------------------------------------

    @property
    def port(self):
        return self._port

    @property
    def url(self):
        return "%s://%s:%d" % ("https" if self.tls else "http", self.host, self._port)

    @property
    def ca_path(self):
        return self.pki["ca_cert"] if self.pki else None

    @property
    def ca_pem(self):
        return self.pki["ca_pem"] if self.pki else None

    def kubeconfig(self, token=None, use_client_cert=False, name="fake", **kw):
        """kubeconfig() for this server (token defaults to the cluster's)."""
        if token is None and not use_client_cert:
            token = self.cluster.token
        return kubeconfig(self.url, self.ca_pem, token=token,
                          client_cert_pem=self.pki["client_cert_pem"] if use_client_cert else None,
                          client_key_pem=self.pki["client_key_pem"] if use_client_cert else None,
                          name=name, **kw)
