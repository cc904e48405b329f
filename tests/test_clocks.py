"""Lamport and vector clocks in every trace (clocks.py), checked against the definition.

The definition of happened-before is reachability in a graph: an arrow from each
event of a node to its next event, and one from each send to the receive with
the same edge and index. Here that graph is built from the trace by brute force
and searched, and every clock and every answer of ``g.happened_before``,
``g.concurrent``, ``g.causal_past`` and ``g.causal_future`` must agree with it,
on random networks (fanout, fanin, filters, Split, MergeSynch, loops,
snapshots), under seeds and under threads.
"""

import random
import re
from collections import deque

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dissyslab import ListSource, MergeSynch, NetworkError, Sink, Source, Split, Transform, network
from dissyslab.clocks import Clocks, VectorClock
from dissyslab.trace import Trace, TraceRecord
from random_dags import build, dags

T = 20  # seconds: the time limit of every run here
seeds_or_threads = st.one_of(st.none(), st.integers(0, 10_000))
quick = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- the definition, by brute force ----------------------------------------------------------
def graph_of(trace):
    """Arrows of happened-before's one-step relation: node order, and send -> receive."""
    after = {r.seq: [] for r in trace}
    last = {}
    for r in trace:
        if r.node in last:
            after[last[r.node]].append(r.seq)
        last[r.node] = r.seq
    sends = {}
    for r in trace:
        if r.event == "send":
            sends[(r.edge, r.index)] = r
    for r in trace:
        if r.event in ("receive", "discard"):
            s = sends[(r.edge, r.index)]
            assert _same_message(s.message, r.message), (s, r)  # the pairing is the real message
            after[s.seq].append(r.seq)
    return after


def _same_message(a, b):
    return repr(a) == repr(b)


def reach(after, start):
    seen, todo = set(), deque(after[start])
    while todo:
        i = todo.popleft()
        if i not in seen:
            seen.add(i)
            todo.extend(after[i])
    return seen


def check_against_definition(g):
    trace = g.trace
    after = graph_of(trace)
    future = {r.seq: reach(after, r.seq) for r in trace}
    past = {r.seq: {a for a in future if r.seq in future[a]} for r in trace}
    nodes = trace.nodes
    assert set(nodes) >= {r.node for r in trace}
    for r in trace:
        assert r.lamport == 1 + max([trace[p].lamport for p in past[r.seq]
                                     if r.seq in after[p]] or [0])
        mine = past[r.seq] | {r.seq}
        assert list(r.vector) == [sum(1 for p in mine if trace[p].node == n) for n in nodes]
        assert [x.seq for x in g.causal_past(r)] == sorted(past[r.seq])
        assert [x.seq for x in g.causal_future(r.seq)] == sorted(future[r.seq])
    picks = random.Random(len(trace)).sample(range(len(trace)), min(len(trace), 40))
    for a in picks:
        for b in range(len(trace)):
            before = b in future[a]
            assert g.happened_before(a, b) is before
            assert g.happened_before(trace[a], trace[b]) is before
            assert (trace[a].vector < trace[b].vector) is before
            assert g.concurrent(a, b) is (a != b and not before and a not in future[b])
            if before:
                assert trace[a].lamport < trace[b].lamport
    return trace


def run(g, seed, **kw):
    g.run_network(timeout=T, seed=seed, trace=True, live=False, **kw)
    return g


# --- random networks ---------------------------------------------------------------------------
@quick
@given(dags(), seeds_or_threads)
def test_clocks_of_random_fanout_and_fanin_networks_match_the_definition(dag, seed):
    g, _ = build(dag)
    check_against_definition(run(g, seed))


@st.composite
def looped(draw):
    """A chain of splits with feedback edges; each message carries fuel that runs out."""
    n = draw(st.integers(1, 4))
    back = sorted(set(draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                                    max_size=3))))
    fuel = draw(st.lists(st.integers(0, 4), min_size=1, max_size=5))
    return n, back, fuel


