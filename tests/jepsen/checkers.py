"""Checkers for shiplog fault-injection histories (format: see history.py).

  check_register(history, initial=None, time_limit=60.0)   linearizability
  check_set(adds_history, final_reads)                      lost/unexpected/duplicated
  check_monotonic_reads(history)                            X-Shiplog-Index never goes back
  check_idempotent(history, final_history_values)           exactly-once per idempotency key

Every checker returns a JSON-serialisable dict with at least "valid":
True, False or "unknown" (could not decide: search budget exhausted, nothing
to check against).  Semantics are documented in README.md next to this file.
"""

import math
import sys
import time
from collections import Counter, defaultdict

try:  # imported as a package (tests.jepsen.checkers) or from this directory
    from .history import OK, FAIL, INFO, freeze, load, pair_ops
except ImportError:  # pragma: no cover
    from history import OK, FAIL, INFO, freeze, load, pair_ops

__all__ = ["check_register", "check_set", "check_monotonic_reads",
           "check_idempotent"]

EXAMPLES = 10  # example values reported per category


def _as_ops(history):
    if isinstance(history, str):
        history = load(history)
    return pair_ops(history)


def _examples(values):
    out = sorted(values, key=repr)[:EXAMPLES]
    return [list(v) if isinstance(v, tuple) else v for v in out]


# ---------------------------------------------------------------------------
# Linearizability of one read/write(/cas) register
# ---------------------------------------------------------------------------
#
# Wing & Gong's search with Lowe's memoisation, in the form Porcupine uses:
#
#   * Each op contributes a call entry (at its invoke time) and a return entry
#     (at its completion time; +inf for info ops).  Entries are sorted by time,
#     calls before returns on ties (touching ops count as concurrent), and
#     threaded on a doubly linked list.
#   * Scanning the list from the head, a call entry whose op can be applied to
#     the current model state is "lifted" (its call and return removed from
#     the list), pushed on a stack, and the scan restarts at the head.
#     Reaching a return entry means that op's call was not linearized before
#     its return: dead end, pop the last lifted op, restore the state, put it
#     back and continue the scan just after it.
#   * A cache of (set of linearized ops, model state) prunes configurations
#     already explored.
#   * The history is linearizable iff the list can be emptied.
#
# Unknown outcomes: an info write/cas keeps its call at invoke time and gets a
# return at +inf, so it may be linearized anywhere after its invoke; "never
# took effect" is the same as "linearized at the very end", where it can no
# longer influence any completed op.  An info cas whose expected value does not
# match simply has no effect.  Failed ops and info reads are removed.
# An info write/cas whose new value no ok read returns and no cas expects is
# removed up front: wherever it is placed, nothing can tell it happened.
#
# Plain WGL in Python is too slow for 10k-op histories with unknown outcomes,
# so _search adds reductions specific to a register (listed in its
# docstring).  Each only skips branches for which an equivalent branch is
# explored, or that cannot lead to a linearization; test_checkers.py checks
# the verdicts against a brute-force search on many small random histories.

_READ, _WRITE, _CAS, _CAS_INFO = 0, 1, 2, 3
_REGISTER_FS = ("read", "write", "cas")


def _cas_args(op):
    v = op.value
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise ValueError("cas value must be [old, new]: %s" % op.describe())
    return freeze(v[0]), freeze(v[1])


