"""What every run has, whichever scheduler runs it: its arguments, its record, its ending.

A :class:`Run` is one run of a network: the :class:`~dissyslab.semantics.NodeRun`
of each node while it goes, then how it ended (outcome, failures, unpaired
MergeSynch messages, the trace if one was taken). The network keeps a link to
its last run, so ``g.stats``, ``g.state``, ``g.failures``, ``g.unpaired`` and
``g.trace`` show it. Each scheduler (``threads.py``, ``seeded.py``) takes the
same steps: :func:`check_arguments`, :func:`begin`, make a Run, tell the
observers, run the nodes, :func:`wait`, then :func:`conclude`: :func:`execute`
does them all, through the hooks of the scheduler's :class:`Engine`.

A node's function may start threads of its own, but each inherits the daemon
status of the node's thread: Python stops daemon threads without waiting when
the program ends, so whatever they had not finished is lost, and a run does not
wait for them either. A run therefore warns (:class:`ThreadStillRunningWarning`)
when threads started during it are still alive as it ends, naming them; a node
that starts a thread should ``join()`` it before its function returns.
"""

from __future__ import annotations

import atexit
import ctypes
import gc
import math
import sys
import sysconfig
import threading
import time
import weakref
from collections import deque
from typing import TYPE_CHECKING, Callable, Iterable

from .errors import (
    DroppedEverythingWarning,
    MergeSynchWarning,
    NetworkError,
    NetworkTimeout,
    NodeStillRunningWarning,
    SourceUsedUpWarning,
    ThreadStillRunningWarning,
    short_repr,
    warn_student,
)
from .flow import Flow
from .observers import event_watcher
from .semantics import NodeRun, Stop, wiring
from .snapshots import restore
from .sources import ListSource
from .termination import loop_watches
from .timers import Ticks

if TYPE_CHECKING:
    from .faults import Plan
    from .observers import Observer
    from .shapes import Graph
    from .snapshots import Snapshot

#: messages that may wait in front of a node before its senders pause
DEFAULT_CAPACITY = 10_000
#: seconds between two looks of the calling thread at a run (observers' ticks)
TICK = 0.01
#: a deadline noticed this many seconds late was held up by a call Python cannot interrupt
HELD = 0.25
#: most messages counted while the deadline was noticed late, for a held call to be blamed
HELD_PROGRESS = 1_000
#: seconds given to the nodes to stop after a timeout or an interrupt
STOP_GRACE = 1.0
#: the warning naming the nodes still inside their function after that (a scheduler may say more)
STILL_INSIDE = ("These nodes were still inside their function when the network stopped: {names}. "
                "Each thread ends as soon as that call returns (a long time.sleep, say).")


