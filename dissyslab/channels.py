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
  A MergeSynch has room per input, and gives it back as it pairs messages.
* An :class:`Outbox` keeps a node's results until there are enough to send
  in one go, with the room it reserved for them. It sends them before its node
  waits for anything, so nothing is held back while the node is idle.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Callable

from .semantics import NodeRun, Stop

if TYPE_CHECKING:
    from .graph import Edge


class Channel:
    """Batches of messages from one or more senders to one receiver.

    ``capacity`` None means no bound. ``get`` returns every waiting batch at
    once, or None when every sender has ended and nothing is left; after
    ``stop`` every waiting call raises :class:`Stop`.

    The room is one for the whole node, or with ``rooms=k`` one per input of
    a MergeSynch (``room_of(edge)`` says which): a fast input then waits for
    a slow one, while the slow one can still send. ``waiting`` counts the
    threads blocked here and not yet woken (see :func:`stalled`).
    """

    def __init__(self, senders: int, capacity: int | None, rooms: int = 1) -> None:
        self._lock = threading.Lock()
        self._readable = threading.Condition(self._lock)
        self._writable = threading.Condition(self._lock)
        self._batches = deque()
        self.capacity = capacity
        self.rooms = rooms
        self._limit = [capacity] * rooms  # None: no bound (any more)
        self._used = [0] * rooms  # room reserved by senders and not yet released by the receiver
        self._senders = senders
        self._stopped = False
        self._readers = 0  # threads waiting for messages, not yet woken
        self._writers = [0] * rooms  # threads waiting for room, not yet woken

    def room_of(self, edge: Edge) -> int:
        """Which room a message along ``edge`` takes."""
        return (edge.dst_port or 0) if self.rooms > 1 else 0

    def reserve(self, want: int, block: bool, at_least: int = 1, room: int = 0) -> int:
        """Reserve room for up to ``want`` messages and say for how many.

        Without ``block`` it may be 0. With ``block`` it waits until there is
        room for ``at_least``. (A node that sends one message along more edges
        into this node than ``capacity`` gets that room once nothing else
        waits here, or it could never send: the one case where more than
        ``capacity`` messages may wait.)
        """
        if self.capacity is None:
            return want
        used = self._used
        with self._lock:
            while True:
                limit = self._limit[room]
                if self._stopped:
                    raise Stop
                if limit is None:
                    return want
                if not (block and used[room] and limit - used[room] < at_least):
                    break
                self._writers[room] += 1
                self._writable.wait()  # whoever wakes us takes us off _writers
            got = max(0, min(want, limit - used[room]))
            if block and got < at_least:  # the room is empty
                got = at_least
            used[room] += got
            return got

    def release(self, n: int, room: int = 0) -> None:
        """Give back room for ``n`` messages (handled by the receiver, or reserved but unused)."""
        if self.capacity is None or n <= 0:
            return
        with self._lock:
            self._used[room] -= n
            self._wake_writers()

    def senders_waiting(self) -> bool:
        """Does a sender wait for room here? (A glance, without the lock.)"""
        return any(self._writers)

    def unbound(self) -> bool:
        """Lift the bound of every full room that senders wait for; True if there was one.

        Only for a MergeSynch whose whole network waits (see :func:`stalled`).
        """
        with self._lock:
            full = [r for r, w in enumerate(self._writers) if w]
            for r in full:
                self._limit[r] = None
            self._wake_writers()
            return bool(full)

    def _wake_writers(self):
        if any(self._writers):
            self._writers = [0] * self.rooms
            self._writable.notify_all()

    def put(self, edge: Edge, batch: list) -> None:
        """Add a batch for which room was reserved."""
        with self._lock:
            if self._stopped:
                raise Stop
            self._batches.append((edge, batch))
            self._wake_reader()

    def preload(self, edge: Edge, batch: list, counted: bool = True) -> None:
        """Messages that wait before the run starts (``resume=``); ``counted``: they take room."""
        with self._lock:
            if counted and self.capacity is not None:
                self._used[self.room_of(edge)] += len(batch)
            self._batches.append((edge, batch))

    def end(self) -> None:
        """One sender has ended."""
        with self._lock:
            self._senders -= 1
            self._wake_reader()

    def get(self) -> deque | None:
        """Every waiting ``(edge, batch)``; None once all senders ended and nothing is left."""
        with self._lock:
            while not self._batches:
                if self._stopped:
                    raise Stop
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

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._readers = 0
            self._writers = [0] * self.rooms
            self._readable.notify_all()
            self._writable.notify_all()


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