def loop_network(n, back, fuel):
    ways = {i: [j for a, j in back if a == i] for i in range(n)}

    def node(i):
        targets = ways[i]

        def step(m):
            f, hops = m
            res = [None] * (1 + len(targets))
            if f > 0 and targets:
                res[1 + (f + hops) % len(targets)] = (f - 1, hops + 1)
            else:
                res[0] = (f, hops + 1)
            return res
        return Split(fn=step, num_outputs=1 + len(targets), name=f"n{i}")

    nodes = [node(i) for i in range(n)]
    out = []
    edges = [(Source(fn=ListSource([(f, 0) for f in fuel]).run, name="src"), nodes[0])]
    edges += [(nodes[i].out_0, nodes[i + 1]) for i in range(n - 1)]
    edges.append((nodes[-1].out_0, Sink(fn=out.append, name="k")))
    for i in range(n):
        edges += [(nodes[i].ports[1 + p], nodes[j]) for p, j in enumerate(ways[i])]
    return network(edges)


@quick
@given(looped(), seeds_or_threads)
def test_clocks_of_random_networks_with_loops_and_splits_match_the_definition(spec, seed):
    check_against_definition(run(loop_network(*spec), seed))


@st.composite
def merges(draw):
    """Sources of random lengths into a MergeSynch (one path filtered), fanned out to two sinks."""
    counts = draw(st.lists(st.integers(0, 6), min_size=2, max_size=3))
    keep = draw(st.integers(1, 3))
    return counts, keep


def merge_network(counts, keep):
    sources = [Source(fn=ListSource([f"{chr(97 + i)}{j}" for j in range(c)]).run, name=f"s{i}")
               for i, c in enumerate(counts)]
    sieve = Transform(fn=lambda m: m if int(m[1:]) % keep == 0 else None, name="sieve")
    join = MergeSynch(num_inputs=len(counts), name="join")
    first, second = [], []
    edges = [(sources[0], sieve), (sieve, join.in_0)]
    edges += [(s, join.ports[i]) for i, s in enumerate(sources) if i > 0]
    edges += [(join, Sink(fn=first.append, name="first")),
              (join, Sink(fn=second.append, name="second"))]
    return network(edges)


@quick
@pytest.mark.filterwarnings("ignore::dissyslab.MergeSynchWarning")
@given(merges(), seeds_or_threads)
def test_clocks_of_merge_synch_pairs_match_the_definition(spec, seed):
    trace = check_against_definition(run(merge_network(*spec), seed))
    pairs = [r for r in trace if r.node == "join" and r.event == "send"]
    got = {r.message: r for r in trace if r.node == "join" and r.event == "receive"}
    for p in pairs:  # a pair's send comes after the receive of every message in it
        assert all(got[m].vector < p.vector for m in p.message)


class Account:
    """Passes a random amount on along the ring a few times, then to the ledger."""

    def __init__(self, i, seed, hook):
        self.i, self.left, self.hook = i, 4, hook
        self.rng = random.Random(seed * 10 + i)

    def step(self, m):
        if self.hook is not None:
            self.hook(self.i, self.left)
        out = [None, None]
        if self.left > 0:
            self.left -= 1
            out[0] = (f"a{self.i}.{self.left}", self.rng.randint(0, 9))
        else:
            out[1] = m
        return out


@quick
@given(st.integers(0, 6), st.integers(1, 6), seeds_or_threads)
def test_clocks_with_a_failed_node_and_its_discards_match_the_definition(bad, count, seed):
    """Messages that reach a failed node are discarded: each discard is paired with its send."""
    def fragile(m):
        if m[1] == bad:
            raise ValueError(f"cannot take {m}")
        return m

    node = Transform(fn=fragile, name="fragile")
    g = network([(Source(fn=ListSource([("x", i) for i in range(count)]).run, name="x"), node),
                 (Source(fn=ListSource([("y", i) for i in range(count)]).run, name="y"), node),
                 (node, Sink(fn=lambda m: None, name="k"))])
    try:
        g.run_network(timeout=T, seed=seed, trace=True, live=False)
    except NetworkError:
        pass
    trace = check_against_definition(g)
    if bad < count:
        assert any(r.event == "fail" for r in trace) and any(r.event == "discard" for r in trace)


