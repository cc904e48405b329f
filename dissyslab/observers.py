"""How tracing and the views watch a run: one small interface that every scheduler calls.

An observer is any object with these four methods (:class:`Observer` has
them all, doing nothing, to inherit from):

``started(run)``
    On the calling thread, after the run is wired and before any node works.
``sink_received(node_run, messages)``
    What a sink has just handled, from whichever thread ran it (a node's own
    thread in a threaded run): keep it quick, and never touch widgets there.
``tick()``
    On the calling thread, every few milliseconds while the run goes on.
``finished(run, outcome)``
    On the calling thread, once, however the run ended: ``outcome`` is
    "finished", "timeout" or "interrupted".

An observer that sets ``events = True`` is also told of every single message
(it is slow on purpose: tracing uses it). It then needs the methods of
:class:`Events`, which the node semantics (``semantics.py``) call as things happen.
No observer replaces or wraps anything in the runtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .nodes import Edge


class Observer:
    """Watches runs; every method does nothing unless a subclass says otherwise."""

    events = False

    def started(self, run: Any) -> None:
        """The run is wired and about to start."""

    def sink_received(self, node_run: Any, messages: list) -> None:
        """A sink has handled ``messages`` (called on the thread that ran it)."""

    def tick(self) -> None:
        """The run goes on (calling thread, every few milliseconds)."""

    def finished(self, run: Any, outcome: str) -> None:
        """The run has ended: "finished", "timeout" or "interrupted"."""


class Events:
    """The per-message calls an observer with ``events = True`` receives.

    ``node`` is a node's name; ``edge`` an :class:`~dissyslab.Edge`.
    """

    def emit(self, node: str, msg: Any) -> None:
        """A source produced ``msg``."""

    def receive(self, node: str, edge: Edge, msg: Any) -> None:
        """``node`` took ``msg`` from ``edge`` and is about to handle it."""

    def send(self, node: str, edge: Edge, msg: Any) -> None:
        """``node`` made ``msg`` for ``edge`` (one call per edge of a fanout)."""

    def drop(self, node: str, msg: Any, note: str | None = None) -> None:
        """``msg`` went no further: filtered, routed nowhere, or never paired."""

    def fail(self, node: str, msg: Any, exc: BaseException) -> None:
        """``node``'s function raised ``exc`` (on ``msg``, if it had one)."""

    def discard(self, node: str, edge: Edge, msg: Any) -> None:
        """``msg`` reached ``node`` after it had failed, and was thrown away."""

    def end(self, node: str, state: str) -> None:
        """``node`` has ended: "done", "failed", "stopped" or "crashed" (a fault: ``faults.py``)."""

    def lost(self, node: str, edge: Edge, msg: Any) -> None:
        """``msg`` was lost along ``edge`` on its way to ``node`` (a fault: ``faults.py``)."""

    def duplicated(self, node: str, edge: Edge, msg: Any, index: int) -> None:
        """Message ``index`` of ``edge`` reaches ``node`` twice (a ``duplicate`` fault)."""

    def delayed(self, node: str, edge: Edge, msg: Any, index: int, seconds: float) -> None:
        """Message ``index`` that ``node`` sent along ``edge`` arrives ``seconds`` late (a ``delay``)."""

    def crash(self, node: str, after: int) -> None:
        """``node`` crashed (a ``crash`` fault) after ``after`` messages."""

    def timeout(self, node: str, msg: Any) -> None:
        """``node``'s ``timeout=`` rang: its function is called with ``msg``, a Timeout (timers.py)."""

    def record(self, node: str, number: int) -> None:
        """``node`` recorded its state for snapshot ``number`` (0, 1, ... in the run; snapshots.py)."""

    def marker(self, node: str, edge: Edge, number: int) -> None:
        """``node`` took the marker of snapshot ``number`` from ``edge``."""


class _AllOf(Events):
    """Several event observers heard as one."""

    def __init__(self, observers):
        self.observers = list(observers)

    def __getattribute__(self, name):
        if name in ("emit", "receive", "send", "drop", "fail", "discard", "end", "record",
                    "marker", "lost", "duplicated", "crash", "timeout", "delayed"):
            calls = [getattr(o, name) for o in object.__getattribute__(self, "observers")]
            return lambda *args, **kw: [call(*args, **kw) for call in calls] and None
        return object.__getattribute__(self, name)


def event_watcher(observers: list) -> Events | None:
    """The one object to tell of every message event, or None when no observer wants them."""
    wanted = [o for o in observers if getattr(o, "events", False)]
    if not wanted:
        return None
    return wanted[0] if len(wanted) == 1 else _AllOf(wanted)
