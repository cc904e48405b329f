"""Seeded runs and explore: repeatable, legal interleavings with the threaded runtime's semantics."""

import _thread
import threading
import time
import warnings
from time import sleep as imported_sleep

import pytest
from hypothesis import HealthCheck, given, settings

from dissyslab import (
    ListSource,
    MergeSynch,
    MergeSynchWarning,
    NetworkError,
    NetworkTimeout,
    NodeStillRunningWarning,
    Sink,
    Source,
    Split,
    Transform,
    network,
    seeded,
)
from dissyslab.explore import Exploration
from random_dags import build, check_delivery, dags

T = 10


def src(items, name):
    return Source(fn=ListSource(items=list(items)).run, name=name)


def two_sources(out):
    """Two sources into one collector: numbers and letters."""
    sink = Sink(fn=out.append, name="collector")
    return network([(src([1, 2, 3, 4], "numbers"), sink), (src("abcd", "letters"), sink)])


def busy_network(outs):
    """Fanin, fanout, a filter and a mutation: every kind of choice the scheduler makes."""
    a, b = src(range(8), "a"), src("wxyz", "b")
    double = Transform(fn=lambda m: m * 2, name="double")
    odd = Transform(fn=lambda m: m if not isinstance(m, int) or m % 3 else None, name="no_threes")
    tag = Transform(fn=lambda m: [m], name="tag")
    grow = Transform(fn=lambda m: m + ["!"], name="grow")
    s1, s2 = Sink(fn=outs["s1"].append, name="s1"), Sink(fn=outs["s2"].append, name="s2")
    return network([(a, double), (b, double), (double, odd), (double, tag), (odd, s1),
                    (tag, grow), (tag, s2), (grow, s2)])


def snapshot(g, outs):
    return ({k: list(v) for k, v in outs.items()},
            {k: vars(v).copy() for k, v in g.stats.items()},
            {e.label: c for e, c in g.edge_counts.items()}, dict(g.state))


# --- repeatable ---------------------------------------------------------------------
def test_the_same_seed_100_times_gives_identical_results_and_traces():
    outs = {"s1": [], "s2": []}
    g = busy_network(outs)
    first = None
    for _ in range(100):
        for v in outs.values():
            v.clear()
        g.run_network(seed=7, trace=True, timeout=T)
        now = (snapshot(g, outs), list(g.trace))
        if first is None:
            first = now
        assert now == first
    assert len(first[1]) > 50


