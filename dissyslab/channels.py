"""How messages travel between threads: bounded channels, and batches behind them.

This is transport only: it never changes what a network computes (that is
``semantics.py``), only how fast and how much memory it takes.

* A :class:`Channel` sits in front of one node and holds what its senders
  sent and it has not handled yet, as ``(edge, batch)`` in arrival order.
* ``capacity`` is exact: at no moment do more than ``capacity`` messages wait
  for one node, counting those its senders hold back in a batch and those it
  has taken out but not yet given to its function. A sender *reserves room*
  before it makes messages (:meth:`Channel.reserve`), and the receiver gives
  the room back once its function has had them (:meth:`Channel.release`).
  How much room there is, and when it comes back (a MergeSynch's as it pairs
  messages) is the rule of ``flow.Room``; a channel guards it with a lock.
* An :class:`Outbox` keeps a node's results until there are enough to send
  in one go, with the room it reserved for them. It sends them before its node
  waits for anything, so nothing is held back while the node is idle.
* :func:`inboxes` makes the channels of a run; :func:`lift_when_stalled`
  applies ``flow.Room``'s lifting rule once every node thread waits.
* A :class:`Courier` carries what goes along an edge with a ``delay`` fault
  (``faults.py``): a channel hands it those batches, and the end of the edge,
  and it puts each message in the channel at its time, in order.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Callable

from .flow import Room
from .semantics import NodeRun, Stop

if TYPE_CHECKING:
    from .flow import Flow
    from .nodes import Edge
    from .shapes import Graph


class Channel:
    """Batches of messages from one or more senders to one receiver, and the room in front of it.

    ``get`` returns every waiting batch at once, or None when every sender
    has ended and nothing is left; after ``stop`` every waiting call raises
    :class:`Stop`. How much room there is, and when it comes back, is the
    :class:`~dissyslab.flow.Room`'s rule: this class only guards it with a
    lock and makes threads wait for it. ``waiting`` counts the threads
    blocked here and not yet woken (see :func:`stalled`).
    """

    def __init__(self, senders: int, room: Room) -> None:
        self._lock = threading.Lock()
        self._readable = threading.Condition(self._lock)
        self._writable = threading.Condition(self._lock)
        self._batches = deque()
        self.room = room
        self.capacity = room.capacity
        self._senders = senders
        self._stopped = False
        self._readers = 0  # threads waiting for messages, not yet woken
        self._timed = 0  # a thread waiting for messages until its timeout (not counted as stuck)
        self._writers = [0] * len(room.used)  # threads waiting for room, not yet woken
        self.late = None  # a Courier, if an edge into this channel has a delay fault

    def reserve(self, want: int, block: bool, at_least: int = 1, room: int = 0) -> int:
        """Reserve up to ``want`` slots in ``room`` and say how many (:meth:`Room.grant`).

        Without ``block`` it may be 0. With ``block`` it waits until there are
        at least ``at_least`` (the slots one message takes).
        """
        if self.capacity is None:
            return want
        r = self.room
        with self._lock:
            while True:
                if self._stopped:
                    raise Stop
                got = r.grant(room, want, at_least)
                if got >= at_least or not block:
                    break
                self._writers[room] += 1
                self._writable.wait()  # whoever wakes us takes us off _writers
            r.take(room, got)
            return got

    def release(self, n: int, room: int = 0) -> None:
        """Give back ``n`` slots (handled by the receiver, or reserved but unused)."""
        if self.capacity is None or n <= 0:
            return
        with self._lock:
            self.room.give(room, n)
            self._wake_writers()

    def give_back(self, flow: Flow, edge: Edge, n: int) -> None:
        """The receiver has taken ``n`` messages that came along ``edge``: the slots that frees
        (the flow's rule, :meth:`Flow.give_back`) are given back, and waiting senders wake."""
        if self.capacity is None:
            return
        with self._lock:
            flow.give_back(self.room, edge, n)
            self._wake_writers()

    def give_paired(self, pairs: int, failed: bool) -> None:
        """A MergeSynch made ``pairs`` pairs (or failed): give back what :meth:`Room.give_paired`
        frees, and wake waiting senders."""
        if self.capacity is None or (pairs <= 0 and not failed):
            return
        with self._lock:
            self.room.give_paired(pairs, failed)
            self._wake_writers()

    def senders_waiting(self) -> bool:
        """Does a sender wait for room here? (A glance, without the lock.)"""
        return any(self._writers)

    def unbound(self) -> bool:
        """Lift the bound of every room that senders wait for, if the Room allows it; True if any.

        Only when the whole network waits (see :func:`stalled` and :meth:`Room.lift`).
        """
        with self._lock:
            full = [r for r, w in enumerate(self._writers) if w and self.room.liftable(r)]
            for r in full:
                self.room.lift(r)
            self._wake_writers()
            return bool(full)

    def _wake_writers(self):
        if any(self._writers):
            self._writers = [0] * len(self._writers)
            self._writable.notify_all()

    def put(self, edge: Edge, batch: list) -> None:
        """Add a batch for which room was reserved (along a delayed edge: by the courier, later)."""
        if self.late is not None and edge in self.late.delays:
            self.late.carry(self, edge, batch)
            return
        self.arrive(edge, batch)

    def arrive(self, edge: Edge, batch: list) -> None:
        """Add a batch now."""
        with self._lock:
            if self._stopped:
                raise Stop
            self._batches.append((edge, batch))
            self._wake_reader()

    def preload(self, edge: Edge, batch: list, counted: bool = True) -> None:
        """Messages that wait before the run starts (``resume=``); ``counted``: they take room."""
        with self._lock:
            if counted and self.capacity is not None:
                self.room.take(self.room.room_of(edge), len(batch))
            self._batches.append((edge, batch))

    def end(self, edge: Edge | None = None) -> None:
        """One sender (or one edge round a loop) has ended: ``edge``, after what is on its way."""
        if self.late is not None and edge in self.late.delays:
            self.late.carry(self, edge, None)
            return
        with self._lock:
            self._senders -= 1
            self._wake_reader()

    def get(self, timeout: float | None = None) -> deque | tuple | None:
        """Every waiting ``(edge, batch)``; None once all senders ended and nothing is left.

        With ``timeout`` (a node's ``timeout=``, ``flow.Alarm``): ``()`` if
        nothing came for that many seconds, even once every sender has ended.
        """
        with self._lock:
            deadline = None if timeout is None else time.monotonic() + timeout
            while not self._batches:
                if self._stopped:
                    raise Stop
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return ()
                    self._timed += 1
                    try:
                        self._readable.wait(left)
                    finally:
                        self._timed -= 1
                    continue
                if self._senders <= 0:
                    return None
                self._readers += 1
                self._readable.wait()  # whoever wakes us takes us off _readers
            if self._stopped:
                raise Stop
            batches, self._batches = self._batches, deque()
            return batches

    def _wake_reader(self):
        if self._readers:
            self._readers -= 1
            self._readable.notify()
        elif self._timed:
            self._readable.notify()

    def open(self) -> bool:
        """Has a sender (or an edge round a loop) not ended yet?"""
        return self._senders > 0

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._readers = 0
            self._writers = [0] * len(self._writers)
            self._readable.notify_all()
            self._writable.notify_all()


def inboxes(net: Graph, capacity: int) -> tuple[dict[str, Channel], dict[Edge, Channel]]:
    """A :class:`Channel` in front of each node that receives: by the node's name, and by edge.

    All the senders of a node share its inbox; a MergeSynch's has a room per input.
    """
    by_name, by_edge = {}, {}
    for node in net.nodes:
        if node.kind == "source":
            continue
        edges_in = [e for e in net.edges if e.dst is node]
        merge = node.kind == "merge_synch"
        inbox = Channel(len(edges_in), Room(capacity, node.num_inputs if merge else 1, merge))
        by_name[net.name_of(node)] = inbox
        by_edge.update((e, inbox) for e in edges_in)
    return by_name, by_edge


def stalled(channels: list[Channel], alive: Callable[[], int]) -> bool:
    """Is every node thread blocked in one of ``channels``, with no one left to wake it?

    The count is taken with every channel locked at once, so it is exact: no
    thread can wake another meanwhile. ``alive()`` counts the node threads
    that have not ended.
    """
    locked = []
    try:
        for ch in channels:
            ch._lock.acquire()
            locked.append(ch)
        blocked = sum(ch._readers + sum(ch._writers) for ch in channels)
        return blocked > 0 and blocked >= alive()
    finally:
        for ch in locked:
            ch._lock.release()


def lift_when_stalled(merges: list[Channel], channels: list[Channel],
                      alive: Callable[[], int]) -> None:
    """The Room's lifting rule (``flow.py``) for threads: when a sender waits for room at one of
    the MergeSynch inboxes ``merges`` and every node thread waits (:func:`stalled`), lift the
    bound of the full inputs waited for."""
    if any(ch.senders_waiting() for ch in merges) and stalled(channels, alive):
        for ch in merges:
            ch.unbound()


class Outbox:
    """A node's results waiting to be sent, per output port, with the room reserved for them.

    ``room(k)`` makes sure every node this one sends to has room for at least
    one more of its messages and says for how many (at most ``k``) there is
    room everywhere: the node may then handle that many. ``send(keep)`` hands
    the results over (``NodeRun.hand_over``: the copies were made with them)
    and puts them in the channels; unless ``keep``, it gives back unused room,
    which a node must do before it waits, or two nodes could wait for each other.
    """

    def __init__(self, node_run: NodeRun, channels: dict[Edge, Channel], flow: Flow) -> None:
        self.node_run = node_run
        # per output port: [(edge, channel)], in the order of node_run.outs
        self.ports = [[(e, channels[e]) for e in edges] for edges in node_run.outs]
        # room is reserved per receiving room, a *target* (channel, room), for the edges that take
        # room (flow.bounded). A message takes one slot per edge into a target.
        self.needs = {}  # target -> [port of each edge into it that takes room]
        self.bounded = {}  # those edges -> their target
        for port, pairs in enumerate(self.ports):
            for e, ch in pairs:
                if ch.capacity is not None and flow.bounded(e):
                    target = (ch, ch.room.room_of(e))
                    self.needs.setdefault(target, []).append(port)
                    self.bounded[e] = target
        self.credit = dict.fromkeys(self.needs, 0)  # room reserved and not yet used
        self.sent_upto = [0] * len(self.ports)  # per port: results the run's thread already sent
        self.lock = threading.Lock()
        self.last_sent = 0.0

    def held(self) -> int:
        """How many results wait here to be sent."""
        return max(len(out) - done for out, done in zip(self.node_run.out, self.sent_upto, strict=True))

    def room(self, want: int) -> int:
        """Room everywhere for how many more messages (1 to ``want``); waits if there is none."""
        if not self.needs:
            return want
        while True:
            with self.lock:  # the run's thread may be sending (send_stalled)
                k, full = self._free(want)
                if k > 0:
                    return k
            # no room in one target: send everything, give back all room, then wait there
            self.send(keep=False)
            per = len(self.needs[full])
            got = full[0].reserve(per, block=True, at_least=per, room=full[1])
            with self.lock:
                self.credit[full] += got

    def _free(self, want):
        """(messages there is room for everywhere, up to ``want``; the target with least room)."""
        out, credit, done = self.node_run.out, self.credit, self.sent_upto
        k, full = want, None
        for target, ports in self.needs.items():
            per = len(ports)  # slots one message takes in this target
            free = credit[target] - sum(len(out[p]) - done[p] for p in ports)
            if free < want * per:
                channel, room = target
                got = channel.reserve(want * per - free, block=False, at_least=max(0, per - free),
                                      room=room)
                credit[target] += got
                free += got
            if free // per < k:
                k, full = free // per, target
        return k, full

    def send(self, keep: bool = True) -> None:
        """Send every result held here; unless ``keep``, give back the room not used."""
        node_run = self.node_run
        with self.lock:
            for port, pairs in enumerate(self.ports):
                done = self.sent_upto[port]
                if len(node_run.out[port]) > done:
                    self.sent_upto[port] = 0
                    self._put(pairs, node_run.hand_over(port, start=done))
                elif done:
                    node_run.hand_over(port, start=done)  # nothing new: start a new list
                    self.sent_upto[port] = 0
            if not keep:
                for (channel, room), unused in self.credit.items():
                    channel.release(unused, room)
                    self.credit[channel, room] = 0

    def send_marker(self, marker: object) -> None:
        """Send every result held here, then ``marker`` along every edge: it takes no room."""
        self.send(keep=True)
        with self.lock:
            for pairs in self.ports:
                for edge, channel in pairs:
                    channel.put(edge, marker)

    def send_stalled(self, now: float, latency: float) -> None:
        """From the run's thread: send results that wait behind a long call of the node's function.

        A function that was fast and then blocks (a source polling for data,
        say) would otherwise hold the results it already made until it returns.
        The results stay in the node's list (its thread may be adding to it);
        ``sent_upto`` remembers how far they were sent.
        """
        if now - self.last_sent <= latency or not self.lock.acquire(blocking=False):
            return
        try:
            for port, pairs in enumerate(self.ports):
                done, end = self.sent_upto[port], len(self.node_run.out[port])
                if end > done:
                    self._put(pairs, self.node_run.hand_over(port, done, end, clear=False))
                    self.sent_upto[port] = end
        except Stop:
            pass  # the node's own thread meets the same stop
        finally:
            self.lock.release()

    def _put(self, pairs, batches):
        self.last_sent = time.perf_counter()
        credit = self.credit
        for (edge, channel), batch in zip(pairs, batches, strict=True):
            if batch:
                channel.put(edge, batch)
                target = self.bounded.get(edge)
                if target is not None:
                    credit[target] -= len(batch)


class Courier:
    """Carries the batches of delayed edges (``delay`` faults) to their channels, each at its time.

    ``delays`` maps each delayed edge to its ``faults.Delay``, which says how
    late each message is (real seconds at the lessons' pace). A message is
    never put before one sent before it along the same edge, and an edge's end
    (and a snapshot's marker) comes behind what is on its way. Its room was
    reserved by the sender, as for any message on its way. One thread does it
    all; it ends once every delayed edge has ended, or when stopped. The
    channels of the delayed edges (in ``channels``, by edge) hand it their batches.
    """

    def __init__(self, delays: dict, channels: dict[Edge, Channel]) -> None:
        from .pace import paced

        for edge in delays:
            channels[edge].late = self
        self.delays = delays
        self.paced = paced
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._due = []  # heap of (time, order, channel, edge, batch or None for the end)
        self._order = itertools.count()
        self._last = {}  # edge -> when its last message is put (monotonic)
        self._open = len(delays)  # delayed edges not yet ended
        self._stopped = False
        self.thread = threading.Thread(target=self._main, name="dissyslab courier", daemon=True)

    def carry(self, channel: Channel, edge: Edge, batch: list | None) -> None:
        """Put ``batch`` (None: the edge's end; a Marker) in ``channel`` when it is due."""
        now = time.monotonic()
        with self._lock:
            if self._stopped:
                raise Stop
            last = self._last.get(edge, now)
            if batch is None or batch.__class__ is not list:  # the end, or a marker
                heapq.heappush(self._due, (max(now, last), next(self._order), channel, edge, batch))
            else:
                delay = self.delays[edge]
                for msg in batch:
                    when = max(now + self.paced(delay.seconds_for(edge, msg)), last)
                    heapq.heappush(self._due, (when, next(self._order), channel, edge, [msg]))
                    last = when
                self._last[edge] = last
            self._changed.notify()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._changed.notify()
        if self.thread.ident is not None and self.thread is not threading.current_thread():
            self.thread.join()

    def _main(self):
        due = self._due
        while True:
            with self._lock:
                while not self._stopped and (self._open or due):
                    wait = due[0][0] - time.monotonic() if due else None
                    if wait is not None and wait <= 0:
                        break
                    self._changed.wait(wait)
                if self._stopped or not due:
                    return
                _, _, channel, edge, batch = heapq.heappop(due)
                if batch is None:
                    self._open -= 1
            try:
                if batch is None:
                    channel.end()
                else:
                    channel.arrive(edge, batch)
            except Stop:
                return
