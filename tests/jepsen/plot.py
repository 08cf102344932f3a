"""Pictures of a history: a timeline (one lane per process, a bar per op from
invoke to completion coloured by outcome, fault windows shaded and labelled)
and a latency scatter.  SVG is written by hand (no dependency); a path ending
in ".png" uses matplotlib, which must then be importable.

    timeline(history, [(start, end, "partition"), ...], "run/timeline.svg")
    latency(history, windows, "run/latency.svg")

Times are those of the history (monotonic seconds); the x axis shows seconds
since the first event.  A window end of None means "until the end".
"""

import math
from xml.sax.saxutils import escape

try:
    from .history import OK, FAIL, INFO, load, pair_ops
except ImportError:  # pragma: no cover
    from history import OK, FAIL, INFO, load, pair_ops

__all__ = ["timeline", "latency"]

COLORS = {OK: "#2ca02c", FAIL: "#d62728", INFO: "#ff7f0e"}
WINDOW_COLORS = ["#1f77b4", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"]


def _ops(history):
    if isinstance(history, str):
        history = load(history)
    return pair_ops(history)


def _end_time(op):
    """Where an op's bar ends: completion, or the time the info was recorded."""
    if not math.isinf(op.complete_time):
        return op.complete_time
    if op.complete_event is not None and op.complete_event.get("time") is not None:
        return float(op.complete_event["time"])
    return None


def _span(ops, windows):
    ts = [o.invoke_time for o in ops]
    ts += [t for t in (_end_time(o) for o in ops) if t is not None]
    for s, e, _ in windows:
        ts.append(s)
        if e is not None:
            ts.append(e)
    if not ts:
        return 0.0, 1.0
    t0, t1 = min(ts), max(ts)
    if t1 <= t0:
        t1 = t0 + 1.0
    return t0, t1


def _nice_ticks(lo, hi, n=8):
    span = hi - lo
    raw = span / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = mag
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            step = m * mag
            break
    t = math.ceil(lo / step) * step
    out = []
    while t <= hi + 1e-12:
        out.append(round(t, 10))
        t += step
    return out


def _fmt(v):
    return ("%.3f" % v).rstrip("0").rstrip(".") if abs(v) < 1e6 else "%g" % v


def _window_color(name, names):
    return WINDOW_COLORS[names.index(name) % len(WINDOW_COLORS)]


def _svg_windows(windows, t0, t1, x, top, bottom, label_y):
    names = []
    for _, _, name in windows:
        if name not in names:
            names.append(name)
    out = []
    for s, e, name in windows:
        e = t1 if e is None else e
        x0, x1 = x(max(s, t0)), x(min(e, t1))
        c = _window_color(name, names)
        label = escape(str(name))
        out.append('<g class="window"><title>%s %s..%s</title>'
                   '<rect x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="%s" '
                   'fill-opacity="0.18" stroke="%s" stroke-opacity="0.5"/>'
                   '<text x="%.2f" y="%.2f" font-size="11" fill="%s">%s</text></g>'
                   % (label, _fmt(s - t0), _fmt(e - t0), x0, top, max(x1 - x0, 1.0),
                      bottom - top, c, c, x0 + 2, label_y, c, label))
    return out


def _svg_doc(width, height, body, title):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
            'viewBox="0 0 %d %d" font-family="sans-serif">\n'
            '<rect width="100%%" height="100%%" fill="white"/>\n'
            '<text x="10" y="18" font-size="14" font-weight="bold">%s</text>\n%s\n</svg>\n'
            % (width, height, width, height, escape(title), "\n".join(body)))


def _svg_xaxis(t0, t1, x, y, top):
    out = ['<line x1="%.2f" y1="%.2f" x2="%.2f" y2="%.2f" stroke="black"/>'
           % (x(t0), y, x(t1), y)]
    for t in _nice_ticks(0.0, t1 - t0):
        px = x(t0 + t)
        out.append('<line x1="%.2f" y1="%.2f" x2="%.2f" y2="%.2f" stroke="#ddd"/>'
                   % (px, top, px, y))
        out.append('<text x="%.2f" y="%.2f" font-size="10" text-anchor="middle">%s</text>'
                   % (px, y + 14, _fmt(t)))
    out.append('<text x="%.2f" y="%.2f" font-size="11" text-anchor="middle">time (s)</text>'
               % ((x(t0) + x(t1)) / 2, y + 30))
    return out


