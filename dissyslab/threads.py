"""The threaded scheduler: every node in a thread of its own, all at once.

What one node does with a message is ``semantics.py``'s rule, what happens
*between* nodes ``flow.py``'s; this file says *when* each node works:

* Every node gets a thread; a node that receives gets an inbox, a
  :class:`~dissyslab.channels.Channel` that all its senders share.
* A source's thread calls ``produce``; any other node's takes what waits in its
  inbox and calls ``take``. Results wait in the node's
  :class:`~dissyslab.channels.Outbox` and go on in batches: a fast stream costs
  little per message, and a slow function's results go on at once.
* A node that has ended (a source returned None, or every sender has ended and
  the inbox is empty) tells each receiver "end": the end of the stream flows
  from the sources to the sinks (round a loop, once the loop is quiet).
* A node whose function raised tells its receivers "end" at once, and throws
  away (counted as discarded) what still reaches it, so its senders never block.
* A snapshot's markers travel in the channels behind the messages
  (``snapshots.py``): a source records at its next turn, an ended node as it is.
* The calling thread waits (``running.execute``, as for every scheduler). On
  timeout or Ctrl-C it stops every channel and interrupts each node still
  inside its function.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Iterable

from .channels import Channel, Courier, Outbox, inboxes, lift_when_stalled
from .errors import no_thread_for_every_node
from .pace import paced
from .running import Engine, Finished, Run, StartGate, execute, stop_with_grace
from .semantics import NodeRun, Stop
from .snapshots import Marker, Recording, record_ended, start

if TYPE_CHECKING:
    from .observers import Observer
    from .shapes import Graph

#: most messages sent on together
BATCH = 1024
#: seconds a result may wait to be batched with the next ones
LATENCY = 0.002


class NodeThread:
    """The thread of one node: takes messages from its inbox, lets the node handle them, sends results."""

    def __init__(self, node_run: NodeRun, inbox: Channel | None, outbox: Outbox | None, largest: int,
                 threads: Threads) -> None:
        self.node_run = node_run
        self.inbox = inbox  # None for a source
        self.outbox = outbox  # None for a sink
        self.largest = largest  # most messages handled or sent in one go
        self.threads = threads
        self.flow = threads.flow
        self.receivers_told = False
        self.ended = False  # set (under the run's snapshot lock) once the node has ended
        self.loop_edges = self.flow.loop_edges(node_run.outs)  # what it makes there is counted
        # timers.py: the node's timeout= (flow.Alarm says when it rings), in real seconds at the pace
        timeout = node_run.node.timeout
        self.alarm = None if timeout is None else self.flow.alarm(node_run.name, timeout)
        self.due = None  # when it rings, once the node waits (_wait)
        self.thread = threading.Thread(
            target=self._main, name=f"dissyslab {node_run.kind} {node_run.name}", daemon=True)

    def _main(self):
        """The node's life: wait at the start gate, work, tell its receivers it has ended.

        However it ends (done, stopped, or a fault of the runtime, reported as
        the node's failure), its receivers and the snapshots being taken hear it.
        """
        nr = self.node_run
        stopped = False
        try:
            if not self.threads.go.wait():
                raise Stop
            if self.inbox is None:
                self._produce()
            else:
                self._take()
            self._tell_receivers()
        except Stop:
            stopped = True
        except BaseException as exc:  # a fault of the runtime itself: still reported
            nr.fail(exc, has_message=False, detail="stopped unexpectedly")
        finally:
            self._tell_receivers(send=False)
            if stopped:
                nr.stop()
            else:
                nr.end()
            with self.threads.run.snapshot_lock:  # a snapshot being taken records it now;
                self.ended = True  # one started later, as it starts (take_snapshot)
                record_ended(self.threads.run.recordings, nr, self.send_marker, ignore=Stop)
            self.threads.ended_one()

    def _produce(self):
        """A source: make messages while there is room for them, until it returns None."""
        nr, outbox, clock, largest = self.node_run, self.outbox, time.perf_counter, self.largest
        recordings = self.threads.run.recordings
        nr.state = "busy"
        size = 1
        while not nr.exhausted:
            if recordings:  # a snapshot has started: record, then send the marker on
                for rec in tuple(recordings):
                    if rec.record(nr):
                        self.send_marker(rec)
            room = outbox.room(size)
            started = clock()
            self.flow.made_by(self.loop_edges, nr.out, nr.produce, room)
            now = clock()
            size = 1 if now - started > LATENCY else min(size * 2, largest)
            if outbox.held() >= largest or now - outbox.last_sent > LATENCY:
                outbox.send()

    def _take(self):
        """Any other node: take what waits in the inbox, batch by batch, until every input has ended."""
        nr, inbox, outbox = self.node_run, self.inbox, self.outbox
        recordings = self.threads.run.recordings
        self.size = 1
        if nr.failure is not None:  # crashed before it began (faults.py): its receivers hear "end"
            self._tell_receivers()
        alarm = self.alarm
        while True:
            if outbox is not None:
                outbox.send(keep=False)  # nothing waits here while the node waits for input
            if nr.failure is None:
                nr.state = "waiting"
            got = inbox.get() if alarm is None or not alarm.armed else self._wait()
            if got is None:  # every input has ended
                return
            if not got:  # its timeout rang instead
                continue
            if nr.failure is None:
                nr.state = "busy"
            for edge, batch in got:
                if batch.__class__ is Marker:  # a snapshot's marker (snapshots.py)
                    if batch.recording.marker(nr, edge):
                        self.send_marker(batch.recording)
                    continue
                if recordings:
                    for rec in tuple(recordings):
                        rec.took(nr, edge, batch)
                self._handle(edge, batch)

    def _handle(self, edge, batch):
        """Hand ``batch`` to the node in chunks sized to its function's speed.

        A fast function gets large chunks (little overhead per message); a slow
        one gets one message at a time, and its results are sent on after each.
        A chunk's room is given back once the function has had it (a slow
        function's at once: its message is no longer waiting).
        """
        nr, outbox, clock, largest = self.node_run, self.outbox, time.perf_counter, self.largest
        port, pos, n, size = edge.dst_port or 0, 0, len(batch), self.size
        inbox, flow, merge = self.inbox, self.flow, self.inbox.room.merge
        bounded = flow.bounded(edge)
        while pos < n:
            k = size if outbox is None or nr.failure else outbox.room(size)
            chunk = batch if pos == 0 and k >= n else batch[pos:pos + k]
            pos += len(chunk)
            started = clock()
            # a slow function's message (or one into a MergeSynch, kept until paired) is taken
            # now; a fast function's chunk gives its room back once handled
            early = len(chunk) == 1 or merge
            if early and bounded:
                inbox.give_back(flow, edge, len(chunk))
            self._step(port, edge, chunk)
            if not early and bounded:
                inbox.give_back(flow, edge, len(chunk))
            now = clock()
            size = 1 if now - started > LATENCY else min(size * 2, largest)
            if nr.failure is not None:
                self._tell_receivers()  # results made before the failure go first
            elif outbox is not None and now - outbox.last_sent > LATENCY:
                outbox.send()
        self.size = size

    def _step(self, port, edge, chunk):
        """The node handles ``chunk``; then the flow counts, in its order, what it made and handled."""
        nr = self.node_run
        paired = nr.paired
        if self.alarm is not None and nr.arrives(edge, chunk):  # it sets the alarm (flow.Alarm)
            self.alarm.took()
            self.due = None
        self.flow.made_by(self.loop_edges, nr.out, nr.take, port, edge, chunk)
        if nr.kind == "merge_synch":  # each new pair frees one slot in every input's room
            self.inbox.give_paired(nr.paired - paired, nr.failure is not None)
        self._end_edges(self.flow.handled(edge, len(chunk)))

    def _wait(self):
        """Wait for input until the node's timeout rings (flow.Alarm); then ring it: its function
        gets a Timeout, and the Alarm says what follows.

        Returns what came, or ``()`` if it rang instead. While the alarm is set the node waits
        on, even once every input has ended: it rings then. A failed node's alarm rings no more.
        """
        nr, alarm = self.node_run, self.alarm
        if nr.failure is None:
            if self.due is None:  # real seconds at the pace, from when it begins to wait
                self.due = time.monotonic() + paced(alarm.seconds)
            got = self.inbox.get(max(0.0, self.due - time.monotonic()))
            if got:
                return got
            self.due = None  # nothing came for that long: it rings
            at = round(time.monotonic() - self.threads.run.started_at, 6)
            sent = self.flow.made_by(self.loop_edges, nr.out, nr.time_out, at)
            self._end_edges(alarm.rang(sent, self.inbox.open()))
        if nr.failure is not None:
            self._end_edges(alarm.off())
            self._tell_receivers()
        return ()

    def _end_edges(self, edges):
        """The flow says these edges have ended: their receivers hear "end"."""
        for edge in edges:
            self.threads.channel_of[edge].end(edge)

    def _tell_receivers(self, send=True):
        """Send what is held, then tell the receivers the flow names that this sender has ended (once)."""
        if self.receivers_told:
            return
        if self.outbox is not None:
            if send:
                self.outbox.send(keep=False)
            self._end_edges(self.flow.ended(self.node_run.outs))
        self.receivers_told = True

    def send_marker(self, rec: Recording) -> None:
        """The node has recorded its state: send what it made so far, then the marker, on every edge."""
        if self.outbox is not None:
            self.outbox.send_marker(rec.token)


class Threads(Engine):
    """The threads and channels of one threaded run: the hooks ``running.execute`` drives."""

    def __init__(self, run: Run, capacity: int, snapshot_every: float | None = None) -> None:
        self.run, self.flow = run, run.flow
        self.every = snapshot_every  # seconds between two snapshots (snapshots.py), or None
        self.due = time.perf_counter() + (snapshot_every or 0)
        self.done = Finished()
        self.go = StartGate()  # no node works before every thread has started
        self._left = len(run.nodes)
        self._lock = threading.Lock()
        by_name, channels = inboxes(run.net, capacity)
        self.channels, self.channel_of = list(by_name.values()), channels
        self.merges = [ch for ch in self.channels if ch.room.merge]
        self.courier = None  # faults.py: a delay fault's messages go through the courier
        if run.faults is not None and run.faults.delays:
            self.courier = Courier(run.faults.delays, channels)
        for edge, batch in run.resend:  # resume=: what was in flight waits first
            channels[edge].preload(edge, batch, counted=self.flow.bounded(edge))
        largest = min(BATCH, capacity)  # a batch never overfills a channel
        self.threads, self.outboxes = {}, []
        for name, nr in run.nodes.items():
            outbox = None if nr.kind == "sink" else Outbox(nr, channels, self.flow)
            if outbox is not None:
                self.outboxes.append(outbox)
            self.threads[name] = NodeThread(nr, by_name.get(name), outbox, largest, self)

    def take_snapshot(self) -> Recording:
        """Start a snapshot, from any thread: each source records at its next turn, an ended node now."""
        with self.run.snapshot_lock:  # no node ends meanwhile (NodeThread._main)
            ended = [(t.node_run, t.send_marker) for t in self.threads.values() if t.ended]
            return start(self.run, ended, ignore=Stop)

    def ended_one(self) -> None:
        """A node's thread has ended; the last one sets ``done``."""
        with self._lock:
            self._left -= 1
            if self._left == 0:
                self.done.set()

    def start(self) -> None:
        """Start every thread; they begin to work together once all have started (else the first
        would compete with the calling thread for the interpreter, and starting a large network
        would take seconds). If one cannot start, or Ctrl-C comes, those started are stopped first.
        """
        self.run.take_snapshot = self.take_snapshot
        try:
            if self.courier is not None:
                self.courier.start()
            for t in self.threads.values():
                t.thread.start()
        except BaseException as exc:
            self.stop()
            if isinstance(exc, RuntimeError):  # "can't start new thread"
                raise no_thread_for_every_node(len(self.threads), exc) from exc
            raise
        self.go.open()

    def tick(self) -> None:
        """From the calling thread, every few milliseconds while the nodes work."""
        now = time.perf_counter()
        for outbox in self.outboxes:  # results that wait behind a long call go on now
            outbox.send_stalled(now, LATENCY)
        if self.merges:  # every node waits: lift a full MergeSynch input (flow.Room)
            lift_when_stalled(self.merges, self.channels, lambda: self._left)
        if self.every is not None and now >= self.due and not self.run.recordings:
            self.due = now + self.every  # snapshot_every: the next one, once this one is taken
            self.take_snapshot()

    def alive(self, nr: NodeRun) -> bool:
        """Is the thread of this node still going?"""
        return self.threads[nr.name].thread.is_alive()

    def stop(self) -> list[NodeRun]:
        """Stop every node; return those still inside their function after the grace period."""
        self.go.open(stopped=True)  # threads not yet at work end at once
        if self.courier is not None:
            self.courier.stop()
        for channel in self.channels:
            channel.stop()  # wakes every node that waits for input or for room
        busy = {t.thread: t.node_run for t in self.threads.values()}
        left = stop_with_grace(
            lambda: [t for t in busy if t.ident is not None and t.is_alive()],
            lambda t: busy[t].state == "busy")
        return [busy[t] for t in left]

    def settle(self, stuck: list[NodeRun]) -> None:
        """The run is over: the courier of delayed messages, if any, has ended too."""
        if self.courier is not None:
            self.courier.stop()


def run(net: Graph, timeout: float | None = None, capacity: int | None = None,
        observers: Iterable[Observer] = (), *, snapshot_every: float | None = None,
        resume=None, faults=None) -> Run:
    """Run ``net`` with one thread per node (see :meth:`Network.run_network`); return the Run.

    Observers are told what ``observers.py`` describes. ``snapshot_every``:
    seconds between two snapshots; ``resume``: a Snapshot to start from.
    """
    return execute(net, lambda r, cap: Threads(r, cap, snapshot_every), timeout, capacity,
                   observers, resume=resume, faults=faults)

