"""Building a network: ``network([(a, b), ...])`` checks the edges and makes a :class:`Network`.

Every mistake a student can make in a list of edges is caught here, before
anything runs, with an error that names the edge or node at fault and says
what to write instead:

* each edge: a pair (sender, receiver) of nodes, with the right ports
  (``_check_edge``): a Sink never sends, a Source never receives, a Split
  says which output sends and a MergeSynch which input receives;
* each node: it receives and sends, and every port of a Split or MergeSynch
  is connected (``_check_ports_and_ends``), with a hint when one edge
  probably names the wrong node (``_typo_hint``);
* names: two nodes given the same name are refused; others are made unique
  (``_name_nodes``);
* loops: allowed, but each must be fed by a source and lead to a sink
  (:func:`~dissyslab.loops.check_loops`).

Sub-networks. ``network(edges, inputs=[...], outputs=[...], name="cleaner")``
makes a *piece*, wired into a larger network like a node. The larger network
is built *flat* (``_flatten``): each piece's own edges are written into it,
its nodes named ``cleaner/strip``, as if they had been listed there, so it
runs exactly as that flat network would. What is left of the piece is a
:class:`~dissyslab.model.Part`, for the diagram to draw a box round.
"""

from __future__ import annotations

import warnings

from .errors import DuplicateEdgeWarning, short_repr, shown_to_students
from .loops import check_loops
from .model import Network, Part
from .nodes import Edge, MergeSynch, Node, Port, Sink, Source, Split, name_is_settled, settle_name

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `import dissyslab` stays light
if TYPE_CHECKING:
    from typing import Iterable, Sequence

    #: one edge of the flat network: (src, src_port, dst, dst_port, its position in the
    #: list given, or None for an edge of a sub-network)
    _Flat = tuple[Node, int | None, Node, int | None, int | None]