def test_a_seeded_run_is_the_same_in_a_fresh_process():
    """No hash randomization, dict order of ids or timing can leak into the schedule."""
    import os
    import subprocess
    import sys

    import dissyslab

    root = os.path.dirname(os.path.dirname(os.path.abspath(dissyslab.__file__)))
    script = (
        "from dissyslab import *\n"
        "out = []\n"
        "k = Sink(fn=out.append, name='k')\n"
        "g = network([(Source(fn=ListSource(list('abcdef')).run, name='x'), k),"
        " (Source(fn=ListSource(list(range(6))).run, name='y'), k)])\n"
        "g.run_network(seed=11, timeout=10)\n"
        "print(out)\n"
    )
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=T, env={**os.environ, "PYTHONHASHSEED": str(h), "PYTHONPATH": root})
            for h in (1, 2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    assert runs[0].stdout == runs[1].stdout
    out = []
    k = Sink(fn=out.append, name="k")
    g = network([(src("abcdef", "x"), k), (src(range(6), "y"), k)])
    g.run_network(seed=11, timeout=T)
    assert runs[0].stdout.strip() == repr(out)


def test_a_list_source_is_rewound_so_a_second_seeded_run_sends_everything_again():
    out = []
    g = two_sources(out)
    g.run_network(seed=3, timeout=T)
    first = list(out)
    out.clear()
    g.run_network(seed=3, timeout=T)
    assert out == first and len(out) == 8
    out.clear()
    g.run_network(timeout=T)  # and a threaded run still works afterwards
    assert sorted(map(str, out)) == sorted(map(str, first))


# --- nondeterminism, shown reproducibly ---------------------------------------------------
def orders_over_seeds(g, out, seeds=50):
    """The different orders the sink's list ``out`` got in seeded runs 0 to ``seeds`` - 1."""
    orders = set()
    for seed in range(seeds):
        out.clear()
        g.run_network(seed=seed, timeout=T)
        orders.add(tuple(out))
    return orders


def test_over_50_seeds_a_two_source_fanin_shows_more_than_one_order():
    out = []
    orders = orders_over_seeds(two_sources(out), out)
    assert len(orders) > 1
    for order in orders:
        assert sorted(order, key=str) == [1, 2, 3, 4, "a", "b", "c", "d"]


def split_into_one_sink(out, n=4):
    """A Split sending each message on both ports into one sink."""
    sp = Split(fn=lambda x: [("even", x), ("odd", x)], num_outputs=2, name="sp")
    sink = Sink(fn=out.append, name="sink")
    return network([(src(range(n), "src"), sp), (sp.out_0, sink), (sp.out_1, sink)])


def fanout_into_one_sink(out, n=4):
    """A fanout whose two edges both lead to one sink (each message arrives twice)."""
    t = Transform(fn=lambda x: ("t", x), name="t")
    sink = Sink(fn=out.append, name="sink")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the edge listed twice, on purpose
        return network([(src(range(n), "src"), t), (t, sink), (t, sink)])


def keeps_each_edges_order(order, n=4):
    """Every message arrives once per edge into the sink, and each edge keeps its order."""
    for tag in {m[0] for m in order}:
        got = [m[1] for m in order if m[0] == tag]
        copies = len(got) // n  # edges that carry this tag (both edges of a fanout carry "t")
        assert sorted(got) == sorted(copies * list(range(n)))
        for k in range(len(got) + 1):  # along each edge, x comes after x - 1
            prefix = got[:k]
            assert all(prefix.count(x) >= prefix.count(x + 1) for x in range(n - 1))


@pytest.mark.parametrize("make", [split_into_one_sink, fanout_into_one_sink])
def test_several_edges_from_one_sender_into_one_sink_interleave_across_seeds(make):
    # each edge into the sink has its own queue, and the seed picks which one the sink takes
    # from next: a threaded run's order can differ too (its results go on in batches)
    out = []
    orders = orders_over_seeds(make(out), out)
    assert len(orders) > 1
    for order in orders:
        keeps_each_edges_order(order)


def test_the_same_seed_twice_gives_identical_traces_with_edges_that_interleave():
    out = []
    g = split_into_one_sink(out)
    orders = set()
    for seed in range(10):
        g.run_network(seed=seed, trace=True, timeout=T)
        first = list(g.trace)
        g.run_network(seed=seed, trace=True, timeout=T)
        assert list(g.trace) == first
        orders.add(tuple(r.message for r in first if r.event == "receive" and r.node == "sink"))
    assert len(orders) > 1  # the sink's order in the trace depends on the seed


def test_explore_lists_distinct_orders_each_reproduced_by_its_seed():
    out = []
    g = two_sources(out)
    ex = g.explore(runs=50, timeout=T)
    assert isinstance(ex, Exploration)
    outcomes = ex["collector"]
    assert len(outcomes) > 1
    assert sum(o.count for o in outcomes) == 50
    assert sorted(s for o in outcomes for s in o.seeds) == list(range(50))
    counts = [o.count for o in outcomes]
    assert counts == sorted(counts, reverse=True)
    for o in outcomes:
        out.clear()
        g.run_network(seed=o.seed, timeout=T)
        assert out == o.received
        assert ex.seed_for("collector", o.received) in o.seeds
    assert ex.seed_for("collector", ["not", "seen"]) is None
    # the sink function ran in every one of those runs
    assert len(out) == 8


def test_every_explored_outcome_keeps_each_senders_order():
    out = []
    g = two_sources(out)
    ex = g.explore(seeds=range(100, 160), timeout=T)
    for o in ex["collector"]:
        assert [m for m in o.received if isinstance(m, int)] == [1, 2, 3, 4]
        assert [m for m in o.received if isinstance(m, str)] == ["a", "b", "c", "d"]


def test_explore_text_is_readable_and_the_same_every_time():
    g = two_sources([])
    text = str(g.explore(runs=30, timeout=T))
    assert text == str(g.explore(runs=30, timeout=T))
    lines = text.splitlines()
    assert lines[0] == "30 seeded runs (seeds 0 to 29)"
    assert lines[1].startswith("collector: ") and lines[1].endswith("different orders")
    assert lines[2].lstrip().startswith("seed ") and " gives [" in lines[2] and "of 30 runs)" in lines[2]
    assert "0x" not in text
    html = g.explore(runs=5, timeout=T)._repr_html_()
    assert html.startswith("<div") and "collector" in html


def test_explore_says_when_a_sink_always_gets_the_same():
    out = []
    s, inc = src([1, 2, 3], "s"), Transform(fn=lambda m: m + 1, name="inc")
    g = network([(s, inc), (inc, Sink(fn=out.append, name="results"))])
    ex = g.explore(runs=20, timeout=T)
    assert len(ex["results"]) == 1 and ex["results"][0].received == [2, 3, 4]
    assert "results: the same every time: [2, 3, 4]" in str(ex)
    assert len(out) == 60  # sink functions still run every time


def test_explore_records_what_sinks_received_not_what_they_did_with_it():
    seen = []

    def keep_and_spoil(m):
        m.append("spoiled")
        seen.append(m)

    s = src([[1], [2]], "s")
    g = network([(s, Sink(fn=keep_and_spoil, name="spoiler"))])
    ex = g.explore(runs=3, timeout=T)
    assert ex["spoiler"][0].received == [[1], [2]]


def test_explore_groups_failures_and_names_a_seed_for_each():
    def shaky(m):
        if m == "c":
            raise ValueError("no c")
        return m

    out = []
    k = Sink(fn=out.append, name="k")
    shaky_node = Transform(fn=shaky, name="shaky")
    g = network([(src([1, 2], "n"), k), (src("abc", "l"), shaky_node), (shaky_node, k)])
    ex = g.explore(runs=10, timeout=T)
    [(summary, seeds)] = ex.failures.items()
    assert summary == "transform 'shaky' failed on message 'c': ValueError: no c"
    assert seeds == list(range(10))
    assert "10 of 10 runs failed (first with seed 0): transform 'shaky'" in str(ex)


def test_explore_warns_when_the_sources_do_not_start_again():
    items = iter(range(5))
    out = []
    g = network([(Source(fn=lambda: next(items, None), name="once"), Sink(fn=out.append, name="k"))])
    with pytest.warns(UserWarning, match="sources sent nothing in the run with seed 1 .*ListSource") as seen:
        ex = g.explore(runs=3, timeout=T)
    assert len(seen) == 1, [str(w.message) for w in seen]   # said once, in explore's words
    assert [o.received for o in ex["k"]] == [[], [0, 1, 2, 3, 4]]


def test_explore_checks_its_arguments():
    g = two_sources([])
    with pytest.raises(ValueError, match="runs= .* or seeds="):
        g.explore(runs=3, seeds=[1, 2])
    with pytest.raises(ValueError, match="runs must be a whole number"):
        g.explore(runs=0)
    with pytest.raises(TypeError, match="seed must be a whole number"):
        g.explore(seeds=["a"])
    with pytest.raises(KeyError, match="no sink named 'nope'"):
        g.explore(runs=1, timeout=T)["nope"]


# --- every seeded run is one a threaded run could produce ------------------------------
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags())
def test_seeded_runs_deliver_every_message_once_per_path_in_order(dag):
    g, results = build(dag)
    g.run_network(seed=dag[-1], timeout=T)
    check_delivery(g, dag, results)

    # the counters are those of a threaded run of the same network
    seeded = ({k: vars(v).copy() for k, v in g.stats.items()},
              {e: c for e, c in g.edge_counts.items()}, dict(g.state))
    g.run_network(timeout=T)
    threaded = ({k: vars(v).copy() for k, v in g.stats.items()},
                {e: c for e, c in g.edge_counts.items()}, dict(g.state))
    assert seeded == threaded


