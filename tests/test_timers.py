"""Time in a network (timers.py, vclock.py): Timer, a node's timeout=, and the delay fault.

Under a seed the times are virtual and exact, so they are asserted exactly. In
threads they are real seconds at the lessons' pace (DISSYSLAB_PACE, 0.05 under
the tests): what is asserted there holds at any machine speed (a tick or a
timeout never comes *before* its time; the order of one edge is kept).
"""

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dissyslab import (
    ListSource,
    MergeSynch,
    NetworkError,
    Sink,
    Source,
    Split,
    Timeout,
    Timer,
    Transform,
    crash,
    delay,
    drop,
    duplicate,
    network,
    paced,
    partition,
)
from dissyslab.vclock import VirtualClock
from random_dags import build as build_dag
from random_dags import dags

T = 20
SEEDS = [0, 1, 7]


def accounted(g):
    for e in g.edges:
        assert (g.edge_counts[e] + g.edge_duplicated[e]
                == g.edge_received[e] + g.edge_discarded[e] + g.edge_lost[e]), e


def at_of(g, node, event):
    return [r.at for r in g.trace if r.node == node and r.event == event]


# --- the virtual clock on its own ---------------------------------------------------------
def test_the_virtual_clock_jumps_to_the_earliest_events_and_keeps_their_order():
    clock = VirtualClock()
    clock.after(0.3, "c")
    clock.after(0.1, "a")
    clock.at(0.1 + 0.2, "d")  # 0.30000000000000004 is the same instant as 0.3
    clock.after(0.1, "b")
    assert clock.due() == []
    assert clock.jump() == ["a", "b"] and clock.now == 0.1
    assert clock.jump() == ["c", "d"] and clock.now == 0.3
    assert clock.jump() == [] and not clock.pending()
    clock.sleep(0.25)
    assert clock.inside() == 0.55 and clock.take_slept() == 0.25 and clock.take_slept() == 0


# --- Timer --------------------------------------------------------------------------------
def ticking(period=0.5, count=4, until=None):
    got = []
    timer = Timer(period=period, count=count, until=until)
    return network([(timer, Sink(fn=got.append, name="out"))]), got


@pytest.mark.parametrize("seed", SEEDS)
def test_a_timer_ticks_at_exact_virtual_times_under_a_seed(seed):
    g, got = ticking()
    g.run_network(seed=seed, trace=True, timeout=T)
    assert got == [1, 2, 3, 4]
    assert at_of(g, "timer", "emit") == [0.5, 1.0, 1.5, 2.0]
    assert at_of(g, "out", "receive") == [0.5, 1.0, 1.5, 2.0]
    assert g.last_run.clock == 2.0
    assert "at (s)" in g.trace.table()


def test_a_timer_ticks_in_real_time_at_the_pace_in_threads():
    g, got = ticking(period=1.0, count=3)
    started = time.monotonic()
    g.run_network(timeout=T)
    assert got == [1, 2, 3]
    assert time.monotonic() - started >= paced(3.0) * 0.9  # never early


def test_until_ends_a_timer_and_each_run_starts_from_the_first_tick():
    g, got = ticking(period=0.25, count=None, until=1.0)
    g.run_network(seed=3, timeout=T)
    assert got == [1, 2, 3, 4]
    got.clear()
    g.run_network(seed=3, timeout=T)  # rewound, as a ListSource is
    assert got == [1, 2, 3, 4]
    g, got = ticking(period=0.5, count=2, until=10)  # the first limit reached ends it
    g.run_network(timeout=T)
    assert got == [1, 2]


@pytest.mark.parametrize("kwargs, words", [
    ({"period": 0}, "period is a number of seconds, more than 0"),
    ({"period": -1, "count": 2}, "period is a number of seconds"),
    ({"period": "1", "count": 2}, "period is a number of seconds"),
    ({"period": True, "count": 2}, "period is a number of seconds"),
    ({"period": 1}, "must end by itself"),
    ({"period": 1, "count": 0}, "count is how many times it ticks"),
    ({"period": 1, "count": 2.5}, "count is how many times it ticks"),
    ({"period": 1, "until": -3}, "until is a number of seconds, 0 or more"),
])
def test_a_timer_with_bad_arguments_is_refused_when_it_is_made(kwargs, words):
    with pytest.raises(ValueError, match=words):
        Timer(**kwargs, name="beat")
    with pytest.raises(ValueError, match="Timer 'beat'"):
        Timer(**kwargs, name="beat")


