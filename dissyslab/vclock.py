"""The virtual clock of a seeded run: time that passes only when nothing else can happen.

A seeded run (``seeded.py``) is a discrete-event simulation with one clock:

* **Steps take no time.** A node's step (a source making a message, a node
  handling one) happens at the clock's ``now``, however long its function
  really takes.
* **Waiting takes time.** A node function that sleeps (``time.sleep(s)``, or
  a :class:`~dissyslab.timers.Timer` between two ticks) makes its step end
  ``s`` virtual seconds later: until the clock reaches that *wake time*, the
  node is asleep, and what the step made is handed on only when it wakes. A
  message held up by a ``delay`` fault arrives at its own time, and a node's
  ``timeout=`` rings at its own time: each is an *event* on this clock.
* **The clock jumps.** When no node is ready to step, the clock moves at once
  to the earliest event, and every event of that instant happens, in the order
  they were set. Then the seed chooses, as always, among the nodes now ready.

So ``g.last_run.clock`` is the virtual time at which the run ended, and the
same seed gives the same times, exactly, on any machine.

This module only keeps the time and the events. What an event *does* (wake a
node, deliver a message, ring a timeout) is the seeded scheduler's business.
"""

from __future__ import annotations

import heapq
import itertools
import threading

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any

#: virtual times are rounded to this many decimals, so that 0.1 + 0.2 and 0.3 are the same instant
DIGITS = 9

_running = {}  # ident of a thread stepping a seeded run -> its VirtualClock


def running() -> VirtualClock | None:
    """The virtual clock of the seeded run this thread is stepping, or None (any other thread)."""
    return _running.get(threading.get_ident()) if _running else None


class VirtualClock:
    """One seeded run's time (``now``), the events still to come, and what the current step slept."""

    __slots__ = ("now", "slept", "_events", "_order")

    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0.0  # virtual seconds slept so far by the function being called
        self._events = []  # heap of (time, order, event)
        self._order = itertools.count()

    # --- the thread that steps the run --------------------------------------------------
    def enter(self) -> None:
        """The calling thread steps the run from now on: its sleeps are virtual."""
        _running[threading.get_ident()] = self

    def leave(self) -> None:
        _running.pop(threading.get_ident(), None)

    # --- sleeping inside a step -------------------------------------------------------------
    def sleep(self, seconds: float) -> None:
        """A node function sleeps ``seconds``: its step will end that much later."""
        self.slept += seconds

    def take_slept(self) -> float:
        """How long the step just taken slept (0 for most steps); starts the count again."""
        s, self.slept = self.slept, 0.0
        return s

    def inside(self) -> float:
        """The time as the function being called sees it: ``now`` plus what it has slept so far."""
        return round(self.now + self.slept, DIGITS) if self.slept else self.now

    # --- events -------------------------------------------------------------------------------
    def at(self, when: float, event: Any) -> None:
        """``event`` happens at virtual time ``when`` (never before ``now``)."""
        when = round(max(when, self.now), DIGITS)
        heapq.heappush(self._events, (when, next(self._order), event))

    def after(self, seconds: float, event: Any) -> float:
        """``event`` happens ``seconds`` from now; returns its time."""
        when = round(self.now + seconds, DIGITS)
        self.at(when, event)
        return when

    def due(self) -> list:
        """The events set for now or earlier, in the order they were set (usually none)."""
        events = self._events
        if not events or events[0][0] > self.now:
            return []
        happen = []
        while events and events[0][0] <= self.now:
            happen.append(heapq.heappop(events)[2])
        return happen

    def jump(self) -> list:
        """Nothing can happen now: move to the earliest event and return every event of that instant.

        Returns [] if no event is left (then nothing will ever happen again).
        """
        if not self._events:
            return []
        self.now = self._events[0][0]
        return self.due()

    def pending(self) -> bool:
        """Are events still to come?"""
        return bool(self._events)
