"""Every possible run: exhaustive exploration of a small network, and replay of one schedule.

``g.explore(exhaustive=True)`` runs the network once per *schedule* and
reports every distinct outcome at each sink, with a schedule that reproduces
it; ``g.run_network(schedule=s, trace=True)`` replays one, and ``g.timeline()``
draws it. ``g.explore(runs=K)`` (``explore.py``) only samples seeds; this
module tries them all, up to a bound.

The model
---------
The model is the one seeded runs follow (``stepping.py``), run by the same
engine:

* Each *edge* into a node has its own FIFO queue.
* A *step* is a source producing one message (or ending), or a node taking
  the next message from one of its non-empty edge queues and handling it
  (``semantics.NodeRun``). What the step makes is handed over at once, in port
  and edge order. The rules between nodes (room, loops, the end of the
  stream, failures) are the flow's (``flow.py``), as in every scheduler.
* A *schedule* is the sequence of choices made at the points where more than
  one step was possible. A seeded run makes each choice with its seed's
  random numbers; the search here tries every choice in turn, and a replay
  makes the choices its schedule lists.

Every run a threaded or seeded scheduler can make is one of these runs: each
edge keeps its order, and a node handles its messages one at a time.

The reduction (Kahn)
--------------------
Nodes interact only through FIFO queues. If every input of every node has
one edge into it, and functions are deterministic, each node sees the same
sequence of messages whatever the order of steps (Kahn, 1974), so every
schedule gives the same results. Order matters only where an input has
several edges into it (a fanin, a Split's or a fanout's edges into one node,
a loop's entry): which edge it takes from next. So the search branches only
there. Steps of sources and of inputs with one edge are taken without
branching; an input whose every edge has a message waiting (or has ended)
branches over those edges alone; otherwise every possible step is a branch.
``reduce=False`` branches at every step that has an alternative (every
interleaving), to check the reduction; it grows very fast.

What it assumes, and says
-------------------------
* Node functions are deterministic, and nodes interact only through messages.
  State shared between nodes (``snapshots.shared_state``) gets a warning: the
  reduction may then miss outcomes; ``reduce=False`` explores every interleaving.
* Each schedule starts from the network's initial state. Node states are put
  back as snapshots do (ListSource positions, objects with the copy protocol,
  ``snapshots.record_state``/``restore_state``); a node keeping state where
  that cannot reach (a closure's variables, an object that cannot be copied)
  needs ``build=``, a function that makes a fresh network for each schedule.
* The reduction assumes rooms never fill (the default capacity is large).
  When a node has to wait for room, the search starts again without it.
* Data races inside a function, between two of its bytecodes, are out of
  scope: a step is one whole call of a node's function.
* ``time.sleep`` in a node function really sleeps here: keep such networks small.
"""

from __future__ import annotations

import sys
import time
import warnings
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .errors import NetworkError, NetworkTimeout, short_repr, warn_student
from .explore import BySink, freeze
from .running import Run, execute
from .snapshots import closure_state, record_state, restore_state, shared_state
from .stepping import Stepper

if TYPE_CHECKING:
    from .nodes import Edge
    from .observers import Observer
    from .shapes import Graph

#: most steps one schedule may take before it is cut (an endless source never ends)
MAX_STEPS = 10_000
#: most schedules one search explores before it stops
MAX_SCHEDULES = 100_000
#: seconds after which a long search shows its progress (on stderr)
PROGRESS_AFTER = 5.0


class ExplorationWarning(UserWarning):
    """The exhaustive search may miss outcomes (shared state), or had to change how it searches."""


