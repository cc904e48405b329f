"""One step at a time: the model that seeded runs and the exhaustive search both follow.

The model
---------
* Each *edge* into a node has its own FIFO queue.
* A *step* is one of two things: a source producing one message (or ending),
  or a node taking the message at the head of one of its non-empty edge
  queues and handling it (``semantics.NodeRun``). What the step makes is
  handed over at once: a Split's ports in port order, a fanout's copies in
  edge order.
* Where more than one step is possible, one is *chosen*. That choice is the
  only thing that differs between the schedulers built on this engine: a
  seeded run draws it from ``random.Random(seed)`` (``seeded.py``); the
  exhaustive search and a replay follow a schedule (``exhaustive.py``).

Every run of the threaded scheduler is one of this model's runs: each edge
keeps its order, and a node handles its messages one at a time. The rules
between nodes (room, loops, the end of the stream, failures, lifting a full
MergeSynch input) are the flow's (``flow.py``), as in every scheduler.

Time is virtual (``vclock.py``): steps take no time; a step whose function
slept (a timer's tick, or ``time.sleep`` in a seeded run) ends that much
later, and its node is asleep until then; a node's ``timeout=`` rings and a
message held up by a ``delay`` fault arrives at its own time. When no step is
possible the clock jumps to the earliest of those events; the steps possible
at one instant are chosen among as always.

All node functions are called, one at a time, by one thread of the engine;
``run.steps`` counts its steps. ``snapshot_at=k`` starts a snapshot after step
``k`` (``snapshots.py``): its markers go along the same edge queues and are
taken between steps, at once and in the fixed order of the nodes, so they
change no choice.
"""

from __future__ import annotations

import threading
from collections import deque
from functools import partial
from typing import TYPE_CHECKING, Iterable

from .copying import copy_to_keep
from .errors import warn_student
from .flow import Room
from .running import Engine, Finished, Run, stop_with_grace
from .semantics import Stop
from .snapshots import Marker, SnapshotWarning, record_ended, start
from .vclock import VirtualClock

if TYPE_CHECKING:
    from .nodes import Edge
    from .semantics import NodeRun


class EdgeQueue:
    """The messages waiting along one edge into a node, in order.

    ``index``: the edge's place in ``g.edges``; ``sender``: where it comes from,
    as :func:`_senders` names it; ``open``: its sender has not ended (round a loop: the loop
    has not gone quiet); ``flying``: messages held up by a ``delay`` fault, on their way.
    """

    __slots__ = ("edge", "index", "owner", "port", "items", "open", "sender", "step", "flying")

    def __init__(self, edge: Edge, index: int, owner: StepNode, port: int, sender: str) -> None:
        self.edge, self.index, self.owner, self.port, self.sender = edge, index, owner, port, sender
        self.items = deque()
        self.open = True
        self.flying = 0
        self.step = (owner, self)  # the step that takes from it


def _senders(net, edges: list[Edge]) -> list[str]:
    """Where messages along ``edges`` (into one input) come from, told apart: ``"a"``,
    ``"split.out_1"``, and ``"a (2)"`` for the second of two edges from ``a``."""
    names = []
    for e in edges:
        name = net.name_of(e.src) if e.src_port is None else f"{net.name_of(e.src)}.out_{e.src_port}"
        names.append(name)
    seen = {}
    for i, name in enumerate(names):
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            names[i] = f"{name} ({seen[name]})"
    return names


class StepNode:
    """One node in the run: a queue per edge into it (grouped by input), its room, where it sends."""

    def __init__(self, node_run: NodeRun, room: Room | None) -> None:
        self.nr = node_run
        self.room = room  # flow.Room: the messages that may wait for it (None: a source)
        self.finished = False
        self.ports = []  # per input: [EdgeQueue], one per edge into it, in the order of g.edges
        self.queues = []  # every EdgeQueue into it, input by input
        self.produce = [(self, None)]  # a source's step
        self.outputs = [[] for _ in node_run.outs]  # per output port: [(edge, EdgeQueue)]
        self.targets = []  # (receiver, room, slots one message takes there), for bounded edges
        # time (vclock.py): asleep until the clock wakes it (its step slept); its timeout=
        # (flow.Alarm), the alarm's setting (a ring of an older setting is ignored), a ring to handle
        self.asleep = False
        self.alarm = None
        self.setting = 0
        self.rung = False
        self.reset = False  # its step took a message that set the alarm again
        self.ring = [(self, None)]  # the step that handles a ring

    def fits(self) -> bool:
        """Is there room for what it sends (``flow.Room``)? A failed receiver takes everything."""
        for dst, room, per in self.targets:
            if not dst.room.fits(room, per) and dst.nr.failure is None:
                return False
        return True

    def idle(self) -> bool:
        """Every input has ended and nothing waits: the node can end.

        Not while it sleeps, a message is on its way to it, or its alarm is set.
        """
        if self.asleep or (self.alarm is not None and self.alarm.armed):
            return False
        return all(not q.open and not q.items and not q.flying for q in self.queues)


