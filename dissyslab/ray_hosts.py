"""What runs in a node-host process: one node of a Ray run, its calls and their reports.

On Ray (``engine="ray"``, see ``ray_engine.py``) every source, transform,
Split and MergeSynch runs in a process of its own: a Ray actor made from
:class:`NodeHost`. The pool (``ray_pool.py``) keeps these processes between
runs; a run loads a node into one (:meth:`NodeHost.load`), and the hub in the
notebook's process (``ray_engine.py``) then asks it, one call at a time over a
connection of their own (:meth:`NodeHost.serve`, ``ray_wire.py``), to
``produce`` a batch, ``take`` one, record its state for a snapshot, and ``end``.

Every call runs the node's own :class:`~dissyslab.semantics.NodeRun`, exactly as
the threaded scheduler does, and returns a *report*: plain data that can always
travel back to the notebook.

* The batches the node made, one per edge, pickled once here (:func:`dumps`);
  each receiver unpickles a copy of its own. A message that cannot be pickled
  fails the node as it is made, naming the edge (:func:`_can_travel`).
* The node's counters and state, which the hub copies into its mirror of the node.
* A new failure, as plain data (:func:`_failure_report`): the exception
  pickled if it can be, its text and traceback always
  (``ray_reports.failure_from`` turns it back into a NodeFailure in the notebook).
* In a traced run, the events the node saw, each stamped with the time it
  happened here (:class:`_Recorder`).
* What the node's function printed (:class:`_Printed`), for the notebook to print.

A call that runs long (a slow function, or one stuck) does not hold what it
has made until it returns: every ``ray_wire.EARLY`` seconds the wire's watch
thread sends the results, events and printed text made so far
(:meth:`NodeHost.so_far`), as threads send a busy node's results on, and the
report carries the rest. So a sink sees each result as it is made, and a run
stopped meanwhile keeps them.

:class:`LocalNode` is the same node-host, in the notebook's own process: a node
placed "here" is called by the hub directly, with the same calls and reports.

This module is imported in every node-host process (Ray finds :class:`NodeHost`
by its module, ``dissyslab.ray_hosts``); it imports Ray itself only where it
needs it (``cloudpickle``), so that it loads quickly there.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import sys
import threading
import time
from typing import Any, Callable, Iterator

from .errors import exception_text, short_repr
from .observers import Events
from .semantics import CannotSend, NodeRun
from .snapshots import record_state, restore_state


class RemoteError(Exception):
    """An exception raised in a node's process that could not be brought back as it was."""


# --- pickling -----------------------------------------------------------------------
def dumps(obj: Any) -> bytes:
    """Pickle ``obj``: plain pickle when it can (fast), else cloudpickle (functions by value)."""
    try:
        return pickle.dumps(obj, protocol=5)
    except Exception:
        from ray import cloudpickle
        return cloudpickle.dumps(obj, protocol=5)


def _not_picklable(obj: Any) -> str | None:
    """Why ``obj`` cannot be pickled, or None if it can."""
    try:
        dumps(obj)
    except Exception as exc:
        return exception_text(exc, 300)
    return None


class EdgeRef:
    """An edge as a node's process knows it: its number in the network and its label."""

    __slots__ = ("index", "label")

    def __init__(self, index: int, label: str) -> None:
        self.index, self.label = index, label

    def __repr__(self):
        return f"Edge({self.label})"


class _Recorder(Events):
    """In a node's process: keeps the events of a traced run, to send them back.

    Each event is stamped with ``time.time()`` as it happens, here: the hub
    turns the stamps into the driver's own clock (``ray_reports.replay``), so a
    Ray run's trace shows when each node really worked, not when its report
    reached the notebook.
    """

    def __init__(self):
        self.events = []
        self.sent = 0  # how many of them went early (so_far), while a call still ran

    def emit(self, node, msg):
        self.events.append(("emit", node, None, msg, None, time.time()))

    def receive(self, node, edge, msg):
        self.events.append(("receive", node, edge.index, msg, None, time.time()))

    def send(self, node, edge, msg):
        self.events.append(("send", node, edge.index, msg, None, time.time()))

    def drop(self, node, msg, note=None):
        self.events.append(("drop", node, None, msg, note, time.time()))

    def fail(self, node, msg, exc):
        self.events.append(("fail", node, None, msg, None, time.time()))

    def discard(self, node, edge, msg):
        self.events.append(("discard", node, edge.index, msg, None, time.time()))

    def end(self, node, state):
        self.events.append(("end", node, None, None, state, time.time()))

    def so_far(self) -> bytes | None:
        """The events not yet sent; they stay (the node may be adding to the list)."""
        end = len(self.events)
        events, self.sent = self.events[self.sent:end], end
        return self._pickled(events)

    def take_all(self) -> bytes | None:
        events = self.events[self.sent:] if self.sent else self.events
        self.events, self.sent = [], 0
        return self._pickled(events)

    @staticmethod
    def _pickled(events: list) -> bytes | None:
        if not events:
            return None
        try:
            return dumps(events)
        except Exception:  # a message that cannot be pickled: shown by its repr
            return dumps([(kind, node, edge, Shown(short_repr(msg)), note, at)
                          for kind, node, edge, msg, note, at in events])


