"""A node's report, read in the notebook's process: counters, failures, printed text and trace events.

Every call the hub (``ray_engine.py``) makes to a node's process returns a
report (``ray_hosts.NodeHost``): plain data, made to travel. This
module turns its parts back into what the rest of DisSysLab knows:

* :func:`copy_counters`: the node's counters (``g.stats``, ``g.edge_counts``...)
  into the hub's mirror of the node, the :class:`~dissyslab.semantics.NodeRun`
  kept in this process, with each edge named by its number again;
* :func:`failure_from`: a failure as a :class:`~dissyslab.errors.NodeFailure`,
  with the exception itself when it could travel, and its traceback as it was
  in the node's process;
* :func:`replay`: the events of a traced run, told to the observers here, each
  at the time it happened in the node's process (:func:`clocks_at`);
* :func:`tell_views`: what a sink in a process of its own handled, for the
  live view's lists.
"""

from __future__ import annotations

import contextlib
import pickle
import time
from typing import Any, Iterator

from .errors import NodeFailure
from .ray_hosts import RemoteError
from .semantics import NodeRun


def copy_counters(nr: NodeRun, counters: tuple, edges: list) -> tuple[bool, str]:
    """Copy a report's counters into ``nr``; returns what it said of the node: (exhausted, state)."""
    (nr.stats, edge_counts, received_on, discarded_on, nr.skipped, state, exhausted,
     nr.unpaired, nr.paired) = counters
    nr.edge_counts = {edges[i]: n for i, n in edge_counts.items()}
    nr.received_on = {edges[i]: n for i, n in received_on.items()}
    nr.discarded_on = {edges[i]: n for i, n in discarded_on.items()}
    return exhausted, state


@contextlib.contextmanager
def clocks_at(observers: list, wall_to_perf: float, at: list) -> Iterator[None]:
    """While inside, the observers' clocks read ``at[0]`` (a ``time.time()`` of a node's
    process, moved onto their own scale; the caller may change it between two events).

    ``wall_to_perf``: ``time.perf_counter() - time.time()`` in this process.
    Observers keep times with a ``clock()`` of their own (the tracer: seconds
    since the run began, by this process's ``perf_counter``). On one machine
    every process reads the same ``time.time()``, so the times agree to the
    microsecond; on a cluster the machines' clocks differ by what their time
    keeping (NTP) leaves, often a millisecond or so, sometimes more.
    """
    clocks = [(o, o.clock) for o in observers if callable(getattr(o, "clock", None))]
    for o, clock in clocks:
        offset = clock() - time.perf_counter()  # (its clock) - (this process's perf_counter)
        o.clock = lambda offset=offset: at[0] + wall_to_perf + offset
    try:
        yield
    finally:
        for o, clock in clocks:
            o.clock = clock


def replay(watch: Any, events: list, edges: list, failure_of: Any, observers: list,
           wall_to_perf: float) -> None:
    """Tell ``watch`` of the events a node's process recorded, each at the time it happened
    there (its ``time.time()`` stamp, see :func:`clocks_at`). ``failure_of(name)``: the
    NodeFailure of a node, or None."""
    at = [0.0]
    with clocks_at(observers, wall_to_perf, at):
        for kind, node, index, msg, note, at[0] in events:
            if kind in ("receive", "send", "discard"):
                getattr(watch, kind)(node, edges[index], msg)
            elif kind == "fail":
                failure = failure_of(node)
                watch.fail(node, msg, failure.exception if failure is not None else None)
            elif kind == "drop":
                watch.drop(node, msg, note)
            elif kind == "end":
                watch.end(node, note)
            else:
                watch.emit(node, msg)


def tell_views(nr: NodeRun, items: list, handled: int) -> None:
    """What a sink in a process handled (the first ``handled`` messages of ``items``, the
    hub's entries), told to the views here (the live view's lists)."""
    for edge, _, _, data in items:
        if handled <= 0:
            return
        messages = pickle.loads(data)[:handled]
        handled -= len(messages)
        nr.edge = edge
        for observer in nr.on_sink:
            observer.sink_received(nr, messages)


def failure_from(nr: NodeRun, report: tuple) -> NodeFailure:
    """The NodeFailure of a node whose function raised in its process."""
    exc_data, exc_text, tb_text, msg_data, msg_text, has_message, detail = report
    exc = _loads_or(exc_data, None)
    if exc is None:
        exc = RemoteError(exc_text)
    msg = _loads_or(msg_data, msg_text)
    failure = NodeFailure(nr.node, exc, msg, has_message, detail, name=nr.name)
    failure.traceback = tb_text  # the traceback as it was in the node's process
    return failure


def _loads_or(data: bytes | None, default: Any) -> Any:
    """``data`` unpickled, or ``default`` if there is none or it cannot be unpickled here."""
    if data is not None:
        try:
            return pickle.loads(data)
        except Exception:
            pass
    return default
