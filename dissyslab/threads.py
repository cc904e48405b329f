"""The threaded scheduler: every node in a thread of its own, all at once.

How a run goes:

* Every node gets a thread, and every node that receives gets an inbox, a
  :class:`~dissyslab.channels.Channel` that all its senders share.
* A source's thread calls ``produce``; any other node's thread takes what
  waits in its inbox and calls ``take`` (``semantics.py`` says what those do).
  Results wait in the node's :class:`~dissyslab.channels.Outbox` and go on in
  batches: a fast stream costs little per message, and a slow function's
  results are sent on at once.
* When a node has ended (a source returned None, or every sender of a node
  has ended and its inbox is empty) its thread tells each receiver "end".
  That is how the end of the stream flows from the sources to the sinks.
  Round a loop it cannot: there, the loop's count of outstanding messages
  (``termination.py``) says when the edges round it end.
* A node whose function raised keeps taking what reaches it, and throws it
  away (the semantics count it as discarded), so its senders never block.
  Its receivers are told "end" at once (round a loop: when the loop is quiet).
* A snapshot (``snapshots.py``) is taken with markers that travel in the
  channels behind the messages: a node that takes one records its state and
  sends one along every edge leaving it. A source records at its next turn,
  and a node that has ended records as it is.
* The calling thread waits. On timeout or Ctrl-C it stops every channel and
  interrupts every node still inside its function, then waits (a little) for
  each thread to end.

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
import sys
import threading
import time
from typing import TYPE_CHECKING, Iterable

from .channels import Channel, Courier, Outbox, stalled
from .flow import Room
from .pace import paced
from .running import Engine, Finished, Run, execute, stop_with_grace
from .semantics import NodeRun, Stop
from .snapshots import Marker, Recording, start

if TYPE_CHECKING:
    from .observers import Observer
    from .shapes import Graph

#: most messages sent on together
BATCH = 256
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
        # loops (flow.made): per output port, its edges into or round a loop
        loop_edges = [[e for e in edges if e in self.flow.loop_of_edge] for edges in node_run.outs]
        self.loop_edges = loop_edges if any(loop_edges) else None
        # timers.py: the node's timeout= (flow.Alarm says when it rings), in real seconds at the pace
        timeout = node_run.node.timeout
        self.alarm = None if timeout is None else self.flow.alarm(node_run.name, timeout)
        self.thread = threading.Thread(
            target=self._main, name=f"dissyslab {node_run.kind} {node_run.name}", daemon=True)

    def _main(self):
        nr = self.node_run
        stopped = False
        try:
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
            self._end_snapshots()
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
            before = [len(o) for o in nr.out] if self.loop_edges else None
            nr.produce(room)
            if before:
                self._count_made(before)
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
        self.due = None  # when its alarm rings (real seconds, at the pace), once it waits
        while True:
            if outbox is not None:
                outbox.send(keep=False)  # nothing waits here while the node waits for input
            if nr.failure is None:
                nr.state = "waiting"
            if alarm is None or not alarm.armed:
                got = inbox.get()
            elif nr.failure is not None:  # a failed node's alarm rings no more
                self._end_edges(alarm.off())
                continue
            else:
                if self.due is None:
                    self.due = time.monotonic() + paced(alarm.seconds)
                got = inbox.get(max(0.0, self.due - time.monotonic()))
                if not got and got is not None:  # nothing came for that long: it rings
                    self.due = None
                    self._ring()
                    continue
            if got is None:
                return
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
        before = [len(o) for o in nr.out] if self.loop_edges else None
        paired = nr.paired
        if self.alarm is not None and nr.arrives(edge, chunk):  # it sets the alarm (flow.Alarm)
            self.alarm.took()
            self.due = None
        nr.take(port, edge, chunk)
        if before:
            self._count_made(before)
        if nr.kind == "merge_synch":  # each new pair frees one place in every input's room
            self.inbox.give_paired(nr.paired - paired, nr.failure is not None)
        for ended in self.flow.handled(edge, len(chunk)):
            self.threads.channel_of[ended].end(ended)

    def _ring(self):
        """The node's timeout rang: its function gets a Timeout; flow.Alarm says what follows."""
        nr = self.node_run
        before = [len(o) for o in nr.out] if self.loop_edges else None
        sent = nr.time_out(round(time.monotonic() - self.threads.run.started_at, 6))
        if before:
            self._count_made(before)
        self._end_edges(self.alarm.rang(sent, self.inbox.open()))
        if nr.failure is not None:
            self._end_edges(self.alarm.off())
            self._tell_receivers()

    def _end_edges(self, edges):
        for edge in edges:
            self.threads.channel_of[edge].end(edge)

    def _tell_receivers(self, send=True):
        """Send what is held, then tell the receivers the flow names that this sender has ended (once)."""
        if self.receivers_told:
            return
        if self.outbox is not None:
            if send:
                self.outbox.send(keep=False)
            for edge in self.flow.ended(self.node_run.outs):
                self.threads.channel_of[edge].end(edge)
        self.receivers_told = True

    def send_marker(self, rec: Recording) -> None:
        """The node has recorded its state: send what it made so far, then the marker, on every edge."""
        if self.outbox is not None:
            self.outbox.send_marker(rec.token)

    def _end_snapshots(self):
        """The node has ended: every snapshot being taken records it now, if it has not yet."""
        run = self.threads.run
        with run.snapshot_lock:
            self.ended = True
            for rec in tuple(run.recordings):
                if rec.ended(self.node_run):
                    try:
                        self.send_marker(rec)
                    except Stop:  # the run is being stopped: the snapshot will not be kept
                        pass

    def _count_made(self, before):
        """Count what the node just made along edges into or round a loop (flow.made)."""
        out, made = self.node_run.out, self.flow.made
        for port, edges in enumerate(self.loop_edges):
            n = len(out[port]) - before[port]
            if n:
                for edge in edges:
                    made(edge, n)


