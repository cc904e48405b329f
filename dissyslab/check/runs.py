"""Checks that run a student's network: results per sink, time limits, seeded schedules, races.

A run never touches the student's network object: it runs a fresh copy (see
``shape.verified``) whose sinks record every message they receive before
calling the student's function, so the results come from the runtime, not
from lists the student filled. ``inputs=`` swaps a source's data for other
data, so a network that only works for the example cannot pass.
"""

import importlib.util
import threading
import warnings

from ..build import network
from ..copying import copy_message
from ..errors import WHERE_TRACEBACKS, NetworkError, NetworkTimeout, NodeStillRunningWarning
from ..model import Network
from ..nodes import Sink, Source, Split
from ..sources import ListSource
from .elsewhere import elsewhere, other_process
from .failure import (
    CheckFailed,
    explain_difference,
    fail,
    message,
    plain_list,
    same,
    same_items,
    show,
)
from .shape import kind_of, verified

#: seconds a check's run may take unless the test says otherwise
TIMEOUT = 5
_RUN_NETWORK = Network.run_network


def seeded_runs_available():
    """True if this DisSysLab can run a network under a seeded schedule (``run_network(seed=N)``)."""
    return importlib.util.find_spec("dissyslab.seeded") is not None


class CheckedRun:
    """What one check run of a network did.

    ``outputs``: sink name -> list of the messages it received, in order.
    ``failures``: the :class:`~dissyslab.NodeFailure` of each failed node.
    ``timed_out``: the run was stopped by its time limit. ``error``: the text of
    the NetworkError or NetworkTimeout, if any. ``warnings``: warning texts.
    ``unpaired``, ``stats``, ``state``: as on a network after a run;
    ``edge_counts``: messages sent along each edge, by label (``"a → b"``).
    """

    def __init__(self, net, outputs, seed, timeout):
        self.net = net
        self.outputs = outputs
        self.seed = seed
        self.timeout = timeout
        self.failures = []
        self.timed_out = False
        self.error = None
        self.warnings = []
        self.stuck = False
        self.unpaired = {}
        self.stats = {}
        self.state = {}
        self.edge_counts = {}

    @property
    def clean(self):
        return not (self.failures or self.timed_out)

    def sink(self, name):
        """The messages the sink ``name`` received (a friendly failure if there is no such sink)."""
        __tracebackhide__ = True
        if name not in self.outputs:
            sinks = ", ".join(map(repr, self.outputs)) or "none"
            fail(f"Your network has no sink named {name!r}.",
                 expected=f"a Sink named {name!r}", got=f"sinks named {sinks}",
                 hint=f"collect the results with Sink(fn=..., name={name!r}).")
        return self.outputs[name]

    def outcome(self, sinks=None):
        """The results as one comparable value: a tuple of (sink, messages) pairs."""
        names = sorted(self.outputs) if sinks is None else list(sinks)
        return tuple((n, show(self.sink(n), 100_000)) for n in names)

    def where(self):
        return f" (schedule seed={self.seed})" if self.seed is not None else ""


class _Recorder:
    """A sink function that keeps a copy of every message, then calls the student's function (if any)."""

    def __init__(self, fn, into):
        self.fn = fn
        self.into = into

    def __call__(self, msg, **params):
        try:
            kept = copy_message(msg)
        except Exception:
            kept = msg
        self.into.append(kept)
        if self.fn is not None:
            return self.fn(msg, **params)