def test_a_timer_is_named_timer_and_says_how_it_ends():
    t = Timer(period=0.5, count=3)
    assert t.name == "timer" and t.kind == "source"
    assert repr(t) == "Timer(name='timer', period=0.5, count=3)"


# --- timeout= -----------------------------------------------------------------------------
def heartbeats(after=3, timeout=2.5, count=10):
    """A worker beats on every tick and crashes after ``after`` beats; a monitor suspects it."""
    said = []

    def monitor(msg):
        if isinstance(msg, Timeout):
            return f"suspect worker at {msg.at:g}"
        return None  # a heartbeat: all is well

    timer = Timer(period=1.0, count=count)
    worker = Transform(fn=lambda n: ("beat", n), name="worker")
    watch = Transform(fn=monitor, timeout=timeout, name="monitor")
    g = network([(timer, worker), (worker, watch), (watch, Sink(fn=said.append, name="log"))])
    return g, said, [crash("worker", after=after)]


@pytest.mark.parametrize("seed", SEEDS)
def test_a_monitor_suspects_a_crashed_node_at_an_exact_virtual_time(seed):
    g, said, faults = heartbeats()
    g.run_network(seed=seed, trace=True, faults=faults, timeout=T)
    # beats at 1, 2, 3; the worker crashes; 2.5 s of silence later, at 5.5, the monitor suspects
    assert said == ["suspect worker at 5.5"]
    rang = g.trace.events("timeout")
    assert [(r.node, r.at, r.message) for r in rang] == [("monitor", 5.5, Timeout(2.5, 5.5))]
    assert g.last_run.nodes["monitor"].timeouts == 1
    assert g.crashed == {"worker": 3} and g.state["monitor"] == "done"
    accounted(g)


def test_without_the_crash_the_monitor_suspects_only_after_the_last_beat():
    g, said, _ = heartbeats(count=4)
    g.run_network(seed=2, trace=True, timeout=T)
    assert said == ["suspect worker at 6.5"]  # the last beat at 4: its stream ends, the silence shows


def test_a_monitor_suspects_a_crashed_node_in_threads_not_before_its_timeout():
    g, said, faults = heartbeats()
    g.run_network(faults=faults, trace=True, timeout=T)
    assert len(said) == 1 and said[0].startswith("suspect worker at ")
    rang = g.trace.events("timeout")
    assert len(rang) == 1 and isinstance(rang[0].message, Timeout)
    last_beat = max(r.time for r in g.trace if r.node == "monitor" and r.event == "receive")
    assert rang[0].time - last_beat >= paced(2.5) * 0.9
    assert g.crashed == {"worker": 3}
    assert [r.at for r in g.trace] == [None] * len(g.trace)  # a threaded run has no virtual clock


def retry_network(n=6):
    """As in lesson 16's exercise: retries until acknowledged; duplicates made harmless."""
    delivered = []
    unacked = {}
    seen = set()

    def sender(msg):
        if isinstance(msg, Timeout):
            if not unacked:
                return None  # nothing to retry: it gives up waiting
            k = min(unacked)
            return ("data", k, unacked[k])  # one retry per timeout, the oldest first
        kind, k, v = msg
        if kind == "new":
            unacked[k] = v
            return ("data", k, v)
        unacked.pop(k, None)  # an acknowledgement
        return None

    def receiver(msg):
        _, k, v = msg
        first = k not in seen
        seen.add(k)
        return [("ack", k, None), v if first else None]

    source = Source(fn=ListSource([("new", k, f"m{k}") for k in range(n)]).run, name="source")
    s = Transform(fn=sender, timeout=1.0, name="sender")
    r = Split(fn=receiver, num_outputs=2, name="receiver")
    g = network([(source, s), (s, r), (r.out_0, s), (r.out_1, Sink(fn=delivered.append,
                                                                     name="sink"))])
    return g, delivered


LOSSY = [drop("sender → receiver", p=0.4), drop("receiver → sender", p=0.4),
         duplicate("sender → receiver", p=0.3)]


