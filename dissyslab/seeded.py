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

Time (``vclock.py``): a seeded run is a discrete-event simulation with one
virtual clock. Steps take no time. A node function that sleeps (as
``time.sleep(...)``, or as ``sleep(...)`` after ``from time import sleep`` in
the module that defines the function) does not wait: its step ends that many
virtual seconds later, and until then the node is asleep (not ready) and
what the step made is not yet handed on. A Timer's ticks, a node's
``timeout=`` and a message held up by a ``delay`` fault are events on the same
clock. When no node is ready, the clock jumps to the earliest event, and the
seed chooses among the nodes ready at that instant. So a run never really
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
from collections import deque
from functools import partial
from typing import TYPE_CHECKING, Any, Iterable

from .copying import copy_to_keep
from .errors import short_repr, warn_student
from .flow import Room
from .running import Engine, Finished, Run, execute, still_running, stop_with_grace
from .semantics import Stop
from .snapshots import Marker, SnapshotWarning, start
from .vclock import VirtualClock, running

if TYPE_CHECKING:
    from .observers import Observer
    from .semantics import NodeRun
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
    clock = running()  # vclock: the clock of the run this thread steps, if any
    if clock is None:
        return _real_sleep(seconds)
    if isinstance(seconds, (str, bytes, bytearray)):
        raise TypeError(f"'{type(seconds).__name__}' object cannot be interpreted as an integer")
    seconds = float(seconds)
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    clock.sleep(seconds)  # vclock: the step ends that much later
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

    __slots__ = ("owner", "port", "queue", "senders", "flying")

    def __init__(self, owner, port, senders):
        self.owner = owner
        self.port = port
        self.queue = deque()
        self.senders = senders  # edges into this input that have not ended
        self.flying = 0  # vclock: messages held up by a delay fault, on their way here


class _Node:
    """One node in a seeded run: its inboxes and room, where it sends, whether it has ended."""

    def __init__(self, node_run, room):
        self.nr = node_run
        self.room = room  # flow.Room: the messages that may wait for it (None: a source)
        self.finished = False
        self.inboxes = []
        self.outputs = [[] for _ in node_run.outs]  # per output port: [(edge, inbox)]
        self.targets = []  # (receiver, room, places one message takes there), for bounded edges
        # vclock: asleep until the clock wakes it (its step slept); its timeout= (flow.Alarm),
        # the alarm's setting (a ring of an older setting is ignored), and a ring to handle
        self.asleep = False
        self.alarm = None
        self.setting = 0
        self.rung = False

    def ready(self):
        """Can this node do something now?"""
        if self.finished or self.asleep:  # vclock: asleep until its wake time
            return False
        inboxes = self.inboxes
        if inboxes and not self.rung:  # vclock: a timeout that rang is something to do
            if len(inboxes) == 1:
                if not inboxes[0].queue:
                    return False
            elif not any(ib.queue for ib in inboxes):
                return False
        for dst, room, per in self.targets:  # a full receiver makes its senders wait (flow.Room)
            if not dst.room.fits(room, per) and dst.nr.failure is None:
                return False
        return True

    def idle(self):
        """Every input has ended and nothing waits: the node can end.

        vclock: not while it sleeps, a message is on its way to it, or its alarm is set.
        """
        if self.asleep or (self.alarm is not None and self.alarm.armed):
            return False
        return all(ib.senders == 0 and not ib.queue and not ib.flying for ib in self.inboxes)


