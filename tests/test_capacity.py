"""``capacity=N`` is exact, in both schedulers: never more than N messages wait in front of a node.

Waiting means sent to that node (including results a sender still holds to
send in one batch) and not yet handed to the node's function. Each test
counts, inside the functions themselves, how many messages the senders have
made and how many the receiver has taken, so it needs no internals.
"""

import threading
import time

import pytest

from dissyslab import MergeSynch, Sink, Source, Transform, network

T = 30
SCHEDULES = [None, 0, 7]  # threads, then two seeded schedules


class Counting:
    """A fast source of ``n`` messages and a slow sink that records the most ever waiting."""

    def __init__(self, n, pause=0.0005):
        self.n = n
        self.made = 0
        self.taken = 0
        self.most = 0
        self.pause = pause
        self.lock = threading.Lock()

    def source(self):
        with self.lock:
            if self.made >= self.n:
                return None
            self.made += 1
            return self.made

    def slow_sink(self, msg):
        with self.lock:
            self.taken += 1
            # this message is taken; the ones made after it still wait
            self.most = max(self.most, self.made - self.taken)
        time.sleep(self.pause)
        with self.lock:  # and while it was handled, the source went on
            self.most = max(self.most, self.made - self.taken)


@pytest.mark.parametrize("seed", SCHEDULES)
@pytest.mark.parametrize("capacity", [1, 4, 100])
def test_a_fast_source_never_gets_more_than_capacity_ahead_of_a_slow_sink(capacity, seed):
    c = Counting(n=capacity * 3 + 40)
    g = network([(Source(fn=c.source, name="fast"), Sink(fn=c.slow_sink, name="slow"))])
    g.run_network(timeout=T, capacity=capacity, seed=seed, live=False)
    assert c.taken == c.n  # backpressure slows the sender; it loses nothing
    assert c.most <= capacity
    if seed is None:  # and with threads the sender really runs ahead of the slow sink
        assert c.most >= max(1, capacity // 2)


@pytest.mark.parametrize("seed", SCHEDULES)
@pytest.mark.parametrize("capacity", [1, 4, 100])
def test_results_a_transform_holds_back_count_as_waiting(capacity, seed):
    c = Counting(n=capacity * 3 + 40)
    made = []

    def double(x):  # fast: its results go on in batches
        with c.lock:
            made.append(x)
        return x * 2

    def slow(msg):
        with c.lock:
            c.taken += 1
            c.most = max(c.most, len(made) - c.taken)
        time.sleep(c.pause)

    src = Source(fn=c.source, name="fast")
    t = Transform(fn=double, name="double")
    g = network([(src, t), (t, Sink(fn=slow, name="slow"))])
    g.run_network(timeout=T, capacity=capacity, seed=seed, live=False)
    assert c.taken == c.n
    assert c.most <= capacity


@pytest.mark.parametrize("seed", SCHEDULES)
def test_capacity_counts_every_sender_of_a_node(seed):
    capacity = 4
    a, b = Counting(n=40), Counting(n=40)
    taken = [0]
    most = [0]
    lock = threading.Lock()

    def slow(msg):
        with lock:
            taken[0] += 1
            most[0] = max(most[0], a.made + b.made - taken[0])
        time.sleep(0.0005)

    k = Sink(fn=slow, name="slow")
    g = network([(Source(fn=a.source, name="a"), k), (Source(fn=b.source, name="b"), k)])
    g.run_network(timeout=T, capacity=capacity, seed=seed, live=False)
    assert taken[0] == 80
    assert most[0] <= capacity


@pytest.mark.parametrize("seed", SCHEDULES)
def test_a_merge_synch_waiting_for_a_partner_does_not_block_its_fork(seed):
    # The path through `rare` filters most messages, so `pair.in_0` fills with
    # messages that get no partner while the fork waits for room there: every
    # node waits for another. The run lifts that input's bound and ends, and
    # reports what was never paired, as an unbounded run would.
    n = 60
    items = iter(range(n))
    src = Source(fn=lambda: next(items, None), name="numbers")
    rare = Transform(fn=lambda x: x if x % 20 == 0 else None, name="rare")
    every = Transform(fn=lambda x: x, name="every")
    m = MergeSynch(num_inputs=2, name="pair")
    out = []
    g = network([(src, every), (src, rare), (every, m.in_0), (rare, m.in_1),
                 (m, Sink(fn=out.append, name="pairs"))])
    with pytest.warns(UserWarning):
        g.run_network(timeout=T, capacity=2, seed=seed, live=False)
    assert len(out) == 3
    assert g.stats["pair"].received == n + 3


@pytest.mark.parametrize("seed", SCHEDULES)
@pytest.mark.parametrize("capacity", [1, 4, 100])
def test_a_fast_merge_synch_input_waits_for_a_slow_one(capacity, seed):
    # Two independent sources into a MergeSynch: without a bound on each input,
    # the fast one would fill memory with messages waiting for partners.
    n = capacity * 3 + 40
    made = {"fast": 0, "slow": 0}
    most = [0]
    lock = threading.Lock()

    def source(name, pause):
        def make():
            with lock:
                if made[name] >= n:
                    return None
                made[name] += 1
                # a message waits at its input until paired, and pairs <= slow messages made
                most[0] = max(most[0], made["fast"] - made["slow"])
                value = made[name]
            time.sleep(pause)
            return value
        make.__name__ = name
        return make

    m = MergeSynch(num_inputs=2, name="pair")
    out = []
    g = network([(Source(fn=source("fast", 0), name="fast"), m.in_0),
                 (Source(fn=source("slow", 0.0005), name="slow"), m.in_1),
                 (m, Sink(fn=out.append, name="pairs"))])
    g.run_network(timeout=T, capacity=capacity, seed=seed, live=False)
    assert out == [[i, i] for i in range(1, n + 1)]
    assert most[0] <= capacity
    if seed is None:  # the fast source does run ahead, as far as it may
        assert most[0] >= max(1, capacity // 2)


@pytest.mark.parametrize("seed", SCHEDULES)
def test_a_fork_into_a_merge_synch_stays_bounded_and_in_step(seed):
    # A fork whose two paths deliver every message: pairs stay aligned, and the
    # fast path is never more than `capacity` messages ahead of the slow one.
    n, capacity = 200, 4
    items = iter(range(n))
    seen = {"fast": 0, "slow": 0}
    most = [0]
    lock = threading.Lock()

    def fast(x):
        with lock:
            seen["fast"] += 1
            most[0] = max(most[0], seen["fast"] - seen["slow"])
        return x

    def slow(x):
        time.sleep(0.0002)
        with lock:
            seen["slow"] += 1
        return -x

    src = Source(fn=lambda: next(items, None), name="numbers")
    a, b = Transform(fn=fast, name="fast"), Transform(fn=slow, name="slow")
    m = MergeSynch(num_inputs=2, name="pair")
    out = []
    g = network([(src, a), (src, b), (a, m.in_0), (b, m.in_1), (m, Sink(fn=out.append, name="pairs"))])
    g.run_network(timeout=T, capacity=capacity, seed=seed, live=False)
    assert out == [[i, -i] for i in range(n)]
    # waiting at pair.in_0, plus slow's input and what slow holds: a few capacities at most
    assert most[0] <= 3 * capacity


def test_the_waiting_count_shown_never_exceeds_capacity():
    # The live view draws "+N waiting" as sent - handled - discarded - in hand. A message the
    # receiver is handling has left the queue: counting it would show capacity + 1.
    capacity = 3
    seen = []

    def slow(msg):
        run = g.last_run
        (edge,) = g.edges
        assert run.edge_in_hand[edge] == 1  # this very message
        seen.append(run.edge_counts[edge] - run.edge_received[edge] - run.edge_discarded[edge]
                    - run.edge_in_hand[edge])
        time.sleep(0.002)

    items = iter(range(60))
    g = network([(Source(fn=lambda: next(items, None), name="fast"), Sink(fn=slow, name="slow"))])
    g.run_network(timeout=T, capacity=capacity, live=False)
    assert len(seen) == 60
    assert max(seen) <= capacity
    assert max(seen) >= 1  # the source did get ahead
    assert g.last_run.edge_in_hand == {g.edges[0]: 0}  # nothing in hand once the run is over