@pytest.mark.parametrize("seed", range(8))
def test_retries_in_a_loop_deliver_everything_once_and_the_run_ends_under_seeds(seed):
    g, delivered = retry_network()
    g.run_network(seed=seed, faults=LOSSY, timeout=T)
    assert sorted(delivered) == [f"m{k}" for k in range(6)]
    assert g.state == dict.fromkeys(g.state, "done")
    accounted(g)


def test_retries_in_a_loop_deliver_everything_once_and_the_run_ends_in_threads():
    g, delivered = retry_network()
    g.run_network(faults=LOSSY, timeout=T)
    assert sorted(delivered) == [f"m{k}" for k in range(6)]
    accounted(g)


def test_a_timeout_that_sends_rings_again_one_that_sends_nothing_waits_for_a_message():
    rang = []

    def patient(msg):
        if isinstance(msg, Timeout):
            rang.append(msg.at)
            return "retry" if len(rang) < 3 else None  # retries twice, then gives up
        return None

    # a loop keeps the node's input open: its retries go round and are thrown away
    node = Transform(fn=patient, timeout=2, name="patient")
    back = Split(fn=lambda m: [None, m], num_outputs=2, name="back")
    g = network([(Source(fn=ListSource([1]).run, name="one"), node), (node, back),
                 (back.out_0, node), (back.out_1, Sink(fn=lambda m: None, name="k"))])
    g.run_network(seed=0, timeout=T)
    assert rang == [2.0, 4.0, 6.0]  # set at 0 and after message 1 (at 0): rings at 2, 4 and 6
    assert g.state["patient"] == "done"


def test_a_timeout_after_every_input_has_ended_rings_once_even_if_it_sends():
    said = []

    def chatty(msg):
        return "still here" if isinstance(msg, Timeout) else msg

    node = Transform(fn=chatty, timeout=3, name="chatty")
    g = network([(Source(fn=ListSource(["a"]).run, name="one"), node),
                 (node, Sink(fn=said.append, name="log"))])
    g.run_network(seed=5, timeout=T)
    assert said == ["a", "still here"]  # nothing more can come: it does not wait again
    g.run_network(timeout=T)
    assert said[2:] == ["a", "still here"]


def test_a_sink_and_a_split_can_time_out_too():
    heard, routed = [], []

    def listen(msg):
        heard.append(repr(msg))

    def route(msg):
        return [None, "late"] if isinstance(msg, Timeout) else [msg, None]

    sink = Sink(fn=listen, timeout=1.5, name="listen")
    split = Split(fn=route, num_outputs=2, timeout=0.5, name="route")
    g = network([(Source(fn=ListSource([1, 2]).run, name="src"), split), (split.out_0, sink),
                 (split.out_1, Sink(fn=routed.append, name="late"))])
    g.run_network(seed=1, trace=True, timeout=T)
    assert routed == ["late"]
    assert heard == ["1", "2", "Timeout(after=1.5, at=1.5)"]


def test_a_function_that_fails_on_a_timeout_is_reported():
    def fragile(msg):
        if isinstance(msg, Timeout):
            raise RuntimeError("no idea what to do with silence")
        return msg

    node = Transform(fn=fragile, timeout=1, name="fragile")
    for seed in (None, 4):
        g = network([(Source(fn=ListSource([1]).run, name="src"), node),
                      (node, Sink(fn=lambda m: None, name="k"))])
        with pytest.raises(NetworkError, match="no idea what to do with silence"):
            g.run_network(seed=seed, timeout=T)
        assert g.state["fragile"] == "failed"


def test_a_function_that_forgets_timeouts_is_told_how_to_tell_them_apart():
    node = Transform(fn=lambda x: x * 2, timeout=1, name="double")
    g = network([(Source(fn=ListSource([1]).run, name="src"), node),
                 (node, Sink(fn=lambda m: None, name="k"))])
    with pytest.raises(NetworkError, match=r"failed on message Timeout\(after=1, at=1\): TypeError"
                                           r".*isinstance\(msg, Timeout\)"):
        g.run_network(seed=0, timeout=T)


@pytest.mark.parametrize("make, words", [
    (lambda: Transform(fn=str, timeout=0, name="t"), "Transform named 't': timeout is the seconds"),
    (lambda: Transform(fn=str, timeout=-2, name="t"), "a number more than 0"),
    (lambda: Sink(fn=print, timeout="1", name="k"), "Sink named 'k': timeout is the seconds"),
    (lambda: Sink(fn=print, timeout=True), "timeout=True"),
    (lambda: Transform(fn=str, timeout=float("inf")), "timeout=inf"),
])
def test_a_bad_timeout_is_refused_when_the_node_is_made(make, words):
    with pytest.raises(ValueError, match=words):
        make()


