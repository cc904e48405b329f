"""Tracing a run: one plain record per event, for tables, DataFrames and the timeline.

``g.run_network(trace=True)`` records every event of the run and ``g.trace``
returns them. Each :class:`TraceRecord` says which node did what to which
message, when, and in which global order:

==========  ================================================================
event       meaning
==========  ================================================================
emit        a source produced ``message``
receive     a node took ``message`` from ``edge`` (to handle it)
send        a node sent ``message`` along ``edge`` (one record per edge)
drop        a filter returned None for ``message``, a Split sent it nowhere,
            or a MergeSynch could never pair it (``note`` says which input)
fail        the node's function raised on ``message`` (``note``: the error)
discard     ``message`` reached a node that had already failed
end         the node finished (``note``: "failed", "stopped" or "crashed" if it
            did not finish normally)
record      the node recorded its state for a snapshot (``note``: "snapshot 0"...)
            and sent a marker along each edge leaving it (``snapshots.py``)
marker      the node took a snapshot's marker from ``edge``
lost        a fault lost ``message`` along ``edge`` on its way to the node
duplicated  a fault delivers ``message`` twice: the next ``receive`` with the
            same ``edge`` and ``index`` is its copy
delayed     a ``delay`` fault holds up ``message``, which the node sent along
            ``edge``: ``note`` says how late it arrives (its receive says when)
crash       a ``crash`` fault stopped the node (``note``: after how many messages)
timeout     the node's ``timeout=`` rang: its function is called with ``message``,
            a Timeout, and what it sends follows (``timers.py``)
==========  ================================================================

``index`` numbers the messages on one edge (0, 1, 2, ...): the send and the
receive (or discard) with the same ``edge`` and ``index`` are the same message
in flight, which is how the timeline draws its arrows.

``lamport`` and ``vector`` are the event's Lamport clock and vector clock
(one entry per node, in the order of ``g.trace.nodes``): they are worked out
from the trace after the run, the first time ``g.trace`` is asked for, by the
rules in ``clocks.py``; the run itself pays nothing for them.

``time`` is seconds since the run started in a threaded run, and the step
number of the scheduler in a seeded run, so a seeded trace is identical every
time. ``at`` is, in a seeded run, the time of the run's virtual clock
(``vclock.py``: what sleeps, timers, timeouts and delays made pass, exactly);
the table shows it once it has moved, and the records are then in the order
of ``at`` (a step that slept is recorded at the time it woke). In a threaded
run it is None. ``message`` is a copy taken when the event happened (later changes to
the message do not show), or, if it cannot be copied, its repr (a :class:`Shown`).

Tracing is an observer of the runtime (``observers.py``): the node semantics
tell it of every event. When ``trace`` is off there is no such observer, and
nothing is recorded.
"""

import itertools
import time
from typing import NamedTuple

from .copying import copy_to_keep
from .errors import exception_text, short_repr
from .observers import Events, Observer

_new_record = tuple.__new__

EVENTS = ("emit", "receive", "send", "drop", "fail", "discard", "end", "record", "marker",
          "lost", "duplicated", "crash", "timeout", "delayed")


class TraceRecord(NamedTuple):
    """One event of a traced run (see the module docstring for each field)."""

    seq: int
    time: float
    node: str
    event: str
    message: object = None
    edge: str = None
    index: int = None
    note: str = None
    lamport: int = None
    vector: object = None  # a clocks.VectorClock
    at: float = None  # seeded runs: the virtual clock's time (vclock.py)