# --- schedules ------------------------------------------------------------------------------
class Choice:
    """One choice of a schedule: at step ``step``, node ``node`` took from ``sender`` (or produced).

    ``edge`` is the index of the edge in ``g.edges`` (None when a source produced).
    A fault's choice (``faults=``: a ``drop`` or ``duplicate`` with a chance ``p``)
    has ``fault`` = (its kind, the message's index along the edge, whether it hit),
    ``node`` the receiver and ``sender`` the edge's label. Equal choices compare equal.
    """

    __slots__ = ("step", "node", "edge", "sender", "fault")

    def __init__(self, step: int, node: str, edge: int | None, sender: str | None,
                 fault: tuple[str, int, bool] | None = None) -> None:
        self.step, self.node, self.edge, self.sender, self.fault = step, node, edge, sender, fault

    def _key(self):
        return (self.step, self.node, self.edge, self.sender, self.fault)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Choice) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        if self.fault is not None:
            kind, index, hit = self.fault
            what = ("is lost" if hit else "arrives") if kind != "duplicate" else (
                "arrives twice" if hit else "arrives once")
            return f"step {self.step}: message {index + 1} along `{self.sender}` {what}"
        if self.edge is None:
            return f"step {self.step}: `{self.node}` produces"
        return f"step {self.step}: `{self.node}` takes from `{self.sender}`"

    def __repr__(self) -> str:
        return f"<{self}>"


class Schedule:
    """The choices of one run, made where more than one step was possible.

    Replay it with ``g.run_network(schedule=s)`` (add ``trace=True`` to draw it
    with ``g.timeline()``). ``reduced``: it was found by the reduced search
    (which branches only where order can matter); a replay takes the same
    steps. Equal schedules compare equal; ``print(s)`` lists its choices.
    ``faults``: the ``faults=`` it was found with (a replay uses them), or None.
    """

    __slots__ = ("choices", "reduced", "capacity", "faults")

    def __init__(self, choices: Iterable[Choice], reduced: bool = True,
                 capacity: int | None = None, faults: Any = None) -> None:
        self.choices = tuple(choices)
        self.reduced = reduced
        self.capacity = capacity
        self.faults = faults

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Schedule) and self.choices == other.choices
                and self.reduced == other.reduced and self.capacity == other.capacity)

    def __hash__(self) -> int:
        return hash((self.choices, self.reduced, self.capacity))

    def __len__(self) -> int:
        return len(self.choices)

    def __iter__(self):
        return iter(self.choices)

    def __getitem__(self, i):
        return self.choices[i]

    def text(self) -> str:
        if not self.choices:
            return "a schedule with no choices (only one run was possible)"
        return "\n".join(str(c) for c in self.choices)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        shown = "; ".join(str(c) for c in self.choices[:3])
        more = f"; ... ({len(self.choices)} choices)" if len(self.choices) > 3 else ""
        return f"Schedule({shown}{more})" if self.choices else "Schedule(no choices)"