def test_a_source_has_no_timeout_and_is_pointed_to_timer():
    with pytest.raises(TypeError, match=r"a source waits for no input.*Timer\(period=1.0"):
        Source(fn=lambda: None, timeout=1, name="s")


def test_ray_and_exhaustive_search_refuse_timeouts_naming_the_node():
    node = Transform(fn=str, timeout=1, name="waits")
    g = network([(Source(fn=ListSource([1]).run, name="s"), node),
                 (node, Sink(fn=print, name="k"))])
    with pytest.raises(ValueError, match="'waits' has timeout=, which a Ray run does not support"):
        g.run_network(engine="ray", timeout=T)
    with pytest.raises(ValueError, match="'waits' has timeout=, which an exhaustive search"):
        g.explore(exhaustive=True, timeout=T)
    assert not g.running


# --- delay ------------------------------------------------------------------------------
def two_streams():
    out = []
    a = Source(fn=ListSource([1, 2, 3, 4]).run, name="a")
    b = Source(fn=ListSource(["x", "y", "z"]).run, name="b")
    k = Sink(fn=out.append, name="k")
    return network([(a, k), (b, k)]), out


@pytest.mark.parametrize("seed", SEEDS)
def test_a_delayed_edge_arrives_late_against_other_edges_and_keeps_its_order(seed):
    g, out = two_streams()
    g.run_network(seed=seed, trace=True, faults=[delay("a → k", 1.5)], timeout=T)
    assert out == ["x", "y", "z", 1, 2, 3, 4]
    assert [r.at for r in g.trace.events("receive") if r.edge == "a → k"] == [1.5] * 4
    assert [r.at for r in g.trace.events("send") if r.edge == "a → k"] == [0.0] * 4
    assert [(r.node, r.edge, r.index, r.note) for r in g.trace.events("delayed")] == [
        ("a", "a → k", i, "1.5 s late") for i in range(4)]
    assert g.last_run.clock == 1.5
    accounted(g)


def test_a_drawn_delay_is_decided_by_the_seed_and_never_reorders_an_edge():
    runs = []
    for _ in range(2):
        g, out = two_streams()
        g.run_network(seed=11, trace=True, faults=[delay("a → k", (0.1, 2.0))], timeout=T)
        times = [r.at for r in g.trace.events("receive") if r.edge == "a → k"]
        assert [m for m in out if isinstance(m, int)] == [1, 2, 3, 4]
        assert times == sorted(times) and 0.1 <= times[0] <= 2.0
        runs.append((out, times))
    assert runs[0] == runs[1]


def test_delaying_only_some_messages():
    g, out = two_streams()
    g.run_network(seed=0, trace=True, faults=[delay("a → k", 1.0, nth=[1])], timeout=T)
    times = [r.at for r in g.trace.events("receive") if r.edge == "a → k"]
    assert times == [0.0, 1.0, 1.0, 1.0]  # message 1 is late, and those behind it wait for it
    assert [r.index for r in g.trace.events("delayed")] == [1]
    assert [m for m in out if isinstance(m, int)] == [1, 2, 3, 4]


def test_a_delay_in_threads_holds_messages_up_in_order():
    g, out = two_streams()
    g.run_network(faults=[delay(("a", "k"), 2.0)], trace=True, timeout=T)
    assert [m for m in out if isinstance(m, int)] == [1, 2, 3, 4]
    sent = {r.index: r.time for r in g.trace.events("send") if r.edge == "a → k"}
    got = {r.index: r.time for r in g.trace.events("receive") if r.edge == "a → k"}
    assert all(got[i] - sent[i] >= paced(2.0) * 0.9 for i in sent)
    accounted(g)


def test_a_delay_composes_with_drops_and_a_loop_that_ends():
    faults = LOSSY + [delay("receiver → sender", 0.7)]
    for seed in (None, 3):
        g2, delivered2 = retry_network(4)
        g2.run_network(seed=seed, faults=faults, timeout=T)
        assert sorted(delivered2) == ["m0", "m1", "m2", "m3"]
        accounted(g2)