class Trace(list):
    """The records of one traced run, in order of ``seq``; a plain list with a readable table.

    ``pandas.DataFrame(g.trace)`` gives one row per record. ``seed`` is the
    seed of a seeded run (None for a threaded run); ``outcome`` is how the run
    ended: "finished", "timeout" or "interrupted". ``nodes`` names the nodes in
    the order of the entries of each vector clock: the order messages flow, senders
    before their receivers, as the timeline's lanes.
    """

    seed = None
    outcome = None
    nodes = None
    clocks = None  # a clocks.Clocks, once asked for

    def events(self, kind):
        """Only the records of one kind of event, e.g. ``g.trace.events("drop")``."""
        if kind not in EVENTS:
            raise ValueError(f"there is no event {kind!r}; the events are: {', '.join(EVENTS)}.")
        return [r for r in self if r.event == kind]

    def table(self, limit=60, clocks=False):
        """The records as a text table (the first ``limit`` of them; None for all).

        ``clocks=True`` adds each event's Lamport clock and vector clock (``clocks.py``).
        """
        when = "step" if self.seed is not None else "ms"
        if clocks and self.clocks is None:
            from .clocks import clocks_of

            clocks_of(self)
        rows = self if limit is None else self[:limit]
        virtual = any(r.at for r in self)  # a seeded run whose virtual clock moved
        width = max([len(repr(r.vector)) for r in rows] + [6]) if clocks else 0
        stamp = f"{'L':>4} {'vector':<{width}}  " if clocks else ""
        if virtual:
            stamp = f"{'at (s)':>8} " + stamp
        lines = [f"{'seq':>5} {when:>7}  {stamp}{'node':<14} {'event':<8} {'message':<24} edge / note"]
        for r in rows:
            t = f"{r.time:d}" if isinstance(r.time, int) else f"{r.time * 1000:.2f}"
            extra = []
            if r.edge is not None:
                extra.append(r.edge if r.index is None else f"{r.edge} [{r.index}]")
            if r.note:
                extra.append(r.note)
            msg = "" if r.event == "end" else short_repr(r.message, 24)
            stamp = f"{r.lamport:>4} {r.vector!r:<{width}}  " if clocks else ""
            if virtual:
                stamp = f"{r.at:>8g} " + stamp
            line = f"{r.seq:>5} {t:>7}  {stamp}{r.node:<14} {r.event:<8} {msg:<24} {'  '.join(extra)}"
            lines.append(line.rstrip())
        if limit is not None and len(self) > limit:
            lines.append(f"... {len(self) - limit} more records (g.trace.table(limit=None) shows all)")
        run = "threaded run" if self.seed is None else f"seeded run (seed {self.seed})"
        head = f"trace of a {run}: {len(self)} records"
        if self.outcome not in (None, "finished"):
            head += f", ended by {self.outcome}"
        return head + "\n" + "\n".join(lines)

    def __str__(self):
        return self.table()

    def _repr_pretty_(self, printer, cycle):
        printer.text(self.table())


def last_trace(run, clocks=True):
    """The trace of ``run`` (what ``g.trace`` returns for the last run), or a clear error.

    With ``clocks`` (as for ``g.trace``) its records carry their Lamport and
    vector clocks, worked out now if this is the first time they are asked for.
    """
    trace = getattr(run, "trace", None)
    if trace is None:
        raise RuntimeError(
            "There is no trace: the last run of this network was not traced. Run it with "
            "g.run_network(trace=True) (add seed=N to get the same trace every time), "
            "then look at g.trace."
        )
    if clocks and trace.clocks is None:
        from .clocks import clocks_of

        clocks_of(trace)
    return trace


def edge_labels(net):
    """A label per edge, made unique when the same edge is listed twice ("a → b (2)")."""
    seen, labels = {}, []
    for e in net.edges:
        n = seen.get(e.label, 0) + 1
        seen[e.label] = n
        labels.append(e.label if n == 1 else f"{e.label} ({n})")
    return labels


def flow_order(net):
    """The nodes in the order messages flow: every sender before its receivers.

    The timeline's lanes, left to right, and the entries of a vector clock. An edge
    that closes a loop (``net.feedback_edges``) goes right to left.
    """
    pos = {id(n): i for i, n in enumerate(net.nodes)}
    senders = {id(n): set() for n in net.nodes}
    for e in net.edges:
        if e not in net.feedback_edges:
            senders[id(e.dst)].add(id(e.src))
    ready = [n for n in net.nodes if not senders[id(n)]]
    order = []
    while ready:
        ready.sort(key=lambda n: pos[id(n)])
        n = ready.pop(0)
        order.append(n)
        for d in net.downstream(n):
            if id(n) in senders[id(d)]:
                senders[id(d)].discard(id(n))
                if not senders[id(d)]:
                    ready.append(d)
    return order


class Shown(str):
    """The repr of a message that could not be copied, standing in for it in a record."""

    def __repr__(self):
        return str(self)


def _kept(msg):
    return copy_to_keep(msg, Shown)


def _by_time(r):
    return (r.at, r.seq)


