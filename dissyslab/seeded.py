"""Seeded runs: the same seed gives the same interleaving of every message, every time.

``g.run_network(seed=N)`` runs the network one step at a time instead of in
free threads, following the model of ``stepping.py``: each edge into a node
has its own FIFO queue, and a step is a source producing one message, or a
node taking the message at the head of one of its non-empty edge queues and
handling it. All node functions are called, one at a time, by a single
scheduler thread. Wherever more than one step is possible, a
``random.Random(N)`` picks one of them. So the order of events depends on N
alone: not on thread timing, hashing or the machine. The exhaustive search
(``exhaustive.py``) runs the same engine and tries every choice instead.

Every seeded run follows the rules a threaded run follows: each edge keeps
its order, a node handles its messages one at a time, fanout gives the first
receiver the original and every other receiver a copy made before anyone
sees it, and filters, Split ports, MergeSynch pairing, failures,
``g.stats``, ``g.edge_counts``, ``g.state``, ``g.failures``, ``g.unpaired``,
warnings and errors are exactly those of the threaded runtime. Every order a
threaded run gives at a node with several edges into it (a fanin, a Split's
two ports into one sink) is one a seed can give. ``capacity``, the lifting of
a full MergeSynch input, loops and the end of the stream are the flow's rules
(``flow.py``), as in every scheduler. A run that takes more than
:data:`MAX_STEPS` steps is stopped, as a timeout.

Time (``vclock.py``): a seeded run is a discrete-event simulation with one
virtual clock. Steps take no time. A node function that sleeps (as
``time.sleep(...)``, or as ``sleep(...)`` after ``from time import sleep`` in
the module that defines the function) does not wait: its step ends that many
virtual seconds later, and until then the node is asleep (not ready) and
what the step made is not yet handed on. A Timer's ticks, a node's
``timeout=`` and a message held up by a ``delay`` fault are events on the same
clock. When no node is ready, the clock jumps to the earliest event, and the
seed chooses among the steps possible at that instant. So a run never really
waits, and the same seed gives the same schedule and the same times
(``run.clock`` is the time the run ended at; a traced run's ``at`` column).
The clock times messages, not everything a function does: a function runs
at once, so what it changes in shared state after a sleep is changed when
its step starts (still an order a threaded run could show, if its thread
were slow to get there).
Other threads keep the real ``time.sleep``, and the original is restored when
the run ends, even on error. ``paced(s)`` is ``s`` as written inside a seeded
run (virtual time has no pace). A function that blocks on something else (a
lock, input, the network) blocks the run; ``timeout=`` still ends it.

Snapshots: ``snapshot_at=k`` starts one after step ``k`` (``snapshots.py``).
Its markers are passed on between steps, at once and in the fixed order of
the nodes, and draw nothing from the seed's random numbers: a run with
snapshots takes exactly the steps of the same run without.

``g.explore(runs=K)`` (``explore.py``) runs the network under many seeds and
reports the distinct outcomes at each sink, with a seed that reproduces each.
"""

from __future__ import annotations

import operator
import random
import threading
import time
from functools import partial
from typing import TYPE_CHECKING, Any, Iterable

from .errors import short_repr
from .running import Run, execute, still_running
from .stepping import Stepper
from .vclock import running

if TYPE_CHECKING:
    from .observers import Observer
    from .shapes import Graph

#: most steps a seeded run may take before it is stopped (an endless source never ends)
MAX_STEPS = 1_000_000


# --- virtual sleeps ----------------------------------------------------------
_real_sleep = time.sleep
_patch_lock = threading.Lock()
_patched = []  # (globals dict, name) rebound to the virtual sleep
_users = 0


def _sleep(seconds):
    """``time.sleep`` while a seeded run is going: virtual on its scheduler thread, real elsewhere."""
    clock = running()  # the clock of the run this thread steps, if any
    if clock is None:
        return _real_sleep(seconds)
    if isinstance(seconds, (str, bytes, bytearray)):
        raise TypeError(f"'{type(seconds).__name__}' object cannot be interpreted as an integer")
    seconds = float(seconds)
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    clock.sleep(seconds)  # the step ends that much later
    return None


def _function_globals(fn):
    """The module namespace a node function looks names up in, if it has one."""
    while isinstance(fn, partial):
        fn = fn.func
    fn = getattr(fn, "__func__", fn)
    g = getattr(fn, "__globals__", None)
    if g is None and not isinstance(fn, type):
        # the globals of a callable object's __call__ method (not a test for callable)
        g = getattr(getattr(type(fn), "__call__", None), "__globals__", None)  # noqa: B004
    return g


