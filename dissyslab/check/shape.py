"""Checks of a network's shape: its nodes, their kinds and functions, its edges, fanout and paths.

Nothing here trusts the student's objects. A check first rebuilds the
network from its edges with fresh nodes and the real :func:`network`
(see :func:`verified`), so a network object whose attributes were edited by
hand is checked again from scratch, and kinds come from the node's class,
never from an attribute.
"""

import functools
import types
import warnings

from ..build import network
from ..errors import DuplicateEdgeWarning
from ..model import Network
from ..nodes import Edge, MergeSynch, Sink, Source, Split, Transform, function_name
from .elsewhere import elsewhere
from .failure import CheckFailed, fail, show

KIND = {Source: "source", Transform: "transform", Sink: "sink", Split: "split",
        MergeSynch: "merge_synch"}
_PLURAL = {"source": "sources", "transform": "transforms", "sink": "sinks", "split": "splits",
           "merge_synch": "merge_synchs"}
_CLASS_NAME = {"source": "Source", "transform": "Transform", "sink": "Sink", "split": "Split",
               "merge_synch": "MergeSynch"}


class Verified:
    """A fresh, checked copy of a student's network, and how to find its nodes by name."""

    def __init__(self, net, original):
        self.net = net
        self.original = original

    def names(self):
        return [n.name for n in self.net.nodes]

    def node(self, name, hint=None):
        __tracebackhide__ = True
        for n in self.net.nodes:
            if n.name == name:
                return n
        fail(f"Your network has no node named {name!r}.",
             expected=f"a node named {name!r}",
             got=f"nodes named {', '.join(map(repr, self.names()))}",
             hint=hint or f"give the node that name when you make it, e.g. "
                          f"Transform(fn=..., name={name!r}).")


def verified(g, name="g", hint=None):
    """Check that ``g`` is a network built with ``network([...])``; return a :class:`Verified` copy.

    The copy has new node objects (same functions, names and params) and is
    built again with the real ``network()``, so every rule is checked again.
    """
    __tracebackhide__ = True
    there = elsewhere(g)
    if there is not None:  # grading: the network lives in the student's process
        return Verified(there.shape(g, name, hint), g)
    if type(g) is not Network:
        what = "None" if g is None else f"a {type(g).__name__}"
        if type(g) in (list, tuple):
            hint = hint or f"pass the list of edges to network(...): {name} = network([...])."
        elif type(g).__name__ == "Network":
            hint = hint or f"make {name} with dissyslab's own network([...]) function."
        fail(f"`{name}` should be a network, made with network([(sender, receiver), ...]), "
             f"but it is {what}.",
             hint=hint or f"build it with {name} = network([...]) and keep that name.")
    if g.__dict__.get("inputs") or g.__dict__.get("outputs"):
        fail(f"`{name}` is a sub-network (built with inputs= or outputs=): a piece to wire into "
             f"a larger network, which cannot run on its own.",
             hint=f"build the whole network with its source and sink, e.g. "
                  f"{name} = network([(source, piece), (piece, sink)]).")
    edges = list.copy(g.edges) if type(g.edges) is list else None
    if not edges or not all(type(e) is Edge for e in edges):
        fail(f"`{name}` is not a network made by network([...]): its edges were changed after "
             f"it was built.", hint=f"build it again with {name} = network([...]).")
    copies = {}

    def copy_of(node, port, direction):
        if type(node) not in KIND:
            fail(f"`{name}` contains {show(node)}, which is not a node.",
                 hint="every edge must connect Source, Transform, Sink, Split or MergeSynch nodes.")
        new = copies.get(id(node))
        if new is None:
            new = copies[id(node)] = _copy_node(node, _name_in(g, node))
        if port is None:
            return new
        if type(port) is not int or not 0 <= port < len(new.ports):
            fail(f"`{name}` uses a port of '{new.name}' that does not exist.",
                 hint=f"build it again with {name} = network([...]).")
        return new.ports[port]

    pairs = [(copy_of(e.src, e.src_port, "out"), copy_of(e.dst, e.dst_port, "in")) for e in edges]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DuplicateEdgeWarning)
            net = network(pairs)
    except (TypeError, ValueError) as err:
        fail(f"`{name}` does not pass network()'s own checks any more: {err}",
             hint=f"build it again with {name} = network([...]) after the nodes are final.")
    return Verified(net, g)


