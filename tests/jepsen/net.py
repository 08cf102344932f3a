"""Hosts in network namespaces for the shiplog fault-injection harness.

Layout (everything here is created by Net.setup() and removed by
Net.teardown(), which atexit and the runner's signal handlers also call):

    root namespace                 namespace sljbr                namespace slj-nX
    sljc0 10.77.0.100/24  <-veth->  sljcb  --+
                                             |  bridge br0
                                   sljbX  ---+  <-veth->   eth0 10.77.0.1X/24

  * one namespace per node, slj-n1..slj-n5, with a veth into the bridge;
    node nX has address 10.77.0.1X (n1 = 10.77.0.11, ...).
  * the bridge lives in its own namespace, sljbr, so nothing in the root
    namespace forwards packets between nodes.
  * the client (the harness process and its threads) stays in the root
    namespace and reaches every node through the veth sljc0 (10.77.0.100),
    which is plugged into the same bridge.  Faults never touch the client's
    address: a partition separates nodes from nodes, as in Jepsen, and the
    client can always reach every node (so it observes both sides).

Faults (all reversible, all inside the node namespaces):
  * partitions: iptables DROP rules in a chain SLJ-PART hooked from INPUT and
    OUTPUT.  A "grudge" {node: set of peers it drops} is installed with
    iptables-restore (atomic per node); heal() flushes the chains.
  * packet loss: iptables `statistic --mode random` DROP in chain SLJ-LOSS
    on eth0 egress and ingress (peer traffic only).
  * packet delay: `tc qdisc netem` when the kernel has it; otherwise (the
    kernel this was written on has no sch_netem) egress packets to peers go
    through an NFQUEUE, and nfqdelay.py (a small stdlib nfnetlink_queue
    client, started inside the node namespace) re-injects each packet after
    delay +- jitter.  The rule uses --queue-bypass, so if the delayer dies the
    packets pass undelayed.

Only addresses of the namespaces created here (10.77.0.0/24) and loopback
are used.  All names and the subnet above are those of DEFAULT_LAYOUT; a
Layout(prefix, subnet, max_nodes) passed to Net gives another harness
(tests/regions: "slr", 10.78.0.0/24) a separate set that can run at the same
time.
"""

from __future__ import annotations

import atexit
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

SUBNET = "10.77.0"
BRIDGE_NS = "sljbr"
BRIDGE = "br0"
CLIENT_IF = "sljc0"
CLIENT_BR_IF = "sljcb"
CLIENT_ADDR = f"{SUBNET}.100"
NODE_NS_PREFIX = "slj-"
MAX_NODES = 5


class Layout:
    """Names and addresses of one set of namespaces.  The default is the
    jepsen harness's (prefix "slj", subnet 10.77.0.0/24, n1..n5); another
    harness that must run at the same time (tests/regions) passes its own
    prefix and subnet so that the two never touch each other's namespaces,
    links or addresses.  prefix: at most 6 characters (interface names)."""

    def __init__(self, prefix="slj", subnet=SUBNET, max_nodes=MAX_NODES):
        if not 1 <= len(prefix) <= 6 or not prefix.isalnum():
            raise ValueError(f"bad namespace prefix {prefix!r}")
        if not 1 <= max_nodes <= 89:
            raise ValueError(f"bad max_nodes {max_nodes}")
        self.prefix = prefix
        self.subnet = subnet
        self.max_nodes = max_nodes
        self.bridge_ns = f"{prefix}br"
        self.client_if = f"{prefix}c0"
        self.client_br_if = f"{prefix}cb"
        self.client_addr = f"{subnet}.100"
        self.node_ns_prefix = f"{prefix}-"

    def node_ns(self, name):
        return self.node_ns_prefix + name

    def node_addr(self, name):
        """n1 -> <subnet>.11"""
        i = int(name.lstrip("n"))
        if not 1 <= i <= self.max_nodes:
            raise ValueError(name)
        return f"{self.subnet}.{10 + i}"

    def veth_names(self, name):
        """(root-side end later moved into the node namespace, bridge end)"""
        i = int(name.lstrip("n"))
        return f"{self.prefix}v{i}", f"{self.prefix}b{i}"


DEFAULT_LAYOUT = Layout()

PART_CHAIN = "SLJ-PART"
LOSS_CHAIN = "SLJ-LOSS"
DELAY_CHAIN = "SLJ-DELAY"