class Run:
    """One run of a network: each node's part, and, once it has ended, how it went.

    ``nodes``: node name -> :class:`NodeRun` (counters, state, failure).
    ``seed``: the seed of a seeded run, None for a threaded one.
    ``schedule``: the schedule a replay follows (``exhaustive.py``), else None.
    ``outcome``: "finished", "timeout" or "interrupted" once it has ended.
    ``failures``, ``unpaired``, ``trace``: as ``g.failures``, ``g.unpaired``, ``g.trace``.
    """

    def __init__(self, net: Graph, observers: Iterable[Observer] = (), seed: int | None = None,
                 resume: Snapshot | None = None, faults: Plan | None = None,
                 in_place: Callable[[str], bool] | None = None) -> None:
        self.net = net
        self.seed = seed
        self.schedule = None  # exhaustive.py: the schedule a replay follows, step by step
        self.observers = list(observers)
        watch = event_watcher(self.observers)
        outs = wiring(net)
        names = [net.name_of(n) for n in net.nodes]
        self.nodes = {name: NodeRun(n, outs[name], watch, self.observers, name)
                      for n, name in zip(net.nodes, names, strict=True)}
        self.outcome = None
        self.failures = []
        self.unpaired = {}
        self.trace = None  # set by the tracer when the run is traced
        self.steps = 0  # seeded runs: the scheduler's steps so far
        self.clock = 0.0  # seeded runs: the virtual clock's time (vclock.py)
        self.received = None  # seeded runs for explore: what each sink received
        # termination.py: per loop of the network, the messages still going round it
        self.loops, self.loop_of_edge = loop_watches(net)
        self.flow = Flow(net, self.loops, self.loop_of_edge)  # the rules between nodes (flow.py)
        self.threads_before = set(threading.enumerate())  # to find threads nodes leave behind
        # snapshots.py: those taken (g.snapshots), those being taken, and what resume= sends again
        self.started_at = time.monotonic()
        self.snapshots, self.recordings, self.snapshots_started = [], [], 0
        self.snapshots_dropped = 0  # snapshots given up because the run was stopped
        self.snapshot_lock = threading.RLock()
        self.take_snapshot = None  # set by a threaded run: starts one from any thread
        self.resumed = resume  # the snapshot it resumes from (Ray loads states into processes)
        self.resend = [] if resume is None else restore(self, resume, in_place)
        # faults.py: run_network(faults=...) gives its nodes their faults; the seed that decides them
        self.faults, self.fault_seed = faults, None
        if faults is not None:
            faults.install(self)

    @property
    def stats(self) -> dict:
        return {name: nr.stats for name, nr in self.nodes.items()}

    @property
    def state(self) -> dict:
        return {name: nr.state for name, nr in self.nodes.items()}

    @property
    def edge_received(self) -> dict:
        """Messages taken from each edge and handled by its receiver so far."""
        return self._per_edge("received_on")

    @property
    def edge_discarded(self) -> dict:
        """Messages that came along each edge to a receiver that had failed, and were thrown away."""
        return self._per_edge("discarded_on")

    @property
    def edge_lost(self) -> dict:
        """Messages lost along each edge by faults (``faults.py``): dropped, cut off, or to a crash."""
        return self._per_edge("lost_on")

    @property
    def edge_duplicated(self) -> dict:
        """Extra copies of messages delivered along each edge by ``duplicate`` faults."""
        return self._per_edge("duplicated_on")

    @property
    def crashed(self) -> dict:
        """Per node that crashed by a ``crash`` fault: the messages it had handled (a source: sent)."""
        return {} if self.faults is None else dict(self.faults.crashed)

    @property
    def edge_in_hand(self) -> dict:
        """Messages each receiver has taken from an edge and is handling at this moment."""
        counts = dict.fromkeys(self.net.edges, 0)
        for nr in self.nodes.values():
            held = nr.in_hand
            if held is not None and held[0] in counts:
                counts[held[0]] += held[1]
        return counts

    def _per_edge(self, counter):
        counts = {}
        for nr in self.nodes.values():
            counts.update(getattr(nr, counter))
        return {e: counts.get(e, 0) for e in self.net.edges}

    @property
    def edge_counts(self) -> dict:
        """Messages sent along each edge so far."""
        counts = {}
        for nr in self.nodes.values():
            counts.update(nr.edge_counts)
        return {e: counts.get(e, 0) for e in self.net.edges}


class Engine:
    """What a scheduler gives :func:`execute`: its hooks, as ``queue.Queue`` has ``_put``/``_get``.

    ``done`` is set once every node has ended. ``start()`` starts the nodes;
    ``tick()`` is called every few milliseconds from the calling thread while
    they work; ``alive(nr)`` says whether a node is still going; ``stop()``
    stops every node (with :func:`stop_with_grace`) and returns those still
    inside their function; ``settle(stuck)`` marks what had not ended as
    stopped; ``finish(outcome)`` may change the outcome or give the timeout's
    text when the run ends; ``error`` is a fault of the scheduler itself.
    """

    done: Finished
    error: BaseException | None = None

    def start(self) -> None:
        raise NotImplementedError

    def tick(self) -> None:
        pass

    def alive(self, nr: NodeRun) -> bool:
        return True

    def stop(self) -> list:
        return []

    def settle(self, stuck: list) -> None:
        pass

    def finish(self, outcome: str) -> tuple[str, str | None]:
        return outcome, None