def check_register(history, initial=None, time_limit=60.0, max_memory_mb=1024):
    """Linearizability of a single register.

    history: events (dicts), Op list, or a path to a .jsonl file.
    Ops: f="write" value v; f="read" (ok result = value read); f="cas"
    value [old, new] (ok = swapped; fail = did not swap, removed).  Other f
    are ignored and counted in "ignored".

    Returns {"valid": True|False|"unknown", "ops": n ops searched,
    "anomaly": None or a description, "elapsed_s", "states", "dropped"}.
    """
    t0 = time.monotonic()
    all_ops = _as_ops(history)
    initial = freeze(initial)
    dropped = Counter()
    kept = []
    for op in all_ops:
        if op.f not in _REGISTER_FS:
            dropped["ignored_f"] += 1
        elif op.outcome == FAIL:
            dropped["fail"] += 1
        elif op.complete_time < op.invoke_time:
            raise ValueError("op completes before it is invoked: %s" % op.describe())
        elif op.outcome == INFO and op.f == "read":
            dropped["info_read"] += 1
        else:
            kept.append(op)

    # Values an op can observe: results of ok reads, expectations of ok cas
    # and of the info cas that are kept.  An info write/cas whose new value
    # is not observable is dropped (see above); computed to a fixpoint, since
    # keeping an info cas makes its expectation observable.
    observed = set()
    written = {initial}
    for op in kept:
        if op.f == "read":
            observed.add(freeze(op.result))
        elif op.f == "cas":
            old, new = _cas_args(op)
            if op.outcome == OK:
                observed.add(old)
            written.add(new)
        else:
            written.add(freeze(op.value))
    pending = [op for op in kept if op.outcome == INFO]
    keep_info = set()
    changed = True
    while changed:
        changed = False
        for op in pending:
            if op.id in keep_info:
                continue
            new = _cas_args(op)[1] if op.f == "cas" else freeze(op.value)
            if new in observed:
                keep_info.add(op.id)
                changed = True
                if op.f == "cas":
                    observed.add(_cas_args(op)[0])
    ops = []
    for op in kept:
        if op.outcome == INFO and op.id not in keep_info:
            dropped["info_unobserved"] += 1
            continue
        ops.append(op)

    def result(valid, anomaly=None, **kw):
        r = {"valid": valid, "ops": len(ops), "anomaly": anomaly,
             "elapsed_s": round(time.monotonic() - t0, 6),
             "dropped": dict(dropped)}
        r.update(kw)
        return r

    # Cheap precheck: an ok read (or ok cas) expecting a value nobody wrote.
    for op in ops:
        if op.outcome != OK:
            continue
        if op.f == "read" and freeze(op.result) not in written:
            return result(False, {
                "kind": "read-never-written",
                "op": op.describe(), "op_detail": op.to_dict(),
                "message": "read returned %r, which no write could have produced "
                           "(initial %r)" % (op.result, initial),
                "prefix_end_time": op.complete_time}, states=0)
        if op.f == "cas" and _cas_args(op)[0] not in written:
            return result(False, {
                "kind": "cas-never-written",
                "op": op.describe(), "op_detail": op.to_dict(),
                "message": "cas succeeded expecting %r, which was never written"
                           % (_cas_args(op)[0],),
                "prefix_end_time": op.complete_time}, states=0)

    if not any(op.outcome == OK for op in ops):
        return result(True, states=0)  # unknown ops alone can all go last

    r = _search(ops, initial, observed, t0 + time_limit if time_limit else math.inf,
                max_memory_mb)
    if r["valid"] is True:
        return result(True, states=r["states"])
    if r["valid"] == "unknown":
        return result("unknown", {
            "kind": "budget-exhausted",
            "message": "search stopped (%s) after %d states; deepest point "
                       "reached: %s" % (r["why"], r["states"], r["deepest"])},
            states=r["states"])

    bad = r["bad"]
    concurrent = [o for o in ops if o is not bad and o.invoke_time <= bad.complete_time
                  and (o.outcome == INFO or o.complete_time >= bad.invoke_time)]
    prefix = [o for o in ops if o.invoke_time <= bad.complete_time]
    states = _examples(set(r["deepest_states"]))
    if bad.f == "read":
        msg = ("no linearization of the history up to this op's completion lets "
               "the read return %r; the register could hold %s there"
               % (bad.result, states))
    else:
        msg = ("no linearization of the history up to this op's completion can "
               "place %s %r (register could hold %s)" % (bad.f, bad.value, states))
    return result(False, {
        "kind": "not-linearizable",
        "op": bad.describe(), "op_detail": bad.to_dict(),
        "message": msg,
        "possible_states": states,
        "prefix_end_time": bad.complete_time,
        "prefix_ops": len(prefix),
        "concurrent_ops": [o.describe() for o in concurrent[:EXAMPLES]],
        "linearized_before": [o.describe() for o in r["path"]],
    }, states=r["states"])