def build_copy(g, inputs=None, wrap=None, name="g", call_sinks=True):
    """A fresh copy of ``g`` with recording sinks; returns (network, {sink name: list}).

    ``inputs``: {source name: list of messages} to send instead of the source's own data.
    ``wrap``: {node name: function(fn) -> fn} to wrap a node's function.
    ``call_sinks=False``: the sinks only record; the student's sink functions are not called.
    """
    __tracebackhide__ = True
    v = verified(g, name)
    inputs = dict(inputs or {})
    wrap = dict(wrap or {})
    outputs, swap = {}, {}
    for n in v.net.nodes:
        fn = n.fn
        if n.name in wrap:
            fn = wrap.pop(n.name)(fn)
        if n.name in inputs:
            if kind_of(n) != "source":
                raise ValueError(f"inputs: {n.name!r} is a {kind_of(n)}, not a source")
            swap[id(n)] = Source(fn=ListSource(items=inputs.pop(n.name)).run, name=n.name)
        elif kind_of(n) == "sink":
            outputs[n.name] = []
            swap[id(n)] = Sink(fn=_Recorder(fn if call_sinks else None, outputs[n.name]),
                               name=n.name, params=n.params)
        elif fn is not n.fn:
            if type(n) is Split:
                swap[id(n)] = Split(fn=fn, num_outputs=n.num_outputs, name=n.name, params=n.params)
            else:
                swap[id(n)] = type(n)(fn=fn, name=n.name, params=n.params)
    if inputs:
        fail(f"The test needs a source named {sorted(inputs)[0]!r}, and your network has none.",
             hint=f"name your source with Source(fn=..., name={sorted(inputs)[0]!r}).")
    if wrap:
        fail(f"The test needs a node named {sorted(wrap)[0]!r}, and your network has none.",
             hint=f"give that node name={sorted(wrap)[0]!r}.")

    def end(node, port):
        new = swap.get(id(node), node)
        return new if port is None else new.ports[port]

    pairs = [(end(e.src, e.src_port), end(e.dst, e.dst_port)) for e in v.net.edges]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = network(pairs)
    return net, outputs


def run(g, timeout=TIMEOUT, inputs=None, seed=None, capacity=None, name="g", wrap=None,
        call_sinks=True):
    """Run a copy of ``g`` once and return a :class:`CheckedRun`; never raises for the network's own errors.

    ``seed``: run under the seeded schedule ``seed`` (needs seeded runs, see
    :func:`seeded_runs_available`). ``inputs``: data to use instead of a source's own.
    ``call_sinks``: also call the student's sink functions (their effects are often the
    point: a tally, a database); each sink's messages are recorded either way.
    """
    __tracebackhide__ = True
    if seed is not None and not seeded_runs_available():
        raise RuntimeError(
            "This check runs the network under seeded schedules (run_network(seed=...)), "
            "which this version of DisSysLab does not have yet (no dissyslab.seeded).")
    there = elsewhere(g)
    if there is not None:  # grading: it runs in the student's process, and is judged here
        return there.run(g, timeout, inputs, seed, capacity, name, call_sinks,
                         sorted(wrap) if wrap else None, CheckedRun)
    net, outputs = build_copy(g, inputs=inputs, wrap=wrap, name=name, call_sinks=call_sinks)
    result = CheckedRun(net, outputs, seed, timeout)
    extra = {"live": False}
    if seed is not None:
        extra["seed"] = seed
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            _RUN_NETWORK(net, timeout=timeout, capacity=capacity, **extra)
        except NetworkTimeout as err:
            result.timed_out = True
            result.error = str(err)
            result.failures = list(getattr(err, "failures", []) or [])
        except NetworkError as err:
            result.error = str(err)
            result.failures = list(err.failures)
    for w in caught:
        result.warnings.append(str(w.message))
        if issubclass(w.category, NodeStillRunningWarning):
            result.stuck = True
    result.unpaired = dict(net.unpaired)
    result.stats = dict(net.stats)
    result.state = dict(net.state)
    for edge, count in net.edge_counts.items():
        result.edge_counts[edge.label] = result.edge_counts.get(edge.label, 0) + count
    return result


