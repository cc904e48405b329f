"""Tracing a run: one plain record per event, for tables, DataFrames and the timeline.

``g.run_network(trace=True)`` records every event of the run and ``g.trace``
returns them. Each :class:`TraceRecord` says which node did what to which
message, when, and in which global order:

========  ================================================================
event     meaning
========  ================================================================
emit      a source produced ``message``
receive   a node took ``message`` from ``edge`` (to handle it)
send      a node sent ``message`` along ``edge`` (one record per edge)
drop      a filter returned None for ``message``, a Split sent it nowhere,
          or a MergeSynch could never pair it (``note`` says which input)
fail      the node's function raised on ``message`` (``note``: the error)
discard   ``message`` reached a node that had already failed
end       the node finished (``note``: "failed" or "stopped" if it did not
          finish normally)
========  ================================================================

``index`` numbers the messages on one edge (0, 1, 2, ...): the send and the
receive (or discard) with the same ``edge`` and ``index`` are the same message
in flight, which is how the timeline draws its arrows.

``time`` is seconds since the run started in a threaded run, and the step
number of the scheduler in a seeded run, so a seeded trace is identical every
time. ``message`` is a copy taken when the event happened (later changes to
the message do not show), or, if it cannot be copied, its repr (a :class:`Shown`).

Tracing is an observer of the runtime: when ``trace`` is off nothing is
wrapped and the runtime runs exactly as without this module.
"""

import itertools
import time
from typing import NamedTuple

from .copying import copy_message
from .errors import _short_repr

EVENTS = ("emit", "receive", "send", "drop", "fail", "discard", "end")


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


class Trace(list):
    """The records of one traced run, in order of ``seq``; a plain list with a readable table.

    ``pandas.DataFrame(g.trace)`` gives one row per record. ``seed`` is the
    seed of a seeded run (None for a threaded run); ``outcome`` is how the run
    ended: "finished", "timeout" or "interrupted".
    """

    seed = None
    outcome = None

    def events(self, kind):
        """Only the records of one kind of event, e.g. ``g.trace.events("drop")``."""
        if kind not in EVENTS:
            raise ValueError(f"there is no event {kind!r}; the events are: {', '.join(EVENTS)}.")
        return [r for r in self if r.event == kind]

    def table(self, limit=60):
        """The records as a text table (the first ``limit`` of them; None for all)."""
        when = "step" if self.seed is not None else "ms"
        rows = self if limit is None else self[:limit]
        lines = [f"{'seq':>5} {when:>7}  {'node':<14} {'event':<8} {'message':<24} edge / note"]
        for r in rows:
            t = f"{r.time:d}" if isinstance(r.time, int) else f"{r.time * 1000:.2f}"
            extra = []
            if r.edge is not None:
                extra.append(f"{r.edge} [{r.index}]")
            if r.note:
                extra.append(r.note)
            msg = "" if r.event == "end" else _short_repr(r.message, 24)
            lines.append(f"{r.seq:>5} {t:>7}  {r.node:<14} {r.event:<8} {msg:<24} {'  '.join(extra)}".rstrip())
        if limit is not None and len(self) > limit:
            lines.append(f"... {len(self) - limit} more records (g.trace.table(limit=None) shows all)")
        head = f"trace of a {'seeded run (seed ' + str(self.seed) + ')' if self.seed is not None else 'threaded run'}"
        head += f": {len(self)} records" + ("" if self.outcome in (None, "finished") else f", ended by {self.outcome}")
        return head + "\n" + "\n".join(lines)

    def __str__(self):
        return self.table()

    def _repr_pretty_(self, printer, cycle):
        printer.text(self.table())


def last_trace(net):
    """The trace of the last run of ``net`` (what ``g.trace`` returns), or a clear error."""
    trace = getattr(net, "_trace", None)
    if trace is None:
        raise RuntimeError(
            "There is no trace: the last run of this network was not traced. Run it with "
            "g.run_network(trace=True) (add seed=N to get the same trace every time), "
            "then look at g.trace."
        )
    return trace