def _name_in(g, node):
    """``g``'s name for ``node`` (a network may call a node by a name of its own)."""
    try:
        return g.name_of(node)
    except Exception:
        return node.name


def _copy_node(node, name):
    __tracebackhide__ = True
    cls = type(node)
    if type(name) is not str or not name:
        fail(f"A node of the network has no usable name ({show(name)}).",
             hint="give every node a name with name='...'.")
    params = dict(node.params) if type(node.params) is dict else {}
    try:
        if cls is MergeSynch:
            return MergeSynch(num_inputs=node.num_inputs, name=name)
        if cls is Split:
            return Split(fn=node.fn, num_outputs=node.num_outputs, name=name, params=params)
        return cls(fn=node.fn, name=name, params=params)
    except (TypeError, ValueError) as err:
        fail(f"The node '{name}' was changed after it was made, and is no longer valid: {err}")


def kind_of(node):
    """The kind of a node, read from its class: 'source', 'transform', 'sink', 'split' or 'merge_synch'."""
    return KIND[type(node)]


def _count_text(counts):
    parts = [f"{n} {k if n == 1 else _PLURAL[k]}" for k, n in counts.items()]
    return ", ".join(parts) if parts else "no nodes"


def _resolve_end(v, text, role):
    """(node, port) for 'name', 'split.out_1' or 'merge.in_0'."""
    if text.count(".") == 1:
        name, port = text.split(".")
        direction, _, index = port.partition("_")
        if direction in ("out", "in") and index.isdigit():
            return v.node(name), int(index)
    return v.node(text), None


# --- the checks ---------------------------------------------------------------------------

def is_network(g, name="g", hint=None):
    """Check that ``g`` is a network made with ``network([...])`` that passes all its rules."""
    __tracebackhide__ = True
    verified(g, name, hint)


def node(g, name, kind=None, fn=None, params=None, hint=None):
    """Check that ``g`` has a node called ``name`` (of ``kind``, wrapping ``fn``, with ``params``)."""
    __tracebackhide__ = True
    v = verified(g)
    n = v.node(name, hint=hint)
    actual_kind = kind_of(n)
    if kind is not None and actual_kind != kind:
        fail(f"The node {name!r} should be a {_CLASS_NAME[kind]}, but it is a "
             f"{_CLASS_NAME[actual_kind]}.",
             hint=hint or f"make it with {_CLASS_NAME[kind]}(...).")
    if fn is not None and not wraps(n.fn, fn):
        wanted = fn if isinstance(fn, str) else function_name(fn)
        fail(f"The node {name!r} should call the function {wanted}.",
             expected=f"fn={wanted}", got=f"fn={function_name(n.fn)}",
             hint=hint or f"pass the function itself, without brackets: fn={wanted}.",
             public=f"The node {name!r} does not call the function the task asks for.",
             public_hint=hint)
    if params is not None:
        from .failure import same
        if not same(n.params, params):
            fail(f"The node {name!r} should have params={show(params)}.",
                 expected=f"params={show(params)}", got=f"params={show(n.params)}",
                 hint=hint or "params is a dict from the function's argument names to their values.")
    return n


def wraps(node_fn, fn):
    """True if a node's function is ``fn`` (or a bound method or partial of it, or has that name)."""
    f = node_fn
    while type(f) is functools.partial:
        f = f.func
    there = elsewhere(f)
    if there is not None:  # it stands for a function of the student's process (grading)
        return there.same_function(f, fn)
    if isinstance(fn, str):
        return function_name(f) == fn or getattr(f, "__name__", None) == fn
    if f is fn:
        return True
    if type(f) is types.MethodType and f.__func__ is fn:
        return True
    return False


