"""Global snapshots of a running network (Chandy and Lamport's algorithm), and resuming from one.

No node can see the others, and messages are in flight: what is the state of
the whole network "now"? Reading every node at a different moment gets it
wrong (money in flight between two accounts is counted twice, or not at all).
Chandy and Lamport's algorithm records a *consistent* state with markers,
sent along the edges with the messages and in the same order:

* To start, every source records its state and sends a marker along each
  edge that leaves it (a node that has already ended records its final state).
* A node that takes its first marker, on any input, records its state at
  once (between two calls of its function), then sends a marker along each
  edge that leaves it, behind everything it made before.
* The *channel state* of an edge is what its receiver takes from it after
  recording and before the marker of that edge: messages that were in flight
  when the cut went through.
* A node that ends before every marker has reached it records (if it has
  not yet) and closes its inputs: every sender of it has ended, so nothing
  more can come.

So no message is recorded as received by a node but not yet sent by its
sender, and every message sent before the sender recorded is either in the
receiver's state or in the channel's. A marker is not a message: it takes no
room in a channel, it is not counted by a loop's termination detection
(``termination.py``), and in a seeded run it is passed on at once, between
steps, so taking a snapshot changes neither the order of events nor the results.

What a node's state is:

* a bound method (``Sink(fn=account.receive)``) or a callable object: the
  object's state, copied the way ``copy`` and ``pickle`` copy it
  (``__getstate__``; restored with ``__setstate__`` if the class has one, else
  into its attributes), so a class can choose what is recorded;
* a list's ``append`` (``Sink(fn=results.append)``): a copy of that list
  (also ``extend``, and the methods of dict, set and deque that change them);
* a :class:`~dissyslab.ListSource`: its position;
* a MergeSynch: the messages waiting to be paired;
* a plain function or lambda: nothing (``None``). A function that keeps state
  in a ``nonlocal`` or ``global`` variable, or in a list, dict or set of the
  function that made it, cannot be recorded: a warning names the node. Keep
  such state in an object instead.

``g.run_network(resume=snap)`` puts every recorded state back into the
node's own objects (the same objects, not new ones) and sends the messages
recorded in flight again, first, along their edges; a source that had ended
stays ended.

A :class:`Snapshot` can be written to a file with ``snap.save(path)`` and
read back with ``Snapshot.load(path)``. The file is a Python pickle: load
only files you made yourself, as unpickling a file from someone else can run
any code they put in it.
"""

from __future__ import annotations

import copy
import time
import types
import warnings
from collections import deque
from functools import partial

from .copying import copy_batch
from .errors import cut, short_repr
from .sources import ListSource

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `import dissyslab` stays light
if TYPE_CHECKING:
    from typing import Any

    from .model import Network
    from .nodes import Edge
    from .running import Run
    from .semantics import NodeRun

#: containers whose own methods (``results.append``) make a node's state the container
_CONTAINERS = (list, dict, set, deque, bytearray)
#: values that cannot change: a method of one (``"-".join``) keeps no state
_UNCHANGING = (str, bytes, int, float, complex, bool, tuple, frozenset, range, type)


class SnapshotWarning(UserWarning):
    """A node's state cannot be recorded (it lives in a closure), or cannot be copied."""