@shown_to_students
def network(edges: Iterable[tuple], inputs: Sequence | None = None,
            outputs: Sequence | None = None, name: str | None = None) -> Network:
    """Check a list of ``(sender, receiver)`` pairs and build a runnable :class:`Network`.

    Each pair is an edge: messages go from the sender to the receiver. A
    Split's output and a MergeSynch's input are named by port::

        g = network([(source, split), ...])                 # wrong: which output?
        g = network([(source, split), (split.out_0, big), (split.out_1, small),
                     (big, merge.in_0), (small, merge.in_1), (merge, sink)])

    Everything is checked before anything runs; a mistake raises an error
    that names the edge or node and says what to write instead. An edge listed
    twice gives a :class:`~dissyslab.DuplicateEdgeWarning` (its receiver would
    get every message twice).

    Given ``inputs=[...]`` or ``outputs=[...]`` it builds a *sub-network*: a
    piece that is wired into a larger network like a node. ``inputs`` lists
    the nodes that receive from outside (or ports such as ``merge.in_1``),
    ``outputs`` the nodes that send outside (or ports such as ``split.out_0``).
    A piece with one input and one output is wired like a Transform,
    ``(source, piece), (piece, sink)``; with more, through its ports
    ``piece.in_0``, ``piece.out_1``. ``name`` names the piece: its nodes are
    then called ``name/node`` in the larger network (``cleaner/strip``). The
    larger network is built flat, as if its pieces' edges had been listed in
    it, so it runs exactly as that flat network would.
    """
    if isinstance(edges, (str, bytes, dict)) or not hasattr(edges, "__iter__"):
        raise TypeError(
            "network(...) needs a list of edges, each a pair (sender, receiver), "
            "like network([(source, transform), (transform, sink)])."
        )
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise TypeError(f"network(..., name=...) must be a non-empty string such as "
                        f"name='cleaner', but got {_show(name)}.")
    edges = list(edges)
    for kind, declared in (("inputs", inputs), ("outputs", outputs)):
        if declared is not None and not isinstance(declared, (list, tuple)):
            raise TypeError(f"network(..., {kind}=...) must be a list, like {kind}=[node], "
                            f"but got {_show(declared)}.")
    if not edges and not (inputs or outputs):
        raise ValueError(
            "network([]) has no edges. Give at least one pair (sender, receiver), "
            "like network([(source, sink)])."
        )
    declared = [*(inputs or []), *(outputs or [])]
    ends, pieces, owner, used = _flatten(edges, declared)
    nodes = _collect_nodes(ends, pieces, declared, owner)
    names = _name_nodes([n for n in nodes if owner[id(n)] is None])
    parts = _name_parts(pieces, names)
    checked, seen = [], {}
    for src, src_port, dst, dst_port, i in ends:
        edge = Edge(src, dst, src_port, dst_port, (names[id(src)], names[id(dst)]))
        key = (id(src), src_port, id(dst), dst_port)
        if key in seen and i is not None:  # a piece's own duplicates were reported when it was built
            warnings.warn(
                f"The edge {edge.label} is listed twice ({_ordinal(seen[key] + 1)} and "
                f"{_ordinal(i + 1)} edges), so '{edge.names[1]}' will receive every message "
                f"from '{edge.names[0]}' twice. If that is not what you want, delete one of them.",
                DuplicateEdgeWarning,
                stacklevel=3,  # the caller of network(), past shown_to_students
            )
        elif key not in seen and i is not None:
            seen[key] = i
        checked.append(edge)
    ins = [_declared(i, item, "inputs", owner, names) for i, item in enumerate(inputs or [])]
    outs = [_declared(i, item, "outputs", owner, names) for i, item in enumerate(outputs or [])]
    for end in ins + outs:
        if end.piece is not None:
            used.add((id(end.piece), end.role, end.piece_port))
    _check_unique_ends(ins, "inputs", names)
    _check_unique_ends(outs, "outputs", names)
    piece = bool(ins or outs)
    try:
        _check_piece_ports(pieces, used, {id(p): part.name for p, part in zip(
            pieces, [q for q in parts if q.parent is None], strict=True)})
        _check_ports_and_ends(nodes, checked, names, ins, outs, piece)
        check_loops(nodes, checked, names, ins, outs)
    except ValueError as err:
        if not piece and name is None:
            raise
        where = f"sub-network '{name or 'network'}'" if piece else f"network '{name}'"
        raise ValueError(f"In {where}: {err}") from None
    for n in nodes:
        if owner[id(n)] is None and not name_is_settled(n):
            settle_name(n, names[id(n)])  # a derived name is fixed once, by the first network built
    return Network(nodes, checked, names, parts=parts, name=name,
                   inputs=[(e.node, e.port) for e in ins], outputs=[(e.node, e.port) for e in outs])


def _flatten(edges: list, declared: list) -> tuple[list[_Flat], list[Network], dict, set]:
    """The edges given, with every sub-network's own edges written in: (ends, pieces, owner, used).

    ``ends``: (src, src_port, dst, dst_port, position in the list given, or None
    for a piece's own edge); a piece's edges come in where it is first used
    (before the edge it sends along, after the edge it receives from).
    ``pieces``: the sub-networks used, in that order; ``owner``: per node id,
    the piece it belongs to (None: this network's own); ``used``: the piece
    ports connected, as (id(piece), "in"/"out", index).
    """
    ends, pieces, owner, used = [], [], {}, set()

    def take(piece):
        pieces.append(piece)
        for n in piece.nodes:
            _claim(owner, n, piece)
        return [(e.src, e.src_port, e.dst, e.dst_port, None) for e in piece.edges]

    for i, pair in enumerate(edges):
        s, d = _check_edge(i, pair)
        around = {"out": [], "in": []}
        for end in (s, d):
            if end.piece is None:
                _claim(owner, end.node, None)
                continue
            used.add((id(end.piece), end.role, end.piece_port))
            if not any(end.piece is p for p in pieces):
                around[end.role] += take(end.piece)
        ends += around["out"] + [(s.node, s.port, d.node, d.port, i)] + around["in"]
    for item in declared:  # a piece declared as an input or output, with no edge here
        held = item.node if isinstance(item, Port) else item
        if isinstance(held, Network) and held.is_piece and not any(held is p for p in pieces):
            ends += take(held)
    return ends, pieces, owner, used