class _RareFullCollections:
    """While runs last, Python's *full* garbage collection runs rarely.

    A full collection looks at every object the program holds, and a run's
    sinks keep everything they receive: collecting in full every 70,000 or so
    new objects (Python's default) makes a run of many records several tenths
    of a second slower. The young generations are still collected as usual,
    so short-lived garbage goes as before; after the last run the thresholds
    are put back (unless the program changed them meanwhile).
    """

    FULL_EVERY = 1000  # young collections between two full ones (Python's default: 10)
    _lock = threading.Lock()
    _runs = 0
    _saved = _set = None

    def __enter__(self) -> None:
        cls = _RareFullCollections
        with cls._lock:
            if cls._runs == 0:
                cls._saved = gc.get_threshold()
                cls._set = (*cls._saved[:2], max(cls._saved[2], cls.FULL_EVERY))
                gc.set_threshold(*cls._set)
            cls._runs += 1

    def __exit__(self, *exc: object) -> None:
        cls = _RareFullCollections
        with cls._lock:
            cls._runs -= 1
            if cls._runs == 0 and gc.get_threshold() == cls._set:
                gc.set_threshold(*cls._saved)


def execute(net: Graph, make: Callable[[Run, int], Engine], timeout: float | None,
            capacity: int | None, observers: Iterable[Observer] = (), *, seed: int | None = None,
            resume: Snapshot | None = None, stuck_text: str = STILL_INSIDE,
            before: Callable[[], None] | None = None, faults: Plan | None = None,
            in_place: Callable[[str], bool] | None = None) -> Run:
    """One run, whichever scheduler: check, begin, start, wait, stop with grace, conclude.

    ``make(run, capacity)`` builds the scheduler's :class:`Engine`. ``in_place``:
    which nodes' states ``resume`` puts back here (see ``snapshots.restore``). On timeout or
    Ctrl-C every node is stopped, and those still inside their function after
    :data:`STOP_GRACE` are named in a warning, ``stuck_text`` (:data:`STILL_INSIDE`).
    Returns the Run, or raises what went wrong (:func:`conclude`). Full garbage
    collections are rare meanwhile (:class:`_RareFullCollections`).
    """
    with _RareFullCollections():
        return _execute(net, make, timeout, capacity, observers, seed, resume, stuck_text,
                        before, faults, in_place)


def _execute(net, make, timeout, capacity, observers, seed, resume, stuck_text, before, faults,
             in_place):
    capacity = check_arguments(timeout, capacity)
    if before is not None:
        before()
    begin(net)
    busy, stuck, engine = "", [], None
    try:
        r = Run(net, observers, seed=seed, resume=resume, faults=faults, in_place=in_place)
        net.last_run = r
        engine = make(r, capacity)
        outcome = _start_and_wait(r, engine, timeout)
        if outcome in ("timeout", "interrupted", "held"):
            busy, stuck = _stop(r, engine)
    finally:
        net.running = False
        if "r" in locals():
            r.take_snapshot = None
    engine.settle(stuck)
    if engine.error is not None:
        raise engine.error
    outcome, timeout_text = engine.finish(outcome)
    if stuck:
        warn_student(stuck_text.format(names=", ".join(f"'{nr.name}'" for nr in stuck),
                                        kind=stuck[0].kind, name=stuck[0].name),
                      NodeStillRunningWarning)
    conclude(r, outcome, busy if not timeout_text else "", timeout, timeout_text)
    return r


def _start_and_wait(run: Run, engine: Engine, timeout: float | None) -> str:
    """Tell the observers, start the nodes, and wait for them: the outcome, as :func:`wait`'s.

    If the nodes cannot all be started the engine has stopped those it had
    started; the observers hear that the run ended, and the error goes on
    (Ctrl-C meanwhile: the outcome is "interrupted").
    """
    for observer in run.observers:
        observer.started(run)
    if run.faults is not None:  # faults.py: nodes that crash before doing anything, watched
        run.faults.begin(run)
    try:
        engine.start()
    except KeyboardInterrupt:
        return "interrupted"  # the engine has stopped what it had started
    except BaseException:
        for observer in run.observers:
            observer.finished(run, "interrupted")
        raise
    return wait(engine.done, run.observers, timeout, tick=engine.tick,
                progress=lambda: sum(nr.stats.received + nr.stats.sent
                                     for nr in run.nodes.values()))