def _require_clean(r, hint=None):
    __tracebackhide__ = True
    if r.timed_out:
        fail(f"Your network did not finish within {r.timeout:g} seconds{r.where()}, so the check "
             f"stopped it.\n  What the runtime said: {_indent(r.error)}",
             hint=hint or "a source that never returns None never ends; a function that loops "
                          "or sleeps for long holds everything up.",
             public=f"Your network did not finish within {r.timeout:g} seconds in a hidden test.")
    if r.failures:
        names = ", ".join(sorted({repr(f.node.name) for f in r.failures}))
        said = r.error.replace(WHERE_TRACEBACKS, "").rstrip()  # the check says what to do instead
        # the task's hint was written for wrong results or a run that never ends: an error
        # comes first, and the hint is for once the network runs
        first = ("read which node failed and on which message; call its function on that "
                 "message yourself to see the error.")
        fail(f"A node of your network failed while the check ran it{r.where()}.\n"
             f"  What the runtime said: {_indent(said)}",
             hint=first + (f" Once it runs without an error: {hint}" if hint else ""),
             public=f"A node of your network ({names}) failed in a hidden test.")


def _indent(text):
    return (text or "").replace("\n", "\n    ")


def finishes(g, timeout=TIMEOUT, inputs=None, seed=None, hint=None, name="g"):
    """Check that ``g`` runs to the end within ``timeout`` seconds with no failed node.

    Returns the :class:`CheckedRun`.
    """
    __tracebackhide__ = True
    r = run(g, timeout=timeout, inputs=inputs, seed=seed, name=name)
    _require_clean(r, hint)
    return r


def outputs(g, expected, timeout=TIMEOUT, inputs=None, seed=None, any_order=False, hint=None,
            name="g", hints=None, call_sinks=False):
    """Run ``g`` and check what each sink received: ``expected`` is {sink name: list of messages}.

    ``any_order=True`` accepts the messages in any order (for fanin, where the
    order depends on the schedule). ``hints`` is {sink name: hint} for
    task-specific hints. The student's sink functions are not called unless
    ``call_sinks=True``, so running a test cell again leaves their lists as they
    were. Returns the :class:`CheckedRun`.
    """
    __tracebackhide__ = True
    r = run(g, timeout=timeout, inputs=inputs, seed=seed, name=name, call_sinks=call_sinks)
    _require_clean(r, hint)
    for sink, want in expected.items():
        got = r.sink(sink)
        ok = same_items(got, want) if any_order else same(got, list(want))
        if not ok:
            data = ""
            if inputs:
                data = " with the input " + "; ".join(f"{k}={show(v, 80)}" for k, v in inputs.items())
            why = explain_difference(got, list(want)) if not any_order else (
                "" if len(got) == len(want) else f"{len(got)} messages arrived, {len(want)} expected.")
            fail(f"The sink {sink!r} did not receive the right messages{data}{r.where()}."
                 + (f" {why}" if why else ""),
                 expected=show(list(want)) + (" (in any order)" if any_order else ""),
                 got=show(got),
                 hint=(hints or {}).get(sink) or hint or _auto_hint(got, list(want), r, sink),
                 public=f"The sink {sink!r} did not receive the right messages in a hidden test"
                        f"{' (with other data than the example)' if inputs else ''}.")
    return r


def _auto_hint(got, want, r, sink):
    if not got and want:
        if not any(st.sent for n, st in r.stats.items() if n in _sources(r)):
            return ("your source sent nothing in this run. A source whose data was used up in an "
                    "earlier run sends nothing: a ListSource starts again at every run.")
        return "is the sink connected to the path that should feed it?"
    if len(got) == 2 * len(want) and same_items(got, want * 2):
        return "is an edge listed twice? A duplicate edge sends every message twice."
    if any(type(m) is bool for m in got):
        return "a filter must return None to drop a message: False is a message like any other."
    if same_items(got, want):
        return "the right messages arrived, in another order. Does a path reorder them?"
    return "call your functions by hand on a few messages and compare with what you expected."


def _sources(r):
    return {n.name for n in r.net.nodes if kind_of(n) == "source"}


class Outcomes:
    """The distinct results of a network over many seeded schedules, with the seeds behind each."""

    def __init__(self, runs):
        self.runs = runs
        self.by_outcome = {}
        for r in runs:
            self.by_outcome.setdefault(r.outcome(), []).append(r)

    def __len__(self):
        return len(self.by_outcome)

    def distinct(self):
        """One CheckedRun per distinct outcome (the first seed that produced it), in seed order."""
        return [rs[0] for rs in self.by_outcome.values()]

    def seeds(self):
        return {o: [r.seed for r in rs] for o, rs in self.by_outcome.items()}