def ring(k, seed, hook=None):
    """k accounts on a ring; a source starts one transfer at each. ``hook(i, left)`` is
    called at each message account ``i`` takes."""
    accounts = [Split(fn=Account(i, seed, hook).step, num_outputs=2, name=f"acct{i}")
                for i in range(k)]
    ledger = Sink(fn=lambda m: None, name="ledger")
    edges = [(Source(fn=ListSource([(f"start{i}", 0)]).run, name=f"start{i}"), accounts[i])
             for i in range(k)]
    edges += [(accounts[i].out_0, accounts[(i + 1) % k]) for i in range(k)]
    edges += [(accounts[i].out_1, ledger) for i in range(k)]
    return network(edges)


@quick
@pytest.mark.filterwarnings("ignore::dissyslab.SnapshotWarning")
@given(st.integers(2, 4), st.integers(0, 10_000), st.lists(st.integers(0, 30), min_size=1,
                                                            max_size=2))
def test_clocks_with_snapshot_markers_match_the_definition(k, seed, at):
    trace = check_against_definition(run(ring(k, seed), seed, snapshot_at=at))
    # markers went round, unless the snapshot started once every node it recorded had ended
    ended = {r.node: r.seq for r in trace if r.event == "end"}
    assert any(r.event == "marker" for r in trace) or all(
        ended.get(r.node, r.seq) < r.seq for r in trace if r.event == "record")


def test_a_marker_carries_no_clock():
    g = run(ring(2, 5), 5, snapshot_at=[4])
    trace = g.trace
    markers = [r for r in trace if r.event == "marker"]
    assert markers
    for m in markers:  # taking a marker learns nothing of the node's sender
        before = [r for r in trace if r.node == m.node and r.seq < m.seq]
        assert m.lamport == (before[-1].lamport if before else 0) + 1


@pytest.mark.parametrize("when", [4, 2])
def test_clocks_of_a_threaded_run_with_a_snapshot_match_the_definition(when):
    def hook(i, left):  # acct0 starts a snapshot while the others go on
        if i == 0 and left == when:
            g.last_run.take_snapshot()

    g = ring(3, 1, hook)
    trace = check_against_definition(run(g, None))
    assert any(r.event == "record" for r in trace)


# --- the same clocks under every scheduler, where every node has one input edge --------------
@st.composite
def trees(draw):
    """A random tree: one source, every other node has exactly one sender (fanout allowed)."""
    n = draw(st.integers(1, 5))
    parents = [draw(st.integers(0, i)) for i in range(n)]  # node i+1's sender
    count = draw(st.integers(1, 6))
    return parents, count


def tree_network(parents, count):
    """Node 0 a source; node i a filtering transform if some node listens to it, else a sink."""
    nodes = [Source(fn=ListSource(list(range(count))).run, name="n0")]
    for i in range(1, len(parents) + 1):
        if i in parents:
            nodes.append(Transform(fn=lambda m, i=i: m * 10 + i if (m + i) % 3 else None,
                                   name=f"n{i}"))
        else:
            nodes.append(Sink(fn=lambda m: None, name=f"n{i}"))
    return network([(nodes[p], nodes[i]) for i, p in enumerate(parents, start=1)])


def per_node(trace):
    out = {}
    for r in trace:
        out.setdefault(r.node, []).append((r.event, r.message, r.edge, r.index, r.lamport,
                                           tuple(r.vector)))
    return out


@quick
@given(trees(), st.integers(0, 10_000), st.integers(0, 10_000))
def test_where_every_node_has_one_input_edge_seeds_and_threads_give_the_same_clocks(
        tree, seed, other):
    a = per_node(run(tree_network(*tree), seed).trace)
    b = per_node(run(tree_network(*tree), other).trace)
    c = per_node(run(tree_network(*tree), None).trace)
    assert a == b == c


def strip_times(svg):
    """A timeline without what depends on the schedule's times: tooltips and the title."""
    svg = re.sub(r"<title>.*?</title>", "", svg, flags=re.S)
    return re.sub(r"Timeline of a [^<]*", "", svg)