# --- one run under a schedule -----------------------------------------------------------------
class Replay(Stepper):
    """One run of the model (``stepping.py``) that follows a schedule.

    ``forced``: indexes of the alternatives to take at the first choices, then
    the first alternative at each later one; or ``expect``, a :class:`Schedule`
    whose choices are matched one by one. After the run, ``taken`` holds
    (index, number of alternatives, Choice) for every choice made.
    ``bound_is_error``: a run cut at ``max_steps`` is a timeout (a replay), not
    a result (the search).
    """

    thread_name = "dissyslab exhaustive run"

    def __init__(self, run: Run, capacity: int | None, forced: list[int], reduced: bool,
                 max_steps: int, expect: Schedule | None = None,
                 bound_is_error: bool = False) -> None:
        super().__init__(run, capacity, max_steps, reduced=reduced, record_sinks=True)
        self.forced = forced
        self.expect = expect
        self.bound_is_error = bound_is_error
        self.taken = []
        if run.faults is not None:  # a drop or duplicate of chance p is a choice too
            run.faults.decide = self.decide_fault

    def _choice(self, w, q):
        return Choice(self.run.steps + 1, w.nr.name, None if q is None else q.index,
                      None if q is None else q.sender)

    def choose(self, alternatives: list) -> tuple:
        i = self._pick(len(alternatives), lambda j: self._choice(*alternatives[j]))
        return alternatives[i]

    def decide_fault(self, kind: str, edge: Edge, index: int) -> bool:
        """A fault of chance p on ``edge``, at its message ``index``: does it hit? Both are tried."""
        q = self.queue_of[edge]
        return bool(self._pick(2, lambda j: Choice(self.run.steps, q.owner.nr.name, q.index,
                                                   edge.label, (kind, index, bool(j)))))

    def _pick(self, n: int, option: Callable[[int], Choice]) -> int:
        """Which of ``n`` options to take (``option(i)`` describes the i-th): forced, or the one
        the expected schedule names. The choice is kept in ``taken``."""
        k = len(self.taken)
        if self.expect is None:
            i = self.forced[k] if k < len(self.forced) else 0
            if i >= n:  # the network did not do what it did the first time
                raise ScheduleMismatch(k, None)
            made = option(i)
        else:
            want = self.expect.choices[k] if k < len(self.expect.choices) else None
            i, made = next(((j, c) for j in range(n) if (c := option(j)) == want), (None, None))
            if i is None:
                raise ScheduleMismatch(k, want)
        self.taken.append((i, n, made))
        return i

    def _loop(self):
        super()._loop()
        expect, k = self.expect, len(self.taken)
        if expect is not None and k < len(expect.choices) and not self.bounded \
                and not self.stopping:
            raise ScheduleMismatch(k, expect.choices[k])

    def bound_text(self) -> str | None:
        if not self.bound_is_error:
            return None
        return (f"The run took {self.run.steps:,} steps without finishing, so it was stopped. "
                f"Results collected so far are kept. A source that never returns None never ends; "
                f"if the run is just long, raise max_steps (dissyslab.exhaustive.MAX_STEPS).")


class ScheduleMismatch(ValueError):
    """A schedule asked for a choice this network does not offer at that point."""

    def __init__(self, k: int, want: Choice | None) -> None:
        what = f"choice {k + 1} ({want})" if want is not None else f"its choice {k + 1}"
        super().__init__(
            f"This schedule does not fit this network: at {what} the network offered other "
            f"steps. A schedule replays only on the network it was found on (the same nodes "
            f"and edges, functions that do the same thing, the same capacity), from its "
            f"initial state. Explore this network again with g.explore(exhaustive=True) "
            f"for schedules of its own.")


def _check_steps(max_steps):
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a whole number of at least 1, but got {max_steps!r}.")
    return max_steps


def run_schedule(net: Graph, schedule: Schedule, timeout: float | None = None,
                 capacity: int | None = None, observers: Iterable[Observer] = (), *,
                 max_steps: int | None = None) -> Run:
    """Run ``net`` following ``schedule`` exactly (``g.run_network(schedule=s)``).

    Raises what a seeded run raises, and :class:`ScheduleMismatch` (a
    ``ValueError``) if the network does not offer the schedule's choices.
    """
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a Schedule found by g.explore(exhaustive=True) "
                        f"(for example ex.counterexample, or ex['sink'][0].schedule), but got "
                        f"{short_repr(schedule)}.")
    if capacity is not None and capacity != schedule.capacity and schedule.capacity is not None:
        raise ValueError(f"This schedule was found with capacity={schedule.capacity}, and its "
                         f"choices depend on it: replay it with that capacity (or leave capacity "
                         f"out), not capacity={capacity}.")
    capacity = schedule.capacity if capacity is None else capacity
    max_steps = MAX_STEPS if max_steps is None else _check_steps(max_steps)

    def make(run, cap):
        run.schedule = schedule  # (a trace counts its steps, as in a seeded run)
        engine = Replay(run, cap, [], schedule.reduced, max_steps, expect=schedule,
                        bound_is_error=True)
        run.received = engine.received
        return engine

    return execute(net, make, timeout, capacity, observers, faults=_plan(net, schedule.faults),
                   stuck_text="{kind} '{name}' was still inside its function when the run "
                              "stopped. Its call ends as soon as it returns.")


