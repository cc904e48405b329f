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
import warnings
from typing import TYPE_CHECKING, Callable, Iterable

from .channels import Channel, Outbox, stalled
from .errors import NodeStillRunningWarning
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
from .semantics import NodeRun, Stop
from .snapshots import Marker, Recording, start

if TYPE_CHECKING:
    from .graph import Network
    from .observers import Observer

#: most messages sent on together
BATCH = 256
#: seconds a result may wait to be batched with the next ones
LATENCY = 0.002
#: seconds given to the nodes to stop after a timeout or an interrupt
STOP_GRACE = 1.0


class NodeThread:
    """The thread of one node: takes messages from its inbox, lets the node handle them, sends results."""

    def __init__(self, node_run: NodeRun, inbox: Channel | None, outbox: Outbox | None, largest: int,
                 finished: Callable[[NodeThread], None], go: _StartGate, threads: Threads) -> None:
        self.node_run = node_run
        self.inbox = inbox  # None for a source
        self.outbox = outbox  # None for a sink
        self.largest = largest  # most messages handled or sent in one go
        self.finished = finished  # called with this object when the thread ends
        self.go = go  # opened once every thread has started (or the run is stopped)
        self.threads = threads
        self.receivers_told = False
        self.paired = 0  # a MergeSynch: pairs whose room has been given back (_give_back)
        self.ended = False  # set (under the run's snapshot lock) once the node has ended
        # loops (termination.py): the watch of each loop this node's output ports send into
        self.loop_outs = [[threads.loop_of_edge[e] for e in edges if e in threads.loop_of_edge]
                          for edges in node_run.outs]
        if not any(self.loop_outs):
            self.loop_outs = None
        self.thread = threading.Thread(
            target=self._main, name=f"dissyslab {node_run.kind} {node_run.name}", daemon=True)

    def _main(self):
        nr = self.node_run
        stopped = False
        try:
            try:
                if not self.go.wait():
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
            self.finished(self)

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
            before = [len(o) for o in nr.out] if self.loop_outs else None
            nr.produce(room)
            if before:
                self._count_sent(before)
            now = clock()
            size = 1 if now - started > LATENCY else min(size * 2, largest)
            if outbox.held() >= largest or now - outbox.last_sent > LATENCY:
                outbox.send()

    def _take(self):
        """Any other node: hand what arrives to the node, in chunks sized to its function's speed.

        A fast function gets large chunks (little overhead per message); a slow
        one gets one message at a time, and its results are sent on after each.
        """
        nr, inbox, outbox = self.node_run, self.inbox, self.outbox
        clock, largest = time.perf_counter, self.largest
        loop_of_edge, feedback = self.threads.loop_of_edge, self.threads.feedback
        # a MergeSynch: per input, messages taken into its buffers whose room is not yet given back
        owed = [0] * inbox.rooms if inbox.rooms > 1 else None
        recordings = self.threads.run.recordings
        size = 1
        while True:
            if outbox is not None:
                outbox.send(keep=False)  # nothing waits here while the node waits for input
            if nr.failure is None:
                nr.state = "waiting"
            got = inbox.get()
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
                port, pos, n = edge.dst_port or 0, 0, len(batch)
                loop = loop_of_edge.get(edge)  # the loop this edge goes into or round, if any
                give_back = edge not in feedback  # a feedback edge took no room
                if owed is not None:  # a MergeSynch: room is given back as messages are paired
                    if give_back:
                        owed[port] += n
                    give_back = False
                while pos < n:
                    k = size if outbox is None or nr.failure else outbox.room(size)
                    chunk = batch if pos == 0 and k >= n else batch[pos:pos + k]
                    pos += len(chunk)
                    started = clock()
                    slow = len(chunk) == 1
                    if slow and give_back:  # a slow function: its message is taken now
                        inbox.release(1)
                    before = [len(o) for o in nr.out] if self.loop_outs else None
                    nr.take(port, edge, chunk)
                    if before:
                        self._count_sent(before)
                    if owed is not None:
                        self._give_back(owed)
                    if loop is not None and loop.handled(len(chunk)):
                        self.threads.close_loop(loop)
                    if not slow and give_back:  # a fast one: the chunk's room is given back now
                        inbox.release(len(chunk))
                    now = clock()
                    size = 1 if now - started > LATENCY else min(size * 2, largest)
                    if nr.failure is not None:
                        self._tell_receivers()  # results made before the failure go first
                    elif outbox is not None and now - outbox.last_sent > LATENCY:
                        outbox.send()

    def _give_back(self, owed):
        """A MergeSynch's new pairs each took one message of every input: give back their room.

        After a failure it pairs nothing more, and gives back all it holds.
        """
        nr = self.node_run
        paired, self.paired = nr.paired - self.paired, nr.paired  # pairs made since last time
        failed = nr.failure is not None
        for room, held in enumerate(owed):
            k = held if failed else min(held, paired)
            if k:
                owed[room] -= k
                self.inbox.release(k, room)

    def _tell_receivers(self, send=True):
        """Send what is held, then tell every receiver that this sender has ended (once)."""
        if self.receivers_told:
            return
        outbox = self.outbox
        if outbox is not None:
            if send:
                outbox.send(keep=False)
            loops = self.threads.loop_of_edge
            for pairs in outbox.ports:
                for edge, channel in pairs:
                    loop = loops.get(edge)
                    if loop is not None and edge in loop.inside:
                        continue  # an edge round a loop ends when the loop goes quiet
                    channel.end()
                    if loop is not None and loop.sender_ended():
                        self.threads.close_loop(loop)
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

    def _count_sent(self, before):
        """Count what the node just made for edges into or round a loop (termination.py)."""
        out = self.node_run.out
        for port, loops in enumerate(self.loop_outs):
            made = len(out[port]) - before[port]
            if made:
                for loop in loops:
                    loop.sent(made)


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


