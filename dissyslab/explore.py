"""Exploring many seeded runs: every distinct outcome at each sink, with a seed for each.

``g.explore(runs=K)`` runs the network once per seed (``seeded.py``) and
groups what each sink received: a pipeline gives one outcome, a fanin as
many orders as the seeds find. Each outcome keeps the seeds that gave it, so
``g.run_network(seed=outcome.seed)`` replays it.

``g.explore(faults=[...])`` gives every run the same faults (``faults.py``),
decided by each run's seed as in ``g.run_network(seed=..., faults=...)``: the
seeds then explore fault schedules as well as orders, and
``g.run_network(seed=outcome.seed, faults=[...])`` replays one.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from .errors import NetworkError, NetworkTimeout, SourceUsedUpWarning, short_repr
from .seeded import check_seed, run_seeded

if TYPE_CHECKING:
    from .shapes import Graph


class Outcome:
    """One distinct result at one sink: what it received, in order, and which seeds gave it."""

    def __init__(self, received: list, seeds: list | None = None) -> None:
        self.received = received
        self.seeds = [] if seeds is None else seeds

    def __repr__(self) -> str:
        return f"Outcome(received={self.received!r}, seeds={self.seeds!r})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Outcome) and self.received == other.received
                and self.seeds == other.seeds)

    __hash__ = None

    @property
    def seed(self) -> int:
        """A seed that reproduces this outcome: ``g.run_network(seed=outcome.seed)``."""
        return self.seeds[0]

    @property
    def count(self) -> int:
        """How many of the explored runs gave this outcome."""
        return len(self.seeds)


class BySink:
    """Outcomes sink by sink: ``ex["sink"]`` (or ``ex[sink_node]``) lists that sink's outcomes,
    ``ex.sinks`` names the sinks, and iterating gives their names."""

    outcomes: dict[str, list]

    @property
    def sinks(self) -> list[str]:
        return list(self.outcomes)

    def __getitem__(self, sink: Any) -> list:
        name = getattr(sink, "name", sink)
        try:
            return self.outcomes[name]
        except KeyError:
            raise KeyError(f"there is no sink named {name!r}; the sinks are: "
                           f"{', '.join(self.outcomes) or 'none'}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.outcomes)

    def find(self, sink: Any, received: Iterable) -> Any:
        """The first outcome under which ``sink`` received exactly ``received``, or None."""
        want = list(received)
        return next((o for o in self[sink] if o.received == want), None)


class Exploration(BySink):
    """The distinct outcomes of many seeded runs, sink by sink (made by ``g.explore``).

    ``ex["collector"]`` is the list of :class:`Outcome` for sink "collector",
    the most frequent first (ties: the one seen first). ``ex.failures`` maps
    each error summary to the seeds that raised it. ``print(ex)`` gives a
    readable summary; it is the same for the same network and seeds.
    """

    def __init__(self, seeds: Iterable[int], outcomes: dict[str, list[Outcome]],
                 failures: dict[str, list[int]], show: int = 10, faults: bool = False) -> None:
        self.seeds = list(seeds)
        self.faults = faults  # were the runs given faults= (each decided by its seed)?
        self.outcomes = outcomes  # sink name -> [Outcome]
        self.failures = failures  # summary -> [seed]
        self.show = show

    def seed_for(self, sink: Any, received: Iterable) -> int | None:
        """A seed under which ``sink`` received exactly ``received``, or None if none did."""
        outcome = self.find(sink, received)
        return None if outcome is None else outcome.seed

    def _what(self, outcomes):
        """'orders' when every outcome holds the same messages, else 'outcomes'."""
        contents = {tuple(sorted(repr(m) for m in o.received)) for o in outcomes}
        return "orders" if len(contents) == 1 else "outcomes"

    def _seed_text(self):
        s = self.seeds
        n = len(s)
        faults = ", each with the faults its seed decides" if self.faults else ""
        if n > 2 and s == list(range(s[0], s[0] + n)):
            return f"{n} seeded runs (seeds {s[0]} to {s[-1]}){faults}"
        shown = ", ".join(str(x) for x in s[:8]) + (", ..." if n > 8 else "")
        return f"{n} seeded run{'s' if n != 1 else ''} (seed{'s' if n != 1 else ''} {shown}){faults}"

    def text(self, show: int | None = None, width: int = 100) -> str:
        """The summary as text: per sink, the distinct outcomes (at most ``show``), each with a seed."""
        show = self.show if show is None else show
        n = len(self.seeds)
        lines = [self._seed_text()]
        for name, outcomes in self.outcomes.items():
            if len(outcomes) == 1:
                lines.append(f"{name}: the same every time: {short_repr(outcomes[0].received, width)}")
                continue
            lines.append(f"{name}: {len(outcomes)} different {self._what(outcomes)}")
            for o in outcomes[:show]:
                lines.append(f"  seed {o.seed:<4} gives {short_repr(o.received, width)}  "
                             f"({o.count} of {n} runs)")
            if len(outcomes) > show:
                lines.append(f"  ... and {len(outcomes) - show} more (all are in ex[{name!r}])")
        for summary, seeds in self.failures.items():
            lines.append(f"{len(seeds)} of {n} runs failed (first with seed {seeds[0]}): {summary}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self):
        from html import escape

        n = len(self.seeds)
        parts = [f"<div class='dissyslab-explore'><p><b>{escape(self._seed_text())}</b></p>"]
        for name, outcomes in self.outcomes.items():
            what = "the same every time" if len(outcomes) == 1 else \
                f"{len(outcomes)} different {self._what(outcomes)}"
            parts.append(f"<p><b>{escape(name)}</b>: {what}</p><table><tr><th>seed</th>"
                         f"<th>runs</th><th style='text-align:left'>received</th></tr>")
            for o in outcomes[:self.show]:
                parts.append(f"<tr><td>{o.seed}</td><td>{o.count} of {n}</td><td style='text-align:"
                             f"left'><code>{escape(short_repr(o.received, 160))}</code></td></tr>")
            parts.append("</table>")
            if len(outcomes) > self.show:
                parts.append(f"<p>... and {len(outcomes) - self.show} more "
                             f"(all are in <code>ex[{escape(repr(name))}]</code>)</p>")
        for summary, seeds in self.failures.items():
            parts.append(f"<p>{len(seeds)} of {n} runs failed (first with seed {seeds[0]}): "
                         f"<code>{escape(summary)}</code></p>")
        parts.append("</div>")
        return "".join(parts)


def freeze(value: Any) -> Any:
    """A hashable stand-in for a message, equal for equal messages (to group outcomes)."""
    t = type(value)
    if t in (list, tuple):
        return (t.__name__, tuple(freeze(v) for v in value))
    if t is dict:
        return ("dict", frozenset((freeze(k), freeze(v)) for k, v in value.items()))
    if t in (set, frozenset):
        return ("set", frozenset(freeze(v) for v in value))
    if t.__eq__ is object.__eq__:  # compared by identity: only its repr can tell copies apart
        return ("repr", t.__name__, repr(value))
    try:
        hash(value)
        return value
    except TypeError:
        state = getattr(value, "__dict__", None)
        if state is not None:
            return (t.__name__, freeze(state))
        return ("repr", t.__name__, repr(value))


def explore(net: Graph, runs: int | None = None, seeds: Iterable[int] | None = None,
            timeout: float | None = None, max_steps: int | None = None,
            faults: Any = None) -> Exploration:
    """Run ``net`` once per seed and group what each sink received (see ``Network.explore``)."""
    if runs is not None and seeds is not None:
        raise ValueError("give explore either runs= (seeds 0, 1, 2, ...) or seeds=[...], not both.")
    if seeds is None:
        runs = 50 if runs is None else runs
        if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
            raise ValueError(f"runs must be a whole number of at least 1, like runs=50, "
                             f"but got {runs!r}.")
        seeds = list(range(runs))
    else:
        if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
            raise TypeError(f"seeds must be a list of whole numbers, like seeds=range(100), "
                            f"but got {short_repr(seeds)}.")
        seeds = list(dict.fromkeys(check_seed(s) for s in seeds))
        if not seeds:
            raise ValueError("seeds=[] gives nothing to explore: give at least one seed.")
    if not net.sinks:
        raise ValueError("this network has no Sink, so there is nothing to compare between runs.")
    if faults is not None:  # faults.py: checked once, then decided by each run's seed
        from .faults import Plan, check_faults

        faults = check_faults(net, faults)
        if faults.seed is not None:
            raise ValueError(f"explore(faults=Faults([...], seed={faults.seed})): each explored "
                             f"run's seed decides its faults too, so the faults take no seed of "
                             f"their own here. Leave seed= out of Faults(...).")

    found = {net.name_of(n): {} for n in net.sinks}
    failures = {}
    seen_warnings = {}
    emitted = []
    for seed in seeds:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                r = run_seeded(net, seed, timeout, max_steps=max_steps, record_sinks=True,
                               faults=None if faults is None else Plan(faults, seed))
            except NetworkError as err:
                r = net.last_run
                summary = "; ".join(f.summary() for f in err.failures)
                failures.setdefault(summary, []).append(seed)
            except NetworkTimeout as err:
                raise NetworkTimeout(f"While exploring, seed {seed}: {err}") from err
        for w in caught:  # a used-up source is told once, below, in explore's own words
            if w.category is not SourceUsedUpWarning:
                seen_warnings.setdefault((w.category, str(w.message)), None)
        emitted.append(sum(net.stats[net.name_of(n)].sent for n in net.sources))
        for name, received in r.received.items():
            key = freeze(received)
            outcome = found[name].get(key)
            if outcome is None:
                outcome = found[name][key] = Outcome(received)
            outcome.seeds.append(seed)
    for category, message in seen_warnings:
        warnings.warn(message, category, stacklevel=3)
    if emitted[0] and 0 in emitted:
        seed = seeds[emitted.index(0)]
        warnings.warn(
            f"The sources sent nothing in the run with seed {seed} although they did in the "
            f"first run: a source must start again at every run for explore to compare runs "
            f"(ListSource does; a function reading from an iterator or a file does not).",
            UserWarning, stacklevel=3)
    order = {s: i for i, s in enumerate(seeds)}
    outcomes = {name: sorted(by_key.values(), key=lambda o: (-o.count, order[o.seed]))
                for name, by_key in found.items()}
    return Exploration(seeds, outcomes, failures, faults=faults is not None)