def replay_arguments(schedule: Any, seed: Any, engine: str, snapshot_at: list, snapshot_every: Any,
                     resume: Any, faults: Any = None) -> Callable:
    """For ``g.run_network(schedule=s)``: refuse what cannot go with it; the run function to call."""
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a Schedule found by g.explore(exhaustive=True) "
                        f"(for example ex.counterexample, or ex['sink'][0].schedule), but got "
                        f"{short_repr(schedule)}.")
    if seed is not None:
        raise ValueError("schedule= replays one run step by step, in the order the schedule "
                         "gives, and seed= picks an order of its own: give one of the two.")
    if engine != "threads":
        raise ValueError("schedule= replays one run step by step in this process, so it cannot "
                         "use engine=\"ray\": leave engine= out.")
    if snapshot_at or snapshot_every is not None or resume is not None:
        raise ValueError("A replayed schedule takes no snapshots and resumes from none: leave "
                         "out snapshot_at=, snapshot_every= and resume=.")
    if faults is not None:
        raise ValueError(
            "A schedule keeps the faults= it was found with, and its choices say which messages "
            "they lost or doubled, so a replay takes no faults= of its own: leave faults= out."
            if schedule.faults is not None else
            "This schedule was found without faults, and its choices follow that run: leave out "
            "faults= to replay it (or explore with g.explore(exhaustive=True, faults=...) for "
            "schedules that choose what the faults do).")
    return partial(run_schedule, schedule=schedule)


def _plan(net: Graph, faults: Any) -> Any:
    """The faults of one run of the search or a replay (``faults.Plan``), or None.

    A ``drop`` or ``duplicate`` with a chance ``p`` becomes a choice of the
    schedule (:meth:`Replay.decide_fault`); the rest (``nth=``, crashes,
    partitions, delays) is decided as under seed 0, or the ``Faults`` seed.
    """
    if faults is None:
        return None
    from .faults import Plan, check_faults

    checked = check_faults(net, faults)
    return Plan(checked, None if checked.seed is not None else 0)


def explore_from_graph(net: Graph, exhaustive: Any, runs: Any, seeds: Any, timeout: Any,
                       max_steps: Any, options: dict) -> ExhaustiveExploration:
    """``g.explore(exhaustive=True, ...)``: check the arguments, then :func:`explore_all`."""
    if exhaustive is not True:
        if exhaustive is False:
            raise TypeError(f"explore() got {', '.join(f'{k}=' for k in options)}, which only an "
                            f"exhaustive search takes: add exhaustive=True.")
        raise TypeError(f"exhaustive must be True or False, but got {short_repr(exhaustive)}.")
    if runs is not None or seeds is not None:
        raise ValueError("An exhaustive search tries every schedule, not seeds: leave out runs= "
                         "and seeds= (or leave out exhaustive=True to sample seeds).")
    allowed = ("check", "reduce", "build", "max_schedules", "capacity", "progress", "faults")
    wrong = [k for k in options if k not in allowed]
    if wrong:
        raise TypeError(f"explore() got an unexpected argument {wrong[0]}=; an exhaustive "
                        f"search takes max_steps=, timeout= and {', '.join(k + '=' for k in allowed)}.")
    return explore_all(net, timeout=timeout, max_steps=max_steps, **options)