class _StartGate:
    """Holds every node thread until all have started; opened at once if the run is stopped."""

    def __init__(self):
        self._event = threading.Event()
        self.stopped = False

    def open(self, stopped=False):
        self.stopped = self.stopped or stopped
        self._event.set()

    def wait(self):
        """Wait until the gate opens; True if the nodes may work, False if the run was stopped."""
        self._event.wait()
        return not self.stopped


class Threads(Engine):
    """The threads and channels of one threaded run: the hooks ``running.execute`` drives."""

    def __init__(self, run: Run, capacity: int, snapshot_every: float | None = None) -> None:
        net = run.net
        self.run = run
        self.flow = run.flow
        self.every = snapshot_every  # seconds between two snapshots (snapshots.py), or None
        self.due = time.perf_counter() + (snapshot_every or 0)
        largest = min(BATCH, capacity)  # a batch never overfills a channel
        self.done = Finished()
        self.go = _StartGate()  # no node works before every thread has started
        self._left = len(net.nodes)
        self._lock = threading.Lock()
        self.merges = []  # the inboxes of the MergeSynch nodes
        channels, inboxes = {}, {}
        for node in net.nodes:
            if node.kind == "source":
                continue
            edges_in = [e for e in net.edges if e.dst is node]
            merge = node.kind == "merge_synch"
            inbox = Channel(len(edges_in), Room(capacity, node.num_inputs if merge else 1, merge))
            if merge:
                self.merges.append(inbox)
            inboxes[net.name_of(node)] = inbox
            for e in edges_in:
                channels[e] = inbox
        self.channels = list(inboxes.values())
        self.channel_of = channels
        # faults.py: a delay fault's messages go through the courier (None without one)
        self.courier = None
        if run.faults is not None and run.faults.delays:
            self.courier = Courier(run.faults.delays)
            for edge in run.faults.delays:
                channels[edge].late = self.courier
        for edge, batch in run.resend:  # resume=: what was in flight waits first
            channels[edge].preload(edge, batch, counted=self.flow.bounded(edge))
        self.threads = {}
        self.outboxes = []
        for name, nr in run.nodes.items():
            outbox = Outbox(nr, channels, self.flow) if nr.kind != "sink" else None
            if outbox is not None:
                self.outboxes.append(outbox)
            self.threads[name] = NodeThread(nr, inboxes.get(name), outbox, largest, self)

    def take_snapshot(self) -> Recording:
        """Start a snapshot, from any thread: each source records at its next turn, an ended node now."""
        run = self.run
        with run.snapshot_lock:
            rec = start(run)
            for t in self.threads.values():
                if t.ended and rec.ended(t.node_run):
                    try:
                        t.send_marker(rec)
                    except Stop:
                        pass
        return rec

    def ended_one(self) -> None:
        """A node's thread has ended; the last one sets ``done``."""
        with self._lock:
            self._left -= 1
            if self._left == 0:
                self.done.set()

    def start(self) -> None:
        """Start every thread; they begin to work together, once all have started.

        Otherwise the first nodes would already compete with the calling thread
        for the interpreter while it starts the others, and starting a large
        network would take seconds. If a thread cannot be started, or Ctrl-C
        comes meanwhile, the threads already started are stopped before the
        error goes on.
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
                raise RuntimeError(
                    f"Python could not start a thread for every node of this network "
                    f"({len(self.threads)} nodes): {exc}. Each node runs in a thread of its own, "
                    f"and this process may start no more. Build a smaller network, or restart the "
                    f"kernel if earlier runs left threads behind.") from exc
            raise
        self.go.open()

    def tick(self) -> None:
        """From the calling thread, every few milliseconds while the nodes work."""
        now = time.perf_counter()
        for outbox in self.outboxes:  # results that wait behind a long call go on now
            outbox.send_stalled(now, LATENCY)
        if self.merges and any(ch.senders_waiting() for ch in self.merges) and stalled(
                self.channels, lambda: self._left):
            for ch in self.merges:  # every node waits: the Room's lifting rule (flow.py)
                ch.unbound()
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
                   observers, resume=resume, faults=faults,
                   stuck_text="These nodes were still inside their function when the network "
                              "stopped: {names}. Each thread ends as soon as that call returns "
                              "(a long time.sleep, say).")


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
