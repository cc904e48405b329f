"""Time and order in a traced run: Lamport clocks, vector clocks and happened-before.

There is no global clock in a distributed system; what there is, is order.
Event ``a`` *happened before* event ``b`` (Lamport, 1978) when ``b`` could know
of ``a``: both are events of one node and ``a`` came first, or ``a`` sent a
message that ``b`` received, or there is a chain of these from ``a`` to ``b``.
Two events neither of which happened before the other are *concurrent*.

The rules, for a trace (``g.run_network(trace=True)``, see ``trace.py``):

* Each record of a node is one event of that node: emit, send, receive,
  drop, failure, discard, end, snapshot record and marker alike, in the
  order the node made them.
* A fanout's k sends are k events, in edge order (one record per edge).
* A receive (or discard) is paired with its send by ``edge`` and ``index``.
  A MergeSynch sends a pair only after it has received every message in it,
  so the pair's send depends on every one of them.
* Markers and end-of-stream carry no clock: taking a snapshot's marker, or
  ending, is an event of the node, but it learns nothing of its sender's clock.
* A message sent and never received (lost) is a send with no receive; a
  message received twice (duplicated) is one send and two receives: each
  receive depends on the send.

From these, each event ``e`` of node ``n`` gets

* a Lamport clock: ``L(e) = 1 + max(L(previous event of n), L(the send e receives))``
  (0 for what is missing), so ``a`` happened before ``b`` implies ``L(a) < L(b)``;
* a vector clock ``V(e)``, one entry per node: entry ``m`` counts the events of
  node ``m`` that happened before ``e`` or are ``e``. Then ``a`` happened before
  ``b`` exactly when ``V(a) <= V(b)`` entry by entry and ``a != b``.

The clocks are computed from the trace after the run, once, when first asked
for (``g.trace`` or a question below): the run itself pays nothing for them.
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

#: events that take in a message sent along an edge (and so learn the sender's clock)
RECEIVES = ("receive", "discard")


class VectorClock:
    """A vector timestamp: one count per node of the network, in the order of ``nodes``.

    ``v["double"]`` (or ``v[1]``) is one entry; ``dict(v.items())`` all of them.
    ``a <= b`` compares entry by entry, so it is a *partial* order: for two
    concurrent events neither ``a <= b`` nor ``b <= a`` holds
    (``a.concurrent(b)`` says so). It prints as ``[2, 1, 0]``.
    """

    __slots__ = ("nodes", "counts")

    def __init__(self, nodes: Sequence[str], counts: Sequence[int]) -> None:
        if len(nodes) != len(counts):
            raise ValueError(f"a vector clock needs one count per node: {len(nodes)} nodes, "
                             f"{len(counts)} counts")
        self.nodes = tuple(nodes)
        self.counts = tuple(counts)

    def __getitem__(self, key: int | str) -> int:
        if isinstance(key, str):
            if key not in self.nodes:
                raise KeyError(f"there is no node {key!r} in this vector clock; its nodes are: "
                               f"{', '.join(self.nodes)}")
            return self.counts[self.nodes.index(key)]
        return self.counts[key]

    def __len__(self) -> int:
        return len(self.counts)

    def __iter__(self) -> Iterator[int]:
        return iter(self.counts)

    def items(self) -> list[tuple[str, int]]:
        """``(node, count)`` for every node."""
        return list(zip(self.nodes, self.counts, strict=True))

    def _other(self, other):
        counts = other.counts if isinstance(other, VectorClock) else tuple(other)
        if len(counts) != len(self.counts):
            raise ValueError(f"cannot compare vector clocks of {len(self.counts)} and "
                             f"{len(counts)} nodes")
        return counts

    def __le__(self, other) -> bool:
        return all(a <= b for a, b in zip(self.counts, self._other(other), strict=True))

    def __ge__(self, other) -> bool:
        return all(a >= b for a, b in zip(self.counts, self._other(other), strict=True))

    def __lt__(self, other) -> bool:
        return self <= other and self.counts != self._other(other)

    def __gt__(self, other) -> bool:
        return self >= other and self.counts != self._other(other)

    def __eq__(self, other) -> bool:
        if isinstance(other, VectorClock):
            return self.counts == other.counts and self.nodes == other.nodes
        if isinstance(other, (tuple, list)):
            return self.counts == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.counts)

    def concurrent(self, other: VectorClock | Sequence[int]) -> bool:
        """Neither clock is below the other: their events are concurrent."""
        return not self <= other and not self >= other

    def merge(self, other: VectorClock | Sequence[int]) -> VectorClock:
        """The entry-by-entry maximum (what a receiver does with a clock that came with a message)."""
        return VectorClock(self.nodes, [max(a, b) for a, b in zip(self.counts, self._other(other),
                                                                   strict=True)])

    def __repr__(self) -> str:
        return "[" + ", ".join(map(str, self.counts)) + "]"

    def __reduce__(self):
        return (VectorClock, (self.nodes, self.counts))


class Clocks:
    """The Lamport and vector clock of every event of one trace, and the causal order.

    Made by :func:`clocks_of` (once per trace). ``lamport[seq]`` and
    ``vector[seq]`` are the clocks of the event numbered ``seq``.
    """

    def __init__(self, records: Sequence[Any], nodes: Sequence[str]) -> None:
        self.records = list(records)
        for i, r in enumerate(self.records):
            if r.seq != i:
                raise ValueError(f"the trace's events must be numbered 0, 1, 2...; event {i} has "
                                 f"the number {r.seq}")
        self.nodes = tuple(nodes) + tuple(sorted({r.node for r in self.records} - set(nodes)))
        self.position = {name: i for i, name in enumerate(self.nodes)}
        self.sent_by = _pairs(self.records)  # seq of a receive -> seq of its send
        collecting = gc.isenabled()
        gc.disable()  # many small tuples, none of them garbage: collecting would only slow it down
        try:
            self.lamport, self.vector = _compute(self.records, self.sent_by, self.nodes,
                                                 self.position)
        finally:
            if collecting:
                gc.enable()

    # --- the causal order ---------------------------------------------------------------
    def seq(self, event: Any, what: str = "event") -> int:
        """The number of ``event``: a record of this trace, or its ``seq``; a clear error otherwise."""
        n = len(self.records)
        if isinstance(event, bool) or not isinstance(event, int):
            seq = getattr(event, "seq", None)
            if not isinstance(seq, int) or not hasattr(event, "event") or not hasattr(event, "node"):
                raise TypeError(f"{what} must be a record of g.trace or its number (the seq "
                                f"column), like g.trace[5] or 5; got {event!r}.")
            if not 0 <= seq < n or not _same(self.records[seq], event):
                raise ValueError(f"{what} is a record of another run ({event.node} {event.event}, "
                                 f"seq {seq}), not of the last traced run: take it from g.trace "
                                 f"after the run you are asking about.")
            return seq
        if not 0 <= event < n:
            raise ValueError(f"{what} is {event}, but this trace's events are numbered 0 to "
                             f"{n - 1} (the seq column of g.trace).")
        return event

    def happened_before(self, a: Any, b: Any) -> bool:
        """True when event ``a`` happened before event ``b`` (and they are not the same event)."""
        i, j = self.seq(a, "a"), self.seq(b, "b")
        if i == j:
            return False
        k = self.position[self.records[i].node]
        return self.vector[i].counts[k] <= self.vector[j].counts[k]

    def concurrent(self, a: Any, b: Any) -> bool:
        """True when neither of two different events happened before the other."""
        i, j = self.seq(a, "a"), self.seq(b, "b")
        return i != j and not self.happened_before(i, j) and not self.happened_before(j, i)

    def causal_past(self, e: Any) -> list:
        """The events that happened before ``e``, in the order of the trace."""
        j = self.seq(e, "e")
        return [r for r in self.records[:j] if self.happened_before(r.seq, j)]

    def causal_future(self, e: Any) -> list:
        """The events that ``e`` happened before, in the order of the trace."""
        i = self.seq(e, "e")
        return [r for r in self.records[i + 1:] if self.happened_before(i, r.seq)]

    def stamped(self) -> list:
        """The records with their ``lamport`` and ``vector`` fields filled in."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            return [r._make((*r[:8], lam, vec, *r[10:]))  # seq..note, the clocks, then at
                    for r, lam, vec in zip(self.records, self.lamport, self.vector, strict=True)]
        finally:
            if collecting:
                gc.enable()