def kinds(g, hint=None, **expected):
    """Check how many nodes of each kind ``g`` has, e.g. ``kinds(g, source=1, transform=2, sink=2)``."""
    __tracebackhide__ = True
    v = verified(g)
    actual = {}
    for n in v.net.nodes:
        actual[kind_of(n)] = actual.get(kind_of(n), 0) + 1
    for k in expected:
        if k not in _PLURAL:
            raise ValueError(f"kinds(): unknown kind {k!r}; use {', '.join(_PLURAL)}")
    wrong = [k for k in expected if actual.get(k, 0) != expected[k]]
    if wrong:
        want = {k: n for k, n in expected.items() if n}
        have = {k: actual[k] for k in _PLURAL if k in actual}
        k = wrong[0]
        more = "more" if actual.get(k, 0) < expected[k] else "fewer"
        fail("Your network does not have the nodes this task asks for.",
             expected=_count_text(want), got=_count_text(have),
             hint=hint or f"it needs {more} {_PLURAL[k]}: {expected[k]} "
                          f"{_CLASS_NAME[k]} node{'s' if expected[k] != 1 else ''}.")


def edge(g, sender, receiver, hint=None):
    """Check that ``g`` has an edge from ``sender`` to ``receiver``.

    Both are node names, or ports such as 'sp.out_0' and 'm.in_1'.
    """
    __tracebackhide__ = True
    v = verified(g)
    src, sp = _resolve_end(v, sender, "sender")
    dst, dp = _resolve_end(v, receiver, "receiver")
    for e in v.net.edges:
        if e.src is src and e.dst is dst and (sp is None or e.src_port == sp) and (
                dp is None or e.dst_port == dp):
            return
    out = [e.label.split(" → ")[1] for e in v.net.out_edges(src)]
    fail(f"There is no edge from {sender!r} to {receiver!r}.",
         expected=f"{sender} → {receiver}",
         got=f"{src.name} sends to: {', '.join(out) if out else 'nothing'}",
         hint=hint or f"add the pair ({sender}, {receiver}) to the list of edges "
                      f"(written with your variables for those nodes).")


def no_edge(g, sender, receiver, hint=None):
    """Check that ``g`` has no edge from ``sender`` to ``receiver``."""
    __tracebackhide__ = True
    v = verified(g)
    src, _ = _resolve_end(v, sender, "sender")
    dst, _ = _resolve_end(v, receiver, "receiver")
    if any(e.src is src and e.dst is dst for e in v.net.edges):
        fail(f"There should be no edge from {sender!r} to {receiver!r}, but there is.",
             hint=hint or "remove that pair from the list of edges.")


def edges(g, expected, hint=None):
    """Check the exact set of edges, as labels like ``"a → b"`` or pairs of names."""
    __tracebackhide__ = True
    v = verified(g)
    want = sorted(e if isinstance(e, str) else f"{e[0]} → {e[1]}" for e in expected)
    want = [w.replace("->", "→") for w in want]
    have = sorted(e.label for e in v.net.edges)
    if want != have:
        missing = [w for w in want if w not in have]
        extra = [h for h in have if h not in want]
        detail = []
        if missing:
            detail.append(f"missing: {', '.join(missing)}")
        if extra:
            detail.append(f"not asked for: {', '.join(extra)}")
        fail("The edges of your network are not the ones this task asks for "
             f"({'; '.join(detail) or 'some edge is listed twice'}).",
             expected=", ".join(want), got=", ".join(have),
             hint=hint or "compare your list of edges with the picture in the task.")


def fanout(g, name, degree, hint=None):
    """Check that node ``name`` sends to ``degree`` receivers (its fanout degree)."""
    __tracebackhide__ = True
    v = verified(g)
    n = v.node(name)
    out = v.net.out_edges(n)
    if len(out) != degree:
        fail(f"{name!r} should send every message to {degree} receiver{'s' if degree != 1 else ''} "
             f"(a fanout of degree {degree}), but it sends to {len(out)}.",
             expected=f"{degree} edges leaving {name!r}",
             got=", ".join(e.label for e in out) or "no edge leaves it",
             hint=hint or (f"for each receiver, add one edge ({name}, receiver)."
                           if len(out) < degree else
                           "remove the edges that are not part of the task (is one listed twice?)."))


