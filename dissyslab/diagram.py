"""Pictures of a network: a Graphviz diagram, a text rendering and a Mermaid rendering.

All three are drawn from one *plan* (which boxes and arrows to show, with large
fanouts grouped), so they always agree. graphviz is imported only inside the
functions that need it: ``import dissyslab`` stays free of it, and a missing
``dot`` program never breaks a lesson (see :func:`mimebundle`).
"""

import html
import importlib.util
import operator
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from itertools import pairwise
from types import SimpleNamespace

from .errors import cut, exception_text, short_repr
from .nodes import default_name, function_name
from .snapshots import check_drawable

__all__ = ["build", "svg", "dot_available", "text", "mermaid", "legend", "mimebundle"]

FONT = "Helvetica,Arial,sans-serif"
INK = "#1F2933"      # text
MUTED = "#52606D"    # secondary text
WIRE = "#5F6B7A"     # edges
ZERO_WIRE = "#AEB7C2"  # edges no message has crossed
FAIL = "#C2410C"     # failed nodes: a dark vermillion, readable on white

#: a fanout group bigger than this is drawn compactly when ``compact=None``
AUTO_COMPACT = 12
#: a group bigger than this is drawn compactly when ``compact=True``
FORCED_COMPACT = 5
#: branches of a compacted group drawn in full before the "more like this" box
KEEP = 3

INSTALL_DOT = (
    "To see it as a diagram, install Graphviz: `apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS) or `conda install -c conda-forge graphviz python-graphviz`."
)
INSTALL_PY = (
    "To see it as a diagram, install the graphviz Python package: `pip install graphviz` "
    "(or `conda install -c conda-forge python-graphviz`)."
)


@dataclass(frozen=True)
class Look:
    """How one kind of node is drawn: its shape and colours, and its Mermaid shape."""

    title: str
    role: str
    shape: str
    fill: str
    line: str
    mermaid: tuple


# Okabe-Ito hues (safe for colour-blind readers) as borders, with pale fills;
# the shapes alone already tell the kinds apart.
LOOKS = {
    "source": Look("Source", "makes messages", "cds", "#DCEAF7", "#0072B2", (">", "]")),
    "transform": Look("Transform", "changes each message", "box", "#FCEBCF", "#B7791F", ("(", ")")),
    "sink": Look("Sink", "collects results", "cylinder", "#D5EFE3", "#007A5A", ("[(", ")]")),
    "split": Look("Split", "item i goes to out_i", "plain", "#F6E0EC", "#A8467F", ("[/", "\\]")),
    "merge_synch": Look("MergeSynch", "one from each input, as a list", "plain",
                        "#E6E3F7", "#5B4FB0", ("[\\", "/]")),
    "network": Look("Sub-network", "a piece built once, used like a node", "plain",
                    "#EEF1F5", "#52606D", ("[[", "]]")),
}
#: the frame drawn round the nodes of a sub-network
CLUSTER = {"style": "rounded", "color": "#9AA5B1", "bgcolor": "#F7F9FB", "fontcolor": MUTED,
           "fontsize": "11", "labeljust": "l", "margin": "10"}

#: state -> (badge text, badge fill, badge text colour); the word is the cue, colour helps.
#: A node in state "waiting" is idle: it waits for a message (the word "waiting" is
#: kept for the messages that wait on an edge).
STATES = {
    "waiting": ("idle", "#FFFFFF", MUTED),
    "busy": ("\u25cf busy", "#FFD166", "#3D2B00"),
    "done": ("\u2713 done", "#CFE8D8", "#14532D"),
    "failed": ("\u2717 failed", FAIL, "#FFFFFF"),
    "stopped": ("\u25a0 stopped", "#7B8794", "#FFFFFF"),
}
#: states only a run with faults= has (faults.py): shown on nodes, not in the legend
FAULT_STATES = {"crashed": ("\u2717 crashed", FAIL, "#FFFFFF")}
#: which state a group of hidden nodes shows: the first one any of them is in
STATE_PRIORITY = ("failed", "crashed", "busy", "waiting", "stopped", "done")

BADGE_WIDTH, BADGE_HEIGHT = 70, 15
COUNT_WIDTH, COUNT_HEIGHT = 36, 13
COUNT_CELL = ' BGCOLOR="transparent"'
#: the cell for the messages waiting on an edge ("+99999 waiting" fits), drawn in this colour
WAIT_WIDTH = 64
WAIT_INK = "#B45309"
#: a snapshot's recorded states and messages in flight (``snapshot=``), as on the timeline
SNAP_INK = "#C2185B"


# --- public API --------------------------------------------------------------

def build(net, *, stats=False, states=None, edge_counts=None, waiting=None, compact=None,
          expand=True, snapshot=None, recorded=None, recording=None):
    """Draw ``net`` as a ``graphviz.Digraph``, left to right.

    ``stats=True``: each node's counters from the last run, failed nodes
    marked with their error, and each edge's message count.
    ``states``: ``{node name: "waiting"|"busy"|"done"|"failed"|"stopped"}``
    shown as a badge on each node (for the live view).
    ``edge_counts``: ``{Edge: int}``, shown on each edge.
    ``waiting``: ``{Edge: int}``, the messages sent along each edge that its
    receiver has not taken yet. Each edge then shows the messages that
    passed (``edge_counts`` minus ``waiting``) and, when any wait, "+N waiting"
    in a second cell that is always there, so the layout never changes.
    With ``stats=True`` it comes from the last run when any message waits there.
    ``compact``: group big fanouts (None: when more than 12 alike, True:
    more than 5, False: never, or a number of your own).
    ``expand``: draw each sub-network as a labelled frame holding its nodes
    (True), or as one box with its inputs and outputs (False).
    ``snapshot``: a :class:`~dissyslab.Snapshot`: each node shows the state it
    recorded, and each edge the messages recorded in flight on it.
    The layout depends only on the network and the options given, never on
    the values in ``states`` or ``edge_counts``, so a live view does not jump.
    """
    _diagram_class()  # first, so a missing graphviz package fails before any work
    return digraph(picture(net, stats=stats, states=states, edge_counts=edge_counts,
                           waiting=waiting, compact=compact, expand=expand, snapshot=snapshot,
                           recorded=recorded, recording=recording))


@dataclass(frozen=True)
class Picture:
    """What :func:`build` draws, as plain values, before any of it is written as DOT.

    Two pictures with the same :attr:`key` give the same DOT text, so the
    live view can keep a laid-out picture without writing DOT for it again.
    """

    summary: str
    label: tuple  # the graph's own (attribute, value) pairs: a note under it, or nothing
    nodes: tuple  # (box id, ((attribute, value), ...)) for each box
    edges: tuple  # (tail, head, ((attribute, value), ...)) for each arrow
    arrows: tuple = field(compare=False)  # the network edges each arrow stands for
    #: (frame id, label, parent frame id or None, box ids) for each sub-network drawn as a frame
    clusters: tuple = ()

    @property
    def key(self):
        return (self.label, self.nodes, self.edges, self.clusters)