def schedules(g, seeds=range(30), timeout=TIMEOUT, inputs=None, name="g"):
    """Run ``g`` under each seeded schedule in ``seeds``; return :class:`Outcomes`.

    A run that fails or times out makes the check fail, naming the seed.
    """
    __tracebackhide__ = True
    runs = []
    for seed in seeds:
        r = run(g, timeout=timeout, inputs=inputs, seed=seed, name=name)
        _require_clean(r)
        runs.append(r)
    return Outcomes(runs)


def same_for_all_schedules(g, seeds=range(30), sinks=None, timeout=TIMEOUT, inputs=None,
                           hint=None, name="g"):
    """Check that every seeded schedule gives the same results (at ``sinks``, or at every sink)."""
    __tracebackhide__ = True
    runs = schedules(g, seeds, timeout, inputs, name).runs
    first = runs[0]
    for r in runs[1:]:
        for sink in (sinks or sorted(first.outputs)):
            a, b = first.sink(sink), r.sink(sink)
            if not same(b, a):
                fail(f"The result of your network depends on the schedule: the sink {sink!r} "
                     f"received different messages under seed {first.seed} and seed {r.seed}.",
                     expected="the same messages under every schedule",
                     got=f"seed {first.seed}: {show(a, 90)}; seed {r.seed}: {show(b, 90)}",
                     hint=hint or "threads take turns in any order. Find what the two schedules "
                                  "share (a list, a counter, a sink) and give each path its own, "
                                  "or bring the results together in one place that does not "
                                  "care about order.")
    return first


def differs_between(g, seed_a, seed_b, sinks=None, timeout=TIMEOUT, inputs=None, hint=None,
                    name="g"):
    """Check that two seeds give different results (a claimed counterexample); return both Runs."""
    __tracebackhide__ = True
    if seed_a == seed_b:
        fail(f"The two seeds are the same ({seed_a}), so they run the same schedule.",
             hint=hint or "pick two different seeds; g.explore(...) lists seeds for each outcome.")
    ra = finishes(g, timeout, inputs, seed=seed_a, name=name)
    rb = finishes(g, timeout, inputs, seed=seed_b, name=name)
    names = sinks or sorted(ra.outputs)
    if all(same(ra.sink(s), rb.sink(s)) for s in names):
        fail(f"Seeds {seed_a} and {seed_b} give the same result, so they do not show that the "
             f"order can change.",
             got=f"both: {show({s: ra.sink(s) for s in names}, 120)}",
             hint=hint or "try other seeds; g.explore(...) shows which seeds give which outcome.")
    return ra, rb


def same_result(build, read, seeds=range(30), expected=None, timeout=TIMEOUT, hint=None):
    """Race check: build a fresh network for each seed, run it, compare ``read(state)``.

    ``build()`` returns ``(network, state)``; ``read(state)`` returns the value to
    compare (a shared counter, say). Fails naming two seeds with different
    values, or a seed whose value is not ``expected``. Returns the value.
    """
    __tracebackhide__ = True
    values = []
    there = elsewhere(build)
    for seed in seeds:
        if there is not None:  # grading: build and run in the student's process
            r, bad, state = there.build_run(build, seed, timeout, CheckedRun)
            if bad is not None:
                fail("The build function should return two things: the network and its state, "
                     "as in `return g, state`.", got=f"it returned {bad}")
            _require_clean(r)
            if there.holds_its_objects(state):
                fail("The state your build function returns should be plain data (a dict, a "
                     "list, numbers...), so the check can read it.", got=show(state, 80))
        else:
            built = build()
            if type(built) is not tuple or len(built) != 2:
                fail("The build function should return two things: the network and its state, "
                     "as in `return g, state`.", got=f"it returned {show(built, 80)}")
            g, state = built
            r = run(g, timeout=timeout, seed=seed)
            _require_clean(r)
        values.append((seed, read(state)))
    first_seed, first = values[0]
    for seed, value in values:
        if expected is not None and not same(value, expected):
            fail(f"Under the schedule with seed {seed} the result is wrong: two threads changed "
                 f"the same data at the same time, and one change was lost (a race).",
                 expected=show(expected), got=show(value),
                 hint=hint or "make sure only one node changes the shared data, or protect each "
                              "read-and-update with a threading.Lock.")
        if not same(value, first):
            fail(f"The result depends on the schedule (a race): seed {first_seed} gives "
                 f"{show(first, 60)} and seed {seed} gives {show(value, 60)}.",
                 hint=hint or "make sure only one node changes the shared data, or protect each "
                              "read-and-update with a threading.Lock.")
    return first