# --- results of one run, and of the search ----------------------------------------------------
class RunResult:
    """What one run did, as ``check=`` sees it.

    ``received``: sink name -> the messages it received, in order. ``unpaired``:
    MergeSynch name -> {input: messages never paired}. ``failures``: the
    NodeFailures (empty if none). ``ended``: every node ended; ``deadlocked``:
    no node could go on although some had not ended; ``bounded``: it was cut
    at ``max_steps``. ``schedule``: the schedule that reproduces it.
    """

    def __init__(self, received, unpaired, failures, ended, deadlocked, bounded, schedule, state):
        self.received = received
        self.unpaired = unpaired
        self.failures = failures
        self.ended = ended
        self.deadlocked = deadlocked
        self.bounded = bounded
        self.schedule = schedule
        self.state = state

    def __repr__(self) -> str:
        how = "ended" if self.ended else "deadlocked" if self.deadlocked else \
            "cut at max_steps" if self.bounded else "stopped"
        parts = [f"{name} received {short_repr(got, 80)}" for name, got in self.received.items()]
        if self.failures:
            parts.append("failed: " + "; ".join(f.summary() for f in self.failures))
        if self.unpaired:
            parts.append(f"unpaired: {short_repr(self.unpaired, 80)}")
        return f"RunResult({how}; {'; '.join(parts)})"


class Found:
    """One distinct outcome at one sink: what it received, and a schedule that reproduces it."""

    def __init__(self, received: list, schedule: Schedule) -> None:
        self.received = received
        self.schedule = schedule
        self.count = 1  # schedules explored that gave it

    def __repr__(self) -> str:
        return f"Found(received={self.received!r}, count={self.count})"


class ExhaustiveExploration(BySink):
    """Every distinct outcome of every schedule explored (made by ``g.explore(exhaustive=True)``).

    ``ex["sink"]``: the list of :class:`Found` for that sink, in the order found.
    ``ex.schedules``: how many schedules were explored. ``ex.complete``: every
    schedule was explored (not cut by ``max_steps``, ``max_schedules``, Ctrl-C or
    a broken check); ``ex.stopped_by`` says what cut it. ``ex.counterexample``:
    the first schedule that broke ``check=`` (None if none did), and
    ``ex.broken``: that run's :class:`RunResult`. ``ex.failures``: error
    summary -> a schedule under which nodes failed so.
    """

    def __init__(self, outcomes, schedules, stopped_by, counterexample, broken, failures,
                 reduced, cut_runs, notes):
        self.outcomes = outcomes
        self.schedules = schedules
        self.stopped_by = stopped_by
        self.counterexample = counterexample
        self.broken = broken
        self.failures = failures
        self.reduced = reduced
        self.cut_runs = cut_runs
        self.notes = notes

    @property
    def complete(self) -> bool:
        return self.stopped_by is None

    def schedule_for(self, sink: Any, received: Iterable) -> Schedule | None:
        """A schedule under which ``sink`` received exactly ``received``, or None."""
        found = self.find(sink, received)
        return None if found is None else found.schedule

    def text(self, show: int = 5, width: int = 100) -> str:
        n = self.schedules
        head = f"{n:,} schedule{'s' if n != 1 else ''} explored"
        if self.complete:
            head += ": every possible run" + ("" if self.reduced else " (every interleaving)")
        else:
            head += f", then stopped: {_WHY[self.stopped_by]}"
        lines = [head]
        for name, found in self.outcomes.items():
            if len(found) == 1:
                lines.append(f"{name}: the same every time: {short_repr(found[0].received, width)}")
                continue
            lines.append(f"{name}: {len(found):,} different outcomes")
            for f in found[:show]:
                lines.append(f"  {short_repr(f.received, width)}")
            if len(found) > show:
                lines.append(f"  ... and {len(found) - show:,} more (all are in ex[{name!r}])")
        for summary in self.failures:
            lines.append(f"nodes failed in some runs: {summary}")
        if self.counterexample is not None:
            lines.append(f"the check failed: {self.broken!r}")
            lines.append("counterexample (replay it with g.run_network(schedule=ex.counterexample, "
                         "trace=True)):")
            lines.extend("  " + str(c) for c in self.counterexample.choices)
        lines.extend(self.notes)
        return "\n".join(lines)

    __str__ = __repr__ = text