CMD_TIMEOUT_S = 10.0


class NetError(RuntimeError):
    pass


def node_ns(name, layout=DEFAULT_LAYOUT):
    return layout.node_ns(name)


def node_addr(name, layout=DEFAULT_LAYOUT):
    """n1 -> 10.77.0.11 (with the default layout)"""
    return layout.node_addr(name)


def sh(args, check=True, input=None, timeout=CMD_TIMEOUT_S):
    """Run a command (list), bounded in time; return CompletedProcess."""
    try:
        p = subprocess.run(args, input=input, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise NetError(f"timed out: {' '.join(args)}") from e
    if check and p.returncode != 0:
        raise NetError(f"{' '.join(args)} -> {p.returncode}: {p.stderr.strip()}")
    return p


def in_ns(ns, args, **kw):
    return sh(["ip", "netns", "exec", ns] + list(args), **kw)


def existing_namespaces():
    p = sh(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in p.stdout.splitlines() if line.strip()]


def available():
    """(True, None) if this process can build the namespaces, else (False, why)."""
    if os.geteuid() != 0:
        return False, "needs root (network namespaces, iptables)"
    for tool in ("ip", "iptables", "iptables-restore"):
        if not any(os.access(os.path.join(d, tool), os.X_OK)
                   for d in os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(":")
                   + ["/usr/sbin", "/sbin"]):
            return False, f"{tool} not installed"
    p = sh(["ip", "netns", "list"], check=False)
    if p.returncode != 0:
        return False, f"ip netns unavailable: {p.stderr.strip()}"
    return True, None


def cleanup_leftovers(layout=DEFAULT_LAYOUT):
    """Remove namespaces/links left by an earlier run of this harness that
    died without tearing down (names are ours alone)."""
    L = layout
    for ns in existing_namespaces():
        if ns == L.bridge_ns or (ns.startswith(L.node_ns_prefix) and ns[len(L.node_ns_prefix):] in
                                 [f"n{i}" for i in range(1, L.max_nodes + 1)]):
            _kill_ns_pids(ns)
            sh(["ip", "netns", "del", ns], check=False)
    sh(["ip", "link", "del", L.client_if], check=False)


def _kill_ns_pids(ns):
    """SIGKILL processes still inside one of *our* namespaces (by PID)."""
    p = sh(["ip", "netns", "pids", ns], check=False)
    for tok in p.stdout.split():
        try:
            pid = int(tok)
        except ValueError:
            continue
        for sig in (signal.SIGCONT, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except OSError:
                pass


class Net:
    """The namespaces, the bridge, and the network faults."""

    def __init__(self, names, log=None, layout=None):
        self.L = layout or DEFAULT_LAYOUT
        self.names = list(names)
        for n in self.names:
            self.L.node_addr(n)  # validates
        self.log = log or (lambda msg: None)
        self.up = False
        self._lock = threading.Lock()
        self._delayers = {}   # node -> Popen of nfqdelay.py
        self._netem = None    # probed lazily: True if tc netem works
        self.grudge = {}      # current partition {node: set(peers dropped)}
        self._closed = False
        atexit.register(self.teardown)

    # ------------------------------------------------------------ topology
    def setup(self):
        cleanup_leftovers(self.L)
        self.up = True  # from here on teardown has something to do
        sh(["ip", "netns", "add", self.L.bridge_ns])
        in_ns(self.L.bridge_ns, ["ip", "link", "set", "lo", "up"])
        in_ns(self.L.bridge_ns, ["ip", "link", "add", BRIDGE, "type", "bridge"])
        # no STP, forward at once
        in_ns(self.L.bridge_ns, ["ip", "link", "set", BRIDGE, "type", "bridge",
                          "forward_delay", "0", "stp_state", "0"], check=False)
        in_ns(self.L.bridge_ns, ["ip", "link", "set", BRIDGE, "up"])
        for name in self.names:
            ns = self.L.node_ns(name)
            host_if, br_if = self.L.veth_names(name)
            sh(["ip", "netns", "add", ns])
            sh(["ip", "link", "add", host_if, "type", "veth", "peer", "name", br_if])
            sh(["ip", "link", "set", br_if, "netns", self.L.bridge_ns])
            in_ns(self.L.bridge_ns, ["ip", "link", "set", br_if, "master", BRIDGE])
            in_ns(self.L.bridge_ns, ["ip", "link", "set", br_if, "up"])
            sh(["ip", "link", "set", host_if, "netns", ns])
            in_ns(ns, ["ip", "link", "set", host_if, "name", "eth0"])
            in_ns(ns, ["ip", "addr", "add", f"{self.L.node_addr(name)}/24", "dev", "eth0"])
            in_ns(ns, ["ip", "link", "set", "eth0", "up"])
            in_ns(ns, ["ip", "link", "set", "lo", "up"])
            for chain, hooks in ((PART_CHAIN, ("INPUT", "OUTPUT")),
                                 (LOSS_CHAIN, ("INPUT", "OUTPUT")),
                                 (DELAY_CHAIN, ("OUTPUT",))):
                in_ns(ns, ["iptables", "-N", chain])
                for h in hooks:
                    in_ns(ns, ["iptables", "-A", h, "-j", chain])
        # the client's veth, in the root namespace
        sh(["ip", "link", "add", self.L.client_if, "type", "veth", "peer", "name", self.L.client_br_if])
        sh(["ip", "link", "set", self.L.client_br_if, "netns", self.L.bridge_ns])
        in_ns(self.L.bridge_ns, ["ip", "link", "set", self.L.client_br_if, "master", BRIDGE])
        in_ns(self.L.bridge_ns, ["ip", "link", "set", self.L.client_br_if, "up"])
        sh(["ip", "addr", "add", f"{self.L.client_addr}/24", "dev", self.L.client_if])
        sh(["ip", "link", "set", self.L.client_if, "up"])
        self._wait_reachable()
        self.log(f"net: namespaces {', '.join(self.L.node_ns(n) for n in self.names)} on bridge "
                 f"{self.L.bridge_ns}/{BRIDGE}; client {self.L.client_addr} in the root namespace")

    def _wait_reachable(self, timeout=10.0):
        """Until every node answers from the client (bounded): a TCP connect to
        a closed port gets a RST (ECONNREFUSED) when the path works."""
        deadline = time.monotonic() + timeout
        pending = set(self.names)
        while pending and time.monotonic() < deadline:
            for n in sorted(pending):
                if tcp_probe(self.L.node_addr(n), 9, timeout=0.5) in ("refused", "open"):
                    pending.discard(n)
            if pending:
                time.sleep(0.1)
        if pending:
            raise NetError(f"nodes unreachable after setup: {sorted(pending)}")

    def teardown(self):
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for name in list(self._delayers):
            self._stop_delayer(name)
        if not self.up:
            return
        for name in self.names:
            ns = self.L.node_ns(name)
            _kill_ns_pids(ns)
            sh(["ip", "netns", "del", ns], check=False)
        sh(["ip", "link", "del", self.L.client_if], check=False)
        sh(["ip", "netns", "del", self.L.bridge_ns], check=False)
        self.up = False

    # ---------------------------------------------------------- partitions
    def partition(self, grudge):
        """grudge: {node: iterable of peers whose packets that node drops,
        both directions}.  Replaces the current partition."""
        grudge = {n: set(p) for n, p in grudge.items()}
        for name in self.names:
            peers = sorted(grudge.get(name, ()))
            rules = ["*filter", f":{PART_CHAIN} - [0:0]"]
            for peer in peers:
                a = self.L.node_addr(peer)
                rules.append(f"-A {PART_CHAIN} -s {a}/32 -j DROP")
                rules.append(f"-A {PART_CHAIN} -d {a}/32 -j DROP")
            rules.append("COMMIT")
            in_ns(self.L.node_ns(name), ["iptables-restore", "--noflush"], input="\n".join(rules) + "\n")
        self.grudge = {n: p for n, p in grudge.items() if p}

    def heal(self):
        for name in self.names:
            in_ns(self.L.node_ns(name), ["iptables", "-F", PART_CHAIN], check=False)
        self.grudge = {}

    @staticmethod
    def complete_grudge(components):
        """[set(a,b), set(c,d,e)] -> every node drops every node of the other
        components."""
        g = {}
        for comp in components:
            others = set().union(*[c for c in components if c is not comp]) if len(components) > 1 else set()
            for n in comp:
                g[n] = set(others)
        return g

    # ------------------------------------------------------- loss / delay
    def set_loss(self, name, pct):
        """Drop `pct` % of the node's packets to and from peers (both ways)."""
        prob = max(0.0, min(1.0, pct / 100.0))
        rules = ["*filter", f":{LOSS_CHAIN} - [0:0]"]
        if prob > 0:
            for peer in self.names:
                if peer == name:
                    continue
                for d in ("-s", "-d"):
                    rules.append(f"-A {LOSS_CHAIN} {d} {self.L.node_addr(peer)}/32 "
                                 f"-m statistic --mode random --probability {prob:.4f} -j DROP")
        rules.append("COMMIT")
        in_ns(self.L.node_ns(name), ["iptables-restore", "--noflush"], input="\n".join(rules) + "\n")

    def netem_available(self):
        if self._netem is None:
            ns = self.L.node_ns(self.names[0])
            p = in_ns(ns, ["tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"],
                      check=False)
            self._netem = p.returncode == 0
            if self._netem:
                in_ns(ns, ["tc", "qdisc", "del", "dev", "lo", "root"], check=False)
        return self._netem

    def delay_method(self):
        return "tc-netem" if self.netem_available() else "nfqueue (nfqdelay.py)"

    def set_delay(self, name, delay_ms, jitter_ms=0, run_dir=None, peers=None):
        """Delay the node's egress packets to peers by delay_ms +- jitter_ms.
        peers: only the packets to these nodes (default: every other node);
        always through nfqdelay.py (tc netem would delay all of eth0)."""
        self.clear_delay(name)
        if delay_ms <= 0:
            return
        ns = self.L.node_ns(name)
        if peers is None and self.netem_available():
            args = ["tc", "qdisc", "add", "dev", "eth0", "root", "netem", "delay",
                    f"{int(delay_ms)}ms"]
            if jitter_ms:
                args.append(f"{int(jitter_ms)}ms")
            in_ns(ns, args)
            return
        qnum = int(name.lstrip("n"))
        log = open(os.path.join(run_dir, f"nfqdelay-{name}.log"), "ab") if run_dir else subprocess.DEVNULL
        try:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", ns, sys.executable, str(HERE / "nfqdelay.py"),
                 "--queue", str(qnum), "--delay-ms", str(delay_ms),
                 "--jitter-ms", str(jitter_ms)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        finally:
            if log is not subprocess.DEVNULL:
                log.close()
        self._delayers[name] = proc
        # wait until it has bound the queue (it prints nothing; give it a moment)
        time.sleep(0.3)
        if proc.poll() is not None:
            self._delayers.pop(name, None)
            raise NetError(f"nfqdelay for {name} exited with {proc.returncode}")
        rules = ["*filter", f":{DELAY_CHAIN} - [0:0]"]
        for peer in (self.names if peers is None else peers):
            if peer != name:
                rules.append(f"-A {DELAY_CHAIN} -o eth0 -d {self.L.node_addr(peer)}/32 "
                             f"-j NFQUEUE --queue-num {qnum} --queue-bypass")
        rules.append("COMMIT")
        in_ns(ns, ["iptables-restore", "--noflush"], input="\n".join(rules) + "\n")

    def clear_delay(self, name):
        ns = self.L.node_ns(name)
        if self._netem:
            in_ns(ns, ["tc", "qdisc", "del", "dev", "eth0", "root"], check=False)
        in_ns(ns, ["iptables", "-F", DELAY_CHAIN], check=False)
        self._stop_delayer(name)

    def _stop_delayer(self, name):
        proc = self._delayers.pop(name, None)
        if proc is None:
            return
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)  # it accepts what it holds, then exits
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                try:
                    proc.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    pass

    def clear_all(self):
        """Heal every network fault."""
        self.heal()
        for name in self.names:
            self.set_loss(name, 0)
            self.clear_delay(name)


def tcp_probe(addr, port, timeout=1.0):
    """'open' | 'refused' | 'timeout' | 'error:...' for a TCP connect."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((addr, port))
        return "open"
    except ConnectionRefusedError:
        return "refused"
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return f"error:{e.errno}"
    finally:
        s.close()


def random_halves(names, rng=random):
    ns = list(names)
    rng.shuffle(ns)
    k = len(ns) // 2
    return [set(ns[:k]), set(ns[k:])]
