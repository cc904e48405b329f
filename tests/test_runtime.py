"""How a network runs: results, copies, fanin, split, merge, threads, counters."""

import functools
import threading
import warnings

import pytest

from dissyslab import (
    ListSource,
    MergeSynch,
    MergeSynchWarning,
    Sink,
    Source,
    Split,
    Transform,
    network,
)

T = 10  # seconds: the time limit of every run in this file


def words(*items, name="word_source"):
    return Source(fn=ListSource(items=list(items)).run, name=name)


def test_spec_fanout_example():
    source = words("hello", "world", "python")
    upper = Transform(fn=str.upper, name="uppercase")
    reverse = Transform(fn=lambda t: t[::-1], name="reverse")
    results_upper, results_reverse = [], []
    g = network([
        (source, upper), (source, reverse),
        (upper, Sink(fn=results_upper.append, name="collector_upper")),
        (reverse, Sink(fn=results_reverse.append, name="collector_reverse")),
    ])
    g.run_network(timeout=T)
    assert results_upper == ["HELLO", "WORLD", "PYTHON"]
    assert results_reverse == ["olleh", "dlrow", "nohtyp"]
    assert g.stats["word_source"].sent == 3
    assert g.stats["uppercase"].received + g.stats["reverse"].received == 6
    assert [g.edge_counts[e] for e in g.edges] == [3, 3, 3, 3]
    assert set(g.state.values()) == {"done"}


def test_params_are_passed_as_keywords():
    def scale(x, factor, offset=0):
        return x * factor + offset

    def count_up(limit):
        count_up.n = getattr(count_up, "n", 0) + 1
        return count_up.n if count_up.n <= limit else None

    out = []
    s = Source(fn=count_up, params={"limit": 3}, name="count")
    t = Transform(fn=scale, params={"factor": 10, "offset": 1}, name="scale")
    k = Sink(fn=lambda m, into: into.append(m), params={"into": out}, name="collect")
    network([(s, t), (t, k)]).run_network(timeout=T)
    assert out == [11, 21, 31]


def test_any_callable_works():
    class Doubler:
        def __call__(self, x):
            return 2 * x

    class Box:
        def __init__(self):
            self.items = []

        def keep(self, x):
            self.items.append(x)

    box = Box()
    s = words(1, 2, 3, name="nums")
    a = Transform(fn=Doubler(), name="double")
    b = Transform(fn=functools.partial(pow, exp=2), name="square")
    c = Transform(fn=lambda x: x + 1, name="plus_one")
    g = network([(s, a), (a, b), (b, c), (c, Sink(fn=box.keep, name="box"))])
    g.run_network(timeout=T)
    assert box.items == [5, 17, 37]


def test_returning_none_filters_and_is_counted():
    evens = []
    s = words(*range(10), name="nums")
    f = Transform(fn=lambda x: x if x % 2 == 0 else None, name="only_even")
    g = network([(s, f), (f, Sink(fn=evens.append, name="evens"))])
    g.run_network(timeout=T)
    assert evens == [0, 2, 4, 6, 8]
    st = g.stats["only_even"]
    assert (st.received, st.sent, st.dropped, st.failed) == (10, 5, 5, 0)


class Point:
    def __init__(self, x):
        self.x = x


@pytest.mark.parametrize("make", [
    lambda: {"tags": ["a"], "n": 1},
    lambda: [["nested"], {"k": [1]}],
    lambda: ({"in": ["a tuple"]},),
    lambda: {1, 2},
    lambda: Point([1]),
])
def test_fanout_gives_each_receiver_its_own_copy(make):
    def mutate(m):
        if isinstance(m, dict):
            m.setdefault("touched", []).append(1)
            for v in m.values():
                if isinstance(v, list):
                    v.append("changed")
        elif isinstance(m, list):
            m[0].append("changed")
            m.append("more")
        elif isinstance(m, tuple):
            m[0]["in"].append("changed")
        elif isinstance(m, set):
            m.add(99)
        else:
            m.x.append("changed")
        return m

    original = make()
    s = words(original, name="src")
    a, b = Transform(fn=mutate, name="mutator"), Transform(fn=lambda m: m, name="reader")
    got_a, got_b = [], []
    g = network([(s, a), (s, b), (a, Sink(fn=got_a.append, name="ka")),
                 (b, Sink(fn=got_b.append, name="kb"))])
    g.run_network(timeout=T)
    untouched = make()
    seen = got_b[0]
    if isinstance(untouched, Point):
        assert seen.x == untouched.x
    else:
        assert seen == untouched, "the mutation in one path leaked into the other"


