"""Traces: every event of a threaded or seeded run, as plain records."""

import collections

import pytest

from dissyslab import (
    ListSource,
    MergeSynch,
    NetworkError,
    NetworkTimeout,
    Sink,
    Source,
    Split,
    Transform,
    network,
)
from dissyslab.trace import EVENTS, TraceRecord

T = 10


def src(items, name):
    return Source(fn=ListSource(items=list(items)).run, name=name)


def mixed(out):
    """Fanout, a filter, a failure on one path, a fanin."""
    s = src([1, 2, 0, 3, 4, 5], "numbers")
    inv = Transform(fn=lambda m: 60 // m, name="invert")  # fails on 0
    even = Transform(fn=lambda m: m if m % 2 == 0 else None, name="evens")
    k = Sink(fn=out.append, name="collector")
    return network([(s, inv), (s, even), (inv, k), (even, k)])


def run(g, **kw):
    try:
        g.run_network(timeout=T, trace=True, **kw)
    except NetworkError:
        pass
    return g.trace


def check_consistent(g, trace):
    """What every trace must satisfy, whoever scheduled the run."""
    assert all(isinstance(r, TraceRecord) and r.event in EVENTS for r in trace)
    assert [r.seq for r in trace] == list(range(len(trace)))
    by = collections.Counter((r.node, r.event) for r in trace)
    for n in g.nodes:
        st = g.stats[n.name]
        if n.kind == "source":
            assert by[(n.name, "emit")] == st.sent
        else:
            assert by[(n.name, "receive")] == st.received
        assert by[(n.name, "drop")] == st.dropped
        assert by[(n.name, "discard")] == st.discarded
        assert by[(n.name, "fail")] == (g.state[n.name] == "failed")
        assert by[(n.name, "end")] == 1
    for e in g.edges:
        sends = [r for r in trace if r.event == "send" and r.edge == e.label]
        gets = [r for r in trace if r.event in ("receive", "discard") and r.edge == e.label]
        assert len(sends) == g.edge_counts[e] == len(gets)
        assert [r.index for r in sends] == list(range(len(sends)))
        # the k-th message sent along an edge is the k-th taken from it, and was sent first
        for s, r in zip(sends, sorted(gets, key=lambda r: r.index), strict=True):
            assert (s.index, s.message) == (r.index, r.message) and s.seq < r.seq
            assert s.node == e.src.name and r.node == e.dst.name
    ends = {r.node: r.seq for r in trace if r.event == "end"}
    for r in trace:
        if r.event not in ("end", "discard"):
            assert r.seq < ends[r.node], f"{r} after {r.node} ended"


@pytest.mark.parametrize("seed", [None, 0, 1, 2])
def test_a_trace_records_every_event_consistently(seed):
    out = []
    g = mixed(out)
    trace = run(g, seed=seed)
    check_consistent(g, trace)
    fail = trace.events("fail")[0]
    assert (fail.node, fail.message) == ("invert", 0)
    assert fail.note == "ZeroDivisionError: integer division or modulo by zero"
    assert [r.message for r in trace.events("drop")] == [1, 3, 5]
    assert {r.note for r in trace.events("end")} == {None, "failed"}
    assert trace.seed == seed and trace.outcome == "finished"


def test_threaded_and_seeded_traces_hold_the_same_events_per_edge():
    out = []
    g = mixed(out)

    def per_edge(trace):
        return sorted((r.node, r.event, r.edge or "", r.index or 0, repr(r.message), r.note or "")
                      for r in trace if r.event != "end")
    threaded = per_edge(run(g))
    for seed in range(4):
        assert per_edge(run(g, seed=seed)) == threaded


def test_split_and_merge_runs_are_traced():
    out = []
    sp = Split(fn=lambda m: [m, None] if m % 2 else [None, m], num_outputs=2, name="sp")
    m = MergeSynch(num_inputs=2, name="pair")
    g = network([(src(range(5), "s"), sp), (sp.out_0, m.in_0), (sp.out_1, m.in_1),
                 (m, Sink(fn=out.append, name="pairs"))])
    for seed in (None, 3):
        with pytest.warns(Warning):
            trace = run(g, seed=seed)
        check_consistent(g, trace)
        sends = [(r.edge, r.message) for r in trace.events("send") if r.node == "pair"]
        assert sends == [("pair → pairs", [1, 0]), ("pair → pairs", [3, 2])]
        [left] = trace.events("drop")
        assert (left.node, left.message, left.note) == ("pair", 4, "never paired (in_1)")
        assert {r.edge for r in trace.events("send") if r.node == "sp"} == {"sp.out_0 → pair.in_0",
                                                                           "sp.out_1 → pair.in_1"}


def test_a_seeded_trace_counts_time_in_steps_and_is_identical_run_to_run():
    g = mixed([])
    first = list(run(g, seed=5))
    assert all(isinstance(r.time, int) for r in first)
    assert [r.time for r in first] == sorted(r.time for r in first)
    for _ in range(5):
        assert list(run(g, seed=5)) == first
    assert list(run(g, seed=6)) != first


def test_a_threaded_trace_counts_time_in_seconds_from_the_start():
    g = mixed([])
    trace = run(g)
    times = [r.time for r in trace]
    assert all(isinstance(t, float) and 0 <= t < T for t in times)


def test_messages_are_recorded_as_they_were_when_the_event_happened():
    def spoil(m):
        m.append("spoiled")

    for seed in (None, 1):
        g = network([(src([[1], [2]], "s"), Sink(fn=spoil, name="k"))])
        trace = run(g, seed=seed)
        assert [r.message for r in trace.events("receive")] == [[1], [2]]


def test_records_are_plain_and_easy_to_tabulate():
    g = mixed([])
    trace = run(g, seed=1)
    row = trace[0]._asdict()
    assert list(row) == ["seq", "time", "node", "event", "message", "edge", "index", "note",
                         "lamport", "vector", "at"]
    assert row["event"] == "emit" and row["node"] == "numbers"
    assert row["at"] == 0.0  # a seeded run's virtual time: nothing here sleeps
    text = trace.table(limit=5)
    assert text.splitlines()[0] == f"trace of a seeded run (seed 1): {len(trace)} records"
    assert "more records" in text.splitlines()[-1]
    assert trace.table(None).count("\n") == len(trace) + 1


def test_a_trace_makes_a_data_frame():
    import pandas

    trace = run(mixed([]), seed=1)
    frame = pandas.DataFrame(trace)
    assert list(frame.columns) == list(TraceRecord._fields) and len(frame) == len(trace)


def test_without_trace_there_is_no_trace_and_nothing_is_wrapped():
    g = mixed([])
    with pytest.raises(RuntimeError, match="the last run of this network was not traced"):
        _ = g.trace
    run(g)
    assert len(g.trace) > 0
    try:
        g.run_network(timeout=T)
    except NetworkError:
        pass
    with pytest.raises(RuntimeError, match=r"run_network\(trace=True\)"):
        _ = g.trace
    # an untraced threaded run calls the node functions directly, and tells no one of events
    for name, nr in g.last_run.nodes.items():
        assert nr.call is g.node(name).fn
        assert nr.watch is None


def test_the_trace_of_a_stopped_run_is_kept():
    n = iter(range(10**9))
    g = network([(Source(fn=lambda: next(n), name="forever"), Sink(fn=lambda m: None, name="k"))])
    for seed in (None, 2):
        with pytest.raises(NetworkTimeout):
            g.run_network(timeout=0.3, seed=seed, trace=True)
        assert g.trace.outcome == "timeout" and len(g.trace) > 0
        assert "ended by timeout" in g.trace.table(3)
        ends = {r.node: r.note for r in g.trace.events("end")}
        assert ends == {"forever": "stopped", "k": "stopped"}


def test_explore_leaves_no_stale_trace_behind():
    g = mixed([])
    run(g, seed=1)
    g.explore(runs=2, timeout=T)
    with pytest.raises(RuntimeError, match="not traced"):
        _ = g.trace


def test_events_rejects_an_unknown_kind():
    trace = run(mixed([]), seed=0)
    with pytest.raises(ValueError, match="there is no event 'sent'"):
        trace.events("sent")
