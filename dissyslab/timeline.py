"""A space-time diagram of a traced run, drawn as SVG: ``g.timeline()``.

One vertical lane per node, in the order messages flow (senders left of their
receivers); time runs downwards, one row per event, in the order of the
trace (``seq``): the picture shows what happened before what, not how long
it took, as in Lamport's diagrams. A dot is a node handling one message (a
source producing it, another node taking it in), labelled with that message;
an arrow goes from the dot where a message was sent to the dot where it was
received. Drops, failures, discarded messages and each node's end are
marked, and so are faults (``faults.py``): a lost message's arrow ends in a
red cross, a crash is marked where it happened, and a duplicated message has
two arrows, one to each of its copies. A snapshot (``snapshots.py``) shows as a diamond where each node
recorded its state, a dashed arrow for each marker, and the *cut*: a dashed
line through the points where the nodes recorded. The SVG text is
deterministic: the same trace gives the same picture.

Time and order (``clocks.py``): ``focus=e`` rings event ``e``, tints its
causal past blue and its causal future orange, and fades what is concurrent
with it; ``clock="lamport"`` puts each event on the row of its Lamport clock
(events on one row have the same clock; the numbers on the left are the
clocks), so runs that differ only in timing give the same picture where
every node has one input edge; ``vectors=True`` writes each event's vector
clock under it. The live view is not affected.
"""

from html import escape

from .errors import short_repr
from .trace import edge_labels, flow_order, last_trace

#: colours of the lanes, by kind of node
COLOURS = {
    "source": "#17806d",
    "transform": "#2f64a8",
    "split": "#7a53b3",
    "merge_synch": "#b5650d",
    "sink": "#2e7d32",
}
FAIL = "#c62828"
SNAP = "#c2185b"  # snapshots: where nodes record their state, markers and the cut
PAST = "#1565c0"  # focus=e: what happened before e
FUTURE = "#ef6c00"  # focus=e: what e happened before
FADED = "0.22"  # focus=e: the opacity of what is concurrent with e
CLOCKS = ("wall", "lamport")
GREY = "#8b929c"
INK = "#1f2933"

ROW = 22  # pixels per event row
GUTTER = 46  # left margin with the event numbers
TITLE = 46
HEADER = 46
LABEL_CHARS = 30  # longest label, in characters (the last lane, with nothing to its right: 46)
CHAR = 6.6  # width of one character of the 11px monospace labels
MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace"
SANS = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, 'DejaVu Sans', sans-serif"