def test_a_message_that_cannot_be_copied_names_node_and_edge():
    from dissyslab import NetworkError

    s = words(threading.Lock(), name="locks")
    g = network([(s, Sink(fn=lambda m: None, name="first")),
                 (s, Sink(fn=lambda m: None, name="second"))])
    with pytest.raises(NetworkError) as err:
        g.run_network(timeout=T)
    text = str(err.value)
    assert "source 'locks' could not send" in text
    assert "locks → second" in text and "cannot be copied" in text


def test_fanin_keeps_each_senders_order_and_ends_when_all_end():
    a = words(*[("a", i) for i in range(300)], name="a")
    b = words(*[("b", i) for i in range(300)], name="b")
    merged = Transform(fn=lambda m: m, name="merge")
    out = []
    g = network([(a, merged), (b, merged), (merged, Sink(fn=out.append, name="out"))])
    g.run_network(timeout=T)
    assert len(out) == 600
    assert [i for s, i in out if s == "a"] == list(range(300))
    assert [i for s, i in out if s == "b"] == list(range(300))


def test_duplicate_edge_duplicates_messages():
    s, t, out = words("x", "y", name="s"), Transform(fn=str.upper, name="up"), []
    with pytest.warns(UserWarning):
        g = network([(s, t), (s, t), (t, Sink(fn=out.append, name="k"))])
    g.run_network(timeout=T)
    assert sorted(out) == ["X", "X", "Y", "Y"]


def test_split_routes_items_to_ports():
    def route(n):
        return [n, None, None] if n % 3 == 0 else [None, n, None] if n % 3 == 1 else [None, None, n]

    sp = Split(fn=route, num_outputs=3, name="router")
    outs = [[], [], []]
    g = network([(words(*range(9), name="nums"), sp)] +
                [(getattr(sp, f"out_{i}"), Sink(fn=outs[i].append, name=f"k{i}")) for i in range(3)])
    g.run_network(timeout=T)
    assert outs == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    assert g.stats["router"].sent == 9 and g.stats["router"].received == 9


def test_split_multicast_sends_copies():
    sp = Split(fn=lambda m: [m, m], num_outputs=2, name="both")
    a, b = [], []
    g = network([(words({"v": [1]}, name="s"), sp),
                 (sp.out_0, Sink(fn=lambda m: a.append(m) or m["v"].append(2), name="a")),
                 (sp.out_1, Sink(fn=b.append, name="b"))])
    g.run_network(timeout=T)
    assert b == [{"v": [1]}] and a == [{"v": [1, 2]}]


def test_split_with_a_wrong_result_fails_clearly():
    from dissyslab import NetworkError

    sp = Split(fn=lambda m: [m], num_outputs=2, name="router")
    g = network([(words(1, name="s"), sp), (sp.out_0, Sink(fn=print, name="a")),
                 (sp.out_1, Sink(fn=print, name="b"))])
    with pytest.raises(NetworkError, match=r"split 'router' has 2 outputs, so its function must return "
                                            r"a list of 2 items.*returned a list of 1"):
        g.run_network(timeout=T)


def test_merge_synch_pairs_in_order():
    m = MergeSynch(num_inputs=2, name="pair")
    nums = words(*range(5), name="nums")
    sq, neg, out = Transform(fn=lambda x: x * x, name="square"), Transform(fn=lambda x: -x, name="neg"), []
    g = network([(nums, sq), (nums, neg), (sq, m.in_0), (neg, m.in_1), (m, Sink(fn=out.append, name="k"))])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g.run_network(timeout=T)
    assert out == [[x * x, -x] for x in range(5)]


def test_merge_synch_warns_on_early_end_and_on_filters():
    m = MergeSynch(num_inputs=2, name="pair")
    nums = words(*range(6), name="nums")
    evens = Transform(fn=lambda x: x if x % 2 == 0 else None, name="evens")
    ident, out = Transform(fn=lambda x: x, name="ident"), []
    g = network([(nums, evens), (nums, ident), (evens, m.in_0), (ident, m.in_1),
                 (m, Sink(fn=out.append, name="k"))])
    with pytest.warns(MergeSynchWarning) as record:
        g.run_network(timeout=T)
    texts = [str(w.message) for w in record]
    assert any("input in_1 got 3 more messages" in t and "[3, 4, 5]" in t for t in texts)
    assert any("transform 'evens' dropped 3 messages" in t for t in texts)
    assert g.unpaired == {"pair": {1: [3, 4, 5]}}
    assert out == [[0, 0], [2, 1], [4, 2]]


