"""Seeded runs: the same seed gives the same interleaving of every message, every time.

``g.run_network(seed=N)`` runs the network under a scheduler instead of free
threads. All node functions are called, one at a time, by a single scheduler
thread. At each step a ``random.Random(N)`` picks one node among those that
can make progress (a source that has not ended, a node with a message
waiting and room downstream), and that node does one thing: a source produces
one message, a node handles the oldest message waiting for it. So the order
of events depends on N alone: not on thread timing, hashing or the machine.

Every seeded run is one a threaded run could produce: each edge keeps its
order, a node handles its messages one at a time in arrival order, fanout
gives the first receiver the original and every other receiver a copy made
before anyone sees it, and filters, Split ports, MergeSynch pairing,
failures, ``g.stats``, ``g.edge_counts``, ``g.state``, ``g.failures``,
``g.unpaired``, warnings and errors are exactly those of the threaded runtime.

Sleeping: during a seeded run, ``time.sleep`` called by a node function (as
``time.sleep(...)``, or as ``sleep(...)`` after ``from time import sleep`` in
the module that defines the function) does not wait; it adds to a virtual
clock (``run.clock``) instead. A slow function therefore neither stalls the
run nor changes its result: the schedule depends on the seed only. Other
threads keep the real ``time.sleep``, and the original is restored when the
run ends, even on error. A function that blocks on something else (a lock,
input, the network) blocks the run; ``timeout=`` still ends it.

Snapshots: ``snapshot_at=k`` starts one after step ``k`` (``snapshots.py``).
Its markers are passed on between steps, at once and in the fixed order of
the nodes, and draw nothing from the seed's random numbers: a run with
snapshots takes exactly the steps of the same run without.

``g.explore(runs=K)`` runs the network under many seeds and reports the
distinct outcomes at each sink, with a seed that reproduces each.
"""

from __future__ import annotations

import math
import operator
import random
import threading
import time
import warnings
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from .copying import copy_to_keep
from .errors import (
    NetworkError,
    NetworkTimeout,
    NodeStillRunningWarning,
    SourceUsedUpWarning,
    short_repr,
)
from .running import (
    Finished,
    Run,
    begin,
    check_arguments,
    conclude,
    still_running,
    stop_anyway,
    wait,
)
from .semantics import Stop
from .snapshots import Marker, SnapshotWarning, start
from .threads import STOP_GRACE, raise_in_thread

if TYPE_CHECKING:
    from .graph import Network
    from .observers import Observer
    from .semantics import NodeRun

#: most steps a seeded run may take before it is stopped (an endless source never ends)
MAX_STEPS = 1_000_000


# --- virtual sleeps ----------------------------------------------------------
_real_sleep = time.sleep
_patch_lock = threading.Lock()
_scheduling = {}  # ident of a scheduler thread -> its run
_patched = []  # (globals dict, name) rebound to the virtual sleep
_users = 0


def _sleep(seconds):
    """``time.sleep`` while a seeded run is going: virtual on its scheduler thread, real elsewhere."""
    run = _scheduling.get(threading.get_ident())
    if run is None:
        return _real_sleep(seconds)
    if isinstance(seconds, (str, bytes, bytearray)):
        raise TypeError(f"'{type(seconds).__name__}' object cannot be interpreted as an integer")
    seconds = float(seconds)
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    run.clock += seconds
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


# --- the scheduler -------------------------------------------------------------
class _Inbox:
    """Messages waiting at one input of one node, as (edge, message) in arrival order."""

    __slots__ = ("owner", "port", "queue", "senders", "capacity", "size", "owed")

    def __init__(self, owner, port, senders, capacity):
        self.owner = owner
        self.port = port
        self.queue = deque()
        self.senders = senders  # edges into this input whose sender has not finished
        self.capacity = capacity
        self.size = 0  # messages waiting that count against the capacity (not feedback ones)
        self.owed = 0  # a MergeSynch's: of those, how many it took but has not paired yet


