"""Exhaustive exploration (exhaustive.py): every schedule of a small network, and replay of one."""

import warnings
from math import factorial

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dissyslab import (
    ListSource,
    MergeSynch,
    MergeSynchWarning,
    Sink,
    Source,
    Split,
    Transform,
    crash,
    drop,
    duplicate,
    network,
)
from dissyslab.exhaustive import (
    Choice,
    ExplorationWarning,
    Schedule,
    ScheduleMismatch,
    explore_all,
)
from flow_networks import build as build_spec
from flow_networks import specs

T = 10  # seconds: every run here has a time limit
SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fanin(sources=3, each=3):
    got = []
    srcs = [Source(fn=ListSource([f"{c}{i}" for i in range(each)]).run, name=c)
            for c in "abcde"[:sources]]
    sink = Sink(fn=got.append, name="sink")
    return network([(s, sink) for s in srcs]), got


def split_into_one_sink(n=4):
    """A Split sending both its ports into one sink: the sink's order depends on the schedule."""
    src = Source(fn=ListSource(list(range(n))).run, name="src")
    sp = Split(fn=lambda x: [("even", x), ("odd", x)], num_outputs=2, name="sp")
    got = []
    sink = Sink(fn=got.append, name="sink")
    return network([(src, sp), (sp.out_0, sink), (sp.out_1, sink)]), got


def received(ex, sink="sink"):
    return {repr(f.received) for f in ex[sink]}


# --- exact counts -------------------------------------------------------------------------
def test_fanin_of_three_sources_gives_every_arrival_order_once():
    g, got = fanin()
    ex = g.explore(exhaustive=True, timeout=T)
    want = factorial(9) // (factorial(3) ** 3)
    assert want == 1680
    assert len(ex["sink"]) == want and ex.complete
    assert ex.schedules <= len(ex["sink"])
    for f in ex["sink"]:  # each source's messages keep their order
        for c in "abc":
            assert [m for m in f.received if m[0] == c] == [f"{c}{i}" for i in range(3)]
    assert got == []  # the sink's list is put back as it was before the search


def test_a_pipeline_explores_exactly_one_schedule():
    src = Source(fn=ListSource([1, 2, 3]).run, name="src")
    double = Transform(fn=lambda x: 2 * x, name="double")
    sink = Sink(fn=print, name="sink")
    g = network([(src, double), (double, sink)])
    ex = g.explore(exhaustive=True, timeout=T)
    assert ex.schedules == 1 and ex.complete
    assert [f.received for f in ex["sink"]] == [[2, 4, 6]]
    assert len(ex["sink"][0].schedule) == 0


def test_one_sender_per_input_explores_one_schedule_with_splits_and_merges():
    a = Source(fn=ListSource([1, 2, 3]).run, name="a")
    b = Source(fn=ListSource(["x", "y", "z"]).run, name="b")
    sp = Split(fn=lambda n: [n, -n], num_outputs=2, name="sp")
    m = MergeSynch(num_inputs=2, name="m")
    s1, s2 = Sink(fn=print, name="s1"), Sink(fn=print, name="s2")
    g = network([(a, sp), (sp.out_0, m.in_0), (b, m.in_1), (m, s1), (sp.out_1, s2)])
    ex = g.explore(exhaustive=True, timeout=T)
    assert ex.schedules == 1
    assert ex["s1"][0].received == [[1, "x"], [2, "y"], [3, "z"]]


# --- the reduction finds what every interleaving finds -------------------------------------
def _outcomes(ex):
    return {name: {repr(f.received) for f in ex[name]} for name in ex}, set(ex.failures)