def _legend(x0, y):
    out = []
    for k, (name, c) in enumerate([("ok", COLORS[OK]), ("fail", COLORS[FAIL]),
                                   ("info (unknown)", COLORS[INFO])]):
        px = x0 + k * 110
        out.append('<rect x="%.2f" y="%.2f" width="12" height="10" fill="%s"/>'
                   '<text x="%.2f" y="%.2f" font-size="11">%s</text>'
                   % (px, y - 9, c, px + 16, y, name))
    return out


def timeline(history, nemesis_windows=(), out_path="timeline.svg",
             title="shiplog history", width=1400):
    """Write a timeline of `history` (events, Op list or .jsonl path)."""
    ops = _ops(history)
    windows = list(nemesis_windows or ())
    if str(out_path).lower().endswith(".png"):
        return _timeline_png(ops, windows, out_path, title)
    t0, t1 = _span(ops, windows)
    procs = sorted({o.process for o in ops}, key=lambda p: (str(type(p)), p))
    lane = {p: k for k, p in enumerate(procs)}
    lane_h = 14 if len(procs) <= 60 else max(3, 840 // len(procs))
    left, right, top = 70, 20, 60
    plot_w = width - left - right
    lanes_h = max(lane_h * len(procs), 20)
    height = top + lanes_h + 60

    def x(t):
        return left + (t - t0) / (t1 - t0) * plot_w

    body = _legend(width - right - 340, 18)  # right-aligned: clear of the title
    body += _svg_windows(windows, t0, t1, x, top - 8, top + lanes_h, top - 12)
    body += _svg_xaxis(t0, t1, x, top + lanes_h + 4, top)
    label_every = max(1, int(math.ceil(11 / lane_h)))
    for p, k in lane.items():
        if k % label_every == 0:
            body.append('<text x="%d" y="%.2f" font-size="%d" text-anchor="end">p%s</text>'
                        % (left - 6, top + k * lane_h + lane_h * 0.8,
                           min(11, lane_h), escape(str(p))))
    bar_h = max(1.0, lane_h * 0.7)
    for o in ops:
        y = top + lane[o.process] * lane_h + (lane_h - bar_h) / 2
        end = _end_time(o)
        dashed = end is None
        end = t1 if end is None else end
        x0 = x(o.invoke_time)
        w = max(x(end) - x0, 1.0)
        extra = ' stroke="%s" stroke-dasharray="3,2" fill-opacity="0.3"' % COLORS[INFO] \
            if dashed else ""
        body.append('<rect x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="%s"%s>'
                    '<title>%s</title></rect>'
                    % (x0, y, w, bar_h, COLORS.get(o.outcome, "#999"), extra,
                       escape(o.describe())))
    with open(out_path, "w", encoding="utf-8") as fh:
        fh.write(_svg_doc(width, height, body, title))
    return out_path


def latency(history, windows=(), out_path="latency.svg", title="shiplog latency",
            width=1400, height=500):
    """Scatter of latency (ms, log scale) against invoke time, by outcome.
    Info ops (no latency) are drawn as triangles along the top."""
    ops = _ops(history)
    windows = list(windows or ())
    if str(out_path).lower().endswith(".png"):
        return _latency_png(ops, windows, out_path, title)
    t0, t1 = _span(ops, windows)
    left, right, top, bottom = 70, 20, 60, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    lats = [o.latency * 1000 for o in ops if not math.isinf(o.complete_time)]
    lats = [v for v in lats if v > 0] or [1.0]
    lo = 10 ** math.floor(math.log10(min(lats)))
    hi = 10 ** math.ceil(math.log10(max(lats)))
    if hi <= lo:
        hi = lo * 10
    info_band = top + 6
    y_top = top + 18  # below the info band

    def x(t):
        return left + (t - t0) / (t1 - t0) * plot_w

    def y(ms):
        ms = max(ms, lo)
        return top + plot_h - (math.log10(ms) - math.log10(lo)) / \
            (math.log10(hi) - math.log10(lo)) * (top + plot_h - y_top)

    body = _legend(width - right - 340, 18)  # right-aligned: clear of the title
    body += _svg_windows(windows, t0, t1, x, top - 8, top + plot_h, top - 12)
    body += _svg_xaxis(t0, t1, x, top + plot_h, top)
    body.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>'
                % (left, top, left, top + plot_h))
    d = lo
    while d <= hi * 1.0001:
        body.append('<line x1="%d" y1="%.2f" x2="%d" y2="%.2f" stroke="#ddd"/>'
                    '<text x="%d" y="%.2f" font-size="10" text-anchor="end">%s</text>'
                    % (left, y(d), left + plot_w, y(d), left - 4, y(d) + 3, _fmt(d)))
        d *= 10
    body.append('<text x="14" y="%.2f" font-size="11" transform="rotate(-90 14 %.2f)" '
                'text-anchor="middle">latency (ms)</text>'
                % (top + plot_h / 2, top + plot_h / 2))
    body.append('<text x="%d" y="%.2f" font-size="9" text-anchor="end">info</text>'
                % (left - 4, info_band + 3))
    for o in ops:
        px = x(o.invoke_time)
        c = COLORS.get(o.outcome, "#999")
        tip = escape(o.describe())
        if math.isinf(o.complete_time):
            body.append('<path d="M%.2f %.2f l-3 5 h6 z" fill="%s"><title>%s</title></path>'
                        % (px, info_band - 2, c, tip))
        else:
            body.append('<circle cx="%.2f" cy="%.2f" r="2" fill="%s" fill-opacity="0.7">'
                        '<title>%s</title></circle>' % (px, y(o.latency * 1000), c, tip))
    with open(out_path, "w", encoding="utf-8") as fh:
        fh.write(_svg_doc(width, height, body, title))
    return out_path