def _stop(run: Run, engine: Engine) -> tuple[str, list]:
    """Stop a run that has not ended by itself (timeout, Ctrl-C): its nodes, with grace.

    Returns what the nodes were doing (:func:`still_running`) and those still
    inside their function after the grace. A snapshot still being taken would
    be completed by nodes that are stopped, without the messages between them:
    it is dropped, and the error says so.
    """
    run.snapshots_dropped = drop_recordings(run)
    busy = still_running(run, alive=engine.alive)
    return busy, stop_anyway(engine.stop)


def drop_recordings(run: Run) -> int:
    """Give up every snapshot being taken (the run is being stopped); say how many."""
    with run.snapshot_lock:
        taking = list(run.recordings)
        for rec in taking:
            rec.drop()
    return len(taking)


def stop_with_grace(alive: Callable[[], list[threading.Thread]],
                    inside: Callable[[threading.Thread], bool]) -> list[threading.Thread]:
    """Wait (a little over :data:`STOP_GRACE`) for the threads ``alive()`` lists to end.

    A thread still ``inside`` a node's function is interrupted there (a
    :class:`~dissyslab.semantics.Stop` raised at its next Python instruction).
    Returns the threads left: inside a call Python cannot interrupt.
    """
    deadline = time.monotonic() + STOP_GRACE
    left = alive()
    while left and time.monotonic() < deadline:
        for t in left:
            t.join(0.05)
            if t.is_alive() and inside(t):
                raise_in_thread(t, Stop)
        left = alive()
    return left


def raise_in_thread(thread: threading.Thread, exc_type: type[BaseException]) -> None:
    """Ask Python to raise ``exc_type`` in ``thread`` at its next Python instruction."""
    if thread.ident is not None and thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                                   ctypes.py_object(exc_type))


def check_arguments(timeout: float | None, capacity: int | None) -> int:
    """Check ``timeout`` and ``capacity``; return the capacity to use."""
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not math.isfinite(timeout) or timeout <= 0):
        raise ValueError(f"timeout must be a positive number of seconds, like timeout=5 "
                         f"(or None for no limit), but got {timeout!r}.")
    if capacity is None:
        return DEFAULT_CAPACITY
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise ValueError(f"capacity must be a whole number of messages of at least 1, "
                         f"but got {capacity!r}.")
    return capacity


#: every network that has started a run (a network is running while its ``running`` is set)
_started = weakref.WeakSet()
_begin_lock = threading.Lock()


def begin(net: Graph) -> None:
    """Mark ``net`` as running (once at a time) and rewind its ListSources.

    A source (or a ListSource) that is part of another network running now is
    refused: the two runs would split its messages between them.
    """
    with _begin_lock:
        if net.running:
            raise RuntimeError("This network is already running. Wait for that run to finish "
                               "before starting it again.")
        _check_sources_free(net)
        for node in net.sources:
            owner = getattr(node.fn, "__self__", None)
            if isinstance(owner, (ListSource, Ticks)):
                owner.reset()
        net.running = True
        _started.add(net)


def _check_sources_free(net: Graph) -> None:
    """Refuse to start ``net`` if one of its sources is in another network that is running."""
    busy = set()  # ids of the source nodes, and of their ListSources, of running networks
    for other in list(_started):
        if other is net or not other.running:
            continue
        for node in other.sources:
            busy.add(id(node))
            owner = getattr(node.fn, "__self__", None)
            if isinstance(owner, ListSource):
                busy.add(id(owner))
    if not busy:
        return
    for node in net.sources:
        name = net.name_of(node)
        owner = getattr(node.fn, "__self__", None)
        if id(node) in busy:
            what = f"source '{name}'"
        elif isinstance(owner, ListSource) and id(owner) in busy:
            what = f"the ListSource of source '{name}'"
        else:
            continue
        raise RuntimeError(
            f"{what} is also part of another network that is running now. The two runs "
            f"would take turns at it and split its messages between them, so neither would "
            f"get them all. Run the networks one after the other (wait for the first run to "
            f"finish), or give each network a source of its own (with a ListSource of its own).")


