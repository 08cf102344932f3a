"""Fixtures and guards for the shiplog integration tests.

- `cluster`: one 3-node cluster per test module (fresh data dirs).
- `cluster_factory`: function-scoped; make(raft={...}, api={...}) starts a
  new 3-node cluster that is torn down after the test.
- every test runs under a SIGALRM wall-clock guard (pytest-timeout is not
  available): default DEFAULT_TIMEOUT_S, or @pytest.mark.shiplog_timeout(S).
- on failure the tails of the node logs are attached to the report.
- a node process that exits without the test asking for it fails the test.
"""

import signal

import pytest

import harness as H

DEFAULT_TIMEOUT_S = 120


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "shiplog_timeout(seconds): wall-clock limit of one test (SIGALRM)")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item._shiplog_seq = H.Cluster.peek_seq()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    m = item.get_closest_marker("shiplog_timeout")
    secs = float(m.args[0]) if m else DEFAULT_TIMEOUT_S

    def on_alarm(signum, frame):
        raise H.TestTimeout(f"test exceeded its {secs:.0f}s limit")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, secs)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        seq = getattr(item, "_shiplog_seq", 1)
        try:
            text = H.log_tails_text(seq)
        except Exception as exc:  # noqa: BLE001
            text = f"(could not read logs: {exc!r})"
        if text:
            rep.sections.append((f"shiplogd log tails ({rep.when})", text))


def pytest_sessionfinish(session, exitstatus):
    for c in H.live_clusters():
        c.teardown()
    H.kill_all_processes()


@pytest.fixture(autouse=True)
def _shiplog_crash_guard():
    """Fail the test during which a node exited on its own; restart it so that
    the module's later tests still have a full cluster."""
    yield
    problems = []
    for c in H.live_clusters():
        for name, code in c.unexpected_exits():
            problems.append(f"{c.describe()}: node {name} exited by itself with code {code}")
            c.crashes.append((name, code))
            try:
                c.start(name)
            except Exception as exc:  # noqa: BLE001
                problems.append(f"restart of {name} failed: {exc!r}")
    if problems:
        pytest.fail("\n".join(problems))


def fail_on_leaks(clusters):
    leaks = [x for c in clusters for x in c.leak_reports()]
    if leaks:
        pytest.fail("memory leaked (LeakSanitizer, at node exit):\n" + "\n".join(leaks))


def module_cluster(tmp_path_factory, label, configure=None):
    """A generator for module fixtures: a started 3-node cluster (configure(c)
    may change its settings first), torn down and checked for leaks after."""
    c = H.Cluster(tmp_path_factory.mktemp(label), label=label)
    if configure is not None:
        configure(c)
        c.write_config()
    try:
        c.start_all()
        yield c
    finally:
        c.teardown()
    fail_on_leaks([c])


@pytest.fixture(scope="module")
def cluster(request, tmp_path_factory):
    yield from module_cluster(tmp_path_factory, request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture
def cluster_factory(request, tmp_path):
    made = []

    def make(raft=None, api=None, n=3, start=True, collector=None):
        c = H.Cluster(tmp_path / f"cluster{len(made) + 1}", n=n, raft=raft, api=api,
                      label=request.node.name, collector=collector)
        made.append(c)
        if start:
            c.start_all()
        return c

    try:
        yield make
    finally:
        for c in made:
            c.teardown()
    fail_on_leaks(made)