def picture(net, *, stats=False, states=None, edge_counts=None, waiting=None, compact=None,
            expand=True, snapshot=None, recorded=None, recording=None):
    """The :class:`Picture` :func:`build` draws, with the same options."""
    if snapshot is not None:
        check_drawable(net, snapshot)
    failures = {f.name: f for f in getattr(net, "failures", ())} if stats else {}
    if stats and edge_counts is None:
        edge_counts = getattr(net, "edge_counts", None)
        if waiting is None and edge_counts is not None:
            waiting = waiting_counts(net) or None  # only when some message waits
    if edge_counts is None:
        waiting = None
    plan = _plan(net, _threshold(compact), pinned=set(failures), expand=expand)
    # faults (faults.py): the messages lost along each edge, said on it
    lost = {e: n for e, n in (getattr(net, "edge_lost", None) or {}).items() if n} if stats else {}
    view = _View(net, stats, states, edge_counts, failures, waiting, snapshot,
                 set(recorded or ()), set(recording or ()), lost)
    label = ()
    if stats and not _has_run(net):
        label = (("label", "not run yet: every counter is 0"), ("labelloc", "b"),
                 ("fontsize", "10"), ("fontcolor", MUTED))
    nodes = tuple((box.id, tuple(_node_attrs(box, view).items())) for box in plan.boxes)
    edges = tuple((_box_ref(link.src, "out", link.src_port),
                   _box_ref(link.dst, "in", link.dst_port),
                   tuple(_edge_attrs(link, view).items())) for link in plan.links)
    ends = _piece_ends(net, plan)
    nodes += tuple((end_id, attrs) for end_id, attrs, _ in ends)
    edges += tuple(edge for *_, edge in ends)
    return Picture(
        summary=_count_words(len(net.nodes), "node") + ", " + _count_words(len(net.edges), "edge"),
        label=label, nodes=nodes, edges=edges,
        arrows=tuple(tuple(link.edges) for link in plan.links),
        clusters=_clusters(net, plan) if expand else ())


def digraph(pic):
    """A :class:`Picture` written as a ``graphviz.Digraph`` (what :func:`build` returns)."""
    Diagram = _diagram_class()
    g = Diagram("network", graph_attr=_GRAPH, node_attr=_NODE, edge_attr=_EDGE)
    g.summary = pic.summary
    g.arrows = list(pic.arrows)
    if pic.label:
        g.attr(**dict(pic.label))
    attrs_of = dict(pic.nodes)
    framed = {box_id for *_, ids in pic.clusters for box_id in ids}
    for box_id, attrs in pic.nodes:
        if box_id not in framed:
            g.node(box_id, **dict(attrs))

    def frame(into, parent):
        for cid, label, up, ids in pic.clusters:
            if up == parent:
                with into.subgraph(name=cid) as c:
                    c.attr(label=label, id=cid, **CLUSTER)
                    for box_id in ids:
                        c.node(box_id, **dict(attrs_of[box_id]))
                    frame(c, cid)

    frame(g, None)
    for tail, head, attrs in pic.edges:
        g.edge(tail, head, **dict(attrs))
    return g


_Diagram = None


def _diagram_class():
    """``graphviz.Digraph`` with a repr free of memory addresses (Jupyter shows it as text/plain)."""
    global _Diagram
    if _Diagram is None:
        import graphviz

        class Diagram(graphviz.Digraph):
            summary = ""
            arrows = ()  # the network edges each arrow stands for, in drawing order

            def __repr__(self):
                return f"<diagram: {self.summary}>" if self.summary else f"<diagram: {self.name}>"

            def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
                # the picture as HTML too, fitted to the page (a wide one is scaled or scrolls)
                bundle = super()._repr_mimebundle_(include, exclude, **kwargs)
                if "image/svg+xml" in bundle and (not include or "text/html" in include) and (
                        not exclude or "text/html" not in exclude):
                    bundle["text/html"] = fitted_html(bundle["image/svg+xml"])
                return bundle

        _Diagram = Diagram
    return _Diagram


def _count_words(n, noun):
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _box_ref(box, direction, port):
    """The DOT endpoint of a box: ``id``, or ``id:out_0:e`` for a port."""
    if port is None:
        return box.id
    return f"{box.id}:{direction}_{port}:{'e' if direction == 'out' else 'w'}"


def svg(digraph):
    """Render a Digraph to SVG text with ``dot``; the same graph always gives the same text."""
    import graphviz

    try:
        out = digraph.pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound as exc:
        raise DotNotFound(
            "Graphviz's `dot` program was not found, so the diagram cannot be drawn. "
            + INSTALL_DOT
        ) from exc
    return re.sub(r"<!-- Generated by graphviz[^>]*-->\n?", "", out)


#: a picture wider than the page is scaled down to fit, but no further than keeps its smallest
#: text this many pixels high: past that, it scrolls sideways
MIN_TEXT_PX = 8
_SVG_TAG = re.compile(r"<svg\b[^>]*>")
_SIZE = re.compile(r'\swidth="([0-9.]+)(pt|px)?"')
_VIEW_WIDTH = re.compile(r'\sviewBox="[-0-9.]+[ ,]+[-0-9.]+[ ,]+([0-9.]+)')
_FONT = re.compile(r'font-size(?:="|:\s*)([0-9.]+)')


def least_scale(svg: str) -> float:
    """How far ``svg`` may be scaled down: its smallest text stays :data:`MIN_TEXT_PX` high."""
    tag = _SVG_TAG.search(svg)
    size = _SIZE.search(tag.group(0)) if tag else None
    fonts = [float(f) for f in _FONT.findall(svg) if float(f) > 0]
    if size is None or not fonts:
        return 1.0
    px = float(size.group(1)) * (4 / 3 if size.group(2) == "pt" else 1)
    view = _VIEW_WIDTH.search(tag.group(0))
    px_per_unit = px / float(view.group(1)) if view and float(view.group(1)) else (
        4 / 3 if size.group(2) == "pt" else 1)
    return min(1.0, MIN_TEXT_PX / (min(fonts) * px_per_unit))


def fitted_svg(svg: str) -> str:
    """``svg`` (from its ``<svg`` tag on) sized to fit the page, in inline styles only.

    Its width is at most the page's (it is scaled down, keeping its shape) and
    at least what keeps its smallest text readable (:func:`least_scale`); the
    styles are inline, so that the picture fits wherever the page's style
    sheets are stripped (GitHub).
    """
    start = svg.find("<svg")
    svg = svg[max(start, 0):]  # the XML prologue has no place inside HTML
    tag = _SVG_TAG.match(svg)
    size = _SIZE.search(tag.group(0)) if tag else None
    if size is None:
        return svg
    px = float(size.group(1)) * (4 / 3 if size.group(2) == "pt" else 1)
    style = f"max-width:100%;height:auto;min-width:{round(px * least_scale(svg))}px"
    opened = tag.group(0)
    opened = (re.sub(r'\sstyle="', f' style="{style};', opened, count=1) if ' style="' in opened
              else opened[:4] + f' style="{style}"' + opened[4:])
    return opened + svg[tag.end():]