class Timeline:
    """A drawn timeline: ``.svg`` is the SVG text; Jupyter shows it as a picture."""

    def __init__(self, svg, shown, total, lanes):
        self.svg = svg
        self.shown = shown  # events drawn
        self.total = total  # events in the trace
        self.lanes = lanes  # node names, left to right

    def _repr_svg_(self):
        return self.svg

    def _repr_html_(self):
        """The picture fitted to the page: a wide one is scaled down, or scrolls (diagram.fitted_svg)."""
        from .diagram import fitted_html

        return fitted_html(self.svg)

    def save(self, path):
        """Write the SVG to a file (open it in a browser, or put it in a report)."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.svg)

    def __repr__(self):
        cut = "" if self.shown == self.total else f" of {self.total}"
        return f"<Timeline: {self.shown}{cut} events on {len(self.lanes)} lanes: {', '.join(self.lanes)}>"


def timeline(net, window=None, max_events=200, trace=None, *, focus=None, clock="wall",
             vectors=False):
    """Draw the last traced run of ``net`` (or ``trace``); see ``Network.timeline``."""
    name_of = _namer(net)
    if clock not in CLOCKS:
        raise ValueError(f"clock must be \"wall\" (events in the order they happened) or "
                         f"\"lamport\" (events placed by their Lamport clock); got {clock!r}.")
    if not isinstance(vectors, bool):
        raise ValueError(f"vectors must be True or False; got {vectors!r}.")
    if trace is None:
        trace = last_trace(net.last_run, clocks=False)
    order = None
    if focus is not None or clock == "lamport" or vectors:
        from .clocks import clocks_of

        order = _Order(clocks_of(trace), focus, clock == "lamport", vectors)
    records = list(trace)
    total = len(records)
    if window is not None:
        first, last = _check_window(window)
        shown = [r for r in records if first <= r.seq <= last]
        if not shown and records:
            raise ValueError(
                f"window={window!r} holds no events: this trace's events are numbered "
                f"{records[0].seq} to {records[-1].seq} (see g.trace)."
            )
    else:
        if max_events is not None and (isinstance(max_events, bool) or not isinstance(max_events, int)
                                       or max_events < 1):
            raise ValueError(f"max_events must be a whole number of at least 1 (or None for all), "
                             f"but got {max_events!r}.")
        shown = records if max_events is None else records[:max_events]
    if order is not None and order.focus is not None and not any(r.seq == order.focus for r in shown):
        raise ValueError(f"focus={focus!r}: event {order.focus} is not in the picture, which shows "
                         f"events {shown[0].seq} to {shown[-1].seq}; choose a window that holds it, "
                         f"like window=({max(order.focus - 20, 0)}, {order.focus + 20}).")
    return Timeline(_draw(net, trace, records, shown, order), len(shown), total,
                    [name_of(n) for n in _lanes(net)])


class _Order:
    """What ``focus``, ``clock`` and ``vectors`` ask of a drawing, with the trace's clocks."""

    def __init__(self, clocks, focus, lamport, vectors):
        self.clocks, self.lamport, self.vectors = clocks, lamport, vectors
        self.focus = None if focus is None else clocks.seq(focus, "focus")

    def side(self, seq):
        """Where event ``seq`` stands to the focus: "focus", "past", "future" or "concurrent"."""
        f = self.focus
        if seq == f:
            return "focus"
        if self.clocks.happened_before(seq, f):
            return "past"
        if self.clocks.happened_before(f, seq):
            return "future"
        return "concurrent"

    def of_group(self, g):
        if any(r.seq == self.focus for r in g.records):
            return "focus"
        return self.side(g.first.seq)

    def of_arrow(self, send, receive):
        """A message is in the past when its receive is; in the future when its send is."""
        if receive is not None and self.side(receive.seq) in ("past", "focus"):
            return "past"
        if self.side(send.seq) in ("future", "focus"):
            return "future"
        return "concurrent"

    def counts(self):
        sides = [self.side(r.seq) for r in self.clocks.records]
        return {k: sides.count(k) for k in ("past", "future", "concurrent")}


def _check_window(window):
    ok = (isinstance(window, (tuple, list)) and len(window) == 2
          and all(isinstance(v, int) and not isinstance(v, bool) for v in window)
          and window[0] <= window[1])
    if not ok:
        raise ValueError(
            f"window must be a pair (first, last) of event numbers (the seq column of g.trace), "
            f"first <= last, like window=(0, 40); got {window!r}."
        )
    return window


def _namer(net):
    """The network's name for a node (``net.name_of``), or else the node's own name."""
    return getattr(net, "name_of", None) or (lambda n: n.name)


def _lanes(net):
    """The nodes in the order messages flow: every sender left of its receivers (``flow_order``)."""
    return flow_order(net)


class _Group:
    """One row: an event of one node, with the sends, drop or failure that belong to it."""

    __slots__ = ("node", "first", "records", "row")

    def __init__(self, record, row):
        self.node = record.node
        self.first = record
        self.records = [record]
        self.row = row

    def has(self, event):
        return any(r.event == event for r in self.records)

    def mark(self):
        for event in ("fail", "drop", "discard", "lost", "crash", "duplicated", "end"):
            if self.has(event):
                return event
        return self.first.event  # "emit", "receive" or a lone "send"