def test_a_delay_before_a_partition_heals_gets_the_message_through():
    g, out = two_streams()
    # a's messages arrive at 3 s, after the partition (0 to 2 s) has healed; b's are cut off
    g.run_network(seed=1, faults=[delay("a → k", 3), partition(["a", "b"], ["k"], end=2)],
                  timeout=T)
    assert out == [1, 2, 3, 4]


@pytest.mark.parametrize("fault, words", [
    (lambda: delay("a → k", -1), r"delay\('a → k', ...\): seconds is how late"),
    (lambda: delay("a → k", "1"), "seconds is how late"),
    (lambda: delay("a → k", (2, 1)), "high is less than low"),
    (lambda: delay("a → k", 1, p=1.5), "p is a probability"),
    (lambda: delay("a → k", 1, nth=[-1]), "nth is a list of message indexes"),
])
def test_a_delay_with_bad_arguments_is_refused_when_it_is_made(fault, words):
    with pytest.raises(ValueError, match=words):
        fault()


def test_a_delay_on_an_unknown_edge_or_twice_on_one_is_refused_before_the_run():
    g, out = two_streams()
    with pytest.raises(ValueError, match=r"no edge 'a → b'; its edges are: 'a → k', 'b → k'"):
        g.run_network(seed=0, faults=[delay("a → b", 1)], timeout=T)
    with pytest.raises(ValueError, match="the edge 'a → k' is already delayed"):
        g.run_network(faults=[delay("a → k", 1), delay(("a", "k"), 2)], timeout=T)
    assert out == [] and not g.running


def test_a_merge_synch_pairs_delayed_messages_in_order():
    out = []
    a = Source(fn=ListSource([1, 2, 3]).run, name="a")
    b = Source(fn=ListSource("xyz").run, name="b")
    m = MergeSynch(num_inputs=2, name="m")
    g = network([(a, m.in_0), (b, m.in_1), (m, Sink(fn=out.append, name="k"))])
    for seed in (None, 2):
        out.clear()
        g.run_network(seed=seed, faults=[delay("a → m", 0.5)], capacity=1, timeout=T)
        assert out == [[1, "x"], [2, "y"], [3, "z"]]


# --- the schedules a sleep makes --------------------------------------------------------------
def test_paced_pauses_are_as_written_inside_a_seeded_run():
    seen = []

    def note(m):
        seen.append(paced(0.2))
        time.sleep(paced(0.2))
        return m

    t = Transform(fn=note, name="t")
    g = network([(Source(fn=ListSource([1, 2]).run, name="s"), t),
                 (t, Sink(fn=lambda m: None, name="k"))])
    g.run_network(seed=0, timeout=T)
    assert seen == [0.2, 0.2] and g.last_run.clock == 0.4
    assert paced(0.2) == pytest.approx(0.2 * float(__import__("os").environ["DISSYSLAB_PACE"]))


def test_a_sleeping_node_is_not_ready_until_it_wakes_and_the_seed_chooses_among_the_ready():
    out = []

    def slow(m):
        time.sleep(1)
        return m

    a = Source(fn=ListSource([1, 2]).run, name="a")
    t = Transform(fn=slow, name="slow")
    b = Source(fn=ListSource(["x", "y"]).run, name="b")
    k = Sink(fn=out.append, name="k")
    g = network([(a, t), (t, k), (b, k)])
    orders = set()
    for seed in range(12):
        out.clear()
        g.run_network(seed=seed, timeout=T)
        assert out[:2] == ["x", "y"] and out[2:] == [1, 2]  # what slept comes at 1 and 2 s
        assert g.last_run.clock == 2.0
        orders.add(tuple(out))
    assert orders == {("x", "y", 1, 2)}


def test_a_snapshot_marker_waits_behind_delayed_messages_and_the_run_resumes_from_it():
    out = []
    a = Source(fn=ListSource([1, 2, 3, 4, 5, 6]).run, name="a")
    t = Transform(fn=lambda x: x * 10, name="t")
    g = network([(a, t), (t, Sink(fn=out.append, name="k"))])
    faults = [delay("a → t", 1.0)]
    g.run_network(seed=2, faults=faults, snapshot_at=[3], timeout=T)
    snap = g.snapshots[0]
    # the source recorded after sending 1, 2 and 3 along the late edge: its marker came behind
    # them, so the sink's recorded state already has them and nothing is in flight
    assert snap.nodes["k"] == [10, 20, 30] and snap.in_flight == 0
    out.clear()
    g.run_network(seed=2, faults=faults, resume=snap, timeout=T)
    assert out == [10, 20, 30, 40, 50, 60]


