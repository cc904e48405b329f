"""Time in a network: a source that ticks, and a node told when nothing has arrived.

A real distributed system notices what did *not* happen with timers: a
heartbeat that did not come, an answer that is late. Two pieces give a
network that:

* :class:`Timer`, a source that ticks: ``Timer(period=0.5, count=4)`` sends
  1, 2, 3, 4, one every 0.5 seconds, then ends (``until=`` ends it at a time
  instead). A timer always ends by itself: its ``count`` or ``until`` says
  when, and a network with timers ends once its sources and timers have
  ended and every loop is quiet.
* ``timeout=`` on a Transform, Sink or Split: ``Transform(fn=watch, timeout=2)``
  calls ``watch`` with a :class:`Timeout` (instead of a message) once the node
  has waited 2 seconds with nothing arriving. The function tells the two apart
  with ``isinstance(msg, Timeout)``, and can send something (a retry, "suspect
  the worker") or give up (return None). The rules of when it rings again, and
  why a waiting node does not end, are ``flow.Alarm``'s.

Under a seed the seconds are virtual (``vclock.py``): ticks and timeouts
happen at exact times, the same on every machine, and a run never waits for
them. In a threaded run they are real seconds at the lessons' pace
(``paced``): ``DISSYSLAB_PACE=0.05`` makes every tick and timeout 20 times
quicker, together with the pauses of the lessons' functions. Ray runs take
timers (a timer is a source) but not ``timeout=``.
"""

from __future__ import annotations

import math
import time

from .errors import short_repr
from .nodes import Source
from .pace import paced
from .vclock import running

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Timer", "Timeout"]

#: longest real sleep of a timer between two looks at the clock (a stopped run interrupts it there)
SLICE = 0.05


def check_seconds(value: Any, what: str, zero: bool = False) -> float:
    """``value`` as a number of seconds (more than 0, or at least 0 with ``zero``), or a clear error."""
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or value < 0 or (value == 0 and not zero)):
        least = "0 or more" if zero else "more than 0"
        raise ValueError(f"{what} is a number of seconds, {least} (like 0.5), but got "
                         f"{short_repr(value)}.")
    return float(value)


class Timeout:
    """What a node with ``timeout=`` receives when nothing has arrived for that long.

    ``after``: the node's timeout in seconds. ``at``: when it rang, in seconds
    of the run (virtual under a seed, so exact; real seconds in a threaded
    run). ``isinstance(msg, Timeout)`` tells it from a message.
    """

    __slots__ = ("after", "at")

    def __init__(self, after: float, at: float) -> None:
        self.after = after
        self.at = at

    def __repr__(self) -> str:
        return f"Timeout(after={self.after:g}, at={self.at:g})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timeout) and (self.after, self.at) == (other.after, other.at)

    def __hash__(self) -> int:
        return hash((Timeout, self.after, self.at))

    def __deepcopy__(self, memo: dict) -> Timeout:
        return self  # it never changes


class Ticks:
    """The function of a :class:`Timer`: waits one period, then returns the tick's number."""

    def __init__(self, period: float, count: int | None, until: float | None) -> None:
        self.period, self.count, self.until = period, count, until
        self.reset()

    def reset(self) -> None:
        """Start again from the first tick (the runtime calls it as each run begins)."""
        self.ticks = 0
        self.started = None

    def run(self) -> int | None:
        k = self.ticks + 1
        if (self.count is not None and k > self.count) or (
                self.until is not None and k * self.period > self.until + 1e-9):
            return None
        clock = running()
        if clock is not None:  # a seeded run: exactly one period of virtual time
            clock.sleep(self.period)
        else:  # real time, at the lessons' pace, kept in step with the first tick (no drift)
            now = time.monotonic()
            if self.started is None:
                self.started = now
            due = self.started + paced(k * self.period)
            while now < due:  # in short naps: a run that is stopped stops the timer at once
                time.sleep(min(SLICE, due - now))
                now = time.monotonic()
        self.ticks = k
        return k

    def __repr__(self) -> str:
        return f"Ticks(period={self.period:g})"


class Timer(Source):
    """A source that ticks: sends 1, 2, 3... one every ``period`` seconds, then ends.

    ``Timer(period=0.5, count=4)`` ticks four times, at 0.5, 1.0, 1.5 and 2.0
    seconds; ``Timer(period=1, until=10)`` ticks every second up to 10 seconds.
    Give ``count``, ``until`` or both (it ends at the first reached): a timer
    always ends by itself, so a network with one still ends. Under a seed
    the ticks come at exactly those virtual times; in a threaded run, in real
    time at the lessons' pace (``paced``).
    """

    def __init__(self, period: float, count: int | None = None, until: float | None = None,
                 name: str | None = None) -> None:
        label = f"Timer{'' if name is None else f' {name!r}'}"
        period = check_seconds(period, f"{label}: period")
        if count is None and until is None:
            raise ValueError(f"{label}: a timer must end by itself, or the network it is in never "
                             f"would: give count= (how many ticks, like count=5) or until= "
                             f"(the time of the last tick, in seconds), or both.")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)
                                  or count < 1):
            raise ValueError(f"{label}: count is how many times it ticks, a whole number of at "
                             f"least 1, but got count={short_repr(count)}.")
        if until is not None:
            until = check_seconds(until, f"{label}: until", zero=True)
        self.ticks = Ticks(period, count, until)
        super().__init__(fn=self.ticks.run, name=name)
        self.default_name = "timer"
        self.period, self.count, self.until = period, count, until

    def __repr__(self) -> str:
        ends = ", ".join(f"{k}={v:g}" for k, v in (("count", self.count), ("until", self.until))
                         if v is not None)
        return f"Timer(name={self.name!r}, period={self.period:g}, {ends})"


def refuse_timeouts(net: Any, where: str, instead: str) -> None:
    """Refuse a network with ``timeout=`` nodes where timeouts are not supported, naming them."""
    timed = [net.name_of(n) for n in net.nodes if getattr(n, "timeout", None) is not None]
    if timed:
        names = ", ".join(repr(n) for n in timed)
        raise ValueError(f"{names} {'has' if len(timed) == 1 else 'have'} timeout=, which "
                         f"{where} does not support: {instead}")