class Scheduler(Engine):
    """One seeded run: picks, step after step, one node that can make progress.

    A step of a source is ``produce(1)``; a step of any other node is
    ``take`` of the oldest message waiting at one of its inputs (a MergeSynch
    takes from the input with the fewest messages waiting to be paired).
    ``run.steps`` counts the steps, ``run.clock`` is the virtual time
    (``vclock.py``). The rules between nodes are the flow's (``flow.py``).
    """

    def __init__(self, run: Run, capacity: int, max_steps: int = MAX_STEPS,
                 record_sinks: bool = False, snapshot_at: Iterable[int] = ()) -> None:
        self.run = run
        self.flow = run.flow
        self.snapshot_at = deque(snapshot_at)  # steps after which a snapshot starts
        self.rng = random.Random(run.seed)
        self.max_steps = max_steps
        self.nodes = {}
        for name, nr in run.nodes.items():
            merge = nr.kind == "merge_synch"
            room = None if nr.kind == "source" else Room(
                capacity, nr.node.num_inputs if merge else 1, merge)
            self.nodes[name] = _Node(nr, room)
        self.order = list(self.nodes.values())
        self.received = {run.net.name_of(n): [] for n in run.net.sinks} if record_sinks else None
        self.current = None  # the node inside its function, if any
        self.stopping = False
        self.out_of_steps = False
        self.error = None
        self.done = Finished()
        self.thread = threading.Thread(target=self._main, name="dissyslab seeded run", daemon=True)
        self._wire(run.net)
        # vclock: the virtual clock; the delay faults per edge (faults.py) and when the last
        # message held up along each edge arrives (a later one never overtakes it)
        self.clock = VirtualClock()
        self.delays = {} if run.faults is None else run.faults.delays
        self.last_due = {}
        for w in self.order:
            if w.nr.node.timeout is not None:
                w.alarm = self.flow.alarm(w.nr.name, w.nr.node.timeout)
        for edge, batch in run.resend:  # resume=: what was in flight waits first
            ib = self.inbox_of[edge]
            ib.queue.extend((edge, m) for m in batch)
            if self.flow.bounded(edge):
                ib.owner.room.take(ib.owner.room.room_of(edge), len(batch))

    def _wire(self, net):
        """An inbox per input of every node, and where each node's output edges lead."""
        inbox_of = self.inbox_of = {}
        for w in self.order:
            node = w.nr.node
            if node.kind == "source":
                continue
            for port in range(node.num_inputs or 1):
                edges_in = [e for e in net.edges if e.dst is node and (e.dst_port or 0) == port]
                ib = _Inbox(w, port, len(edges_in))
                w.inboxes.append(ib)
                for e in edges_in:
                    inbox_of[e] = ib
        for w in self.order:
            per = {}
            for port, edges in enumerate(w.nr.outs):
                for e in edges:
                    ib = inbox_of[e]
                    w.outputs[port].append((e, ib))
                    dst = ib.owner
                    if dst.room.capacity is not None and self.flow.bounded(e):
                        key = (id(dst), dst.room.room_of(e))
                        per[key] = (dst, key[1], per.get(key, (None, 0, 0))[2] + 1)
            w.targets = list(per.values())

    # --- the scheduler thread ---------------------------------------------------
    def _main(self):
        self.clock.enter()  # vclock: sleeps on this thread are virtual
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
            self.clock.leave()
            self.done.set()

    def _loop(self):
        order, rng, run = self.order, self.rng, self.run
        self._finish(deque(w for w in order if w.nr.exhausted))  # resume=: sources that had ended
        recordings, snapshot_at, clock = run.recordings, self.snapshot_at, self.clock
        for w in order:  # vclock: every timeout= is set as the run starts
            if w.alarm is not None:
                self._set_alarm(w)
        while not self.stopping:
            if snapshot_at and run.steps >= snapshot_at[0]:
                snapshot_at.popleft()
                self._start_snapshot()
            if clock.pending():  # vclock: what is due now (a delay of 0) happens first
                self._happen(clock.due())
            if recordings:
                self._pass_markers()
            ready = [w for w in order if w.ready()]
            if not ready and clock.pending():  # vclock: no node is ready: time jumps
                self._happen(clock.jump())
                continue
            if not ready and self._lift():
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
            slept = clock.take_slept()
            if slept:  # vclock: the step ends when the node wakes; its results go on then
                w.asleep = True
                clock.after(slept, ("wake", w, edge))
            else:
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
        if w.rung:  # vclock: the timeout rang; a message that came meanwhile goes first
            w.rung = False
            if not any(ib.queue for ib in w.inboxes):
                self.current = nr
                sent = nr.time_out(self.clock.now)
                self.current = None
                return ("rang", sent)
        if w.alarm is not None:  # flow.Alarm: a message taken sets it again
            w.alarm.took()
            w.setting += 1
        if nr.kind == "merge_synch":  # the input with the fewest messages waiting to be paired
            ib = min((ib for ib in w.inboxes if ib.queue), key=lambda ib: len(nr.buffers[ib.port]))
        else:
            ib = w.inboxes[0]
        edge, msg = ib.queue.popleft()
        for rec in self.run.recordings:
            rec.took(nr, edge, [msg])
        # explore: what the sink receives, kept as it arrives (its function may change it)
        kept = self.received is not None and nr.kind == "sink"
        if kept:
            msg_kept, before = copy_to_keep(msg), nr.received_on.get(edge, 0)
        nr.state = "busy"
        self.current = nr
        paired = nr.paired
        self.flow.give_back(w.room, edge, 1)
        nr.take(ib.port, edge, [msg])
        self.current = None
        if kept:  # as many times as it was handled: a fault may lose it or duplicate it
            got = nr.received_on.get(edge, 0) - before
            self.received[nr.name].extend(msg_kept if i == 0 else copy_to_keep(msg_kept)
                                          for i in range(got))
        if nr.kind == "merge_synch":
            w.room.give_paired(nr.paired - paired, nr.failure is not None)
        if nr.failure is None:
            nr.state = "waiting"
        return edge


    def _lift(self):
        """No node can go on: lift the bound of the full MergeSynch inputs that senders wait for.

        The flow's lifting rule (``flow.Room.lift``), as in a threaded run. True if one was lifted.
        """
        lifted = False
        for w in self.order:
            if w.finished:
                continue
            for dst, room, per in w.targets:
                if (not dst.room.fits(room, per) and dst.room.liftable(room)
                        and dst.nr.failure is None):
                    dst.room.lift(room)
                    lifted = True
        return lifted

    def _after(self, w, taken):
        """Hand on what the step made; end the node if it failed or has nothing left to do.

        ``taken`` is the edge of the message the step took. What the step sent is
        counted before that message counts as handled (``flow.Flow.made``).
        """
        nr, flow, todo = w.nr, self.flow, deque()
        for port, items in enumerate(nr.out):
            if items:
                for (edge, ib), batch in zip(w.outputs[port], nr.hand_over(port), strict=True):
                    flow.made(edge, len(batch))
                    for m in batch:
                        self._deliver(edge, ib, m, todo)
        if taken.__class__ is tuple:  # vclock: a timeout rang (flow.Alarm says what ends)
            self._ended(w.alarm.rang(taken[1], any(ib.senders or ib.flying for ib in w.inboxes)),
                        todo)
        elif taken is not None:
            self._ended(flow.handled(taken, 1), todo)
        if w.alarm is not None:
            if nr.failure is not None:
                w.setting += 1  # its last ring is void
                self._ended(w.alarm.off(), todo)
            elif w.alarm.armed:
                self._set_alarm(w)
        if nr.failure is not None and not w.finished:
            for ib in w.inboxes:  # what waits for it is counted and thrown away
                waiting = list(ib.queue)
                ib.queue.clear()
                for edge, m in waiting:
                    if m.__class__ is not Marker:  # it records as it ends (snapshots.py)
                        self.flow.give_back(w.room, edge, 1)
                        self._discard(w, ib, edge, m, todo)
            todo.append(w)
        elif nr.exhausted or (w.inboxes and w.idle()):
            todo.append(w)
        self._finish(todo)

    def _deliver(self, edge, ib, m, todo):
        if self.delays and edge in self.delays:  # vclock: a delay fault holds it up
            self._hold(edge, ib, m)
            return
        self._arrive(edge, ib, m, todo)

    def _arrive(self, edge, ib, m, todo, held=False):
        """``m`` arrives at ``ib`` (``held``: after a delay, with its room taken when it was sent)."""
        dst = ib.owner
        bounded = self.flow.bounded(edge)
        if dst.nr.failure is not None:
            if held and bounded:
                dst.room.give(dst.room.room_of(edge), 1)
            self._discard(dst, ib, edge, m, todo)
        else:
            ib.queue.append((edge, m))
            if bounded and not held:
                dst.room.take(dst.room.room_of(edge), 1)

    def _discard(self, w, ib, edge, m, todo):
        """``m`` reached a node that has failed: it is counted and thrown away."""
        w.nr.take(ib.port, edge, [m])
        self._ended(self.flow.handled(edge, 1), todo)

    def _ended(self, edges, todo):
        """``edges`` have ended (the flow says which): their receivers with nothing left end."""
        for edge in edges:
            ib = self.inbox_of[edge]
            ib.senders -= 1
            y = ib.owner
            if not y.finished and y.idle():
                todo.append(y)

    def _finish(self, todo):
        """The nodes in ``todo`` have ended: tell their receivers, and end those with nothing left."""
        while todo:
            x = todo.popleft()
            if x.finished:
                continue
            x.finished = True
            x.nr.end()
            for rec in tuple(self.run.recordings):  # snapshots being taken record it now
                if rec.ended(x.nr):
                    self._send_markers(x, rec)
            self._ended(self.flow.ended(x.nr.outs), todo)

    # --- virtual time (vclock.py): what the clock's events do --------------------------------
    def _happen(self, events):
        """Events of this instant, in the order they were set: wake, arrive, ring.

        ``run.clock`` moves to this instant unless every event was a ring set
        again since (or of a node that failed): those change nothing.
        """
        todo = deque()
        for event in events:
            what = event[0]
            if what != "ring":
                self.run.clock = self.clock.now
            if what == "wake":  # a node's step that slept ends now: its results go on
                _, w, edge = event
                w.asleep = False
                self._after(w, edge)
            elif what == "arrive":  # a message held up by a delay fault arrives
                _, edge, ib, m = event
                ib.flying -= 1
                self._arrive(edge, ib, m, todo, held=True)
            elif what == "marker":  # a snapshot's marker, behind the messages held up
                _, edge, ib, token = event
                ib.flying -= 1
                if not ib.owner.finished:
                    ib.queue.append((edge, token))
            else:  # "ring": a node's timeout, unless it was set again since
                _, w, setting = event
                if setting == w.setting and not w.finished and w.alarm.armed and not any(
                        ib.queue for ib in w.inboxes):
                    w.rung = True
                    self.run.clock = self.clock.now
        idle = deque(w for w in self.order
                     if not w.finished and w.inboxes and w.idle())  # a last arrival, say
        todo.extend(idle)
        self._finish(todo)

    def _set_alarm(self, w):
        """``w`` waits from now: its timeout rings ``timeout`` seconds later, unless something comes."""
        w.setting += 1
        self.clock.after(w.alarm.seconds, ("ring", w, w.setting))

    def _hold(self, edge, ib, m):
        """A delay fault holds ``m`` up: it arrives later, never before one sent before it."""
        seconds = self.delays[edge].seconds_for(edge, m)
        when = max(self.clock.now + seconds, self.last_due.get(edge, 0.0))
        self.last_due[edge] = when
        ib.flying += 1
        if self.flow.bounded(edge):  # it takes its room now, as a message on its way does
            ib.owner.room.take(ib.owner.room.room_of(edge), 1)
        self.clock.at(when, ("arrive", edge, ib, m))

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
                    if self.last_due.get(edge, -1.0) >= self.clock.now:  # vclock: behind held ones
                        self.clock.at(self.last_due[edge], ("marker", edge, ib, rec.token))
                        ib.flying += 1
                    else:
                        ib.queue.append((edge, rec.token))

    def _pass_markers(self):
        """Every marker at the head of an inbox is taken now, until none is left there."""
        moved = True
        while moved:
            moved = False
            for w in self.order:
                for ib in w.inboxes:
                    queue = ib.queue
                    while (queue and queue[0][1].__class__ is Marker and not w.finished
                           and not w.asleep):  # vclock: a sleeping node is inside its step
                        edge, marker = queue.popleft()
                        moved = True
                        if marker.recording.marker(w.nr, edge):
                            self._send_markers(w, marker.recording)
            idle = deque(w for w in self.order if not w.finished and w.inboxes and w.idle())
            if idle:  # a marker was all that kept it from ending
                self._finish(idle)
                moved = True

    # --- the hooks running.execute drives, from the calling thread ----------------------
    def start(self) -> None:
        self.thread.start()

    def alive(self, nr: NodeRun) -> bool:
        return not self.nodes[nr.name].finished

    def stop(self) -> list[NodeRun]:
        """Stop the scheduler; interrupt the node function it is inside if it does not return."""
        self.stopping = True
        left = stop_with_grace(lambda: [self.thread] if self.thread.is_alive() else [],
                               lambda t: self.current is not None)
        return [self.current] if left and self.current is not None else []

    def settle(self, stuck: list[NodeRun]) -> None:
        """Nodes that had not finished when the run was stopped are 'stopped'."""
        for w in self.order:
            if not w.finished and w.nr not in stuck:
                w.nr.stop()

    def finish(self, outcome: str) -> tuple[str, str | None]:
        """A run out of steps is a timeout; snapshots asked for after the last step are told."""
        run = self.run
        if self.snapshot_at and outcome == "finished" and not self.out_of_steps:
            steps = ", ".join(str(k) for k in self.snapshot_at)
            warn_student(f"The run ended after {run.steps} steps, so no snapshot was taken at step"
                      f"{'s' if len(self.snapshot_at) > 1 else ''} {steps}: snapshot_at counts the "
                      f"steps of this run (g.last_run.steps).", SnapshotWarning)
        if not (self.out_of_steps and outcome == "finished"):
            return outcome, None
        busy = still_running(run, alive=self.alive)
        return "timeout", (
            f"The seeded run (seed {run.seed}) took {run.steps:,} steps without finishing, so "
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


