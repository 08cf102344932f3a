"""scripts/rolling-restart.sh on a running cluster under write load: every
node restarted in turn (leadership moved away first), nothing acknowledged
is lost, and every node is caught up at the end."""
import os
import signal
import subprocess
import threading
import time

import requests

import harness as H

SCRIPT = str(H.REPO_ROOT / "scripts" / "rolling-restart.sh")


def test_rolling_restart_under_writes(cluster_factory):
    c = cluster_factory()
    names = c.names
    for n in names:
        node = c.nodes[n]
        (node.data_dir / "shiplogd.pid").write_text(str(node.proc.pid))
        node.expected_down = True  # the script stops and restarts them
    urls = [c.nodes[n].url for n in names]
    acked, stop = [], threading.Event()

    def write():
        i = 0
        while not stop.is_set() and i < 5000:
            i += 1
            tag = f"r{i}"
            try:
                r = requests.put(f"{urls[i % 3]}/api/collect/roll/Deployment/app/main",
                                 headers={"Authorization": f"Bearer {H.ADMIN_KEY}", "Idempotency-Key": tag},
                                 json={"image_tag": tag, "image_sha": tag}, timeout=5)
                if r.status_code == 200:
                    acked.append(tag)
            except requests.RequestException:
                pass
            time.sleep(0.01)

    t = threading.Thread(target=write, daemon=True)
    t.start()
    env = dict(os.environ, SHIPLOGD=H.SHIPLOGD, SHIPLOG_ADMIN_KEY=H.ADMIN_KEY, CATCH_UP_S="30")
    pids = []
    try:
        t0 = time.monotonic()
        out = subprocess.run(["bash", SCRIPT, str(c.config_path)], env=env, capture_output=True, text=True,
                             timeout=240)
        took = time.monotonic() - t0
        pids = [int((c.nodes[n].data_dir / "shiplogd.pid").read_text()) for n in names]
        assert out.returncode == 0, out.stdout + out.stderr
        assert out.stdout.count("is back and caught up") == 3
        stop.set()
        t.join(timeout=20)
        print(f"rolling restart of 3 nodes in {took:.1f} s; {len(acked)} writes acknowledged meanwhile")
        assert len(acked) > 50
        H.wait_until(lambda: all(requests.get(u + "/health", timeout=2).json()["raft"]["leader"] for u in urls), 20)
        for u in urls:
            hist = requests.get(u + "/api/releases/history/unknown/unknown/roll/app/main",
                                headers={"Authorization": f"Bearer {H.ADMIN_KEY}"}, timeout=10,
                                params={"consistency": "linearizable"}).json()
            tags = {e["image_tag"] for e in hist["releases"]}
            missing = [x for x in acked if x not in tags]
            assert not missing, f"{u} lost {missing[:5]}"
    finally:
        stop.set()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in pids:
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