def test_a_threaded_run_stopped_while_messages_are_delayed_leaves_no_thread():
    from dissyslab import NetworkTimeout

    g, out = two_streams()
    with pytest.raises(NetworkTimeout):
        g.run_network(faults=[delay("a → k", 60)], timeout=0.5)
    assert sorted(out) == ["x", "y", "z"]  # what was not delayed arrived; the rest was stopped
    # (the autouse fixture checks that no node thread, nor the courier, is left)


def test_a_timer_in_a_threaded_run_is_stopped_at_once_by_the_run_s_timeout():
    import warnings

    from dissyslab import NetworkTimeout, NodeStillRunningWarning

    g, got = ticking(period=30, count=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NodeStillRunningWarning)  # its naps are stopped at once
        with pytest.raises(NetworkTimeout):
            g.run_network(timeout=0.3)
    assert got == []


# --- schedulers agree; the seed among what is ready at one instant; termination ---------------
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags(), st.data())
def test_on_any_dag_delays_change_no_result_and_keep_every_edge_in_order(dag, data):
    g, _ = build_dag(dag)
    labels = [e.label for e in g.edges]
    faults = [delay(label, data.draw(st.sampled_from([0.5, (0.0, 2.0)])))
              for label in data.draw(st.lists(st.sampled_from(labels), max_size=3, unique=True))]
    seen = []
    for run_seed in (dag[-1], None):
        g, results = build_dag(dag)
        g.run_network(seed=run_seed, faults=faults, timeout=T)
        accounted(g)
        seen.append({k: sorted(map(repr, got)) for k, got in results.items()})
        for got in results.values():  # each source's messages reach a sink along a path in order
            for path in {tuple(m[2]) for m in got}:
                numbers = [m[1] for m in got if tuple(m[2]) == path]
                assert numbers == sorted(numbers)
    assert seen[0] == seen[1]


def test_ticks_at_the_same_instant_are_ordered_by_the_seed_at_the_same_times():
    orders = set()
    for seed in range(10):
        got = []
        a, b = Timer(period=1, count=3, name="a"), Timer(period=1, count=3, name="b")
        k = Sink(fn=got.append, name="k")
        pa, pb = Transform(fn=lambda n: ("a", n), name="pa"), Transform(fn=lambda n: ("b", n),
                                                                          name="pb")
        g = network([(a, pa), (b, pb), (pa, k), (pb, k)])
        g.run_network(seed=seed, trace=True, timeout=T)
        assert [r.at for r in g.trace.events("receive") if r.node == "k"] == [1, 1, 2, 2, 3, 3]
        orders.add(tuple(got))
    assert len(orders) > 1  # who goes first at each instant is the seed's choice


def test_a_timer_feeding_a_loop_ends_once_the_timer_has_ended_and_the_loop_is_quiet():
    for seed in (None, 0, 5):
        done = []
        countdown = Split(fn=lambda n: [n - 1, None] if n > 0 else [None, "lift-off"],
                          num_outputs=2, name="countdown")
        g = network([(Timer(period=0.5, count=3), countdown), (countdown.out_0, countdown),
                     (countdown.out_1, Sink(fn=done.append, name="done"))])
        g.run_network(seed=seed, timeout=T)
        assert done == ["lift-off"] * 3 and g.state == dict.fromkeys(g.state, "done")


def test_explore_samples_runs_with_timers_and_timeouts():
    g, said, faults = heartbeats()
    ex = g.explore(runs=8, faults=faults, timeout=T)
    assert [o.received for o in ex["log"]] == [["suspect worker at 5.5"]]


def test_the_diagram_says_how_often_a_timer_ticks_and_how_long_a_node_waits():
    from dissyslab import diagram

    t = Timer(period=0.5, count=4)
    w = Transform(fn=str, timeout=2, name="w")
    text = diagram.text(network([(t, w), (w, Sink(fn=print, name="k"))]))
    assert "timer  [every 0.5 s]" in text and "w  [str, timeout 2 s]" in text