def edge_labels(net):
    """A label per edge, made unique when the same edge is listed twice ("a → b (2)")."""
    seen, labels = {}, []
    for e in net.edges:
        n = seen.get(e.label, 0) + 1
        seen[e.label] = n
        labels.append(e.label if n == 1 else f"{e.label} ({n})")
    return labels


class Shown(str):
    """The repr of a message that could not be copied, standing in for it in a record."""

    def __repr__(self):
        return str(self)


def _snapshot(msg):
    try:
        return copy_message(msg)
    except Exception:
        return Shown(_short_repr(msg))


class Recorder:
    """Makes the records. Safe to call from many node threads at once.

    Each edge's send counter is only touched by its sender's thread and its
    receive counter by its receiver's thread, and ``next`` on a counter and
    ``list.append`` are atomic in CPython, so no lock is needed.
    """

    def __init__(self, net, clock):
        self.records = []
        self.clock = clock
        self._seq = itertools.count()
        self._ids = {e: i for i, e in enumerate(net.edges)}
        self._labels = edge_labels(net)
        self.sent = [0] * len(net.edges)
        self.got = [0] * len(net.edges)
        self.failed = set()

    def _add(self, node, event, message=None, edge=None, index=None, note=None):
        t = self.clock()
        self.records.append(TraceRecord(next(self._seq), t, node, event, message, edge, index, note))

    def emit(self, node, msg):
        self._add(node, "emit", _snapshot(msg))

    def send(self, node, edge, msg):
        i = self._ids[edge]
        k = self.sent[i]
        self.sent[i] = k + 1
        self._add(node, "send", _snapshot(msg), self._labels[i], k)

    def receive(self, node, edge, msg, event="receive"):
        i = self._ids[edge]
        k = self.got[i]
        self.got[i] = k + 1
        self._add(node, event, _snapshot(msg), self._labels[i], k)

    def discard(self, node, edge, msg):
        self.receive(node, edge, msg, "discard")

    def drop(self, node, msg, note=None):
        self._add(node, "drop", _snapshot(msg), note=note)

    def fail(self, node, msg, exc):
        self.failed.add(node)
        self._add(node, "fail", _snapshot(msg), note=f"{type(exc).__name__}: {exc}")

    def end(self, node, state):
        self._add(node, "end", note=None if state == "done" else state)

    def trace(self, seed, outcome):
        trace = Trace(sorted(self.records))
        trace.seed, trace.outcome = seed, outcome
        return trace


