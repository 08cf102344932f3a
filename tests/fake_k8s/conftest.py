"""Fixtures for the fake Kubernetes API server tests (and for collector tests
that want to reuse them: `pki`, `fake_k8s`, `fake_k8s_factory`)."""

import os
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fake_k8s as F  # noqa: E402

TEST_TIMEOUT_S = 30
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


class TestTimeout(Exception):
    pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Every test is bounded in time (pytest-timeout is not available)."""
    def on_alarm(signum, frame):
        raise TestTimeout("test exceeded its %ds limit" % TEST_TIMEOUT_S)
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, TEST_TIMEOUT_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return F.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def fake_k8s_factory(pki):
    servers = []

    def make(fixture="basic.json", token="s3cret-token", **kw):
        cluster = F.FakeCluster(token=token)
        if fixture:
            cluster.load_fixture(os.path.join(FIXTURES, fixture))
        srv = F.FakeK8sServer(cluster, pki=kw.pop("pki", pki), **kw)
        servers.append(srv)
        return srv.start()

    yield make
    for s in servers:
        s.close()


@pytest.fixture
def fake_k8s(fake_k8s_factory):
    return fake_k8s_factory()