def fitted_html(svg: str) -> str:
    """HTML showing ``svg`` as wide as the page at most (its text readable), else scrolling."""
    return (f'<div class="dsl-picture" style="overflow-x:auto;width:0;min-width:100%">'
            f'{fitted_svg(svg)}</div>')


class DotNotFound(RuntimeError):
    """The Graphviz ``dot`` program is not installed (or not on PATH)."""


def dot_available():
    """True when the Graphviz ``dot`` program can be found on PATH."""
    path = os.environ.get("PATH", "")
    if path in _dot_found_on:  # each live view asks: looking costs more than its drawing
        return True
    found = shutil.which("dot") is not None
    if found:
        _dot_found_on.add(path)
    return found


_dot_found_on = set()  # the PATH values dot was found on


def graphviz_package_available():
    """True when the graphviz Python package can be imported (without importing it)."""
    return sys.modules.get("graphviz") is not None or importlib.util.find_spec("graphviz") is not None


def text(net, *, stats=False, compact=None):
    """A readable text picture: each node with where it sends, then the paths."""
    failures = {f.name: f for f in getattr(net, "failures", ())} if stats else {}
    plan = _plan(net, _threshold(compact), pinned=set(failures))
    view = _View(net, stats, None, None, failures, None)
    width = max(len(b.kind) for b in plan.boxes)
    piece = bool(getattr(net, "inputs", None) or getattr(net, "outputs", None))
    what = f"sub-network '{net.name}'" if piece else "network"
    lines = [f"{what}: {_plural(len(net.nodes), 'node')}, {_plural(len(net.edges), 'edge')}"
             " (read each arrow as 'sends to')", ""]
    for box in plan.boxes:
        head = f"{box.kind:<{width}}  {box.name}"
        if box.detail:
            head += f"  [{box.detail}]"
        lines.append(head)
        indent = " " * (width + 4)
        if view.stats:
            counters = _counters(box, view)
            if counters:
                lines.append(f"{indent}{counters}")
            for row in _error_rows(box, view):
                lines.append(f"{indent}\u2717 {row}")
        for link in plan.out_links(box):
            port = f"out_{link.src_port} " if link.src_port is not None else ""
            dst = link.dst.name if link.dst_port is None else f"{link.dst.name}.in_{link.dst_port}"
            many = f"  ({link.multiplicity} edges)" if link.multiplicity > 1 else ""
            lines.append(f"{indent}{port}\u2192 {dst}{many}")
    if piece:
        name = _namer(net)
        lines.append("")
        for direction, have in (("in", net.inputs), ("out", net.outputs)):
            words = ", ".join(f"{direction}_{i} {'→ ' if direction == 'in' else '← '}{name(n)}"
                              + ("" if p is None else f".{direction}_{p}")
                              for i, (n, p) in enumerate(have))
            lines.append(f"{'inputs' if direction == 'in' else 'outputs'}: {words or 'none'}")
        return "\n".join(lines)
    lines += ["", *_path_lines(net)]
    return "\n".join(lines)


def mermaid(net, *, compact=None, expand=True):
    """The network as a Mermaid flowchart (for front ends without Graphviz).

    Each sub-network is a Mermaid subgraph holding its nodes (``expand=False``: one box).
    """
    plan = _plan(net, _threshold(compact), pinned=set(), expand=expand)
    clusters = _clusters(net, plan) if expand else ()
    lines = ["flowchart LR"]
    by_id = {box.id: box for box in plan.boxes}

    def box_line(box, indent):
        look = LOOKS[box.kind]
        label = _mermaid_text(box.label)
        if box.detail:
            label += "<br/><small>" + _mermaid_text(box.detail) + "</small>"
        shape = ("[[", "]]") if box.members else look.mermaid
        return f'{indent}{_mermaid_id(box)}{shape[0]}"{label}"{shape[1]}'

    framed = {box_id for *_, ids in clusters for box_id in ids}
    lines += [box_line(box, "    ") for box in plan.boxes if box.id not in framed]

    def frame(parent, depth):
        for cid, label, up, ids in clusters:
            if up == parent:
                indent = "    " * (depth + 1)
                lines.append(f'{indent}subgraph {cid} ["{_mermaid_text(label)}"]')
                lines.extend(box_line(by_id[box_id], indent + "    ") for box_id in ids)
                frame(cid, depth + 1)
                lines.append(f"{indent}end")

    frame(None, 0)
    for link in plan.links:
        words = []
        if link.src_port is not None:
            words.append(f"out_{link.src_port}")
        if link.dst_port is not None:
            words.append(f"in_{link.dst_port}")
        if link.multiplicity > 1:
            words.append(f"\u00d7{link.multiplicity}")
        arrow = f'-->|"{" ".join(words)}"|' if words else "-->"
        lines.append(f"    {_mermaid_id(link.src)} {arrow} {_mermaid_id(link.dst)}")
    for kind, look in LOOKS.items():
        ids = [_mermaid_id(b) for b in plan.boxes if b.kind == kind]
        if ids:
            lines.append(f"    classDef {kind} fill:{look.fill},stroke:{look.line},color:{INK}")
            lines.append(f"    class {','.join(ids)} {kind}")
    return "\n".join(lines)