class Stepper(Engine):
    """One run of the model: step after step, until every node has ended.

    A subclass says how a step is chosen where there are several
    (:meth:`choose`) and what a run cut at ``max_steps`` means
    (:meth:`bound_text`). ``reduced``: offer only the steps whose order can
    matter (see ``exhaustive.py``); otherwise every possible step is offered.
    After the run, ``bounded`` says it was cut at ``max_steps``, ``deadlocked``
    that no node could go on although some had not ended, and ``room_waited``
    that a node waited for room.
    """

    thread_name = "dissyslab stepped run"

    def __init__(self, run: Run, capacity: int | None, max_steps: int, *, reduced: bool = False,
                 record_sinks: bool = False, snapshot_at: Iterable[int] = ()) -> None:
        self.run = run
        self.flow = run.flow
        self.max_steps = max_steps
        self.reduced = reduced
        self.snapshot_at = deque(snapshot_at)  # steps after which a snapshot starts
        self.bounded = self.deadlocked = self.room_waited = False
        self.nodes = {}
        for name, nr in run.nodes.items():
            merge = nr.kind == "merge_synch"
            room = None if nr.kind == "source" else Room(
                capacity, nr.node.num_inputs if merge else 1, merge)
            self.nodes[name] = StepNode(nr, room)
        self.order = list(self.nodes.values())
        self.received = {run.net.name_of(n): [] for n in run.net.sinks} if record_sinks else None
        self.current = None  # the node inside its function, if any
        self.stopping = False
        self.error = None
        self.done = Finished()
        self.thread = threading.Thread(target=self._main, name=self.thread_name, daemon=True)
        self._wire(run.net)
        # time: the virtual clock; the delay faults per edge (faults.py), and when the last
        # message held up along each edge arrives (a later one never overtakes it)
        self.clock = VirtualClock()
        self.delays = {} if run.faults is None else run.faults.delays
        if run.faults is not None:  # a partition's start and end are times of this clock
            run.faults.now = lambda: run.clock
        self.last_due = {}
        for w in self.order:
            if w.nr.node.timeout is not None:
                w.alarm = self.flow.alarm(w.nr.name, w.nr.node.timeout)
        for edge, batch in run.resend:  # resume=: what was in flight waits first
            q = self.queue_of[edge]
            q.items.extend(batch)
            if self.flow.bounded(edge):
                q.owner.room.take(q.owner.room.room_of(edge), len(batch))

    def _wire(self, net):
        """A queue per edge into every node, and where each node's output edges lead."""
        index = {e: i for i, e in enumerate(net.edges)}
        queue_of = self.queue_of = {}
        for w in self.order:
            node = w.nr.node
            if node.kind == "source":
                continue
            for port in range(node.num_inputs or 1):
                edges = [e for e in net.edges if e.dst is node and (e.dst_port or 0) == port]
                qs = [EdgeQueue(e, index[e], w, port, sender)
                      for e, sender in zip(edges, _senders(net, edges), strict=True)]
                queue_of.update((q.edge, q) for q in qs)
                w.ports.append(qs)
                w.queues.extend(qs)
        for w in self.order:
            per = {}
            for port, edges in enumerate(w.nr.outs):
                for e in edges:
                    q = queue_of[e]
                    w.outputs[port].append((e, q))
                    dst = q.owner
                    if dst.room.capacity is not None and self.flow.bounded(e):
                        key = (id(dst), dst.room.room_of(e))
                        per[key] = (dst, key[1], per.get(key, (None, 0, 0))[2] + 1)
            w.targets = list(per.values())

    # --- what the subclass decides ----------------------------------------------------------
    def choose(self, alternatives: list) -> tuple[StepNode, EdgeQueue | None]:
        """Pick one of ``alternatives`` (at least two), each (node, its edge queue or None)."""
        raise NotImplementedError

    def bound_text(self) -> str | None:
        """The error's text when the run was cut at ``max_steps`` (None: not an error)."""
        return None

    # --- the possible steps ---------------------------------------------------------------
    def alternatives(self) -> list:
        """The steps possible now, as [(node, queue or None)] (reduced: only those to branch over).

        Unreduced: every source that has not ended, and every non-empty edge
        queue of a node with room downstream, in the order of the nodes and of
        ``g.edges``. Reduced (Kahn): a source's step, or a step from an input
        with one edge that can go on, is taken without branching; an input
        whose every edge has a message waiting (or has ended) branches over
        those edges alone; otherwise every possible step is offered.
        """
        every, settled, reduced = [], None, self.reduced
        for w in self.order:
            if w.finished or w.asleep:
                continue
            if w.ports:
                steps = [q.step for q in w.queues if q.items]
                if not steps:
                    if not w.rung:
                        continue
                    steps = w.ring  # its timeout rang, and no message came meanwhile
            else:
                steps = w.produce
            if w.targets and not w.fits():
                self.room_waited = True  # it could go on, but waits for room
                continue
            if reduced:
                if not w.ports or steps is w.ring:
                    return steps
                for qs in w.ports:
                    full = [q.step for q in qs if q.items]
                    if full and all(q.items or not q.open for q in qs):
                        if len(full) == 1:
                            return full  # one edge can go on, the others have ended
                        if settled is None:
                            settled = full
            every += steps
        return every if settled is None else settled

    # --- the engine's thread ------------------------------------------------------------------
    def _main(self):
        self.clock.enter()  # a timer's sleeps on this thread are virtual
        try:
            self._loop()
        except Stop:
            pass
        except BaseException as exc:  # a fault of the scheduler itself: reported by the caller
            self.error = exc
        finally:
            self.clock.leave()
            self.done.set()

    def _loop(self):
        run, clock = self.run, self.clock
        self._finish(deque(w for w in self.order if w.nr.exhausted))  # resume=: ended sources
        recordings, snapshot_at = run.recordings, self.snapshot_at
        for w in self.order:  # every timeout= is set as the run starts
            if w.alarm is not None:
                self._set_alarm(w)
        while not self.stopping:
            if snapshot_at and run.steps >= snapshot_at[0]:
                snapshot_at.popleft()
                self._start_snapshot()
            if clock.pending():  # what is due now (a delay of 0) happens first
                self._happen(clock.due())
            if recordings:
                self._pass_markers()
            alternatives = self.alternatives()
            if not alternatives and clock.pending():  # no step is possible: time jumps
                self._happen(clock.jump())
                continue
            if not alternatives and self._lift():
                continue
            if not alternatives:
                self.deadlocked = any(not w.finished for w in self.order)
                return
            if run.steps >= self.max_steps:
                self.bounded = True
                return
            self._go(*(alternatives[0] if len(alternatives) == 1 else self.choose(alternatives)))

    def _go(self, w, q):
        """Take the step chosen: ``w`` produces, or takes the head of ``q``, then hands on what it
        made (once it wakes, if its function slept)."""
        self.run.steps += 1
        taken = None if q is None else q.edge
        try:
            taken = self._step(w, q)
        except Stop:
            raise
        except BaseException as exc:  # outside the node's function (an observer, say)
            if w.finished:
                raise
            w.nr.fail(exc, None, False, "stopped unexpectedly")
        slept = self.clock.take_slept()
        if slept:  # the step ends when the node wakes: what it made goes on then
            w.asleep = True
            self.clock.after(slept, ("wake", w, taken))
        else:
            self._after(w, taken)

    def _step(self, w, q):
        """One step of ``w``: a source produces; a ring is handled; any other node takes the head
        of ``q``. Returns what it took: the edge, None (a source) or ("rang", sent) (a timeout)."""
        nr = w.nr
        nr.state = "busy"  # as in a threaded run, a source is busy from start to end
        if q is not None:
            return self._take_head(w, q)
        self.current = nr
        if w.ports:  # its timeout rang (flow.Alarm)
            w.rung = False
            taken = ("rang", nr.time_out(self.clock.now))
        else:
            nr.produce(1)
            taken = None
        self.current = None
        return taken

    def _take_head(self, w, q):
        """``w`` takes the message at the head of ``q`` and handles it; returns its edge.

        Its room is given back as it takes it (a MergeSynch's as it pairs it);
        a sink's message is kept for ``received`` as it arrives, before its
        function may change it.
        """
        nr, edge, msg = w.nr, q.edge, q.items.popleft()
        if w.alarm is not None and nr.arrives(edge, [msg]):  # it sets the alarm again (flow.Alarm)
            w.rung = False
            w.alarm.took()
            w.setting += 1
            w.reset = True
        for rec in self.run.recordings:
            rec.took(nr, edge, [msg])
        kept = self.received is not None and nr.kind == "sink"
        if kept:
            msg_kept, before = copy_to_keep(msg), nr.received_on.get(edge, 0)
        self.current = nr
        paired = nr.paired
        self.flow.give_back(w.room, edge, 1)
        nr.take(q.port, edge, [msg])
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
        """No node can go on: lift the bound of the full MergeSynch inputs that senders wait for
        (``flow.Room.lift``), as in a threaded run. True if one was lifted."""
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
                for (edge, q), batch in zip(w.outputs[port], nr.hand_over(port), strict=True):
                    flow.made(edge, len(batch))
                    for m in batch:
                        self._deliver(q, m, todo)
        if taken.__class__ is tuple:  # a timeout rang: the Alarm says what ends
            open_inputs = any(q.open or q.flying for q in w.queues)
            self._ended(w.alarm.rang(taken[1], open_inputs), todo)
        elif taken is not None:
            self._ended(flow.handled(taken, 1), todo)
        if w.alarm is not None:
            if nr.failure is not None:
                w.setting += 1  # its last ring is void
                self._ended(w.alarm.off(), todo)
            elif w.alarm.armed and (w.reset or taken.__class__ is tuple):  # not for a lost one
                self._set_alarm(w)
            w.reset = False
        if nr.failure is not None and not w.finished:
            for qs in w.ports:  # what waits for it is counted and thrown away
                for q in qs:
                    waiting = list(q.items)
                    q.items.clear()
                    for m in waiting:
                        if m.__class__ is not Marker:  # it records as it ends (snapshots.py)
                            flow.give_back(w.room, q.edge, 1)
                            self._discard(q, m, todo)
            todo.append(w)
        elif nr.exhausted or (w.ports and w.idle()):
            todo.append(w)
        self._finish(todo)

    def _deliver(self, q, m, todo):
        if self.delays and q.edge in self.delays:  # a delay fault holds it up
            self._hold(q, m)
        else:
            self._arrive(q, m, todo)

    def _arrive(self, q, m, todo, held=False):
        """``m`` arrives at ``q`` (``held``: after a delay, its room taken when it was sent)."""
        dst = q.owner
        bounded = self.flow.bounded(q.edge)
        if dst.nr.failure is not None:
            if held and bounded:
                dst.room.give(dst.room.room_of(q.edge), 1)
            self._discard(q, m, todo)
        else:
            q.items.append(m)
            if bounded and not held:
                dst.room.take(dst.room.room_of(q.edge), 1)

    def _discard(self, q, m, todo):
        """``m`` reached a node that has failed: it is counted and thrown away."""
        q.owner.nr.take(q.port, q.edge, [m])
        self._ended(self.flow.handled(q.edge, 1), todo)

    def _ended(self, edges, todo):
        """``edges`` have ended (the flow says which): their receivers with nothing left end."""
        for edge in edges:
            q = self.queue_of[edge]
            q.open = False
            y = q.owner
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
            record_ended(self.run.recordings, x.nr, partial(self._send_markers, x))
            self._ended(self.flow.ended(x.nr.outs), todo)

    # --- time (vclock.py): what the clock's events do ----------------------------------------
    def _happen(self, events):
        """The events of this instant, in the order they were set: wake, arrive, ring.

        ``run.clock`` moves to this instant unless every event was a ring set
        again since (or of a node that failed): those change nothing.
        """
        todo = deque()
        for event in events:
            what = event[0]
            if what != "ring":
                self.run.clock = self.clock.now
            if what == "wake":  # a step that slept ends now: what it made goes on
                _, w, taken = event
                w.asleep = False
                self._after(w, taken)
            elif what == "arrive":  # a message held up by a delay fault arrives
                _, q, m = event
                q.flying -= 1
                self._arrive(q, m, todo, held=True)
            elif what == "marker":  # a snapshot's marker, behind the messages held up
                _, q, token = event
                q.flying -= 1
                if not q.owner.finished:
                    q.items.append(token)
            else:  # "ring": a node's timeout, unless it was set again since
                _, w, setting = event
                if setting == w.setting and not w.finished and w.alarm.armed:
                    w.rung = True  # (a message waiting goes first: it may set the alarm again)
                    self.run.clock = self.clock.now
        todo.extend(w for w in self.order if not w.finished and w.ports and w.idle())
        self._finish(todo)

    def _set_alarm(self, w):
        """``w`` waits from now: its timeout rings that many seconds later, unless something comes."""
        w.setting += 1
        self.clock.after(w.alarm.seconds, ("ring", w, w.setting))

    def _hold(self, q, m):
        """A delay fault holds ``m`` up: it arrives later, never before one sent before it."""
        edge = q.edge
        when = max(self.clock.now + self.delays[edge].seconds_for(edge, m),
                   self.last_due.get(edge, 0.0))
        self.last_due[edge] = when
        q.flying += 1
        if self.flow.bounded(edge):  # it takes its room now, as a message on its way does
            q.owner.room.take(q.owner.room.room_of(edge), 1)
        self.clock.at(when, ("arrive", q, m))

    # --- snapshots (snapshots.py): markers pass between steps, changing no choice ----------
    def _start_snapshot(self):
        rec = start(self.run)
        for w in self.order:
            if w.finished:
                record_ended([rec], w.nr, partial(self._send_markers, w))
            elif w.nr.kind == "source" and rec.record(w.nr):
                self._send_markers(w, rec)

    def _send_markers(self, w, rec):
        """``w`` has recorded its state: a marker goes behind everything it sent on every edge."""
        for outs in w.outputs:
            for edge, q in outs:
                if not q.owner.finished:
                    if self.last_due.get(edge, -1.0) >= self.clock.now:  # behind held-up ones
                        self.clock.at(self.last_due[edge], ("marker", q, rec.token))
                        q.flying += 1
                    else:
                        q.items.append(rec.token)

    def _pass_markers(self):
        """Every marker at the head of an edge queue is taken now, until none is left there."""
        moved = True
        while moved:
            moved = False
            for w in self.order:
                for qs in w.ports:
                    for q in qs:
                        items = q.items
                        while (items and items[0].__class__ is Marker and not w.finished
                               and not w.asleep):  # a sleeping node is inside its step
                            marker = items.popleft()
                            moved = True
                            if marker.recording.marker(w.nr, q.edge):
                                self._send_markers(w, marker.recording)
            idle = deque(w for w in self.order if not w.finished and w.ports and w.idle())
            if idle:  # a marker was all that kept it from ending
                self._finish(idle)
                moved = True

    # --- the hooks running.execute drives, from the calling thread ----------------------
    def start(self) -> None:
        self.thread.start()

    def alive(self, nr: NodeRun) -> bool:
        return not self.nodes[nr.name].finished

    def stop(self) -> list[NodeRun]:
        """Stop the engine; interrupt the node function it is inside if it does not return."""
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
        """A run cut at ``max_steps`` may be a timeout; snapshots asked for after the last step
        are told."""
        run = self.run
        if self.snapshot_at and outcome == "finished" and not self.bounded:
            steps = ", ".join(str(k) for k in self.snapshot_at)
            warn_student(f"The run ended after {run.steps} steps, so no snapshot was taken at step"
                         f"{'s' if len(self.snapshot_at) > 1 else ''} {steps}: snapshot_at counts "
                         f"the steps of this run (g.last_run.steps).", SnapshotWarning)
        text = self.bound_text() if self.bounded and outcome == "finished" else None
        return ("timeout", text) if text is not None else (outcome, None)