def _collect_nodes(ends: list[_Flat], pieces: list[Network], declared: list,
                   owner: dict[int, Network | None]) -> list[Node]:
    """Every node, in the order the flat edges first mention it, then lone nodes of pieces
    and declared nodes that no edge mentions (a piece made of one node)."""
    nodes, seen = [], set()
    lone = [n for p in pieces for n in p.nodes]
    lone += [item.node if isinstance(item, Port) else item for item in declared]
    for n in [n for src, _, dst, _, _ in ends for n in (src, dst)] + lone:
        if isinstance(n, Node) and id(n) not in seen:
            seen.add(id(n))
            owner.setdefault(id(n), None)
            nodes.append(n)
    return nodes


class _End:
    """One end of an edge once resolved: a node (and port), and the sub-network it was reached by."""

    __slots__ = ("node", "port", "piece", "piece_port", "role")

    def __init__(self, node: Node, port: int | None = None, piece: Network | None = None,
                 piece_port: int | None = None, role: str | None = None) -> None:
        self.node = node
        self.port = port
        self.piece = piece  # the sub-network written in the edge, if any
        self.piece_port = piece_port  # which of its inputs or outputs
        self.role = role  # "in" or "out"


def _claim(owner: dict[int, Network | None], node: Node, piece: Network | None) -> None:
    """Note which sub-network (None: none) ``node`` belongs to here: one only, or none."""
    before = owner.setdefault(id(node), piece)
    if before is piece:
        return
    if before is None or piece is None:
        inside = before or piece
        raise ValueError(
            f"{node.kind} '{node.name}' is inside sub-network '{inside.name}' "
            f"(as {inside.name}/{inside.name_of(node)}), and this network also uses it directly "
            f"in its edges. Here a node belongs either to a sub-network or to the network "
            f"itself, not both: connect to the sub-network instead, through its inputs and "
            f"outputs (declare more of them if you need to), or use a node of its own here.")
    for outer, inner in ((before, piece), (piece, before)):
        if any(part.network is inner for part in outer.parts):
            raise ValueError(
                f"sub-network '{inner.name}' is already inside sub-network '{outer.name}', and "
                f"this network uses both. A piece can be used only once in a network: connect "
                f"to '{outer.name}' only, or build a second '{inner.name}' (call the function "
                f"that builds it again).")
    raise ValueError(
        f"{node.kind} '{node.name}' is inside two sub-networks, '{before.name}' and "
        f"'{piece.name}', and this network uses both. A node belongs to one sub-network only: "
        f"build each piece from nodes of its own, e.g. by calling the function that makes the "
        f"piece once for each piece.")


def _name_parts(pieces: list[Network], names: dict[int, str]) -> list[Part]:
    """Name each sub-network uniquely here (``cleaner``, ``cleaner_2``) and its nodes ``cleaner/strip``.

    Adds the inner nodes' names to ``names``; returns the :class:`Part` list,
    each piece followed by the parts nested in it.
    """
    taken, parts = set(names.values()), []
    for p in pieces:
        base = p.name
        pname, k = base, 2
        while pname in taken or any(t.startswith(pname + "/") for t in taken):
            pname, k = f"{base}_{k}", k + 1
        taken.add(pname)
        for n in p.nodes:
            names[id(n)] = f"{pname}/{p.name_of(n)}"
            taken.add(names[id(n)])
        parts.append(Part(pname, p, tuple(p.nodes), None))
        parts += [Part(f"{pname}/{q.name}", q.network, q.nodes,
                       pname if q.parent is None else f"{pname}/{q.parent}") for q in p.parts]
    return parts


