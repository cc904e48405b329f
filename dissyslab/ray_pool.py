"""The processes of Ray runs: Ray itself, and the pool of node-host processes kept between runs.

``engine="ray"`` (``ray_engine.py``) runs every source and transform in a
process of its own. Starting a process costs seconds (Python, Ray, and the
modules a function imports), so the processes outlive a run:

* :func:`connect` gives Ray: the instance this process already uses
  (``ray.init(address=...)`` for a cluster), or a local one started at the
  first run, kept for the next, and shut down when Python exits. While it
  starts, :class:`_ray_process_settings` sets what its processes inherit.
* :class:`HostPool` keeps node-host processes (Ray actors made from
  :class:`~dissyslab.ray_hosts.NodeHost`), each able to host any node. A run
  takes hosts, loads its nodes into them (:class:`Loading`: the one step that
  puts a node, its function and its state, in a process) and gives them back
  cleared at its end; a host whose node failed, whose process died, or that
  was still at work when the run was stopped is killed instead. The pool grows
  on demand and shrinks when idle (:data:`POOL_IDLE`, :data:`POOL_KEEP`).
* A host whose imported modules changed on disk refuses to load (it would run
  the old code): :class:`Loading` replaces it by a new one.

Nothing here routes a message: that is the hub's (``ray_engine.py``).
"""

from __future__ import annotations

import atexit
import importlib.util
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from typing import Any, Callable

from .errors import cut
from .ray_hosts import NodeHost
from .semantics import Stop

INSTALL = ('engine="ray" needs Ray, which is not installed in this Python. Install it with\n'
           '    pip install -e ".[ray]"     (in a clone of DisSysLab), or  pip install ray\n'
           'then restart the kernel (or Python) and run again. engine="threads", the default, '
           'needs nothing more.')


#: seconds given to Ray to start, and to a node's process to start
START_TIMEOUT = 120


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
                            f"starts for DisSysLab (see dissyslab/ray_pool.py)')\n")
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



# --- loading a run's nodes into hosts -------------------------------------------------------
#: seconds between two looks at the nodes being loaded (for a stop, and for the time limit)
LOAD_LOOK = 0.05


def import_paths() -> list[str]:
    """The folders this process imports from ("" is the current folder: a notebook's own)."""
    return [os.path.abspath(p or ".") for p in sys.path if os.path.isdir(p or ".")]


class Loading:
    """Loading a run's nodes into hosts of the pool: the one step that puts a node in a process.

    ``payloads`` maps each node's name to what :meth:`NodeHost.load` takes (the
    node, its edges, and what ``resume=`` gives it back); ``kinds`` maps it to its
    kind, for the errors. ``hold(name, host)`` is told of each host as soon as it
    is taken for a node (``None`` once it is killed), so that the run can give
    back or kill every host it took even if it is stopped halfway.

    A host that is gone (ended by the pool while unused), or whose imported
    modules were edited since, is replaced by a new one. Starting the run's
    processes may take at most :data:`START_TIMEOUT` seconds.
    """

    def __init__(self, pool: HostPool, payloads: dict[str, bytes], kinds: dict[str, str],
                 hold: Callable[[str, Host | None], None]) -> None:
        self.pool, self.payloads, self.kinds, self.hold = pool, payloads, kinds, hold
        self.paths = import_paths()  # so that the driver's modules can be imported there too
        self.hosts: dict[str, Host | None] = {}
        self.reused: dict[str, bool] = {}  # name -> its host had served an earlier run
        self.pending: dict[Any, str] = {}  # the reference of a load call -> the node's name
        self.replaced: set[str] = set()
        self.pids: dict[str, int] = {}  # in the order the nodes were loaded

    def run(self, stopping: Callable[[], bool]) -> dict[str, int]:
        """Load every node and wait until each is loaded; the pid of each node's process.

        Raises :class:`~dissyslab.semantics.Stop` once ``stopping()`` says so.
        """
        for name, host in zip(self.payloads, self.pool.take(len(self.payloads)), strict=True):
            self._load(name, host)
        limit = time.monotonic() + START_TIMEOUT
        while self.pending:
            self._check(stopping, limit)
            ready, _ = self.pool.ray.wait(list(self.pending), num_returns=len(self.pending),
                                          timeout=LOAD_LOOK)
            for ref in ready:
                self._loaded(self.pending.pop(ref), ref)
        return self.pids

    def _load(self, name: str, host: Host) -> None:
        self.hosts[name], self.reused[name] = host, host.pid is not None
        self.hold(name, host)
        self.pending[host.actor.load.remote(self.paths, self.payloads[name])] = name

    def _check(self, stopping: Callable[[], bool], limit: float) -> None:
        if stopping():
            raise Stop
        if time.monotonic() > limit:
            raise RuntimeError(
                f"the processes of {', '.join(self.pending.values())} did not "
                f"start within {START_TIMEOUT} seconds: the machine (or the Ray cluster) "
                f"may be out of memory or overloaded.")

    def _loaded(self, name: str, ref: Any) -> None:
        """The load call ``ref`` of node ``name`` has returned: loaded, or its host is replaced."""
        host = self.hosts[name]
        try:
            pid, changed = self.pool.ray.get(ref)
        except Exception as exc:
            self._failed(name, exc)
            changed = ()  # the host was gone: a new one
        if changed is not None:  # (or its modules were edited since it imported them)
            if self.hosts[name] is not None:
                self.pool.kill(host)
            self.replaced.add(name)
            self._load(name, self.pool.new())
            return
        host.pid = self.pids[name] = pid

    def _failed(self, name: str, exc: Exception) -> None:
        """The load call failed: its host is killed; an error, unless the host had merely gone."""
        self.pool.kill(self.hosts[name])
        self.hosts[name] = None
        self.hold(name, None)
        from ray import exceptions
        if isinstance(exc, exceptions.RayTaskError) or name in self.replaced:
            raise RuntimeError(
                f"{self.kinds[name]} '{name}' could not start in a process of its own: "
                f"{_first_line(exc)} If its function comes from a module of yours, "
                f"that module must be importable there too (on a cluster: on every "
                f"machine).") from exc


def _first_line(exc: BaseException) -> str:
    """The last line of a Ray error's text that names an exception ("ModuleNotFoundError: ...")."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    named = [line for line in lines if re.match(r"^\w+(Error|Exception): ", line)]
    return cut((named or lines or [type(exc).__name__])[-1], 300).rstrip(".") + "."