def _compare(make, max_schedules=500):
    """Reduced and unreduced searches find the same outcomes (where the unreduced one completes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = explore_all(build=make, reduce=False, max_schedules=max_schedules, timeout=T,
                           progress=False)
        if not full.complete:
            return False
        reduced = explore_all(build=make, timeout=T)
    assert reduced.complete
    assert _outcomes(reduced) == _outcomes(full)
    assert reduced.schedules <= full.schedules
    return True


def _small(spec):
    kinds, edges, params, counts, loop = spec
    return kinds, edges, params, [min(c, 2) for c in counts], loop


@SETTINGS
@given(specs(faults=True, unsendable=False))
def test_reduced_search_finds_every_outcome_of_every_interleaving(spec):
    spec = _small(spec)
    _compare(lambda: build_spec(spec)[0])


@st.composite
def merge_networks(draw):
    """Two or three sources into a MergeSynch, some inputs with several senders, maybe a fanin after."""
    n_src = draw(st.integers(2, 3))
    counts = [draw(st.integers(0, 2)) for _ in range(n_src)]
    wires = [draw(st.sets(st.integers(0, 1), min_size=1, max_size=2)) for _ in range(n_src)]
    wires[0] |= {0}
    wires[-1] |= {1}
    extra = draw(st.booleans())  # a source also straight into the sink (a fanin after the merge)
    return counts, wires, extra


def _merge_net(counts, wires, extra):
    srcs = [Source(fn=ListSource([f"s{i}.{k}" for k in range(c)]).run, name=f"s{i}")
            for i, c in enumerate(counts)]
    m = MergeSynch(num_inputs=2, name="m")
    sink = Sink(fn=print, name="sink")
    pairs = [(s, getattr(m, f"in_{p}")) for s, ports in zip(srcs, wires, strict=True)
             for p in sorted(ports)]
    pairs.append((m, sink))
    if extra:
        pairs.append((srcs[0], sink))
    return network(pairs)


@SETTINGS
@given(merge_networks())
def test_reduced_search_on_merges_finds_every_outcome(net_spec):
    _compare(lambda: _merge_net(*net_spec))


def _loop(items, below):
    """``work`` takes from the source and from round the loop (``back`` adds 10 while below ``below``)."""
    def make():
        src = Source(fn=ListSource(list(items)).run, name="src")
        work = Transform(fn=lambda x: x, name="work")
        back = Transform(fn=lambda x: x + 10 if x < below else None, name="back")
        sink = Sink(fn=print, name="sink")
        return network([(src, work), (work, back), (back, work), (work, sink)])
    return make


def test_a_loop_entry_gives_the_orders_counted_by_hand():
    # work takes 1 then 2 from the source, 11 then 12 from the loop, 11 only after 1 and 12
    # only after 2: either 11 comes back before 2 is taken, or after
    ex = explore_all(build=_loop([1, 2], 10), timeout=T)
    assert ex.complete
    assert sorted(f.received for f in ex["sink"]) == [[1, 2, 11, 12], [1, 11, 2, 12]]


def test_reduced_search_with_a_loop_matches_every_interleaving():
    # every interleaving of a loop grows very fast: one message going round twice is 300
    assert _compare(_loop([1], 20), max_schedules=2000)


def test_a_fanin_with_two_messages_each_is_compared_completely():
    # every interleaving of the steps of two sources of two messages and the sink: 6,300
    assert _compare(lambda: fanin(2, 2)[0], max_schedules=10_000)


def test_a_split_into_one_sink_is_compared_completely():
    # 0 and 1 along each port: the sink sees every order of the two ports, C(4, 2) = 6
    ex = explore_all(build=lambda: split_into_one_sink(2)[0], timeout=T)
    assert ex.complete and len(ex["sink"]) == 6
    assert _compare(lambda: split_into_one_sink(2)[0], max_schedules=1000)


def test_a_merge_input_with_two_senders_pairs_whichever_came_first():
    # s0 and s1 both send into in_0, s2 into in_1: s2's one message is paired with s0's
    # first or with s1's, and nothing else can happen
    with pytest.warns(MergeSynchWarning, match="never paired"):  # what is left is reported
        ex = explore_all(build=lambda: _merge_net([2, 1, 1], [{0}, {0}, {1}], False), timeout=T)
    assert ex.complete
    assert sorted(f.received for f in ex["sink"]) == [[["s0.0", "s2.0"]], [["s1.0", "s2.0"]]]


# --- every outcome other schedulers find is in the exhaustive set ---------------------------
def fanout_into_one_sink(n=3):
    """A fanout whose two edges both lead to one sink: every message arrives twice."""
    src = Source(fn=ListSource(list(range(n))).run, name="src")
    t = Transform(fn=lambda x: 10 * x, name="t")
    got = []
    sink = Sink(fn=got.append, name="sink")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the edge listed twice, on purpose
        return network([(src, t), (t, sink), (t, sink)]), got


def test_every_outcome_of_200_seeds_is_in_the_exhaustive_set():
    for g, _ in (fanin(3, 2), split_into_one_sink(), fanout_into_one_sink()):
        ex = g.explore(exhaustive=True, timeout=T)
        seeded = g.explore(runs=200, timeout=T)
        assert {repr(o.received) for o in seeded["sink"]} <= received(ex)


@pytest.mark.parametrize("make", [lambda: split_into_one_sink(2), lambda: fanout_into_one_sink(3),
                                  lambda: fanin(2, 2)])
def test_seeds_follow_the_same_model_and_find_every_outcome_of_a_small_network(make):
    # seeded runs choose among the same steps the search branches over: on a small network
    # 200 seeds find every outcome (a Split's two ports into one sink: C(4, 2) = 6 orders)
    g, _ = make()
    ex = g.explore(exhaustive=True, timeout=T)
    seeded = g.explore(runs=200, timeout=T)
    assert ex.complete and {repr(o.received) for o in seeded["sink"]} == received(ex)


@pytest.mark.parametrize("make", [lambda: fanin(2, 3), lambda: split_into_one_sink(6),
                                  lambda: fanout_into_one_sink(4)])
def test_every_outcome_of_50_threaded_runs_is_in_the_exhaustive_set(make):
    g, got = make()
    ex = g.explore(exhaustive=True, timeout=T)
    assert ex.complete
    everything = received(ex)
    for _ in range(50):
        got.clear()
        g.run_network(timeout=T, live=False)
        assert repr(got) in everything


def test_a_split_into_one_sink_has_every_order_of_its_two_ports():
    g, _ = split_into_one_sink(6)
    ex = g.explore(exhaustive=True, timeout=T)
    assert ex.complete and len(ex["sink"]) == factorial(12) // (factorial(6) ** 2)


# --- check=, counterexamples and replay ------------------------------------------------------
class Account:
    """A bank account: deposits and withdrawals arrive from two tellers."""

    def __init__(self, balance):
        self.balance = balance
        self.lowest = balance

    def apply(self, amount):
        self.balance += amount
        self.lowest = min(self.lowest, self.balance)


def bank():
    account = Account(50)
    a = Source(fn=ListSource([+100, -80]).run, name="teller_a")
    b = Source(fn=ListSource([-60]).run, name="teller_b")
    log = Sink(fn=account.apply, name="log")
    return network([(a, log), (b, log)]), account


def never_overdrawn(result):
    balance = 50
    for amount in result.received["log"]:
        balance += amount
        if balance < 0:
            return False
    return True


def test_check_stops_at_the_first_counterexample_which_replays_exactly():
    g, account = bank()
    ex = g.explore(exhaustive=True, check=never_overdrawn, timeout=T)
    assert not ex.complete and ex.stopped_by == "check"
    s = ex.counterexample
    assert isinstance(s, Schedule) and s == ex.broken.schedule
    assert ex.broken.ended and not ex.broken.bounded and not ex.broken.deadlocked
    assert account.balance == 50  # the search puts the account back
    g.run_network(schedule=s, trace=True, timeout=T, live=False)
    assert g.last_run.received["log"] == ex.broken.received["log"]
    assert account.lowest < 0
    assert "`log` takes from `teller_" in str(s)
    assert g.timeline() is not None
    takes = [r for r in g.trace if r.event == "receive" and r.node == "log"]
    assert [r.message for r in takes] == ex.broken.received["log"]


def test_a_check_that_always_holds_explores_everything():
    g, _ = bank()
    ex = g.explore(exhaustive=True, check=lambda r: r.ended, timeout=T)
    assert ex.complete and ex.counterexample is None and ex.schedules == 3


def test_a_check_may_use_assert():
    def check(result):
        assert result.received["log"][0] != -60
    g, _ = bank()
    ex = g.explore(exhaustive=True, check=lambda r: check(r) or True, timeout=T)
    assert ex.stopped_by == "check" and ex.broken.received["log"][0] == -60


def test_every_found_schedule_replays_its_outcome():
    g, got = fanin(2, 2)
    ex = g.explore(exhaustive=True, timeout=T)
    for f in ex["sink"]:
        got.clear()
        g.run_network(schedule=f.schedule, timeout=T, live=False)
        assert got == f.received
    assert ex.schedule_for("sink", ["b0", "b1", "a0", "a1"]) is not None


def test_schedules_are_readable_and_equal_when_equal():
    c = Choice(7, "log", 1, "teller_b")
    assert str(c) == "step 7: `log` takes from `teller_b`"
    assert Schedule([c]) == Schedule([Choice(7, "log", 1, "teller_b")])
    assert Schedule([c]) != Schedule([Choice(7, "log", 0, "teller_a")])
    assert len({Schedule([c]), Schedule([Choice(7, "log", 1, "teller_b")])}) == 1
    g, _ = bank()
    first = g.explore(exhaustive=True, timeout=T)
    again = g.explore(exhaustive=True, timeout=T)
    assert [f.schedule for f in first["log"]] == [f.schedule for f in again["log"]]


def test_a_schedule_tells_apart_the_edges_from_one_sender_into_one_sink():
    g, _ = split_into_one_sink(2)
    text = "\n".join(str(f.schedule) for f in g.explore(exhaustive=True, timeout=T)["sink"])
    assert "takes from `sp.out_0`" in text and "takes from `sp.out_1`" in text
    g, _ = fanout_into_one_sink(2)
    text = "\n".join(str(f.schedule) for f in g.explore(exhaustive=True, timeout=T)["sink"])
    assert "takes from `t`" in text and "takes from `t (2)`" in text


def test_replay_is_refused_with_a_seed_or_ray_or_a_wrong_schedule():
    g, _ = bank()
    s = g.explore(exhaustive=True, timeout=T)["log"][1].schedule
    with pytest.raises(ValueError, match="give one of the two"):
        g.run_network(schedule=s, seed=1)
    with pytest.raises(ValueError, match='engine="ray"'):
        g.run_network(schedule=s, engine="ray")
    with pytest.raises(TypeError, match="must be a Schedule"):
        g.run_network(schedule=[1, 2])
    with pytest.raises(ValueError, match="found without faults.*leave out faults= to replay it"):
        g.run_network(schedule=s, faults=[crash("log", after=1)])
    other, _ = fanin(2, 2)
    with pytest.raises(ScheduleMismatch, match="does not fit this network"):
        other.run_network(schedule=s, timeout=T, live=False)


# --- starting every schedule from the initial state ------------------------------------------
def test_state_in_a_closure_needs_build():
    def make():
        seen = []

        def remember(x):
            seen.append(x)
        a = Source(fn=ListSource([1, 2]).run, name="a")
        b = Source(fn=ListSource([3]).run, name="b")
        sink = Sink(fn=remember, name="sink")
        return network([(a, sink), (b, sink)])
    with pytest.raises(ValueError, match="build=") as err:
        make().explore(exhaustive=True, timeout=T)
    assert "'seen'" in str(err.value) and "sink 'sink'" in str(err.value)
    ex = explore_all(build=make, timeout=T)
    assert ex.complete and len(ex["sink"]) == 3


def test_a_source_that_is_used_up_is_named():
    items = iter([1, 2])
    a = Source(fn=lambda: next(items, None), name="a")
    b = Source(fn=ListSource([3]).run, name="b")
    sink = Sink(fn=print, name="sink")
    g = network([(a, sink), (b, sink)])
    with pytest.raises(ValueError, match="source 'a' sent 2 messages in the first schedule"):
        g.explore(exhaustive=True, timeout=T)


def test_shared_state_is_warned_about():
    shared = []
    a = Source(fn=ListSource([1]).run, name="a")
    s1, s2 = Sink(fn=shared.append, name="s1"), Sink(fn=shared.append, name="s2")
    g = network([(a, s1), (a, s2)])
    with pytest.warns(ExplorationWarning, match="'s1' and 's2' share state.*reduce=False"):
        g.explore(exhaustive=True, timeout=T)


def test_explore_arguments_are_checked():
    g, _ = bank()
    with pytest.raises(TypeError, match="add exhaustive=True"):
        g.explore(check=never_overdrawn)
    with pytest.raises(ValueError, match="leave out runs="):
        g.explore(runs=5, exhaustive=True)
    with pytest.raises(TypeError, match="unexpected argument colour="):
        g.explore(exhaustive=True, colour=1)
    with pytest.raises(ValueError, match="max_steps"):
        g.explore(exhaustive=True, max_steps=0)
    with pytest.raises(ValueError, match="probability"):
        g.explore(exhaustive=True, faults=[drop("teller_a → log", p=2)])
    with pytest.raises(ValueError, match="nowhere"):
        g.explore(exhaustive=True, faults=[crash("nowhere", after=1)])


# --- bounds and early stops -------------------------------------------------------------------
def test_an_endless_source_is_cut_by_max_steps():
    class Counter:
        def __init__(self):
            self.n = 0

        def next(self):
            self.n += 1
            return self.n
    a = Source(fn=Counter().next, name="a")
    g = network([(a, Sink(fn=print, name="sink"))])
    ex = g.explore(exhaustive=True, max_steps=20, timeout=T)
    assert not ex.complete and ex.stopped_by == "max_steps" and ex.cut_runs == 1
    assert len(ex["sink"][0].received) < 20
    assert "max_steps" in str(ex)


def test_max_schedules_and_ctrl_c_keep_what_was_found():
    g, _ = fanin()
    ex = g.explore(exhaustive=True, max_schedules=100, timeout=T)
    assert ex.schedules == 100 and ex.stopped_by == "max_schedules" and len(ex["sink"]) == 100
    assert "give a larger max_schedules=" in str(ex)
    calls = []

    def interrupt(result):
        calls.append(result)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return True
    ex = g.explore(exhaustive=True, check=interrupt, timeout=T)
    assert ex.stopped_by == "interrupted" and len(ex["sink"]) == 5


def test_a_full_room_makes_the_search_try_every_interleaving():
    make = lambda: fanin(2, 2)[0]  # noqa: E731
    ex = explore_all(build=make, capacity=1, timeout=T)
    full = explore_all(build=make, capacity=1, reduce=False, timeout=T)
    assert not ex.reduced and ex.notes and ex.complete
    assert _outcomes(ex) == _outcomes(full)
    g = make()
    got = ex["sink"][-1]
    g.run_network(schedule=got.schedule, timeout=T, live=False)
    assert g.last_run.received["sink"] == got.received


# --- faults as choices: each drop or duplicate of chance p is tried both ways ------------------
def three_to_one():
    got = []
    g = network([(Source(fn=ListSource(items=[1, 2, 3]).run, name="src"),
                  Sink(fn=got.append, name="out"))])
    return g, got


def test_a_drop_of_chance_p_is_a_choice_tried_both_ways():
    """Before: faults= was refused by the exhaustive search."""
    g, _ = three_to_one()
    ex = g.explore(exhaustive=True, faults=[drop("src → out", p=0.5)], timeout=T)
    assert ex.complete and ex.schedules == 8  # each of the 3 messages arrives or is lost
    assert sorted(tuple(f.received) for f in ex["out"]) == [
        (), (1,), (1, 2), (1, 2, 3), (1, 3), (2,), (2, 3), (3,)]
    found = next(f for f in ex["out"] if f.received == [1, 3])
    assert "message 2 along `src → out` is lost" in str(found.schedule)
    assert "message 1 along `src → out` arrives" in str(found.schedule)


def test_a_schedule_with_faults_replays_exactly_and_keeps_its_faults():
    g, got = three_to_one()
    ex = g.explore(exhaustive=True, faults=[drop("src → out", p=0.3)], timeout=T)
    for f in ex["out"]:
        got.clear()
        g.run_network(schedule=f.schedule, trace=True, timeout=T, live=False)
        assert got == f.received
        edge = g.edges[0]
        assert g.edge_counts[edge] == g.edge_received[edge] + g.edge_lost[edge]  # accounted
        assert sum(r.event == "lost" for r in g.trace) == 3 - len(f.received)
    with pytest.raises(ValueError, match="keeps the faults= it was found with"):
        g.run_network(schedule=ex["out"][0].schedule, faults=[drop("src → out", p=0.3)])
    again = g.explore(exhaustive=True, faults=[drop("src → out", p=0.3)], timeout=T)
    assert [f.schedule for f in again["out"]] == [f.schedule for f in ex["out"]]  # equal


def test_a_duplicate_of_chance_p_doubles_each_message_or_not():
    g, _ = three_to_one()
    ex = g.explore(exhaustive=True, faults=[duplicate("src → out", p=0.1)], timeout=T)
    assert ex.schedules == 8 and len(ex["out"]) == 8
    assert [1, 1, 2, 2, 3, 3] in [f.received for f in ex["out"]]
    assert any("arrives twice" in str(f.schedule) for f in ex["out"])


def test_faults_decided_in_advance_are_no_choice():
    """nth= and crash(after=) decide the same way in every schedule: no branch for them."""
    g, _ = three_to_one()
    ex = g.explore(exhaustive=True, faults=[drop("src → out", nth=[1])], timeout=T)
    assert ex.schedules == 1 and [f.received for f in ex["out"]] == [[1, 3]]
    ex = g.explore(exhaustive=True, faults=[crash("out", after=2)], timeout=T)
    assert ex.schedules == 1 and [f.received for f in ex["out"]] == [[1, 2]]


def test_check_finds_the_lost_message_a_fanin_cannot_afford_and_accounts_for_every_message():
    g, _ = fanin(2, 2)
    seen = []

    def balanced(result):
        seen.append(result)
        return True

    ex = g.explore(exhaustive=True, faults=[drop("a → sink", p=0.5)], check=balanced, timeout=T)
    # 4 drop choices (2 messages on a, each arriving or lost) times the orders at the sink
    assert ex.complete and ex.stopped_by is None
    assert {len(r.received["sink"]) for r in seen} == {2, 3, 4}

    def everything_arrives(result):
        return len(result.received["sink"]) == 4

    ex = g.explore(exhaustive=True, faults=[drop("a → sink", p=0.5)], check=everything_arrives,
                   timeout=T)
    assert ex.counterexample is not None and "is lost" in str(ex.counterexample)
    g.run_network(schedule=ex.counterexample, trace=True, timeout=T, live=False)
    assert g.edge_lost[g.edges[0]] >= 1
    assert g.timeline() is not None