def _same(a, b) -> bool:
    return (a.seq, a.node, a.event, a.edge, a.index) == (b.seq, b.node, b.event, b.edge, b.index)


def _pairs(records: Sequence[Any]) -> dict[int, int]:
    """Each receive's send: the send with the same ``edge`` and ``index`` (a receive of a message
    never sent, which no run makes, depends on nothing but its node's earlier events)."""
    sends = {(r.edge, r.index): r.seq for r in records if r.event == "send"}
    out = {}
    for r in records:
        if r.event in RECEIVES:
            s = sends.get((r.edge, r.index))
            if s is not None:
                out[r.seq] = s
    return out


def _compute(records, sent_by, nodes, position):
    """Lamport and vector clocks, each event after what it depends on.

    Events are taken in the trace's order. A receive recorded before its send
    (a threaded run can record a send a moment after the message has gone: its
    thread was paused between the two) waits, with the later events of its
    node, until that send has its clocks.
    """
    n = len(records)
    width = len(nodes)
    zero = (0,) * width
    lamport = [0] * n  # 0: not yet worked out
    counts: list = [zero] * n
    last = {}  # per node: its last event worked out
    held = {}  # per node that waits for a send: its events, in order
    waits = {}  # seq of a send -> the nodes that wait for it

    def work_out(i, node):
        p, s = last.get(node, -1), sent_by.get(i, -1)
        lam = lamport[p] if p >= 0 else 0
        vec = counts[p] if p >= 0 else zero
        if s >= 0:
            lam = max(lam, lamport[s])
            vec = tuple(map(max, vec, counts[s]))
        k = position[node]
        lamport[i] = lam + 1
        counts[i] = vec[:k] + (vec[k] + 1,) + vec[k + 1:]
        last[node] = i

    def let_go(i):  # event i has its clocks: the nodes that waited for it go on
        todo = [i]
        while todo:
            for node in waits.pop(todo.pop(), ()):
                queue = held[node]
                while queue:
                    j = queue[0]
                    s = sent_by.get(j, -1)
                    if s >= 0 and not lamport[s]:
                        waits.setdefault(s, []).append(node)
                        break
                    queue.popleft()
                    work_out(j, node)
                    todo.append(j)
                if not queue:
                    del held[node]

    for r in records:
        i, node = r.seq, r.node
        if node in held:
            held[node].append(i)
            continue
        s = sent_by.get(i, -1)
        if s >= 0 and not lamport[s]:
            held[node] = deque([i])
            waits.setdefault(s, []).append(node)
            continue
        work_out(i, node)
        if i in waits:
            let_go(i)
    if held:
        stuck = sorted(held)
        raise ValueError(f"this trace cannot come from a run: the events of {', '.join(stuck)} "
                         f"wait for a send that only comes after them")
    return lamport, [VectorClock(nodes, c) for c in counts]


def clocks_of(trace: Any) -> Clocks:
    """The clocks of ``trace`` (a ``g.trace``), computed on first use and kept with it.

    The first call also fills in the ``lamport`` and ``vector`` fields of every
    record of the trace, in place.
    """
    known = getattr(trace, "clocks", None)
    if isinstance(known, Clocks):
        return known
    clocks = Clocks(trace, getattr(trace, "nodes", None) or _nodes_in_order(trace))
    if hasattr(trace, "clocks"):  # a Trace: keep them, and stamp its records
        trace[:] = clocks.records = clocks.stamped()
        trace.clocks = clocks
    return clocks


def _nodes_in_order(records) -> list[str]:
    return list(dict.fromkeys(r.node for r in records))
