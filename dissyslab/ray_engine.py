"""The Ray engine: every source and transform in a process of its own, on one machine or many.

``g.run_network(engine="ray")`` runs the very same node semantics as the
threaded scheduler (``semantics.py``): each source, transform, Split and
MergeSynch is a Ray *actor* (a Python process, on this machine or on any
machine of a Ray cluster) holding the node's :class:`~dissyslab.semantics.NodeRun`;
sinks run in the calling process, so ``Sink(fn=results.append)`` fills the
student's own list, as it does with threads.

Where a node runs can be chosen, by name, with ``place=``::

    g.run_network(engine="ray", place={"lookup": "here", "save": "process"})

* ``"here"``: in this process (the notebook's), called by the hub (below)
  one call at a time. For a function that cannot be pickled (it holds a
  lock, an open connection, a generator), or a source that reads something
  only this process has. It takes no core of its own, so keep it quick.
* ``"process"``: in a process of its own, a Ray actor. For a sink that
  computes or writes a file; it then fills the lists of *its* process, not
  the notebook's (what it prints still appears here).

Either way the node's messages are pickled on their way, per edge, so every
receiver gets a copy of its own. A name that is not a node's, or a place
other than these two, is refused before anything starts, and so is
``place=`` with the threaded engine (every node is "here" there).

How a run goes:

* One thread of the calling process, the *hub*, directs the run. It asks a
  source's actor to ``produce`` a batch, gives what arrives to the
  receivers' actors (``take``), hands batches for sinks to their NodeRun
  here, and keeps what each node still has to handle. The hub keeps at
  most two calls of its own waiting at each actor, so it never idles while
  the hub routes.
* A batch can also go straight from process to process (``Hub._plan``): when
  the hub asks a node for a batch whose receiver is a transform or a Split
  with no other edge into it, it makes the receiver's call at once, with the
  sender's result (a Ray object reference) as its argument. Ray starts that
  call when the batch is made and hands it over between the two processes
  (through shared memory, for a large one), so the hub never waits for it
  or unpickles it; the sender's report only says how many messages it
  holds. Every call to a node is made by the hub, in order, so each edge
  stays first in, first out; while a snapshot is being taken batches go
  through the hub, behind its markers. ``g.last_run.ray_direct`` counts the
  batches that went directly.
* Messages travel pickled, a batch at a time: what a node sends along an
  edge is serialized once, in the sender's process, and every receiver
  unpickles its own copy (that is how fanout gives each receiver a copy of
  its own here). A message that cannot be pickled fails its sender, naming
  the edge. A node's function is pickled too, to be sent to its process:
  one that cannot be (it holds a lock, an open file, a connection) is named
  before anything starts.
* ``capacity``: the hub asks a node to make or handle a batch only while
  every node it sends to has room for the results, counting what waits in
  the hub, what is on its way, and what is being made. (A batch arrives
  whole: one that needs more room than ``capacity``, which can happen when a
  node sends along two edges into the same node, goes on once nothing waits there.)
  As with threads, each input of a MergeSynch has room of its own, and a
  message takes it until it is paired. If the paths into a MergeSynch deliver
  different numbers of messages, a full input could wait for ever: when no
  call can be made and none is on its way (every node waits), the bound of
  the full inputs is lifted, and the run ends with a MergeSynchWarning.
* End of stream, failures and loops follow the threaded scheduler: a node
  ends when every sender has ended and nothing waits for it; a failed node's
  receivers are told "end" at once; a loop ends when its count of
  outstanding messages (``termination.py``) reaches zero, counted here in
  the hub, which sees every message go by.
* Each actor sends back, with its results, its counters (``g.stats``,
  ``g.edge_counts``...) and, when a run is traced, the events it saw, so
  ``trace=True``, the live view and the diagram work as with threads. Each
  event is stamped in the process where it happened, so a trace's times are
  when the nodes really worked. On one machine every process reads the same
  clock; on a cluster the machines' clocks differ by what their time keeping
  (NTP) leaves, often a millisecond or so, sometimes more.
* Snapshots (``snapshots.py``) follow the same rules as with threads, written
  once in its ``Recording``: the hub carries a snapshot's markers in each
  edge's queue, in their place among the messages, and a node takes one
  between two calls of its function (a call never goes past a marker). A
  node's state is recorded in its own process (``NodeHost.record``), pickled,
  and handed to the Recording here when the call's report comes back, in the
  order of that node's calls; a sink here records in place. ``resume=`` loads
  each recorded state into the process that runs the node, in the same step
  that loads the node (``NodeHost.load``): the notebook's objects of nodes in
  processes are not changed, those of sinks and of nodes placed here are.

Processes are kept between runs: a pool (:class:`HostPool`) of node-host
processes (:class:`NodeHost`), each able to host any node. A run takes as many
hosts as it has nodes in processes, loads its nodes, with their functions and
state, into them (:meth:`NodeHost.load`, in the hub's thread, so ``timeout=``
and Ctrl-C cover the start of new processes), and at its end gives them back
cleared: nothing of a node, its function or its state is left for the next run.
A host whose node failed, whose process died, or that was still at work when
the run was stopped (timeout, Ctrl-C) is killed instead, and a new one started
when needed. A process that dies during the run (killed, out of memory) fails its
node, by name. Unused hosts end after :data:`POOL_IDLE` seconds; all end when
Python exits or with ``ray.shutdown()``.

What a kept process does keep is the modules it imported, with their globals.
A function from a module of the student's (``helpers.py``) is sent by reference
(``helpers.step``) and runs with that module's globals as this host left them:
a node that changes a module global (a counter, a cache) may find the change in
its next run, as it would in a second threaded run in the same notebook. Keep a
node's state in the node (a class instance, ``params=``), not in a module global.
A host whose imported modules changed on disk since is replaced, so an edited
``helpers.py`` is what the next run uses. Functions defined in the notebook
travel by value, and arrive afresh at every run.

After a run, ``g.last_run.pids`` gives the process id of each node that had a
process of its own, ``g.last_run.ray_processes`` how many hosts it reused and
started, and ``g.last_run.ray_times`` the seconds Ray itself took to start if
this run started it ("ray"), the seconds the nodes took to load ("start"), and
to run the network once they had ("run"). A run that starts Ray says so at once,
and how long it took; ``timeout=`` does not count that start, but does count the
start of the nodes' processes.

Ray itself: if this process is already connected to Ray (``ray.init(address=...)``
to use a cluster), that is used. Otherwise a local Ray instance is started at
the first run (no dashboard, quiet logs) and kept for the next runs; it is shut
down when Python exits, or by hand with ``ray.shutdown()``.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import io
import logging
import os
import pickle
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Iterable

from .errors import cut, exception_text, short_repr
from .flow import Room
from .observers import Events
from .running import STOP_GRACE, Engine, Finished, Run, execute, stop_with_grace
from .semantics import CannotSend, NodeRun, Stop
from .snapshots import Marker, Recording, record_state, restore_state
from .snapshots import start as start_snapshot

if TYPE_CHECKING:
    from .observers import Observer
    from .shapes import Graph

#: most messages one call to an actor makes or handles
BATCH = 5000
#: seconds of work one call to an actor aims at (a slow function gets small batches)
CALL_TIME = 0.05
#: calls of the hub's own that may wait at one actor, so that it is never idle while the hub routes
IN_FLIGHT = 2
#: seconds the hub waits for a result before it looks round (stop, sinks)
HUB_TICK = 0.01
#: seconds given to Ray to start, and to a node's process to start
START_TIMEOUT = 120
#: batches may go from a node's process straight to its receiver's (see Hub._plan)
DIRECT = True

INSTALL = ('engine="ray" needs Ray, which is not installed in this Python. Install it with\n'
           '    pip install -e ".[ray]"     (in a clone of DisSysLab), or  pip install ray\n'
           'then restart the kernel (or Python) and run again. engine="threads", the default, '
           'needs nothing more.')


class NodeProcessDied(RuntimeError):
    """The process that ran a node ended during the run (killed, or out of memory)."""


class RemoteError(Exception):
    """An exception raised in a node's process that could not be brought back as it was."""