_WHY = {
    "check": "a run broke the check (ex.counterexample)",
    "max_steps": "some runs were cut at max_steps, so longer runs were not explored "
                 "(give a larger max_steps= if the runs are just long)",
    "max_schedules": "it reached max_schedules before trying every schedule (give a larger "
                     "max_schedules= to explore more; each schedule is one whole run)",
    "interrupted": "interrupted (Ctrl-C); the outcomes found so far are kept",
}


# --- the search -----------------------------------------------------------------------------
def _resetter(net: Graph):
    """A function that puts every node's initial state back, or the reason it cannot be done."""
    from .semantics import NodeRun, wiring

    outs = wiring(net)
    runs = [NodeRun(n, outs[net.name_of(n)], name=net.name_of(n)) for n in net.nodes]
    states, problems = [], []
    for nr in runs:
        hidden = closure_state(nr.node.fn)
        if hidden:
            problems.append(f"{nr.kind} '{nr.name}' keeps state in "
                            f"{', '.join(map(repr, hidden))} of its closure")
            continue
        state, why = record_state(nr)
        if why is not None:
            problems.append(f"{nr.kind} '{nr.name}' has state that cannot be copied ({why})")
        states.append((nr, state))
    if problems:
        return None, problems

    def reset():
        for nr, state in states:
            restore_state(nr, state)
    return reset, []


def _search_arguments(net, build, check, reduce, max_steps, max_schedules):
    """Check :func:`explore_all`'s arguments; return ``max_steps`` and ``max_schedules`` to use."""
    if not isinstance(reduce, bool):
        raise TypeError(f"reduce must be True or False, but got {short_repr(reduce)}.")
    max_steps = MAX_STEPS if max_steps is None else _check_steps(max_steps)
    if max_schedules is None:
        max_schedules = MAX_SCHEDULES
    elif isinstance(max_schedules, bool) or not isinstance(max_schedules, int) or max_schedules < 1:
        raise ValueError(f"max_schedules must be a whole number of at least 1, but got "
                         f"{max_schedules!r}.")
    if check is not None and not callable(check):
        raise TypeError(f"check must be a function that takes one run's result and returns True "
                        f"when the run is fine, but got {short_repr(check)}.")
    if build is not None and not callable(build):
        raise TypeError(f"build must be a function that makes a fresh network (like "
                        f"build=make_bank, with no parentheses), but got {short_repr(build)}.")
    if net is None and build is None:
        raise ValueError("give the network to explore, or build= (a function that makes one).")
    return max_steps, max_schedules


def explore_all(net: Graph | None = None, *, build: Callable[[], Graph] | None = None,
                check: Callable[[RunResult], Any] | None = None, reduce: bool = True,
                max_steps: int | None = None, max_schedules: int | None = None,
                timeout: float | None = None, capacity: int | None = None,
                progress: bool | None = None, faults: Any = None) -> ExhaustiveExploration:
    """Run every distinct schedule of the network (see the module docstring).

    ``net`` is explored as it is, its nodes' states put back before each
    schedule and at the end; or give ``build=``, a function returning a fresh
    network, called once per schedule. ``check(result)`` is called with each
    run's :class:`RunResult`; if it returns a false value or raises
    AssertionError, the search stops and returns that run's schedule as
    ``ex.counterexample``. ``max_steps`` bounds each run, ``max_schedules`` the
    search; ``timeout`` is per run. Ctrl-C stops the search and returns what
    it found. ``progress``: show schedules explored and outcomes found on
    stderr (None: only once it has gone on for :data:`PROGRESS_AFTER` seconds).
    ``faults``: as for ``run_network``; each ``drop`` or ``duplicate`` with a
    chance ``p`` is a choice the search tries both ways, for every message on
    its edge (the rest is decided as in a run under seed 0).
    """
    max_steps, max_schedules = _search_arguments(net, build, check, reduce, max_steps,
                                                 max_schedules)
    first, reset = _first_network(net, build, faults)
    names = [first.name_of(n) for n in first.nodes]
    searcher = _Search(first, build, reset, names, check, reduce, max_steps, max_schedules,
                       timeout, capacity, progress, faults)
    try:
        return searcher.search()
    finally:
        if reset is not None:
            reset()