class Tracer:
    """The runtime observer behind ``run_network(trace=True)``; leaves the trace in ``net._trace``.

    In a threaded run it wraps, before any thread starts, each node's
    function (``worker.call``: receive, send, drop and fail records, with
    ``worker.edge`` telling which edge a message came along), each
    MergeSynch's inboxes and sending (it calls no function), and
    ``run.finished`` (end records). A seeded run (``replay.py``) calls the
    recorder itself at each step and numbers time by steps.
    """

    def __init__(self, net):
        self.net = net
        self.rec = None

    def started(self, run):
        if getattr(run, "seeded", False):
            self.rec = Recorder(self.net, lambda: run.steps)
            run.recorder = self.rec
            return
        t0 = time.perf_counter()
        self.rec = Recorder(self.net, lambda: time.perf_counter() - t0)
        for w in run.workers.values():
            wrap = getattr(self, "_wrap_" + w.node.kind)
            wrap(w)
        run.finished = self._wrap_finished(run.finished)

    def sink_received(self, worker, messages):
        pass

    def tick(self):
        """Nothing to do while the run goes: every event is recorded as it happens."""

    def finished(self, run, outcome):
        rec = self.rec
        if not getattr(run, "seeded", False):
            self._discards(run)
        self.net._trace = rec.trace(getattr(run, "seed", None), outcome)

    # --- threaded runs ---------------------------------------------------
    def _wrap_source(self, w):
        rec, call, name, outs = self.rec, w.call, w.node.name, w.outputs[0]

        def traced():
            try:
                msg = call()
            except BaseException as exc:
                _failed(rec, name, None, exc)
                raise
            if msg is not None:
                rec.emit(name, msg)
                for edge, _ in outs:
                    rec.send(name, edge, msg)
            return msg
        w.call = traced

    def _wrap_transform(self, w):
        rec, call, name, outs = self.rec, w.call, w.node.name, w.outputs[0]

        def traced(msg):
            result = _received_and_called(rec, name, w, call, msg)
            if result is None:
                rec.drop(name, msg)
            else:
                for edge, _ in outs:
                    rec.send(name, edge, result)
            return result
        w.call = traced

    def _wrap_sink(self, w):
        rec, call, name = self.rec, w.call, w.node.name

        def traced(msg):
            return _received_and_called(rec, name, w, call, msg)
        w.call = traced

    def _wrap_split(self, w):
        from .runtime import _Worker

        rec, call, name, k = self.rec, w.call, w.node.name, w.node.num_outputs

        def traced(msg):
            items = _received_and_called(rec, name, w, call, msg)
            if type(items) not in (list, tuple) or len(items) != k:
                rec.fail(name, msg, ValueError(_Worker._bad_split_result(w, items)))
                return items
            sent = False
            for port, item in enumerate(items):
                if item is not None:
                    sent = True
                    for edge, _ in w.outputs[port]:
                        rec.send(name, edge, item)
            if not sent:
                rec.drop(name, msg)
            return items
        w.call = traced

    def _wrap_merge_synch(self, w):
        rec, name, send = self.rec, w.node.name, w._send
        for inbox in w.inboxes:
            inbox.get = self._traced_get(name, inbox.get)

        def traced_send(port):
            for item in w.pending[port]:
                for edge, _ in w.outputs[port]:
                    rec.send(name, edge, item)
            return send(port)
        w._send = traced_send

    def _traced_get(self, name, get):
        rec = self.rec

        def traced():
            batches = get()
            if batches:
                for edge, batch in batches:
                    for msg in batch:
                        rec.receive(name, edge, msg)
            return batches
        return traced

    def _wrap_finished(self, finished):
        rec = self.rec

        def traced(worker):
            name = worker.node.name
            failure = worker.failure
            if failure is not None and name not in rec.failed:  # e.g. a message it could not copy
                rec.fail(name, failure.message, failure.exception)
            for i, rest in sorted(worker.unpaired.items()):
                for msg in rest:
                    rec.drop(name, msg, note=f"never paired (in_{i})")
            rec.end(name, worker.state)
            return finished(worker)
        return traced

    def _discards(self, run):
        """Messages sent to a node after it failed were never received: record them as discarded."""
        rec = self.rec
        labels = edge_labels(self.net)
        sent = {(r.edge, r.index): r.message for r in rec.records if r.event == "send"}
        for i, edge in enumerate(self.net.edges):
            if run.workers[edge.dst.name].failure is None:
                continue
            for k in range(rec.got[i], rec.sent[i]):
                rec.receive(edge.dst.name, edge, sent.get((labels[i], k)), "discard")


def _received_and_called(rec, name, worker, call, msg):
    """Record that node ``name`` received ``msg``, then call its function (recording a failure)."""
    rec.receive(name, worker.edge, msg)
    try:
        return call(msg)
    except BaseException as exc:
        _failed(rec, name, msg, exc)
        raise


def _failed(rec, name, msg, exc):
    """Record a failure unless ``exc`` is the runtime stopping the node."""
    from .runtime import _Stop

    if not isinstance(exc, _Stop):
        rec.fail(name, msg, exc)