class _Place:
    """Where one node stands in a seeded run: its inboxes, where it sends, whether it has ended."""

    def __init__(self, node_run):
        self.nr = node_run
        self.finished = False
        self.inboxes = []
        self.outputs = [[] for _ in node_run.outs]  # per output port: [(edge, inbox)]
        self.bounded = []  # inboxes downstream that have a capacity

    def ready(self):
        """Can this node do something now?"""
        if self.finished:
            return False
        inboxes = self.inboxes
        if inboxes:
            if len(inboxes) == 1:
                if not inboxes[0].queue:
                    return False
            elif not any(ib.queue for ib in inboxes):
                return False
        for ib in self.bounded:  # a full receiver makes its senders wait, as in a threaded run
            if ib.size >= ib.capacity and ib.owner.nr.failure is None:
                return False
        return True

    def idle(self):
        """Every input has ended and nothing waits: the node can end."""
        return all(ib.senders == 0 and not ib.queue for ib in self.inboxes)


class Scheduler:
    """One seeded run: picks, step after step, one node that can make progress.

    A step of a source is ``produce(1)``; a step of any other node is
    ``take`` of the oldest message waiting at one of its inputs (a MergeSynch
    takes from the input with the fewest messages waiting to be paired).
    ``run.steps`` counts the steps, ``run.clock`` the seconds node functions
    asked to sleep.
    """

    def __init__(self, run: Run, capacity: int, max_steps: int = MAX_STEPS,
                 record_sinks: bool = False, snapshot_at: Iterable[int] = ()) -> None:
        self.run = run
        self.snapshot_at = deque(snapshot_at)  # steps after which a snapshot starts
        self.rng = random.Random(run.seed)
        self.max_steps = max_steps
        self.places = {name: _Place(nr) for name, nr in run.nodes.items()}
        self.order = list(self.places.values())
        self.received = {run.net.name_of(n): [] for n in run.net.sinks} if record_sinks else None
        self.current = None  # the node inside its function, if any
        self.stopping = False
        self.out_of_steps = False
        self.error = None
        self.done = Finished()
        self.thread = threading.Thread(target=self._main, name="dissyslab seeded run", daemon=True)
        net, inbox_of = run.net, {}
        for w in self.order:
            node = w.nr.node
            if node.kind == "source":
                continue
            for port in range(node.num_inputs or 1):
                edges_in = [e for e in net.edges if e.dst is node and (e.dst_port or 0) == port]
                ib = _Inbox(w, port, len(edges_in), capacity)  # a MergeSynch: one per input
                w.inboxes.append(ib)
                for e in edges_in:
                    inbox_of[e] = ib
        self.feedback = set(net.feedback_edges)  # they close a loop: never bounded (threads.py)
        self.loop_of_edge = run.loop_of_edge
        for w in self.order:
            for port, edges in enumerate(w.nr.outs):
                for e in edges:
                    ib = inbox_of[e]
                    w.outputs[port].append((e, ib))
                    if ib.capacity is not None and e not in self.feedback and ib not in w.bounded:
                        w.bounded.append(ib)
        self.inbox_of = inbox_of
        for edge, batch in run.resend:  # resume=: what was in flight waits first
            ib = inbox_of[edge]
            ib.queue.extend((edge, m) for m in batch)
            if edge not in self.feedback:
                ib.size += len(batch)

    # --- the scheduler thread ---------------------------------------------------
    def _main(self):
        _scheduling[threading.get_ident()] = self.run
        try:
            self._loop()
            left = [w.nr.name for w in self.order if not w.finished]
            if left and not (self.stopping or self.out_of_steps):
                raise RuntimeError(  # the rules above should make this impossible: say so loudly
                    f"DisSysLab's seeded scheduler found no node able to go on, although "
                    f"{', '.join(left)} had not ended. This is a bug in DisSysLab: please report "
                    f"it with the network that shows it.")
        except Stop:
            pass
        except BaseException as exc:  # a fault of the scheduler itself: reported by the caller
            self.error = exc
        finally:
            _scheduling.pop(threading.get_ident(), None)
            self.done.set()

    def _loop(self):
        order, rng, run = self.order, self.rng, self.run
        self._finish(deque(w for w in order if w.nr.exhausted))  # resume=: sources that had ended
        recordings, snapshot_at = run.recordings, self.snapshot_at
        while not self.stopping:
            if snapshot_at and run.steps >= snapshot_at[0]:
                snapshot_at.popleft()
                self._start_snapshot()
            if recordings:
                self._pass_markers()
            ready = [w for w in order if w.ready()]
            if not ready and self._unblock_merges():
                continue
            if not ready:
                return
            if run.steps >= self.max_steps:
                self.out_of_steps = True
                return
            w = ready[rng.randrange(len(ready))] if len(ready) > 1 else ready[0]
            run.steps += 1
            edge = None
            try:
                edge = self._step(w)
            except Stop:
                raise
            except BaseException as exc:  # outside the node's function (an observer, say)
                if w.finished:
                    raise
                w.nr.fail(exc, None, False, "stopped unexpectedly")
            self._after(w, edge)

    def _step(self, w):
        """One step of ``w``; returns the edge of the message it took (None for a source)."""
        nr = w.nr
        if nr.kind == "source":
            nr.state = "busy"  # as in a threaded run, a source is busy from start to end
            self.current = nr
            nr.produce(1)
            self.current = None
            return None
        if nr.kind == "merge_synch":  # the input with the fewest messages waiting to be paired
            ib = min((ib for ib in w.inboxes if ib.queue), key=lambda ib: len(nr.buffers[ib.port]))
        else:
            ib = w.inboxes[0]
        edge, msg = ib.queue.popleft()
        merge = nr.kind == "merge_synch"
        if edge not in self.feedback:
            if merge:  # its room is given back once it is paired
                ib.owed += 1
            else:
                ib.size -= 1
        for rec in self.run.recordings:
            rec.took(nr, edge, [msg])
        if self.received is not None and nr.kind == "sink":
            self.received[nr.name].append(copy_to_keep(msg))
        nr.state = "busy"
        self.current = nr
        paired = nr.paired
        nr.take(ib.port, edge, [msg])
        self.current = None
        if merge:
            paired = nr.paired - paired
            for other in w.inboxes:  # a pair takes one message from every input
                k = other.owed if nr.failure is not None else min(other.owed, paired)
                other.owed -= k
                other.size -= k
        if nr.failure is None:
            nr.state = "waiting"
        return edge

    def _unblock_merges(self):
        """No node can go on: lift the bound of the full MergeSynch inputs that senders wait for.

        As in a threaded run (``Threads.tick``): the paths into a MergeSynch
        deliver different numbers of messages, and the fork feeding them waits
        for the full input. True if a bound was lifted.
        """
        lifted = False
        for w in self.order:
            if w.finished:
                continue
            for ib in w.bounded:
                if (ib.owner.nr.kind == "merge_synch" and ib.size >= ib.capacity
                        and ib.owner.nr.failure is None):
                    ib.capacity = math.inf
                    lifted = True
        return lifted

    def _after(self, w, taken):
        """Hand on what the step made; end the node if it failed or has nothing left to do.

        ``taken`` is the edge of the message the step took. In a loop, what the
        step sent is counted before that message counts as handled (termination.py).
        """
        nr, loops, todo = w.nr, self.loop_of_edge, deque()
        for port, items in enumerate(nr.out):
            if items:
                nr.out[port] = []
                for (edge, ib), batch in zip(w.outputs[port], nr.hand_over(port, items), strict=True):
                    loop = loops.get(edge)
                    if loop is not None:
                        loop.sent(len(batch))
                    for m in batch:
                        self._deliver(edge, ib, m, todo)
        loop = loops.get(taken)
        if loop is not None and loop.handled(1):
            self._close(loop, todo)
        if nr.failure is not None and not w.finished:
            for ib in w.inboxes:  # what waits for it is counted and thrown away
                waiting, ib.size, ib.owed = list(ib.queue), 0, 0
                ib.queue.clear()
                for edge, m in waiting:
                    if m.__class__ is not Marker:  # it records as it ends (snapshots.py)
                        self._discard(nr, ib, edge, m, todo)
            todo.append(w)
        elif nr.exhausted or (w.inboxes and w.idle()):
            todo.append(w)
        self._finish(todo)

    def _deliver(self, edge, ib, m, todo):
        if ib.owner.nr.failure is not None:
            self._discard(ib.owner.nr, ib, edge, m, todo)
        else:
            ib.queue.append((edge, m))
            if edge not in self.feedback:
                ib.size += 1

    def _discard(self, nr, ib, edge, m, todo):
        """``m`` reached a node that has failed: it is counted and thrown away."""
        nr.take(ib.port, edge, [m])
        loop = self.loop_of_edge.get(edge)
        if loop is not None and loop.handled(1):
            self._close(loop, todo)

    def _close(self, loop, todo):
        """A loop has gone quiet: every edge round it ends, and its nodes with nothing left end."""
        for edge in loop.inside:
            self.inbox_of[edge].senders -= 1
        for w in self.order:
            if w.nr.node in loop.nodes and not w.finished and w.idle():
                todo.append(w)

    def _finish(self, todo):
        """The nodes in ``todo`` have ended: tell their receivers, and end those with nothing left."""
        loops = self.loop_of_edge
        while todo:
            x = todo.popleft()
            if x.finished:
                continue
            x.finished = True
            x.nr.end()
            for rec in tuple(self.run.recordings):  # snapshots being taken record it now
                if rec.ended(x.nr):
                    self._send_markers(x, rec)
            for outs in x.outputs:
                for edge, ib in outs:
                    loop = loops.get(edge)
                    if loop is not None and edge in loop.inside:
                        continue  # an edge round a loop ends when the loop goes quiet
                    ib.senders -= 1
                    if loop is not None and loop.sender_ended():
                        self._close(loop, todo)
                    y = ib.owner
                    if not y.finished and y.idle():
                        todo.append(y)

    # --- snapshots (snapshots.py): markers pass between steps, drawing no random number ---
    def _start_snapshot(self):
        rec = start(self.run)
        for w in self.order:
            if w.finished:
                if rec.ended(w.nr):
                    self._send_markers(w, rec)
            elif w.nr.kind == "source" and rec.record(w.nr):
                self._send_markers(w, rec)

    def _send_markers(self, w, rec):
        """``w`` has recorded its state: a marker goes behind everything it sent on every edge."""
        for outs in w.outputs:
            for edge, ib in outs:
                if not ib.owner.finished:
                    ib.queue.append((edge, rec.token))

    def _pass_markers(self):
        """Every marker at the head of an inbox is taken now, until none is left there."""
        moved = True
        while moved:
            moved = False
            for w in self.order:
                for ib in w.inboxes:
                    queue = ib.queue
                    while queue and queue[0][1].__class__ is Marker and not w.finished:
                        edge, marker = queue.popleft()
                        moved = True
                        if marker.recording.marker(w.nr, edge):
                            self._send_markers(w, marker.recording)
            idle = deque(w for w in self.order if not w.finished and w.inboxes and w.idle())
            if idle:  # a marker was all that kept it from ending
                self._finish(idle)
                moved = True

    # --- seen from the calling thread -----------------------------------------------
    def stop(self) -> list[NodeRun]:
        """Stop the scheduler; interrupt the node function it is inside if it does not return."""
        self.stopping = True
        deadline = time.monotonic() + STOP_GRACE
        while self.thread.is_alive() and time.monotonic() < deadline:
            self.thread.join(0.05)
            if self.thread.is_alive() and self.current is not None:
                raise_in_thread(self.thread, Stop)
        if self.thread.is_alive():
            return [self.current] if self.current is not None else []
        return []

    def settle(self, stuck: list[NodeRun]) -> None:
        """Nodes that had not finished when the run was stopped are 'stopped'."""
        for w in self.order:
            if not w.finished and w.nr not in stuck:
                w.nr.stop()


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


