"""Checks over every schedule: the exhaustive search (``dissyslab.exhaustive``) in a test cell.

``check.explore(g, check=...)`` explores every schedule of a copy of the
student's network, as ``g.explore(exhaustive=True)`` does, and returns the same
kind of result (:class:`~dissyslab.exhaustive.ExhaustiveExploration`): the
outcomes per sink with a schedule for each, how many schedules were explored,
whether the search was complete, and the first schedule that broke ``check``.
``check.every_schedule(g, prop)`` fails, with that counterexample, unless the
search was complete and ``prop`` held for every run.

The search runs where the network lives (while grading: in the student's
process) and sends back a *report*, plain data: each distinct run (what each
sink received, what was left unpaired, which nodes failed, how it ended, a
schedule), and which distinct run each schedule gave, in the order explored.
The test's ``check`` is called here, on the report, never in the student's
process; :func:`judge` checks the report on arrival (sizes, indexes, the
bounds that were asked for) before it believes any of it, so what comes back
bounds the work done here.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace
from typing import Any, Callable

from ..errors import NetworkError, NetworkTimeout
from ..exhaustive import Choice, ExhaustiveExploration, Found, RunResult, Schedule, explore_all
from .elsewhere import elsewhere
from .failure import CheckFailed, fail, show

#: schedules a check explores unless the test says otherwise
SCHEDULES = 10_000
#: most schedules a check may explore (and so most runs a report may hold)
MAX_SCHEDULES = 20_000
#: most choices of one schedule in a report
MAX_CHOICES = 10_000
#: seconds one run of the search may take unless the test says otherwise
RUN_TIMEOUT = 5
#: most values (messages, and the items inside them) of a report the grader looks at
MAX_VALUES = 5_000_000
#: most sinks a report may name
MAX_SINKS = 100
_STOPS = (None, "max_steps", "max_schedules", "interrupted")


# --- where the network lives: run the search, report plain data ---------------------------
def collect(g: Any = None, build: Callable | None = None, inputs: dict | None = None,
            max_steps: int | None = None, max_schedules: int = SCHEDULES,
            timeout: float = RUN_TIMEOUT, name: str = "g") -> dict:
    """Explore every schedule of a copy of ``g`` (or of what ``build()`` makes); the report.

    The copy records what its sinks receive and does not call the student's
    sink functions. Raises :class:`CheckFailed` when the network cannot be
    explored (its state cannot be put back, say), saying what to do.
    """
    __tracebackhide__ = True
    from .runs import build_copy

    def copy(net):
        return build_copy(net, inputs=inputs, name=name, call_sinks=False)[0]

    runs, keys, order = [], {}, []

    def record(result):
        key = (show(result.received, 100_000), show(result.unpaired, 10_000),
               tuple(f.summary() for f in result.failures), result.ended, result.deadlocked,
               result.bounded)
        k = keys.get(key)
        if k is None:
            k = keys[key] = len(runs)
            runs.append({
                "received": {s: list(m) for s, m in result.received.items()},
                "unpaired": {m: {p: list(v) for p, v in ports.items()}
                             for m, ports in result.unpaired.items()},
                "failures": [{"node": f.name, "summary": f.summary()}
                             for f in result.failures],
                "ended": result.ended, "deadlocked": result.deadlocked,
                "bounded": result.bounded,
                "schedule": [[c.step, c.node, c.edge, c.sender] for c in result.schedule]})
        order.append(k)
        return True

    if build is not None:
        if not callable(build):
            fail(f"build= should be a function that makes a fresh network, but it is "
                 f"{show(build, 60)}.", hint="pass the function itself, without calling it: "
                                              "build=make_network.")
        options = {"build": lambda: copy(build())}
    else:
        options = {"net": copy(g)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ex = explore_all(**options, check=record, max_steps=max_steps,
                             max_schedules=max_schedules, timeout=timeout, progress=False)
        except NetworkTimeout as err:
            fail(f"One run of your network did not finish within {timeout:g} seconds while every "
                 f"schedule was explored.", got=str(err)[:600],
                 hint="a node that waits (time.sleep, input) or a source that never ends makes "
                      "every schedule slow: keep the network's functions quick.")
        except (ValueError, NetworkError) as err:
            text = str(err).replace("g.explore(exhaustive=True, build=make_network)",
                                    "build=make_network")
            fail(f"Your network cannot be explored schedule by schedule: {text[:1500]}",
                 hint="build the network in a function (def make_network(): ... return "
                      "network([...])) so that every schedule starts fresh.")
    return {"sinks": list(ex.outcomes), "runs": runs, "order": order,
            "stopped_by": ex.stopped_by if ex.stopped_by != "check" else None,
            "reduced": ex.reduced, "notes": [str(n)[:2000] for n in ex.notes],
            "warnings": list(dict.fromkeys(str(w.message)[:2000] for w in caught))[:20]}


# --- where the test runs: believe nothing, then judge ----------------------------------------
class _Failure:
    """A node's failure in a reported run: ``node.name``, ``summary()``."""

    def __init__(self, node, summary):
        self.node = SimpleNamespace(name=node)
        self.text = summary

    def summary(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__


class _Freezer:
    """Small stand-ins for what sinks received, equal for equal messages (to tell outcomes apart).

    Each container becomes a number, the same for equal contents (hash-consing),
    so comparing two outcomes never walks them again. Each container is looked
    at once however often it is shared, and at most :data:`MAX_VALUES` values
    in all: past that the report is not believed.
    """

    def __init__(self):
        self.memo = {}
        self.numbers = {}
        self.left = MAX_VALUES

    def __call__(self, value):
        self.left -= 1
        if self.left < 0:
            _bad(f"more than {MAX_VALUES:,} messages and items in them")
        t = type(value)
        if t in (list, tuple, dict, set, frozenset):
            done = self.memo.get(id(value))
            if done is not None:
                return done[1]
            if t is dict:
                key = ("dict", frozenset((self(k), self(v)) for k, v in dict.items(value)))
            elif t in (set, frozenset):
                key = ("set", frozenset(self(v) for v in value))
            else:
                key = (t.__name__, tuple(self(v) for v in value))
            number = self.numbers.setdefault(key, len(self.numbers))
            self.memo[id(value)] = (value, number)  # (the value kept alive: its id stays its own)
            return number
        if value is None or t in (bool, int, float, str, bytes, complex):
            return (t.__name__, value)
        return ("other", t.__name__, show(value, 2_000))


def _bad(what):
    raise CheckFailed(
        f"The report of the exhaustive search is not what DisSysLab makes ({what}), so the "
        f"check cannot trust it.\n  Hint: leave DisSysLab's own code (its search, its "
        f"networks) as it is.")


def _is(value, kind):
    return type(value) is kind


def _schedule(data, reduced):
    if not _is(data, list) or len(data) > MAX_CHOICES:
        _bad("a schedule")
    choices = []
    for c in data:
        if not (_is(c, list) and len(c) == 4 and _is(c[0], int) and _is(c[1], str)
                and (c[2] is None or _is(c[2], int)) and (c[3] is None or _is(c[3], str))):
            _bad("a choice of a schedule")
        choices.append(Choice(c[0], c[1][:200], c[2], None if c[3] is None else c[3][:200]))
    return Schedule(choices, reduced)


def judge(report: Any, check: Callable | None = None, max_schedules: int = MAX_SCHEDULES
          ) -> ExhaustiveExploration:
    """The exploration a report describes, ``check`` called on each distinct run in order.

    ``max_schedules``: the most schedules the search was asked for; a report of
    more is not believed. Stops at the first run that breaks ``check`` (a false
    value or an AssertionError), as ``g.explore(exhaustive=True, check=...)`` does.
    """
    if not _is(report, dict):
        _bad("not a dict")
    sinks, runs, order = report.get("sinks"), report.get("runs"), report.get("order")
    reduced, stopped_by = report.get("reduced"), report.get("stopped_by")
    if not (_is(sinks, list) and all(_is(s, str) for s in sinks) and len(sinks) <= MAX_SINKS):
        _bad("its sinks")
    if not (_is(runs, list) and _is(order, list) and _is(reduced, bool)):
        _bad("its runs")
    if len(order) > max_schedules or len(runs) > len(order):
        _bad(f"{len(order):,} schedules and {len(runs):,} runs, for at most {max_schedules:,}")
    if stopped_by not in _STOPS:
        _bad("why it stopped")
    seen = 0
    for k in order:  # each run first appears in order: 0, 1, 2, ...
        if not _is(k, int) or not 0 <= k <= seen or k >= len(runs):
            _bad("which run a schedule gave")
        if k == seen:
            seen += 1
    if seen != len(runs):
        _bad("runs no schedule gave")
    names = set(sinks)
    results, keys = [], []
    freeze = _Freezer()
    for run in runs:
        if not _is(run, dict):
            _bad("a run")
        received, unpaired, failures = run.get("received"), run.get("unpaired"), run.get("failures")
        flags = [run.get("ended"), run.get("deadlocked"), run.get("bounded")]
        if not (_is(received, dict) and set(received) == names
                and all(_is(v, list) for v in received.values())):
            _bad("what the sinks received")
        if not (_is(unpaired, dict) and _is(failures, list) and all(_is(f, bool) for f in flags)):
            _bad("how a run ended")
        fails = []
        for f in failures[:100]:
            if not (_is(f, dict) and _is(f.get("node"), str) and _is(f.get("summary"), str)):
                _bad("a failure")
            fails.append(_Failure(f["node"][:200], f["summary"][:2000]))
        results.append(RunResult(dict(received), dict(unpaired), fails, *flags,
                                 _schedule(run.get("schedule"), reduced), {}))
        keys.append({name: freeze(received[name]) for name in sinks})

    found = {name: {} for name in sinks}
    failures, counter, broken, cut, explored = {}, None, None, 0, 0
    judged = set()
    for k in order:
        r = results[k]
        explored += 1
        cut += r.bounded
        for name in sinks:
            f = found[name].get(keys[k][name])
            if f is None:
                found[name][keys[k][name]] = Found(r.received[name], r.schedule)
            else:
                f.count += 1
        for failure in r.failures:
            failures.setdefault(failure.summary(), r.schedule)
        if check is not None and k not in judged:
            judged.add(k)
            try:
                ok = check(r)
            except AssertionError:
                ok = False
            if not ok:
                counter, broken = r.schedule, r
                break
    if counter is not None:
        stopped_by = "check"
    elif stopped_by is None and cut:
        stopped_by = "max_steps"
    notes = [str(n)[:2000] for n in report.get("notes") or [] if _is(n, str)][:10]
    ex = ExhaustiveExploration({name: list(by.values()) for name, by in found.items()},
                               explored, stopped_by, counter, broken, failures, reduced, cut, notes)
    ex.warnings = [str(w)[:2000] for w in report.get("warnings") or [] if _is(w, str)][:20]
    return ex


# --- the checks -------------------------------------------------------------------------------
def _bounds(max_schedules, max_steps, timeout):
    if isinstance(max_schedules, bool) or not isinstance(max_schedules, int) or \
            not 1 <= max_schedules <= MAX_SCHEDULES:
        raise ValueError(f"max_schedules must be a whole number from 1 to {MAX_SCHEDULES:,}, "
                         f"but got {max_schedules!r}.")
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int)
                                  or not 1 <= max_steps <= MAX_CHOICES):
        raise ValueError(f"max_steps must be a whole number from 1 to {MAX_CHOICES:,}, but got "
                         f"{max_steps!r}.")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a number of seconds, but got {timeout!r}.")