def _first_network(net, build, faults):
    """The network of the first schedule, checked for a search; and ``reset``, which puts its
    nodes' states back as they were (None with ``build=``, which makes a fresh one each time)."""
    reset = None
    if build is None:
        reset, problems = _resetter(net)
        if problems:
            raise ValueError(
                "Every schedule must start from the network's initial state, and DisSysLab "
                "cannot put back the state of: " + "; ".join(problems) + ". Give "
                "g.explore(exhaustive=True, build=make_network), where make_network() builds "
                "a fresh network (new nodes, new state) each time it is called; or keep each "
                "node's state in an object (a class with a method as the node's fn), which "
                "can be put back.")
    first = net if net is not None else build()
    _plan(first, faults)  # bad faults are refused before the search begins
    from .timers import refuse_timeouts

    refuse_timeouts(first, "an exhaustive search",
                    "its steps take no time and it has no clock to ring them. Sample seeded "
                    "runs instead (g.explore(runs=K)), whose virtual clock rings them.")
    if not first.sinks:
        raise ValueError("this network has no Sink, so there is nothing to compare between runs.")
    _warn_shared(first)
    return first, reset


def _warn_shared(net):
    """Warn about nodes that share state: the reduced search assumes they meet only by messages."""
    for a, b, what in shared_state(net):
        warn_student(f"'{a}' and '{b}' share state: {what}. The exhaustive search assumes nodes "
                  f"interact only through messages, and branches only where messages can arrive "
                  f"in different orders, so it may miss outcomes that depend on which of the two "
                  f"runs first. Give each node state of its own, or explore with reduce=False "
                  f"(every interleaving; much slower).", ExplorationWarning)


def _next_schedule(taken):
    """The choices of the next schedule, after one that made the choices ``taken``: the last
    choice with an alternative left takes its next one, and those before it stay as they were.
    Empty once every schedule has been run."""
    stack = [(i, n) for i, n, _ in taken]
    while stack and stack[-1][0] + 1 >= stack[-1][1]:
        stack.pop()
    if stack:
        i, n = stack.pop()
        stack.append((i + 1, n))
    return stack


class _Restart(Exception):
    """The reduced search met a full room: search again, every interleaving."""