class Meter:
    """Counts how many calls of some functions are running at the same moment."""

    def __init__(self):
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0

    def wrap(self, fn):
        meter = self

        def metered(*args, **kwargs):
            with meter.lock:
                meter.active += 1
                meter.peak = max(meter.peak, meter.active)
            try:
                return fn(*args, **kwargs)
            finally:
                with meter.lock:
                    meter.active -= 1

        return metered


def overlap(g, names, timeout=TIMEOUT, inputs=None, name="g"):
    """Run ``g`` (threaded) and return the most calls of the ``names`` nodes' functions running at once."""
    __tracebackhide__ = True
    if elsewhere(g) is not None:  # grading: the calls are counted in the student's process
        r = run(g, timeout=timeout, inputs=inputs, wrap={n: None for n in names}, name=name)
        _require_clean(r)
        return r.peak
    meter = Meter()
    r = run(g, timeout=timeout, inputs=inputs, wrap={n: meter.wrap for n in names}, name=name)
    _require_clean(r)
    return meter.peak


def equal(actual, expected, what="the result", hint=None):
    """Check that ``actual`` is the same plain data as ``expected``; ``what`` names it for the student."""
    __tracebackhide__ = True
    if not same(actual, expected):
        extra = ""
        a, e = plain_list(actual), plain_list(expected)
        if a is not None and e is not None:
            extra = " " + explain_difference(a, e, noun="item")
        fail(f"{what[:1].upper() + what[1:]} is not what the task asks for.{extra}",
             expected=show(expected), got=show(actual), got_label="Yours",
             hint=hint, public=f"{what[:1].upper() + what[1:]} is not what the task asks for.")


def that(condition, problem, expected=None, got=None, hint=None):
    """Check any condition; on failure say ``problem``, what was expected, what happened, a hint."""
    __tracebackhide__ = True
    if condition is not True:
        fail(problem, expected=expected, got=got, hint=hint, public=problem)


def run_beside(code):
    """Run instructor code that a test needs next to the student's answers; return what it defines.

    For tests that must hand the student's function objects of their own (a
    network whose nodes fail, say): ``nets = check.run_beside('''...''')`` runs
    the code with the names of the notebook's read-only cells and returns
    ``{name: value}`` of what it defined. In a notebook this runs right here;
    when grading it runs in the student's process (only this code is sent
    there, not the test around it), and the values are references to it.
    """
    there = other_process()
    if there is not None:  # grading: it runs in the student's process
        return there.beside(code)
    import sys

    caller = sys._getframe(1).f_globals
    ns = dict(caller)
    before = set(ns)
    exec(compile(code, "<instructor code>", "exec"), ns)
    return {k: v for k, v in ns.items()
            if (k not in before or ns[k] is not caller.get(k)) and not k.startswith("__")}


def done(task):
    """Print the student's success line at the end of a test cell."""
    print(f"✓ {task}: every check in this cell passed.")


__all__ = ["CheckedRun", "run", "finishes", "outputs", "schedules", "Outcomes", "same_for_all_schedules",
           "differs_between", "same_result", "overlap", "equal", "that", "done", "run_beside",
           "seeded_runs_available", "Meter",
           "build_copy", "TIMEOUT", "CheckFailed", "message"]