class Tracer(Observer, Events):
    """The observer behind ``run_network(trace=True)``: one record per event, kept in ``run.trace``.

    It is told of every message by the node semantics (``events = True``) and
    may be called from many node threads at once. Each edge's send counter is
    only touched by its sender's thread and its receive counter by its
    receiver's thread, and ``next`` on a counter and ``list.append`` are atomic
    in CPython, so no lock is needed. Time is seconds since the run started in
    a threaded run, and the scheduler's step in a seeded one.
    """

    events = True

    def __init__(self):
        self.records = []
        self.clock = None
        self._seq = itertools.count()

    def started(self, run):
        net = run.net
        self._ids = {e: i for i, e in enumerate(net.edges)}
        self._labels = edge_labels(net)
        self._nodes = [net.name_of(n) for n in flow_order(net)]  # the vector clocks' entries
        self.sent = [0] * len(net.edges)
        self.got = [0] * len(net.edges)
        self.again = {}  # faults.py: per edge, per index, copies of a duplicated message to come
        if run.seed is not None:
            self.clock = lambda: run.steps
            from .vclock import running

            def at():  # the virtual time, as the node's function sees it (vclock.py)
                clock = running()
                return run.clock if clock is None else clock.inside()
            self.at = at
        else:
            self.at = lambda: None
            t0 = time.perf_counter()
            self.clock = lambda: time.perf_counter() - t0

    def finished(self, run, outcome):
        records = sorted(self.records)
        if run.seed is not None and any(r.at for r in records):
            # a step that slept wrote its events before those of steps that happened earlier in
            # virtual time: in the order of time (that of the steps when equal), numbered again.
            # Nothing a step sends can arrive before it wakes, so each receive stays after its send.
            records = [r._replace(seq=i) for i, r in enumerate(sorted(records, key=_by_time))]
        trace = Trace(records)
        trace.seed, trace.outcome, trace.nodes = run.seed, outcome, self._nodes
        run.trace = trace

    def _add(self, node, event, message=None, edge=None, index=None, note=None):
        t = self.clock()
        # a TraceRecord made as the tuple it is (what its own constructor does, without the call):
        # the clocks (the last two fields) are worked out after the run (clocks.py)
        self.records.append(_new_record(TraceRecord, (next(self._seq), t, node, event, message, edge,
                                                      index, note, None, None, self.at())))

    def emit(self, node, msg):
        self._add(node, "emit", _kept(msg))

    def send(self, node, edge, msg):
        i = self._ids[edge]
        k = self.sent[i]
        self.sent[i] = k + 1
        self._add(node, "send", _kept(msg), self._labels[i], k)

    def receive(self, node, edge, msg, event="receive"):
        i = self._ids[edge]
        k = self.got[i]
        again = self.again.get(i) if self.again else None
        if again and again.get(k - 1):  # the copy of a duplicated message: the same index
            again[k - 1] -= 1
            k -= 1
        else:
            self.got[i] = k + 1
        self._add(node, event, _kept(msg), self._labels[i], k)

    def discard(self, node, edge, msg):
        self.receive(node, edge, msg, "discard")

    def drop(self, node, msg, note=None):
        self._add(node, "drop", _kept(msg), note=note)

    def fail(self, node, msg, exc):
        self._add(node, "fail", _kept(msg), note=exception_text(exc))

    def end(self, node, state):
        self._add(node, "end", note=None if state == "done" else state)

    def lost(self, node, edge, msg):
        self.receive(node, edge, msg, "lost")

    def duplicated(self, node, edge, msg, index):
        i = self._ids[edge]
        again = self.again.setdefault(i, {})
        again[index] = again.get(index, 0) + 1
        self._add(node, "duplicated", _kept(msg), self._labels[i], index)

    def delayed(self, node, edge, msg, index, seconds):
        i = self._ids[edge]
        self._add(node, "delayed", _kept(msg), self._labels[i], index, f"{seconds:.6g} s late")

    def crash(self, node, after):
        self._add(node, "crash", note=f"after {after} message{'s' if after != 1 else ''}")

    def timeout(self, node, msg):
        self._add(node, "timeout", _kept(msg))

    def record(self, node, number):
        self._add(node, "record", note=f"snapshot {number}")

    def marker(self, node, edge, number):
        self._add(node, "marker", edge=self._labels[self._ids[edge]], note=f"snapshot {number}")
