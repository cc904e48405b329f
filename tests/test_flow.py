"""The flow (flow.py): the rules between nodes, the same under every scheduler.

Threads and seeded runs are compared here on random networks; the Ray engine
on a few of them in tests/test_ray.py. Each case first found by hand, where the
schedulers disagreed, has its own test.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dissyslab import (
    ListSource,
    NetworkError,
    Sink,
    Source,
    Split,
    Transform,
    network,
)
from dissyslab.flow import Flow, Room
from dissyslab.semantics import wiring
from flow_networks import Unsendable, outcome, specs

T = 20  # seconds: no run here should come near it
SCHEDULERS = [{}, {"seed": 0}, {"seed": 7}]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- the rule of room, on its own ---------------------------------------------------------
def test_a_room_gives_up_to_capacity_and_an_empty_room_always_takes_one_message():
    room = Room(2)
    assert room.grant(0, 5) == 2
    room.take(0, 2)
    assert room.grant(0, 1) == 0 and not room.fits(0, 1)
    room.give(0, 2)
    # one message that takes 3 places (3 edges into this room) still goes into an empty room
    assert room.fits(0, 3) and room.grant(0, 3, 3) == 3
    room.take(0, 1)
    assert not room.fits(0, 3)


def test_a_merge_synch_room_is_freed_only_as_messages_are_paired():
    room = Room(4, rooms=2, merge=True)
    room.take(0, 3)
    assert room.taken(0, 3) == 0  # handled, but waiting in the buffers until paired
    assert room.paired(2, failed=False) == [2, 0]
    assert room.paired(0, failed=True) == [1, 0]  # a failed MergeSynch pairs nothing more
    assert room.liftable(0) and not Room(4).liftable(0)


def test_a_step_counts_what_it_sends_round_a_loop_and_nothing_else():
    split = Split(fn=lambda m: [m, m], num_outputs=2, name="step")
    g = network([(Source(fn=ListSource([1]).run, name="src"), split), (split.out_0, split),
                 (split.out_1, Sink(fn=print, name="end"))])
    flow = Flow(g)
    (loop,) = flow.loops
    out = [["waiting"], []]  # what the step had made before is not counted again

    def step(m):  # like NodeRun.take: its results wait in out, per port
        out[0].append(m)
        out[1].append(m)
        return "its result"

    assert flow.made_by(flow.loop_edges(wiring(g)["step"]), out, step, "m") == "its result"
    assert loop.outstanding == 1  # out_0 goes round the loop; out_1 leaves it
    # the sink's step, with no edge into a loop, counts nothing
    assert flow.loop_edges(wiring(g)["end"]) is None
    assert flow.made_by(None, out, step, "n") == "its result" and loop.outstanding == 1


# --- the cases that disagreed -------------------------------------------------------------
@pytest.mark.parametrize("run", SCHEDULERS)
def test_a_split_sending_both_ports_to_the_same_two_sinks_with_capacity_1_finishes(run):
    a, b = [], []
    A, B = Sink(fn=a.append, name="A"), Sink(fn=b.append, name="B")
    sp = Split(fn=lambda x: [x, x + 100], num_outputs=2, name="sp")
    g = network([(Source(fn=ListSource(list(range(20))).run, name="src"), sp),
                 (sp.out_0, A), (sp.out_0, B), (sp.out_1, A), (sp.out_1, B)])
    g.run_network(timeout=T, capacity=1, live=False, **run)  # threads spun until the timeout
    assert sorted(a) == sorted(b) == sorted(list(range(20)) + list(range(100, 120)))
    assert g.last_run.outcome == "finished"


@pytest.mark.parametrize("run", SCHEDULERS)
@pytest.mark.parametrize("capacity", [1, 2, 3])
def test_a_split_sending_both_ports_into_one_sink_never_lets_more_than_capacity_wait(capacity, run):
    got = []
    sp = Split(fn=lambda x: [x, -x], num_outputs=2, name="sp")
    sink = Sink(fn=got.append, name="sink")
    g = network([(Source(fn=ListSource(list(range(1, 31))).run, name="src"), sp),
                 (sp.out_0, sink), (sp.out_1, sink)])
    g.run_network(timeout=T, capacity=capacity, trace=True, live=False, **run)
    waiting = most = 0
    for r in g.trace:  # as lessons 08 and 11 count: sent to the sink minus taken by it
        if r.event == "send" and r.edge.endswith("→ sink"):
            waiting += 1
        elif r.event == "receive" and r.node == "sink":
            waiting -= 1
        most = max(most, waiting)
    assert len(got) == 60
    # a seeded run let 3 wait with capacity 2 (a step sends 2 into a room that had 1)
    assert most <= max(capacity, 2)  # one message takes 2 places: an empty room takes it whole


def retry_with_log(bad, loop=True):
    """A worker fans out to a log and (optionally) to a retry loop; message ``bad`` cannot be copied."""
    log = []

    def work(m):
        if m == bad:
            return Unsendable(m)
        return m

    def retry(m):
        return m - 100 if m >= 100 else None

    w, r = Transform(fn=work, name="work"), Transform(fn=retry, name="retry")
    edges = [(Source(fn=ListSource([1, 2, 3, 4, 5, 6, 107, 108]).run, name="src"), w),
             (w, Sink(fn=log.append, name="log"))]
    if loop:
        edges += [(w, r), (r, w)]
    else:  # a fanout all the same: the message is copied for a second sink
        edges += [(w, Sink(fn=lambda m: None, name="audit"))]
    return network(edges), log


@pytest.mark.parametrize("run", SCHEDULERS)
def test_a_message_that_cannot_be_copied_into_a_retry_loop_ends_the_run_by_itself(run):
    g, log = retry_with_log(bad=4)
    with pytest.raises(NetworkError) as info:
        g.run_network(timeout=T, live=False, **run)  # threads never ended by themselves
    assert g.last_run.outcome == "finished"
    assert "cannot be copied" in str(info.value) and "work" in str(info.value)
    assert not g.last_run.flow.going_round()
    edges_balance(g)


@pytest.mark.parametrize("run", SCHEDULERS)
def test_results_made_before_a_message_that_cannot_be_copied_are_sent_and_the_rest_discarded(run):
    g, log = retry_with_log(bad=4, loop=False)
    with pytest.raises(NetworkError):
        g.run_network(timeout=T, live=False, **run)
    s = g.stats["work"]
    # threads lost 1, 2, 3 and handled 5, 6, ... uncounted: received=6, sent=1, discarded=0
    assert (s.received, s.sent, s.failed, s.discarded) == (4, 3, 1, 4)
    assert log == [1, 2, 3]
    edges_balance(g)


def edges_balance(g):
    sent, received, discarded = g.edge_counts, g.edge_received, g.edge_discarded
    for e in g.edges:
        assert sent[e] == received[e] + discarded[e], e.label


# --- the schedulers agree on random networks ----------------------------------------------
def agree(spec, capacity):
    results = [outcome(spec, timeout=T, capacity=capacity, **run) for run in SCHEDULERS]
    return results


@SETTINGS
@given(specs(determinate=True), st.sampled_from([None, 1, 2, 3]))
def test_where_every_input_has_one_edge_every_scheduler_gives_the_same_results_and_counters(
        spec, capacity):
    first, *others = agree(spec, capacity)
    for other in others:
        assert other["sinks"] == first["sinks"]
        assert other["per_route"] == first["per_route"]
        assert other["stats"] == first["stats"]
        assert other["edges"] == first["edges"]
        assert other["failed"] == first["failed"]


@SETTINGS
@given(specs(faults=False), st.sampled_from([None, 1, 2, 3]))
def test_with_fanin_splits_and_loops_every_scheduler_delivers_the_same_messages_in_edge_order(
        spec, capacity):
    first, *others = agree(spec, capacity)
    for other in others:
        assert other["sinks"] == first["sinks"]
        assert other["per_route"].keys() == first["per_route"].keys()
        for got in other["per_route"].values():  # each path keeps its source's order
            assert got == sorted(got)


@SETTINGS
@given(specs(), st.sampled_from([None, 1, 2, 3]))
def test_with_failures_and_unsendable_messages_every_run_ends_by_itself_and_every_edge_balances(
        spec, capacity):
    agree(spec, capacity)  # outcome() checks both