def test_merge_synch_fed_by_one_split_never_deadlocks():
    # one input starves while the other gets many messages: unbounded merge inputs keep it moving
    sp = Split(fn=lambda n: [n, None], num_outputs=2, name="lopsided")
    m = MergeSynch(num_inputs=2, name="pair")
    g = network([(words(*range(3000), name="nums"), sp), (sp.out_0, m.in_0), (sp.out_1, m.in_1),
                 (m, Sink(fn=print, name="k"))])
    with pytest.warns(MergeSynchWarning):
        g.run_network(timeout=T, capacity=10)
    assert len(g.unpaired["pair"][0]) == 3000


def test_every_node_runs_in_its_own_thread():
    names = {}

    def record(label):
        def fn(m):
            names.setdefault(label, set()).add(threading.current_thread().name)
            return m
        return fn

    s = words(1, 2, 3, name="s")
    a, b = Transform(fn=record("a"), name="a"), Transform(fn=record("b"), name="b")
    g = network([(s, a), (a, b), (b, Sink(fn=record("k"), name="k"))])
    g.run_network(timeout=T)
    assert names == {"a": {"dissyslab transform a"}, "b": {"dissyslab transform b"},
                     "k": {"dissyslab sink k"}}
    assert threading.current_thread().name not in str(names)


def test_a_slow_path_does_not_hold_back_a_fast_one():
    # The slow path cannot finish until the fast sink has every message; if the fast
    # path were held back by the slow one, this would time out instead.
    n, fast_done, fast = 2000, threading.Event(), []

    def fast_sink(m):
        fast.append(m)
        if len(fast) == n:
            fast_done.set()

    def slow(m):
        if m == 0:
            assert fast_done.wait(T), "the fast path never finished while the slow one waited"
        return m

    s = words(*range(n), name="s")
    f, sl = Transform(fn=str, name="fast"), Transform(fn=slow, name="slow")
    g = network([(s, f), (s, sl), (f, Sink(fn=fast_sink, name="fast_sink")),
                 (sl, Sink(fn=print, name="slow_sink"))])
    g.run_network(timeout=T)
    assert len(fast) == n


def test_a_small_capacity_still_delivers_everything():
    release, produced = threading.Event(), []

    def endless():
        produced.append(1)
        return len(produced) if len(produced) <= 200_000 else None

    def blocked(m):
        release.wait(T)

    g = network([(Source(fn=endless, name="endless"), Sink(fn=blocked, name="stuck"))])
    timer = threading.Timer(0.5, release.set)
    timer.start()
    try:
        g.run_network(timeout=T, capacity=10)
    finally:
        timer.cancel()
    assert g.stats["stuck"].received == 200_000 == g.stats["endless"].sent


def test_backpressure_pauses_the_source():
    release, produced = threading.Event(), [0]

    def endless():
        produced[0] += 1
        return produced[0]

    def stuck(m):
        release.wait(T)

    g = network([(Source(fn=endless, name="endless"), Sink(fn=stuck, name="stuck"))])
    checker = {}

    def look():
        checker["ahead"] = produced[0]
        release.set()

    timer = threading.Timer(0.5, look)
    timer.start()
    from dissyslab import NetworkTimeout
    with pytest.raises(NetworkTimeout):
        g.run_network(timeout=1.0, capacity=100)
    timer.cancel()
    # without a bound the source would have made hundreds of thousands of messages
    assert checker["ahead"] < 2000


def test_running_twice_runs_again_from_the_start():
    out = []
    g = network([(words("a", "b", name="s"), Sink(fn=out.append, name="k"))])
    g.run_network(timeout=T)
    g.run_network(timeout=T)
    assert out == ["a", "b", "a", "b"]
    assert g.stats["k"].received == 2


def test_running_while_running_is_refused():
    started, release = threading.Event(), threading.Event()

    def wait(m):
        started.set()
        release.wait(T)

    g = network([(words(1, name="s"), Sink(fn=wait, name="k"))])
    t = threading.Thread(target=g.run_network, kwargs={"timeout": T})
    t.start()
    try:
        assert started.wait(T)
        with pytest.raises(RuntimeError, match="already running"):
            g.run_network(timeout=T)
    finally:
        release.set()
        t.join(T)


@pytest.mark.parametrize("kwargs, message", [
    ({"timeout": 0}, "timeout must be a positive number"),
    ({"timeout": "5"}, "timeout must be a positive number"),
    ({"capacity": 0}, "capacity must be a whole number"),
])
def test_bad_run_arguments(kwargs, message):
    g = network([(words(1, name="s"), Sink(fn=print, name="k"))])
    with pytest.raises(ValueError, match=message):
        g.run_network(**kwargs)