class Shown:
    """A message of a traced run that could not come back from its node's process: its repr."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


# --- a node's process -----------------------------------------------------------------
#: folders of Python itself and of installed packages: modules there are not watched for edits
_SYSTEM_DIRS = tuple({os.path.abspath(p) + os.sep for p in
                      (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)})


class NodeHost:
    """What runs in a node-host process (a Ray actor): any node, loaded into it for one run.

    The pool (``ray_pool.HostPool``) keeps these processes between runs. A run
    loads a node into a host (:meth:`load`), asks it to serve the run
    (:meth:`serve`), during which it asks it to ``produce``, ``take``, ``record``
    and ``end``, then clears it (:meth:`clear`). Every call returns a report: the batches
    made for each edge (pickled), the node's counters, its state, a new failure
    if any, and the events of a traced run.
    """

    #: what the node's function prints is kept and sent back with the report
    captures = True
    #: what it records for a snapshot is pickled, to travel to the driver
    travels = True

    def __init__(self) -> None:
        self.nr = self.watch = self.in_edges = None
        self.paths = []  # folders added to sys.path for the node loaded now
        self.modules = {}  # module name -> (file, its modification time when first seen)
        self.looked_at = set()  # the names of every module already looked at (most are Python's)

    def load(self, paths: list, payload: bytes) -> tuple[int, list | None]:
        """Load a node and its state into this process: the one step that puts a node in a process.

        ``payload`` is ``cloudpickle.dumps((node, name, out_edges, in_edges,
        traced, resumed))``: the node (its function travels with it: by value if
        it was defined in the notebook, by reference, ``module.name``, if it
        comes from a module that can be imported), the edges as
        :class:`EdgeRef`, whether the run is traced, and ``resumed``: None for a
        fresh start, or what a snapshot recorded for the node (``resume=``, see
        :meth:`resume`). ``paths``: the folders the driver imports from, so that
        its modules can be imported here too.

        Returns ``(pid, None)``, or ``(pid, changed)`` without loading anything
        when modules this process imported earlier have been edited since
        (``changed`` names them): such a host is replaced, so that the node
        runs the code as it is now.
        """
        changed = self._changed()
        if changed:
            return os.getpid(), changed
        for p in self.paths:
            if p not in paths and p in sys.path:
                sys.path.remove(p)
        self.paths = [p for p in paths if p not in sys.path]
        sys.path.extend(self.paths)  # find the modules the driver's functions come from
        from ray import cloudpickle

        node, name, out_edges, in_edges, traced, resumed = cloudpickle.loads(payload)
        self._setup(node, name, out_edges, in_edges, traced)
        self.resume(resumed)
        self._note_modules()
        return os.getpid(), None

    def resume(self, resumed: tuple | None) -> None:
        """Put back what a snapshot recorded for the node loaded here (``resume=``); None: a fresh start.

        ``resumed`` is ``(state, sent, ended)``: the state the snapshot recorded
        (put into the node's own objects here, with
        :func:`~dissyslab.snapshots.restore_state`), the messages counted as
        sent along each edge (by its number: those recorded in flight, which
        the run sends again), and whether the node (a source) had ended.
        """
        if resumed is None:
            return
        state, sent, ended = resumed
        nr = self.nr
        restore_state(nr, state)
        for e in nr.edge_counts:
            nr.edge_counts[e] += sent.get(e.index, 0)
        nr.exhausted = nr.exhausted or ended

    def record(self, wanted: bool) -> tuple:
        """A snapshot's marker (or its start) has come: the node's state now, between two calls.

        Returns a report (as every call does) whose last part is ``(state,
        problem, at)``: the state and the problem as
        :func:`~dissyslab.snapshots.record_state` gives them, the state pickled
        to travel to the driver (both None when not ``wanted``: the node has
        already recorded for that snapshot), and ``at``, the ``time.time()`` of
        that moment here (for the trace).
        """
        state = problem = None
        with self._calling() as printed:
            at = time.time()
            if wanted:
                state, problem = record_state(self.nr)
                if state is not None and self.travels:
                    try:
                        state = dumps(state)
                    except Exception as exc:
                        state, problem = None, (
                            f"it could not be pickled to come back from the node's process: "
                            f"{exception_text(exc, 200)}")
        return self._report(printed, (state, problem, at))

    def clear(self) -> None:
        """Forget the node loaded here (its function, its state, its edges): ready for another."""
        self.nr = self.watch = self.in_edges = None
        self._note_modules()  # modules the node imported while it ran

    def held(self) -> list[str]:
        """What of a run this process still holds: the names of the nodes it still has ([] if clean)."""
        import gc
        gc.collect()
        return sorted(o.name for o in gc.get_objects() if isinstance(o, NodeRun))

    def _note_modules(self) -> None:
        for name in sys.modules.keys() - self.looked_at:  # (only those imported since the last look)
            self.looked_at.add(name)
            path = getattr(sys.modules.get(name), "__file__", None)
            if not path or os.path.abspath(path).startswith(_SYSTEM_DIRS):
                continue
            try:
                self.modules[name] = (path, os.stat(path).st_mtime_ns)
            except OSError:
                pass

    def _changed(self) -> list[str]:
        """The modules imported here whose file has changed on disk since."""
        changed = []
        for name, (path, mtime) in self.modules.items():
            try:
                now = os.stat(path).st_mtime_ns
            except OSError:
                now = None
            if now != mtime:
                changed.append(name)
        return sorted(changed)

    def _setup(self, node, name, out_edges, in_edges, traced):
        self.in_edges = {e.index: e for e in in_edges}
        self.watch = _Recorder() if traced else None
        self.nr = NodeRun(node, out_edges, self.watch, (), name, copies=False, check=_can_travel)
        self.failure_told = False
        self.sent_upto = [0] * len(self.nr.out)  # per port: results already sent early (so_far)
        self.printed = None  # what the node prints during the call now running
        # held while a report is made: the wire's watch thread sends what a long call made so far
        self.lock = threading.Lock()

    def pid(self) -> int:
        return os.getpid()

    def serve(self, address: tuple, secret: str, name: str) -> None:
        """Answer the hub's calls for one run over the wire (``ray_wire.py``) until it closes it."""
        from .ray_wire import serve
        serve(self, address, secret, name, dumps)

    def produce(self, k: int) -> tuple:
        with self._calling() as printed:
            if not self.nr.exhausted:  # a second call may come before the first said "exhausted"
                self.nr.produce(k)
        return self._report(printed)

    def take(self, items: list) -> tuple:
        nr = self.nr
        with self._calling() as printed:
            for index, port, data in items:
                nr.take(port, self.in_edges[index], pickle.loads(data))
        return self._report(printed)

    def end(self) -> tuple:
        with self._calling() as printed:
            self.nr.end()
        return self._report(printed)

    @contextlib.contextmanager
    def _calling(self) -> Iterator[_Printed]:
        """Around a call of the node: what it prints is kept, and what it makes may go early."""
        with _Printed(self.captures) as printed:
            self.printed = printed
            yield printed

    def so_far(self, send: Callable[[tuple], None]) -> None:
        """From the wire's watch thread, while a call runs long: ``send`` what it has made so far.

        A slow function (or one that blocks, or is stuck) would otherwise hold
        the results it already made until the call returns, or lose them if the
        run is stopped first; with threads they go on as they are made. The
        results stay in the node's lists (it may be adding to them):
        ``sent_upto`` remembers how far they went, and the call's report sends
        the rest. Sent under the lock, so this comes before the call's report.
        """
        if not self.lock.acquire(blocking=False):
            return  # the call's report is being made: it takes everything
        try:
            nr, printed = self.nr, self.printed
            if printed is None:
                return  # no call is running
            ends = [len(out) for out in nr.out]  # (the node may add more meanwhile)
            try:
                made = [(port, end - done, dumps(nr.out[port][done:end]))
                        for port, (done, end) in enumerate(zip(self.sent_upto, ends, strict=True))
                        if end > done]
            except Exception:
                return  # (a message changed while it was pickled: the call's report sends it)
            for port, _, _ in made:
                nr.hand_over(port, self.sent_upto[port], ends[port], clear=False)
                self.sent_upto[port] = ends[port]
            events = self.watch.so_far() if self.watch is not None else None
            out, err = printed.so_far()
            if made or events or out or err:
                send((made, events, out, err))
        finally:
            self.lock.release()

    def _report(self, printed: _Printed, recorded: tuple | None = None) -> tuple:
        """What a call did, for the hub: the batches it made (one per edge), the node's counters,
        a new failure, the events of a traced run, what it printed, and a recorded state
        (all but what :meth:`so_far` sent already)."""
        with self.lock:
            self.printed = None
            nr = self.nr
            sent = []
            for port, items in enumerate(nr.out):
                done, self.sent_upto[port] = self.sent_upto[port], 0
                if len(items) > done:
                    data = dumps(items[done:] if done else items)  # each checked as it was made
                    for e in nr.outs[port]:  # (_can_travel); unpickling gives each its own copy
                        sent.append((e.index, len(items) - done, data))
                if items:
                    nr.hand_over(port, done)
            failure = None
            if nr.failure is not None and not self.failure_told:
                self.failure_told = True
                failure = _failure_report(nr.failure)
            counters = (nr.stats, {e.index: n for e, n in nr.edge_counts.items()},
                        {e.index: n for e, n in nr.received_on.items()},
                        {e.index: n for e, n in nr.discarded_on.items()},
                        list(nr.skipped), nr.state, nr.exhausted, nr.unpaired, nr.paired)
            events = self.watch.take_all() if self.watch is not None else None
            out, err = printed.so_far()
        return sent, counters, failure, events, printed.elapsed, out, err, recorded