def legend(*, states=False, snapshots=False):
    """A small key to the pictures: one node of each kind.

    ``states=True`` adds what the live view and ``g.diagram(stats=True)`` show
    too: each state a node can be in (idle, busy, done, failed, stopped) and
    what the numbers on an arrow mean (messages that passed, messages waiting).
    ``snapshots=True`` adds what the live view shows while a snapshot is being
    taken: a node that has recorded its state, an arrow whose messages are
    being recorded.
    """
    g = _diagram_class()("legend", graph_attr={**_GRAPH, "nodesep": "0.15", "ranksep": "0.25"},
                         node_attr=_NODE, edge_attr=_EDGE)
    g.attr(rankdir="TB")
    samples = [
        _Box("legend_source", "source", "Source", LOOKS["source"].role),
        _Box("legend_transform", "transform", "Transform", LOOKS["transform"].role),
        _Box("legend_sink", "sink", "Sink", LOOKS["sink"].role),
        _Box("legend_split", "split", "Split", LOOKS["split"].role, ports=2),
        _Box("legend_merge", "merge_synch", "MergeSynch", LOOKS["merge_synch"].role, ports=2),
        _Box("legend_more", "transform", "\u2026 97 more like this", "a big fanout, grouped",
             members=[SimpleNamespace(name=f"worker_{i}") for i in range(3, 100)]),
        _Box("legend_network", "network", "Sub-network", LOOKS["network"].role,
             members=[SimpleNamespace(name="piece/node")], in_ports=1, out_ports=2),
    ]
    view = _View(None, False, None, None, {})
    with g.subgraph(name="kinds") as row:
        row.attr(rank="same")
        for box in samples:
            row.node(box.id, **_node_attrs(box, view))
    for a, b in pairwise(samples):
        g.edge(a.id, b.id, style="invis")
    if states:
        with g.subgraph(name="states") as row:
            row.attr(rank="same")
            for state in STATES:
                row.node(f"legend_{state}", label=_html(_badge(state)), shape="plain",
                         tooltip=STATE_MEANINGS[state])
            row.node("legend_states_note", shape="plain", label=_html(
                f'<FONT POINT-SIZE="9" COLOR="{MUTED}">{_esc(_STATES_NOTE)}</FONT>'))
        g.edge(samples[0].id, "legend_waiting", style="invis")
        names = [f"legend_{s}" for s in STATES] + ["legend_states_note"]
        for a, b in pairwise(names):
            g.edge(a, b, style="invis")
        above = "legend_waiting"
        for i, (passed, wait, meaning) in enumerate(EDGE_SAMPLES):
            key = f"sample_{i}"
            link = SimpleNamespace(multiplicity=1, edges=[key])
            marks = _View(None, False, None, {key: passed + wait}, {}, {key: wait})
            tail, head = f"legend_edge_{i}", f"legend_edge_{i}_meaning"
            with g.subgraph(name=f"edge_{i}") as row:
                row.attr(rank="same")
                row.node(tail, shape="point", width="0.06", color=WIRE)
                row.node(head, shape="plain", label=_html(
                    f'<TABLE BORDER="0" CELLPADDING="0" CELLSPACING="0"><TR><TD WIDTH="6"></TD>'
                    f'<TD><FONT POINT-SIZE="9" COLOR="{INK}">{_esc(meaning)}</FONT></TD>'
                    f'</TR></TABLE>'))
                row.edge(tail, head, minlen="3", **_edge_attrs(link, marks))
            g.edge(above, tail, style="invis")
            above = tail
    if snapshots:
        # while a snapshot is being taken (snapshots.py): a node that has recorded, an edge
        # whose messages are being recorded as in flight
        box = _Box("legend_recorded", "transform", "recorded", SNAP_MEANINGS[0])
        link = SimpleNamespace(multiplicity=1, edges=["snap"])
        marks = _View(None, False, {"recorded": "busy"}, None, {}, recorded={"recorded"},
                      recording={"snap"})
        with g.subgraph(name="snapshot") as row:
            row.attr(rank="same")
            row.node(box.id, **_node_attrs(box, marks))
            row.node("legend_snap_tail", shape="point", width="0.06", color=SNAP_INK)
            row.node("legend_snap_meaning", shape="plain", label=_html(
                f'<TABLE BORDER="0" CELLPADDING="0" CELLSPACING="0"><TR><TD WIDTH="6"></TD>'
                f'<TD><FONT POINT-SIZE="9" COLOR="{INK}">{_esc(SNAP_MEANINGS[1])}</FONT></TD>'
                f'</TR></TABLE>'))
            row.edge("legend_snap_tail", "legend_snap_meaning", minlen="3", **_edge_attrs(link, marks))
        g.edge(above if states else samples[0].id, box.id, style="invis")
    return g


#: what the live view shows while a snapshot is being taken: a node, an arrow
SNAP_MEANINGS = ("\u25c6: it has recorded its state for a snapshot being taken",
                 "its messages are being recorded: they were in flight when the snapshot's cut "
                 "went through")


#: what each node state means, as the legend's tooltips say it
STATE_MEANINGS = {
    "waiting": "idle: waiting for a message (or not started yet)",
    "busy": "busy: inside its function, working on a message",
    "done": "done: its stream has ended and everything it got is handled",
    "failed": "failed: its function raised an error; it throws away what still arrives",
    "stopped": "stopped: the run was stopped (a timeout or an interrupt) before it ended",
}
_STATES_NOTE = "a node's state while the network runs: idle, busy, then done"
#: the arrows the legend shows: (messages that passed, messages waiting, what it means)
EDGE_SAMPLES = (
    (12, 0, "12 messages passed along this edge"),
    (7, 5, "7 passed; 5 more were sent and wait in the queue of the node it points to"),
    (0, 0, "a pale arrow: no message has crossed it yet"),
)


def mimebundle(net, include=None, exclude=None):
    """What Jupyter shows for a network: an SVG diagram, else text + Mermaid + how to get Graphviz.

    Never raises: a lesson must not stop because a picture could not be drawn.
    """
    try:
        bundle = _rich_bundle(net)
    except Exception:  # the last resort: whatever went wrong, show the plain repr
        bundle = {"text/plain": _safe_repr(net)}
    if include:
        bundle = {k: v for k, v in bundle.items() if k in include}
    if exclude:
        bundle = {k: v for k, v in bundle.items() if k not in exclude}
    return bundle


def _rich_bundle(net):
    if not graphviz_package_available():
        problem = "The graphviz Python package is not installed, so this is a simpler picture. " + INSTALL_PY
    elif not dot_available():
        problem = "Graphviz's `dot` program is not installed, so this is a simpler picture. " + INSTALL_DOT
    else:
        try:
            picture = svg(build(net))
            return {"text/html": fitted_html(picture), "image/svg+xml": picture,
                    "text/plain": text(net)}
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
            problem = (f"Graphviz could not draw this network ({type(exc).__name__}"
                       f"{': ' + reason if reason else ''}), so this is a simpler picture. "
                       "`python -m dissyslab doctor` checks your setup.")
    return {
        "text/plain": f"{text(net)}\n\n{problem}",
        "text/markdown": f"```mermaid\n{mermaid(net)}\n```\n\n{problem}",
    }


def _safe_repr(net):
    try:
        return repr(net)
    except Exception:
        return "<network>"


# --- the plan: which boxes and arrows to draw --------------------------------

@dataclass(eq=False)
class _Box:
    """One box in a picture: a node, or a group of alike nodes shown as one."""

    id: str
    kind: str
    name: str
    detail: str = ""
    node: object = None
    ports: int = 0
    members: list = field(default_factory=list)  # the hidden nodes a group box stands for
    member_names: list = field(default_factory=list)  # their names in the network
    label: str = None  # the name written in the box (inside a frame, without the frame's name)
    in_ports: int = 0  # a sub-network drawn as one box: its inputs and outputs
    out_ports: int = 0
    part: object = None  # and its Part

    def __post_init__(self):
        if self.members and not self.member_names:
            self.member_names = [m.name for m in self.members]
        if self.label is None:
            self.label = self.name


@dataclass(eq=False)
class _Link:
    """One arrow: a network edge, or, next to a group box, all the edges it stands for."""

    src: _Box
    dst: _Box
    src_port: int = None
    dst_port: int = None
    edges: list = field(default_factory=list)
    multiplicity: int = 1


@dataclass
class _Plan:
    boxes: list
    links: list

    def out_links(self, box):
        return [link for link in self.links if link.src is box]


