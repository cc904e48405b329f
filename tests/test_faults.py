"""Faults on purpose (faults.py): crash, drop, duplicate and partition, reproducibly.

Every run is checked under seeds and threads, and every message is accounted for
on every edge: sent + duplicated = received + discarded + lost.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dissyslab import (
    Faults,
    ListSource,
    NetworkError,
    Sink,
    Source,
    Split,
    Transform,
    crash,
    drop,
    duplicate,
    network,
    partition,
)
from random_dags import build as build_dag
from random_dags import dags

T = 20
SCHEDULES = [None, 0, 3]


def accounted(g):
    for e in g.edges:
        assert (g.edge_counts[e] + g.edge_duplicated[e]
                == g.edge_received[e] + g.edge_discarded[e] + g.edge_lost[e]), e


def pipeline(n=20, out=None):
    out = [] if out is None else out
    src = Source(fn=ListSource(list(range(n))).run, name="src")
    t = Transform(fn=lambda x: x * 10, name="times10")
    return network([(src, t), (t, Sink(fn=out.append, name="sink"))]), out


def run(g, seed, faults, **kw):
    g.run_network(seed=seed, timeout=T, live=False, faults=faults, **kw)
    accounted(g)


@pytest.mark.parametrize("seed", SCHEDULES)
def test_drop_nth_loses_exactly_those_messages(seed):
    g, out = pipeline()
    run(g, seed, [drop("src → times10", nth=[0, 3, 19])])
    assert out == [x * 10 for x in range(20) if x not in (0, 3, 19)]
    assert g.edge_lost[g.edges[0]] == 3 and g.edge_lost[g.edges[1]] == 0
    assert g.failures == [] and g.crashed == {}


@pytest.mark.parametrize("seed", SCHEDULES)
def test_duplicate_nth_delivers_a_copy_right_behind_its_original(seed):
    g, out = pipeline(6)
    run(g, seed, [duplicate(("times10", "sink"), nth=[1, 4])])
    assert out == [0, 10, 10, 20, 30, 40, 40, 50]
    assert g.edge_duplicated[g.edges[1]] == 2 and g.stats["sink"].received == 8


def test_a_duplicate_is_a_copy_not_the_same_object():
    got = []
    src = Source(fn=ListSource([[1], [2]]).run, name="src")
    g = network([(src, Sink(fn=got.append, name="sink"))])
    run(g, 1, [duplicate("src → sink", nth=[0])])
    assert got == [[1], [1], [2]] and got[0] is not got[1]


@pytest.mark.parametrize("seed", [0, 5, 11])
def test_the_same_seed_gives_the_same_faults_and_the_same_run(seed):
    faults = [drop("src → times10", p=0.3), duplicate("times10 → sink", p=0.3)]
    runs = []
    for _ in range(2):
        g, out = pipeline(40)
        run(g, seed, faults, trace=True)
        runs.append((out, [(r.node, r.event, r.message, r.edge, r.index) for r in g.trace]))
    assert runs[0] == runs[1]
    assert 0 < g.edge_lost[g.edges[0]] < 40 and 0 < g.edge_duplicated[g.edges[1]]
    assert g.last_run.fault_seed == seed


def test_a_fault_changes_neither_the_schedule_nor_the_other_faults():
    # the scheduler never draws for a fault: with faults that change nothing, the trace is the same
    g, _ = pipeline(30)
    g.run_network(seed=4, trace=True, timeout=T, live=False)
    plain = [(r.node, r.event, r.index) for r in g.trace]
    g.run_network(seed=4, trace=True, timeout=T, live=False,
                  faults=[drop("src → times10", p=0.0), duplicate("times10 → sink", p=0.0)])
    assert [(r.node, r.event, r.index) for r in g.trace] == plain
    # the messages a drop loses are the same with or without another fault beside it
    lost = []
    for faults in ([drop("src → times10", p=0.4)],
                   [duplicate("times10 → sink", p=0.5), drop("src → times10", p=0.4)]):
        g, out = pipeline(40)
        run(g, None, Faults(faults, seed=77))
        lost.append(sorted(set(range(40)) - {x // 10 for x in out}))
    assert lost[0] == lost[1] and lost[0]


def test_a_threaded_run_reports_its_fault_seed_and_replays_with_it():
    g, out = pipeline(60)
    run(g, None, [drop("src → times10", p=0.5)])
    seed = g.last_run.fault_seed
    assert isinstance(seed, int)
    first = list(out)
    g2, out2 = pipeline(60)
    run(g2, None, Faults([drop("src → times10", p=0.5)], seed=seed))
    assert out2 == first
    assert 0 < len(first) < 60


@pytest.mark.parametrize("fault_seed", [3, 40])
def test_threads_and_a_seeded_run_decide_the_same_faults_with_the_same_seed(fault_seed):
    # the decisions are keyed by edge and index alone, never by the schedule
    faults = [drop("src → times10", p=0.3), duplicate("times10 → sink", p=0.3),
              crash("sink", after=35)]
    seen = []
    for seed, asked in ((fault_seed, faults), (None, Faults(faults, seed=fault_seed))):
        g, out = pipeline(60)
        run(g, seed, asked, trace=True)
        seen.append((out, g.crashed, sorted((r.node, r.event, r.message, r.index)
                                            for r in g.trace if r.event != "end")))
    assert seen[0] == seen[1]
    assert 0 < len(seen[0][0]) == 35


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags(), st.data())
def test_on_any_dag_threads_and_every_seed_lose_and_copy_as_many_on_every_edge(dag, data):
    # without filters, how many messages cross each edge does not depend on the schedule, and
    # a fault decides by the edge and the message's index alone: every run counts the same
    names, edges, filters, counts, seed = dag
    dag = (names, edges, [0] * len(filters), counts, seed)  # every transform keeps everything
    g, _ = build_dag(dag)
    labels = [e.label for e in g.edges]
    faults = [data.draw(st.sampled_from([drop, duplicate]))(label, p=data.draw(st.sampled_from(
        [0.1, 0.5]))) for label in data.draw(st.lists(st.sampled_from(labels), max_size=4))]
    seen = []
    for run_seed in (seed, None):  # threads take the seeded run's seed as their fault seed
        g, _ = build_dag(dag)
        run(g, run_seed, faults if run_seed is not None else Faults(faults, seed=seed))
        seen.append([(g.edge_counts[e], g.edge_lost[e], g.edge_duplicated[e]) for e in g.edges])
    assert seen[0] == seen[1]


@pytest.mark.parametrize("p", [0, 1])
@pytest.mark.parametrize("seed", [None, 2])
def test_probability_zero_loses_nothing_and_one_loses_everything(p, seed):
    g, out = pipeline()
    run(g, seed, [drop("src -> times10", p=p)])
    assert len(out) == (20 if p == 0 else 0)


@pytest.mark.parametrize("seed", SCHEDULES)
def test_a_crash_ends_the_run_normally_and_its_receivers_see_the_end(seed):
    g, out = pipeline()
    run(g, seed, [crash("times10", after=5)])
    assert out == [0, 10, 20, 30, 40]
    assert g.crashed == {"times10": 5}
    assert g.state == {"src": "done", "times10": "crashed", "sink": "done"}
    assert g.failures == []
    assert g.edge_lost[g.edges[0]] == 15  # what reached it after the crash


@pytest.mark.parametrize("seed", SCHEDULES)
@pytest.mark.parametrize("after", [0, 1, 7])
def test_a_crashed_source_sends_what_it_made_before(seed, after):
    g, out = pipeline()
    run(g, seed, [crash(g.node("src"), after=after)])
    assert out == [x * 10 for x in range(after)]
    assert g.crashed == {"src": after} and g.state["src"] == "crashed"


@pytest.mark.parametrize("seed", SCHEDULES)
def test_a_node_that_crashes_at_once_loses_everything_and_its_receivers_end(seed):
    g, out = pipeline()
    run(g, seed, [crash("times10", after=0)])
    assert out == [] and g.crashed == {"times10": 0}
    assert g.state["sink"] == "done"


@pytest.mark.parametrize("seed", SCHEDULES)
@pytest.mark.parametrize("who", ["src", "times10"])
def test_a_traced_run_shows_a_node_that_crashes_at_once(seed, who):
    # it crashes as the run begins: the trace is already listening
    g, out = pipeline(5)
    run(g, seed, [crash(who, after=0)], trace=True)
    assert [(r.node, r.note) for r in g.trace.events("crash")] == [(who, "after 0 messages")]
    assert out == [] and g.crashed == {who: 0}


def test_a_crash_after_more_messages_than_come_never_happens():
    g, out = pipeline(5)
    run(g, 1, [crash("times10", after=50)])
    assert len(out) == 5 and g.crashed == {} and g.state["times10"] == "done"


@pytest.mark.parametrize("seed", SCHEDULES)
def test_an_error_in_a_node_is_still_an_error_beside_a_crash(seed):
    def bad(x):
        if x == 3:
            raise ValueError("three")
        return x

    out = []
    src = Source(fn=ListSource(list(range(10))).run, name="src")
    b, o = Transform(fn=bad, name="bad"), Transform(fn=str, name="other")
    g = network([(src, b), (src, o), (b, Sink(fn=out.append, name="sink")),
                 (o, Sink(fn=lambda x: None, name="quiet"))])
    with pytest.raises(NetworkError, match="three"):
        g.run_network(seed=seed, timeout=T, live=False, faults=[crash("other", after=2)])
    assert len(g.failures) == 1 and g.crashed == {"other": 2}
    accounted(g)


@pytest.mark.parametrize("seed", SCHEDULES)
def test_a_loop_whose_messages_are_lost_still_ends(seed):
    # a retry loop: each request goes round until it has been tried three times
    def service(req):
        r, attempt = req
        return [(r, attempt + 1), None] if attempt < 3 else [None, req]

    done = []
    src = Source(fn=ListSource([(r, 0) for r in range(30)]).run, name="requests")
    call = Split(fn=service, num_outputs=2, name="service")
    g = network([(src, call), (call.out_0, call), (call.out_1, Sink(fn=done.append, name="done"))])
    run(g, seed, [drop("service.out_0 → service", p=0.3), duplicate("requests → service", p=0.2)])
    assert g.state["done"] == "done"
    loop = next(e for e in g.edges if e.src is e.dst)
    assert g.edge_lost[loop] > 0
    assert len(done) == 30 + g.edge_duplicated[g.edges[0]] - g.edge_lost[loop]


@pytest.mark.parametrize("seed", SCHEDULES)
def test_a_crash_inside_a_loop_ends_the_run(seed):
    def service(req):
        r, attempt = req
        return [(r, attempt + 1), None] if attempt < 3 else [None, req]

    done = []
    src = Source(fn=ListSource([(r, 0) for r in range(10)]).run, name="requests")
    call = Split(fn=service, num_outputs=2, name="service")
    g = network([(src, call), (call.out_0, call), (call.out_1, Sink(fn=done.append, name="done"))])
    run(g, seed, [crash("service", after=6)])
    assert g.crashed == {"service": 6} and g.state["done"] == "done"


def piece(name):
    strip = Transform(fn=str.strip, name="strip")
    upper = Transform(fn=str.upper, name="upper")
    return network([(strip, upper)], inputs=[strip], outputs=[upper], name=name)


@pytest.mark.parametrize("seed", SCHEDULES)
def test_faults_inside_a_sub_network_use_its_qualified_names(seed):
    out = []
    src = Source(fn=ListSource([f" w{i} " for i in range(8)]).run, name="words")
    cleaner = piece("clean")
    g = network([(src, cleaner), (cleaner, Sink(fn=out.append, name="sink"))])
    run(g, seed, [drop("clean/strip → clean/upper", nth=[2]), crash("clean/upper", after=5)])
    assert out == ["W0", "W1", "W3", "W4", "W5"]
    assert g.crashed == {"clean/upper": 5}


def test_a_partition_loses_what_crosses_it_in_its_window_of_virtual_time():
    import time

    def tick():
        return next(items, None)

    items = iter(range(10))

    def slow(x):
        time.sleep(1)  # virtual under a seed: the clock advances one second per message
        return x

    out = []
    s = Transform(fn=slow, name="slow")
    g = network([(Source(fn=tick, name="src"), s), (s, Sink(fn=out.append, name="sink"))])
    run(g, 0, [partition(["src", "slow"], ["sink"], start=3, end=6)])
    assert g.edge_lost[g.edges[1]] == 10 - len(out) > 0
    lost = sorted(set(range(10)) - set(out))
    assert lost == list(range(lost[0], lost[-1] + 1))  # one stretch of time: consecutive messages
    assert g.edge_lost[g.edges[0]] == 0  # within a group nothing is lost


@pytest.mark.parametrize("seed", [None, 4])
def test_a_partition_for_the_whole_run_cuts_both_ways(seed):
    g, out = pipeline()
    run(g, seed, [partition(["times10"], ["src", "sink"])])
    assert out == [] and g.edge_lost[g.edges[0]] == 20


def test_a_snapshot_records_no_message_that_was_lost():
    # the sink records at b's marker; what t sends before its own marker is in flight
    def two():
        out = []
        a = Source(fn=ListSource(list(range(20))).run, name="a")
        t = Transform(fn=lambda x: x, name="t")
        b = Source(fn=ListSource(list(range(100, 120))).run, name="b")
        sink = Sink(fn=out.append, name="sink")
        return network([(a, t), (t, sink), (b, sink)]), out

    g, _ = two()
    g.run_network(seed=2, snapshot_at=3, timeout=T, live=False)
    assert g.snapshots[0].channels["t → sink"] == [0, 1, 2]  # in flight, without faults
    g, _ = two()
    run(g, 2, [drop("t → sink", nth=[1])], snapshot_at=3)
    assert g.snapshots[0].channels["t → sink"] == [0, 2]


@pytest.mark.parametrize("seed", [None, 6])
def test_the_trace_shows_lost_duplicated_and_crash_events(seed):
    g, out = pipeline(10)
    run(g, seed, [drop("src → times10", nth=[1]), duplicate("times10 → sink", nth=[2]),
                  crash("times10", after=6)], trace=True)
    lost = g.trace.events("lost")
    assert [(r.node, r.message, r.index) for r in lost][0] == ("times10", 1, 1)
    assert len(lost) == 1 + 3  # and the three that reached it after the crash
    dup = g.trace.events("duplicated")
    assert [(r.node, r.message, r.index) for r in dup] == [("sink", 30, 2)]
    # the copy is received with the index of its original: sends and receives still pair up
    assert [r.index for r in g.trace.events("receive") if r.node == "sink"] == [0, 1, 2, 2, 3, 4, 5]
    assert [(r.node, r.note) for r in g.trace.events("crash")] == [("times10", "after 6 messages")]
    assert g.trace[-1].lamport is not None  # the clocks can still be worked out
    g.timeline()


def test_the_timeline_ends_a_lost_message_in_a_cross_and_draws_both_copies_of_a_duplicate():
    g, out = pipeline(10)
    run(g, 6, [drop("src → times10", nth=[1]), duplicate("times10 → sink", nth=[2]),
               crash("times10", after=6)], trace=True)
    svg = g.timeline()._repr_svg_()
    lost = [line for line in svg.splitlines() if "lost on the way" in line]
    assert len(lost) == 1 + 3 and all("marker-end" not in line for line in lost)  # no head
    assert svg.count("1 lost</text>") == 1 and "lost (a fault)" in svg
    copies = [line for line in svg.splitlines() if "one of its copies" in line]
    assert len(copies) == 2 and all("(message 2 on this edge)" in line for line in copies)
    assert "crashed (after 6 messages)" in svg and "crashed (a fault)" in svg
    # a run without faults keeps its legend as it was
    g, out = pipeline(3)
    run(g, 6, [], trace=True)
    assert "(a fault)" not in g.timeline()._repr_svg_()


def test_explore_with_faults_finds_fault_schedules_each_replayed_by_its_seed():
    faults = [drop("src → times10", p=0.3), duplicate("times10 → sink", p=0.2)]
    g, _ = pipeline(5)
    ex = g.explore(runs=30, faults=faults)
    outcomes = ex["sink"]
    assert len(outcomes) > 5 and "each with the faults its seed decides" in str(ex)
    assert any(len(o.received) < 5 for o in outcomes) and any(len(o.received) > 5 for o in outcomes)
    for o in outcomes[:6]:  # what the sink received, lost and duplicated messages included
        g, out = pipeline(5)
        run(g, o.seed, faults)
        assert out == o.received
    with pytest.raises(ValueError, match="Leave seed= out"):
        g.explore(runs=2, faults=Faults(faults, seed=3))
    with pytest.raises(ValueError, match="no edge 'src → sink'"):
        g.explore(runs=2, faults=[drop("src → sink", p=0.1)])


@pytest.mark.parametrize("seed", [None, 2])
def test_lost_messages_are_not_waiting_and_the_diagram_counts_them_per_edge(seed):
    from dissyslab import diagram

    g, out = pipeline(8)
    run(g, seed, [drop("src → times10", nth=[1, 2]), duplicate("times10 → sink", nth=[0]),
                  crash("sink", after=4)])
    assert diagram.waiting_counts(g) == {}  # every message arrived, was copied, or was lost
    dot = g.diagram(stats=True).source
    assert "waiting" not in dot
    assert ">2 lost</FONT>" in dot and ">3 lost</FONT>" in dot  # after the sink crashed
    assert "crashed after 4" in dot
    assert " lost" not in g.diagram().source  # the plain picture says nothing of runs


@pytest.mark.parametrize("faults, words", [
    ([crash("nobody", after=1)], ["nobody", "src, times10, sink"]),
    ([drop("src → sink", p=0.1)], ["'src → sink'", "'src → times10'"]),
    ([drop(("src", "ghost"), p=0.1)], ["'ghost'"]),
    ([duplicate(42, p=0.1)], ["42", "sender → receiver"]),
    ([partition(["src"], ["src", "sink"])], ["'src'", "both groups"]),
    ([crash("src", after=1), crash("src", after=2)], ["more than once"]),
    ("drop", ["a list of faults"]),
    ([print], ["crash(), drop()"]),
])
def test_bad_faults_are_refused_before_the_run_naming_them(faults, words):
    g, out = pipeline()
    with pytest.raises((ValueError, TypeError)) as err:
        g.run_network(seed=1, timeout=T, live=False, faults=faults)
    for w in words:
        assert w in str(err.value)
    assert g.last_run is None and out == []


@pytest.mark.parametrize("make, words", [
    (lambda: drop("a → b", p=1.5), ["p=1.5", "from 0 to 1"]),
    (lambda: drop("a → b", p=-0.1), ["p=-0.1"]),
    (lambda: duplicate("a → b", p="often"), ["p='often'"]),
    (lambda: drop("a → b"), ["give p=", "neither was given"]),
    (lambda: drop("a → b", p=0.5, nth=[1]), ["both were given"]),
    (lambda: drop("a → b", nth=[-1]), ["nth=[-1]"]),
    (lambda: crash("a", after=-1), ["after=-1", "at least 0"]),
    (lambda: crash("a", after=1.5), ["after=1.5"]),
    (lambda: partition(["a"], ["b"], start=5, end=2), ["before it starts"]),
    (lambda: partition(["a"], [], start=0), ["empty"]),
    (lambda: Faults([], seed="x"), ["fault seed"]),
])
def test_bad_fault_arguments_are_refused_naming_them(make, words):
    with pytest.raises((ValueError, TypeError)) as err:
        make()
    for w in words:
        assert w in str(err.value)


def test_a_fault_seed_beside_a_run_seed_is_refused():
    g, _ = pipeline()
    with pytest.raises(ValueError, match="Leave one of them out"):
        g.run_network(seed=1, timeout=T, live=False, faults=Faults([], seed=2))


def test_faults_on_ray_are_refused_before_ray_is_touched():
    g, _ = pipeline()
    with pytest.raises(ValueError, match="faults= works in this process"):
        g.run_network(engine="ray", timeout=T, live=False, faults=[])


def test_without_faults_nodes_have_none():
    g, out = pipeline()
    g.run_network(timeout=T, live=False)
    assert all(nr.faults is None for nr in g.last_run.nodes.values())
    assert g.crashed == {} and not any(g.edge_lost.values()) and g.last_run.fault_seed is None


def test_the_diagram_shows_a_crashed_node():
    g, _ = pipeline()
    run(g, 1, [crash("times10", after=3)])
    assert "\u2717 crashed" in g.diagram(stats=True, states=g.state).source