def test_lamport_timelines_of_a_seeded_and_a_threaded_run_are_the_same_picture():
    pictures = set()
    for seed in (0, 1, None):
        g = run(tree_network([0, 0, 1, 1], 4), seed)
        pictures.add(strip_times(g.timeline(clock="lamport", vectors=True).svg))
        assert "placed by their Lamport clocks" in g.timeline(clock="lamport").svg
    assert len(pictures) == 1
    # in the order they happened, the pictures differ from seed to seed
    walls = {strip_times(run(tree_network([0, 0, 1, 1], 4), s).timeline().svg) for s in range(6)}
    assert len(walls) > 1


# --- faults: lost and duplicated messages, made by hand -----------------------------------------
def trace_of(rows, nodes=("a", "b")):
    trace = Trace(TraceRecord(i, i, *row) for i, row in enumerate(rows))
    trace.nodes = list(nodes)
    return trace


def test_a_lost_message_has_a_send_and_no_receive():
    trace = trace_of([("a", "emit", 1), ("a", "send", 1, "a → b", 0),
                      ("a", "emit", 2), ("a", "send", 2, "a → b", 1),
                      ("b", "receive", 2, "a → b", 1), ("b", "end")])
    c = Clocks(trace, trace.nodes)
    assert [c.lamport[i] for i in range(6)] == [1, 2, 3, 4, 5, 6]
    assert c.vector[4] == (4, 1) and c.happened_before(1, 4)  # b knows of the lost send too
    assert [r.seq for r in c.causal_future(1)] == [2, 3, 4, 5]


def test_a_duplicated_message_has_one_send_and_two_receives():
    trace = trace_of([("a", "emit", 1), ("a", "send", 1, "a → b", 0),
                      ("b", "receive", 1, "a → b", 0), ("b", "receive", 1, "a → b", 0)])
    c = Clocks(trace, trace.nodes)
    assert c.vector[2] == (2, 1) and c.vector[3] == (2, 2)
    assert c.happened_before(1, 2) and c.happened_before(1, 3) and c.happened_before(2, 3)


def test_a_receive_recorded_before_its_send_still_comes_after_it():
    """A threaded run can record a send a moment after its message has gone (the sender's
    thread paused between making it and recording it): the receive and what follows it on
    its node wait for the send."""
    trace = trace_of([("b", "receive", 1, "a → b", 0), ("b", "send", 1, "b → c", 0),
                      ("a", "emit", 1), ("c", "receive", 1, "b → c", 0),
                      ("a", "send", 1, "a → b", 0), ("a", "end")], nodes=("a", "b", "c"))
    c = Clocks(trace, trace.nodes)
    assert c.lamport == [3, 4, 1, 5, 2, 3]
    assert c.vector[3] == (2, 2, 1) and c.happened_before(4, 3) and c.concurrent(5, 0)


# --- the interface ---------------------------------------------------------------------------
def small(seed=3):
    out = []
    src = Source(fn=ListSource([1, 2, 3]).run, name="numbers")
    square = Transform(fn=lambda x: x * x, name="square")
    negate = Transform(fn=lambda x: -x, name="negate")
    k = Sink(fn=out.append, name="collect")
    g = network([(src, square), (src, negate), (square, k), (negate, k)])
    return run(g, seed)


def test_clocks_are_columns_of_a_data_frame_and_computed_only_when_asked():
    import pandas

    g = small()
    raw = g.last_run.trace
    assert raw.clocks is None and all(r.lamport is None and r.vector is None for r in raw)
    frame = pandas.DataFrame(g.trace)
    assert list(frame.columns)[-3:] == ["lamport", "vector", "at"]
    assert frame["lamport"].tolist() == [r.lamport for r in g.trace]
    assert g.trace.nodes == ["numbers", "square", "negate", "collect"]
    assert repr(g.trace[0].vector) == "[1, 0, 0, 0]"
    assert g.trace.clocks is g.trace.clocks  # once


def test_the_table_shows_the_clocks_when_asked():
    g = small()
    lines = g.trace.table(clocks=True).splitlines()
    assert lines[1].split()[:4] == ["seq", "step", "L", "vector"]
    assert lines[2].split()[:7] == ["0", "1", "1", "[1,", "0,", "0,", "0]"]
    assert "vector" not in g.trace.table()