def _group(records):
    groups, open_ = [], {}
    for r in records:
        g = open_.get(r.node)
        # a send belongs to the message being handled; a drop or failure too, except a
        # MergeSynch's leftovers (they have a note) and a source's failure
        attach = g is not None and (
            r.event == "send"
            or (g.first.event == "receive" and (r.event == "fail" or r.event == "drop" and r.note is None)))
        if attach:
            g.records.append(r)
            if r.event == "fail":
                del open_[r.node]
            continue
        g = _Group(r, len(groups))
        groups.append(g)
        if r.event in ("emit", "receive"):
            open_[r.node] = g
        else:
            open_.pop(r.node, None)
    return groups


def _label(g, chars):
    msg = g.first.message
    limit = chars - 8
    mark = g.mark()
    if mark == "end":
        return "end" if g.first.note is None else f"end ({g.first.note})"
    if mark == "record":
        return f"records its state ({g.first.note})"
    if mark == "marker":
        return f"marker ({g.first.note})"
    if mark == "fail":
        note = next(r.note for r in g.records if r.event == "fail")
        kind = note.split(":", 1)[0]
        return (f"{short_repr(msg, limit)} ✕ {kind}" if g.first.event == "receive" else f"✕ {kind}")
    if mark == "drop":
        note = next(r.note for r in g.records if r.event == "drop")
        return f"{short_repr(msg, limit)} {'never paired' if note else 'dropped'}"
    if mark == "discard":
        return f"{short_repr(msg, limit)} discarded"
    if mark == "lost":
        return f"{short_repr(msg, limit)} lost"
    if mark == "crash":
        return f"crashed ({g.first.note})"
    if mark == "duplicated":
        return f"{short_repr(msg, limit - 6)} arrives twice"
    return short_repr(msg, chars)


def _fit(text, chars):
    return text if len(text) <= chars else text[: max(chars - 1, 1)] + "…"