class _Search:
    def __init__(self, first, build, reset, names, check, reduce, max_steps, max_schedules,
                 timeout, capacity, progress, faults):
        self.first, self.build, self.reset, self.names = first, build, reset, names
        self.check, self.reduce = check, reduce
        self.max_steps, self.max_schedules = max_steps, max_schedules
        self.timeout, self.capacity, self.progress = timeout, capacity, progress
        self.faults = faults
        self.notes = []

    def search(self) -> ExhaustiveExploration:
        try:
            return self._search(self.reduce)
        except _Restart:
            self.notes.append("A node had to wait for room in some run, which the reduction does "
                              "not allow for, so every interleaving was explored (reduce=False).")
            return self._search(False)

    def _network(self, used):
        if self.build is None:
            if used:
                self.reset()
            return self.first
        net = self.first if not used else self.build()
        got = [net.name_of(n) for n in net.nodes]
        if got != self.names:
            raise ValueError(f"build() made a network with other nodes than the first time "
                             f"({', '.join(got)} instead of {', '.join(self.names)}): it must "
                             f"make the same network every time, fresh.")
        return net

    def _search(self, reduced):
        self.found = {self.first.name_of(n): {} for n in self.first.sinks}
        self.failures, self.seen_warnings = {}, {}
        stack = []  # (index taken, alternatives) per choice of the last run
        self.schedules, stopped_by, self.counter, self.broken, cut = 0, None, None, None, 0
        started, shown = time.monotonic(), 0.0
        self.sources_sent = None
        while True:
            if self.schedules >= self.max_schedules:
                stopped_by = "max_schedules"
                break
            try:
                run, engine = self._one([i for i, _ in stack], reduced)
                if reduced and engine.room_waited:
                    raise _Restart
                self.schedules += 1
                cut += engine.bounded
                if not self._record(run, engine, reduced):
                    stopped_by = "check"
                    break
            except KeyboardInterrupt:
                stopped_by = "interrupted"
                break
            stack = _next_schedule(engine.taken)
            if not stack:
                break
            shown = self._show(started, shown, self.schedules, self.found)
        if shown:
            print(file=sys.stderr)
        return self._exploration(reduced, stopped_by, cut)

    def _exploration(self, reduced, stopped_by, cut):
        """What the search found, once it is over: its outcomes, and why it stopped (None: it
        ran every schedule); the warnings its runs gave are given once each, now."""
        if stopped_by is None and cut:
            stopped_by = "max_steps"
        for category, message in self.seen_warnings:
            warn_student(message, category)
        outcomes = {name: list(by_key.values()) for name, by_key in self.found.items()}
        return ExhaustiveExploration(outcomes, self.schedules, stopped_by, self.counter,
                                     self.broken, self.failures, reduced, cut, self.notes)

    def _one(self, forced, reduced):
        """Run the schedule that takes the ``forced`` alternatives first: (the Run, its Replay)."""
        net = self._network(self.schedules > 0)
        box = {}

        def make(run, cap):
            e = box["engine"] = Replay(run, cap, forced, reduced, self.max_steps)
            run.received = e.received
            return e
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                run = execute(net, make, self.timeout, self.capacity,
                              faults=_plan(net, self.faults))
            except NetworkError:
                run = net.last_run
            except NetworkTimeout as err:
                raise NetworkTimeout(f"While exploring every schedule: {err}") from err
        for w in caught:
            self.seen_warnings.setdefault((w.category, str(w.message)), None)
        return run, box["engine"]

    def _record(self, run, engine, reduced):
        """Keep what one schedule's run gave; False if ``check=`` says it breaks the property."""
        schedule = Schedule((c for _, _, c in engine.taken), reduced, self.capacity, self.faults)
        sent = {name: nr.stats.sent for name, nr in run.nodes.items() if nr.kind == "source"}
        if self.sources_sent is None:
            self.sources_sent = sent
        elif sent != self.sources_sent and not engine.bounded:
            self._not_reset(self.sources_sent, sent)
        for name, received in engine.received.items():
            key = freeze(received)
            f = self.found[name].get(key)
            if f is None:
                self.found[name][key] = Found(received, schedule)
            else:
                f.count += 1
        for failure in run.failures:
            self.failures.setdefault(failure.summary(), schedule)
        if self.check is None:
            return True
        result = RunResult(
            dict(engine.received), dict(run.unpaired), list(run.failures),
            not engine.bounded and not engine.deadlocked, engine.deadlocked,
            engine.bounded, schedule, dict(run.state))
        try:
            ok = self.check(result)
        except AssertionError:
            ok = False
        if not ok:
            self.counter, self.broken = schedule, result
        return bool(ok)

    def _show(self, started, shown, schedules, found):
        if self.progress is False:
            return shown
        now = time.monotonic()
        if (self.progress or now - started >= PROGRESS_AFTER) and now - shown >= 1.0:
            total = sum(len(v) for v in found.values())
            print(f"\rexploring: {schedules:,} schedules, {total:,} outcomes so far",
                  end="", file=sys.stderr, flush=True)
            return now
        return shown

    def _not_reset(self, before, now):
        name = next(n for n in before if before[n] != now.get(n))
        raise ValueError(
            f"source '{name}' sent {before[name]} messages in the first schedule but "
            f"{now[name]} in another: its state was not put back between schedules (a "
            f"function reading from an iterator or a file, say). Every schedule must start "
            f"from the initial state: use ListSource(items=...), or give "
            f"g.explore(exhaustive=True, build=make_network), where make_network() builds a "
            f"fresh network each time.")