def _threshold(compact):
    if compact is None:
        return AUTO_COMPACT
    if compact is True:
        return FORCED_COMPACT
    if compact is False:
        return None
    if isinstance(compact, int) and compact >= 1:
        return compact
    raise ValueError(
        f"compact= must be None (group fanouts of more than {AUTO_COMPACT} alike nodes), "
        f"True, False, or a whole number of at least 1, but got {compact!r}."
    )


def _plan(net, threshold, pinned, expand=True):
    """Decide the boxes and arrows; ``pinned`` names nodes that must stay visible."""
    parts = getattr(net, "parts", None) or []
    if parts and not expand:
        return _collapsed_plan(net, [p for p in parts if p.parent is None])
    name = _namer(net)
    ids = node_ids(net.nodes, name)
    ins = {name(n): [] for n in net.nodes}
    outs = {name(n): [] for n in net.nodes}
    for e in net.edges:
        outs[name(e.src)].append(e)
        ins[name(e.dst)].append(e)

    group_of = {}  # hidden node name -> its group box
    boxes_first = {}  # name of the first hidden node at a branch position -> group box
    taken = set(ids.values())
    if threshold is not None:
        for branches in _alike_groups(net, threshold, ins, outs, name):
            if any(name(m) in group_of for m in branches[0]):
                continue
            keep = [b for i, b in enumerate(branches)
                    if i < KEEP or any(name(m) in pinned for m in b)]
            hidden = [b for b in branches if b not in keep]
            if len(hidden) < 2:
                continue
            for pos in range(len(hidden[0])):
                column = [b[pos] for b in hidden]
                first = column[0]
                box_id = _unique(f"{ids[name(first)]}__more", taken)
                more = f"\u2026 {len(column)} more" + (" like this" if pos == 0 else "")
                box = _Box(box_id, first.kind, more, f"{name(first)} \u2026 {name(column[-1])}",
                           ports=_ports(first), members=column,
                           member_names=[name(m) for m in column])
                boxes_first[name(first)] = box
                for m in column:
                    group_of[name(m)] = box

    boxes, box_of = [], {}
    for n in net.nodes:
        if name(n) in group_of:
            if name(n) in boxes_first:
                boxes.append(boxes_first[name(n)])
            continue
        box = _Box(ids[name(n)], n.kind, name(n), node_detail(n, _short_name(net, n)), node=n,
                   ports=_ports(n), label=_short_name(net, n))
        boxes.append(box)
        box_of[name(n)] = box

    links, merged = [], {}
    for e in net.edges:
        src = box_of.get(name(e.src)) or group_of[name(e.src)]
        dst = box_of.get(name(e.dst)) or group_of[name(e.dst)]
        if src.members or dst.members:
            key = (src.id, e.src_port, dst.id, e.dst_port)
            if key in merged:
                merged[key].edges.append(e)
                merged[key].multiplicity += 1
                continue
            link = merged[key] = _Link(src, dst, e.src_port, e.dst_port, [e])
        else:
            link = _Link(src, dst, e.src_port, e.dst_port, [e])
        links.append(link)
    return _Plan(boxes, links)


def _piece_ends(net, plan):
    """A sub-network drawn on its own: a small ``in_k`` / ``out_k`` mark at each input and output.

    Returns (mark id, its attributes, the dashed arrow joining it to its node) for each.
    """
    if not (getattr(net, "inputs", None) or getattr(net, "outputs", None)):
        return ()
    box_of = {id(b.node): b for b in plan.boxes if b.node is not None}
    for b in plan.boxes:
        for m in b.members:
            box_of.setdefault(id(m), b)
    taken = {b.id for b in plan.boxes}
    look = (("shape", "plaintext"), ("fontsize", "9"), ("fontcolor", MUTED))
    arrow = (("style", "dashed"), ("color", MUTED))
    ends = []
    for direction, have in (("in", net.inputs), ("out", net.outputs)):
        for i, (node, port) in enumerate(have):
            mark = _unique(f"{direction}_{i}", taken)
            box = box_of[id(node)]
            ref = _box_ref(box, direction, port)
            edge = (mark, ref, arrow) if direction == "in" else (ref, mark, arrow)
            ends.append((mark, (("label", f"{direction}_{i}"), *look), edge))
    return tuple(ends)


def _short_name(net, node):
    """A node's name inside the frame of its sub-network: ``strip`` for ``cleaner/strip``."""
    name = _namer(net)(node)
    part = net.part_of(node) if getattr(net, "parts", None) else None
    return name[len(part) + 1:] if part and name.startswith(part + "/") else name


def _part_label(part):
    """A frame's label: the sub-network's name, without the name of the frame around it."""
    return part.name[len(part.parent) + 1:] if part.parent else part.name


def _clusters(net, plan):
    """The frames to draw round the boxes of each sub-network (innermost frame per box)."""
    parts = getattr(net, "parts", None) or []
    if not parts:
        return ()
    ids = node_ids(parts, operator.attrgetter("name"))
    cid = {p.name: "cluster_" + ids[p.name] for p in parts}
    parent = {p.name: p.parent for p in parts}
    held_by = {p.name: {id(n) for n in p.nodes} for p in parts}
    innermost = {id(n): p.name for p in parts for n in p.nodes}  # outer parts come first
    inner = {}  # box id -> the innermost part holding all it stands for
    for box in plan.boxes:
        held = box.members or [box.node]
        found = innermost.get(id(held[0]))
        while found is not None and not all(id(m) in held_by[found] for m in held):
            found = parent[found]
        if found is not None:
            inner[box.id] = found
    return tuple((cid[p.name], _part_label(p), cid[p.parent] if p.parent else None,
                  tuple(b.id for b in plan.boxes if inner.get(b.id) == p.name)) for p in parts)


def _collapsed_plan(net, parts):
    """The plan with each outer sub-network drawn as one box (``expand=False``)."""
    name = _namer(net)
    part_of, taken, boxes, box_of = {}, set(), [], {}
    for p in parts:
        for n in p.nodes:
            part_of[id(n)] = p
    ids = node_ids([n for n in net.nodes if id(n) not in part_of], name)
    taken.update(ids.values())
    part_box = {}
    for n in net.nodes:
        p = part_of.get(id(n))
        if p is None:
            box = _Box(ids[name(n)], n.kind, name(n), node_detail(n, name(n)), node=n, ports=_ports(n))
            box_of[id(n)] = box
            boxes.append(box)
        elif p.name not in part_box:
            slug = re.sub(r"[^A-Za-z0-9_]+", "_", p.name).strip("_") or "network"
            box = _Box(_unique(slug, taken), "network", p.name, _count_words(len(p.nodes), "node"),
                       members=list(p.nodes), member_names=[name(m) for m in p.nodes],
                       in_ports=len(p.network.inputs), out_ports=len(p.network.outputs), part=p)
            part_box[p.name] = box
            boxes.append(box)
    for p in parts:
        for n in p.nodes:
            box_of[id(n)] = part_box[p.name]

    def port_of(box, node, port, direction):
        if box.kind != "network":
            return port
        have = box.part.network.inputs if direction == "in" else box.part.network.outputs
        index = next(i for i, (m, q) in enumerate(have) if m is node and q == port)
        return index if len(have) > 1 else None

    links, merged = [], {}
    for e in net.edges:
        src, dst = box_of[id(e.src)], box_of[id(e.dst)]
        if src is dst and src.kind == "network":
            continue  # an edge inside a sub-network
        sp = port_of(src, e.src, e.src_port, "out")
        dp = port_of(dst, e.dst, e.dst_port, "in")
        key = (src.id, sp, dst.id, dp)
        if key in merged:
            merged[key].edges.append(e)
            merged[key].multiplicity += 1
            continue
        link = merged[key] = _Link(src, dst, sp, dp, [e])
        links.append(link)
    return _Plan(boxes, links)