def _f(v):
    """A coordinate as short, stable text."""
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _draw(net, trace, records, shown, order=None):
    name_of = _namer(net)
    lanes = _lanes(net)
    groups = _group(shown)
    row_h = ROW
    clocks = order.clocks if order is not None else None
    if order is not None and order.lamport:  # one row per Lamport clock value that has events
        value = {id(g): clocks.lamport[g.first.seq] for g in groups}
        rank = {v: i for i, v in enumerate(sorted(set(value.values())))}
        for g in groups:
            g.row = rank[value[id(g)]]
        lane = {name_of(n): i for i, n in enumerate(lanes)}
        groups.sort(key=lambda g: (g.row, lane[g.node]))  # the same picture, the same SVG text
    if order is not None and order.vectors:
        row_h = ROW + 10  # room for the vector under each event
    rows = max((g.row for g in groups), default=-1) + 1
    chars = {name_of(n): LABEL_CHARS for n in lanes}
    if lanes:
        chars[name_of(lanes[-1])] = LABEL_CHARS + 16
    labels = {id(g): _label(g, chars[g.node]) for g in groups}
    vecs = {}  # vectors=True: the vector clock written under each event
    if order is not None and order.vectors:  # a lane is as wide as its longest vector, too
        vecs = {id(g): repr(clocks.vector[g.first.seq]) for g in groups}
        chars = {k: max(v, max([len(vecs[id(g)]) for g in groups if g.node == k] or [0]))
                 for k, v in chars.items()}

    # lane widths: room for the longest label on the lane and for the node's name
    width_of = {}
    for n in lanes:
        longest = max([max(len(labels[id(g)]), len(vecs.get(id(g), ""))) for g in groups
                       if g.node == name_of(n)] or [0])
        need = max(22 + longest * CHAR + 12, len(name_of(n)) * 7.6 + 18, 112)
        width_of[name_of(n)] = min(need, 22 + chars[name_of(n)] * CHAR + 12)
    x_of, x = {}, GUTTER
    for n in lanes:
        x_of[name_of(n)] = x + 12
        x += width_of[name_of(n)]
    what = f"seeded run, seed {trace.seed}" if trace.seed is not None else \
        "replayed schedule" if trace.schedule is not None else "threaded run"
    title = f"Timeline of a {what}"
    if trace.outcome not in (None, "finished"):
        title += f" (ended by {trace.outcome})"
    if len(shown) == len(records) and order is not None and order.lamport:
        sub = f"{len(records)} events, placed by their Lamport clocks (time runs down)"
    elif len(shown) == len(records):
        sub = f"{len(records)} events, one row each, in the order they happened (time runs down)"
    elif shown:
        sub = (f"events {shown[0].seq} to {shown[-1].seq} of {len(records)} (numbered 0 to "
               f"{records[-1].seq}): g.timeline(window=(first, last)) shows others")
    else:
        sub = "no events"
    more = []  # lines under the subtitle
    if order is not None and order.lamport:
        more.append("the numbers on the left are Lamport clocks: events on one row have the same clock")
    if order is not None and order.focus is not None:
        c = order.counts()
        r = clocks.records[order.focus]
        more.append(f"focus on event {order.focus} ({r.node} {r.event}): {c['past']} events "
                    f"happened before it, {c['future']} after it, {c['concurrent']} are concurrent")
    if order is not None and order.vectors:
        more.append(f"vector clocks count events of: {', '.join(clocks.nodes)}")
    head = TITLE + 14 * len(more)
    width = int(max(x + 12, GUTTER - 34 + max(len(t) for t in [sub, *more]) * 6.3 + 12, 480))
    snapshots = any(r.event == "record" for r in shown)
    faults = {r.event for r in shown} & {"lost", "crash"}
    legend, legend_h = _legend(width, snapshots, order is not None and order.focus is not None,
                               faults)
    top = head + HEADER
    y_of = {id(g): top + 14 + g.row * row_h for g in groups}
    bottom = top + 14 + max(rows - 1, 0) * row_h
    legend_y = bottom + 36
    height = legend_y + legend_h
    colour = {name_of(n): COLOURS.get(n.kind, INK) for n in lanes}
    kind = {name_of(n): n.kind for n in lanes}
    seeded = trace.stepped  # times are steps

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{SANS}" class="dissyslab-timeline">',
        "<defs>",
    ]
    focused = order is not None and order.focus is not None
    tints = [("past", PAST), ("future", FUTURE)] * focused
    for name, c in list(COLOURS.items()) + [("grey", GREY)] + [("snap", SNAP)] * snapshots + tints:
        out.append(f'<marker id="dsl-tl-head-{name}" viewBox="0 0 10 10" refX="9" refY="5" '
                   f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
                   f'<path d="M0,1 L10,5 L0,9 z" fill="{c}"/></marker>')
    out.append("</defs>")
    out.append(f'<rect width="{width}" height="{height}" fill="#ffffff"/>')

    out.append(f'<text x="{GUTTER - 34}" y="20" font-size="14" font-weight="600" fill="{INK}">'
               f'{escape(title)}</text>')
    out.append(f'<text x="{GUTTER - 34}" y="36" font-size="11" fill="{GREY}">{escape(sub)}</text>')
    for i, line in enumerate(more):
        out.append(f'<text x="{GUTTER - 34}" y="{36 + 14 * (i + 1)}" font-size="11" '
                   f'fill="{INK if line.startswith("focus") else GREY}">{escape(line)}</text>')

    # lanes and their headers
    for n in lanes:
        name, x = name_of(n), x_of[name_of(n)]
        c = colour[name]
        end = next((g for g in groups if g.node == name and g.mark() == "end"), None)
        y_end = y_of[id(end)] if end is not None else bottom + 10
        out.append(f'<line x1="{_f(x)}" y1="{top}" x2="{_f(x)}" y2="{_f(y_end)}" '
                   f'stroke="{c}" stroke-opacity="0.28" stroke-width="2.5"/>')
        room = int((width_of[name] - 10) / 7.6)
        out.append(f'<rect x="{_f(x - 9)}" y="{head + 4}" width="{_f(width_of[name] - 8)}" '
                   f'height="34" rx="6" fill="{c}" fill-opacity="0.09" stroke="{c}" '
                   f'stroke-opacity="0.45"/>')
        out.append(f'<text x="{_f(x - 2)}" y="{head + 19}" font-size="12.5" font-weight="600" '
                   f'fill="{c}">{escape(_fit(name, room))}</text>')
        out.append(f'<text x="{_f(x - 2)}" y="{head + 32}" font-size="10" fill="{GREY}">'
                   f'{escape(kind[name].replace("_", " "))}</text>')

    # event numbers in the gutter
    out.append(f'<g font-family="{MONO}" font-size="9.5" fill="#a3a9b2" text-anchor="end">')
    numbered = set()
    for g in groups:
        number = clocks.lamport[g.first.seq] if order is not None and order.lamport else g.first.seq
        if g.row not in numbered:
            numbered.add(g.row)
            out.append(f'<text x="{GUTTER - 6}" y="{_f(y_of[id(g)] + 3.5)}">{number}</text>')
    out.append("</g>")

    # arrows: the send and the receive of one message share (edge, index)
    labels_by_edge = dict(zip(edge_labels(net), net.edges, strict=True))
    sends, gets = {}, {}  # gets: a list, as a duplicated message is received twice
    for g in groups:
        for r in g.records:
            if r.event == "send":
                sends[(r.edge, r.index)] = (g, r)
            elif r.event in ("receive", "discard", "lost"):
                gets.setdefault((r.edge, r.index), []).append((g, r))
    out.append('<g fill="none" stroke-width="1.4">')
    def tinted(c, head, send, receive):
        """An arrow's colour and head when focus= asks: blue into the past, orange out to the future."""
        if not focused:
            return c, head, None
        side = order.of_arrow(send, receive)
        if side == "concurrent":
            return GREY, "dsl-tl-head-grey", FADED
        return (PAST, "dsl-tl-head-past", None) if side == "past" else (FUTURE, "dsl-tl-head-future",
                                                                         None)

    for key, (g, r) in sends.items():
        edge = labels_by_edge[r.edge]
        c, head = colour[name_of(edge.src)], f"dsl-tl-head-{kind[name_of(edge.src)]}"
        x1, y1 = x_of[g.node], y_of[id(g)]
        tip = f"{short_repr(r.message, 60)} along {r.edge} (message {r.index} on this edge)"
        for g2, r2 in gets.get(key, ()):
            x2, y2 = x_of[g2.node], y_of[id(g2)]
            c2, head2, dashed, more = c, head, r2.event != "receive", ""
            if r2.event == "discard":
                c2, head2 = GREY, "dsl-tl-head-grey"
                more = ", discarded: its receiver had failed"
            elif r2.event == "lost":  # it ends in a cross, short of its receiver
                c2, head2 = FAIL, None
                more = ", lost on the way (a fault)"
            elif len(gets[key]) > 1:
                more = ", duplicated on the way (a fault): this is one of its copies"
            c2, head2, fade = tinted(c2, head2, r, r2)
            out.append(_arrow(x1, y1, x2, y2, c2, head2, dashed, tip + more, opacity=fade))
        if key not in gets:  # received after the window, or never (the run was stopped): a stub
            later = _received_later(records, key)
            tip += {None: ", never received", "lost": ", lost later (a fault)"}.get(
                later, ", received later")
            dx, dy = _stub(x_of[name_of(edge.dst)] - x1, row=row_h)
            c, head, fade = tinted(c, head, r, None)
            out.append(_arrow(x1, y1, x1 + dx, y1 + dy, c, head, True, tip, to_dot=False,
                              opacity=fade))
    for key, got in gets.items():
        if key in sends:  # drawn above; the others were sent before the window
            continue
        g2, r2 = got[0]
        edge = labels_by_edge[r2.edge]
        c, head = colour[name_of(edge.src)], f"dsl-tl-head-{kind[name_of(edge.src)]}"
        tip = f"{short_repr(r2.message, 60)} along {r2.edge} (message {r2.index}), sent earlier"
        x2, y2 = x_of[g2.node], y_of[id(g2)]
        dx, dy = _stub(x2 - x_of[name_of(edge.src)], row=row_h)
        if focused and order.side(r2.seq) in ("past", "focus"):
            c, head = PAST, "dsl-tl-head-past"
        out.append(_arrow(x2 - dx, y2 - dy, x2, y2, c, head, True, tip, from_dot=False))
    out.extend(_snapshot_marks(net, groups, x_of, y_of))
    out.append("</g>")

    # the events
    for g in groups:
        x, y = x_of[g.node], y_of[id(g)]
        c = colour[g.node]
        mark = g.mark()
        tip = _tip(g, seeded, clocks)
        side = order.of_group(g) if focused else None
        faded = f' opacity="{FADED}"' if side == "concurrent" else ""
        out.append(f"<g{faded}><title>{escape(tip)}</title>")
        if side in ("past", "future"):
            out.append(f'<circle cx="{_f(x)}" cy="{_f(y)}" r="9.5" fill="'
                       f'{PAST if side == "past" else FUTURE}" fill-opacity="0.28"/>')
        elif side == "focus":
            out.append(f'<circle cx="{_f(x)}" cy="{_f(y)}" r="10" fill="#ffd54f" '
                       f'stroke="{INK}" stroke-width="2"/>')
        if mark == "end":
            out.append(f'<line x1="{_f(x - 8)}" y1="{_f(y)}" x2="{_f(x + 8)}" y2="{_f(y)}" '
                       f'stroke="{FAIL if g.first.note in ("failed", "crashed") else c}" '
                       f'stroke-width="3" '
                       f'stroke-linecap="round"/>')
        elif mark in ("fail", "crash"):
            out.append(f'<circle cx="{_f(x)}" cy="{_f(y)}" r="6.5" fill="{FAIL}"/>')
            out.append(_cross(x, y, 3, "#ffffff", 1.8))
        elif mark == "drop":
            out.append(f'<circle cx="{_f(x)}" cy="{_f(y)}" r="4.5" fill="#ffffff" '
                       f'stroke="{GREY}" stroke-width="1.6"/>')
            out.append(f'<line x1="{_f(x - 3)}" y1="{_f(y + 3)}" x2="{_f(x + 3)}" '
                       f'y2="{_f(y - 3)}" stroke="{GREY}" stroke-width="1.4"/>')
        elif mark == "discard":
            out.append(_cross(x, y, 4, GREY, 1.8))
        elif mark == "lost":
            out.append(_cross(x, y, 4.5, FAIL, 2.2))  # its arrow ends here
        elif mark == "duplicated":
            out.append(f'<circle cx="{_f(x)}" cy="{_f(y)}" r="4.5" fill="#ffffff" '
                       f'stroke="{c}" stroke-width="1.6"/>')
        elif mark in ("record", "marker"):
            out.append(_diamond(x, y, 6 if mark == "record" else 4.5, mark == "record"))
        else:
            out.append(f'<circle cx="{_f(x)}" cy="{_f(y)}" r="4.5" fill="{c}" '
                       f'stroke="#ffffff" stroke-width="1.5"/>')
        text = _fit(labels[id(g)], int((width_of[g.node] - 30) / CHAR))
        fill = (FAIL if mark in ("fail", "crash", "lost") else GREY if mark in ("drop", "discard", "end")
                else SNAP if mark in ("record", "marker") else INK)
        out.append(f'<text x="{_f(x + 10)}" y="{_f(y - 3)}" font-family="{MONO}" font-size="11" '
                   f'fill="{fill}" stroke="#ffffff" stroke-width="3" paint-order="stroke" '
                   f'stroke-linejoin="round">{escape(text)}</text>')
        if vecs:
            out.append(f'<text x="{_f(x + 10)}" y="{_f(y + 12)}" font-family="{MONO}" '
                       f'font-size="10" fill="{GREY}">{escape(vecs[id(g)])}</text>')
        out.append("</g>")

    out.append(f'<g transform="translate(0,{legend_y})">')
    out.extend(legend)
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def _snapshot_marks(net, groups, x_of, y_of):
    """Marker arrows (from where the sender recorded to where the marker was taken), and each cut."""
    name_of = _namer(net)
    labels_by_edge = dict(zip(edge_labels(net), net.edges, strict=True))
    recorded, cuts, out = {}, {}, []
    for g in groups:
        if g.first.event == "record":
            recorded[(g.node, g.first.note)] = g
            cuts.setdefault(g.first.note, []).append(g)
    for g in groups:
        r = g.first
        if r.event != "marker":
            continue
        sender = recorded.get((name_of(labels_by_edge[r.edge].src), r.note))
        if sender is not None:
            out.append(_arrow(x_of[sender.node], y_of[id(sender)], x_of[g.node], y_of[id(g)], SNAP,
                              "dsl-tl-head-snap", True, f"the marker of {r.note} along {r.edge}"))
    for note, points in cuts.items():  # the cut: through every lane's recording point
        points = sorted(points, key=lambda g: x_of[g.node])
        path = " ".join(f"{'M' if i == 0 else 'L'}{_f(x_of[g.node])},{_f(y_of[id(g)])}"
                        for i, g in enumerate(points))
        out.append(f'<path d="{path}" stroke="{SNAP}" stroke-width="2.2" stroke-opacity="0.55" '
                   f'stroke-dasharray="7 4"><title>the cut of {escape(note)}: each node recorded its '
                   f'state here; a message that crosses it downwards was in flight</title></path>')
    return out