class Threads:
    """The threads and channels of one threaded run."""

    def __init__(self, run: Run, capacity: int, snapshot_every: float | None = None) -> None:
        net = run.net
        self.run = run
        self.every = snapshot_every  # seconds between two snapshots (snapshots.py), or None
        self.due = time.perf_counter() + (snapshot_every or 0)
        largest = min(BATCH, capacity)  # a batch never overfills a channel
        self.done = Finished()
        self.go = _StartGate()  # no node works before every thread has started
        self._left = len(net.nodes)
        self._lock = threading.Lock()
        self.loop_of_edge = run.loop_of_edge
        self.feedback = set(net.feedback_edges)  # they close a loop: never bounded (termination.py)
        self.merges = []  # the inboxes of the MergeSynch nodes
        channels, inboxes = {}, {}
        for node in net.nodes:
            if node.kind == "source":
                continue
            edges_in = [e for e in net.edges if e.dst is node]
            # a MergeSynch pairs one message from each input: each input has room of its own,
            # so that a fast input waits for a slow one while the slow one can still send
            merge = node.kind == "merge_synch"
            inbox = Channel(len(edges_in), capacity, rooms=node.num_inputs if merge else 1)
            if merge:
                self.merges.append(inbox)
            inboxes[net.name_of(node)] = inbox
            for e in edges_in:
                channels[e] = inbox
        self.channels = list(inboxes.values())
        self.channel_of = channels
        for edge, batch in run.resend:  # resume=: what was in flight waits first
            channels[edge].preload(edge, batch, counted=edge not in self.feedback)
        self.threads = {}
        self.outboxes = []
        for name, nr in run.nodes.items():
            outbox = Outbox(nr, channels, self.feedback) if nr.kind != "sink" else None
            if outbox is not None:
                self.outboxes.append(outbox)
            self.threads[name] = NodeThread(nr, inboxes.get(name), outbox, largest, self._ended,
                                            self.go, self)

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

    def close_loop(self, loop) -> None:
        """A loop has gone quiet: tell the receiver of every edge round it that the edge has ended."""
        for edge in loop.inside:
            self.channel_of[edge].end()

    def _ended(self, node_thread):
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
        try:
            for t in self.threads.values():
                t.thread.start()
        except BaseException:
            self.stop()
            raise
        self.go.open()

    def tick(self) -> None:
        """From the calling thread, every few milliseconds while the nodes work."""
        now = time.perf_counter()
        for outbox in self.outboxes:  # results that wait behind a long call go on now
            outbox.send_stalled(now, LATENCY)
        if self.merges:
            self._unblock_merges()
        if self.every is not None and now >= self.due and not self.run.recordings:
            self.due = now + self.every  # snapshot_every: the next one, once this one is taken
            self.take_snapshot()

    def _unblock_merges(self):
        """If every node waits for every other, lift the bound of the MergeSynch inputs they wait for.

        That happens when the paths into a MergeSynch deliver different numbers
        of messages (one filters): its full input waits for partners that never
        come, and the fork feeding both paths waits for that input. Without a
        bound the run goes on and ends, and the messages never paired are
        reported (MergeSynchWarning).
        """
        if any(ch.senders_waiting() for ch in self.merges) and stalled(self.channels, self._alive):
            for ch in self.merges:
                ch.unbound()

    def _alive(self):
        return self._left

    def alive(self) -> list:
        return [t for t in self.threads.values() if t.thread.ident is not None
                and t.thread.is_alive()]

    def stop(self) -> list:
        """Stop every node and wait (at most a little over STOP_GRACE) for its thread to end."""
        self.go.open(stopped=True)  # threads not yet at work end at once
        for channel in self.channels:
            channel.stop()  # wakes every node that waits for input or for room
        deadline = time.monotonic() + STOP_GRACE
        alive = self.alive()
        while alive and time.monotonic() < deadline:
            for t in alive:
                t.thread.join(0.05)
                if t.node_run.state == "busy":  # inside its function: interrupt it there
                    raise_in_thread(t.thread, Stop)
            alive = self.alive()
        return alive