def test_fanout_gives_the_first_receiver_the_original_and_the_others_copies():
    original = {"n": 1}
    got = {}

    def keep(name):
        def fn(m):
            got[name] = m
            m["seen_by"] = name
        return fn

    pending = [original]
    s = Source(fn=lambda: pending.pop() if pending else None, name="s")
    g = network([(s, Sink(fn=keep("first"), name="first")), (s, Sink(fn=keep("second"), name="second"))])
    g.run_network(seed=1, timeout=T)
    assert got["first"] is original
    assert got["second"] is not original and got["second"]["seen_by"] == "second"
    assert g.stats["s"].sent == 1 and sorted(g.edge_counts.values()) == [1, 1]


def test_capacity_makes_a_sender_wait_for_room():
    s = src(range(30), "s")
    g = network([(s, Sink(fn=lambda m: None, name="k"))])
    for seed in range(5):
        g.run_network(seed=seed, capacity=2, trace=True, timeout=T)
        waiting = 0
        for r in g.trace:
            waiting += (r.event == "send") - (r.event == "receive")
            assert waiting <= 2
    with pytest.raises(ValueError, match="capacity must be a whole number"):
        g.run_network(seed=1, capacity=0, timeout=T)


# --- the same outcomes as threaded runs ----------------------------------------------------
def outcome_of(g, **kw):
    try:
        g.run_network(timeout=T, **kw)
        err = None
    except NetworkError as e:
        err = e
    return (str(err), type(err.__cause__) if err else None,
            [f.summary() for f in g.failures],
            {k: vars(v).copy() for k, v in g.stats.items()}, dict(g.state))