def _diamond(x, y, r, filled):
    fill = SNAP if filled else "#ffffff"
    return (f'<path d="M{_f(x)},{_f(y - r)} L{_f(x + r)},{_f(y)} L{_f(x)},{_f(y + r)} '
            f'L{_f(x - r)},{_f(y)} z" fill="{fill}" stroke="{SNAP}" stroke-width="1.6"/>')


def _received_later(records, key):
    """What became of a message after the window: "receive", "discard", "lost", or None."""
    return next((r.event for r in records
                 if r.event in ("receive", "discard", "lost") and (r.edge, r.index) == key), None)


def _stub(dx, length=34.0, row=ROW):
    """The (dx, dy) of a short arrow pointing from a lane towards another lane, downwards."""
    dy = 2.0 * row
    n = (dx * dx + dy * dy) ** 0.5 or 1.0
    return dx * length / n, dy * length / n


def _arrow(x1, y1, x2, y2, colour, head, dashed, tip, from_dot=True, to_dot=True, opacity=None):
    """A straight arrow from a dot to a dot, stopping short of both."""
    dx, dy = x2 - x1, y2 - y1
    length = (dx * dx + dy * dy) ** 0.5 or 1.0
    start, stop = (6.0 if from_dot else 0.0), (7.5 if to_dot else 0.0)
    ax, ay = x1 + dx * start / length, y1 + dy * start / length
    bx, by = x2 - dx * stop / length, y2 - dy * stop / length
    dash = ' stroke-dasharray="4 3"' if dashed else ""
    tip_end = f' marker-end="url(#{head})"' if head else ""  # no head: it ends in a cross
    return (f'<path d="M{_f(ax)},{_f(ay)} L{_f(bx)},{_f(by)}" stroke="{colour}" '
            f'stroke-opacity="{opacity or "0.8"}"{dash}{tip_end}>'
            f'<title>{escape(tip)}</title></path>')