def _alike_groups(net, threshold, ins, outs, name):
    """Groups of more than ``threshold`` alike branches, the biggest groups first.

    A branch is a node and everything only it feeds; branches are alike when
    they hang from the same senders and have the same shape and functions.
    """
    by_senders = {}
    for n in net.nodes:
        key = (n.kind, tuple((name(e.src), e.src_port, e.dst_port) for e in ins[name(n)]))
        by_senders.setdefault(key, []).append(n)
    groups = []
    for roots in by_senders.values():
        if len(roots) <= threshold:
            continue
        by_shape = {}
        for root in roots:
            branch = _branch(root, ins, outs, name)
            by_shape.setdefault(_shape(branch, outs, name), []).append(branch)
        groups += [g for g in by_shape.values() if len(g) > threshold]
    order = {name(n): i for i, n in enumerate(net.nodes)}
    groups.sort(key=lambda g: (-len(g) * len(g[0]), order[name(g[0][0])]))
    return groups


def _branch(root, ins, outs, name):
    members, inside = [root], {name(root)}
    i = 0
    while i < len(members):
        for e in outs[name(members[i])]:
            d = e.dst
            if name(d) not in inside and all(name(x.src) in inside for x in ins[name(d)]):
                inside.add(name(d))
                members.append(d)
        i += 1
    return members


def _shape(branch, outs, name):
    index = {name(m): i for i, m in enumerate(branch)}
    nodes = tuple((m.kind, node_detail(m, name(m)), _ports(m)) for m in branch)
    wires = tuple(
        (index[name(m)], e.src_port, index.get(name(e.dst), ("outside", name(e.dst))), e.dst_port)
        for m in branch for e in outs[name(m)]
    )
    return nodes, wires


def _ports(node):
    return node.num_outputs or node.num_inputs or 0


def node_ids(nodes, name=operator.attrgetter("name")):
    """Stable DOT/Mermaid identifiers made from node names (``name(node)``): ASCII, safe, unique."""
    ids, taken = {}, set()
    for n in nodes:
        slug = re.sub(r"[^A-Za-z0-9_]+", "_", name(n)).strip("_") or n.kind
        if slug[0].isdigit():
            slug = "n" + slug
        ids[name(n)] = _unique(slug, taken)
    return ids


def _unique(slug, taken):
    name, k = slug, 2
    while name in taken:
        name, k = f"{slug}_{k}", k + 1
    taken.add(name)
    return name


def node_detail(node, name=None):
    """The function's name (and parameters) when it adds something to the node's name.

    ``name``: the network's name for the node (by default its own).
    """
    name = node.name if name is None else name
    if node.kind == "merge_synch":
        return ""
    fn = function_name(node.fn)
    if "<locals>" in fn:  # a function defined inside another: its own name is enough
        fn = fn.rsplit(".", 1)[-1]
    if fn == "<lambda>":
        fn = "lambda"
    elif fn == name or default_name(node.fn, node.kind) == name:
        fn = ""
    params = ", ".join(f"{k}={_short(v)}" for k, v in node.params.items())
    if params:
        fn = f"{fn or name}({params})"
    if type(node).__name__ == "Timer":  # timers.py: how often it ticks says more than its function
        fn = f"every {node.period:g} s"
    if getattr(node, "timeout", None) is not None:  # timers.py: its timeout=
        fn = f"{fn}, timeout {node.timeout:g} s" if fn else f"timeout {node.timeout:g} s"
    return fn if len(fn) <= 40 else fn[:39] + "\u2026"