def test_the_vector_entries_follow_the_flow_of_messages():
    out = []
    late = Source(fn=ListSource([1]).run, name="late")
    hub = Transform(fn=lambda m: m, name="hub")
    early = Source(fn=ListSource([2]).run, name="early")
    g = network([(hub, Sink(fn=out.append, name="end")), (late, hub), (early, hub)])
    assert run(g, 0).trace.nodes == ["late", "early", "hub", "end"]


def test_a_vector_clock_is_a_partial_order_readable_by_node():
    v = VectorClock(["a", "b"], [2, 0])
    w = VectorClock(["a", "b"], [1, 1])
    assert v["a"] == 2 and v[1] == 0 and v.items() == [("a", 2), ("b", 0)]
    assert not v <= w and not w <= v and v.concurrent(w)
    assert v.merge(w) == (2, 1) and v.merge(w) > v
    with pytest.raises(KeyError, match="there is no node 'c'"):
        v["c"]


def test_questions_about_events_get_clear_errors():
    g = small()
    n = len(g.trace)
    with pytest.raises(ValueError, match=f"numbered 0 to {n - 1}"):
        g.happened_before(0, n)
    with pytest.raises(TypeError, match="a record of g.trace or its number"):
        g.concurrent("numbers", 1)
    with pytest.raises(TypeError, match="a record of g.trace or its number"):
        g.causal_past(True)
    old = g.trace[5]
    other = run(network([(Source(fn=ListSource([7]).run, name="x"), Sink(fn=print, name="y"))]),
                0)
    with pytest.raises(ValueError, match="a record of another run"):
        other.causal_future(old)
    assert not g.happened_before(4, 4) and not g.concurrent(4, 4)


def test_timeline_focus_highlights_past_and_future_and_greys_the_concurrent():
    g = small()
    focus = next(r for r in g.trace if r.node == "square" and r.event == "receive")
    svg = g.timeline(focus=focus).svg
    past, future = len(g.causal_past(focus)), len(g.causal_future(focus))
    concurrent = sum(g.concurrent(focus, r) for r in g.trace)
    assert (f"focus on event {focus.seq} (square receive): {past} events happened before it, "
            f"{future} after it, {concurrent} are concurrent") in svg
    assert 'opacity="0.22"' in svg and "happened before it" in svg and "#ffd54f" in svg
    assert g.timeline(focus=focus).svg == svg  # the same picture every time
    assert "#ffd54f" not in g.timeline().svg  # without focus, as before


def test_timeline_vectors_and_clock_arguments_are_checked():
    g = small()
    assert "[1, 0, 0, 0]" in g.timeline(vectors=True).svg
    assert "[1, 0, 0, 0]" not in g.timeline().svg
    with pytest.raises(ValueError, match='clock must be "wall"'):
        g.timeline(clock="vector")
    with pytest.raises(ValueError, match="vectors must be True or False"):
        g.timeline(vectors="yes")
    with pytest.raises(ValueError, match=r"event 20 is not in the picture.*window=\(0, 40\)"):
        g.timeline(window=(0, 5), focus=20)


# --- Ray ----------------------------------------------------------------------------------
@pytest.mark.ray
@pytest.mark.filterwarnings("ignore::dissyslab.MergeSynchWarning")
def test_clocks_of_a_run_on_ray_match_the_definition():
    pytest.importorskip("ray")
    from dissyslab.ray_pool import connect

    connect()
    g = merge_network([3, 2], 1)
    g.run_network(timeout=60, trace=True, live=False, engine="ray")
    check_against_definition(g)


def test_a_trace_that_no_run_could_make_is_refused_by_name():
    trace = trace_of([("a", "receive", 1, "b → a", 0), ("a", "send", 1, "a → b", 0),
                      ("b", "receive", 1, "a → b", 0), ("b", "send", 1, "b → a", 0)])
    with pytest.raises(ValueError, match="cannot come from a run: the events of a, b wait"):
        Clocks(trace, trace.nodes)