def explore(g: Any = None, *, build: Callable | None = None, check: Callable | None = None,
            inputs: dict | None = None, max_steps: int | None = None,
            max_schedules: int = SCHEDULES, timeout: float = RUN_TIMEOUT,
            name: str = "g") -> ExhaustiveExploration:
    """Explore every schedule of a copy of ``g`` (or of the networks ``build()`` makes).

    Returns what ``g.explore(exhaustive=True, check=check)`` returns:
    ``ex["sink"]`` (each outcome with a schedule), ``ex.schedules``,
    ``ex.complete``, ``ex.counterexample`` and ``ex.broken``. ``inputs``: data
    to use instead of a source's own. ``timeout`` is per run. While grading, the
    search runs in the student's process and ``check`` here.
    """
    __tracebackhide__ = True
    _bounds(max_schedules, max_steps, timeout)
    if (g is None) == (build is None):
        raise ValueError("check.explore takes the network, or build= (a function that makes "
                         "one), and not both.")
    there = elsewhere(build if build is not None else g)
    if there is not None:  # grading: the search runs in the student's process
        report = there.explore(g, build, inputs, max_steps, max_schedules, timeout, name)
    else:
        report = collect(g, build, inputs, max_steps, max_schedules, timeout, name)
    return judge(report, check, max_schedules)