# --- Ray itself -------------------------------------------------------------------
_started_here = False
_lock = threading.Lock()


def ray_module():
    """Import Ray, or say how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(INSTALL) from exc
    return ray


def connect(say: Any = None) -> Any:
    """Ray, connected: to the instance this process already uses, or to a new local one.

    A local instance started here is kept for the next runs and shut down when
    Python exits (``ray.shutdown()`` stops it by hand). ``say(text)``, if
    given, is told at once that Ray is starting, and then how long it took.
    Returns the ``ray`` module; ``started_in`` (module global) holds the
    seconds the last start took.
    """
    global _started_here, started_in
    starting = "Starting Ray (once per Python session: a few seconds, more on a busy machine)..."
    began = time.perf_counter()
    # not even imported yet (that alone takes seconds): say so before importing it
    said = "ray" not in sys.modules and importlib.util.find_spec("ray") is not None
    if said and say is not None:
        say(starting)
    ray = ray_module()
    with _lock:
        if not ray.is_initialized():
            if say is not None and not said:
                say(starting)
                began = time.perf_counter()
            with _ray_process_settings():
                ray.init(include_dashboard=False, logging_level=logging.ERROR,
                         log_to_driver=False, configure_logging=True)
            started_in = time.perf_counter() - began
            if say is not None:
                say(f"Ray started in {started_in:.1f} s.")
            if not _started_here:
                atexit.register(_shutdown)
            _started_here = True
    return ray


#: seconds the last start of Ray by :func:`connect` took
started_in = None


def _shutdown_pool() -> None:
    if _pool is not None:
        _pool.shutdown()


def _shutdown() -> None:
    _shutdown_pool()
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()
    if _shim_dir is not None:
        shutil.rmtree(_shim_dir, ignore_errors=True)


#: modules that every process Ray starts would import for nothing, at great cost
SKIPPED_IN_RAY_PROCESSES = ("rfc3987_syntax",)
_shim_dir = None


class _ray_process_settings:
    """While a local Ray starts: settings for the processes it will start, through their environment.

    * Nodes' processes run at the notebook's own priority. Ray starts its
      worker processes "nice" (at priority 15) by default, as background
      helpers; here they do the network's work, and on a busy machine a nice
      process gets only what other programs leave. ``RAY_worker_niceness``
      (Ray's own setting) is 0 unless you set it yourself.
    * They skip ``rfc3987_syntax`` (``SKIPPED_IN_RAY_PROCESSES``). Every
      process Ray starts (its agents, and each node's process) imports
      ``jsonschema``, which imports ``rfc3987_syntax`` if it is installed
      (Jupyter installs it) and builds a grammar on import: about 5 seconds of
      CPU each. Ray's raylet gives its agent 15 seconds to start, so on a busy
      machine Ray could not start at all. ``jsonschema`` works without it (it
      skips the IRI format check, which Ray never uses): a folder put first on
      the PYTHONPATH of Ray's processes holds a module of that name that
      refuses to load (importing it raises ImportError).

    This process's own environment is as it was once Ray has started.
    """

    def __enter__(self):
        global _shim_dir
        import importlib.util
        self.niceness = os.environ.get("RAY_worker_niceness")
        if self.niceness is None:
            os.environ["RAY_worker_niceness"] = "0"
        self.before = os.environ.get("PYTHONPATH")
        skipped = [m for m in SKIPPED_IN_RAY_PROCESSES if importlib.util.find_spec(m) is not None]
        if not skipped:
            return self
        if _shim_dir is None:
            _shim_dir = tempfile.mkdtemp(prefix="dissyslab-ray-")
            for name in skipped:
                os.makedirs(os.path.join(_shim_dir, name), exist_ok=True)
                with open(os.path.join(_shim_dir, name, "__init__.py"), "w") as f:
                    f.write(f"raise ImportError('{name} is not loaded in the processes Ray "
                            f"starts for DisSysLab (see dissyslab/ray_engine.py)')\n")
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_shim_dir, self.before) if p)
        return self

    def __exit__(self, *exc):
        if self.niceness is None:
            os.environ.pop("RAY_worker_niceness", None)
        if self.before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = self.before
        return False


# --- the pool of node-host processes ------------------------------------------------------
#: seconds a host may wait unused in the pool before its process is ended
POOL_IDLE = 300.0
#: the most unused hosts kept in the pool (the oldest go first)
POOL_KEEP = 16
#: seconds between two looks of the pool at its unused hosts
POOL_LOOK = 5.0


class Host:
    """One node-host process of the pool: its actor, its pid once known, and since when it is unused."""

    __slots__ = ("actor", "pid", "since")

    def __init__(self, actor) -> None:
        self.actor, self.pid, self.since = actor, None, time.monotonic()


class HostPool:
    """Node-host processes (Ray actors running :class:`NodeHost`), kept between runs.

    A run takes (:meth:`take`) as many hosts as it has nodes in processes (unused
    ones first, new ones for the rest: the pool grows on demand), loads its
    nodes into them (:meth:`NodeHost.load`), and at its end gives back
    (:meth:`give_back`) the hosts whose node ended normally, cleared
    (:meth:`NodeHost.clear`); a host whose node failed, whose process died, or
    that was still at work when the run was stopped is killed instead
    (:meth:`kill`), and the pool starts a new one when one is needed.

    A thread of this process ends hosts unused for :data:`POOL_IDLE` seconds,
    and the pool keeps at most :data:`POOL_KEEP` unused ones: it shrinks when
    idle. Every host is killed at exit (:func:`_shutdown`), and by
    ``ray.shutdown()`` (Ray ends every actor of this process); the pool then
    notices that Ray has gone, and the next run makes a new one.
    """

    def __init__(self, ray) -> None:
        self.ray = ray
        self.session = _session(ray)
        self.actor_class = ray.remote(NodeHost).options(
            num_cpus=0, max_restarts=0, max_task_retries=0)
        self.unused = []  # Hosts, the most recently used last
        self.started = 0  # hosts started so far
        self.closed = False
        self.lock = threading.Condition()
        self.thread = threading.Thread(target=self._reap, name="ray host pool (dissyslab)",
                                       daemon=True)
        self.thread.start()

    def new(self) -> Host:
        """Start a new host (its process starts in the background)."""
        self.started += 1
        return Host(self.actor_class.remote())

    def take(self, n: int) -> list[Host]:
        """``n`` hosts: unused ones (most recently used first), then new ones."""
        with self.lock:
            hosts = [self.unused.pop() for _ in range(min(n, len(self.unused)))]
        return hosts + [self.new() for _ in range(n - len(hosts))]

    def prestart(self, n: int) -> None:
        """Start hosts now so that ``n`` are ready for the run about to start (while it is checked)."""
        with self.lock:
            self.unused[:0] = [self.new() for _ in range(n - len(self.unused))]

    def give_back(self, host: Host) -> None:
        """Clear ``host`` and keep it for a later run."""
        host.actor.clear.remote()  # done before any later call to it (a Ray actor's calls keep order)
        host.since = time.monotonic()
        with self.lock:
            if self.closed:
                old = [host]
            else:
                self.unused.append(host)
                old, self.unused = self.unused[:-POOL_KEEP], self.unused[-POOL_KEEP:]
        for h in old:
            self.kill(h)

    def kill(self, host: Host) -> None:
        """End ``host``'s process."""
        try:
            self.ray.kill(host.actor, no_restart=True)
        except Exception:
            pass

    def shutdown(self) -> None:
        """End every unused host; the pool takes no more."""
        with self.lock:
            self.closed = True
            hosts, self.unused = self.unused, []
            self.lock.notify_all()
        if self.ray.is_initialized():
            for h in hosts:
                self.kill(h)

    def alive(self) -> bool:
        """True while the pool can serve runs: Ray is still the one it was made with."""
        return not self.closed and self.ray.is_initialized() and _session(self.ray) == self.session

    def _reap(self) -> None:
        while True:
            with self.lock:
                self.lock.wait(min(POOL_LOOK, POOL_IDLE))
                if self.closed:
                    return
                if not self.ray.is_initialized():  # ray.shutdown(): its actors have ended
                    self.closed, self.unused = True, []
                    return
                now = time.monotonic()
                old = [h for h in self.unused if now - h.since > POOL_IDLE]
                self.unused = [h for h in self.unused if now - h.since <= POOL_IDLE]
            for h in old:
                self.kill(h)


def _session(ray) -> tuple:
    """Which Ray this process is connected to (it changes after ray.shutdown() and a new start)."""
    context = ray.get_runtime_context()
    return context.get_job_id(), context.get_node_id()


_pool: HostPool | None = None


def host_pool(ray) -> HostPool:
    """The pool of node-host processes for the Ray this process uses now (made at its first use)."""
    global _pool
    with _lock:
        if _pool is None or not _pool.alive():
            if _pool is not None:
                _pool.shutdown()
            else:
                atexit.register(_shutdown_pool)
            _pool = HostPool(ray)
        return _pool


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
    turns the stamps into the driver's own clock (see ``Hub._replay``), so a
    Ray run's trace shows when each node really worked, not when its report
    reached the notebook.
    """

    def __init__(self):
        self.events = []

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

    def take_all(self) -> bytes | None:
        events, self.events = self.events, []
        if not events:
            return None
        try:
            return dumps(events)
        except Exception:  # a message that cannot be pickled: shown by its repr
            return dumps([(kind, node, edge, _Shown(short_repr(msg)), note, at)
                          for kind, node, edge, msg, note, at in events])


class _Shown:
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

    The pool (:class:`HostPool`) keeps these processes between runs. A run
    loads a node into a host (:meth:`load`), asks it to ``produce``, ``take`` and
    ``end``, then clears it (:meth:`clear`). Every call returns a report: the batches
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
        with _Printed(self.captures) as printed:
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
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None)
            if not path or name in self.modules or os.path.abspath(path).startswith(_SYSTEM_DIRS):
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

    def pid(self) -> int:
        return os.getpid()

    def produce(self, k: int, forward: list | None = None) -> tuple:
        with _Printed(self.captures) as printed:
            if not self.nr.exhausted:  # a second call may come before the first said "exhausted"
                self.nr.produce(k)
        return self._report(printed, forward=forward)

    def take(self, items: list, forward: list | None = None) -> tuple:
        nr = self.nr
        with _Printed(self.captures) as printed:
            for index, port, data in items:
                nr.take(port, self.in_edges[index], pickle.loads(data))
        return self._report(printed, forward=forward)

    def take_direct(self, index: int, port: int, data: bytes | None,
                    forward: list | None = None) -> tuple:
        """Take the batch a sender made along edge ``index`` (None: it made none), sent here
        straight from its process (Ray hands the sender's result to this call)."""
        with _Printed(self.captures) as printed:
            if data is not None:
                self.nr.take(port, self.in_edges[index], pickle.loads(data))
        return self._report(printed, forward=forward)

    def end(self) -> tuple:
        with _Printed(self.captures) as printed:
            self.nr.end()
        return self._report(printed)

    def _report(self, printed: _Printed, recorded: tuple | None = None,
                forward: list | None = None) -> tuple:
        """What a call did, for the hub. ``forward`` lists the edges (by number) whose batch goes
        straight to its receiver's process: the call then returns, after the report, one batch per
        edge of ``forward`` (None where it made none), which Ray hands to the receiver's
        :meth:`take_direct`; the report counts them (its batch None)."""
        nr = self.nr
        sent = []
        direct = dict.fromkeys(forward) if forward else {}
        for port, items in enumerate(nr.out):
            if not items:
                continue
            data = dumps(items)  # each message was checked as it was made (_can_travel)
            nr.hand_over(port)  # unpickling gives each receiver its own copy
            for e in nr.outs[port]:
                if e.index in direct:
                    direct[e.index] = data
                    sent.append((e.index, len(items), None))
                else:
                    sent.append((e.index, len(items), data))
        failure = None
        if nr.failure is not None and not self.failure_told:
            self.failure_told = True
            failure = _failure_report(nr.failure)
        counters = (nr.stats, {e.index: n for e, n in nr.edge_counts.items()},
                    {e.index: n for e, n in nr.received_on.items()},
                    {e.index: n for e, n in nr.discarded_on.items()},
                    list(nr.skipped), nr.state, nr.exhausted, nr.unpaired, nr.paired)
        events = self.watch.take_all() if self.watch is not None else None
        report = sent, counters, failure, events, printed.elapsed, printed.out, printed.err, recorded
        return (report, *direct.values()) if direct else report


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
        self.out = self.err = ""

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
            self.out, self.err = self._out.getvalue(), self._err.getvalue()
        self.elapsed = time.perf_counter() - self.started
        return False


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


# --- the driver's side ------------------------------------------------------------------
class Forward:
    """A batch a call sends straight to a receiver's process: along ``edge`` (number ``index``) to
    ``dst``, with the room its results need reserved (``reserved``), and what ``dst`` sends on
    directly in turn (``then``). ``item`` is the receiver's entry for it: ``[edge, port, count,
    None]``, its count known when the sender's report comes (None until then)."""

    __slots__ = ("edge", "index", "dst", "reserved", "then", "item")

    def __init__(self, edge, index, dst, reserved, then) -> None:
        self.edge, self.index, self.dst, self.reserved, self.then = edge, index, dst, reserved, then
        self.item = [edge, edge.dst_port or 0, None, None]


#: the batch of a receiver's entry whose sender died before making it
_LOST = "lost"


class _HubNode:
    """One node as the hub sees it."""

    def __init__(self, name, nr, edges_in, here, capacity):
        self.name = name
        self.nr = nr  # the NodeRun in this process: the sink's own, or a mirror of the actor's
        self.kind = nr.kind
        self.here = here  # placed in this process ("here"), not in a process of its own
        self.actor = None
        self.host = None  # its Host of the pool, while the run has it
        self.reused = False  # its host had served an earlier run
        self.local = None  # a LocalNode: a node other than a sink placed here
        self.pid = None
        self.waiting = deque()  # (edge, port, count, data) to hand to this node
        self.open_in = set(edges_in)  # edges into it that have not ended
        self.inputs = len(edges_in)
        # (ref, what, items, reserved, plan) in the order it makes them; plan: the Forwards of the call
        self.calls = deque()
        self.direct = ()  # (edge, receiver) of its edges whose batches may go straight to the receiver
        self.size = 16  # messages per call (grows for a fast function)
        self.ending = False  # the end call was made
        self.ended = False
        self.told = False  # its receivers were told it ended
        self.dead = False
        self.exhausted = False
        # the messages that may wait for it (flow.Room): on their way, waiting, reserved, or (a
        # MergeSynch's) not yet paired
        merge = self.kind == "merge_synch"
        self.room = Room(capacity, nr.node.num_inputs if merge else 1, merge)
        self.targets = None  # (receiver, room, places a message takes there) for bounded edges
        # snapshots: those a source records at its next turn, and those it was asked to record for
        self.due = []
        self.asked = set()


class Hub(Engine):
    """The routing thread of one Ray run, and the actors of its nodes."""

    def __init__(self, ray, run: Run, capacity: int, where: dict[str, str],
                 pool: HostPool | None = None, timeout: float | None = None,
                 ray_start: float | None = None, snapshot_every: float | None = None) -> None:
        self.ray, self.run, self.capacity = ray, run, capacity
        self.pool = pool if pool is not None else host_pool(ray)
        self.timeout, self.ray_start = timeout, ray_start
        net = run.net
        self.edges = list(net.edges)
        self.index = {id(e): i for i, e in enumerate(self.edges)}
        self.flow = run.flow
        self.places = {}
        for name, nr in run.nodes.items():
            node = nr.node
            self.places[name] = _HubNode(name, nr, [e for e in self.edges if e.dst is node],
                                         where[name] == HERE, capacity)
        self.place_of = {id(p.nr.node): p for p in self.places.values()}
        for place in self.places.values():  # resume=: a source that had ended stays ended
            place.exhausted = place.nr.exhausted
        # snapshots (snapshots.py): started from any thread, begun and carried out by the hub
        self.every, self.due = snapshot_every, None
        self.new = deque()  # Recordings started, not yet begun by the hub
        self.taking = []  # Recordings the hub has begun, until each is kept or dropped
        self.done = Finished()
        self.stopping = False
        self.error = None
        self.in_local = False  # the hub is inside the function of a node placed here
        self.thread = threading.Thread(target=self._main, name="dissyslab ray hub", daemon=True)
        self.started_at = self.ready_at = None
        self.closed = False
        # time.time() + this = time.perf_counter(), in this process (for the events' stamps)
        self.wall_to_perf = time.perf_counter() - time.time()
        run.pids = {}
        run.ray_processes = {"reused": 0, "started": 0}
        run.ray_direct = 0  # batches that went straight from a node's process to another's

    # --- starting --------------------------------------------------------------------
    def load_nodes(self) -> None:
        """Load every node placed in a process into a host of the pool; wait until each is loaded.

        Runs in the hub's thread, so that the run's ``timeout`` (and Ctrl-C)
        covers the start of new processes. A host that is gone (ended by the
        pool while unused) or whose modules were edited since it imported them
        is replaced by a new one.
        """
        ray, run = self.ray, self.run
        traced = run.nodes and next(iter(run.nodes.values())).watch is not None
        # the folders this process imports from ("" is the current folder: a notebook's own)
        paths = [os.path.abspath(p or ".") for p in sys.path if os.path.isdir(p or ".")]
        self.started_at = time.perf_counter()
        payloads = {}
        from ray import cloudpickle
        for place in self.places.values():
            if place.here and place.kind == "sink":
                continue  # _local hands it its messages (resume=: its state is back already)
            nr = place.nr
            outs = [[EdgeRef(self.index[id(e)], e.label) for e in edges] for edges in nr.outs]
            ins = [EdgeRef(self.index[id(e)], e.label) for e in place.open_in]
            resumed = self._resumed(place)
            if place.here:
                place.local = LocalNode(nr.node, place.name, outs, ins, traced)
                place.local.resume(resumed)  # into the node's own objects, here
                continue
            payloads[place.name] = cloudpickle.dumps((nr.node, place.name, outs, ins, traced,
                                                      resumed))
        hosts = self.pool.take(len(payloads))
        pending = {}

        def load(place, host):
            place.host, place.reused = host, host.pid is not None
            pending[host.actor.load.remote(paths, payloads[place.name])] = place

        for name, host in zip(payloads, hosts, strict=True):
            load(self.places[name], host)
        replaced = set()
        limit = time.monotonic() + START_TIMEOUT
        while pending:
            if self.stopping:
                raise Stop
            if time.monotonic() > limit:
                raise RuntimeError(
                    f"the processes of {', '.join(p.name for p in pending.values())} did not "
                    f"start within {START_TIMEOUT} seconds: the machine (or the Ray cluster) "
                    f"may be out of memory or overloaded.")
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=HUB_TICK * 5)
            for ref in ready:
                place = pending.pop(ref)
                try:
                    pid, changed = ray.get(ref)
                except Exception as exc:
                    self.pool.kill(place.host)
                    place.host = None
                    from ray import exceptions
                    if isinstance(exc, exceptions.RayTaskError) or place.name in replaced:
                        raise RuntimeError(
                            f"{place.kind} '{place.name}' could not start in a process of its own: "
                            f"{_first_line(exc)} If its function comes from a module of yours, "
                            f"that module must be importable there too (on a cluster: on every "
                            f"machine).") from exc
                    changed = ()  # the host was gone: a new one
                if changed is not None:
                    if place.host is not None:
                        self.pool.kill(place.host)
                    replaced.add(place.name)
                    load(place, self.pool.new())
                    continue
                place.actor, place.pid = place.host.actor, pid
                place.host.pid = pid
                run.pids[place.name] = pid
        reused = sum(self.places[name].reused for name in payloads)
        run.ray_processes = {"reused": reused, "started": len(payloads) - reused}
        self._connect()
        self.ready_at = time.perf_counter()

    def _connect(self) -> None:
        """Find the edges whose batches may go straight from the sender's process to the receiver's.

        An edge qualifies when both ends run in processes, the receiver is a
        transform or a Split with no other edge into it (every batch it takes
        comes from this one sender), and the edge is in no loop (whose count the
        hub keeps as each message goes by). Whether a batch does go directly is
        decided call by call (:meth:`_plan`).
        """
        if not DIRECT:
            return
        for place in self.places.values():
            if place.actor is None:
                continue
            place.direct = tuple(
                (e, dst) for edges in place.nr.outs for e in edges
                for dst in (self.place_of[id(e.dst)],)
                if dst.actor is not None and dst.kind in ("transform", "split")
                and dst.inputs == 1 and self.flow.loop_of_edge.get(e) is None)

    def _resumed(self, place) -> tuple | None:
        """What ``resume=`` puts back into ``place``'s process (see :meth:`NodeHost.resume`), or None."""
        snap = self.run.resumed
        if snap is None:
            return None
        nr = place.nr
        sent = {self.index[id(e)]: n for e, n in nr.edge_counts.items() if n}
        return snap.nodes[place.name], sent, nr.exhausted

    def release(self) -> None:
        """Give every host of this run back to the pool, or kill it if its node did not end normally.

        A host whose node ended, without failing, while the run went on is
        cleared and kept. Any other (its node failed, its process died, it was
        still at work when the run was stopped) is killed: the pool starts a
        new one when needed.
        """
        for place in self.places.values():
            host = getattr(place, "host", None)
            if host is None:
                continue
            place.host = place.actor = None
            if (place.ended and not place.dead and place.nr.failure is None and not place.calls
                    and self.error is None and not self.thread.is_alive()):
                self.pool.give_back(host)
            else:
                self.pool.kill(host)

    # --- the hooks running.execute drives ------------------------------------------------
    def start(self) -> None:
        """Start the hub's thread: it loads the nodes into their processes, then routes."""
        self.run.take_snapshot = self.take_snapshot
        self.thread.start()

    def tick(self) -> None:
        """From the calling thread: ``snapshot_every`` starts the next snapshot once the last is taken."""
        if self.every is None or self.ready_at is None:
            return
        now = time.perf_counter()
        if self.due is None:
            self.due = self.ready_at + self.every
        if now >= self.due and not self.run.recordings:
            self.due = now + self.every
            self.take_snapshot()

    def take_snapshot(self) -> Recording:
        """Start a snapshot, from any thread; the hub begins it at its next look round (:meth:`_begin`)."""
        with self.run.snapshot_lock:
            rec = start_snapshot(self.run)
        self.new.append(rec)
        return rec

    def alive(self, nr: NodeRun) -> bool:
        return not self.places[nr.name].ended

    def stop(self) -> list[NodeRun]:
        """Stop the hub thread and the actors; a node placed here still inside its function is named."""
        self.stopping = True
        left = stop_with_grace(lambda: [self.thread] if self.thread.is_alive() else [],
                               lambda t: self.in_local)
        self.close()
        return list(self.run.nodes.values())[:1] if left else []

    def settle(self, stuck: list[NodeRun]) -> None:
        """Every node that had not ended is stopped; the run's times are kept (``run.ray_times``)."""
        self.close()
        if self.stopping:
            for place in self.places.values():
                if not place.ended:
                    place.nr.stop()
        now = time.perf_counter()
        self.run.ray_times = {"ray": self.ray_start or 0.0,
                              "start": (self.ready_at or now) - (self.started_at or now),
                              "run": now - (self.ready_at or self.started_at or now)}

    def finish(self, outcome: str) -> tuple[str, str | None]:
        """A timeout that struck while the nodes' processes started says so."""
        if outcome != "timeout" or self.timeout is None or self.started_at is None:
            return outcome, None
        starting = (self.ready_at or time.perf_counter()) - self.started_at
        if self.ready_at is not None and starting < self.timeout / 2:
            return outcome, None
        text = (f"The network did not finish within {self.timeout:g} seconds, so it was stopped: "
                + (f"its nodes' processes were still starting ({starting:.1f} s)"
                   if self.ready_at is None else
                   f"starting its nodes' processes took {starting:.1f} s of that")
                + ". A new process starts Python and Ray and imports the modules the functions "
                  "use; the next runs reuse the processes. Give a larger timeout.")
        if self.ray_start:
            text += (f" (This run also started Ray itself, in {self.ray_start:.1f} s, which the "
                     f"timeout does not count.)")
        return outcome, text

    def close(self) -> None:
        """Give the hosts back to the pool, or kill them (:meth:`release`); once."""
        if self.closed:
            return
        if self.thread.is_alive() and not self.stopping:
            self.thread.join(STOP_GRACE)  # it has set ``done`` and is ending
        self.closed = True
        self.release()  # a thread still stuck in a node placed here: every host goes

    # --- the hub's loop ------------------------------------------------------------------
    def _main(self):
        try:
            self.load_nodes()
            self._route()
        except Stop:
            pass
        except BaseException as exc:  # a fault of the engine itself: reported, not swallowed
            if not self.stopping:
                self.error = exc
        finally:
            self.done.set()

    def _route(self):
        ray = self.ray
        places = list(self.places.values())
        self._resend()
        while not self.stopping:
            while self.new:
                self._begin(self.new.popleft())
            handled_here = self._dispatch(places)
            if all(p.ended and not p.calls for p in places):  # a snapshot may still ask an ended node
                return
            # (a batch sent to a node directly is answered once its sender's report has come)
            heads = {p.calls[0][0]: p for p in places
                     if p.calls and not (p.calls[0][1] == "take" and p.calls[0][2][0][2] is None)}
            if not heads:
                if handled_here:  # a node here made room: look again at who may go on
                    continue
                if self._lift():  # every node waits: see there
                    continue
                if not any(p.waiting for p in places):
                    raise RuntimeError("the Ray engine has nothing to wait for, yet nodes have "
                                       "not ended: " + ", ".join(p.name for p in places if not p.ended))
                time.sleep(HUB_TICK)  # waiting for room downstream
                continue
            ready, _ = ray.wait(list(heads), num_returns=1, timeout=HUB_TICK)
            for ref in ready:
                self._answer(heads[ref])

    def _answer(self, place):
        """The oldest call made to ``place`` has ended: apply its report, then the next ready ones."""
        ray = self.ray
        while place.calls:
            ref, what, items, reserved, plan = place.calls[0]
            if what == "take" and items[0][2] is None:
                return  # a batch sent to it directly: its sender's report comes first
            ready, _ = ray.wait([ref], timeout=0)
            if not ready:
                return
            place.calls.popleft()
            try:
                report = ray.get(ref)
            except Exception as exc:
                if self.stopping:
                    return
                if what == "take" and items[0][3] is _LOST:  # its sender died before making it
                    self._reserve(place, reserved, -1)
                    self._lost_direct(plan)
                    continue
                self._died(place, exc, what, items, reserved, plan)
                return
            self._apply(place, what, items, reserved, report, plan)

    def _dispatch(self, places) -> bool:
        """Make every call that can be made now; hand what waits for sinks to them.

        True if a node of this process (a sink) handled messages: that may have
        made room for a sender looked at before it.
        """
        handled_here = False
        for place in places:
            if place.ended or place.ending:
                continue
            if (place.here and place.kind == "sink") or place.dead:
                handled_here |= self._local(place)
                continue
            while place.due:  # a snapshot has started: a source records at its next turn
                self._ask(place, place.due.pop(0), "start")
            made = 0  # calls made now (a node placed here: made and answered at once)
            while len(place.calls) < IN_FLIGHT and made < IN_FLIGHT:
                if place.waiting and place.waiting[0][3].__class__ is Marker:
                    # a snapshot's marker, in its place among the messages of its edge: the
                    # node takes it between two calls of its function (and records, if first)
                    entry = place.waiting.popleft()
                    self._ask(place, entry[3].recording, "marker", entry)
                elif place.kind == "source":
                    if place.exhausted or place.nr.failure is not None:
                        break
                    k = self._room(place, place.size)
                    if not k:
                        break
                    k, plan = self._plan(place, k, cap=True)
                    self._reserve(place, k)
                    self._call(place, "produce", k, None, k, plan)
                elif place.waiting:
                    items, count = [], 0
                    while place.waiting and (not items or count + place.waiting[0][2] <= place.size) \
                            and place.waiting[0][3].__class__ is not Marker:  # a call stops at one
                        items.append(place.waiting.popleft())
                        count += items[-1][2]
                    k = self._room(place, count, whole=True)
                    if k < count:  # no room for the results downstream yet
                        place.waiting.extendleft(reversed(items))
                        break
                    _, plan = self._plan(place, k)
                    self._reserve(place, k)
                    payload = [(self.index[id(e)], port, data) for e, port, _, data in items]
                    self._call(place, "take", payload, items, k, plan)
                else:
                    break
                made += 1
            if place.local is not None and made:
                handled_here = True  # it may have made room, or messages, for a node before it
            if not place.calls and self._idle(place) and not place.ended:
                place.ending = True
                self._call(place, "end", None, None, 0)
            elif place.calls and place.nr.failure is None:
                place.nr.state = "busy"  # its process is at work (or has work waiting)
        return handled_here

    def _call(self, place, what, argument, items, reserved, plan=()):
        """Ask ``place`` to ``what`` (produce, take, end, or record for a snapshot: "marker",
        "record"): its actor, or at once if placed here. ``plan``: the :class:`Forward` s of the
        batches it is to send straight to their receivers."""
        local = place.local
        method = "record" if what == "marker" else what
        if local is None:
            method = getattr(place.actor, method)
            if what == "end":
                ref = method.remote()
            elif plan:
                refs = method.options(num_returns=1 + len(plan)).remote(
                    argument, [f.index for f in plan])
                ref = refs[0]
            else:
                ref = method.remote(argument)
            place.calls.append((ref, what, items, reserved, plan))
            if plan:
                self._send_direct(plan, refs[1:])
            return
        place.nr.state = "busy" if place.nr.failure is None else place.nr.state
        self.in_local = True
        try:
            report = local.end() if what == "end" else getattr(local, method)(argument)
        finally:
            self.in_local = False
        self._apply(place, what, items, reserved, report)

    def _idle(self, place):
        if place.kind == "source":
            return place.exhausted or place.nr.failure is not None
        return not place.open_in and not place.waiting

    # --- capacity: the flow's Room rules, counted here for every receiver ------------------
    def _targets(self, place):
        """(receiver, room, places one message takes there) for each bounded receiving room."""
        found = place.targets
        if found is None:
            per = {}
            for edges in place.nr.outs:
                for e in edges:
                    if self.flow.bounded(e):
                        dst = self.place_of[id(e.dst)]
                        key = (id(dst), dst.room.room_of(e))
                        per[key] = (dst, key[1], per.get(key, (None, 0, 0))[2] + 1)
            found = place.targets = list(per.values())
        return found

    def _room(self, place, want, whole=False):
        """How many messages ``place`` may make or handle now (0: wait for room downstream).

        ``whole``: the messages come as batches that cannot be split; a receiver
        with nothing waiting takes them even if they need more room than
        ``capacity`` (they could never go otherwise). A source's batch is made
        to fit: at least one message at a time.
        """
        k = want
        for dst, room, per in self._targets(place):  # (whole: the batch is the least it takes)
            k = min(k, dst.room.grant(room, k * per, k * per if whole else per) // per)
        return k

    def _reserve(self, place, k, sign=1):
        for dst, room, per in self._targets(place):
            dst.room.take(room, sign * k * per)

    def _lift(self) -> bool:
        """Every node waits: the flow's lifting rule for full MergeSynch inputs; True if any.

        The hub sees every node, so "every node waits" is: no call can be made
        and none is on its way.
        """
        lifted = False
        for place in self.places.values():
            if place.ended or place.dead or not (place.waiting or (
                    place.kind == "source" and not place.exhausted and place.nr.failure is None)):
                continue  # nothing to send: it waits for no room
            for dst, room, _ in self._targets(place):
                if dst.room.liftable(room) and not dst.ended and dst.nr.failure is None:
                    dst.room.lift(room)
                    lifted = True
        return lifted

    # --- batches sent from process to process -------------------------------------------------
    def _plan(self, place, k, cap=False):
        """Which of ``place``'s next batches (at most ``k`` messages per edge) go straight to their
        receivers' processes; returns ``(k, plan)``, a list of :class:`Forward`.

        The hub makes the receiver's call at once, with the sender's batch as
        its argument (a Ray object reference): Ray starts it when the batch is
        made and hands the batch over from process to process, so the hub
        neither waits for it nor unpickles it, and the receiver gets its calls
        in the order the hub made them. So the edge keeps its order when nothing
        of the edge waits here and every call of ``place`` not yet answered sends
        there directly too; while a snapshot is being taken nothing goes
        directly (its markers go through the hub, in their place). The room the
        receiver's results need downstream is reserved now, as when the hub
        calls the receiver itself (whose batches may go on directly in turn).
        ``cap``: a source makes no larger batches than its receivers take.
        """
        if not place.direct or self.new or self._snapshotting():
            return k, ()
        open_calls = [c[4] for c in place.calls if c[1] in ("produce", "take")]
        chosen = []
        for e, dst in place.direct:
            if (dst.dead or dst.ending or dst.ended or dst.nr.failure is not None or dst.waiting
                    or not all(any(f.edge is e for f in plan) for plan in open_calls)):
                continue
            if dst.size < k and not cap:
                continue
            chosen.append((e, dst))
        if cap and chosen:
            k = max(1, min([k] + [dst.size for _, dst in chosen]))
        plan = []
        for e, dst in chosen:
            if self._room(dst, k) < k:
                continue
            self._reserve(dst, k)
            plan.append(Forward(e, self.index[id(e)], dst, k, self._plan(dst, k)[1]))
        return k, plan

    def _snapshotting(self) -> bool:
        self.taking = [r for r in self.taking if not (r.kept or r.dropped)]
        return bool(self.taking)

    def _send_direct(self, plan, batches):
        """Make the receivers' calls of ``plan``, each with its batch (``batches``: references)."""
        self.run.ray_direct += len(plan)
        for f, batch in zip(plan, batches, strict=True):
            dst, port = f.dst, f.edge.dst_port or 0
            then = [g.index for g in f.then]
            method = dst.actor.take_direct
            if then:
                refs = method.options(num_returns=1 + len(then)).remote(f.index, port, batch, then)
                ref = refs[0]
                self._send_direct(f.then, refs[1:])
            else:
                ref = method.remote(f.index, port, batch)
            dst.calls.append((ref, "take", [f.item], f.reserved, f.then))

    def _sent_direct(self, plan, sent):
        """The sender's report has come: how many messages each batch of ``plan`` holds."""
        counts = {index: count for index, count, data in sent if data is None}
        for f in plan:
            count = counts.get(f.index, 0)
            f.item[2] = count
            edge, dst = f.edge, f.dst
            self.flow.made(edge, count)
            if self.flow.bounded(edge):
                dst.room.take(dst.room.room_of(edge), count)

    def _lost_direct(self, plan):
        """The sender's process died before it made the batches of ``plan``: its receivers'
        calls fail for want of them, and are not theirs to answer for."""
        for f in plan:
            f.item[2], f.item[3] = 0, _LOST
            self._lost_direct(f.then)

    # --- reports ------------------------------------------------------------------------------
    def _apply(self, place, what, items, reserved, report, plan=()):
        sent, counters, failure, events, elapsed, out, err, recorded = report
        if out:
            sys.stdout.write(out)
        if err:
            sys.stderr.write(err)
        nr = place.nr
        self._reserve(place, reserved, -1)
        paired, received, failed = nr.paired, nr.stats.received, nr.stats.failed
        (nr.stats, edge_counts, received_on, discarded_on, nr.skipped, state, exhausted,
         nr.unpaired, nr.paired) = counters
        edges = self.edges
        nr.edge_counts = {edges[i]: n for i, n in edge_counts.items()}
        nr.received_on = {edges[i]: n for i, n in received_on.items()}
        nr.discarded_on = {edges[i]: n for i, n in discarded_on.items()}
        place.exhausted = exhausted
        if failure is not None:  # placed here: the failure itself, with its traceback
            nr.failure = place.local.nr.failure if place.local else _failure_from(nr, failure)
        if events is not None and nr.watch is not None:
            self._replay(nr.watch, pickle.loads(events))
        # what it made goes on first (and is counted into loops before what it handled)
        for index, count, data in sent:
            if data is not None:  # (None: it went straight to its receiver, see _sent_direct)
                self._deliver(edges[index], count, data)
        if plan:
            self._sent_direct(plan, sent)
        if what in ("marker", "record"):  # the state it recorded for a snapshot
            self._recorded(place, what, items, recorded)
        if what == "take":
            if self.taking:  # messages in flight, for the snapshots whose channels are open
                self.taking = [r for r in self.taking if not (r.kept or r.dropped)]
                self._took(place.nr, items)
            handled = sum(c for _, _, c, _ in items)
            for e, _, c, _ in items:
                self.flow.give_back(place.room, e, c)
            if place.kind == "merge_synch":
                place.room.give_paired(nr.paired - paired, nr.failure is not None)
            if nr.on_sink and place.kind == "sink":  # a sink in a process: the views see it here
                self._tell_views(nr, items, nr.stats.received - received - (nr.stats.failed - failed))
            self._handled(items)
            if handled:
                per = elapsed / handled
                place.size = max(1, min(BATCH, int(CALL_TIME / per) if per > 0 else BATCH))
        elif what == "produce" and reserved:
            made = sent[0][1] if sent else 0
            if made and elapsed > 0:
                place.size = max(1, min(BATCH, int(CALL_TIME * made / elapsed)))
            else:
                place.size = min(BATCH, place.size * 2)
        if what == "end":
            nr.state = state
        elif not place.ended:  # (a snapshot may ask a node that has ended for its state)
            nr.state = "failed" if nr.failure is not None else ("busy" if place.calls else "waiting")
        if nr.failure is not None or what == "end":
            self._tell_receivers(place)
        if what == "end":
            place.ended = True
            self._record_ended(place)

    @staticmethod
    def _tell_views(nr, items, handled):
        """What a sink in a process handled, told to the views here (the live view's lists)."""
        for edge, _, _, data in items:
            if handled <= 0:
                return
            messages = pickle.loads(data)[:handled]
            handled -= len(messages)
            nr.edge = edge
            for observer in nr.on_sink:
                observer.sink_received(nr, messages)

    def _deliver(self, edge, count, data):
        self.flow.made(edge, count)
        self._enqueue(edge, count, data)

    def _enqueue(self, edge, count, data):
        dst = self.place_of[id(edge.dst)]
        dst.waiting.append((edge, edge.dst_port or 0, count, data))
        if self.flow.bounded(edge):
            dst.room.take(dst.room.room_of(edge), count)

    def _resend(self):
        """``resume=``: what the snapshot recorded in flight waits first, along its edge.

        (``snapshots.restore`` has counted it as sent, and as going round its loop.)
        """
        for edge, msgs in self.run.resend:
            try:
                data = dumps(msgs)
            except Exception as exc:
                raise TypeError(
                    f"This snapshot recorded messages in flight on the edge {edge.label} that "
                    f"cannot be pickled ({exception_text(exc, 200)}), and on Ray every message "
                    f"travels pickled: resume from it with engine=\"threads\".") from None
            self._enqueue(edge, len(msgs), data)

    # --- snapshots (snapshots.py): the rules are the Recording's; the hub carries markers and states
    def _begin(self, rec):
        """A snapshot starts: each source records at its next turn, a node that has ended records now."""
        self.taking = [r for r in self.taking if not (r.kept or r.dropped)] + [rec]
        for place in self.places.values():
            if place.ended:
                self._record_ended(place, rec)
            elif place.kind == "source" and not place.ending and not place.dead:
                place.due.append(rec)
            # a source ending (or whose process died) records as it ends (_record_ended)

    def _ask(self, place, rec, why, entry=None):
        """Ask ``place`` to record its state for ``rec``, after every call made to it so far.

        ``why``: "marker" (``entry``, the marker of an edge, has reached it),
        "start" (a source, as the snapshot starts) or "ended". Its state is
        recorded only the first time it is asked for ``rec``; it comes back
        with the call's report, and :meth:`_recorded` hands it to ``rec``.
        """
        wanted = rec.number not in place.asked
        place.asked.add(rec.number)
        if why == "marker":
            self._call(place, "marker", wanted, [entry], 0)
        else:
            self._call(place, "record", wanted, (why, rec), 0)

    def _recorded(self, place, what, items, recorded):
        """A state recorded in ``place``'s process has come: the Recording's rules take it from here.

        The trace shows the marker taken and the state recorded at the moment
        they happened in the node's process.
        """
        state, problem, at = recorded
        if state is not None and place.local is None:
            state = pickle.loads(state)
        with self._clocks_at([at]):
            if what == "marker":
                edge, _, _, marker = items[0]
                rec = marker.recording
                first = rec.marker(place.nr, edge, (state, problem))
            else:
                why, rec = items
                if why == "start":
                    first = rec.record(place.nr, (state, problem))
                else:
                    first = rec.ended(place.nr, (state, problem))
        if first:
            self._send_markers(place, rec)

    @contextlib.contextmanager
    def _clocks_at(self, at: list):
        """While inside, the observers' clocks read ``at[0]`` (a ``time.time()`` of a node's
        process, moved onto their own scale; the caller may change it between two events).

        Observers keep times with a ``clock()`` of their own (the tracer: seconds
        since the run began, by this process's ``perf_counter``). On one machine
        every process reads the same ``time.time()``, so the times agree to the
        microsecond; on a cluster the machines' clocks differ by what their time
        keeping (NTP) leaves, often a millisecond or so, sometimes more.
        """
        clocks = [(o, o.clock) for o in self.run.observers if callable(getattr(o, "clock", None))]
        for o, clock in clocks:
            offset = clock() - time.perf_counter()  # (its clock) - (this process's perf_counter)
            o.clock = lambda offset=offset: at[0] + self.wall_to_perf + offset
        try:
            yield
        finally:
            for o, clock in clocks:
                o.clock = clock

    def _send_markers(self, place, rec):
        """``place`` has recorded for ``rec``: a marker goes on every edge leaving it, behind what it sent."""
        for edges in place.nr.outs:
            for edge in edges:
                if not self.place_of[id(edge.dst)].ended:
                    self._enqueue_marker(edge, rec)

    def _enqueue_marker(self, edge, rec):
        dst = self.place_of[id(edge.dst)]
        dst.waiting.append((edge, edge.dst_port or 0, 0, rec.token))  # it takes no room

    def _record_ended(self, place, rec=None):
        """``place`` has ended: each snapshot being taken (or ``rec``) records it as it is now."""
        if rec is None:
            place.due.clear()
            recs = [r for r in self.taking if not (r.kept or r.dropped)]
        else:
            recs = [rec]
        for r in recs:
            if place.dead or (place.here and place.kind == "sink"):
                # a sink here records in place; a node whose process died has no state to give
                if r.ended(place.nr, (None, _DIED) if place.dead else None):
                    self._send_markers(place, r)
            else:
                self._ask(place, r, "ended")

    def _took(self, nr, items):
        """``nr`` took ``items`` (waiting entries): those of edges being recorded are in flight."""
        for edge, _, _, data in items:
            recs = [r for r in self.taking if r.records(nr, edge)]
            if recs and data is not None:  # (a batch sent directly went before any marker)
                batch = pickle.loads(data)
                for r in recs:
                    r.took(nr, edge, batch)

    def _handled(self, items):
        for edge, _, count, _ in items:
            self._end_edges(self.flow.handled(edge, count))

    def _tell_receivers(self, place):
        """``place`` has ended (or failed): the receivers the flow names hear that it has ended."""
        if not place.told:
            place.told = True
            self._end_edges(self.flow.ended(place.nr.outs))

    def _end_edges(self, edges):
        for e in edges:
            self.place_of[id(e.dst)].open_in.discard(e)

    def _replay(self, watch, events):
        """Tell ``watch`` of the events a node's process recorded, each at the time it happened
        there (its ``time.time()`` stamp, see :meth:`_clocks_at`)."""
        at = [0.0]
        with self._clocks_at(at):
            for kind, node, index, msg, note, at[0] in events:
                if kind in ("receive", "send", "discard"):
                    getattr(watch, kind)(node, self.edges[index], msg)
                elif kind == "fail":
                    failure = self.places[node].nr.failure
                    watch.fail(node, msg, failure.exception if failure is not None else None)
                elif kind == "drop":
                    watch.drop(node, msg, note)
                elif kind == "end":
                    watch.end(node, note)
                else:
                    watch.emit(node, msg)

    # --- this process's own nodes: sinks, and nodes whose process died ----------------------
    def _local(self, place) -> bool:
        """Hand what waits for a sink (or a node whose process died) to it here; True if any."""
        nr = place.nr
        handled = bool(place.waiting)
        while place.waiting and not self.stopping:
            if place.waiting[0][2] is None:
                break  # sent to it directly: its sender's report says how many (see _answer)
            edge, port, count, data = place.waiting.popleft()
            if data.__class__ is Marker:  # a sink records in place; a dead node has nothing
                rec = data.recording
                if rec.marker(nr, edge, (None, _DIED) if place.dead else None):
                    self._send_markers(place, rec)
                continue
            if data is None:  # sent straight to its process, which died: no copy came here
                batch = [_Shown(f"(a message sent along {edge.label}, lost with the process)")] * count
            else:
                batch = pickle.loads(data)
            for rec in self.taking:
                rec.took(nr, edge, batch)
            nr.state = "busy" if nr.failure is None else nr.state
            self.in_local = True
            try:
                nr.take(port, edge, batch)
            finally:
                self.in_local = False
            self.flow.give_back(place.room, edge, count)
            self._handled([(edge, port, count, data)])
            if nr.failure is not None:
                self._tell_receivers(place)
        if nr.failure is None:
            nr.state = "waiting"
        if not place.open_in and not place.waiting and not self.stopping:
            nr.end()
            self._tell_receivers(place)
            place.ended = True
            self._record_ended(place)
        return handled

    def _died(self, place, exc, what, items, reserved, plan=()):
        """The process of ``place`` ended: its node failed; what it had not handled is discarded.

        Batches it was to send directly that the hub has not heard of are lost
        with it (as what it was making when it died).
        """
        from ray import exceptions
        nr = place.nr
        if isinstance(exc, exceptions.RayTaskError):  # the engine's own code failed there
            error = RemoteError(str(exc))
            detail = "stopped unexpectedly"
        else:
            error = NodeProcessDied(
                "its process ended while the network ran: it was killed, or ran out of memory")
            error.pid = place.pid
            detail = "stopped: its process died"
        place.dead = True
        calls = [(what, items, reserved, plan)] + [call[1:] for call in place.calls]
        place.calls.clear()
        for _, _, more, planned in calls:
            self._reserve(place, more, -1)
            self._lost_direct(planned)  # its receivers' calls fail for want of its batches
        calls = [c for c in calls if not (c[0] == "take" and c[1][0][3] is _LOST)]  # not its to take
        asked = []
        for kind, lost, _, _ in reversed(calls):  # what it had not handled waits again, in order
            if kind == "record":
                asked.append(lost)
            elif lost:
                place.waiting.extendleft(reversed(lost))
        place.ending = False
        if nr.failure is None:
            nr.fail(error, has_message=False, detail=detail)
        if place.kind == "merge_synch":
            place.room.give_paired(0, True)  # its unpaired messages are lost with it
        place.exhausted = True
        self._tell_receivers(place)  # what reaches it from now on is discarded (in _local)
        for why, rec in reversed(asked):  # snapshots that asked for its state: it has none now
            recorded = (None, _DIED)
            if rec.record(nr, recorded) if why == "start" else rec.ended(nr, recorded):
                self._send_markers(place, rec)


#: why a snapshot has no state for a node whose process died
_DIED = "its process had died, and its state with it"


def _first_line(exc: BaseException) -> str:
    """The last line of a Ray error's text that names an exception ("ModuleNotFoundError: ...")."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    named = [line for line in lines if re.match(r"^\w+(Error|Exception): ", line)]
    return cut((named or lines or [type(exc).__name__])[-1], 300).rstrip(".") + "."


def _failure_from(nr: NodeRun, report: tuple):
    """The NodeFailure of a node whose function raised in its process."""
    from .errors import NodeFailure
    exc_data, exc_text, tb_text, msg_data, msg_text, has_message, detail = report
    exc = None
    if exc_data is not None:
        try:
            exc = pickle.loads(exc_data)
        except Exception:
            exc = None
    if exc is None:
        exc = RemoteError(exc_text)
    msg = msg_text
    if msg_data is not None:
        try:
            msg = pickle.loads(msg_data)
        except Exception:
            msg = msg_text
    failure = NodeFailure(nr.node, exc, msg, has_message, detail, name=nr.name)
    failure.traceback = tb_text  # the traceback as it was in the node's process
    return failure


# --- a run ----------------------------------------------------------------------------------
HERE, PROCESS = "here", "process"


def placement(net: Graph, place: dict | None) -> dict[str, str]:
    """Where each node runs, by name: ``place`` checked, and the defaults for the others.

    By default sinks run "here" (in this process, so they fill this process's
    lists) and every other node in a "process" of its own. ``place`` maps a
    node (its name, or the node itself) to "here" or "process".
    """
    names = {net.name_of(n): n for n in net.nodes}
    where = {name: HERE if n.kind == "sink" else PROCESS for name, n in names.items()}
    if place is None:
        return where
    if not isinstance(place, dict):
        raise TypeError(f"place= must be a dict from node names to \"here\" or \"process\", "
                        f"such as place={{\"save\": \"process\"}}, but got {short_repr(place)}.")
    nodes = {id(n): name for name, n in names.items()}
    for key, value in place.items():
        name = nodes.get(id(key)) if not isinstance(key, str) else key
        if name not in names:
            if isinstance(key, str):
                import difflib
                close = difflib.get_close_matches(key, list(names), n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                raise ValueError(
                    f"place= names a node '{key}', but this network has no node of that name.{hint} "
                    f"Its nodes are: {', '.join(names)}.")
            raise ValueError(f"place= names {short_repr(key)}, which is not a node of this "
                             f"network. Its nodes are: {', '.join(names)}.")
        if value not in (HERE, PROCESS):
            raise ValueError(
                f"place= puts {names[name].kind} '{name}' at {value!r}, but a node is placed "
                f"\"here\" (in this process, the notebook's) or \"process\" (in a process of "
                f"its own).")
        node = names[name]
        if value == PROCESS and node.kind == "sink" and isinstance(
                getattr(node.fn, "__self__", None), (list, dict, set, deque)):
            raise ValueError(
                f"place= puts sink '{name}' in a process of its own, but its function "
                f"({getattr(node.fn, '__qualname__', 'a method')}) fills a "
                f"{type(node.fn.__self__).__name__} of this process: there it would fill a copy "
                f"in its own process, and yours would stay empty. Leave this sink \"here\" (the "
                f"default for sinks), or let its function save the messages (to a file, say).")
        where[name] = value
    return where


def check_picklable(net: Graph, where: dict[str, str]) -> None:
    """Refuse, before starting anything, a node placed in a process whose function cannot be sent there."""
    for node in net.nodes:
        name = net.name_of(node)
        if where[name] == HERE:
            continue
        from ray import cloudpickle
        try:
            cloudpickle.dumps((node.fn, node.params))
        except Exception as exc:
            raise TypeError(
                f"{node.kind} '{name}' cannot run on Ray: on Ray it runs in a process of its own, "
                f"so its function (with everything it uses) is sent there with pickle, and it "
                f"cannot be pickled ({exception_text(exc, 300)}). A function that holds a lock, "
                f"an open file, a generator or a connection cannot travel: let the function "
                f"open what it needs itself, or run it in this process with "
                f"run_network(engine=\"ray\", place={{\"{name}\": \"here\"}}), or run this "
                f"network with engine=\"threads\"."
            ) from exc


def run(net: Graph, timeout: float | None = None, capacity: int | None = None,
        observers: Iterable[Observer] = (), place: dict | None = None, *,
        snapshot_every: float | None = None, resume=None) -> Run:
    """Run ``net`` on Ray (see the module's text and :meth:`Network.run_network`); return the Run.

    ``snapshot_every``: seconds between two snapshots; ``resume``: a Snapshot to
    start from. A sink placed here gets its state back in place before the run
    (``snapshots.restore``); every other node gets it where it runs (:meth:`NodeHost.resume`).
    """
    where, ray, pool, ray_start = {}, None, None, None

    def prepare():
        nonlocal ray, pool, ray_start
        where.update(placement(net, place))
        started = ray_module().is_initialized()
        ray = connect(say=_say)
        if not started and ray.is_initialized():
            ray_start = started_in
        pool = host_pool(ray)
        # the processes start while the functions are checked and the run is wired
        pool.prestart(sum(w == PROCESS for w in where.values()))
        check_picklable(net, where)

    kinds = {net.name_of(n): n.kind for n in net.nodes}
    return execute(net, lambda r, cap: Hub(ray, r, cap, where, pool, timeout, ray_start,
                                           snapshot_every),
                   timeout, capacity, observers, before=prepare, resume=resume,
                   in_place=lambda name: where[name] == HERE and kinds[name] == "sink",
                   stuck_text="A node placed in this process (a sink, say) was still inside its "
                              "function when the network stopped. It ends as soon as that call "
                              "returns (a long time.sleep, say).")


def _say(text: str) -> None:
    """Tell the student at once (a notebook cell shows it while Ray starts)."""
    print(text, flush=True)