def failing_transform():
    ints, uppers = [], []
    s = src(["1", "2", "x", "4"], "src")
    parse, up = Transform(fn=int, name="parse"), Transform(fn=str.upper, name="up")
    g = network([(s, parse), (s, up), (parse, Sink(fn=ints.append, name="ints")),
                 (up, Sink(fn=uppers.append, name="uppers"))])
    return g, (ints, uppers)


def failing_source_and_sink():
    def broken():
        raise OSError("disk on fire")

    def picky(m):
        if m == "b":
            raise KeyError(m)
    return network([(Source(fn=broken, name="broken"), Sink(fn=print, name="never")),
                    (src("abc", "good"), Sink(fn=picky, name="picky"))]), None


def bad_split():
    sp = Split(fn=lambda m: [m] if m == 2 else [m, m], num_outputs=2, name="sp")
    return network([(src([1, 2, 3], "s"), sp), (sp.out_0, Sink(fn=lambda m: None, name="a")),
                    (sp.out_1, Sink(fn=lambda m: None, name="b"))]), None


def uncopyable():
    s = Source(fn=ListSource([1, threading.Lock(), 3]).run, name="s")
    return network([(s, Sink(fn=lambda m: None, name="a")), (s, Sink(fn=lambda m: None, name="b"))]), None


@pytest.mark.parametrize("build", [failing_transform, failing_source_and_sink, bad_split, uncopyable])
def test_errors_of_seeded_runs_match_threaded_ones(build):
    g, _ = build()
    threaded = outcome_of(g)
    assert threaded[0] != "None"
    for seed in (0, 1, 2):
        assert outcome_of(g, seed=seed) == threaded


def test_results_before_a_failure_are_kept_in_a_seeded_run():
    g, (ints, uppers) = failing_transform()
    with pytest.raises(NetworkError, match="transform 'parse' failed on message 'x'"):
        g.run_network(seed=5, timeout=T)
    assert ints == [1, 2] and uppers == ["1", "2", "X", "4"]
    assert g.stats["parse"].discarded == 1 and g.state["parse"] == "failed"
    assert [f.node.name for f in g.failures] == ["parse"] and g.failures[0].message == "x"


def merge_network(out):
    sp = Split(fn=lambda m: [m, None] if m % 2 else [None, m], num_outputs=2, name="sp")
    m = MergeSynch(num_inputs=2, name="pair")
    return network([(src(range(7), "s"), sp), (sp.out_0, m.in_0), (sp.out_1, m.in_1),
                    (m, Sink(fn=out.append, name="pairs"))])


def test_merge_synch_pairs_and_warns_exactly_as_in_a_threaded_run():
    out = []
    g = merge_network(out)
    caught = {}
    for kw in ({}, {"seed": 4}, {"seed": 9}):
        out.clear()
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            g.run_network(timeout=T, **kw)
        caught[str(kw)] = ([str(x.message) for x in w], [x.category for x in w], list(out),
                           g.unpaired, {k: vars(v).copy() for k, v in g.stats.items()})
    first = caught["{}"]
    assert first[1] and set(first[1]) == {MergeSynchWarning}
    assert first[2] == [[1, 0], [3, 2], [5, 4]] and first[3] == {"pair": {1: [6]}}
    assert all(v == first for v in caught.values())


def test_a_bad_seed_gets_a_clear_error():
    g = two_sources([])
    for bad in ("7", 1.5, True):
        with pytest.raises(TypeError, match=r"seed must be a whole number, like seed=7"):
            g.run_network(seed=bad, timeout=T)
    assert not g.running


