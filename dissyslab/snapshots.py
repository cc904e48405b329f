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
  function that made it, cannot be recorded: the snapshot says it did not see
  that state (``snap.unseen``), and a warning names the node. Keep such state
  in an object instead.

State shared by two nodes (the same object, or the same list, dict or set held
by two nodes' objects: :func:`shared_state`) breaks the algorithm's model, in
which each node's state is its own: it is recorded once per node, at two
moments, and put back once. A warning names both nodes. These warnings are
shown on every run that takes a snapshot or resumes from one, from the line
of the student's code that asked (:func:`warn`).

``g.run_network(resume=snap)`` puts every recorded state back into the
node's own objects (the same objects, not new ones) and sends the messages
recorded in flight again, first, along their edges; a source that had ended
stays ended. A snapshot that did not see or could not copy a node's state is
refused (:func:`check_use`) unless ``allow_unrecorded=True``; then that node
keeps the state it has.

A :class:`Snapshot` can be written to a file with ``snap.save(path)`` (written
beside ``path``, then renamed: a snapshot that cannot be pickled leaves the
file there as it was, and the error names the node or the edge) and read back
with ``Snapshot.load(path)``. The file is a Python pickle: load only files you
made yourself, as unpickling a file from someone else can run any code they
put in it.
"""

from __future__ import annotations

import copy
import time
import types
import warnings
from collections import deque
from functools import partial

from .copying import copy_batch
from .errors import cut, short_repr, warn_student
from .sources import ListSource

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `import dissyslab` stays light
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable

    from .nodes import Edge
    from .semantics import NodeRun
    from .shapes import Graph, RunRecord

#: containers whose own methods (``results.append``) make a node's state the container
_CONTAINERS = (list, dict, set, deque, bytearray)
#: the version of the files ``Snapshot.save`` writes (2: snapshots say which state was unseen)
FORMAT_VERSION = 2
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

    A state of ``None`` means one of two things, which ``unseen`` tells apart:
    the node keeps no state (a plain function), or the snapshot could not see
    it (``unseen``: node name -> the variables of its closure that hold it). A
    run does not resume from a snapshot with unseen state unless asked to
    (``run_network(resume=snap, allow_unrecorded=True)``). ``unrecorded``
    lists the nodes whose state could not be copied.
    """

    def __init__(self, nodes: dict, channels: dict, ended: list, started: float, finished: float,
                 seed: int | None, unrecorded: list | None = None, failed: list | None = None,
                 edges: list | None = None, unseen: dict | None = None) -> None:
        self.nodes = nodes
        self.unseen = unseen or {}
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

    def __setstate__(self, state: dict) -> None:
        """Read back from a file; one of format version 1 did not say which state was unseen."""
        self.__dict__.update(state)
        self.__dict__.setdefault("unseen", {})

    @property
    def in_flight(self) -> int:
        """How many messages were recorded in flight, on all edges together."""
        return sum(len(msgs) for msgs in self.channels.values())

    def save(self, path: str) -> None:
        """Write this snapshot to a file (a Python pickle: see ``Snapshot.load``).

        The file is written beside ``path`` first, then renamed to it: a snapshot
        that cannot be saved leaves a file already at ``path`` as it was.
        """
        import os
        import pickle  # here, not at import: most programs never save a snapshot
        import tempfile

        data = {"format": "dissyslab snapshot", "version": FORMAT_VERSION, "snapshot": self}
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        fd, beside = tempfile.mkstemp(prefix=".snapshot-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                try:
                    pickle.dump(data, f)
                except Exception as exc:
                    raise TypeError(_unpicklable(self, path, exc)) from None
                f.flush()
                os.fsync(f.fileno())
            try:  # the permissions the file had, or those a new file gets
                mode = os.stat(path).st_mode & 0o777
            except OSError:
                mask = os.umask(0)
                os.umask(mask)
                mode = 0o666 & ~mask
            os.chmod(beside, mode)
            os.replace(beside, path)
        except BaseException:
            try:
                os.unlink(beside)
            except OSError:
                pass
            raise

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
        version = data.get("version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ValueError(f"{path} was written by a newer DisSysLab (snapshot file format "
                             f"{version!r}; this one reads formats 1 to {FORMAT_VERSION}). "
                             f"Update DisSysLab to read it.")
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
        for name in self.nodes:
            lines.append(f"  {name:<{name_w}}  {self.state_text(name, width)}")
        lines.append("messages in flight:" if self.in_flight else "messages in flight: none")
        for label, msgs in self.channels.items():
            if msgs:
                lines.append(f"  {label}: {short_repr(msgs, width)}")
        return "\n".join(lines)

    def state_text(self, name: str, width: int = 60) -> str:
        """The state recorded for node ``name`` on one line, saying so when it was not seen."""
        if name in self.unseen:
            return f"(state not seen: {_variables(self.unseen[name])} of its closure)"
        if name in self.unrecorded:
            return "(state not recorded: it could not be copied)"
        return state_text(self.nodes.get(name), width)

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer, cycle):
        printer.text(self.text())


def _pickle_problem(obj: Any) -> str | None:
    """Why ``obj`` cannot be pickled ("TypeError: cannot pickle ..."), or None if it can."""
    import pickle

    try:
        pickle.dumps(obj)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _unpicklable(snap: Snapshot, path: str, exc: Exception) -> str:
    """The error for a snapshot that cannot be saved: which node or edge, and what to do."""
    import os

    kept = (f"The file {path} was left as it was." if os.path.exists(path)
            else f"Nothing was written to {path}.")
    for name, state in snap.nodes.items():
        why = _pickle_problem(state)
        if why is None:
            continue
        where = ""
        if isinstance(state, dict):
            for key, value in state.items():
                if _pickle_problem(value) is not None:
                    where = f" (its {key!r})"
                    break
        return (f"This snapshot cannot be saved: the state recorded for node '{name}'{where} "
                f"cannot be pickled ({why}). A snapshot file holds every recorded state as a "
                f"pickle, and Python cannot pickle a lambda, a function defined inside another, a "
                f"lock or an open file. Keep such things out of the node's object: use a def "
                f"function at the top of the notebook instead of a lambda, or give its class "
                f"__getstate__ and __setstate__ that leave them out and make them again. A "
                f"snapshot you do not save can still be resumed in this session "
                f"(g.run_network(resume=snap)). {kept}")
    for label, msgs in snap.channels.items():
        for i, msg in enumerate(msgs):
            why = _pickle_problem(msg)
            if why is not None:
                return (f"This snapshot cannot be saved: message {i} of those recorded in flight on "
                        f"the edge {label}, {short_repr(msg, 40)}, cannot be pickled ({why}). "
                        f"Send plain data as messages (numbers, strings, tuples, lists, dicts, "
                        f"objects of your own classes) if you want to save snapshots; a snapshot "
                        f"you do not save can still be resumed in this session "
                        f"(g.run_network(resume=snap)). {kept}")
    return f"This snapshot cannot be saved ({type(exc).__name__}: {exc}). {kept}"


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


def _variables(names: list[str]) -> str:
    return ("the variable " if len(names) == 1 else "the variables ") + ", ".join(map(repr, names))


def warn(message: str, category: type[Warning] = SnapshotWarning) -> None:
    """Warn from the student's own line, on every run (Python would show it once per line)."""
    warn_student(message, category, every_time=True)


def _held(owner: Any) -> list[tuple[Any, str]]:
    """The owner itself and the lists, dicts and sets it holds directly, each with where it is."""
    found = [(owner, "")]
    attrs = dict(getattr(owner, "__dict__", None) or {})
    for klass in type(owner).__mro__:
        for slot in getattr(klass, "__slots__", ()):
            if isinstance(slot, str) and slot not in attrs and hasattr(owner, slot):
                attrs[slot] = getattr(owner, slot)
    if not attrs and not isinstance(owner, _CONTAINERS):
        return []  # an object with no state: nothing is recorded, nothing can be lost
    for key, value in attrs.items():
        if isinstance(value, _CONTAINERS) and value is not owner:
            found.append((value, f"attribute {key!r} of "))
    return found


def shared_state(net: Graph) -> list[tuple[str, str, str]]:
    """Nodes of ``net`` whose states are one object: ``[(first node, second node, what)]``.

    Found by identity, cheaply: the object that holds a node's state (see
    :func:`owner_of`: a bound method's object, a list whose ``append`` is the
    node's function, a callable object) and the lists, dicts and sets that
    object holds directly in its attributes. Two nodes holding the same one
    break a snapshot's model, where each node's state is its own: it is
    recorded once for each node, at two different moments, and put back once.
    ``what`` says which object, in words (for a warning). Each pair is listed once.
    """
    seen = {}  # id of an object -> (node name, where it is for that node, the object)
    pairs = {}
    kinds = {net.name_of(n): n.kind for n in net.nodes}
    for node in net.nodes:
        owner = owner_of(getattr(node, "fn", None))
        if owner is None:
            continue
        name = net.name_of(node)
        for obj, where in _held(owner):
            first = seen.setdefault(id(obj), (name, where, obj))
            if first[0] != name and (first[0], name) not in pairs:
                what = (f"one {type(obj).__name__} is {first[1]}the state of {kinds[first[0]]} "
                        f"'{first[0]}' and {where}the state of {kinds[name]} '{name}'")
                pairs[(first[0], name)] = what
    return [(a, b, what) for (a, b), what in pairs.items()]


def warn_unrecordable(net: Graph) -> None:
    """Warn, naming the nodes, about state a snapshot cannot record: in a closure, or shared.

    Shown on every run that takes a snapshot, from the student's own line.
    """
    _warn_closures(net)
    _warn_shared(net, "a run resumed from it puts back only one of the two, so it would lose "
                      "or repeat what the other recorded")


def _warn_closures(net):
    for node in net.nodes:
        names = closure_state(node.fn)
        if names:
            warn(f"{node.kind} '{net.name_of(node)}' keeps state in {_variables(names)} outside "
                 f"its function (nonlocal, global, or a list, dict or set of the function that "
                 f"made it), which a snapshot cannot see: it records no state for that node, and "
                 f"a run resumed from it would not get that state back. Keep the state in an "
                 f"object instead (a class with a method as the node's fn).")


def _warn_shared(net, consequence):
    for first, second, what in shared_state(net):
        warn(f"'{first}' and '{second}' share state: {what}. A snapshot records that object once "
             f"for each node, at two different moments, and {consequence}. Give each node state "
             f"of its own (its own list or object), and put their results together after the run.")


def check_use(net: Graph, *, taking: bool, resume: Any = None, allow_unrecorded: bool = False) -> None:
    """Before a run: refuse a resume that cannot continue the run, and warn about what cannot be recorded.

    ``taking``: the run takes snapshots. ``resume``: the snapshot it resumes
    from. A snapshot that could not see or copy a node's state is refused
    unless ``allow_unrecorded=True``; then that node keeps the state it has
    now, and a warning says so. Warnings are shown on every such run.
    """
    if not isinstance(allow_unrecorded, bool):
        raise TypeError(f"allow_unrecorded must be True or False, but got {short_repr(allow_unrecorded)}.")
    if resume is None:
        if allow_unrecorded:
            raise ValueError("allow_unrecorded=True lets a run resume from a snapshot that could "
                             "not record every node's state, but this run resumes from none: add "
                             "resume=snap, or leave allow_unrecorded out.")
        if taking:
            warn_unrecordable(net)
        return
    _check_fits(net, resume)
    kinds = {net.name_of(n): n.kind for n in net.nodes}
    unseen = dict(resume.unseen)
    for node in net.nodes:  # a snapshot saved before it said so (format 1), or made elsewhere
        name = net.name_of(node)
        if name not in unseen and resume.nodes.get(name) is None and closure_state(node.fn):
            unseen[name] = closure_state(node.fn)
    missing = [f"{kinds[n]} '{n}' (it keeps its state in {_variables(v)} of its closure, which "
               f"a snapshot cannot see)" for n, v in unseen.items()]
    lost = [n for n in resume.unrecorded if n not in unseen and n in resume.failed]
    missing += [f"{kinds[n]} '{n}' (its state could not be copied)" for n in resume.unrecorded
                if n not in unseen and n not in lost]
    missing += [f"{kinds[n]} '{n}' (it had failed, and its state could not be recorded: its "
                f"process had died, on Ray, or its state could not be copied)" for n in lost]
    if missing and not allow_unrecorded:
        fixes = []
        if unseen:
            fixes.append("keep the state in an object (a class with a method as the node's fn)")
        if len(missing) > len(unseen) + len(lost):
            fixes.append("give the class __getstate__ and __setstate__ that leave out what "
                         "cannot be copied (a lock, an open file) and make it again")
        fixes = [f"{' or '.join(fixes)}, and take a new snapshot"] if fixes else []
        if lost:
            fixes.append("resume from a snapshot taken before it failed (g.snapshots holds "
                         "them in the order they were taken)")
        raise ValueError(
            f"This snapshot has no recorded state for {'; '.join(missing)}, so a run resumed "
            f"from it would go on with whatever that state holds now, not what it held when the "
            f"snapshot was taken: it would not continue the run. To fix it, "
            f"{'; or '.join(fixes)}. If that state does not matter "
            f"(a switch for a test, say), pass allow_unrecorded=True to resume anyway, with that "
            f"state as it is now.")
    if missing:
        warn(f"Resuming with no recorded state for {'; '.join(missing)}: "
             f"{'that node keeps' if len(missing) == 1 else 'those nodes keep'} the state "
             f"{'it has' if len(missing) == 1 else 'they have'} now (allow_unrecorded=True).")
    elif taking:
        _warn_closures(net)
    _warn_shared(net, "this run puts back only one of the two, so it may lose or repeat what "
                      "the other recorded")


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
    """Put a recorded state back into the node's own objects (the same objects, not new ones).

    ``None`` (no state, or none recorded: ``allow_unrecorded=True``) leaves the node as it is.
    """
    if state is None:
        return
    if nr.kind == "merge_synch":
        for buffer, waiting in zip(nr.buffers, state["waiting"], strict=True):
            buffer.extend(copy_batch(waiting))
        return
    owner = owner_of(nr.node.fn)
    if owner is None:
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

    def __init__(self, run: RunRecord, started: float, on_done=None) -> None:
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
        self.kept = False  # set once its snapshot is in g.snapshots
        self.dropped = False  # given up (g.snapshot's timeout): it records nothing more

    def drop(self) -> None:
        """Give this snapshot up: it records nothing more and never appears in ``g.snapshots``.

        Whoever waits for it (``g.snapshot()``) hears at once that it was not kept.
        """
        with self.run.snapshot_lock:
            self.dropped = True
            if self in self.run.recordings:
                self.run.recordings.remove(self)
        self.done.set()

    def progress(self) -> tuple[list, list]:
        """(the nodes that have recorded, the edges whose messages are being recorded), for views.

        An edge is being recorded from the moment its receiver records until
        its marker arrives. Read from any thread while the snapshot goes on.
        """
        recorded = list(self.states)
        open_edges = [e for edges in list(self.open.values()) for e in tuple(edges)]
        return recorded, open_edges

    def record(self, nr: NodeRun, recorded: tuple | None = None) -> bool:
        """Record ``nr``'s state if it has not yet; True if it did now.

        ``recorded``: ``(state, problem)`` as :func:`record_state` gives it, when
        the node's state was recorded where the node runs (a Ray process) and
        sent here; None records it now, in this process.
        """
        name = nr.name
        if name in self.states or self.dropped:
            return False
        self.states[name], problem = record_state(nr) if recorded is None else recorded
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

    def marker(self, nr: NodeRun, edge: Edge, recorded: tuple | None = None) -> bool:
        """``nr`` took the marker of ``edge``; True if it has just recorded its state.

        The marker is taken first, then the state recorded (rule 2), and the trace says so in that
        order. ``recorded``: as for :meth:`record`.
        """
        if self.dropped:
            return False
        if nr.watch is not None:
            nr.watch.marker(nr.name, edge, self.number)
        first = self.record(nr, recorded)
        waiting = self.open[nr.name]
        if edge in waiting:
            waiting.discard(edge)
            if not waiting:
                self._complete()
        return first

    def records(self, nr: NodeRun, edge: Edge) -> bool:
        """Is ``edge``'s channel being recorded (``nr`` has recorded, and that edge's marker has not come)?"""
        waiting = self.open.get(nr.name)
        return bool(waiting) and edge in waiting

    def took(self, nr: NodeRun, edge: Edge, batch: list) -> None:
        """``nr`` is about to handle ``batch`` from ``edge``: in flight if it recorded before the marker."""
        waiting = self.open.get(nr.name)
        if waiting and edge in waiting:
            if nr.faults is not None:  # faults.py: a message lost on arrival was never in the channel
                batch = nr.faults.arriving(edge, batch)
            self.channels[edge].extend(_copies(batch))

    def ended(self, nr: NodeRun, recorded: tuple | None = None) -> bool:
        """``nr`` has ended: nothing more can reach it. True if it has just recorded its state.

        ``recorded``: as for :meth:`record`.
        """
        if self.dropped:
            return False
        first = self.record(nr, recorded)
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
        if self.dropped:
            self.done.set()
            return
        finished = run.steps if run.seed is not None else time.monotonic() - run.started_at
        names = list(run.nodes)
        unseen = {}
        for name in names:
            if self.states[name] is None and name not in self.problems:
                hidden = closure_state(run.nodes[name].node.fn)
                if hidden:
                    unseen[name] = hidden
        self.snapshot = Snapshot(
            {name: self.states[name] for name in names},
            dict(zip(self.labels, self.channels.values(), strict=True)),
            [n for n in names if n in self.ended_sources],
            self.started, finished, run.seed, sorted(self.problems),
            [n for n in names if n in self.failed], self.labels, unseen)
        for name, problem in self.problems.items():
            warnings.warn(f"The snapshot could not record the state of {run.nodes[name].kind} "
                          f"'{name}': it could not be copied ({problem}). A run resumed from it "
                          f"would start that node from scratch.", SnapshotWarning, stacklevel=2)
        if self.on_done is not None:
            self.on_done(self)
        self.done.set()


def start(run: RunRecord, ended: Iterable[tuple[NodeRun, Callable[[Recording], None]]] = (),
          ignore: type[BaseException] | tuple = ()) -> Recording:
    """Begin a snapshot of ``run``: the nodes that have already ended record now, as they are.

    ``ended`` lists them as ``(nr, send)`` (see :func:`record_ended`), in the order of the
    nodes; the scheduler asks the others to record (a source at its next turn).
    """
    started = run.steps if run.seed is not None else time.monotonic() - run.started_at

    def finish(rec):
        with run.snapshot_lock:
            if rec in run.recordings:
                run.recordings.remove(rec)
                run.snapshots.append(rec.snapshot)
                rec.kept = True

    with run.snapshot_lock:
        rec = Recording(run, started, finish)
        run.recordings.append(rec)
        for nr, send in ended:
            record_ended([rec], nr, send, ignore)
    return rec


def record_ended(recordings: list[Recording], nr: NodeRun, send: Callable[[Recording], None],
                 ignore: type[BaseException] | tuple = ()) -> None:
    """``nr`` has ended: each snapshot in ``recordings`` that it has not recorded in records it
    now, as it is, and ``send(rec)`` passes that snapshot's marker on along its edges.

    Every scheduler calls it as a node ends (and :func:`start`, for the nodes already
    ended when a snapshot starts). ``ignore``: what ``send`` raises when the run is being stopped;
    the snapshot is then dropped anyway, so its marker need not go on.
    """
    for rec in tuple(recordings):
        if rec.ended(nr):
            try:
                send(rec)
            except ignore:
                pass


def kept(rec: Recording, timeout: float | None) -> Snapshot:
    """Wait (at most ``timeout`` seconds) for ``rec`` to complete, and return its snapshot.

    A snapshot not complete by then is dropped, so it never appears in
    ``g.snapshots`` later, and the error says so.
    """
    rec.done.wait(timeout)
    with rec.run.snapshot_lock:
        if not rec.kept:
            rec.drop()
            raise RuntimeError(
                "The run ended (or the time ran out) before every node had recorded its state, "
                "so this snapshot is incomplete and was not kept.")
    return rec.snapshot


# --- resuming -------------------------------------------------------------------
def restore(run: RunRecord, snap: Snapshot, in_place=None) -> list:
    """Put ``snap``'s node states back and return ``[(edge, messages)]`` to send again.

    Sources that had ended stay ended. The messages of an edge into or round a
    loop count as going round it (``termination.py``), and as sent by the
    edge's sender. ``in_place(name)``: False for a node whose state the
    scheduler puts back itself, where the node runs (Ray: in its process,
    from ``run.resumed``); None: every node's state is put back here.
    """
    net = run.net
    _check_fits(net, snap)
    from .trace import edge_labels

    labels = edge_labels(net)
    for name, nr in run.nodes.items():
        if in_place is None or in_place(name):
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


def mismatch(net: Graph, snap: Snapshot) -> str | None:
    """How ``snap`` differs from a snapshot of ``net`` (in a few words), or None if it is one of ``net``."""
    from .trace import edge_labels  # here: trace.py is not loaded by `import dissyslab`

    labels = edge_labels(net)
    names = [net.name_of(n) for n in net.nodes]
    if list(snap.nodes) == names and snap.edges == labels:
        return None
    only_snap = [x for x in list(snap.nodes) + snap.edges if x not in names and x not in labels]
    only_here = [x for x in names + labels if x not in snap.nodes and x not in snap.edges]
    differ = "; ".join(part for part in (
        only_snap and f"the snapshot has {', '.join(map(repr, only_snap[:6]))}",
        only_here and f"this network has {', '.join(map(repr, only_here[:6]))}") if part)
    return differ or "its nodes or edges are in another order"


def check_drawable(net: Graph, snap: Any) -> None:
    """A clear error if ``snap`` (``g.diagram(snapshot=snap)``) is not a snapshot of ``net``."""
    if not isinstance(snap, Snapshot):
        raise TypeError(f"diagram(snapshot=...) needs a Snapshot (from g.snapshots, g.snapshot() "
                        f"or Snapshot.load), but got {short_repr(snap)}.")
    differ = mismatch(net, snap)
    if differ is not None:
        raise ValueError(
            f"This snapshot was taken of another network ({differ}), so it cannot be drawn on "
            f"this one: its nodes would show states another network recorded. Draw it on the "
            f"network it was taken of: that_network.diagram(snapshot=snap).")


def _check_fits(net, snap):
    if not isinstance(snap, Snapshot):
        raise TypeError(f"resume= needs a Snapshot (from g.snapshots, g.snapshot() or "
                        f"Snapshot.load), but got {short_repr(snap)}.")
    differ = mismatch(net, snap)
    if differ is not None:
        raise ValueError(
            f"This snapshot was taken of another network ({differ}), "
            f"so it cannot be resumed here. Resume it with the network it was taken of, built "
            f"with the same nodes and edges.")


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
