"""Feedback loops: cycles are allowed, and a run with a loop ends once the loop is quiet.

The examples are the classic ones (Collatz, a retry loop, request and reply, a
token ring). Every run is checked in the threaded scheduler and under seeds, and
every message is accounted for: on each edge, sent = handled + thrown away.
"""

import pytest
from hypothesis import HealthCheck, given, settings
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

T = 20
SCHEDULES = [None, 0, 1, 5]


def accounted(g):
    """Every message sent along an edge was handled or, after a failure, thrown away."""
    for e in g.edges:
        assert g.edge_counts[e] == g.edge_received[e] + g.edge_discarded[e], e


def collatz(starts, out):
    def step(m):
        start, n, k = m
        if n == 1:
            return [None, (start, k)]
        return [(start, n // 2 if n % 2 == 0 else 3 * n + 1, k + 1), None]

    src = Source(fn=ListSource([(n, n, 0) for n in starts]).run, name="numbers")
    split = Split(fn=step, num_outputs=2, name="step")
    return network([(src, split), (split.out_0, split), (split.out_1, Sink(fn=out.append, name="steps"))])


@pytest.mark.parametrize("seed", SCHEDULES)
def test_collatz_goes_round_until_one(seed):
    out = []
    g = collatz([6, 7, 27], out)
    g.run_network(timeout=T, seed=seed, live=False)
    assert sorted(out) == [(6, 8), (7, 16), (27, 111)]
    assert g.state == {"numbers": "done", "step": "done", "steps": "done"}
    assert g.stats["step"].received == 3 + 8 + 16 + 111 + 3 - 3  # every number it saw
    accounted(g)


@pytest.mark.parametrize("capacity", [1, 2])
@pytest.mark.parametrize("seed", [None, 3])
def test_a_small_capacity_never_makes_a_loop_wait_for_itself(capacity, seed):
    out = []
    g = collatz(range(1, 60), out)
    g.run_network(timeout=T, seed=seed, capacity=capacity, live=False)
    assert len(out) == 59
    accounted(g)


@pytest.mark.parametrize("seed", SCHEDULES)
def test_a_retry_loop_sends_what_keeps_failing_to_a_dead_letter_sink(seed):
    # a flaky service: request r succeeds on attempt number (r % 5); attempts are counted
    def service(req):
        r, attempt = req
        ok = attempt >= r % 5
        return [None, (r, attempt), None] if ok else (
            [(r, attempt + 1), None, None] if attempt < 3 else [None, None, (r, attempt)])

    done, dead = [], []
    src = Source(fn=ListSource([(r, 0) for r in range(20)]).run, name="requests")
    call = Split(fn=service, num_outputs=3, name="service")
    g = network([(src, call), (call.out_0, call), (call.out_1, Sink(fn=done.append, name="done")),
                 (call.out_2, Sink(fn=dead.append, name="dead_letters"))])
    g.run_network(timeout=T, seed=seed, live=False)
    assert sorted(done) == [(r, r % 5) for r in range(20) if r % 5 <= 3]
    assert sorted(dead) == [(r, 3) for r in range(20) if r % 5 == 4]
    accounted(g)


@pytest.mark.parametrize("seed", SCHEDULES)
def test_request_and_reply_between_a_client_and_a_server(seed):
    # the client sends each request to the server; the reply comes back to the client,
    # which passes it on to the log
    def client(m):
        kind, n = m
        return [("request", n), None] if kind == "new" else [None, (n, "answered")]

    server = Transform(fn=lambda m: ("reply", m[1] * m[1]), name="server")
    c = Split(fn=client, num_outputs=2, name="client")
    log = []
    src = Source(fn=ListSource([("new", n) for n in range(10)]).run, name="users")
    g = network([(src, c), (c.out_0, server), (server, c), (c.out_1, Sink(fn=log.append, name="log"))])
    g.run_network(timeout=T, seed=seed, live=False)
    assert sorted(log) == [(n * n, "answered") for n in range(10)]
    assert g.loops == [[c, server]]
    accounted(g)


@pytest.mark.parametrize("seed", SCHEDULES)
def test_a_token_goes_round_a_ring_of_four_a_fixed_number_of_times(seed):
    rounds = 5

    def hop(name, last):
        def step(token):
            token = token + [name]
            if last and len(token) == 4 * rounds:
                return [None, token]
            return [token, None]
        return Split(fn=step, num_outputs=2, name=name)

    nodes = [hop(f"n{i}", i == 3) for i in range(4)]
    out = []
    src = Source(fn=ListSource([[]]).run, name="start")
    edges = [(src, nodes[0])] + [(nodes[i].out_0, nodes[(i + 1) % 4]) for i in range(4)]
    edges += [(n.out_1, Sink(fn=out.append, name=f"k{i}")) for i, n in enumerate(nodes)]
    g = network(edges)
    g.run_network(timeout=T, seed=seed, live=False)
    assert out == [["n0", "n1", "n2", "n3"] * rounds]
    accounted(g)


@pytest.mark.parametrize("seed", [None, 2])
def test_a_loop_that_never_goes_quiet_ends_by_timeout_naming_the_loop(seed):
    spin = Transform(fn=lambda x: x, name="spin")
    g = network([(Source(fn=ListSource([1, 2]).run, name="two"), spin), (spin, spin),
                 (spin, Sink(fn=lambda m: None, name="k"))])
    with pytest.raises(NetworkTimeout, match=r"The loop spin → spin still had 2 messages going round"):
        g.run_network(timeout=1, seed=seed, live=False)


@pytest.mark.parametrize("seed", [None, 4])
def test_a_failure_inside_a_loop_is_reported_and_the_loop_still_ends(seed):
    def step(n):
        if n == 13:
            raise ValueError("unlucky")
        return [n + 1, None] if n < 20 else [None, n]

    out = []
    split = Split(fn=step, num_outputs=2, name="count_up")
    g = network([(Source(fn=ListSource([0, 15]).run, name="starts"), split), (split.out_0, split),
                 (split.out_1, Sink(fn=out.append, name="k"))])
    with pytest.raises(NetworkError, match="split 'count_up' failed on message 13: ValueError: unlucky"):
        g.run_network(timeout=T, seed=seed, live=False)
    accounted(g)
    assert g.state["count_up"] == "failed" and g.state["k"] == "done"


@pytest.mark.parametrize("seed", [None, 1])
def test_messages_a_merge_synch_in_a_loop_cannot_pair_do_not_keep_the_run_alive(seed):
    # pairs each number with the previous result; the first number has no partner waiting
    m = MergeSynch(num_inputs=2, name="pair")
    add = Split(fn=lambda p: [p[0] + p[1], p[0] + p[1]] if p[0] + p[1] < 50 else [None, p[0] + p[1]],
                num_outputs=2, name="add")
    out = []
    g = network([(Source(fn=ListSource([1, 2, 3]).run, name="xs"), m.in_0),
                 (Source(fn=ListSource([10]).run, name="seed_value"), m.in_1),
                 (m, add), (add.out_0, m.in_1), (add.out_1, Sink(fn=out.append, name="k"))])
    with pytest.warns(UserWarning, match="never paired"):
        g.run_network(timeout=T, seed=seed, live=False)
    accounted(g)


def test_loops_that_could_never_work_are_refused_naming_them():
    s, k = Source(fn=ListSource([1]).run, name="s"), Sink(fn=print, name="k")
    a, b = Transform(fn=abs, name="a"), Transform(fn=abs, name="b")
    with pytest.raises(ValueError, match=r"form a loop: b → a → b\. No source reaches it"):
        network([(s, k), (a, b), (b, a), (b, k)])
    a, b = Transform(fn=abs, name="a"), Transform(fn=abs, name="b")
    with pytest.raises(ValueError, match=r"form a loop: a → b → a\. No edge leads from the loop"):
        network([(s, a), (a, b), (b, a)])
    loner = Transform(fn=abs, name="loner")
    with pytest.raises(ValueError, match=r"transform 'loner' sends to itself \(a loop\)\. No source"):
        network([(s, k), (loner, loner), (loner, k)])


def test_paths_and_drawings_of_a_network_with_a_loop():
    out = []
    g = collatz([6], out)
    assert g.path_names() == ["numbers → step → steps"]
    assert "step" in g.diagram().source
    g.run_network(timeout=T, seed=0, trace=True, live=False)
    assert g.timeline().lanes == ["numbers", "step", "steps"]
    assert {r.event for r in g.trace} >= {"emit", "receive", "send", "end"}


def test_explore_works_on_a_network_with_a_loop():
    out = []
    g = collatz([6, 7], out)
    ex = g.explore(runs=10)
    assert sum(o.count for o in ex["steps"]) == 10  # every seeded run ended
    assert all(sorted(o.received) == [(6, 8), (7, 16)] for o in ex["steps"])


@st.composite
def looped(draw):
    """A chain of splits with random feedback edges; each message carries fuel that runs out."""
    n = draw(st.integers(1, 5))
    back = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=4))
    fuel = draw(st.lists(st.integers(0, 6), min_size=1, max_size=8))
    return n, back, fuel


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(looped(), st.sampled_from([None, 0, 1, 2]), st.sampled_from([1, 3, None]))
def test_every_run_of_a_random_network_with_loops_ends_with_every_message_accounted_for(
        spec, seed, capacity):
    n, back, fuel = spec
    back = sorted(set(back))
    ways = {i: [j for a, j in back if a == i] for i in range(n)}

    def node(i):
        targets = ways[i]
        # out_0: on along the chain (or to the sink at the end); out_1.. : back to earlier nodes

        def step(m):
            f, hops = m
            if f > 0 and targets:
                port = 1 + (f + hops) % len(targets)
                res = [None] * (1 + len(targets))
                res[port] = (f - 1, hops + 1)
                return res
            return [(f, hops + 1)] + [None] * len(targets)
        return Split(fn=step, num_outputs=1 + len(targets), name=f"n{i}")

    nodes = [node(i) for i in range(n)]
    out = []
    edges = [(Source(fn=ListSource([(f, 0) for f in fuel]).run, name="src"), nodes[0])]
    edges += [(nodes[i].out_0, nodes[i + 1]) for i in range(n - 1)]
    edges.append((nodes[-1].out_0, Sink(fn=out.append, name="k")))
    for i in range(n):
        edges += [(nodes[i].ports[1 + p], nodes[j]) for p, j in enumerate(ways[i])]
    g = network(edges)
    g.run_network(timeout=T, seed=seed, capacity=capacity, live=False)
    assert len(out) == len(fuel)  # every message came out of the loops
    accounted(g)