class Snapshot:
    """A consistent global state of one run: every node's state and every edge's messages in flight.

    ``nodes``: node name -> recorded state (see the module docstring; ``None``
    for a node with no state). ``channels``: edge label (``"a → b"``, as in the
    diagrams) -> list of the messages that were in flight on it. ``ended``: the
    sources that had already ended. ``failed``: the nodes that had failed when
    they recorded (a run resumed from the snapshot starts them again, with the
    state they recorded, but the message they failed on is not in it: resume
    from a snapshot taken before the failure). ``step_started`` and
    ``step_ended`` (seeded runs) or ``time_started`` and ``time_ended``
    (threaded runs, seconds since the run began) say when the algorithm
    started and finished. An edge listed twice in the network is labelled
    ``"a → b (2)"`` the second time, as in ``g.trace``.
    """

    def __init__(self, nodes: dict, channels: dict, ended: list, started: float, finished: float,
                 seed: int | None, unrecorded: list | None = None, failed: list | None = None,
                 edges: list | None = None) -> None:
        self.nodes = nodes
        self.channels = channels
        self.ended = ended
        self.failed = failed or []
        self.edges = list(channels) if edges is None else edges  # every edge's label, in order
        self.seed = seed
        self.unrecorded = unrecorded or []  # nodes whose state could not be recorded
        if seed is None:
            self.time_started, self.time_ended = started, finished
            self.step_started = self.step_ended = None
        else:
            self.step_started, self.step_ended = int(started), int(finished)
            self.time_started = self.time_ended = None

    @property
    def in_flight(self) -> int:
        """How many messages were recorded in flight, on all edges together."""
        return sum(len(msgs) for msgs in self.channels.values())

    def save(self, path: str) -> None:
        """Write this snapshot to a file (a Python pickle: see ``Snapshot.load``)."""
        import pickle  # here, not at import: most programs never save a snapshot

        with open(path, "wb") as f:
            pickle.dump({"format": "dissyslab snapshot", "version": 1, "snapshot": self}, f)

    @staticmethod
    def load(path: str) -> Snapshot:
        """Read a snapshot written by :meth:`save`.

        The file is a Python pickle, and reading a pickle can run code hidden in
        it: load only snapshot files you (or someone you trust) wrote.
        """
        import pickle

        with open(path, "rb") as f:
            try:
                data = pickle.load(f)  # noqa: S301 - documented: only files you made yourself
            except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
                raise ValueError(f"{path} is not a snapshot file written by Snapshot.save() "
                                 f"({type(exc).__name__}: {exc}).") from None
        if not isinstance(data, dict) or data.get("format") != "dissyslab snapshot":
            raise ValueError(f"{path} is not a snapshot file written by Snapshot.save().")
        return data["snapshot"]

    def text(self, width: int = 70) -> str:
        if self.seed is None:
            when = f"taken from {self.time_started:.3f} s to {self.time_ended:.3f} s"
        else:
            when = f"seed {self.seed}, taken from step {self.step_started} to step {self.step_ended}"
        lines = [f"snapshot ({when})", "nodes:"]
        if self.failed:
            lines[0] += f", after {', '.join(self.failed)} failed"
        name_w = max((len(n) for n in self.nodes), default=0)
        for name, state in self.nodes.items():
            lines.append(f"  {name:<{name_w}}  {state_text(state, width)}")
        lines.append("messages in flight:" if self.in_flight else "messages in flight: none")
        for label, msgs in self.channels.items():
            if msgs:
                lines.append(f"  {label}: {short_repr(msgs, width)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer, cycle):
        printer.text(self.text())


def state_text(state: Any, width: int = 60) -> str:
    """A recorded state on one line: ``balance=70, left=3`` for an object's attributes."""
    if state is None:
        return "(no state)"
    if isinstance(state, dict) and state and all(isinstance(k, str) for k in state):
        return cut(", ".join(f"{k}={short_repr(v, 30)}" for k, v in state.items()), width)
    return short_repr(state, width)


# --- recording and restoring one node ------------------------------------------
def _unwrap(fn):
    while isinstance(fn, partial):
        fn = fn.func
    return fn


def owner_of(fn: Any) -> Any:
    """The object that holds a node function's state, or None for a plain function."""
    fn = _unwrap(fn)
    if isinstance(fn, (types.FunctionType, type)):
        return None
    if isinstance(fn, (types.MethodType, types.BuiltinMethodType)):
        owner = getattr(fn, "__self__", None)
        return None if isinstance(owner, (types.ModuleType, _UNCHANGING, type(None))) else owner
    if type(fn).__module__ in ("builtins", "operator", "functools"):
        return None  # str.upper, operator.itemgetter(0)...: the standard library's, with no state
    return fn  # a callable object of a class of your own: its state is its own


def closure_state(fn: Any) -> list[str]:
    """The variables in which a plain function keeps state that a snapshot cannot see.

    Those it assigns with ``nonlocal`` or ``global``, and the lists, dicts and
    sets it holds from the function that made it (``counts[word] += 1``).
    """
    import dis  # here, not at import: only asked when a snapshot is

    fn = _unwrap(fn)
    if not isinstance(fn, types.FunctionType):
        return []
    code = fn.__code__
    names = {i.argval for i in dis.get_instructions(code)
             if (i.opname in ("STORE_DEREF", "DELETE_DEREF") and i.argval in code.co_freevars)
             or i.opname in ("STORE_GLOBAL", "DELETE_GLOBAL")}
    for name, cell in zip(code.co_freevars, fn.__closure__ or (), strict=False):
        try:
            if isinstance(cell.cell_contents, _CONTAINERS):
                names.add(name)
        except ValueError:  # a cell not filled yet
            pass
    return sorted(names)


def warn_unrecordable(net: Network) -> None:
    """Warn, naming the node, about each function whose state a snapshot cannot record."""
    for node in net.nodes:
        names = closure_state(node.fn)
        if names:
            what = ("the variable " if len(names) == 1 else "the variables ") + ", ".join(
                repr(n) for n in names)
            warnings.warn(
                f"{node.kind} '{net.name_of(node)}' keeps state in {what} outside its function "
                f"(nonlocal, global, or a list, dict or set of the function that made it), which a "
                f"snapshot cannot record: a run resumed from it would not get that state back. "
                f"Keep the state in an object instead (a class with a method as the node's fn).",
                SnapshotWarning, stacklevel=4)


def record_state(nr: NodeRun) -> tuple[Any, str | None]:
    """(the state of a node now, None) or (None, why it could not be copied)."""
    owner = owner_of(nr.node.fn)
    if owner is None and nr.kind != "merge_synch":
        return None, None
    if isinstance(owner, ListSource):
        return {"position": owner.position}, None
    try:
        if nr.kind == "merge_synch":
            return {"waiting": [copy_batch(list(b)) for b in nr.buffers]}, None
        if isinstance(owner, _CONTAINERS):  # the container (a subclass: its attributes too)
            return copy.deepcopy(owner), None
        return copy.deepcopy(owner.__getstate__()), None
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"


def restore_state(nr: NodeRun, state: Any) -> None:
    """Put a recorded state back into the node's own objects (the same objects, not new ones)."""
    if nr.kind == "merge_synch":
        for buffer, waiting in zip(nr.buffers, state["waiting"], strict=True):
            buffer.extend(copy_batch(waiting))
        return
    owner = owner_of(nr.node.fn)
    if owner is None or state is None and not isinstance(owner, _CONTAINERS):
        return
    if isinstance(owner, ListSource):
        owner.position = state["position"]
        return
    state = copy.deepcopy(state)
    if isinstance(owner, _CONTAINERS):
        if isinstance(owner, (list, bytearray)):
            owner[:] = state
        else:
            owner.clear()
            for base in (dict, set, deque):
                if isinstance(owner, base):
                    (base.extend if base is deque else base.update)(owner, state)
        if type(owner) not in _CONTAINERS and hasattr(state, "__dict__"):  # a subclass's attributes
            owner.__dict__.clear()
            owner.__dict__.update(state.__dict__)
    elif hasattr(owner, "__setstate__"):
        owner.__setstate__(state)
    else:  # as copy and pickle do for a class without __setstate__
        slots = None
        if isinstance(state, tuple) and len(state) == 2:
            state, slots = state
        if hasattr(owner, "__dict__"):
            owner.__dict__.clear()
            owner.__dict__.update(state or {})
        for key, value in (slots or {}).items():
            setattr(owner, key, value)


def _copies(batch):
    """Copies of the messages, to keep; those that cannot be copied (a lock...) are kept as they are."""
    try:
        return copy_batch(batch)
    except Exception:
        out = []
        for msg in batch:
            try:
                out.append(copy_batch([msg])[0])
            except Exception:
                out.append(msg)
        return out


# --- the algorithm, for one snapshot --------------------------------------------
class Marker:
    """What travels along an edge, in order with the messages, to say "record now"."""

    __slots__ = ("recording",)

    def __init__(self, recording: Recording) -> None:
        self.recording = recording


class Recording:
    """One snapshot being taken: the rules of the algorithm, called by the schedulers.

    A scheduler calls, from the node's own thread (or between steps):
    ``record(nr)`` for a source when the snapshot starts, ``marker(nr, edge)``
    when a node takes a marker, ``took(nr, edge, batch)`` before a node handles
    messages, and ``ended(nr)`` when a node ends. ``record``, ``marker`` and
    ``ended`` return True when the node has just recorded its state: the
    scheduler then sends a marker along every edge leaving it, behind what it
    made before. ``done`` is set once every node has recorded and every edge
    has had its marker (or its sender has ended).
    """

    def __init__(self, run: Run, started: float, on_done=None) -> None:
        self.run = run
        self.token = Marker(self)  # what the scheduler sends along the edges
        self.number = run.snapshots_started  # 0 for the run's first snapshot, 1 for the next...
        run.snapshots_started += 1
        self.started = started
        self.states = {}
        self.problems = {}
        self.ended_sources = []
        self.failed = []
        self.open = {}  # node name -> edges into it whose marker has not come yet
        self.channels = {e: [] for e in run.net.edges}
        from .trace import edge_labels  # here: trace.py is not loaded by `import dissyslab`

        self.labels = edge_labels(run.net)  # unique, even for an edge listed twice
        self.in_edges = {name: [] for name in run.nodes}
        for e in run.net.edges:
            self.in_edges[run.net.name_of(e.dst)].append(e)
        self.left = len(run.nodes)  # nodes not yet complete
        import threading  # here: `import dissyslab` loads no threading until a run

        self._lock = threading.Lock()
        self.done = threading.Event()
        self.snapshot = None
        self.on_done = on_done  # called with this recording once complete

    def record(self, nr: NodeRun) -> bool:
        """Record ``nr``'s state if it has not yet; True if it did now."""
        name = nr.name
        if name in self.states:
            return False
        self.states[name], problem = record_state(nr)
        if problem is not None:
            self.problems[name] = problem
        if nr.kind == "source" and nr.exhausted:
            self.ended_sources.append(name)
        if nr.failure is not None:
            self.failed.append(name)
        self.open[name] = set(self.in_edges[name])
        if nr.watch is not None:
            nr.watch.record(name, self.number)
        if not self.open[name]:
            self._complete()
        return True

    def marker(self, nr: NodeRun, edge: Edge) -> bool:
        """``nr`` took the marker of ``edge``; True if it has just recorded its state."""
        first = self.record(nr)
        if nr.watch is not None:
            nr.watch.marker(nr.name, edge, self.number)
        waiting = self.open[nr.name]
        if edge in waiting:
            waiting.discard(edge)
            if not waiting:
                self._complete()
        return first

    def took(self, nr: NodeRun, edge: Edge, batch: list) -> None:
        """``nr`` is about to handle ``batch`` from ``edge``: in flight if it recorded before the marker."""
        waiting = self.open.get(nr.name)
        if waiting and edge in waiting:
            self.channels[edge].extend(_copies(batch))

    def ended(self, nr: NodeRun) -> bool:
        """``nr`` has ended: nothing more can reach it. True if it has just recorded its state."""
        first = self.record(nr)
        waiting = self.open[nr.name]
        if waiting:
            waiting.clear()
            self._complete()
        return first

    def _complete(self):
        with self._lock:
            self.left -= 1
            if self.left:
                return
        run = self.run
        finished = run.steps if run.seed is not None else time.monotonic() - run.started_at
        names = list(run.nodes)
        self.snapshot = Snapshot(
            {name: self.states[name] for name in names},
            dict(zip(self.labels, self.channels.values(), strict=True)),
            [n for n in names if n in self.ended_sources],
            self.started, finished, run.seed, sorted(self.problems),
            [n for n in names if n in self.failed], self.labels)
        for name, problem in self.problems.items():
            warnings.warn(f"The snapshot could not record the state of {run.nodes[name].kind} "
                          f"'{name}': it could not be copied ({problem}). A run resumed from it "
                          f"would start that node from scratch.", SnapshotWarning, stacklevel=2)
        if self.on_done is not None:
            self.on_done(self)
        self.done.set()


def start(run: Run) -> Recording:
    """Begin a snapshot of ``run`` (the scheduler then asks its nodes to record)."""
    started = run.steps if run.seed is not None else time.monotonic() - run.started_at

    def finish(rec):
        with run.snapshot_lock:
            if rec in run.recordings:
                run.recordings.remove(rec)
                run.snapshots.append(rec.snapshot)

    rec = Recording(run, started, finish)
    run.recordings.append(rec)
    return rec


# --- resuming -------------------------------------------------------------------
def restore(run: Run, snap: Snapshot) -> list:
    """Put ``snap``'s node states back and return ``[(edge, messages)]`` to send again.

    Sources that had ended stay ended. The messages of an edge into or round a
    loop count as going round it (``termination.py``), and as sent by the
    edge's sender.
    """
    net = run.net
    if not isinstance(snap, Snapshot):
        raise TypeError(f"resume= needs a Snapshot (from g.snapshots, g.snapshot() or "
                        f"Snapshot.load), but got {short_repr(snap)}.")
    from .trace import edge_labels

    labels = edge_labels(net)
    if list(snap.nodes) != list(run.nodes) or snap.edges != labels:
        only_snap = [x for x in list(snap.nodes) + snap.edges if x not in run.nodes and x not in labels]
        only_here = [x for x in list(run.nodes) + labels if x not in snap.nodes and x not in snap.edges]
        differ = "; ".join(part for part in (
            only_snap and f"the snapshot has {', '.join(map(repr, only_snap[:6]))}",
            only_here and f"this network has {', '.join(map(repr, only_here[:6]))}") if part)
        differ = differ or "its nodes or edges are in another order"
        raise ValueError(
            f"This snapshot was taken of another network ({differ}), "
            f"so it cannot be resumed here. Resume it with the network it was taken of, built "
            f"with the same nodes and edges.")
    if snap.unrecorded:
        raise ValueError(
            f"This snapshot could not record the state of {', '.join(repr(n) for n in snap.unrecorded)} "
            f"(it could not be copied), so resuming from it would not continue that run.")
    for name, nr in run.nodes.items():
        restore_state(nr, snap.nodes[name])
        if name in snap.ended:
            nr.exhausted = True
    resend = []
    for e, label in zip(net.edges, labels, strict=True):
        msgs = snap.channels.get(label)
        if msgs:
            msgs = _copies(msgs)
            resend.append((e, msgs))
            sender = run.nodes[net.name_of(e.src)]
            sender.edge_counts[e] += len(msgs)
            loop = run.loop_of_edge.get(e)
            if loop is not None:
                loop.sent(len(msgs))
    return resend


def check_snapshot_arguments(seed, snapshot_at, snapshot_every, resume) -> list:
    """The sorted steps of ``snapshot_at`` (or []); a clear error for arguments that do not fit."""
    if snapshot_at is not None and seed is None:
        raise ValueError(
            "snapshot_at counts the steps of a seeded run: add seed=N (for example "
            "g.run_network(seed=1, snapshot_at=20)), or take snapshots of a threaded run with "
            "snapshot_every=seconds or g.snapshot().")
    if snapshot_every is not None:
        if seed is not None:
            raise ValueError(
                "snapshot_every takes a snapshot every so many seconds of a threaded run; a seeded "
                "run counts steps instead: use snapshot_at=k (or a list of steps).")
        if (isinstance(snapshot_every, bool) or not isinstance(snapshot_every, (int, float))
                or not snapshot_every > 0):
            raise ValueError(f"snapshot_every must be a positive number of seconds, like "
                             f"snapshot_every=0.5, but got {short_repr(snapshot_every)}.")
    if snapshot_at is None:
        return []
    steps = [snapshot_at] if not isinstance(snapshot_at, (list, tuple, range)) else list(snapshot_at)
    for k in steps:
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(f"snapshot_at must be a step number (0 or more) or a list of them, "
                             f"like snapshot_at=20 or snapshot_at=[10, 40], but got "
                             f"{short_repr(snapshot_at)}.")
    return sorted(set(steps))