def _check_edge(i: int, pair: object) -> tuple[_End, _End]:
    """Return the two resolved ends (:class:`_End`) of one edge, or raise a clear error."""
    where = f"The {_ordinal(i + 1)} edge in the list"
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(
            f"{where} is {_show(pair)}, but each edge must be a pair (sender, receiver), "
            f"like (source, uppercase)."
        )
    s = _endpoint(where, pair[0], "sender")
    d = _endpoint(where, pair[1], "receiver")
    src, src_port, dst, dst_port = s.node, s.port, d.node, d.port
    label = f"({_show(pair[0])}, {_show(pair[1])})"
    if isinstance(src, Sink):
        raise ValueError(
            f"{where} {label} uses sink '{src.name}' as a sender, but a Sink only receives "
            f"messages. Use a Transform if it should pass messages on."
        )
    if isinstance(dst, Source):
        raise ValueError(
            f"{where} {label} sends to source '{dst.name}', but a Source only sends: it has "
            f"no input. Use a Transform if it should receive messages."
        )
    if isinstance(src, Split) and src_port is None:
        raise ValueError(
            f"{where} {label}: split '{src.name}' has {src.num_outputs} outputs, so say which "
            f"one sends: ({src.name}.out_0, {_show(pair[1])}) ... "
            f"({src.name}.out_{src.num_outputs - 1}, ...)."
        )
    if isinstance(dst, MergeSynch) and dst_port is None:
        raise ValueError(
            f"{where} {label}: merge '{dst.name}' has {dst.num_inputs} inputs, so say which "
            f"one receives: ({_show(pair[0])}, {dst.name}.in_0) ... "
            f"(..., {dst.name}.in_{dst.num_inputs - 1})."
        )
    return s, d


def _endpoint(where: str, end: object, role: str) -> _End:
    wanted = "out" if role == "sender" else "in"
    if isinstance(end, Port):
        if end.direction != wanted:
            node = end.node
            if isinstance(node, Network):
                fix = f"({node.name}.out_0, ...)" if role == "sender" else f"(..., {node.name}.in_0)"
                kind = "sub-network"
            else:
                fix = (f"({node.name}.out_0, ...)" if role == "sender" and isinstance(node, Split)
                       else f"(..., {node.name}.in_0)" if isinstance(node, MergeSynch)
                       else f"({node.name}, ...)")
                kind = type(node).__name__
            raise ValueError(
                f"{where} uses {end!r} as the {role}, but {end!r} is an "
                f"{'output' if end.direction == 'out' else 'input'} port of "
                f"{kind} '{node.name}'. Write it as {fix}."
            )
        if isinstance(end.node, Network):
            return _piece_end(end.node, end.index, wanted)
        return _End(end.node, end.index)
    if isinstance(end, Network):
        return _piece_end(end, _only_port(where, end, role), wanted)
    if isinstance(end, Node):
        return _End(end, None)
    if callable(end):
        name = getattr(end, "__name__", type(end).__name__)
        raise TypeError(
            f"{where}: the {role} is the function {name}, not a node. Wrap it first, "
            f"e.g. {name}_node = Transform(fn={name}), and use {name}_node in the edge."
        )
    raise TypeError(
        f"{where}: the {role} is {_show(end)}, a {type(end).__name__}, not a node. "
        f"Edges connect Source, Transform, Sink, Split and MergeSynch objects, or sub-networks "
        f"(use the node object, not its name)."
    )


def _only_port(where: str, piece: Network, role: str) -> int:
    """The port to use when a sub-network is written in an edge without one: its only one."""
    name = piece.name
    if not piece.is_piece:
        what = f"network '{name}'" if piece.given_name is not None else "a network"
        raise ValueError(
            f"{where}: the {role} is {what}, which declares no inputs or outputs, so "
            f"nothing can connect to it. To use a network as a piece of another, say where "
            f"messages come in and go out: network(edges, inputs=[first_node], "
            f"outputs=[last_node], name={piece.given_name or 'piece'!r}).")
    have = piece.outputs if role == "sender" else piece.inputs
    words = "outputs" if role == "sender" else "inputs"
    if not have:
        raise ValueError(
            f"{where}: sub-network '{name}' is the {role}, but it has no {words}"
            + (", so nothing in it sends outside. " if role == "sender" else
               ", so nothing in it receives from outside. ")
            + f"Declare one when you build it: network(edges, {words}=[node], name={name!r}).")
    if len(have) > 1:
        d = "out" if role == "sender" else "in"
        example = (f"({name}.out_0, some_node)" if role == "sender"
                   else f"(some_node, {name}.in_0)")
        raise ValueError(
            f"{where}: sub-network '{name}' has {len(have)} {words}, so say which one "
            f"{'sends' if role == 'sender' else 'receives'}: {example}, ... up to "
            f"{name}.{d}_{len(have) - 1}.")
    return 0