def _short(value):
    """A parameter's value if it is a short plain value; ``…`` for anything that may change."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return short_repr(value, 16, ellipsis="\u2026")
    return "\u2026"


# --- drawing one box or arrow -----------------------------------------------

@dataclass
class _View:
    net: object
    stats: bool
    states: dict
    edge_counts: dict
    failures: dict
    waiting: dict = None
    snapshot: object = None
    recorded: set = field(default_factory=set)  # nodes that have recorded (a snapshot under way)
    recording: set = field(default_factory=set)  # edges whose messages are being recorded
    lost: dict = field(default_factory=dict)  # per edge, messages a fault lost (stats only)


# a white page, not a transparent one, so the picture stays legible in dark themes
_GRAPH = {"rankdir": "LR", "bgcolor": "white", "pad": "0.15", "nodesep": "0.3",
          "ranksep": "0.45", "fontname": FONT}
_NODE = {"fontname": FONT, "fontsize": "12", "fontcolor": INK, "penwidth": "1.3",
         "margin": "0.14,0.06"}
_EDGE = {"fontname": FONT, "fontsize": "9", "fontcolor": MUTED, "color": WIRE,
         "arrowsize": "0.7", "penwidth": "1.2"}


def _node_attrs(box, view):
    look = LOOKS[box.kind]
    state = _box_state(box, view)
    failed = state == "failed" or _box_failure(box, view) is not None
    line = FAIL if failed else look.line
    rows = [f"<B>{_esc(box.label)}</B>"]
    if box.detail:
        rows.append(f'<FONT POINT-SIZE="9" COLOR="{MUTED}">{_esc(box.detail)}</FONT>')
    if view.stats:
        counters = _counters(box, view)
        if counters:
            rows.append(f'<FONT POINT-SIZE="9" COLOR="{INK}">{_esc(counters)}</FONT>')
        errors = _error_rows(box, view)
        if errors:
            errors[0] = "\u2717 " + errors[0]
        rows += [f'<FONT POINT-SIZE="9" COLOR="{FAIL}">{_esc(r)}</FONT>' for r in errors]
    if view.snapshot is not None and not box.members:
        recorded = view.snapshot.state_text(box.name, 40)
        rows.append(f'<FONT POINT-SIZE="9" COLOR="{SNAP_INK}">{_esc(recorded)}</FONT>')
    recorded = bool(view.recorded) and (box.name in view.recorded if not box.members
                                        else any(m in view.recorded for m in box.member_names))
    if recorded and not failed:  # a snapshot is being taken and this node has recorded its state
        line = SNAP_INK  # colours and a mark in the badge only: the layout stays
    badge = _badge(state, recorded) if view.states is not None else None
    attrs = {"id": box.id}
    if box.kind == "network":
        attrs.update(shape="plain", label=_html(_network_table(box, look, line, rows, badge, failed)))
    elif box.kind in ("split", "merge_synch"):
        # the border width may mark a failure after a run, never a live state (it moves the layout)
        thick = _box_failure(box, view) is not None
        attrs.update(shape="plain", label=_html(_ported_table(box, look, line, rows, badge, thick)))
    else:
        cells = "".join(f"<TR><TD>{r}</TD></TR>" for r in rows)
        if badge:
            cells += f"<TR><TD>{badge}</TD></TR>"
        style = ["filled"] + (["rounded"] if look.shape == "box" else [])
        if state == "waiting":
            style.append("dashed")
        attrs.update(
            shape=look.shape, style=",".join(style), fillcolor=look.fill, color=line,
            label=_html(f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{cells}</TABLE>'),
        )
        if look.shape == "cds":
            attrs["margin"] = "0.2,0.1"
        if box.members and look.shape != "cylinder":  # a double outline: alike nodes stacked
            attrs["peripheries"] = "2"
        if state == "busy" or failed:
            attrs["penwidth"] = "2.4"
    tip = _tooltip(box, view)
    if tip:
        attrs["tooltip"] = tip
    return attrs


def _ported_table(box, look, line, rows, badge, thick):
    """A Split (ports on the right) or MergeSynch (ports on the left) as an HTML table."""
    out = box.kind == "split"
    n = box.ports
    inner = "".join(f"<TR><TD>{r}</TD></TR>" for r in rows)
    name = (f'<TD ROWSPAN="{n}" CELLPADDING="6"><TABLE BORDER="0" CELLBORDER="0" '
            f'CELLSPACING="0" CELLPADDING="1">{inner}</TABLE></TD>')
    ports = []
    for i in range(n):
        word = f"out_{i}" if out else f"in_{i}"
        sides = ("L" if out else "R") + ("T" if i else "")
        ports.append(f'<TD PORT="{word}" BORDER="1" SIDES="{sides}" COLOR="{line}" BGCOLOR="#FFFFFF" '
                     f'CELLPADDING="3"><FONT POINT-SIZE="9" COLOR="{MUTED}">{word}</FONT></TD>')
    trs = []
    for i, port in enumerate(ports):
        first = name if i == 0 else ""
        trs.append(f"<TR>{first}{port}</TR>" if out else f"<TR>{port}{first}</TR>")
    if badge:
        trs.append(f'<TR><TD COLSPAN="2" CELLPADDING="2">{badge}</TD></TR>')
    width = "2" if thick else "1"
    return (f'<TABLE BORDER="{width}" CELLBORDER="0" CELLSPACING="0" STYLE="rounded" '
            f'COLOR="{line}" BGCOLOR="{look.fill}">{"".join(trs)}</TABLE>')


def _network_table(box, look, line, rows, badge, thick):
    """A sub-network drawn as one box: inputs on the left, outputs on the right (when several)."""
    inner = "".join(f"<TR><TD>{r}</TD></TR>" for r in rows)
    if badge:
        inner += f"<TR><TD>{badge}</TD></TR>"
    k = max(box.in_ports, box.out_ports, 1)
    middle = (f'<TD ROWSPAN="{k}" CELLPADDING="8"><TABLE BORDER="0" CELLBORDER="0" '
              f'CELLSPACING="0" CELLPADDING="1">{inner}</TABLE></TD>')

    def cell(word, sides, rowspan):
        span = f' ROWSPAN="{rowspan}"' if rowspan > 1 else ""
        return (f'<TD PORT="{word}"{span} BORDER="1" SIDES="{sides}" COLOR="{line}" '
                f'BGCOLOR="#FFFFFF" CELLPADDING="3"><FONT POINT-SIZE="9" COLOR="{MUTED}">'
                f"{word}</FONT></TD>")

    trs = []
    for i in range(k):
        left = (cell(f"in_{i}", "R" + ("T" if i else ""), 1) if box.in_ports > 1 and i < box.in_ports
                else "")
        right = (cell(f"out_{i}", "L" + ("T" if i else ""), 1) if box.out_ports > 1 and i < box.out_ports
                 else "")
        if box.in_ports > 1 and i >= box.in_ports:
            left = '<TD BORDER="0"></TD>'
        if box.out_ports > 1 and i >= box.out_ports:
            right = '<TD BORDER="0"></TD>'
        trs.append(f"<TR>{left}{middle if i == 0 else ''}{right}</TR>")
    width = "2" if thick else "1"
    return (f'<TABLE BORDER="{width}" CELLBORDER="0" CELLSPACING="0" STYLE="rounded" '
            f'COLOR="{line}" BGCOLOR="{look.fill}">{"".join(trs)}</TABLE>')


def _badge(state, recorded=False):
    """A node's state; ``recorded``: a ◆ says it has recorded its state (a snapshot is under way)."""
    word, fill, ink = STATES.get(state) or FAULT_STATES.get(state, STATES["waiting"])
    mark = f'<FONT COLOR="{SNAP_INK}">\u25c6 </FONT>' if recorded else ""
    return (f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0"><TR>'
            f'<TD FIXEDSIZE="TRUE" WIDTH="{BADGE_WIDTH}" HEIGHT="{BADGE_HEIGHT}" BGCOLOR="{fill}" '
            f'BORDER="1" COLOR="{SNAP_INK if recorded else MUTED if fill == "#FFFFFF" else fill}" '
            f'STYLE="rounded"><FONT POINT-SIZE="9" COLOR="{ink}">{mark}{_esc(word)}</FONT></TD>'
            f"</TR></TABLE>")


def _edge_attrs(link, view):
    attrs = {}
    cells = []
    if link.multiplicity > 1:
        attrs["penwidth"] = "2.4"
        cells.append(_label_cell(f"\u00d7{link.multiplicity}"))
    if view.edge_counts is not None:
        count = sum(view.edge_counts.get(e, 0) for e in link.edges)
        # a transparent background makes the SVG give the count's box, so a live view
        # can write a new count into a picture without laying it out again
        if view.waiting is None:
            cells.append(_label_cell(count_text(count), COUNT_CELL))
        else:
            wait = min(count, sum(view.waiting.get(e, 0) for e in link.edges))
            cells.append(_label_cell(count_text(count - wait), COUNT_CELL))
            cells.append(_label_cell(wait_text(wait), COUNT_CELL, WAIT_WIDTH, WAIT_INK))
        lost = sum(view.lost.get(e, 0) for e in link.edges)
        if lost:
            cells.append(_label_cell(f"{count_text(lost)} lost", COUNT_CELL, WAIT_WIDTH, FAIL))
        if not count:
            attrs["color"] = ZERO_WIRE
    if view.recording and any(e in view.recording for e in link.edges):
        attrs["color"] = SNAP_INK  # its messages are being recorded: in flight in the snapshot
        attrs["style"] = "dashed"
    if view.snapshot is not None:
        from .trace import edge_labels  # the labels a snapshot's channels have

        label_of = dict(zip(view.net.edges, edge_labels(view.net), strict=True))
        flying = [m for e in link.edges for m in view.snapshot.channels.get(label_of.get(e), ())]
        if flying:
            attrs["label"] = short_repr(flying, 40)
            attrs["fontcolor"] = SNAP_INK
            attrs["color"] = SNAP_INK
    if cells:
        attrs["label"] = _html(f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0">'
                               f"<TR>{''.join(cells)}</TR></TABLE>")
    return attrs