# --- optional PNG output (matplotlib) ---------------------------------------

def _plt():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the machine
        raise RuntimeError("PNG output needs matplotlib; write .svg instead") from e
    return plt


def _png_windows(ax, windows, t0, t1):
    names = []
    for _, _, name in windows:
        if name not in names:
            names.append(name)
    for s, e, name in windows:
        e = t1 if e is None else e
        c = _window_color(name, names)
        ax.axvspan(s - t0, e - t0, color=c, alpha=0.18)
        ax.text(s - t0, 1.01, str(name), color=c, fontsize=8,
                transform=ax.get_xaxis_transform())


def _timeline_png(ops, windows, out_path, title):
    plt = _plt()
    t0, t1 = _span(ops, windows)
    procs = sorted({o.process for o in ops}, key=lambda p: (str(type(p)), p))
    lane = {p: k for k, p in enumerate(procs)}
    fig, ax = plt.subplots(figsize=(14, max(3, 0.25 * len(procs) + 1.5)))
    for o in ops:
        end = _end_time(o)
        end = t1 if end is None else end
        ax.barh(lane[o.process], max(end - o.invoke_time, 1e-6), left=o.invoke_time - t0,
                height=0.7, color=COLORS.get(o.outcome, "#999"))
    _png_windows(ax, windows, t0, t1)
    ax.set_yticks(range(len(procs)))
    ax.set_yticklabels(["p%s" % p for p in procs], fontsize=7)
    ax.invert_yaxis()  # first process on top, as in the SVG
    ax.set_xlabel("time (s)")
    ax.set_title(title, pad=14)
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)
    plt.close(fig)
    return out_path


def _latency_png(ops, windows, out_path, title):
    plt = _plt()
    t0, t1 = _span(ops, windows)
    fig, ax = plt.subplots(figsize=(14, 5))
    for outcome in (OK, FAIL):
        pts = [(o.invoke_time - t0, o.latency * 1000) for o in ops
               if o.outcome == outcome and not math.isinf(o.complete_time)]
        if pts:
            ax.scatter(*zip(*pts), s=4, color=COLORS[outcome], label=outcome)
    infos = [o.invoke_time - t0 for o in ops if math.isinf(o.complete_time)]
    if infos:
        ax.scatter(infos, [0.97] * len(infos), s=14, marker="v", color=COLORS[INFO],
                   label="info (no latency)", transform=ax.get_xaxis_transform(),
                   clip_on=False)
    _png_windows(ax, windows, t0, t1)
    ax.set_yscale("log")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("latency (ms)")
    ax.set_title(title, pad=14)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)
    plt.close(fig)
    return out_path