def test_list_source_items_stay_unchanged_so_a_rerun_sends_the_same():
    items = [{"n": 1}, {"n": 2}]
    def mark(m):
        m["seen"] = True
        return m
    s, t, out = Source(fn=ListSource(items).run, name="s"), Transform(fn=mark, name="mark"), []
    g = network([(s, t), (t, Sink(fn=out.append, name="k"))])
    g.run_network(timeout=T)
    g.run_network(timeout=T)
    assert items == [{"n": 1}, {"n": 2}]
    assert out == [{"n": 1, "seen": True}, {"n": 2, "seen": True}] * 2


def test_results_made_before_a_blocking_call_are_sent_on():
    # A source hands out three ready readings fast, then blocks waiting for more.
    # The readings must reach the sink while it blocks, not when it returns.
    ready, arrived, release, woken = [1, 2, 3], [], threading.Event(), []

    def poll():
        if ready:
            return ready.pop(0)
        woken.append(release.wait(5))  # True: the sink got all three while we waited
        return None

    def sink(m):
        arrived.append(m)
        if len(arrived) == 3:
            release.set()

    g = network([(Source(fn=poll, name="sensor"), Sink(fn=sink, name="k"))])
    g.run_network(timeout=T)
    assert arrived == [1, 2, 3] and woken == [True]


def test_capacity_is_a_strict_bound_on_waiting_messages():
    release, waiting = threading.Event(), []
    s = Source(fn=ListSource(list(range(100))).run, name="s")

    def stuck(m):
        release.wait(T)

    def look():
        waiting.append(g.stats["s"].sent - g.stats["k"].received)
        release.set()

    g = network([(s, Sink(fn=stuck, name="k"))])
    timer = threading.Timer(0.3, look)
    timer.start()
    g.run_network(timeout=T, capacity=5)
    timer.cancel()
    # the sink holds one chunk while it is stuck; at most 5 more wait in its inbox
    assert waiting and waiting[0] <= 5 + 5


@pytest.mark.timeout(60)
def test_full_garbage_collections_are_rare_during_a_run_and_put_back_after():
    """A run makes Python's full collections rare (a sink keeps everything it receives, and each
    full collection looks at all of it); after the run, and after a failed one, the thresholds
    are what they were, and a change the program made meanwhile is kept."""
    import gc

    from dissyslab import ListSource, NetworkError, Sink, Source, Transform, network

    before = gc.get_threshold()
    seen = []

    def look(x):
        seen.append(gc.get_threshold())
        return x

    src, t = Source(fn=ListSource([1, 2]).run, name="s"), Transform(fn=look, name="t")
    g = network([(src, t), (t, Sink(fn=lambda m: None, name="k"))])
    for seed in (None, 0):
        seen.clear()
        g.run_network(seed=seed, timeout=10, live=False)
        assert seen and all(th[2] >= 1000 and th[:2] == before[:2] for th in seen)
        assert gc.get_threshold() == before

    def boom(x):
        raise ValueError("no")

    src, t = Source(fn=ListSource([1]).run, name="s"), Transform(fn=boom, name="t")
    bad = network([(src, t), (t, Sink(fn=lambda m: None, name="k"))])
    with pytest.raises(NetworkError):
        bad.run_network(timeout=10, live=False)
    assert gc.get_threshold() == before

    def mine(x):
        gc.set_threshold(500, 5, 5)  # the program's own choice, made during the run
        return x

    src, t = Source(fn=ListSource([1]).run, name="s"), Transform(fn=mine, name="t")
    try:
        network([(src, t), (t, Sink(fn=lambda m: None, name="k"))]).run_network(
            timeout=10, live=False)
        assert gc.get_threshold() == (500, 5, 5)
    finally:
        gc.set_threshold(*before)


@pytest.mark.timeout(30)
def test_a_deadline_noticed_late_blames_a_held_call_only_when_the_nodes_stood_still():
    """Before: on a loaded machine that woke the calling thread late while the nodes ran on
    (lesson 01 under CPU load), a timeout blamed "a call that Python cannot interrupt"."""
    import time

    from dissyslab.running import HELD, HELD_PROGRESS, Finished, wait

    def late_once(counts, step):
        state = {"slept": False}

        def tick():
            if not state["slept"]:  # the calling thread is woken long after the deadline
                state["slept"] = True
                time.sleep(0.05 + HELD * 2)
            counts[0] += step  # what the nodes did meanwhile

        return tick

    counts = [0]
    ran_on = wait(Finished(), [], 0.05, tick=late_once(counts, 10 * HELD_PROGRESS),
                  progress=lambda: counts[0])
    assert ran_on == "timeout"
    counts = [0]
    stood_still = wait(Finished(), [], 0.05, tick=late_once(counts, 0), progress=lambda: counts[0])
    assert stood_still == "held"
