"""The Ray engine (ray_engine.py): the same results as threads, from processes.

One local Ray instance serves the whole test session (the ``ray_instance``
fixture); every network here is small, so the Ray part of the suite stays quick.
Skipped when Ray is not installed (``pip install -e ".[ray]"``).
"""

import _thread
import itertools
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

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
from random_dags import build, check_delivery, dags

ray = pytest.importorskip("ray")

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_instance")]


@pytest.fixture(scope="session")
def ray_instance():
    """One local Ray instance for every Ray test (shut down when the test process exits)."""
    from dissyslab.ray_pool import connect

    connect()
    yield


def alive(pid):
    """True while process ``pid`` runs (a zombie, ended but not yet reaped, counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # (it ended between the open and the read)
        return False


def pool():
    from dissyslab.ray_pool import host_pool

    return host_pool(ray)


#: Ray's own processes (its agents, and workers kept ready for it): not the pool's, not a run's
RAYS_OWN = ("ray::IDLE", "ray::DashboardAgent", "ray::RuntimeEnvAgent")


def ray_workers():
    """{pid: title} of the Ray worker processes of this test process's Ray (its descendants)."""
    children, titles = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                title = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
            titles[int(entry)] = title
    found, todo = {}, [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), []):
            todo.append(child)
            if titles[child].startswith("ray::") and not titles[child].startswith(RAYS_OWN):
                found[child] = titles[child]
    return found


@pytest.fixture(autouse=True)
def no_process_but_the_pools():
    """After every test: each Ray worker process alive is an unused host of the pool."""
    yield
    if not ray.is_initialized():
        return
    deadline = time.monotonic() + 30
    while True:  # a host being killed takes a moment to end
        hosts = set(ray.get([h.actor.pid.remote() for h in pool().unused], timeout=60))
        extra = {p: t for p, t in ray_workers().items() if p not in hosts}
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not extra, f"Ray worker processes left that the pool does not hold: {extra}"


def assert_hosts_clean(g, killed=()):
    """After a run: the processes of the nodes in ``killed`` have ended; every other one is
    an unused host of the pool that holds nothing of the run (or has ended)."""
    pids = dict(g.last_run.pids)
    assert pids, "the run recorded no node process"
    gone = [pids[name] for name in killed]
    deadline = time.monotonic() + 30
    while any(alive(p) for p in gone) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in gone if alive(p)], "the process of a failed or stopped node was kept"
    unused = {h.pid: h for h in pool().unused}
    kept = [p for name, p in pids.items() if name not in killed and alive(p)]
    assert set(kept) <= set(unused), "a node process neither kept in the pool nor ended"
    assert ray.get([unused[p].actor.held.remote() for p in kept], timeout=60) == [[]] * len(kept)


def both(make):
    """Run the network ``make()`` builds on threads and on Ray; return both results."""
    out = []
    for engine in ("threads", "ray"):
        g, results = make()
        g.run_network(timeout=60, engine=engine)
        out.append((g, results))
    return out


# --- the same results as threads ------------------------------------------------------------
def fanout_of_lesson_03():
    source = Source(fn=ListSource(items=["hello", "world", "python"]).run, name="word_source")
    uppercase = Transform(fn=str.upper, name="uppercase")
    reverse = Transform(fn=lambda t: t[::-1], name="reverse")
    upper, rev = [], []
    g = network([(source, uppercase), (source, reverse),
                 (uppercase, Sink(fn=upper.append, name="collector_upper")),
                 (reverse, Sink(fn=rev.append, name="collector_reverse"))])
    return g, (upper, rev)


def test_the_fanout_of_lesson_03_gives_the_threaded_results_and_stats():
    (gt, threaded), (gr, on_ray) = both(fanout_of_lesson_03)
    assert on_ray == threaded == (["HELLO", "WORLD", "PYTHON"], ["olleh", "dlrow", "nohtyp"])
    assert {n: vars(s) for n, s in gr.stats.items()} == {n: vars(s) for n, s in gt.stats.items()}
    assert {e.label: n for e, n in gr.edge_counts.items()} == {
        e.label: n for e, n in gt.edge_counts.items()}
    assert set(gr.state.values()) == {"done"}
    assert_hosts_clean(gr)


def patterns():
    """Filters, a Split, a MergeSynch, fanin from two sources and fanout of changing records."""
    numbers = Source(fn=ListSource(list(range(300))).run, name="numbers")
    records = Source(fn=ListSource([{"id": i, "tags": []} for i in range(60)]).run, name="records")
    evens = Transform(fn=lambda x: x if x % 2 == 0 else None, name="evens")
    by4 = Split(fn=lambda x: [x, None] if x % 4 == 0 else [None, x], num_outputs=2, name="by4")
    merge = MergeSynch(num_inputs=2, name="pair")

    def tag(r, label):
        r["tags"].append(label)  # changes its own copy: the other path must not see it
        return r
    tag_a = Transform(fn=tag, params={"label": "a"}, name="tag_a")
    tag_b = Transform(fn=tag, params={"label": "b"}, name="tag_b")
    fours, pairs, tagged, both_in = [], [], [], []
    fanin = Sink(fn=both_in.append, name="fanin")
    g = network([
        (numbers, evens), (evens, by4), (by4.out_0, Sink(fn=fours.append, name="fours")),
        (by4.out_1, merge.in_0), (records, merge.in_1),
        (merge, Sink(fn=lambda p: pairs.append((p[0], p[1]["id"])), name="pairs")),
        (records, tag_a), (records, tag_b),
        (tag_a, Sink(fn=tagged.append, name="tagged")), (tag_b, Sink(fn=tagged.append, name="tagged_b")),
        (numbers, fanin), (tag_a, fanin),
    ])
    return g, (fours, pairs, tagged, both_in)