def test_a_run_ends_at_the_time_of_its_last_event_not_of_a_void_timeout():
    def fragile(msg):
        if msg == 2:
            raise ValueError("two")
        return msg

    node = Transform(fn=fragile, timeout=5, name="fragile")
    g = network([(Timer(period=1, count=3), node), (node, Sink(fn=lambda m: None, name="k"))])
    with pytest.raises(NetworkError, match="two"):
        g.run_network(seed=0, timeout=T)
    assert g.last_run.clock == 3.0  # the last tick; the timeout it would have rung at 7 is void


# --- a lost message is silence; a node that gave up waits for the next message -------------------
def beats_to_monitor(silence=2.5):
    """A worker beats once a second (1..6) to a monitor that suspects it after ``silence`` s."""
    said = []

    def monitor(msg):
        return ("suspect", msg.at) if isinstance(msg, Timeout) else None

    worker = Transform(fn=lambda n: ("alive", n), name="worker")
    watch = Transform(fn=monitor, timeout=silence, name="monitor")
    g = network([(Timer(period=1.0, count=6, name="clock"), worker), (worker, watch),
                 (watch, Sink(fn=said.append, name="log"))])
    return g, said


LOSSES = {"drop": drop("worker → monitor", nth=[1, 2, 3]),
          "partition": partition(["worker"], ["monitor"], start=2, end=5)}


@pytest.mark.parametrize("fault", sorted(LOSSES))
def test_lost_heartbeats_are_silence_to_the_monitor(fault):
    """Before: a message lost where it arrives set the monitor's alarm again, as if it had come,
    so a monitor never noticed lost heartbeats (found writing lesson 16)."""
    g, said = beats_to_monitor()
    g.run_network(seed=0, faults=[LOSSES[fault]], timeout=T, live=False)
    # beats 2, 3 and 4 never reach the monitor: it took its last at 1 s, so it suspects the
    # worker 2.5 s later, at 3.5 s, and again 2.5 s after the last beat, at 8.5 s
    assert said == [("suspect", 3.5), ("suspect", 8.5)]


def test_lost_heartbeats_are_silence_in_a_threaded_run_too():
    g, said = beats_to_monitor()
    g.run_network(faults=[LOSSES["drop"]], timeout=T, live=False)
    # a gap of 4 periods is longer than the 2.5 s timeout at any speed: one suspicion in the
    # gap, one after the last beat (a slow machine can only add some, never take one away)
    assert len(said) >= 2 and said[0][1] < said[-1][1]


def test_without_losses_the_monitor_suspects_only_after_the_last_beat():
    g, said = beats_to_monitor()
    g.run_network(seed=0, timeout=T, live=False)
    assert said == [("suspect", 8.5)]


@pytest.mark.parametrize("seed", [0, None], ids=["seeded", "threads"])
def test_a_node_that_gave_up_waits_for_the_next_message_then_rings_again(seed):
    """Before: in a threaded run a node whose timeout gave up (returned None) was never set
    again by a later message, so it did not notice the silence after it; seeded runs did."""
    said = []

    def monitor(msg):
        said.append(("timeout", msg.at) if isinstance(msg, Timeout) else ("message", msg))

    def slow(n):
        time.sleep(paced(3.0) if n == 2 else 0)
        return n

    src, s = Source(fn=ListSource([1, 2]).run, name="numbers"), Transform(fn=slow, name="slow")
    g = network([(src, s), (s, Sink(fn=monitor, timeout=1.0, name="monitor"))])
    g.run_network(seed=seed, timeout=T, live=False)
    assert [k for k, _ in said] == ["message", "timeout", "message", "timeout"]
    if seed is not None:
        assert said == [("message", 1), ("timeout", 1.0), ("message", 2), ("timeout", 4.0)]


def test_the_text_picture_says_how_a_timer_ticks_and_a_nodes_timeout():
    """Before: g.describe() showed a timer as 'fn=Ticks.run' and no node's timeout."""
    t = Timer(period=0.5, count=3, name="clock")
    w = Transform(fn=lambda m: None, timeout=2, name="watch")
    text = network([(t, w), (w, Sink(fn=print, name="log"))]).describe()
    assert "clock ticks every 0.5 s, count=3" in text and "Ticks" not in text
    assert "<lambda> timeout=2 s" in text