def every_schedule(g: Any = None, prop: Callable | None = None, *, build: Callable | None = None,
                   inputs: dict | None = None, max_steps: int | None = None,
                   max_schedules: int = SCHEDULES, timeout: float = RUN_TIMEOUT,
                   hint: str | None = None, name: str = "g") -> ExhaustiveExploration:
    """Check that ``prop(result)`` holds under every schedule; fail with a counterexample.

    ``prop`` gets each run's result (``result.received["sink"]``, ``unpaired``,
    ``failures``, ``ended``) and returns True when the run is right. The check
    fails if some schedule breaks it (showing that schedule), or if the search
    could not try every schedule within its bounds. Returns the exploration.
    """
    __tracebackhide__ = True
    if not callable(prop):
        raise TypeError("every_schedule needs prop, a function that takes one run's result and "
                        "returns True when the run is right.")
    ex = explore(g, build=build, check=prop, inputs=inputs, max_steps=max_steps,
                 max_schedules=max_schedules, timeout=timeout, name=name)
    if ex.counterexample is not None:
        r = ex.broken
        got = "; ".join(f"{s} received {show(m, 120)}" for s, m in r.received.items())
        if r.failures:
            got += "; failed: " + "; ".join(f.summary() for f in r.failures)[:300]
        steps = "\n".join("    " + str(c) for c in ex.counterexample.choices[:30])
        more = "\n    ..." if len(ex.counterexample) > 30 else ""
        fail(f"Not every schedule gives a right result: after {ex.schedules:,} schedule"
             f"{'s' if ex.schedules != 1 else ''}, this one broke the check:\n{steps}{more}",
             got=got,
             hint=hint or "replay it with g.run_network(schedule=..., trace=True, timeout=5) "
                          "and g.timeline(), and look for the step where the order goes wrong.",
             public="Not every schedule gives a right result: some schedule broke the check.")
    if not ex.complete:
        why = {"max_steps": f"some runs took more than max_steps={max_steps} steps",
               "max_schedules": f"the network has more than {max_schedules:,} schedules",
               "interrupted": "the search ran out of time"}.get(ex.stopped_by, ex.stopped_by)
        fail(f"Every schedule could not be tried: {why}, so the check cannot say that every "
             f"schedule is right ({ex.schedules:,} were, as far as they went).",
             hint=hint or "keep the network small: few messages, and several senders into one "
                          "node only where the task needs them.")
    return ex


__all__ = ["explore", "every_schedule", "collect", "judge", "SCHEDULES", "MAX_SCHEDULES"]