def fanin(g, name, degree, hint=None):
    """Check that node ``name`` receives along ``degree`` edges (its fanin degree)."""
    __tracebackhide__ = True
    v = verified(g)
    n = v.node(name)
    into = v.net.in_edges(n)
    if len(into) != degree:
        fail(f"{name!r} should receive from {degree} sender{'s' if degree != 1 else ''}, "
             f"but {len(into)} edge{'s' if len(into) != 1 else ''} lead into it.",
             expected=f"{degree} edges into {name!r}",
             got=", ".join(e.label for e in into) or "no edge leads into it",
             hint=hint or f"add one edge (sender, {name}) for each sender.")


def no_duplicate_edges(g, hint=None):
    """Check that no edge is listed twice (which would send every message twice)."""
    __tracebackhide__ = True
    v = verified(g)
    seen = set()
    for e in v.net.edges:
        key = (e.src.name, e.src_port, e.dst.name, e.dst_port)
        if key in seen:
            fail(f"The edge {e.label} is listed twice, so {e.dst.name!r} gets every message twice.",
                 hint=hint or "delete one of the two copies from the list of edges.")
        seen.add(key)


#: most source-to-sink paths :func:`paths` collects, and most steps it walks to find them
PATH_LIMIT = 1_000
PATH_STEPS = 200_000


def path_names(net, limit=PATH_LIMIT, steps=PATH_STEPS):
    """(paths written ``"a → b → c"``, True if that is all of them) of a network.

    The paths are those of ``Network.paths`` (from a source to a sink, no node
    twice), but the walk counts its steps and stops after ``steps`` of them or
    ``limit`` paths: a network with 2**40 paths that lead nowhere cannot keep
    the grader busy.
    """
    down = {}
    for e in net.edges:
        down.setdefault(id(e.src), []).append(e.dst)
    found, walked = [], 0
    for src in net.sources:
        todo = [(src, (src,))]
        while todo:
            walked += 1
            if walked > steps or len(found) >= limit:
                return found, False
            node, path = todo.pop()
            if node.kind == "sink":
                found.append(" → ".join(net.name_of(n) for n in path))
                continue
            for nxt in reversed(down.get(id(node), [])):
                if not any(nxt is n for n in path):
                    todo.append((nxt, path + (nxt,)))
    return found, True


def paths(g, expected, hint=None):
    """Check the paths from sources to sinks, as lists of names or ``"a → b → c"`` strings."""
    __tracebackhide__ = True
    v = verified(g)
    want = sorted(" → ".join(p) if not isinstance(p, str) else p.replace("->", "→") for p in expected)
    have, complete = path_names(v.net)
    if not complete:
        fail(f"Your network should have {len(want)} path{'s' if len(want) != 1 else ''} from a "
             f"source to a sink, but it has far more routes than that (grading stopped "
             f"following them).",
             expected="; ".join(want), got="; ".join(sorted(have)[:5]) + "; ...",
             hint=hint or "follow each message from the source: which nodes does it visit? "
                          "Remove the edges the task does not ask for.")
    have = sorted(have)
    if want != have:
        missing = [p for p in want if p not in have]
        fail(f"Your network should have {len(want)} path{'s' if len(want) != 1 else ''} from a "
             f"source to a sink; it has {len(have)}"
             + (f", and this one is missing: {missing[0]}." if missing else "."),
             expected="; ".join(want), got="; ".join(have) or "no complete path",
             hint=hint or "follow each message from the source: which nodes does it visit?")


def shape(g):
    """A fresh, verified copy of ``g`` (a :class:`Verified`): for tests that look deeper."""
    return verified(g)


__all__ = ["CheckFailed", "is_network", "node", "kinds", "edge", "no_edge", "edges", "fanout",
           "fanin", "no_duplicate_edges", "paths", "wraps", "kind_of", "shape"]