def _cross(x, y, r, colour, width):
    return (f'<path d="M{_f(x - r)},{_f(y - r)} L{_f(x + r)},{_f(y + r)} M{_f(x - r)},{_f(y + r)} '
            f'L{_f(x + r)},{_f(y - r)}" stroke="{colour}" stroke-width="{width}" '
            f'stroke-linecap="round"/>')


def _tip(g, seeded, clocks=None):
    parts = []
    for r in g.records:
        when = f"step {r.time}" if seeded else f"{r.time * 1000:.2f} ms"
        if clocks is not None:
            when += f", Lamport {clocks.lamport[r.seq]}, vector {clocks.vector[r.seq]!r}"
        text = f"#{r.seq} ({when}) {r.node} {r.event}"
        if r.event != "end":
            text += f" {short_repr(r.message, 80)}"
        if r.edge is not None:
            text += f" {'from' if r.event in ('receive', 'discard') else 'along'} {r.edge}"
        if r.note:
            text += f": {r.note}"
        parts.append(text)
    return "\n".join(parts)


def _legend(width, snapshots=False, focus=False, faults=()):
    """The key to the marks, wrapped to ``width``; returns (svg parts, height)."""
    c = COLOURS["transform"]
    items = [
        (f'<circle cx="0" cy="0" r="4.5" fill="{c}"/>', "handles a message"),
        (f'<path d="M-9,0 L8,0" stroke="{c}" stroke-width="1.4" '
         f'marker-end="url(#dsl-tl-head-transform)"/>', "message"),
        (f'<circle cx="0" cy="0" r="4.5" fill="#fff" stroke="{GREY}" stroke-width="1.6"/>'
         f'<line x1="-3" y1="3" x2="3" y2="-3" stroke="{GREY}" stroke-width="1.4"/>', "dropped"),
        (f'<circle cx="0" cy="0" r="6" fill="{FAIL}"/>' + _cross(0, 0, 2.8, "#fff", 1.7), "failed"),
        (_cross(0, 0, 4, GREY, 1.8), "discarded"),
        (f'<line x1="-7" y1="0" x2="7" y2="0" stroke="{c}" stroke-width="3" '
         f'stroke-linecap="round"/>', "end"),
        (f'<path d="M-9,0 L9,0" stroke="{GREY}" stroke-width="1.4" stroke-dasharray="4 3"/>',
         "from or to outside the picture"),
    ]
    if "lost" in faults:
        items.append((f'<path d="M-16,0 L-3,0" stroke="{FAIL}" stroke-width="1.4" '
                      f'stroke-dasharray="4 3"/>' + _cross(1, 0, 4, FAIL, 2), "lost (a fault)"))
    if "crash" in faults:
        items.append((f'<circle cx="0" cy="0" r="6" fill="{FAIL}"/>' + _cross(0, 0, 2.8, "#fff", 1.7),
                      "crashed (a fault)"))
    if snapshots:
        items += [(_diamond(0, 0, 6, True), "records its state"),
                  (f'<path d="M-9,0 L8,0" stroke="{SNAP}" stroke-width="1.4" stroke-dasharray="4 3" '
                   f'marker-end="url(#dsl-tl-head-snap)"/>', "marker"),
                  (f'<path d="M-9,0 L9,0" stroke="{SNAP}" stroke-width="2.2" stroke-opacity="0.55" '
                   f'stroke-dasharray="7 4"/>', "the cut")]
    if focus:
        items += [(f'<circle cx="0" cy="0" r="8" fill="#ffd54f" stroke="{INK}" stroke-width="2"/>',
                   "the focus"),
                  (f'<circle cx="0" cy="0" r="8" fill="{PAST}" fill-opacity="0.28"/>',
                   "happened before it"),
                  (f'<circle cx="0" cy="0" r="8" fill="{FUTURE}" fill-opacity="0.28"/>',
                   "happened after it"),
                  (f'<circle cx="0" cy="0" r="4.5" fill="{c}" opacity="{FADED}"/>', "concurrent")]
    out = [f'<g font-size="11" fill="{GREY}">']
    x, y = GUTTER - 20, 0
    for mark, text in items:  # each mark is drawn around (0, 0), its text after it
        step = 34 + len(text) * 6.2
        if x + step > width and x > GUTTER - 20:
            x, y = GUTTER - 20, y + 20
        out.append(f'<g transform="translate({_f(x)},{y})">{mark}'
                   f'<text x="14" y="4">{escape(text)}</text></g>')
        x += step
    out.append("</g>")
    return out, y + 22