@pytest.mark.filterwarnings("ignore::dissyslab.MergeSynchWarning")
def test_filters_split_merge_fanin_and_fanout_copies_match_threads():
    (gt, threaded), (gr, on_ray) = both(patterns)
    fours, pairs, tagged, both_in = on_ray
    assert fours == threaded[0] == list(range(0, 300, 4))
    assert pairs == threaded[1] == [(2 + 4 * i, i) for i in range(60)]
    # each record went down both paths, each path with a copy of its own
    assert sorted((r["id"], tuple(r["tags"])) for r in tagged) == sorted(
        (r["id"], tuple(r["tags"])) for r in threaded[2]) == sorted(
        [(i, ("a",)) for i in range(60)] + [(i, ("b",)) for i in range(60)])
    # fanin: each sender's messages in its own order, interleaved somehow
    assert [m for m in both_in if isinstance(m, int)] == list(range(300))
    assert [m["id"] for m in both_in if isinstance(m, dict)] == list(range(60))
    assert {n: vars(s) for n, s in gr.stats.items()} == {n: vars(s) for n, s in gt.stats.items()}
    assert gr.unpaired == gt.unpaired == {"pair": {0: [2 + 4 * i for i in range(60, 75)]}}


def test_a_feedback_loop_ends_by_itself_with_the_threaded_results():
    def make():
        seen = []
        src = Source(fn=ListSource([5, 8, 13]).run, name="start")
        collatz = Transform(fn=lambda n: n // 2 if n % 2 == 0 else 3 * n + 1, name="step")
        again = Split(fn=lambda n: [n, None] if n != 1 else [None, n], num_outputs=2, name="done")
        g = network([(src, collatz), (collatz, again), (again.out_0, collatz),
                     (again.out_1, Sink(fn=seen.append, name="ones"))])
        return g, seen
    (gt, threaded), (gr, on_ray) = both(make)
    assert on_ray == threaded == [1, 1, 1]
    assert {n: vars(s) for n, s in gr.stats.items()} == {n: vars(s) for n, s in gt.stats.items()}


def test_capacity_holds_a_fast_source_back_for_a_slow_sink():
    ahead = []

    def slow(x):
        ahead.append(g.last_run.nodes["numbers"].stats.sent - x)
        time.sleep(0.002)
    g = network([(Source(fn=ListSource(list(range(300))).run, name="numbers"),
                  Sink(fn=slow, name="slow"))])
    g.run_network(timeout=60, capacity=20, engine="ray")
    assert len(ahead) == 300
    # the source never ran more than `capacity` messages ahead of the sink
    assert max(ahead) <= 20


@settings(max_examples=4, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(dags())
def test_random_networks_deliver_every_message_once_per_path_in_order_on_ray(dag):
    g, results = build(dag)
    g.run_network(timeout=60, engine="ray")
    check_delivery(g, dag, results)


# --- failures -----------------------------------------------------------------------------------
def inverse(x):
    return 1 / x


def test_a_failing_node_gives_the_same_network_error_with_the_traceback_from_its_process():
    got = []
    inv = Transform(fn=inverse, name="inverse")
    g = network([(Source(fn=ListSource([4, 2, 0, 1]).run, name="numbers"), inv),
                 (inv, Sink(fn=got.append, name="got"))])
    with pytest.raises(NetworkError) as info:
        g.run_network(timeout=60, engine="ray")
    text = str(info.value)
    assert "transform 'inverse' failed on message 0: ZeroDivisionError: division by zero" in text
    failure = info.value.failures[0]
    assert isinstance(failure.exception, ZeroDivisionError)
    assert "return 1 / x" in failure.traceback and "ZeroDivisionError" in failure.traceback
    assert got == [0.25, 0.5]
    assert g.state == {"numbers": "done", "inverse": "failed", "got": "done"}
    assert g.stats["inverse"].discarded == 1
    assert_hosts_clean(g, killed=["inverse"])


class Locked:
    """A message that cannot be pickled: it holds a lock."""

    def __init__(self):
        self.lock = threading.Lock()


def test_a_message_that_cannot_be_pickled_is_reported_naming_the_edge():
    got = []
    make = Transform(fn=lambda x: Locked() if x == 2 else x, name="make")
    g = network([(Source(fn=ListSource([1, 2, 3]).run, name="numbers"), make),
                 (make, Sink(fn=got.append, name="got"))])
    with pytest.raises(NetworkError) as info:
        g.run_network(timeout=60, engine="ray")
    text = str(info.value)
    assert "transform 'make' could not send <Locked object> along the edge make → got" in text
    assert "cannot be pickled" in text and "lock" in text
    assert got == [1]


def test_a_node_function_that_cannot_be_pickled_is_named_before_anything_starts():
    lock = threading.Lock()

    def guarded(x):
        with lock:
            return x
    got = []
    step = Transform(fn=guarded, name="guarded")
    g = network([(Source(fn=ListSource([1, 2]).run, name="numbers"), step),
                 (step, Sink(fn=got.append, name="got"))])
    with pytest.raises(TypeError, match="transform 'guarded' cannot run on Ray.*cannot be pickled") as info:
        g.run_network(timeout=60, engine="ray")
    assert got == [] and g.last_run is None
    # and it says how to run that node in this process instead
    assert 'run_network(engine="ray", place={"guarded": "here"})' in str(info.value)


def test_a_transform_placed_here_runs_in_this_process_and_its_fanout_copies_stay_apart():
    lock = threading.Lock()
    pids = []

    def guarded(x):  # holds a lock: it could not be pickled for a process of its own
        with lock:
            pids.append(os.getpid())
            return {"n": x, "seen_by": []}
    a_got, b_got = [], []

    def keep_a(r):
        r["seen_by"].append("a")  # changes its own copy: b must not see it
        a_got.append(r)
    step = Transform(fn=guarded, name="guarded")
    double = Transform(fn=lambda r: r["n"] * 2, name="double")
    g = network([(Source(fn=ListSource([1, 2, 3]).run, name="numbers"), step),
                 (step, Sink(fn=keep_a, name="a")), (step, Sink(fn=b_got.append, name="b")),
                 (step, double), (double, Sink(fn=print, name="show"))])
    g.run_network(timeout=60, engine="ray", place={"guarded": "here"}, trace=True)
    assert pids == [os.getpid()] * 3  # in this process
    assert [r["seen_by"] for r in a_got] == [["a"]] * 3
    assert b_got == [{"n": n, "seen_by": []} for n in (1, 2, 3)]
    assert sorted(g.last_run.pids) == ["double", "numbers"]
    assert g.stats["guarded"].received == 3
    assert {e.label: n for e, n in g.edge_counts.items() if e.src is step} == {
        "guarded → a": 3, "guarded → b": 3, "guarded → double": 3}
    assert [r.message["n"] for r in g.trace if r.node == "guarded" and r.event == "send"] == [
        1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert g.state["guarded"] == "done"


def test_a_failure_of_a_node_placed_here_keeps_its_own_traceback():
    inv = Transform(fn=inverse, name="inverse")
    got = []
    g = network([(Source(fn=ListSource([2, 0]).run, name="numbers"), inv),
                 (inv, Sink(fn=got.append, name="got"))])
    with pytest.raises(NetworkError, match="transform 'inverse' failed on message 0") as info:
        g.run_network(timeout=60, engine="ray", place={"inverse": "here"})
    assert info.value.failures[0].exception.__traceback__ is not None  # the very exception
    assert got == [0.5]


def show_my_pid(x):
    print(f"{x} in {os.getpid()}")


def test_a_sink_placed_in_a_process_runs_there(capsys):
    g = network([(Source(fn=ListSource([1, 2]).run, name="numbers"), Sink(fn=show_my_pid, name="show"))])
    g.run_network(timeout=60, engine="ray", place={"show": "process"})
    pid = g.last_run.pids["show"]
    assert pid != os.getpid()
    assert capsys.readouterr().out == f"1 in {pid}\n2 in {pid}\n"  # printed here, all the same
    assert g.stats["show"].received == 2 and g.state["show"] == "done"
    assert_hosts_clean(g)


def test_placement_mistakes_are_refused_naming_the_node():
    got = []
    step = Transform(fn=str.upper, name="upper")
    g = network([(Source(fn=ListSource(["a"]).run, name="letters"), step),
                 (step, Sink(fn=got.append, name="got"))])
    with pytest.raises(ValueError, match="place= names a node 'uper', but this network has no node "
                                         "of that name. Did you mean 'upper'"):
        g.run_network(engine="ray", place={"uper": "here"})
    with pytest.raises(ValueError, match="place= puts transform 'upper' at 'local', but a node is "
                                         "placed \"here\" .* or \"process\""):
        g.run_network(engine="ray", place={"upper": "local"})
    with pytest.raises(ValueError, match="sink 'got' in a process of its own.*yours would stay empty"):
        g.run_network(engine="ray", place={"got": "process"})
    with pytest.raises(ValueError, match="place= says where nodes run on Ray"):
        g.run_network(place={"upper": "here"})
    assert got == [] and g.last_run is None
    g.run_network(timeout=60, engine="ray", place={step: "here", "letters": "here"})  # nodes work too
    assert got == ["A"] and g.last_run.pids == {}


def test_a_sink_that_cannot_be_pickled_runs_here_and_fills_the_list():
    lock = threading.Lock()
    got = []

    def keep(x):
        with lock:
            got.append(x)
    g = network([(Source(fn=ListSource([1, 2, 3]).run, name="numbers"), Sink(fn=keep, name="keep"))])
    g.run_network(timeout=60, engine="ray")
    assert got == [1, 2, 3]


def kill_my_process_at_3(x):
    if x == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


def test_a_node_whose_process_is_killed_is_reported_by_name_and_the_rest_goes_on():
    got, other = [], []
    src = Source(fn=ListSource(list(range(6))).run, name="numbers")
    fragile = Transform(fn=kill_my_process_at_3, name="fragile")
    g = network([(src, fragile), (fragile, Sink(fn=got.append, name="got")),
                 (src, Sink(fn=other.append, name="other"))])
    with pytest.raises(NetworkError) as info:
        g.run_network(timeout=60, engine="ray")
    assert "transform 'fragile' stopped: its process died" in str(info.value)
    assert other == list(range(6))
    assert got == [0, 1, 2][:len(got)]
    assert g.state["fragile"] == "failed"
    assert_hosts_clean(g, killed=["fragile"])


def test_a_timeout_stops_the_actors_and_leaves_no_process():
    count = iter(range(10**9))
    plus = Transform(fn=lambda x: x + 1, name="plus")
    got = []
    g = network([(Source(fn=lambda: next(count), name="endless"), plus),
                 (plus, Sink(fn=got.append, name="got"))])
    with pytest.raises(NetworkTimeout, match="did not finish within 3 seconds"):
        g.run_network(timeout=3, engine="ray")
    assert got and got == list(range(1, len(got) + 1))
    assert g.state["endless"] == "stopped"
    assert_hosts_clean(g, killed=["endless", "plus"])


def slow_then_stuck(x):
    time.sleep(0.05)
    while x == 3:  # stuck (in short sleeps: a thread can be stopped between two)
        time.sleep(0.01)
    return x * 10


@pytest.mark.timeout(180)
def test_a_slow_nodes_results_go_on_as_made_and_a_timeout_keeps_them_as_with_threads():
    """The messages 0, 1 and 2 are handled in the same call as 3, at which 'slow' gets stuck:
    what it made before goes on without waiting for the call's end, with its events and
    counts, so the sink has them when the timeout stops the run, on Ray as on threads."""
    warm = Transform(fn=abs, name="slow")  # (the pool's hosts are ready: the timeout is for the run)
    network([(Source(fn=ListSource([1]).run, name="numbers"), warm),
             (warm, Sink(fn=lambda x: None, name="keep"))]).run_network(engine="ray", timeout=120)
    runs = {}
    for engine in ("threads", "ray"):
        got = []
        step = Transform(fn=slow_then_stuck, name="slow")
        g = network([(Source(fn=ListSource(list(range(6))).run, name="numbers"), step),
                     (step, Sink(fn=got.append, name="keep"))])
        with pytest.raises(NetworkTimeout, match="'slow' .inside its function"):
            g.run_network(engine=engine, timeout=10, trace=True)
        sends = {(r.edge, r.index): i for i, r in enumerate(g.trace) if r.event == "send"}
        received = [(r.message, sends[(r.edge, r.index)] < i)  # (a send comes before its receive)
                    for i, r in enumerate(g.trace) if r.node == "keep" and r.event == "receive"]
        runs[engine] = (got, received, g.stats["slow"].sent, g.stats["keep"].received)
    assert runs["ray"] == runs["threads"] == ([0, 10, 20], [(0, True), (10, True), (20, True)], 3, 3)
    assert_hosts_clean(g, killed=["slow"])


def test_trace_times_are_when_the_events_happened_in_the_nodes_processes():
    def slow(x):
        time.sleep(0.2)
        return x
    step = Transform(fn=slow, name="slow")
    g = network([(Source(fn=ListSource([1, 2, 3]).run, name="numbers"), step),
                 (step, Sink(fn=lambda x: None, name="quiet"))])
    g.run_network(timeout=60, engine="ray", trace=True)
    received = [r.time for r in g.trace if r.node == "slow" and r.event == "receive"]
    sent = [r.time for r in g.trace if r.node == "slow" and r.event == "send"]
    # the three messages are handled in one call of its process: their times still differ
    assert [b - a >= 0.15 for a, b in zip(received, received[1:], strict=False)] == [True, True]
    assert [s - r >= 0.15 for r, s in zip(received, sent, strict=True)] == [True, True, True]
    # on the same clock as the events of this process (the sink's receives come after)
    quiet = [r.time for r in g.trace if r.node == "quiet" and r.event == "receive"]
    assert all(q >= s for q, s in zip(quiet, sent, strict=True)) and 0 < received[0] < 30


def test_trace_records_what_happened_in_the_nodes_processes():
    double = Transform(fn=lambda x: 2 * x, name="double")
    got = []
    g = network([(Source(fn=ListSource([1, 2]).run, name="numbers"), double),
                 (double, Sink(fn=got.append, name="got"))])
    g.run_network(timeout=60, engine="ray", trace=True)
    events = [(r.node, r.event, r.message) for r in g.trace if r.event != "end"]
    assert [e for e in events if e[0] == "double"] == [
        ("double", "receive", 1), ("double", "send", 2), ("double", "receive", 2),
        ("double", "send", 4)]
    assert [r.message for r in g.trace if r.node == "numbers" and r.event == "emit"] == [1, 2]
    assert got == [2, 4]


def test_an_unknown_engine_and_a_seed_with_ray_are_refused():
    g = network([(Source(fn=ListSource([1]).run), Sink(fn=print))])
    with pytest.raises(ValueError, match='engine must be "threads" .* or "ray", but got \'rey\''):
        g.run_network(engine="rey")
    with pytest.raises(ValueError, match="seeded run"):
        g.run_network(engine="ray", seed=1)


def test_without_ray_the_engine_says_how_to_install_it():
    code = ("import sys; sys.modules['ray'] = None\n"
            "from dissyslab import network, Source, Sink, ListSource\n"
            "g = network([(Source(fn=ListSource([1]).run), Sink(fn=print))])\n"
            "try:\n    g.run_network(engine='ray')\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert 'engine="ray" needs Ray' in out.stdout and 'pip install -e ".[ray]"' in out.stdout


def test_ctrl_c_stops_the_actors_and_leaves_no_process():
    count = iter(range(10**9))
    seen = []

    def press_ctrl_c_once(x):
        seen.append(x)
        if len(seen) == 50:
            _thread.interrupt_main()  # as Ctrl-C (or Jupyter's stop button) would
    g = network([(Source(fn=lambda: next(count), name="endless"),
                  Sink(fn=press_ctrl_c_once, name="watcher"))])
    with pytest.raises(KeyboardInterrupt, match="interrupted and stopped"):
        g.run_network(timeout=60, engine="ray")
    assert g.state == {"endless": "stopped", "watcher": "stopped"}
    assert_hosts_clean(g, killed=["endless"])


def test_a_timeout_kills_a_node_stuck_inside_its_function():
    def sleepy(x):
        time.sleep(1000)  # a thread could not be stopped here; a process can
    step = Transform(fn=sleepy, name="sleepy")
    g = network([(Source(fn=ListSource([1]).run, name="one"), step),
                 (step, Sink(fn=print, name="show"))])
    with pytest.raises(NetworkTimeout, match=r"transform 'sleepy' \(inside its function\)"):
        g.run_network(timeout=3, engine="ray")
    assert g.state["sleepy"] == "stopped"
    assert_hosts_clean(g, killed=["sleepy"])


def test_what_a_node_prints_in_its_process_is_printed_here(capsys):
    def shout(x):
        print(f"shouting {x}")
        return x
    step = Transform(fn=shout, name="shout")
    g = network([(Source(fn=ListSource([1, 2]).run, name="numbers"), step),
                 (step, Sink(fn=lambda x: None, name="quiet"))])
    g.run_network(timeout=60, engine="ray")
    assert capsys.readouterr().out == "shouting 1\nshouting 2\n"


def test_a_node_whose_module_cannot_be_imported_in_its_process_is_named(tmp_path, monkeypatch):
    (tmp_path / "only_here.py").write_text("def double(x):\n    return 2 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "only_here", raising=False)
    from only_here import double
    sys.path.remove(str(tmp_path))  # importable here (already imported), not in a new process
    step = Transform(fn=double, name="double")
    got = []
    g = network([(Source(fn=ListSource([1]).run, name="numbers"), step),
                 (step, Sink(fn=got.append, name="got"))])
    with pytest.raises(RuntimeError, match="transform 'double' could not start in a process of its "
                                           "own: ModuleNotFoundError: No module named 'only_here'"):
        g.run_network(timeout=60, engine="ray")
    assert got == []


def test_a_sub_network_runs_on_ray_as_on_threads():
    def make():
        def cleaner(name):
            strip = Transform(fn=str.strip, name="strip")
            lower = Transform(fn=str.lower, name="lower")
            return network([(strip, lower)], inputs=[strip], outputs=[lower], name=name)
        got = []
        piece = cleaner("clean")
        g = network([(Source(fn=ListSource(["  Hello ", " WORLD"]).run, name="words"), piece),
                     (piece, Sink(fn=got.append, name="got"))])
        return g, got
    (gt, threaded), (gr, on_ray) = both(make)
    assert on_ray == threaded == ["hello", "world"]
    assert sorted(gr.last_run.pids) == ["clean/lower", "clean/strip", "words"]


# --- capacity on MergeSynch inputs ------------------------------------------------------------
def counted_source(path, mine, other, n, pause):
    """A source of ``n`` messages (i, how far it is ahead of the other source when making i).

    Its count goes to the file ``path/mine`` before each message leaves; it
    reads the other source's count from ``path/other`` (the two run in
    processes of their own, so they share files, not memory).
    """
    made = [0]

    def make():
        if made[0] >= n:
            return None
        made[0] += 1
        try:
            with open(os.path.join(path, other)) as f:
                theirs = int(f.read() or 0)
        except FileNotFoundError:
            theirs = 0
        with open(os.path.join(path, mine + ".new"), "w") as f:
            f.write(str(made[0]))
        os.replace(os.path.join(path, mine + ".new"), os.path.join(path, mine))
        time.sleep(pause)
        return made[0], made[0] - theirs
    return make


def test_a_fast_merge_synch_input_waits_for_a_slow_one_on_ray(tmp_path):
    # Without a bound on each input the fast source would run ahead by all it makes.
    capacity, n = 4, 30
    m = MergeSynch(num_inputs=2, name="pair")
    out = []
    fast = Source(fn=counted_source(str(tmp_path), "fast", "slow", n, 0), name="fast")
    slow = Source(fn=counted_source(str(tmp_path), "slow", "fast", n, 0.01), name="slow")
    g = network([(fast, m.in_0), (slow, m.in_1), (m, Sink(fn=out.append, name="pairs"))])
    g.run_network(timeout=60, capacity=capacity, engine="ray")
    assert [(a[0], b[0]) for a, b in out] == [(i, i) for i in range(1, n + 1)]
    # a fast message waits at its input until paired, and pairs <= slow messages made
    assert max(a[1] for a, _ in out) <= capacity


def test_a_merge_synch_waiting_for_a_partner_does_not_block_its_fork_on_ray():
    # `rare` filters most messages: `pair.in_0` fills with messages that get no
    # partner while the fork waits for room there. The hub lifts that input's
    # bound once nothing can go on, and the run ends with the warning.
    n = 60
    src = Source(fn=ListSource(list(range(n))).run, name="numbers")
    rare = Transform(fn=lambda x: x if x % 20 == 0 else None, name="rare")
    every = Transform(fn=lambda x: x, name="every")
    m = MergeSynch(num_inputs=2, name="pair")
    out = []
    g = network([(src, every), (src, rare), (every, m.in_0), (rare, m.in_1),
                 (m, Sink(fn=out.append, name="pairs"))])
    with pytest.warns(UserWarning, match="pair"):
        g.run_network(timeout=60, capacity=2, engine="ray")
    assert out == [[0, 0], [1, 20], [2, 40]]
    assert g.stats["pair"].received == n + 3
    assert g.unpaired == {"pair": {0: list(range(3, n))}}


# --- the flow (flow.py): Ray agrees with the other schedulers -------------------------------
def test_messages_after_one_that_cannot_be_pickled_are_discarded_and_counted_as_in_a_seeded_run():
    from flow_networks import Unsendable

    def runs(**run):
        got = []
        work = Transform(fn=lambda x: Unsendable(x) if x == 4 else x, name="work")
        # two receivers: with threads or a seed the message fails when it is copied for them
        g = network([(Source(fn=ListSource(list(range(1, 9))).run, name="numbers"), work),
                     (work, Sink(fn=got.append, name="got")), (work, Sink(fn=len, name="audit"))])
        with pytest.raises(NetworkError, match="could not send Unsendable.4. along the edge"):
            g.run_network(timeout=60, live=False, **run)
        s = g.stats["work"]
        return got, (s.received, s.sent, s.failed, s.discarded)

    # Ray handled 5..8 anyway and lost their results uncounted: received=6, sent=3, discarded=0
    assert runs(engine="ray") == runs(seed=3) == ([1, 2, 3], (4, 3, 1, 4))


@settings(max_examples=4, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.data())
def test_ray_gives_what_seeded_runs_give_with_capacity_faults_splits_and_loops(data):
    from flow_networks import outcome, specs

    determinate = data.draw(st.booleans())
    spec = data.draw(specs(determinate=determinate, unsendable=False))
    capacity = data.draw(st.sampled_from([None, 1, 2, 3]))
    # outcome() checks that the run ends by itself and that every edge balances
    on_ray = outcome(spec, timeout=60, capacity=capacity, engine="ray")
    seeded = outcome(spec, timeout=60, capacity=capacity, seed=1)
    if determinate:  # every input has one edge: the same results, failures and counters
        assert on_ray == seeded
    elif not (on_ray["failed"] or seeded["failed"]):
        assert on_ray["sinks"] == seeded["sinks"]


# --- the pool of node-host processes -------------------------------------------------------------
class Numbering:
    """A node's state: numbers the messages it sees."""

    def __init__(self):
        self.seen = 0

    def number(self, x):
        self.seen += 1
        return (self.seen, x)


def test_processes_are_kept_between_runs_and_given_back_holding_nothing():
    numbering = Numbering()

    def run():
        got = []
        step = Transform(fn=numbering.number, name="number")
        g = network([(Source(fn=ListSource(["a", "b"]).run, name="letters"), step),
                     (step, Sink(fn=got.append, name="got"))])
        g.run_network(timeout=60, engine="ray")
        return g, got
    g1, got1 = run()
    assert_hosts_clean(g1)
    g2, got2 = run()
    # the second run's nodes ran in processes of the first run: none was started
    assert set(g2.last_run.pids.values()) <= set(g1.last_run.pids.values())
    assert g2.last_run.ray_processes == {"reused": 2, "started": 0}
    # and the node's state in that process was not left there: it starts again from 0
    assert got1 == got2 == [(1, "a"), (2, "b")]
    assert_hosts_clean(g2)


def test_a_host_whose_node_failed_is_replaced_and_the_next_run_works():
    inv = Transform(fn=inverse, name="inverse")
    g = network([(Source(fn=ListSource([0]).run, name="numbers"), inv),
                 (inv, Sink(fn=print, name="show"))])
    with pytest.raises(NetworkError):
        g.run_network(timeout=60, engine="ray")
    dead = g.last_run.pids["inverse"]
    got = []
    inv = Transform(fn=inverse, name="inverse")
    g = network([(Source(fn=ListSource([2]).run, name="numbers"), inv),
                 (inv, Sink(fn=got.append, name="got"))])
    g.run_network(timeout=60, engine="ray")
    assert got == [0.5] and dead not in g.last_run.pids.values()


def test_a_module_edited_on_disk_is_seen_by_the_next_run(tmp_path, monkeypatch):
    import importlib

    helper = tmp_path / "edited_helper.py"
    helper.write_text("def step(x):\n    return x + 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "edited_helper", raising=False)
    import edited_helper

    def run():
        got = []
        t = Transform(fn=edited_helper.step, name="step")  # pickled by reference: module.step
        g = network([(Source(fn=ListSource([1]).run, name="one"), t), (t, Sink(fn=got.append))])
        g.run_network(timeout=60, engine="ray")
        return g, got
    g1, got1 = run()
    helper.write_text("def step(x):\n    return x + 100\n")
    later = os.stat(helper).st_mtime_ns + 10**9  # a new time even on a coarse file system
    os.utime(helper, ns=(later, later))
    importlib.reload(edited_helper)
    g2, got2 = run()
    assert (got1, got2) == ([2], [101])
    assert g2.last_run.pids["step"] != g1.last_run.pids["step"]  # its old host was replaced
    assert not alive(g1.last_run.pids["step"])


def test_the_pool_ends_hosts_left_unused(monkeypatch):
    from dissyslab import ray_pool

    got = []
    g = network([(Source(fn=ListSource([1]).run, name="one"), Sink(fn=got.append))])
    g.run_network(timeout=60, engine="ray")
    pid = g.last_run.pids["one"]
    assert pid in {h.pid for h in pool().unused}
    monkeypatch.setattr(ray_pool, "POOL_IDLE", 0.5)
    monkeypatch.setattr(ray_pool, "POOL_LOOK", 0.2)
    deadline = time.monotonic() + 30
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid) and pid not in {h.pid for h in pool().unused}


def test_timeout_counts_the_start_of_the_nodes_processes(tmp_path, monkeypatch):
    import types

    # quick to import here, 8 seconds in a new process: the node's process is slow to start
    (tmp_path / "slow_to_import.py").write_text(
        "import time\ntime.sleep(8)\n\ndef same(x):\n    return x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = types.ModuleType("slow_to_import")
    exec("def same(x):\n    return x\n", module.__dict__)
    module.same.__module__ = "slow_to_import"
    monkeypatch.setitem(sys.modules, "slow_to_import", module)
    step = Transform(fn=module.same, name="same")
    g = network([(Source(fn=ListSource([1]).run, name="one"), step), (step, Sink(fn=print))])
    start = time.monotonic()
    with pytest.raises(NetworkTimeout, match="within 2 seconds, so it was stopped: its nodes' "
                                             "processes were still starting"):
        g.run_network(timeout=2, engine="ray")
    assert time.monotonic() - start < 6
    assert g.state["same"] == "stopped"


def test_the_first_run_says_ray_is_starting_before_importing_it():
    # importing Ray alone takes seconds: a notebook cell must not stay blank meanwhile
    code = ("import sys\n"
            "from dissyslab.ray_pool import connect\n"
            "ray = connect(say=lambda text: print(text, '|', 'ray' in sys.modules, flush=True))\n"
            "ray.shutdown()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    lines = out.stdout.splitlines()
    assert lines[0].startswith("Starting Ray") and lines[0].endswith("| False"), out.stdout + out.stderr
    assert lines[1].startswith("Ray started in ") and lines[1].endswith("| True"), out.stdout


def test_no_process_outlives_ray_shutdown_or_the_end_of_python():
    code = ("import os, time, ray\n"
            "from dissyslab import network, Source, Transform, Sink, ListSource\n"
            "def run():\n"
            "    t = Transform(fn=abs, name='abs')\n"
            "    g = network([(Source(fn=ListSource([-1]).run, name='one'), t), (t, Sink(fn=print))])\n"
            "    g.run_network(engine='ray', timeout=120)\n"
            "    return list(g.last_run.pids.values())\n"
            "first = run()\n"
            "from dissyslab.ray_pool import host_pool\n"
            "first += ray.get([h.actor.pid.remote() for h in host_pool(ray).unused])\n"
            "ray.shutdown()\n"
            "def alive(p):\n"
            "    try:\n"
            "        return open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[0] != 'Z'\n"
            "    except FileNotFoundError:\n"
            "        return False\n"
            "deadline = time.monotonic() + 30\n"
            "while any(map(alive, first)) and time.monotonic() < deadline:\n"
            "    time.sleep(0.1)\n"
            "print('left after ray.shutdown():', [p for p in first if alive(p)])\n"
            "print('pids', *run())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    lines = out.stdout.splitlines()
    assert lines[0] == "Starting Ray (once per Python session: a few seconds, more on a busy machine)..."
    assert lines[1].startswith("Ray started in "), out.stdout + out.stderr
    assert "left after ray.shutdown(): []" in lines, out.stdout + out.stderr
    pids = [int(p) for p in lines[-1].split()[1:]]
    assert len(pids) == 2 and lines.count("1") == 2
    deadline = time.monotonic() + 30
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in pids if alive(p)], "node processes outlived Python"


# --- snapshots on Ray (snapshots.py): markers in order with each edge's messages, states recorded
# in the nodes' processes, resume= loading each state into the process that runs the node
from test_snapshots import Slots, bank, collatz_net, consistent, money  # noqa: E402


@pytest.mark.timeout(400)
@settings(max_examples=3, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(k=st.integers(2, 4), extra=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=3),
       seed=st.integers(0, 10_000))
def test_snapshots_on_ray_conserve_money(k, extra, seed):
    """The accounts (Splits) run in processes of their own; the money adds up in every snapshot."""
    g, accounts, total = bank(k, [(i % k, j % k) for i, j in extra], seed, transfers=150)
    for a in accounts:  # a run of at least 0.3 s: snapshots every 0.05 s are taken on the way
        a.hook = dawdle
    g.run_network(engine="ray", snapshot_every=0.05, timeout=120, live=False)
    assert g.snapshots
    for snap in g.snapshots:
        assert money(snap) == total
        consistent(g, snap)
    # the states came from the accounts' processes (the notebook's accounts never moved)
    assert all(a.balance == 100 and a.got == [] for a in accounts)
    assert any(snap.nodes[a.name]["got"] for snap in g.snapshots for a in accounts)


def dawdle(account):
    """An account's hook: each transfer takes at least a millisecond."""
    time.sleep(0.001)


class RunningSum:
    """A transform with state of its own: the sum of the numbers so far."""

    def __init__(self):
        self.total = 0

    def add(self, x):
        time.sleep(0.005)
        self.total += x
        return self.total


def interrupt_after_a_snapshot(g):
    """A thread that presses Ctrl-C once the run of ``g`` has kept a snapshot."""
    def wait_then_interrupt():
        deadline = time.monotonic() + 120
        while not (g.last_run is not None and g.last_run.snapshots) and time.monotonic() < deadline:
            time.sleep(0.005)
        _thread.interrupt_main()

    helper = threading.Thread(target=wait_then_interrupt)
    helper.start()
    return helper


@pytest.mark.timeout(300)
@pytest.mark.parametrize("where", ["process", "here"])
def test_resume_on_ray_continues_from_the_state_recorded_in_the_nodes_process(where):
    expected = list(itertools.accumulate(range(1, 201)))
    adder, out = RunningSum(), []
    src = Source(fn=ListSource(list(range(1, 201))).run, name="numbers")
    step = Transform(fn=adder.add, name="sum")
    g = network([(src, step), (step, Sink(fn=out.append, name="sums"))])
    helper = interrupt_after_a_snapshot(g)
    with pytest.raises(KeyboardInterrupt):
        g.run_network(engine="ray", place={"sum": where}, snapshot_every=0.1, capacity=5,
                      timeout=120, live=False)
    helper.join()
    snap = g.snapshots[0]
    position = snap.nodes["numbers"]["position"]
    assert 0 < position < 200 and 0 < snap.nodes["sum"]["total"] < expected[-1]
    assert snap.nodes["sums"] == expected[:len(snap.nodes["sums"])]
    if where == "process":
        assert adder.total == 0

    g.run_network(engine="ray", place={"sum": where}, resume=snap, timeout=120, live=False)
    assert out == expected  # the sink's list, restored in place, then filled: nothing lost or twice
    if where == "process":  # the state lived in the node's process: the notebook's object is as it was
        assert adder.total == 0
        for seed in (None, 3):  # threads, and a seeded run, resume the same snapshot
            adder.total = 0
            g.run_network(resume=snap, seed=seed, timeout=120, live=False)
            assert out == expected
    assert adder.total == expected[-1]  # restored in place (here, or by threads), then went on


@pytest.mark.timeout(300)
def test_resume_on_ray_a_loop_and_a_merge_with_messages_in_flight():
    expected = []
    collatz_net(expected, Slots()).run_network(seed=1, timeout=60, live=False)
    out, total = [], Slots()
    g = collatz_net(out, total)
    g.run_network(seed=2, snapshot_at=40, timeout=60, live=False)
    snap = g.snapshots[0]
    assert snap.in_flight > 0
    g.run_network(engine="ray", resume=snap, timeout=120, live=False)
    assert sorted(out) == sorted(expected)
    assert total.total == sum(k for (_, k), _ in expected)
    for e in g.edges:  # every message sent again is accounted for once
        assert g.edge_counts[e] == g.edge_received[e] + g.edge_discarded[e], e


class Tally:
    """A slow transform that counts what it has passed on."""

    def __init__(self):
        self.count = 0

    def slow(self, x):
        time.sleep(0.02)
        self.count += 1
        return x


@pytest.mark.timeout(300)
def test_g_snapshot_during_a_ray_run():
    tally, out, got = Tally(), [], []
    src = Source(fn=ListSource(list(range(60))).run, name="src")
    step = Transform(fn=tally.slow, name="slow")
    g = network([(src, step), (step, Sink(fn=out.append, name="out"))])

    def take():  # from another thread, once a few results have come back
        deadline = time.monotonic() + 120
        while len(out) < 5 and time.monotonic() < deadline:
            time.sleep(0.005)
        got.append(g.snapshot(timeout=60))

    helper = threading.Thread(target=take)
    helper.start()
    g.run_network(engine="ray", capacity=2, timeout=120, live=False)
    helper.join()
    (snap,) = got
    assert g.snapshots == [snap]
    position = snap.nodes["src"]["position"]
    assert 5 <= position < 60  # the source was held back by the slow node
    flying = snap.channels["src → slow"] + snap.channels["slow → out"]
    assert sorted(snap.nodes["out"] + flying) == list(range(position))
    # its count was recorded in its process: what it had passed on, received or still on its way
    assert snap.nodes["slow"]["count"] == len(snap.nodes["out"]) + len(snap.channels["slow → out"])
    assert tally.count == 0 and out == list(range(60))


def stuck_at_one(x):
    if x == 1:
        time.sleep(1000)  # it never takes the snapshot's marker: the snapshot cannot complete
    return x


@pytest.mark.timeout(300)
@pytest.mark.parametrize("stop", ["timeout", "interrupt"])
def test_a_ray_snapshot_cut_short_by_a_timeout_or_ctrl_c_is_not_kept(stop):
    def make(out, fn=stuck_at_one):
        step = Transform(fn=fn, name="stuck")
        return network([(Source(fn=ListSource(list(range(5))).run, name="src"), step),
                        (step, Sink(fn=out.append, name="out"))])

    make([], abs).run_network(engine="ray", timeout=120, live=False)  # hosts ready in the pool
    out, errors = [], []
    g = make(out)

    def take():  # once both processes are loaded (the hub gives 'stuck' its messages in one call)
        deadline = time.monotonic() + 120
        while not (g.last_run is not None and len(getattr(g.last_run, "pids", ())) == 2) and (
                time.monotonic() < deadline):
            time.sleep(0.005)
        time.sleep(0.2)
        try:
            g.snapshot(timeout=120)
        except RuntimeError as err:
            errors.append(str(err))

    def interrupt():
        deadline = time.monotonic() + 120
        while not (g.last_run is not None and g.last_run.snapshots_started) and (
                time.monotonic() < deadline):
            time.sleep(0.005)
        time.sleep(0.5)
        _thread.interrupt_main()

    helpers = [threading.Thread(target=take)]
    if stop == "timeout":
        with pytest.raises(NetworkTimeout, match="snapshot was being taken .* not kept"):
            helpers[0].start()
            g.run_network(engine="ray", timeout=8, live=False)
    else:
        helpers.append(threading.Thread(target=interrupt))
        with pytest.raises(KeyboardInterrupt, match="snapshot was being taken .* not kept"):
            for h in helpers:
                h.start()
            g.run_network(engine="ray", timeout=120, live=False)
    for h in helpers:
        h.join(30)  # g.snapshot() hears at once that its snapshot was given up
        assert not h.is_alive()
    assert errors and "incomplete and was not kept" in errors[0]
    assert g.snapshots == []
    assert out == [0]  # made before 'stuck' got stuck: it went on, as with threads
    assert_hosts_clean(g, killed=["stuck"])


def slowly(x):
    time.sleep(0.01)


@pytest.mark.timeout(300)
@pytest.mark.filterwarnings("ignore::dissyslab.SnapshotWarning")  # snapshots after the kill
def test_a_node_whose_process_is_killed_resumes_from_a_snapshot_taken_before():
    expected = list(itertools.accumulate(range(1, 201)))
    adder, out = RunningSum(), []
    src = Source(fn=ListSource(list(range(1, 201))).run, name="numbers")
    step = Transform(fn=adder.add, name="sum")
    g = network([(src, step), (step, Sink(fn=out.append, name="sums")),
                 (src, Sink(fn=slowly, name="log"))])  # the run goes on after the kill

    def kill():  # once a snapshot has been kept, the process of 'sum' is killed; one more is taken
        deadline = time.monotonic() + 120
        while not (g.last_run is not None and g.last_run.snapshots) and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(g.last_run.pids["sum"], signal.SIGKILL)
        while g.state["sum"] != "failed" and time.monotonic() < deadline:
            time.sleep(0.005)
        g.snapshot(timeout=60)

    helper = threading.Thread(target=kill)
    helper.start()
    with pytest.raises(NetworkError, match="transform 'sum' stopped: its process died"):
        g.run_network(engine="ray", snapshot_every=0.1, capacity=5, timeout=120, live=False)
    helper.join()
    assert len(out) < 200
    before = [s for s in g.snapshots if "sum" not in s.failed]
    assert before and len(g.snapshots) > len(before)
    for snap in g.snapshots[len(before):]:  # taken after: its state died with its process
        assert "sum" in snap.unrecorded
        with pytest.raises(ValueError, match="resume from a snapshot taken before it failed"):
            g.run_network(engine="ray", resume=snap, timeout=120, live=False)
    g.run_network(engine="ray", resume=before[-1], timeout=120, live=False)
    assert out == expected


# --- batches straight from process to process -------------------------------------------------
class Counted:
    """A transform that counts the messages it has passed on (its state, for snapshots)."""

    def __init__(self, pause=0.0):
        self.count = 0
        self.pause = pause

    def step(self, x):
        if self.pause:
            time.sleep(self.pause)
        self.count += 1
        return x


def chain(n, out, pause=0.0, last=None):
    """numbers -> first -> second -> out, each transform in a process of its own. ``out``: a list,
    or the sink's function."""
    first, second = Counted(pause), Counted()
    a = Transform(fn=first.step, name="first")
    b = Transform(fn=last or second.step, name="second")
    return network([(Source(fn=ListSource(list(range(n))).run, name="numbers"), a), (a, b),
                    (b, Sink(fn=getattr(out, "append", out), name="out"))])


@pytest.mark.timeout(300)
def test_ray_batches_keep_each_edge_in_order_with_snapshot_markers():
    out = []
    g = chain(400, out, pause=0.002)
    g.run_network(engine="ray", snapshot_every=0.03, capacity=20, timeout=120, live=False)
    assert out == list(range(400))
    assert len(g.snapshots) >= 2
    for snap in g.snapshots:  # each marker came in its place: what each node counted, plus what
        # was on its way to the next, is exactly what the node before had made
        position = snap.nodes["numbers"]["position"]
        first, second = snap.nodes["first"]["count"], snap.nodes["second"]["count"]
        assert second <= first <= position
        assert snap.channels["numbers → first"] == list(range(first, position))
        assert snap.channels["first → second"] == list(range(second, first))
        assert snap.nodes["out"] + snap.channels["second → out"] == list(range(second))


def test_ray_batches_stay_within_capacity():
    ahead = []

    def slow(x):
        ahead.append(g.last_run.nodes["numbers"].stats.sent - x)
        time.sleep(0.002)
    g = chain(300, slow)
    g.run_network(timeout=60, capacity=10, engine="ray")
    assert len(ahead) == 300
    # three edges, each holding at most `capacity` messages (counting those being handled)
    assert max(ahead) <= 3 * 10


def fails_at_150(x):
    if x == 150:
        raise ValueError("one hundred and fifty")
    return x


def test_a_ray_node_fails_mid_batch_and_what_reached_it_after_is_counted():
    out = []
    g = chain(300, out, last=fails_at_150)
    with pytest.raises(NetworkError) as info:
        g.run_network(timeout=60, engine="ray", live=False)
    assert "transform 'second' failed on message 150: ValueError: one hundred and fifty" in str(
        info.value)
    assert out == list(range(150))
    stats = g.stats["second"]
    assert (stats.received, stats.failed, stats.discarded) == (151, 1, 149)
    for e in g.edges:  # every message sent was handled or counted as thrown away
        assert g.edge_counts[e] == g.edge_received[e] + g.edge_discarded[e], e
    assert_hosts_clean(g, killed=["second"])


def test_a_sender_whose_process_is_killed_mid_run_fails_alone():
    out = []
    src = Source(fn=ListSource(list(range(300))).run, name="numbers")
    fragile = Transform(fn=kill_my_process_at_3, name="fragile")
    after = Transform(fn=abs, name="after")
    g = network([(src, fragile), (fragile, after), (after, Sink(fn=out.append, name="out"))])
    with pytest.raises(NetworkError) as info:
        g.run_network(timeout=60, engine="ray", live=False)
    assert "transform 'fragile' stopped: its process died" in str(info.value)
    assert "after" not in {f.name for f in info.value.failures}
    assert g.state["after"] == "done" and out == [0, 1, 2][:len(out)]
    assert_hosts_clean(g, killed=["fragile"])