class _virtual_sleeps:
    """Make ``time.sleep`` virtual on scheduler threads for the length of a ``with`` block."""

    def __init__(self, net):
        self.namespaces = [g for g in (_function_globals(n.fn) for n in net.nodes) if g is not None]

    def __enter__(self):
        global _users
        with _patch_lock:
            if _users == 0:
                time.sleep = _sleep
            _users += 1
            for g in self.namespaces:
                for name, value in list(g.items()):
                    if value is _real_sleep:
                        g[name] = _sleep
                        _patched.append((g, name))
        return self

    def __exit__(self, *exc):
        global _users
        with _patch_lock:
            _users -= 1
            if _users == 0:
                if time.sleep is _sleep:
                    time.sleep = _real_sleep
                for g, name in _patched:
                    if g.get(name) is _sleep:
                        g[name] = _real_sleep
                _patched.clear()
        return False


# --- the seeded scheduler: the seed chooses each step --------------------------------
class Scheduler(Stepper):
    """One seeded run: where several steps are possible, ``random.Random(seed)`` picks one.

    The steps and the rules are the model's (``stepping.py``): a source's step
    is ``produce(1)``; any other node's is ``take`` of the message at the head
    of one of its non-empty edge queues. ``run.steps`` counts the steps,
    ``run.clock`` is the virtual time (``vclock.py``).
    """

    thread_name = "dissyslab seeded run"

    def __init__(self, run: Run, capacity: int | None, max_steps: int = MAX_STEPS,
                 record_sinks: bool = False, snapshot_at: Iterable[int] = ()) -> None:
        super().__init__(run, capacity, max_steps, record_sinks=record_sinks,
                         snapshot_at=snapshot_at)
        self.rng = random.Random(run.seed)

    def choose(self, alternatives: list) -> tuple:
        return alternatives[self.rng.randrange(len(alternatives))]

    def _loop(self):
        super()._loop()  # (its node functions' sleeps are virtual: the clock is entered)
        if self.deadlocked and not self.stopping:  # the flow's rules should make it impossible
            left = [w.nr.name for w in self.order if not w.finished]
            raise RuntimeError(
                f"DisSysLab's seeded scheduler found no node able to go on, although "
                f"{', '.join(left)} had not ended. This is a bug in DisSysLab: please report "
                f"it with the network that shows it.")

    def bound_text(self) -> str:
        """A run out of steps is a timeout."""
        run = self.run
        busy = still_running(run, alive=self.alive)
        return (f"The seeded run (seed {run.seed}) took {run.steps:,} steps without finishing, so "
                f"it was stopped.{busy} Results collected so far are kept. A source that never "
                f"returns None never ends; if the run is just long, raise the limit "
                f"(dissyslab.seeded.MAX_STEPS, or max_steps= of explore).")


def check_seed(seed: Any) -> int:
    """The seed as an int (numpy integers are fine), or a clear error."""
    try:
        if isinstance(seed, bool):
            raise TypeError
        return operator.index(seed)
    except TypeError:
        raise TypeError(
            f"seed must be a whole number, like seed=7 (each number gives its own order of "
            f"events, the same every time), but got {short_repr(seed)} (a {type(seed).__name__})."
        ) from None


def run_seeded(net: Graph, seed: int, timeout: float | None = None, capacity: int | None = None,
               observers: Iterable[Observer] = (), *, max_steps: int | None = None,
               record_sinks: bool = False, snapshot_at: Iterable[int] = (), resume=None,
               faults=None) -> Run:
    """Run ``net`` under the scheduler decided by ``seed`` (see the module docstring).

    Raises what a threaded run raises: :class:`NetworkError` after the run if
    nodes failed, :class:`NetworkTimeout` after ``timeout`` seconds, and also
    (naming the limit) after ``max_steps`` steps (default :data:`MAX_STEPS`),
    so an endless source cannot run for ever. Returns the :class:`~dissyslab.running.Run`.
    """
    seed = check_seed(seed)
    if max_steps is None:
        max_steps = MAX_STEPS
    elif isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a whole number of at least 1, but got {max_steps!r}.")

    def make(run, capacity):
        s = Scheduler(run, capacity, max_steps, record_sinks, snapshot_at)
        run.received = s.received
        return s

    with _virtual_sleeps(net):
        return execute(net, make, timeout, capacity, observers, seed=seed, resume=resume,
                       faults=faults,
                       stuck_text="{kind} '{name}' was still inside its function when the seeded "
                                  "run stopped. Its call ends as soon as it returns (it may be "
                                  "waiting for something that never comes: input, a lock, the "
                                  "network).")