def _piece_end(piece: Network, index: int, direction: str) -> _End:
    node, port = (piece.inputs if direction == "in" else piece.outputs)[index]
    return _End(node, port, piece, index, direction)


def _declared(i: int, item: object, kind: str, owner: dict[int, Network | None],
              names: dict[int, str]) -> _End:
    """One item of ``inputs=[...]`` or ``outputs=[...]``, resolved to an :class:`_End`."""
    where = f"network(..., {kind}=[...]): the {_ordinal(i + 1)} item, {_show(item)},"
    direction = "in" if kind == "inputs" else "out"
    if isinstance(item, Port):
        if item.direction != direction:
            raise ValueError(
                f"{where} is an {'output' if item.direction == 'out' else 'input'} port, but "
                f"{kind} lists where messages {'come in' if kind == 'inputs' else 'go out'}: "
                + ("use an input port such as merge.in_0." if kind == "inputs"
                   else "use an output port such as split.out_0."))
        target = item.node
    elif isinstance(item, (Node, Network)):
        target = item
    else:
        raise TypeError(f"{where} is not a node. List the nodes (the objects, not their names) "
                        f"that {'receive from' if kind == 'inputs' else 'send to'} outside.")
    if isinstance(target, Network):
        index = item.index if isinstance(item, Port) else _only_port(where, target, (
            "receiver" if kind == "inputs" else "sender"))
        return _piece_end(target, index, direction)
    if id(target) not in owner:
        raise ValueError(f"{where} is not in this network's edges. List a node that is part "
                         f"of it, or add the edges that connect it.")
    inside = owner[id(target)]
    if inside is not None:
        raise ValueError(
            f"{where} is inside sub-network '{inside.name}'. Declare the sub-network itself "
            f"(or one of its ports, like {inside.name}.{direction}_0) instead.")
    name = names[id(target)]
    if kind == "inputs" and isinstance(target, Source):
        raise ValueError(
            f"{where} is source '{name}', but a Source only sends: it cannot receive from "
            f"outside. Declare the node the messages should reach first, or leave the source "
            f"out of the sub-network and connect it in the larger one.")
    if kind == "outputs" and isinstance(target, Sink):
        raise ValueError(
            f"{where} is sink '{name}', but a Sink sends nothing on. Declare the node whose "
            f"results should leave the sub-network, or leave the sink out of it.")
    port = item.index if isinstance(item, Port) else None
    if port is None and kind == "inputs" and isinstance(target, MergeSynch):
        raise ValueError(f"{where} is merge '{name}', which has {target.num_inputs} inputs: say "
                         f"which one receives from outside, like {name}.in_0.")
    if port is None and kind == "outputs" and isinstance(target, Split):
        raise ValueError(f"{where} is split '{name}', which has {target.num_outputs} outputs: say "
                         f"which one sends outside, like {name}.out_0.")
    return _End(target, port)


def _check_unique_ends(declared: list[_End], kind: str, names: dict[int, str]) -> None:
    seen = set()
    for e in declared:
        key = (id(e.node), e.port)
        if key in seen:
            port = "" if e.port is None else f".{'in' if kind == 'inputs' else 'out'}_{e.port}"
            where = names[id(e.node)] + port
            raise ValueError(f"network(..., {kind}=[...]) lists {where} twice. List each "
                             f"{kind[:-1]} once.")
        seen.add(key)