def run_seeded(net: Network, seed: int, timeout: float | None = None, capacity: int | None = None,
               observers: Iterable[Observer] = (), *, max_steps: int | None = None,
               record_sinks: bool = False, snapshot_at: Iterable[int] = (), resume=None) -> Run:
    """Run ``net`` under the scheduler decided by ``seed`` (see the module docstring).

    Raises what a threaded run raises: :class:`NetworkError` after the run if
    nodes failed, :class:`NetworkTimeout` after ``timeout`` seconds, and also
    (naming the limit) after ``max_steps`` steps (default :data:`MAX_STEPS`),
    so an endless source cannot run for ever. Returns the :class:`~dissyslab.running.Run`.
    """
    seed = check_seed(seed)
    capacity = check_arguments(timeout, capacity)
    if max_steps is None:
        max_steps = MAX_STEPS
    elif isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a whole number of at least 1, but got {max_steps!r}.")
    begin(net)
    outcome, busy, stuck = "finished", "", []
    try:
        r = Run(net, observers, seed=seed, resume=resume)
        net.last_run = r
        s = Scheduler(r, capacity, max_steps, record_sinks, snapshot_at)
        r.received = s.received
        for observer in r.observers:
            observer.started(r)
        with _virtual_sleeps(net):
            s.thread.start()
            outcome = wait(s.done, r.observers, timeout)
            if outcome in ("timeout", "interrupted", "held"):
                busy = _still_running(s)
                stuck = stop_anyway(s.stop)
    finally:
        net._running = False
    if s.out_of_steps and outcome == "finished":
        outcome, busy = "timeout", _still_running(s)
        steps_text = (
            f"The seeded run (seed {seed}) took {r.steps:,} steps without finishing, so "
            f"it was stopped.{busy} Results collected so far are kept. A source that never "
            f"returns None never ends; if the run is just long, raise the limit "
            f"(dissyslab.seeded.MAX_STEPS, or max_steps= of explore).")
    else:
        steps_text = None
    s.settle(stuck)
    if s.error is not None:
        raise s.error
    if s.snapshot_at and outcome == "finished":
        steps = ", ".join(str(k) for k in s.snapshot_at)
        warnings.warn(f"The run ended after {r.steps} steps, so no snapshot was taken at step"
                      f"{'s' if len(s.snapshot_at) > 1 else ''} {steps}: snapshot_at counts the steps of "
                      f"this run (g.last_run.steps).",
                      SnapshotWarning, stacklevel=3)
    if stuck:
        warnings.warn(
            f"{stuck[0].kind} '{stuck[0].name}' was still inside its function when the "
            f"seeded run stopped. Its call ends as soon as it returns (it may be waiting for "
            f"something that never comes: input, a lock, the network).",
            NodeStillRunningWarning, stacklevel=3)
    conclude(r, outcome, busy, timeout, steps_text)
    return r