class Finished(threading.Event):
    """Set by a scheduler once every node has ended; remembers when (``at``, monotonic seconds)."""

    at = None

    def set(self) -> None:
        self.at = time.monotonic()
        super().set()


class StartGate:
    """Holds every node thread until all have started; opened at once if the run is stopped."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.stopped = False

    def open(self, stopped: bool = False) -> None:
        self.stopped = self.stopped or stopped
        self._event.set()

    def wait(self) -> bool:
        """Wait until the gate opens; True if the nodes may work, False if the run was stopped."""
        self._event.wait()
        return not self.stopped


def wait(done: Finished, observers: list[Observer], timeout: float | None,
         tick: Callable[[], None] | None = None,
         progress: Callable[[], int] | None = None) -> str:
    """Wait for ``done``: "finished", "timeout", "interrupted" (Ctrl-C), "late" or "held".

    A call Python cannot interrupt (C code such as a long regular expression)
    can hold the interpreter past the deadline: the calling thread wakes up
    only when it returns. "late": the run had ended by itself by then, after
    the deadline; "held": it had not, and the deadline was noticed late while
    the nodes made next to no ``progress`` (a count of what they received and
    sent; the held call's own batch may end in it): a busy machine that runs
    the nodes but wakes this thread late is no such call. Either way the time
    limit was broken, and is reported.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    seen = progress() if progress is not None else None
    try:
        while not done.wait(TICK):
            if tick is not None:
                tick()
            for observer in observers:
                observer.tick()
            if deadline is not None and time.monotonic() >= deadline:
                held = time.monotonic() - deadline > HELD
                if held and progress is not None and progress() - seen > HELD_PROGRESS:
                    held = False  # the nodes went on meanwhile: no call held them up
                return "held" if held else "timeout"
            if progress is not None:
                seen = progress()
    except KeyboardInterrupt:
        return "interrupted"
    if deadline is not None and done.at is not None and done.at > deadline:
        return "late"
    return "finished"


def stop_anyway(stop: Callable[[], list]) -> list:
    """Call ``stop`` to its end: another Ctrl-C meanwhile cannot cut the stopping short."""
    while True:
        try:
            return stop()
        except KeyboardInterrupt:
            continue  # stopping is what is being done already: finish it, then report


def conclude(run: Run, outcome: str, busy: str, timeout: float | None,
             timeout_text: str | None = None) -> None:
    """Record how ``run`` went, tell the observers, then raise what went wrong."""
    busy += _dropped_text(run.snapshots_dropped)
    if outcome in ("late", "held"):
        timeout_text = timeout_text or _held_text(outcome, timeout, busy)
        outcome = "timeout"
    _record_ending(run, outcome)
    _raise_what_went_wrong(run, outcome, busy, timeout, timeout_text)


def _dropped_text(n: int) -> str:
    """What the error says of ``n`` snapshots dropped as the run was stopped ("" for none)."""
    if not n:
        return ""
    return (" A snapshot was being taken when the run stopped: nodes were stopped before "
            "every one had recorded, so it was incomplete and was not kept (g.snapshots "
            "holds only complete ones)." if n == 1 else
            f" {n} snapshots were being taken when the run stopped: they were incomplete "
            f"and were not kept (g.snapshots holds only complete ones).")


def _held_text(outcome: str, timeout: float, busy: str) -> str:
    """The timeout's text when a call Python cannot interrupt held the run past it ("late", "held")."""
    return (f"The network did not finish within {_seconds(timeout)}: a call that Python cannot "
            f"interrupt (C code, such as a long regular expression or a library call) held "
            f"everything up, and the run "
            + ("ended by itself only after it returned." if outcome == "late" else
               f"was stopped as soon as it returned.{busy}")
            + " Results collected so far are kept. A time limit cannot cut such a call short: "
              "make the call itself quicker.")


def _record_ending(run: Run, outcome: str) -> None:
    """Record how ``run`` ended and give the warnings about it; the observers hear it in any case."""
    try:
        run.outcome = outcome
        with run.snapshot_lock:  # a snapshot not complete when the run ends is not kept
            for rec in run.recordings:
                rec.done.set()
            run.recordings.clear()
        run.failures = [nr.failure for nr in run.nodes.values() if nr.failure is not None
                        and not getattr(nr.failure, "injected", False)]  # a crash fault is no error
        run.unpaired = {name: nr.unpaired for name, nr in run.nodes.items() if nr.unpaired}
        _warn_merges(run)
        if outcome == "finished":
            _warn_dropped_everything(run)
        _warn_sources_used_up(run, warn=outcome == "finished")
        _warn_threads_left(run)
    finally:  # whatever happened, the observers hear that the run ended
        for observer in run.observers:
            observer.finished(run, outcome)


def _raise_what_went_wrong(run: Run, outcome: str, busy: str, timeout: float | None,
                           timeout_text: str | None) -> None:
    """Raise KeyboardInterrupt, NetworkTimeout or NetworkError for a run that did not go well.

    ``busy`` names what was still running; a loop not yet quiet is named too.
    """
    going_round = run.flow.going_round()
    if outcome == "interrupted":
        raise KeyboardInterrupt(
            f"The network was interrupted and stopped.{busy} Results collected so far are kept."
            + _going_round(going_round))
    if outcome == "timeout":
        sources_ended = all(nr.state in ("done", "failed") for nr in run.nodes.values()
                            if nr.kind == "source")
        hint = ("a loop that never goes quiet never ends" if going_round and sources_ended else
                "a source that never returns None never ends")
        text = timeout_text or (
            f"The network did not finish within {_seconds(timeout)}, so it was stopped.{busy} "
            f"Results collected so far are kept. If it is just slow, give a larger timeout; "
            f"{hint}.")
        text += _going_round(going_round)
        err = NetworkTimeout(text + (f"\n{NetworkError(run.failures, other_paths=False)}"
                                     if run.failures else ""))
        err.failures = run.failures
        raise err
    if run.failures:
        discarded = {name: nr.stats.discarded for name, nr in run.nodes.items()
                     if nr.failure in run.failures and nr.stats.discarded}
        failed = {id(f.node) for f in run.failures}
        others = any(not any(id(n) in failed for n in path) for path in run.net.paths())
        raise NetworkError(run.failures, discarded, others) from run.failures[0].exception


def _going_round(loops: list) -> str:
    """' The loop a → b → a still had 3 messages going round: ...' for each loop not yet quiet."""
    return "".join(
        f" The loop {loop.describe()} still had {loop.outstanding} "
        f"message{'s' if loop.outstanding != 1 else ''} going round: a loop ends only once no "
        f"message is left in it." for loop in loops)


def _seconds(t: float) -> str:
    return f"{t:g} second{'' if t == 1 else 's'}"


#: at most this many nodes are named in a timeout message; the others are counted
LISTED = 10


def still_running(run: Run, alive: Callable[[NodeRun], bool] = lambda nr: True) -> str:
    """' Still running: ...' naming the nodes that had not finished, and what they were doing.

    Beyond :data:`LISTED` nodes, those inside their function are named first
    (they are where the time goes) and the rest are counted.
    """
    busy = [nr for nr in run.nodes.values() if nr.state == "busy"]
    waiting = [nr for nr in run.nodes.values() if nr.state == "waiting" and alive(nr)]
    if not busy and not waiting:
        return ""
    shown = set(map(id, (busy + waiting)[:LISTED]))
    parts = [f"{nr.kind} '{nr.name}' (inside its function)" if nr.state == "busy"
             else f"{nr.kind} '{nr.name}' (waiting for messages)"
             for nr in run.nodes.values() if id(nr) in shown]
    more_busy = len(busy) - sum(id(nr) in shown for nr in busy)
    more_waiting = len(waiting) - sum(id(nr) in shown for nr in waiting)
    if more_busy or more_waiting:
        counts = [f"{k} {what}" for k, what in ((more_busy, "inside their function"),
                                                  (more_waiting, "waiting for messages")) if k]
        parts.append(f"and {more_busy + more_waiting} more ({', '.join(counts)})")
    return f" Still running: {', '.join(parts)}."


def _warn_merges(run: Run) -> None:
    """Warn when a MergeSynch could not pair its inputs one to one."""
    for nr in run.nodes.values():
        if nr.kind != "merge_synch":
            continue
        name = nr.name
        for i, rest in nr.unpaired.items():
            warn_student(
                f"merge '{name}': input in_{i} got {len(rest)} more message"
                f"{'s' if len(rest) != 1 else ''} than another input, so "
                f"{'they were' if len(rest) != 1 else 'it was'} never paired: "
                f"{short_repr(rest, 120)}. {'They are' if len(rest) != 1 else 'It is'} kept in "
                f"g.unpaired[{name!r}][{i}].",
                MergeSynchWarning)
        for where, count in _exclusive_drops(run, nr.node):
            warn_student(
                f"merge '{name}': {where} dropped {count} message{'s' if count != 1 else ''} "
                f"on the way into one input but not the others, so after the first drop the "
                f"lists it made may pair messages that do not belong together.",
                MergeSynchWarning)


def _from_installed_package(thread: threading.Thread) -> bool:
    """True if ``thread`` runs code of an installed package (Jupyter's kernel, a library).

    Python does not record which thread started another, so the threads new
    since a run began are told apart by the code they run: a student's
    function (or the standard library's, like ``Event.wait``) is theirs; a
    package's (ipykernel's subshells, say) belongs to the machinery around.
    """
    fn = getattr(thread, "_target", None) or type(thread).run
    fn = getattr(fn, "__func__", fn)
    module = sys.modules.get(getattr(fn, "__module__", None) or "")
    path = getattr(module, "__file__", None) or ""
    return any(path.startswith(p) for p in _PACKAGE_DIRS)


_PACKAGE_DIRS = tuple({sysconfig.get_paths()[k] for k in ("purelib", "platlib")})


def _warn_threads_left(run: Run) -> None:
    """Warn when threads started during the run by node functions are still running."""
    left = [t for t in threading.enumerate() if t not in run.threads_before and t.is_alive()
            and not t.name.startswith("dissyslab ")  # the runtime's own threads are named so
            and not _from_installed_package(t)]
    if not left:
        return
    names = ", ".join(repr(t.name) for t in left[:5]) + (
        f" and {len(left) - 5} more" if len(left) > 5 else "")
    daemon = any(t.daemon for t in left)
    warn_student(
        f"{'A thread' if len(left) == 1 else 'Threads'} started during the run (by a node's "
        f"function) {'is' if len(left) == 1 else 'are'} still running: {names}. The run has "
        f"ended without waiting for {'it' if len(left) == 1 else 'them'}, so what "
        f"{'it does' if len(left) == 1 else 'they do'} is not part of its results"
        + ("; and a thread started from a node's thread is a daemon thread, which Python "
           "stops without waiting when the program ends, losing any work not yet done"
           if daemon else "")
        + ". Do the work in the node's function itself, or call .join() on the thread before "
          "the function returns.",
        ThreadStillRunningWarning)


#: a transform that drops at least this many messages, and all of them, is named after the run
DROPPED_EVERYTHING = 10
#: methods of list, dict, set... that change their object and return None
_NONE_METHODS = {"append", "extend", "insert", "update", "add", "discard", "remove", "clear",
                 "sort", "reverse", "appendleft", "extendleft"}


def _always_none(fn) -> bool:
    """True for ``print``, ``list.append``, ``results.append``, ``dict.update``...: they return None."""
    if fn is print:
        return True
    owner = getattr(fn, "__objclass__", None) or type(getattr(fn, "__self__", None))
    return (type(fn).__name__ in ("builtin_function_or_method", "method_descriptor")
            and getattr(fn, "__name__", None) in _NONE_METHODS
            and owner in (list, dict, set, bytearray, deque))


def _warn_dropped_everything(run: Run) -> None:
    """Warn, one line per node, when a transform dropped every one of many messages.

    "Many" is :data:`DROPPED_EVERYTHING`, or just one for a function that always
    returns None (``print``, ``list.append``...).
    """
    for nr in run.nodes.values():
        got = nr.stats.received
        least = 1 if _always_none(nr.node.fn) else DROPPED_EVERYTHING
        if nr.kind == "transform" and nr.failure is None and got >= least and (
                nr.stats.dropped == got):
            warn_student(
                f"transform '{nr.name}' dropped all {got} messages it received: its function "
                f"returned None every time, and a transform passes on only what its function "
                f"returns (None means 'drop this message'). If it should pass messages on, "
                f"make it return the message; if it only uses them (print, saving), make it a Sink.",
                DroppedEverythingWarning)


#: how many messages each source sent the last time it ran (in any network), for
#: :func:`_warn_sources_used_up`; the nodes themselves are never changed by a run
_sent_last_time: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _warn_sources_used_up(run: Run, warn: bool) -> None:
    """Warn when a source sent nothing, although it sent messages the last time it ran.

    A function that takes its items from an iterator or a generator
    (``Source(fn=lambda: next(it, None))``) can go through them once only: its
    second run sends nothing, and without this warning the results are just empty.
    A ListSource starts again at every run, so it is never the cause.
    """
    for nr in run.nodes.values():
        if nr.kind != "source":
            continue
        before = _sent_last_time.get(nr.node)
        _sent_last_time[nr.node] = nr.stats.sent
        if (not warn or nr.stats.sent or not before or nr.failure is not None
                or isinstance(getattr(nr.node.fn, "__self__", None), ListSource)):
            continue
        warn_student(
            f"source '{nr.name}' sent nothing in this run, although it sent {before} "
            f"message{'s' if before != 1 else ''} the last time it ran. Its function probably "
            f"takes its items from an iterator or a generator, and those can be gone through "
            f"only once: the earlier run used it up. Make the iterator again before each run, or "
            f"use ListSource(items=...), which starts again from the first item at every run.",
            SourceUsedUpWarning)


def _exclusive_drops(run: Run, merge):
    """(where, count) for each filter upstream of only some of ``merge``'s inputs that dropped."""
    edges = run.net.edges

    def outputs_above(port):
        found, todo = set(), [e for e in edges if e.dst is merge and e.dst_port == port]
        while todo:
            e = todo.pop()
            output = (run.net.name_of(e.src), e.src_port)
            if output not in found:
                found.add(output)
                todo.extend(x for x in edges if x.dst is e.src)
        return found

    above = [outputs_above(i) for i in range(merge.num_inputs)]
    shared = set.intersection(*above)
    out = []
    for name, port in sorted(set.union(*above) - shared, key=lambda p: (p[0], p[1] or 0)):
        nr = run.nodes[name]
        count = nr.skipped[port] if port is not None else nr.stats.dropped
        if count and nr.kind != "merge_synch":
            where = f"{nr.kind} '{name}'" + ("" if port is None else f" (output out_{port})")
            out.append((where, count))
    return out


@atexit.register
def _let_the_process_exit() -> None:
    """Keep a node stuck reading standard input from making the interpreter abort at exit.

    A node thread still inside ``input()`` (or another read of ``sys.stdin``)
    holds the lock of stdin's buffer; closing stdin at exit would wait for
    that lock and abort the interpreter ("Fatal Python error:
    _enter_buffered_busy"). When such a thread is left, stdin is simply never
    closed: the process then ends as it should, with its own exit code.
    """
    if not any(t.name.startswith("dissyslab ") and t.is_alive() for t in threading.enumerate()):
        return
    for stream in {id(x): x for x in (sys.stdin, sys.__stdin__) if x is not None}.values():
        for obj in (stream, getattr(stream, "buffer", None)):
            if obj is not None:
                ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))