def run(net: Network, timeout: float | None = None, capacity: int | None = None,
        observers: Iterable[Observer] = (), *, snapshot_every: float | None = None,
        resume=None) -> Run:
    """Run ``net`` with one thread per node (see :meth:`Network.run_network`); return the Run.

    Observers are told what ``observers.py`` describes. ``snapshot_every``:
    seconds between two snapshots; ``resume``: a Snapshot to start from.
    """
    capacity = check_arguments(timeout, capacity)
    begin(net)
    busy, stuck = "", []
    try:
        r = Run(net, observers, resume=resume)
        net.last_run = r
        threads = Threads(r, capacity, snapshot_every)
        r.take_snapshot = threads.take_snapshot
        for observer in r.observers:
            observer.started(r)
        try:
            threads.start()
        except KeyboardInterrupt:
            outcome = "interrupted"  # every thread started is stopped already
        except RuntimeError as exc:  # "can't start new thread"
            for observer in r.observers:
                observer.finished(r, "interrupted")
            raise RuntimeError(
                f"Python could not start a thread for every node of this network "
                f"({len(net.nodes)} nodes): {exc}. Each node runs in a thread of its own, and "
                f"this process may start no more. Build a smaller network, or restart the "
                f"kernel if earlier runs left threads behind.") from exc
        else:
            outcome = wait(threads.done, r.observers, timeout, tick=threads.tick)
        if outcome in ("timeout", "interrupted", "held"):
            alive = {t.node_run.name for t in threads.alive()}
            busy = still_running(r, alive=lambda nr: nr.name in alive)
            stuck = stop_anyway(threads.stop)
    finally:
        net._running = False
        if "r" in locals():
            r.take_snapshot = None
    if stuck:
        warnings.warn(
            "These nodes were still inside their function when the network stopped: "
            + ", ".join(f"'{t.node_run.name}'" for t in stuck)
            + ". Each thread ends as soon as that call returns (a long time.sleep, say).",
            NodeStillRunningWarning, stacklevel=3)
    conclude(r, outcome, busy, timeout)
    return r


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


def raise_in_thread(thread: threading.Thread, exc_type: type[BaseException]) -> None:
    """Ask Python to raise ``exc_type`` in ``thread`` at its next Python instruction."""
    if thread.ident is not None and thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                                   ctypes.py_object(exc_type))
