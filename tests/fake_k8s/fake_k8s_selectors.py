"""fake_k8s: labelSelector and fieldSelector parsing and matching."""

import re


class _BadRequest(Exception):
    pass


def _split_top(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


_LABEL_KEY = r"[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?"
_LABEL_VAL = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"


def parse_label_selector(sel):
    """-> list of (key, op, values) with op in =, !=, in, notin, exists, !exists."""
    reqs = []
    for part in _split_top(sel):
        m = re.match(r"^(%s)\s+(in|notin)\s+\(([^)]*)\)$" % _LABEL_KEY, part)
        if m:
            vals = [v.strip() for v in m.group(3).split(",") if v.strip()]
            if not vals:
                raise _BadRequest("unable to parse requirement: %s: values must be non-empty" % part)
            reqs.append((m.group(1), m.group(2), set(vals)))
            continue
        m = re.match(r"^(%s)\s*(==|=|!=)\s*(%s)$" % (_LABEL_KEY, _LABEL_VAL), part)
        if m:
            op = "!=" if m.group(2) == "!=" else "="
            reqs.append((m.group(1), op, {m.group(3)}))
            continue
        m = re.match(r"^(!?)\s*(%s)$" % _LABEL_KEY, part)
        if m:
            reqs.append((m.group(2), "!exists" if m.group(1) else "exists", None))
            continue
        raise _BadRequest("unable to parse requirement: found '%s', expected: "
                          "'=', '!=', '==', 'in', notin'" % part)
    return reqs


def _labels_match(reqs, labels):
    for key, op, vals in reqs:
        has = key in labels
        v = labels.get(key)
        if op == "=" and not (has and v in vals):
            return False
        if op == "!=" and has and v in vals:
            return False
        if op == "in" and not (has and v in vals):
            return False
        if op == "notin" and has and v in vals:
            return False
        if op == "exists" and not has:
            return False
        if op == "!exists" and has:
            return False
    return True


_FIELDS = {"metadata.name": ("metadata", "name"),
           "metadata.namespace": ("metadata", "namespace"),
           "status.phase": ("status", "phase"),
           "spec.nodeName": ("spec", "nodeName")}


def _parse_field_selector(sel, resource):
    reqs = []
    for part in _split_top(sel):
        m = re.match(r"^([A-Za-z.]+)\s*(==|=|!=)\s*(.*)$", part)
        if not m:
            raise _BadRequest("invalid selector: '%s'; can't understand '%s'" % (sel, part))
        f = m.group(1)
        if f not in _FIELDS or (f in ("status.phase", "spec.nodeName") and resource != "pods"):
            raise _BadRequest('field label not supported: %s' % f)
        reqs.append((_FIELDS[f], m.group(2) != "!=", m.group(3)))
    return reqs


def _fields_match(reqs, obj):
    for (a, b), eq, val in reqs:
        v = obj.get(a, {}).get(b, "")
        if (v == val) != eq:
            return False
    return True
