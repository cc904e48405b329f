"""Loops in a network: finding them, the edges that close them, and the checks they must pass.

A *loop* (a feedback cycle) is a group of nodes that can all reach one
another along edges: a message can go round and come back, as a retry or a
game of ping-pong does. Loops are allowed, and three questions about them are
answered here, once, for every part of the package:

* :func:`find_loops`: which nodes form loops (``g.loops``);
* :func:`feedback_edges`: which edges close a loop, seen from the sources
  (``g.feedback_edges``): the edges a message takes to come *back*. A
  scheduler never bounds them (``termination.py`` says why), and the
  timeline draws them right to left;
* :func:`check_loops`: the rule ``network()`` enforces, that every node is fed
  by a source and leads to a sink, so no message is trapped in a loop for ever.

These functions look only at nodes and edges (anything with ``src`` and
``dst``, like :class:`~dissyslab.model.Edge`): they run while a network is being
built, before there is a :class:`~dissyslab.model.Network` to ask.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `import dissyslab` stays light
if TYPE_CHECKING:
    from typing import Callable, Sequence

    from .nodes import Edge, Node


def find_loops(nodes: Sequence[Node], edges: Sequence[Edge]) -> list[list[Node]]:
    """The loops among ``nodes``: each a list of nodes that can all reach one another.

    These are the strongly connected components with more than one node, or
    a node with an edge to itself, found by Tarjan's algorithm. Each loop
    lists its nodes in the order of ``nodes``, and the loops come in the
    order of their first node, so the same network always gives the same list.
    """
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    down = {id(n): [e.dst for e in edges if e.src is n] for n in nodes}
    order = {id(n): i for i, n in enumerate(nodes)}
    counter = 0
    for start in nodes:
        if id(start) in index:
            continue
        work = [(start, iter(down[id(start)]))]
        index[id(start)] = low[id(start)] = counter
        counter += 1
        stack.append(start)
        on_stack.add(id(start))
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if id(nxt) not in index:
                    index[id(nxt)] = low[id(nxt)] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(id(nxt))
                    work.append((nxt, iter(down[id(nxt)])))
                elif id(nxt) in on_stack:
                    low[id(node)] = min(low[id(node)], index[id(nxt)])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[id(parent)] = min(low[id(parent)], low[id(node)])
            if low[id(node)] == index[id(node)]:
                component = []
                while True:
                    m = stack.pop()
                    on_stack.discard(id(m))
                    component.append(m)
                    if m is node:
                        break
                if len(component) > 1 or node in down[id(node)]:
                    found.append(sorted(component, key=lambda m: order[id(m)]))
    return sorted(found, key=lambda loop: order[id(loop[0])])


def feedback_edges(nodes: Sequence[Node], edges: Sequence[Edge]) -> list[Edge]:
    """The edges that close a loop: those leading back to a node on the current path of a
    walk from the sources.

    The walk starts at each source in turn and follows edges in the order they
    were listed, so the same network always gets the same feedback edges,
    returned in the order of ``edges``. A network without loops has none.
    """
    out = {id(n): [e for e in edges if e.src is n] for n in nodes}
    state, found = {}, set()  # id -> 1 on the current path, 2 finished
    for start in nodes:
        if start.kind != "source" or id(start) in state:
            continue
        state[id(start)] = 1
        work = [(start, iter(out[id(start)]))]
        while work:
            node, it = work[-1]
            e = next(it, None)
            if e is None:
                state[id(node)] = 2
                work.pop()
            elif state.get(id(e.dst)) == 1:
                found.add(e)
            elif id(e.dst) not in state:
                state[id(e.dst)] = 1
                work.append((e.dst, iter(out[id(e.dst)])))
    return [e for e in edges if e in found]


def check_loops(nodes: Sequence[Node], edges: Sequence[Edge], names: dict[int, str],
                ins: Sequence = (), outs: Sequence = ()) -> None:
    """Raise ``ValueError`` unless every node is fed by a source and leads to a sink.

    Without a loop, the other checks of ``network()`` already make sure of
    that. A loop can still hide a node from both: a loop that no source
    reaches would never receive a message, and one with no way out towards a
    sink would keep its messages for ever. The error names the loop.
    ``names`` is the network's name for each node (by ``id``). In a
    sub-network, its declared inputs ``ins`` count as fed and its outputs
    ``outs`` as leading out (each has a ``node``).
    """
    down = {id(n): [e.dst for e in edges if e.src is n] for n in nodes}
    up = {id(n): [e.src for e in edges if e.dst is n] for n in nodes}
    fed = _reach(_unique_nodes([n for n in nodes if n.kind == "source"] + [e.node for e in ins]), down)
    leads = _reach(_unique_nodes([n for n in nodes if n.kind == "sink"] + [e.node for e in outs]), up)
    for n in nodes:
        if id(n) not in fed:
            loop = _loop_through(n, up, lambda m: id(m) not in fed, backwards=True)
            raise ValueError(
                f"{_loop_text(loop, names)}. No source reaches it, so it would never receive a "
                f"message. Send messages into the loop from a source, or from a node that a "
                f"source reaches.")
        if id(n) not in leads:
            loop = _loop_through(n, down, lambda m: id(m) not in leads, backwards=False)
            raise ValueError(
                f"{_loop_text(loop, names)}. No edge leads from the loop towards a sink, so its "
                f"messages could never leave it. Add an edge from one of its nodes to a path that "
                f"ends in a Sink.")


def _unique_nodes(nodes: list[Node]) -> list[Node]:
    out, seen = [], set()
    for n in nodes:
        if id(n) not in seen:
            seen.add(id(n))
            out.append(n)
    return out


def _reach(starts: list[Node], step: dict[int, list[Node]]) -> set[int]:
    """ids of the nodes reached from ``starts`` following ``step`` (a dict id -> next nodes)."""
    seen, todo = {id(n) for n in starts}, list(starts)
    while todo:
        for m in step[id(todo.pop())]:
            if id(m) not in seen:
                seen.add(id(m))
                todo.append(m)
    return seen


def _loop_through(n: Node, step: dict[int, list[Node]], bad: Callable[[Node], bool],
                  backwards: bool) -> list[Node]:
    """A loop among the ``bad`` nodes next to ``n`` (there is one: all of ``n``'s neighbours are bad)."""
    path, node = [n], n
    while True:  # follow bad neighbours until a node repeats
        node = next(m for m in step[id(node)] if bad(m))
        if node in path:
            loop = path[path.index(node):]
            if backwards:
                loop.reverse()
            return loop + [loop[0]]
        path.append(node)


def _loop_text(loop: list[Node], names: dict[int, str]) -> str:
    if len(loop) == 2:
        return f"{loop[0].kind} '{names[id(loop[0])]}' sends to itself (a loop)"
    return "These nodes form a loop: " + " → ".join(names[id(n)] for n in loop)
