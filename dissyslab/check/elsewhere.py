"""Where a check's network lives: here, or in another process that answers for it.

In a notebook every network, function and list a check is given lives in the
notebook's own process, and the checks look at it directly. When an exercise is
graded, the test cells run in the grading process while the student's objects
stay in the student's sandboxed process; the grading machinery
(``dissyslab.check.grading``) stands in for them there, and while a test cell
runs it names, with :func:`answering`, the process that answers for them.

This module is the one place the checks meet that machinery. A check asks
:func:`elsewhere` about a value: None means the value lives here; otherwise the
answer is that other process, and the check asks it to describe or run the
value (the :class:`Process` questions below) and judges the reply itself.
Nothing here imports the grading machinery, so ``import dissyslab.check``
never loads it.
"""

import contextlib
from collections.abc import Iterator
from typing import Any, Protocol


class Process(Protocol):
    """Another process holding the objects a check is given (while grading: the student's)."""

    def owns(self, value: Any) -> bool:
        """True if ``value`` stands for an object of that process (a network, a function...)."""

    def shape(self, g: Any, name: str, hint: str | None) -> Any:
        """A copy, made here, of its network ``g`` (nodes, names, params, edges); functions stand in."""

    def run(self, g: Any, timeout: float, inputs: dict | None, seed: int | None,
            capacity: int | None, name: str, call_sinks: bool, meter: list | None,
            run_class: type) -> Any:
        """Run a fresh copy of its network ``g`` there; a ``run_class`` of what it reported.

        ``meter``: names of nodes whose calls running at the same moment are counted
        (the most at once is the result's ``peak``).
        """

    def build_run(self, build: Any, seed: int | None, timeout: float,
                  run_class: type) -> tuple:
        """Call its ``build()`` there and run the network it returns.

        Returns (a ``run_class``, None, the state as data), or (None, what build
        returned, None) when it did not return ``(network, state)``.
        """

    def explore(self, g: Any, build: Any, inputs: dict | None, max_steps: int | None,
                max_schedules: int, timeout: float, name: str) -> Any:
        """Explore every schedule of a copy of its network ``g`` (or of what its ``build()`` makes).

        Returns the search's report as plain data (``dissyslab.check.every.collect``),
        which the check judges here (``every.judge``) before believing it.
        """

    def same_function(self, stand_in: Any, fn: Any) -> bool:
        """True if the function that ``stand_in`` stands for is ``fn`` (an object, or a name)."""

    def holds_its_objects(self, value: Any) -> bool:
        """True if data it sent holds objects of that process (so it is not plain data)."""

    def beside(self, code: str) -> dict:
        """Run instructor code there (``check.run_beside``); {name: what it defined}."""


_answering: Process | None = None


def elsewhere(value: Any) -> Process | None:
    """The process that ``value`` lives in if it is not this one, else None."""
    there = _answering
    if there is not None and there.owns(value):
        return there
    return None


def other_process() -> Process | None:
    """The process answering for a test cell's names (while grading), else None."""
    return _answering


@contextlib.contextmanager
def answering(process: Process) -> Iterator[None]:
    """While this runs, ``process`` answers for the objects that it owns (a test cell, grading)."""
    global _answering
    before, _answering = _answering, process
    try:
        yield
    finally:
        _answering = before


__all__ = ["Process", "elsewhere", "other_process", "answering"]