def _still_running(s):
    finished = {w.nr.name for w in s.order if w.finished}
    return still_running(s.run, alive=lambda nr: nr.name not in finished)


# --- exploring many seeds ------------------------------------------------------
@dataclass
class Outcome:
    """One distinct result at one sink: what it received, in order, and which seeds gave it."""

    received: list
    seeds: list = field(default_factory=list)

    @property
    def seed(self) -> int:
        """A seed that reproduces this outcome: ``g.run_network(seed=outcome.seed)``."""
        return self.seeds[0]

    @property
    def count(self) -> int:
        """How many of the explored runs gave this outcome."""
        return len(self.seeds)


class Exploration:
    """The distinct outcomes of many seeded runs, sink by sink (made by ``g.explore``).

    ``ex["collector"]`` is the list of :class:`Outcome` for sink "collector",
    the most frequent first (ties: the one seen first). ``ex.failures`` maps
    each error summary to the seeds that raised it. ``print(ex)`` gives a
    readable summary; it is the same for the same network and seeds.
    """

    def __init__(self, seeds: Iterable[int], outcomes: dict[str, list[Outcome]],
                 failures: dict[str, list[int]], show: int = 10) -> None:
        self.seeds = list(seeds)
        self.outcomes = outcomes  # sink name -> [Outcome]
        self.failures = failures  # summary -> [seed]
        self.show = show

    @property
    def sinks(self) -> list[str]:
        return list(self.outcomes)

    def __getitem__(self, sink: Any) -> list[Outcome]:
        name = getattr(sink, "name", sink)
        try:
            return self.outcomes[name]
        except KeyError:
            raise KeyError(f"there is no sink named {name!r}; the sinks are: "
                           f"{', '.join(self.outcomes) or 'none'}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.outcomes)

    def seed_for(self, sink: Any, received: Iterable) -> int | None:
        """A seed under which ``sink`` received exactly ``received``, or None if none did."""
        for outcome in self[sink]:
            if outcome.received == list(received):
                return outcome.seed
        return None

    def _what(self, outcomes):
        """'orders' when every outcome holds the same messages, else 'outcomes'."""
        contents = {tuple(sorted(repr(m) for m in o.received)) for o in outcomes}
        return "orders" if len(contents) == 1 else "outcomes"

    def _seed_text(self):
        s = self.seeds
        n = len(s)
        if n > 2 and s == list(range(s[0], s[0] + n)):
            return f"{n} seeded runs (seeds {s[0]} to {s[-1]})"
        shown = ", ".join(str(x) for x in s[:8]) + (", ..." if n > 8 else "")
        return f"{n} seeded run{'s' if n != 1 else ''} (seed{'s' if n != 1 else ''} {shown})"

    def text(self, show: int | None = None, width: int = 100) -> str:
        """The summary as text: per sink, the distinct outcomes (at most ``show``), each with a seed."""
        show = self.show if show is None else show
        n = len(self.seeds)
        lines = [self._seed_text()]
        for name, outcomes in self.outcomes.items():
            if len(outcomes) == 1:
                lines.append(f"{name}: the same every time: {short_repr(outcomes[0].received, width)}")
                continue
            lines.append(f"{name}: {len(outcomes)} different {self._what(outcomes)}")
            for o in outcomes[:show]:
                lines.append(f"  seed {o.seed:<4} gives {short_repr(o.received, width)}  "
                             f"({o.count} of {n} runs)")
            if len(outcomes) > show:
                lines.append(f"  ... and {len(outcomes) - show} more (all are in ex[{name!r}])")
        for summary, seeds in self.failures.items():
            lines.append(f"{len(seeds)} of {n} runs failed (first with seed {seeds[0]}): {summary}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self):
        from html import escape

        n = len(self.seeds)
        parts = [f"<div class='dissyslab-explore'><p><b>{escape(self._seed_text())}</b></p>"]
        for name, outcomes in self.outcomes.items():
            what = "the same every time" if len(outcomes) == 1 else \
                f"{len(outcomes)} different {self._what(outcomes)}"
            parts.append(f"<p><b>{escape(name)}</b>: {what}</p><table><tr><th>seed</th>"
                         f"<th>runs</th><th style='text-align:left'>received</th></tr>")
            for o in outcomes[:self.show]:
                parts.append(f"<tr><td>{o.seed}</td><td>{o.count} of {n}</td><td style='text-align:"
                             f"left'><code>{escape(short_repr(o.received, 160))}</code></td></tr>")
            parts.append("</table>")
            if len(outcomes) > self.show:
                parts.append(f"<p>... and {len(outcomes) - self.show} more "
                             f"(all are in <code>ex[{escape(repr(name))}]</code>)</p>")
        for summary, seeds in self.failures.items():
            parts.append(f"<p>{len(seeds)} of {n} runs failed (first with seed {seeds[0]}): "
                         f"<code>{escape(summary)}</code></p>")
        parts.append("</div>")
        return "".join(parts)


def _freeze(value):
    """A hashable stand-in for a message, equal for equal messages (to group outcomes)."""
    t = type(value)
    if t in (list, tuple):
        return (t.__name__, tuple(_freeze(v) for v in value))
    if t is dict:
        return ("dict", frozenset((_freeze(k), _freeze(v)) for k, v in value.items()))
    if t in (set, frozenset):
        return ("set", frozenset(_freeze(v) for v in value))
    if t.__eq__ is object.__eq__:  # compared by identity: only its repr can tell copies apart
        return ("repr", t.__name__, repr(value))
    try:
        hash(value)
        return value
    except TypeError:
        state = getattr(value, "__dict__", None)
        if state is not None:
            return (t.__name__, _freeze(state))
        return ("repr", t.__name__, repr(value))


def explore(net: Network, runs: int | None = None, seeds: Iterable[int] | None = None,
            timeout: float | None = None, max_steps: int | None = None) -> Exploration:
    """Run ``net`` once per seed and group what each sink received (see ``Network.explore``)."""
    if runs is not None and seeds is not None:
        raise ValueError("give explore either runs= (seeds 0, 1, 2, ...) or seeds=[...], not both.")
    if seeds is None:
        runs = 50 if runs is None else runs
        if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
            raise ValueError(f"runs must be a whole number of at least 1, like runs=50, "
                             f"but got {runs!r}.")
        seeds = list(range(runs))
    else:
        if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
            raise TypeError(f"seeds must be a list of whole numbers, like seeds=range(100), "
                            f"but got {short_repr(seeds)}.")
        seeds = list(dict.fromkeys(check_seed(s) for s in seeds))
        if not seeds:
            raise ValueError("seeds=[] gives nothing to explore: give at least one seed.")
    if not net.sinks:
        raise ValueError("this network has no Sink, so there is nothing to compare between runs.")

    found = {net.name_of(n): {} for n in net.sinks}
    failures = {}
    seen_warnings = {}
    emitted = []
    for seed in seeds:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                r = run_seeded(net, seed, timeout, max_steps=max_steps, record_sinks=True)
            except NetworkError as err:
                r = net.last_run
                summary = "; ".join(f.summary() for f in err.failures)
                failures.setdefault(summary, []).append(seed)
            except NetworkTimeout as err:
                raise NetworkTimeout(f"While exploring, seed {seed}: {err}") from err
        for w in caught:  # a used-up source is told once, below, in explore's own words
            if w.category is not SourceUsedUpWarning:
                seen_warnings.setdefault((w.category, str(w.message)), None)
        emitted.append(sum(net.stats[net.name_of(n)].sent for n in net.sources))
        for name, received in r.received.items():
            key = _freeze(received)
            outcome = found[name].get(key)
            if outcome is None:
                outcome = found[name][key] = Outcome(received)
            outcome.seeds.append(seed)
    for category, message in seen_warnings:
        warnings.warn(message, category, stacklevel=3)
    if emitted[0] and 0 in emitted:
        seed = seeds[emitted.index(0)]
        warnings.warn(
            f"The sources sent nothing in the run with seed {seed} although they did in the "
            f"first run: a source must start again at every run for explore to compare runs "
            f"(ListSource does; a function reading from an iterator or a file does not).",
            UserWarning, stacklevel=3)
    order = {s: i for i, s in enumerate(seeds)}
    outcomes = {name: sorted(by_key.values(), key=lambda o: (-o.count, order[o.seed]))
                for name, by_key in found.items()}
    return Exploration(seeds, outcomes, failures)
