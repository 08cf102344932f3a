#!/usr/bin/python3
"""Delay packets with nfnetlink_queue, for kernels without tc netem.

Started by net.py inside a node's network namespace:

    ip netns exec slj-n1 python3 nfqdelay.py --queue 1 --delay-ms 80 --jitter-ms 20

It binds NFQUEUE number --queue (iptables ... -j NFQUEUE --queue-num N
--queue-bypass sends the packets here), receives packet ids only (copy mode
"meta"), and gives each packet an NF_ACCEPT verdict after delay +- jitter ms.
Jitter reorders packets, as netem's does.  On SIGTERM/SIGINT every packet
still held is accepted at once and the queue is unbound; --max-seconds bounds
its life in any case.  Python stdlib only (raw AF_NETLINK socket).
"""

import argparse
import heapq
import os
import random
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQNL_CFG_CMD_BIND = 1
NFQNL_CFG_CMD_UNBIND = 2
NFQNL_COPY_META = 1
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2
NLMSG_DONE = 3
NF_ACCEPT = 1

_seq = 0


def _align(n):
    return (n + 3) & ~3


def _attr(atype, payload):
    ln = 4 + len(payload)
    return struct.pack("=HH", ln, atype) + payload + b"\0" * (_align(ln) - ln)


def _msg(mtype, queue, attrs, flags=NLM_F_REQUEST):
    global _seq
    _seq += 1
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + b"".join(attrs)
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | mtype,
                       flags, _seq, 0) + body


def _parse(data):
    """Yield (type, payload-after-nlmsghdr) for each netlink message."""
    off = 0
    while off + 16 <= len(data):
        ln, mtype, _flags, _seq_, _pid = struct.unpack_from("=IHHII", data, off)
        if ln < 16:
            break
        yield mtype, data[off + 16:off + ln]
        off += _align(ln)


def _packet_id(payload):
    off = 4  # nfgenmsg
    while off + 4 <= len(payload):
        ln, atype = struct.unpack_from("=HH", payload, off)
        if ln < 4:
            break
        if (atype & 0x7FFF) == NFQA_PACKET_HDR:
            return struct.unpack_from("!I", payload, off + 4)[0]
        off += _align(ln)
    return None


def _check_ack(sock, what):
    sock.settimeout(2.0)
    data = sock.recv(65536)
    sock.settimeout(None)
    for mtype, payload in _parse(data):
        if mtype == NLMSG_ERROR:
            err = struct.unpack_from("=i", payload, 0)[0]
            if err != 0:
                raise OSError(-err, f"{what}: {os.strerror(-err)}")
            return
    raise OSError(f"{what}: no ack")


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--queue", type=int, required=True)
    ap.add_argument("--delay-ms", type=float, required=True)
    ap.add_argument("--jitter-ms", type=float, default=0.0)
    ap.add_argument("--max-seconds", type=float, default=3600.0)
    a = ap.parse_args(argv)

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.bind((0, 0))
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    except OSError:
        pass
    q = a.queue
    sock.send(_msg(NFQNL_MSG_CONFIG, q,
                   [_attr(NFQA_CFG_CMD, struct.pack("!BBH", NFQNL_CFG_CMD_BIND, 0, 0))],
                   NLM_F_REQUEST | NLM_F_ACK))
    _check_ack(sock, "bind")
    sock.send(_msg(NFQNL_MSG_CONFIG, q,
                   [_attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META)),
                    _attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", 8192))],
                   NLM_F_REQUEST | NLM_F_ACK))
    _check_ack(sock, "params")
    print(f"nfqdelay: queue {q} delay {a.delay_ms}ms jitter {a.jitter_ms}ms", flush=True)

    def verdict(pid):
        sock.send(_msg(NFQNL_MSG_VERDICT, q,
                       [_attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, pid))]))

    held = []  # heap of (due, packet id)
    end = time.monotonic() + a.max_seconds
    n = 0
    while not stop and time.monotonic() < end:
        now = time.monotonic()
        while held and held[0][0] <= now:
            verdict(heapq.heappop(held)[1])
        timeout = max(0.0, held[0][0] - now) if held else 0.5
        try:
            r, _, _ = select.select([sock], [], [], min(timeout, 0.5))
        except InterruptedError:
            continue
        if not r:
            continue
        try:
            data = sock.recv(1 << 16)
        except OSError as e:  # ENOBUFS: the kernel dropped some; carry on
            print(f"nfqdelay: recv: {e}", flush=True)
            continue
        now = time.monotonic()
        for mtype, payload in _parse(data):
            if mtype == ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET):
                pid = _packet_id(payload)
                if pid is None:
                    continue
                d = a.delay_ms + (random.uniform(-a.jitter_ms, a.jitter_ms) if a.jitter_ms else 0)
                heapq.heappush(held, (now + max(0.0, d) / 1000.0, pid))
                n += 1
    for _, pid in held:
        verdict(pid)
    try:
        sock.send(_msg(NFQNL_MSG_CONFIG, q,
                       [_attr(NFQA_CFG_CMD, struct.pack("!BBH", NFQNL_CFG_CMD_UNBIND, 0, 0))]))
    except OSError:
        pass
    sock.close()
    print(f"nfqdelay: {n} packets delayed, exiting", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