def _can_travel(msg: Any, edge: EdgeRef) -> None:
    """Raise CannotSend, naming ``edge``, if ``msg`` cannot be pickled to its receiver's process."""
    why = _not_picklable(msg)
    if why is None:
        return
    error = TypeError(
        f"on Ray every message travels to its receiver's process as a copy made by pickle, "
        f"and this message cannot be pickled ({why}). Send plain data such as numbers, "
        f"strings, lists, dicts or tuples instead.")
    raise CannotSend(error, msg, f"could not send {short_repr(msg)} along the edge {edge.label}")


class _Printed:
    """What a node's function prints during one call, kept to be printed by the driver.

    Ray could send a process's output to the driver itself, but mixed with its
    own messages and at any moment; this way what a node prints appears in the
    notebook, in the order the hub receives it, as it would with threads.
    With ``capture`` False (a node placed in the driver's own process) the
    output goes where it goes anyway, and only the time is measured.
    """

    def __init__(self, capture: bool = True) -> None:
        self.capture = capture
        self.shown = (0, 0)  # how much of what it printed has been taken (so_far)

    def __enter__(self):
        self.started = time.perf_counter()
        if self.capture:
            self._out, self._err = io.StringIO(), io.StringIO()
            self._redirect = (contextlib.redirect_stdout(self._out),
                              contextlib.redirect_stderr(self._err))
            for r in self._redirect:
                r.__enter__()
        return self

    def __exit__(self, *exc):
        if self.capture:
            for r in reversed(self._redirect):
                r.__exit__(*exc)
        self.elapsed = time.perf_counter() - self.started
        return False

    def so_far(self) -> tuple[str, str]:
        """What it printed since the last look: (standard output, standard error)."""
        if not self.capture:
            return "", ""
        out, err = self._out.getvalue(), self._err.getvalue()
        (o, e), self.shown = self.shown, (len(out), len(err))
        return out[o:], err[e:]


class LocalNode(NodeHost):
    """A node placed "here": the same calls and reports as an actor's, made in the hub's thread.

    Its function is never pickled (it may hold a lock or a connection); the
    messages it makes are, per edge, exactly as an actor's, so every receiver
    still unpickles a copy of its own.
    """

    captures = False
    travels = False  # its state is recorded as on threads: a copy, never pickled

    def __init__(self, node, name, out_edges, in_edges, traced) -> None:
        self._setup(node, name, out_edges, in_edges, traced)


def _failure_report(failure) -> tuple:
    """A NodeFailure as plain data that can always travel back to the driver."""
    exc = failure.exception
    try:
        exc_data = dumps(exc)
        pickle.loads(exc_data)
    except Exception:
        exc_data = None
    try:
        msg_data = dumps(failure.message)
    except Exception:
        msg_data = None
    return (exc_data, exception_text(exc), failure.traceback, msg_data,
            short_repr(failure.message), failure.has_message, failure.detail)
