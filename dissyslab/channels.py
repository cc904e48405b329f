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
* An :class:`Outbox` keeps a node's results until there are enough to send
  in one go, with the room it reserved for them. It sends them before its node
  waits for anything, so nothing is held back while the node is idle.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING

from .semantics import NodeRun, Stop

if TYPE_CHECKING:
    from .graph import Edge


class Channel:
    """Batches of messages from one or more senders to one receiver.

    ``capacity`` None means no bound. ``get`` returns every waiting batch at
    once, or None when every sender has ended and nothing is left; after
    ``stop`` every waiting call raises :class:`Stop`.
    """

    def __init__(self, senders: int, capacity: int | None) -> None:
        self._lock = threading.Lock()
        self._readable = threading.Condition(self._lock)
        self._writable = threading.Condition(self._lock)
        self._batches = deque()
        self._used = 0  # room reserved by senders and not yet released by the receiver
        self.capacity = capacity
        self._senders = senders
        self._stopped = False

    def reserve(self, want: int, block: bool, at_least: int = 1) -> int:
        """Reserve room for up to ``want`` messages and say for how many.

        Without ``block`` it may be 0. With ``block`` it waits until there is
        room for ``at_least``. (A node that sends one message along more edges
        into this node than ``capacity`` gets that room once nothing else
        waits here, or it could never send: the one case where more than
        ``capacity`` messages may wait.)
        """
        if self.capacity is None:
            return want
        with self._lock:
            while (block and self._used and self.capacity - self._used < at_least
                   and not self._stopped):
                self._writable.wait()
            if self._stopped:
                raise Stop
            got = max(0, min(want, self.capacity - self._used))
            if block and got < at_least:  # the channel is empty
                got = at_least
            self._used += got
            return got

    def release(self, n: int) -> None:
        """Give back room for ``n`` messages (handled by the receiver, or reserved but unused)."""
        if self.capacity is None or n <= 0:
            return
        with self._lock:
            self._used -= n
            self._writable.notify_all()

    def put(self, edge: Edge, batch: list) -> None:
        """Add a batch for which room was reserved."""
        with self._lock:
            if self._stopped:
                raise Stop
            self._batches.append((edge, batch))
            self._readable.notify()

    def end(self) -> None:
        """One sender has ended."""
        with self._lock:
            self._senders -= 1
            self._readable.notify()

    def get(self) -> deque | None:
        """Every waiting ``(edge, batch)``; None once all senders ended and nothing is left."""
        with self._lock:
            while not self._batches:
                if self._stopped:
                    raise Stop
                if self._senders <= 0:
                    return None
                self._readable.wait()
            if self._stopped:
                raise Stop
            batches, self._batches = self._batches, deque()
            return batches

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._readable.notify_all()
            self._writable.notify_all()


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
        # room is reserved per receiving channel, for the edges that need it: not into an
        # unbounded channel, and not one of the ``unbounded`` edges (those that close a loop:
        # a loop must never wait for itself). A message takes one place per edge.
        self.needs = {}  # channel -> [port of each edge into it that needs room]
        self.bounded = set()  # those edges
        for port, pairs in enumerate(self.ports):
            for e, ch in pairs:
                if ch.capacity is not None and e not in unbounded:
                    self.needs.setdefault(ch, []).append(port)
                    self.bounded.add(e)
        self.credit = {ch: 0 for ch in self.needs}  # room reserved and not yet used
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
                for channel, ports in self.needs.items():
                    per = len(ports)  # places one message takes in this channel
                    free = credit[channel] - sum(len(out[p]) - done[p] for p in ports)
                    if free < want * per:
                        got = channel.reserve(want * per - free, block=False)
                        credit[channel] += got
                        free += got
                    if free // per < k:
                        k, full = free // per, channel
                if k > 0:
                    return k
            # no room in one channel: send everything, give back all room, then wait there
            self.send(keep=False)
            got = full.reserve(len(self.needs[full]), block=True, at_least=len(self.needs[full]))
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
                for channel, unused in self.credit.items():
                    channel.release(unused)
                    self.credit[channel] = 0

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
                if edge in self.bounded:
                    credit[channel] -= len(batch)