# --- sleeps, timeouts, interrupts ---------------------------------------------------------
def test_sleeping_functions_do_not_stall_a_seeded_run():
    out = []

    def slow(m):
        time.sleep(10)
        return m

    def also_slow(m):
        imported_sleep(10)  # `from time import sleep` works the same
        out.append(m)

    slow_node = Transform(fn=slow, name="slow")
    g = network([(src(range(5), "s"), slow_node), (slow_node, Sink(fn=also_slow, name="k"))])
    started = time.monotonic()
    run = seeded.run_seeded(g, 3, timeout=T)
    assert time.monotonic() - started < 5  # 100 s of sleeping, done at once
    assert out == [0, 1, 2, 3, 4]
    # one virtual clock (vclock.py): the two nodes sleep at the same time, as threads would. The
    # last message leaves "slow" at 50 s, and "k" is done with it 10 s later
    assert run.clock == 60.0
    # sleeps are real again afterwards, and in other threads all along
    assert time.sleep is seeded._real_sleep and imported_sleep is seeded._real_sleep
    assert globals()["imported_sleep"] is seeded._real_sleep
    started = time.monotonic()
    time.sleep(0.05)
    assert time.monotonic() - started >= 0.04


def test_sleeps_are_restored_even_when_the_run_fails():
    def slow_then_broken(m):
        time.sleep(5)
        raise RuntimeError("broken")

    g = network([(src([1], "s"), Sink(fn=slow_then_broken, name="k"))])
    with pytest.raises(NetworkError, match="broken"):
        g.run_network(seed=0, timeout=T)
    assert time.sleep is seeded._real_sleep


def test_sleeps_take_virtual_time_and_change_the_schedule_as_threads_would():
    def build(delay):
        out = []

        def slow(m):
            time.sleep(delay)
            return m
        k = Sink(fn=out.append, name="k")
        t = Transform(fn=slow, name="t")
        return network([(src(range(6), "a"), t), (t, k), (src("xyz", "b"), k)]), out

    (g1, out1), (g2, out2) = build(0.0), build(3.0)
    g1.run_network(seed=21, timeout=T)
    g2.run_network(seed=21, timeout=T)
    assert sorted(map(str, out1)) == sorted(map(str, out2))
    # the discrete-event clock (vclock.py): a step that sleeps ends later, so the slow path's
    # messages reach the sink after the quick ones, at 3, 6, 9... virtual seconds, as in threads
    assert out2 == ["x", "y", "z", 0, 1, 2, 3, 4, 5]
    assert g2.last_run.clock == 18.0
    # and the same seed gives the same run again
    again = build(3.0)
    again[0].run_network(seed=21, timeout=T)
    assert again[1] == out2


def endless():
    n = iter(range(10**12))
    return lambda: next(n)


def test_an_endless_source_is_stopped_by_the_timeout():
    g = network([(Source(fn=endless(), name="forever"), Sink(fn=lambda m: None, name="k"))])
    started = time.monotonic()
    with pytest.raises(NetworkTimeout, match="did not finish within 0.3 seconds") as info:
        g.run_network(seed=1, timeout=0.3)
    assert time.monotonic() - started < 3
    assert "source 'forever'" in str(info.value)
    assert g.state == {"forever": "stopped", "k": "stopped"}
    assert g.stats["k"].received > 0


def test_a_step_limit_stops_an_endless_source_without_a_timeout(monkeypatch):
    monkeypatch.setattr(seeded, "MAX_STEPS", 500)
    g = network([(Source(fn=endless(), name="forever"), Sink(fn=lambda m: None, name="k"))])
    with pytest.raises(NetworkTimeout, match=r"seed 2\) took 500 steps without finishing"):
        g.run_network(seed=2)
    assert g.stats["forever"].sent + g.stats["k"].received == 500
    with pytest.raises(NetworkTimeout, match="While exploring, seed 0: .*took 50 steps"):
        g.explore(runs=3, max_steps=50, timeout=T)


def test_a_function_that_blocks_is_ended_by_the_timeout():
    gate = threading.Event()

    def wait_for_ever(m):
        gate.wait()

    g = network([(src([1, 2], "s"), Sink(fn=wait_for_ever, name="stuck"))])
    started = time.monotonic()
    try:
        with pytest.warns(NodeStillRunningWarning, match="sink 'stuck' was still inside"):
            with pytest.raises(NetworkTimeout, match=r"sink 'stuck' \(inside its function\)"):
                g.run_network(seed=0, timeout=0.3)
        assert time.monotonic() - started < 3
        assert g.state["stuck"] == "busy"
    finally:
        gate.set()
    assert not g.running


def test_ctrl_c_stops_a_seeded_run():
    g = network([(Source(fn=endless(), name="forever"), Sink(fn=lambda m: None, name="k"))])
    timer = threading.Timer(0.3, _thread.interrupt_main)
    started = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt, match="interrupted and stopped"):
        g.run_network(seed=0, timeout=T)
    assert time.monotonic() - started < 2
    assert g.state["forever"] == "stopped"