class Outbox:
    """A node's results waiting to be sent, per output port, with the room reserved for them.

    ``room(k)`` makes sure every node this one sends to has room for at least
    one more of its messages and says for how many (at most ``k``) there is
    room everywhere: the node may then handle that many. ``send(keep)`` hands
    the results to the node's semantics for copying (``NodeRun.hand_over``)
    and puts them in the channels; unless ``keep``, it gives back unused room,
    which a node must do before it waits, or two nodes could wait for each other.
    """

    def __init__(self, node_run: NodeRun, channels: dict[Edge, Channel],
                 unbounded: frozenset | set = frozenset()) -> None:
        self.node_run = node_run
        # per output port: [(edge, channel)], in the order of node_run.outs
        self.ports = [[(e, channels[e]) for e in edges] for edges in node_run.outs]
        # room is reserved per receiving room (a channel's, or one input's of a MergeSynch),
        # for the edges that need it: not into an unbounded channel, and not one of the
        # ``unbounded`` edges (those that close a loop: a loop must never wait for itself).
        # A message takes one place per edge.
        self.needs = {}  # (channel, room) -> [port of each edge into it that needs room]
        self.bounded = {}  # those edges -> their (channel, room)
        for port, pairs in enumerate(self.ports):
            for e, ch in pairs:
                if ch.capacity is not None and e not in unbounded:
                    place = (ch, ch.room_of(e))
                    self.needs.setdefault(place, []).append(port)
                    self.bounded[e] = place
        self.credit = {place: 0 for place in self.needs}  # room reserved and not yet used
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
        out, credit, done = self.node_run.out, self.credit, self.sent_upto
        while True:
            with self.lock:  # the run's thread may be sending (send_stalled)
                k, full = want, None
                for place, ports in self.needs.items():
                    per = len(ports)  # places one message takes in this room
                    free = credit[place] - sum(len(out[p]) - done[p] for p in ports)
                    if free < want * per:
                        channel, room = place
                        got = channel.reserve(want * per - free, block=False, room=room)
                        credit[place] += got
                        free += got
                    if free // per < k:
                        k, full = free // per, place
                if k > 0:
                    return k
            # no room in one place: send everything, give back all room, then wait there
            self.send(keep=False)
            per = len(self.needs[full])
            got = full[0].reserve(per, block=True, at_least=per, room=full[1])
            with self.lock:
                credit[full] += got

    def send(self, keep: bool = True) -> None:
        """Send every result held here; unless ``keep``, give back the room not used."""
        node_run = self.node_run
        with self.lock:
            for port, pairs in enumerate(self.ports):
                items, done = node_run.out[port], self.sent_upto[port]
                if len(items) > done:
                    node_run.out[port] = []
                    self.sent_upto[port] = 0
                    self._put(port, pairs, items[done:] if done else items)
                elif done:
                    node_run.out[port] = []
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
                items, done = self.node_run.out[port], self.sent_upto[port]
                end = len(items)
                if end > done:
                    self._put(port, pairs, items[done:end])
                    self.sent_upto[port] = end
        except Stop:
            pass  # the node's own thread meets the same stop
        finally:
            self.lock.release()

    def _put(self, port, pairs, items):
        self.last_sent = time.perf_counter()
        batches = self.node_run.hand_over(port, items)
        credit = self.credit
        for (edge, channel), batch in zip(pairs, batches, strict=True):
            if batch:
                channel.put(edge, batch)
                place = self.bounded.get(edge)
                if place is not None:
                    credit[place] -= len(batch)