def _label_cell(text, extra="", width=COUNT_WIDTH, ink=None):
    """One fixed-size cell of an arrow's label, so the label keeps its width as text changes."""
    body = _esc(text) if ink is None or not text else f'<FONT COLOR="{ink}">{_esc(text)}</FONT>'
    return f'<TD FIXEDSIZE="TRUE" WIDTH="{width}" HEIGHT="{COUNT_HEIGHT}"{extra}>{body}</TD>'


def wait_text(n):
    """What an arrow says about the messages waiting on it: "+93 waiting", or nothing."""
    return f"+{count_text(n)} waiting" if n > 0 else ""


def waiting_counts(net):
    """``{Edge: messages waiting}`` after the last run of ``net``, only the edges where some wait.

    Waiting: sent along the edge (or a copy a ``duplicate`` fault added), neither handled
    by the receiver, nor thrown away, nor lost to a fault (``faults.py``).
    """
    sent = getattr(net, "edge_counts", None) or {}
    received = getattr(net, "edge_received", None) or {}
    discarded = getattr(net, "edge_discarded", None) or {}
    lost = getattr(net, "edge_lost", None) or {}
    copies = getattr(net, "edge_duplicated", None) or {}
    out = {}
    for e, n in sent.items():
        left = n + copies.get(e, 0) - received.get(e, 0) - discarded.get(e, 0) - lost.get(e, 0)
        if left > 0:
            out[e] = left
    return out


def count_text(n):
    """A message count in at most five characters, so the label keeps its width."""
    if n < 100_000:
        return str(n)
    if n < 10_000_000:
        return f"{n // 1000}k"
    return f"{n // 1_000_000}M"


def _box_state(box, view):
    if view.states is None:
        return None
    if box.members:
        found = {view.states.get(m, "waiting") for m in box.member_names}
        return next((s for s in STATE_PRIORITY if s in found), "waiting")
    return view.states.get(box.name, "waiting")


def _box_failure(box, view):
    if not view.failures:
        return None
    if box.members:
        return next((view.failures[m] for m in box.member_names if m in view.failures), None)
    return view.failures.get(box.name)


def _counters(box, view):
    if box.kind == "network":  # what crossed its border, from the edge counts
        counts = getattr(view.net, "edge_counts", None) or {}
        inside = {id(m) for m in box.members}
        came = sum(c for e, c in counts.items() if id(e.dst) in inside and id(e.src) not in inside)
        went = sum(c for e, c in counts.items() if id(e.src) in inside and id(e.dst) not in inside)
        return f"received {came} \u00b7 sent {went}" if counts else ""
    stats = getattr(view.net, "stats", {}) or {}
    names = box.member_names if box.members else [box.name]
    found = [stats[n] for n in names if n in stats]
    if not found:
        return ""

    def total(attr):
        return sum(getattr(s, attr, 0) for s in found)

    words = []
    if box.kind != "source":
        words.append(f"received {total('received')}")
    if box.kind != "sink":
        words.append(f"sent {total('sent')}")
    for attr in ("dropped", "failed", "discarded"):
        if total(attr):
            words.append(f"{attr} {total(attr)}")
    crashed = getattr(view.net, "crashed", None) or {}  # a crash fault (faults.py)
    for n in names:
        if n in crashed:
            words.append(f"crashed after {crashed[n]}" if not box.members else f"{n} crashed")
    prefix = "in all: " if box.members else ""
    return prefix + " \u00b7 ".join(words)


def _error_rows(box, view):
    failure = _box_failure(box, view)
    if failure is None:
        return []
    exc = failure.exception
    rows = [_cut(exception_text(exc, 200), 44)]
    if failure.has_message:
        rows.append(_cut(f"on message {short_repr(failure.message, limit=None)}", 44))
    return rows


def _tooltip(box, view):
    failure = _box_failure(box, view)
    if failure is not None:
        text = failure.summary()
    elif box.members:
        text = ", ".join(box.member_names[:20]) + (", \u2026" if len(box.members) > 20 else "")
    else:
        return None
    text = re.sub(r"0x[0-9a-fA-F]{6,}", "0x\u2026", text)
    return _cut(text, 300).replace("\\", "\\\\")


def _has_run(net):
    return any(s != "waiting" for s in getattr(net, "state", {}).values())


def _esc(s):
    return html.escape(str(s), quote=True)


def _html(body):
    return f"<{body}>"


def _cut(s, limit):
    """``s`` on one line, cut to ``limit`` characters."""
    return cut(" ".join(str(s).split()), limit, "\u2026")


def _plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


# --- text and Mermaid helpers ------------------------------------------------

def _path_lines(net, limit=8):
    name = _namer(net)
    counts = _count_paths(net)
    total = sum(counts[name(n)] for n in net.sources)
    lines = [f"paths from a source to a sink ({total}):"]
    for path in net.paths(limit=limit):
        lines.append("  " + " \u2192 ".join(name(n) for n in path))
    if total > limit:
        lines.append(f"  \u2026 and {total - limit} more")
    return lines


def _count_paths(net):
    """How many source-to-sink paths start at each node (as ``net.paths()`` counts them)."""
    name = _namer(net)
    if net.loops:  # paths that do not go round a loop (as net.paths() finds them): walk them
        def walks(node, on_path):
            if node.kind == "sink":
                return 1
            return sum(walks(nxt, on_path | {id(nxt)}) for nxt in net.downstream(node)
                       if id(nxt) not in on_path)

        return {name(n): walks(n, {id(n)}) for n in net.nodes}
    down = {name(n): net.downstream(n) for n in net.nodes}
    waiting = {name(n): len(down[name(n)]) for n in net.nodes}
    ready = [n for n in net.nodes if not down[name(n)]]
    counts = {}
    while ready:  # a node is counted once everything downstream of it is
        n = ready.pop()
        counts[name(n)] = 1 if n.kind == "sink" else sum(counts[name(d)] for d in down[name(n)])
        for u in net.upstream(n):
            waiting[name(u)] -= 1
            if not waiting[name(u)]:
                ready.append(u)
    return counts


def _namer(net):
    """The network's name for a node (``net.name_of``), or else the node's own name."""
    return getattr(net, "name_of", None) or (lambda n: n.name)


def _mermaid_id(box):
    return f"n_{box.id}"


def _mermaid_text(s):
    return (_esc(s).replace("&quot;", "#quot;").replace("&#x27;", "'")
            .replace("&lt;", "#lt;").replace("&gt;", "#gt;").replace("&amp;", "#amp;"))