def _check_piece_ports(pieces: list[Network], used: set, piece_names: dict[int, str]) -> None:
    """Every input and output of a sub-network used here must be connected (like a Split's)."""
    for p in pieces:
        name = piece_names[id(p)]
        for direction, have in (("in", p.inputs), ("out", p.outputs)):
            missing = [f"{direction}_{i}" for i in range(len(have)) if (id(p), direction, i) not in used]
            if not missing:
                continue
            node, port = have[int(missing[0].split("_")[1])]
            inner = f"{name}/{p.name_of(node)}" + ("" if port is None else f".{direction}_{port}")
            words = "inputs" if direction == "in" else "outputs"
            example = (f"(some_node, {name}.{missing[0]})" if direction == "in"
                       else f"({name}.{missing[0]}, some_node)")
            why = ("so the nodes behind it would never receive a message" if direction == "in"
                   else "so the messages sent there would be lost")
            raise ValueError(
                f"sub-network '{name}' has {len(have)} {words if len(have) > 1 else words[:-1]} "
                f"but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not connected "
                f"({missing[0]} {'leads to' if direction == 'in' else 'comes from'} {inner}), "
                f"{why}. Connect {'it' if len(missing) == 1 else 'them'}, e.g. {example}.")


def _name_nodes(nodes: list[Node]) -> dict[int, str]:
    """This network's name for each node (by ``id``), checking that given names are unique.

    A node's own name never changes once it is set: a given name, or a name
    derived from its function, made unique (``double``, ``double_2``) by the
    first network built with the node (``network()`` fixes it at the end, once
    every check has passed). Should two nodes of this network still have the
    same name (each was named in a network of its own), the network calls the
    later one by a name of its own, kept here and never written to the node.
    """
    given = {}
    for n in nodes:
        if n.given_name is None:
            continue
        other = given.get(n.given_name)
        if other is not None:
            raise ValueError(
                f"Two different nodes are both named {n.given_name!r} (a {other.kind} and a "
                f"{n.kind}). Names tell nodes apart in errors and diagrams: give each its own."
            )
        given[n.given_name] = n
    names = {id(n): n.given_name for n in given.values()}
    taken = set(given)
    settled = [n for n in nodes if n.given_name is None and name_is_settled(n)]
    for n in settled + [n for n in nodes if not name_is_settled(n)]:
        base = n.name
        name, k = base, 2
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        names[id(n)] = name
        taken.add(name)
    return names


