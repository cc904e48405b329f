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

    def reserve(self, want: int, block: bool) -> int:
        """Reserve room for up to ``want`` messages: how many; at least 1 if ``block``."""
        if self.capacity is None:
            return want
        with self._lock:
            while block and self._used >= self.capacity and not self._stopped:
                self._writable.wait()
            if self._stopped:
                raise Stop
            got = max(0, min(want, self.capacity - self._used))
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

    ``room(k)`` makes sure every edge leaving the node has room for at least
    one more message and says for how many (at most ``k``) there is room on
    all of them: the node may then make that many. ``send(keep)`` hands
    the results to the node's semantics for copying (``NodeRun.hand_over``)
    and puts them in the channels; unless ``keep``, it gives back unused room,
    which a node must do before it waits, or two nodes could wait for each other.
    """

    def __init__(self, node_run: NodeRun, channels: dict[Edge, Channel]) -> None:
        self.node_run = node_run
        # per output port: [(edge, channel)], in the order of node_run.outs
        self.ports = [[(e, channels[e]) for e in edges] for edges in node_run.outs]
        self.credit = {e: 0 for edges in node_run.outs for e in edges}
        self.sent_upto = [0] * len(self.ports)  # per port: results the run's thread already sent
        self.lock = threading.Lock()
        self.last_sent = 0.0

    def held(self) -> int:
        """How many results wait here to be sent."""
        return max(len(out) - done for out, done in zip(self.node_run.out, self.sent_upto, strict=True))

    def room(self, want: int) -> int:
        """Room on every edge for how many more messages (1 to ``want``); waits if there is none."""
        out, credit = self.node_run.out, self.credit
        while True:
            with self.lock:  # the run's thread may be sending (send_stalled)
                k, full = want, None
                for port, pairs in enumerate(self.ports):
                    held = len(out[port]) - self.sent_upto[port]
                    for edge, channel in pairs:
                        free = credit[edge] - held
                        if free < want:
                            got = channel.reserve(want - free, block=False)
                            credit[edge] += got
                            free += got
                        if free < k:
                            k, full = free, edge
                if k > 0:
                    return k
            # no room on one edge: send everything, give back all room, then wait there
            self.send(keep=False)
            got = self._channel_of(full).reserve(want, block=True)
            with self.lock:
                credit[full] += got

    def _channel_of(self, edge):
        for pairs in self.ports:
            for e, channel in pairs:
                if e is edge:
                    return channel
        raise KeyError(edge)

    def send(self, keep: bool = True) -> None:
        """Send every result held here; unless ``keep``, give back the room not used."""
        node_run, credit = self.node_run, self.credit
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
                    for edge, channel in pairs:
                        channel.release(credit[edge])
                        credit[edge] = 0

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
        for (edge, channel), batch in zip(pairs, batches, strict=True):
            if batch:
                channel.put(edge, batch)
                self.credit[edge] -= len(batch)