def _search(ops, initial, observed, deadline, max_memory_mb):
    """The depth-first search.  ops: register ops, none failed, no info read,
    at least one ok op.  observed: the values some op can observe.

    Positions: all entries sorted by time, calls before returns on ties.  The
    main list holds calls and returns of ok ops; the info list holds the calls
    of info ops (their returns would be at +inf, so they are not
    materialised).  In a configuration the candidates are the calls before
    the first return of the main list (`limit`).  Reductions:

      R0 values outside `observed` are indistinguishable: one state, BLIND.
      R1 forced moves, no alternative tried: a candidate read of the current
         value (moving a read earlier, to a point where it is still allowed
         and returns the same value, changes nothing else); a candidate write
         of a BLIND value while the state is BLIND (nothing can read that
         value, so in any linearization the write is followed directly by
         another write or by no observer at all: moved here it changes
         nothing).  Not so for a write of the current observed value: it may
         be needed later to restore that value.
      R2 otherwise the ok candidates are tried in list order, then the info
         candidates (invoked before `limit`); an unknown op is thus placed
         where something needs it.
      R3 info ops: (a) one that would not change the state is not tried (same
         as placing it at the end); (b) info ops with the same effect are
         interchangeable (no return, all candidates invoked), so only the
         first unused of each group is tried; (c) an info op must be followed
         directly by an op observing its value (a read of it, a cas expecting
         it) -- otherwise dropping it changes nothing -- tracked by a flag
         that is part of the cache key; (d) it is not tried when an ok
         candidate with the same effect exists (swap the two).
      R4 of two candidate ok ops with the same effect, only the one with the
         earlier return is tried here (swap the two: the later-returning one
         fits wherever the other went).
      R5 a move that changes the state away from value s while an ok read of
         s is not linearized and nothing left can write s again is cut: that
         read could never be linearized.  The dead end is charged to the
         read's return (for the report).
      R6 main list empty = linearizable: remaining info ops go at the end (or
         never happened).

    The set of linearized ok ops is kept as (k, window): every ok op with
    index < k is linearized, bit j of window says whether ok op k + j is; info
    ops have their own bitset.  Cache keys stay small for long histories.
    """
    m = len(ops)
    BLIND = 0
    vid = {}

    def V(x):
        x = freeze(x)
        return vid.setdefault(x, len(vid) + 1) if x in observed else BLIND

    init = V(initial)
    kind = [0] * m
    arg = [0] * m         # read: value read; write: value; cas: old
    arg2 = [0] * m        # cas: new
    is_info = [op.outcome == INFO for op in ops]
    sub = [0] * m         # index among ok ops / among info ops (invoke order)
    cnew = [None] * m     # the actual value a write/cas writes (for reports)
    n_ok = n_info = 0
    for i, op in enumerate(ops):
        if op.f == "read":
            kind[i], arg[i] = _READ, V(op.result)
        elif op.f == "write":
            kind[i], arg[i] = _WRITE, V(op.value)
            cnew[i] = freeze(op.value)
        else:
            old, new = _cas_args(op)
            kind[i] = _CAS if op.outcome == OK else _CAS_INFO
            arg[i], arg2[i] = V(old), V(new)
            cnew[i] = new
        if is_info[i]:
            sub[i], n_info = n_info, n_info + 1
        else:
            sub[i], n_ok = n_ok, n_ok + 1
    nv = len(vid) + 1

    keys = []
    for i, op in enumerate(ops):
        keys.append((op.invoke_time, 0, i))
        if not is_info[i]:
            keys.append((op.complete_time, 1, i))
    keys.sort()
    n = len(keys)
    HEAD, IHEAD = n, n + 1
    ent_op = [0] * n
    is_call = [False] * n
    match = [-1] * n                      # ok call position -> its return position
    call_pos = {}
    ret_pos = [-1] * m
    for p, (_, c, i) in enumerate(keys):
        ent_op[p] = i
        is_call[p] = (c == 0)
        if c == 0:
            call_pos[i] = p
        else:
            match[call_pos[i]] = p
            ret_pos[i] = p
    nxt = [-1] * (n + 2)
    prv = [-1] * (n + 2)
    tail = {HEAD: HEAD, IHEAD: IHEAD}
    for p in range(n):
        h = IHEAD if is_call[p] and is_info[ent_op[p]] else HEAD
        nxt[tail[h]] = p
        prv[p] = tail[h]
        tail[h] = p

    # R3b: info ops with the same effect are interchangeable (none has a
    # return, all candidates are already invoked), so only the first unused
    # one of each group, in invoke order, is ever tried.
    igroup = [-1] * m
    irank = [0] * m
    gids = {}
    for p in range(n):
        i = ent_op[p]
        if is_info[i]:
            g = gids.setdefault((kind[i], arg[i], arg2[i]), len(gids))
            igroup[i] = g
    counts = [0] * len(gids)
    for p in range(n):
        i = ent_op[p]
        if is_info[i]:
            irank[i] = counts[igroup[i]]
            counts[igroup[i]] += 1
    iused = [0] * len(gids)

    # For R5: ok reads not yet linearized, and ops that could still write,
    # per value.
    readers_left = [0] * nv
    producers_left = [0] * nv
    readers_of = [[] for _ in range(nv)]   # ok read ops per value, by return
    for i in range(m):
        if kind[i] == _READ:
            readers_left[arg[i]] += 1
            readers_of[arg[i]].append(i)
        elif kind[i] == _WRITE:
            producers_left[arg[i]] += 1
        else:
            producers_left[arg2[i]] += 1
    for lst in readers_of:
        lst.sort(key=lambda i: ret_pos[i])
    done = [False] * m

    state = init
    cval = initial    # the actual value behind `state` (only for reports)
    k = 0             # lowest ok index not linearized
    window = 0        # bit j: ok op k + j linearized (bit 0 always clear)
    ibits = 0         # info ops linearized
    cache = set()
    stack = []        # frames: (position, state, cval, k, window, ibits, mode,
    #                            limit, must_observe) -- everything a pop restores
    max_states = max(10000, int(max_memory_mb * 1048576 / (250 + n_info // 8)))
    steps = 0
    deepest = [-1, [], []]   # position, states there, ops linearized just before

    def dead_end(pos, st):
        if pos > deepest[0]:
            deepest[0] = pos
            deepest[1] = [st]
            deepest[2] = [ent_op[f[0]] for f in stack[-8:]]
        elif pos == deepest[0] and len(deepest[1]) < 8 and st not in deepest[1]:
            deepest[1].append(st)

    def orphans(s):
        """R5: leaving value s now strands a read?  -> its return position."""
        if readers_left[s] and not producers_left[s]:
            for i in readers_of[s]:
                if not done[i]:
                    return ret_pos[i]
        return -1

    def unlink(p):
        a, b = prv[p], nxt[p]
        nxt[a] = b
        if b != -1:
            prv[b] = a

    def relink(p):
        a, b = prv[p], nxt[p]
        nxt[a] = p
        if b != -1:
            prv[b] = p

    def apply_counts(i, d):
        done[i] = d < 0
        if kind[i] == _READ:
            readers_left[arg[i]] += d
        elif kind[i] == _WRITE:
            producers_left[arg[i]] += d
        else:
            producers_left[arg2[i]] += d

    ENTER, SCAN_OK, SCAN_INFO, FORCED, BACKTRACK = range(5)
    mode = ENTER
    e = -1
    limit = -1        # SCAN_INFO: first main-list return; info calls must precede it
    must_observe = False   # R3c: the last move was an info op
    while True:
        steps += 1
        if steps & 0xFFF == 0 and (time.monotonic() > deadline or len(cache) > max_states):
            why = ("memory limit %d MB" % max_memory_mb) if len(cache) > max_states \
                else "time limit"
            return {"valid": "unknown", "why": why, "states": len(cache),
                    "deepest": ops[ent_op[deepest[0]]].describe() if deepest[0] >= 0 else "-"}

        if mode == ENTER:
            # R1 (forced moves)
            p = nxt[HEAD]
            while is_call[p]:
                i = ent_op[p]
                if arg[i] == state and (kind[i] == _READ or
                                        (kind[i] == _WRITE and state == BLIND)):
                    break
                p = nxt[p]
            else:
                mode = SCAN_OK
                e = nxt[HEAD]
                continue
            j = sub[i] - k
            nw = window | (1 << j)
            nk = k
            if j == 0:
                t = (~nw & (nw + 1)).bit_length() - 1   # trailing ones
                nw >>= t
                nk += t
            key = (nk, nw, ibits, state, False)
            if key in cache:
                mode = BACKTRACK    # its only child was explored already
                continue
            cache.add(key)
            stack.append((p, state, cval, k, window, ibits, FORCED, limit, must_observe))
            if kind[i] == _WRITE:
                cval = cnew[i]
            k, window = nk, nw
            must_observe = False
            apply_counts(i, -1)
            unlink(p)
            unlink(match[p])
            if nxt[HEAD] == -1:
                return {"valid": True, "states": len(cache)}
            continue

        if mode == SCAN_OK or mode == SCAN_INFO:
            if mode == SCAN_OK and not is_call[e]:
                # first return of the main list: try the unknown ops before it
                mode = SCAN_INFO
                limit = e
                e = nxt[IHEAD]
                continue
            if mode == SCAN_INFO and (e == -1 or e > limit):
                # dead end: the op returning at `limit` cannot be linearized here
                dead_end(limit, cval)
                mode = BACKTRACK
                continue
            i = ent_op[e]
            kd = kind[i]
            if kd == _READ:
                ok = False          # a matching read would have been forced
            elif kd == _WRITE:
                ok = not must_observe
                ns = arg[i]
            else:                   # cas (ok or info)
                ok = state == arg[i]
                ns = arg2[i]
            if ok and mode == SCAN_OK:
                # R4: of two candidate ok ops with the same effect, the
                # one that must return first goes first
                p = nxt[HEAD]
                rx = ret_pos[i]
                while is_call[p]:
                    j = ent_op[p]
                    if j != i and kind[j] == kd and arg[j] == arg[i] and \
                            arg2[j] == arg2[i] and ret_pos[j] < rx:
                        ok = False
                        break
                    p = nxt[p]
            if ok and mode == SCAN_INFO:
                if ns == state or irank[i] != iused[igroup[i]]:
                    ok = False      # no effect here (same as at the end), or
                                    # an equivalent info op comes first
                else:
                    # R3d: an ok candidate with the same effect dominates
                    p = nxt[HEAD]
                    while p != limit:
                        j = ent_op[p]
                        if (kind[j] == _WRITE and arg[j] == ns) or \
                                (kind[j] == _CAS and arg[j] == state and arg2[j] == ns):
                            ok = False
                            break
                        p = nxt[p]
            if ok and ns != state:
                r = orphans(state)
                if r >= 0:
                    dead_end(r, cnew[i])  # R5
                    ok = False
            if ok:
                if mode == SCAN_OK:
                    j = sub[i] - k
                    nw = window | (1 << j)
                    nk = k
                    if j == 0:
                        t = (~nw & (nw + 1)).bit_length() - 1
                        nw >>= t
                        nk += t
                    key = (nk, nw, ibits, ns, False)
                else:
                    nib = ibits | (1 << sub[i])
                    key = (k, window, nib, ns, True)
                if key not in cache:
                    cache.add(key)
                    stack.append((e, state, cval, k, window, ibits, mode, limit, must_observe))
                    state = ns
                    cval = cnew[i]
                    apply_counts(i, -1)
                    unlink(e)
                    if mode == SCAN_OK:
                        k, window = nk, nw
                        must_observe = False
                        unlink(match[e])
                        if nxt[HEAD] == -1:
                            return {"valid": True, "states": len(cache)}
                    else:
                        ibits = nib
                        must_observe = True
                        iused[igroup[i]] += 1
                    mode = ENTER
                    continue
            e = nxt[e]
            continue

        # BACKTRACK
        if not stack:
            pos, sts, path = deepest
            return {"valid": False, "states": len(cache), "bad": ops[ent_op[pos]],
                    "deepest_states": sts, "path": [ops[i] for i in path]}
        e, state, cval, k, window, ibits, mode, limit, must_observe = stack.pop()
        apply_counts(ent_op[e], +1)
        if mode != SCAN_INFO:       # ok op: its return was unlinked too
            relink(match[e])
        else:
            iused[igroup[ent_op[e]]] -= 1
        relink(e)
        if mode == FORCED:
            mode = BACKTRACK
        else:
            e = nxt[e]


# ---------------------------------------------------------------------------
# Set: lost / unexpected / duplicated
# ---------------------------------------------------------------------------

def check_set(adds_history, final_reads, f="add", require_agreement=True):
    """adds_history: events/ops; ops with f == `f` are adds of op.value.
    final_reads: {node: [values]} read after the faults healed (a node whose
    read failed may map to None; it is skipped).

    A value whose adds include an ok must be in every final read ("lost"
    otherwise).  A value only ever added with info outcome may be present
    ("recovered") or absent ("info_lost", not an anomaly).  A value only ever
    added with fail outcome must be absent ("unexpected_failed").  A value
    never attempted is "unexpected"; a value twice in one read is
    "duplicated".  With require_agreement, a value present on some nodes and
    absent on others is "divergent" (anomaly).
    """
    ops = [o for o in _as_ops(adds_history) if o.f == f]
    outcomes = defaultdict(set)
    for o in ops:
        outcomes[freeze(o.value)].add(o.outcome)
    reads = {node: vals for node, vals in (final_reads or {}).items() if vals is not None}
    unread = sorted(node for node, vals in (final_reads or {}).items() if vals is None)
    if not reads:
        return {"valid": "unknown", "reason": "no final read", "unread_nodes": unread,
                "attempted": len(outcomes)}

    counts = {node: Counter(freeze(v) for v in vals) for node, vals in reads.items()}
    present_anywhere = set().union(*[set(c) for c in counts.values()])
    present_everywhere = set.intersection(*[set(c) for c in counts.values()])
    ok_vals = {v for v, s in outcomes.items() if OK in s}
    info_vals = {v for v, s in outcomes.items() if OK not in s and INFO in s}
    fail_vals = {v for v, s in outcomes.items() if s == {FAIL}}

    lost = ok_vals - present_everywhere
    lost_by_node = {node: _examples(ok_vals - set(c)) for node, c in counts.items()
                    if ok_vals - set(c)}
    recovered = info_vals & present_anywhere
    info_lost = info_vals - present_anywhere
    unexpected = present_anywhere - set(outcomes)
    unexpected_failed = fail_vals & present_anywhere
    duplicated = {v for c in counts.values() for v, k in c.items() if k > 1}
    divergent = (present_anywhere - present_everywhere) if require_agreement else set()
    divergent -= lost  # already reported as lost
    valid = not (lost or unexpected or unexpected_failed or duplicated or divergent)

    def cat(s):
        return {"count": len(s), "examples": _examples(s)}

    return {
        "valid": valid,
        "attempted": len(outcomes),
        "acknowledged": len(ok_vals),
        "ok_present": len(ok_vals & present_everywhere),
        "lost": cat(lost),
        "lost_by_node": lost_by_node,
        "unexpected": cat(unexpected),
        "unexpected_failed": cat(unexpected_failed),
        "duplicated": cat(duplicated),
        "divergent": cat(divergent),
        "info_total": len(info_vals),
        "recovered": cat(recovered),
        "info_lost": cat(info_lost),
        "failed_absent": len(fail_vals - present_anywhere),
        "nodes": sorted(reads, key=str),
        "unread_nodes": unread,
    }


# ---------------------------------------------------------------------------
# Monotonic reads: the index a node answers with never goes back
# ---------------------------------------------------------------------------

def check_monotonic_reads(history, fs=("read",)):
    """Ok reads (f in fs) that carry an "index" (X-Shiplog-Index) and a "node".

    per node: if read A completed before read B was invoked (real-time order)
      and both were answered by the same node, index(B) >= index(A).
      Concurrent reads are not ordered.
    per process: successive ok reads of one process against the same node
      never see the index decrease (implied by the per-node rule, reported
      separately because it is what a single client observes).
    Reads without index are ignored; reads without node are counted in
    "unattributed" and not checked.
    """
    ops = [o for o in _as_ops(history) if o.f in fs and o.outcome == OK]
    with_index = [o for o in ops if o.index is not None]
    unattributed = [o for o in with_index if o.node is None]
    reads = [o for o in with_index if o.node is not None]

    by_node = defaultdict(list)
    for o in reads:
        by_node[o.node].append(o)
    node_violations = []
    for node, rs in by_node.items():
        by_complete = sorted(rs, key=lambda o: o.complete_time)
        j = 0
        best = None  # completed read with the highest index so far
        for b in sorted(rs, key=lambda o: o.invoke_time):
            while j < len(by_complete) and by_complete[j].complete_time < b.invoke_time:
                a = by_complete[j]
                if best is None or a.index > best.index:
                    best = a
                j += 1
            if best is not None and b.index < best.index:
                node_violations.append({
                    "node": node, "earlier": best.describe(), "later": b.describe(),
                    "earlier_index": best.index, "later_index": b.index})

    proc_violations = []
    last = {}
    for o in sorted(reads, key=lambda o: (o.invoke_time, o.id)):
        k = (o.process, o.node)
        prev = last.get(k)
        if prev is not None and o.index < prev.index:
            proc_violations.append({
                "process": o.process, "node": o.node, "earlier": prev.describe(),
                "later": o.describe(), "earlier_index": prev.index,
                "later_index": o.index})
        if prev is None or o.index >= prev.index:
            last[k] = o
    return {
        "valid": not node_violations and not proc_violations,
        "reads_checked": len(reads),
        "unattributed": len(unattributed),
        "nodes": sorted(by_node, key=str),
        "violations": len(node_violations),
        "per_node": node_violations[:EXAMPLES * 5],
        "per_process": proc_violations[:EXAMPLES * 5],
        "per_process_count": len(proc_violations),
    }


# ---------------------------------------------------------------------------
# Idempotency: each key applied exactly once
# ---------------------------------------------------------------------------

def idem_key(v):
    """Idempotency key of a value: v["key"] / v["idempotency_key"] for a dict,
    v[0] for a list/tuple, v itself otherwise."""
    if isinstance(v, dict):
        return freeze(v.get("key", v.get("idempotency_key")))
    if isinstance(v, (list, tuple)) and v:
        return freeze(v[0])
    return freeze(v)


def check_idempotent(history, final_history_values, f="write-idem", key=idem_key):
    """history: events/ops; ops with f == `f` carry an idempotency key in their
    value (see idem_key).  A key may be attempted several times (retries).
    final_history_values: the values present in the final state (e.g. the
    entries of a release history), as a list -- or {node: list} to check each
    node's copy.  Keys are extracted from them with the same `key` function.

    Per key, by the set of outcomes of its attempts:
      any ok        -> exactly once   (0: "lost", >1: "duplicated")
      info, no ok   -> at most once   (>1: "duplicated"; 0/1: "info_absent"/"info_applied")
      only fail     -> never          (>0: "unexpected_failed")
    Keys in the final state never attempted: "unexpected".
    """
    ops = [o for o in _as_ops(history) if o.f == f]
    outcomes = defaultdict(set)
    for o in ops:
        outcomes[key(o.value)].add(o.outcome)
    finals = final_history_values
    if finals is None:
        return {"valid": "unknown", "reason": "no final state", "attempted": len(outcomes)}
    if not isinstance(finals, dict):
        finals = {None: finals}
    per_node = {}
    valid = True
    for node, vals in finals.items():
        if vals is None:
            continue
        counts = Counter(key(v) for v in vals)
        lost, dup, unexp_failed, info_applied, info_absent = set(), set(), set(), set(), set()
        for k, s in outcomes.items():
            c = counts.get(k, 0)
            if OK in s:
                if c == 0:
                    lost.add(k)
                elif c > 1:
                    dup.add(k)
            elif INFO in s:
                if c > 1:
                    dup.add(k)
                (info_applied if c else info_absent).add(k)
            elif c > 0:
                unexp_failed.add(k)
        unexpected = set(counts) - set(outcomes)
        dup |= {k for k in unexpected if counts[k] > 1}
        ok_node = not (lost or dup or unexp_failed or unexpected)
        valid = valid and ok_node

        def cat(s):
            return {"count": len(s), "examples": _examples(s)}
        per_node[node] = {
            "valid": ok_node, "lost": cat(lost), "duplicated": cat(dup),
            "unexpected": cat(unexpected), "unexpected_failed": cat(unexp_failed),
            "info_applied": cat(info_applied), "info_absent": cat(info_absent),
        }
    if not per_node:
        return {"valid": "unknown", "reason": "no final state", "attempted": len(outcomes)}
    out = {"valid": valid, "attempted": len(outcomes),
           "acknowledged": sum(1 for s in outcomes.values() if OK in s)}
    if list(per_node) == [None]:
        out.update(per_node[None])
        out["valid"] = valid
    else:
        out["nodes"] = {str(k): v for k, v in per_node.items()}
    return out


def _main(argv):
    import argparse
    import json
    ap = argparse.ArgumentParser(description="check a shiplog history (.jsonl)")
    ap.add_argument("history")
    ap.add_argument("--initial", default="null", help="register initial value (JSON)")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--final", help="JSON file {node: [values]} for the set checker")
    a = ap.parse_args(argv)
    events = load(a.history)
    out = {"register": check_register(events, json.loads(a.initial), a.time_limit),
           "monotonic_reads": check_monotonic_reads(events)}
    if a.final:
        with open(a.final) as fh:
            out["set"] = check_set(events, json.load(fh))
    json.dump(out, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    return 0 if all(v.get("valid") is True for v in out.values()) else 1


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