def _check_ports_and_ends(nodes: list[Node], edges: list[Edge], names: dict[int, str],
                          ins: Sequence[_End] = (), outs: Sequence[_End] = (),
                          piece: bool = False) -> None:
    """Every node receives and sends; every port of a Split or MergeSynch is connected.

    ``ins``, ``outs``: a sub-network's declared inputs and outputs, which count
    as connected (the larger network connects them).
    """
    has_in = {id(e.dst) for e in edges} | {id(e.node) for e in ins}
    has_out = {id(e.src) for e in edges} | {id(e.node) for e in outs}
    no_sources = not piece and not any(n.kind == "source" for n in nodes)
    no_sinks = not piece and not any(n.kind == "sink" for n in nodes)
    no_in = [n for n in nodes if n.kind != "source" and id(n) not in has_in]
    no_out = [n for n in nodes if n.kind != "sink" and id(n) not in has_out]
    for n in nodes:
        name = names[id(n)]
        if n.kind != "source" and id(n) not in has_in:
            raise ValueError(
                f"{n.kind} '{name}' has no incoming edge, so it would never receive a "
                f"message. Add an edge (some_node, {name}), or leave it out."
                + (f" If this network is a piece to use inside another one, say where messages "
                   f"come in: network(edges, inputs=[{name}], outputs=[...], name='...')."
                   if no_sources else
                   " If it receives from outside this sub-network, list it in inputs=[...]."
                   if piece else _typo_hint(n, no_out, edges, names, n_has_no_input=True))
            )
        if n.kind != "sink" and id(n) not in has_out:
            raise ValueError(
                f"{n.kind} '{name}' sends to nothing, so its messages would be lost. "
                f"Add an edge ({name}, some_node) — a Sink collects results."
                + (f" If this network is a piece to use inside another one, say where messages "
                   f"go out: network(edges, inputs=[...], outputs=[{name}], name='...')."
                   if no_sinks else
                   " If it sends outside this sub-network, list it in outputs=[...]."
                   if piece else _typo_hint(n, no_in, edges, names, n_has_no_input=False))
            )
        if isinstance(n, Split):
            used = {e.src_port for e in edges if e.src is n} | {e.port for e in outs if e.node is n}
            missing = [f"out_{i}" for i in range(n.num_outputs) if i not in used]
            if missing:
                raise ValueError(
                    f"split '{name}' has {n.num_outputs} outputs but {', '.join(missing)} "
                    f"{'is' if len(missing) == 1 else 'are'} not connected, so messages sent "
                    f"there would be lost. Connect {'it' if len(missing) == 1 else 'them'}, e.g. "
                    f"({name}.{missing[0]}, some_node), or use fewer num_outputs."
                )
        if isinstance(n, MergeSynch):
            used = {e.dst_port for e in edges if e.dst is n} | {e.port for e in ins if e.node is n}
            missing = [f"in_{i}" for i in range(n.num_inputs) if i not in used]
            if missing:
                raise ValueError(
                    f"merge '{name}' has {n.num_inputs} inputs but {', '.join(missing)} "
                    f"{'is' if len(missing) == 1 else 'are'} not connected, so it could never "
                    f"make a complete list. Connect {'it' if len(missing) == 1 else 'them'}, e.g. "
                    f"(some_node, {name}.{missing[0]}), or use fewer num_inputs."
                )


def _typo_hint(n: Node, others: list[Node], edges: list[Edge], names: dict[int, str], *,
               n_has_no_input: bool) -> str:
    """When one node has no input and another sends to nothing, an edge probably names the
    wrong node: say so, and show the edge that was probably meant (``""`` if there is none).
    """
    others = [o for o in others if o is not n]
    if not others:
        return ""
    other = others[0]
    fed, stuck = (other, n) if n_has_no_input else (n, other)  # stuck: no input; fed: no output
    also = (f"{other.kind} '{names[id(other)]}' sends to nothing" if n_has_no_input
            else f"{other.kind} '{names[id(other)]}' has no incoming edge")
    hint = f" Also, {also}: perhaps one edge names the wrong node."
    for e in edges:  # stuck sends somewhere: (stuck, x) may have been meant as (fed, x)
        if e.src is stuck:
            wrote = _with_ports(names[id(stuck)], e.src_port, names[id(e.dst)], e.dst_port)
            meant = _with_ports(names[id(fed)], None, names[id(e.dst)], e.dst_port)
            return hint + f" Did you write {wrote} where you meant {meant}?"
    for e in edges:  # fed is fed by someone: (x, fed) may have been meant as (x, stuck)
        if e.dst is fed:
            wrote = _with_ports(names[id(e.src)], e.src_port, names[id(fed)], e.dst_port)
            meant = _with_ports(names[id(e.src)], e.src_port, names[id(stuck)], None)
            return hint + f" Did you write {wrote} where you meant {meant}?"
    return hint


def _with_ports(src: str, src_port: int | None, dst: str, dst_port: int | None) -> str:
    left = src if src_port is None else f"{src}.out_{src_port}"
    right = dst if dst_port is None else f"{dst}.in_{dst_port}"
    return f"({left}, {right})"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _show(value: object) -> str:
    """An edge or one end of it as a student wrote it: nodes by name, other values by short_repr."""
    if isinstance(value, (tuple, list)):
        inner = ", ".join(_show(v) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    if isinstance(value, Node):
        return value.name
    if isinstance(value, Port):
        return repr(value)
    if isinstance(value, Network):
        return value.name
    return short_repr(value, 60)
