"""A slow function's results are sent on at once, not held back to fill a batch.

The runtime batches messages to make fast streams cheap; these tests check
that batching never delays a slow node's results. Each slow function takes
0.1 s per call, and the tests only check the order of events: every result
must reach the sink while the slow node is still working on the next one.
"""

import time

from dissyslab import ListSource, Sink, Source, Split, Transform, network

T = 20  # seconds: the time limit of every run in this file
SLOW = 0.1  # seconds per call of each slow function
COUNT = 5


def assert_each_arrives_before_the_next_is_made(log, made):
    """``log`` holds (made, i) and ("arrived", i) events in the order they happened."""
    for i in range(COUNT - 1):
        arrived, next_made = log.index(("arrived", i)), log.index((made, i + 1))
        assert arrived < next_made, (
            f"result {i} reached the sink only after result {i + 1} was made: {log}")
    assert [e for e in log if e[0] == "arrived"] == [("arrived", i) for i in range(COUNT)]


def test_slow_transform_results_reach_the_sink_one_by_one():
    log = []

    def slow_echo(x):
        time.sleep(SLOW)
        log.append(("made", x))
        return x

    slow = Transform(fn=slow_echo, name="slow")
    g = network([(Source(fn=ListSource(items=list(range(COUNT))).run, name="numbers"), slow),
                 (slow, Sink(fn=lambda x: log.append(("arrived", x)), name="sink"))])
    g.run_network(timeout=T)
    assert_each_arrives_before_the_next_is_made(log, "made")


def test_slow_source_messages_pass_through_fast_nodes_at_once():
    log = []
    numbers = iter(range(COUNT))

    def slow_source():
        time.sleep(SLOW)
        x = next(numbers, None)
        if x is not None:
            log.append(("emitted", x))
        return x

    src = Source(fn=slow_source, name="slow_source")
    first, second = Transform(fn=lambda x: x, name="first"), Transform(fn=lambda x: x, name="second")
    g = network([(src, first), (first, second),
                 (second, Sink(fn=lambda x: log.append(("arrived", x)), name="sink"))])
    g.run_network(timeout=T)
    assert_each_arrives_before_the_next_is_made(log, "emitted")


def test_slow_split_results_reach_the_sink_one_by_one():
    log = []

    def slow_route(x):
        time.sleep(SLOW)
        log.append(("made", x))
        return [x, None]

    split = Split(fn=slow_route, num_outputs=2, name="router")
    g = network([
        (Source(fn=ListSource(items=list(range(COUNT))).run, name="numbers"), split),
        (split.out_0, Sink(fn=lambda x: log.append(("arrived", x)), name="sink")),
        (split.out_1, Sink(fn=lambda x: None, name="unused")),
    ])
    g.run_network(timeout=T)
    assert_each_arrives_before_the_next_is_made(log, "made")


def test_a_fast_stream_after_the_slow_start_is_still_complete():
    """Batching resumes when the function gets fast again, and nothing is lost or reordered."""
    calls = []

    def sometimes_slow(x):
        calls.append(x)
        if x < 3:
            time.sleep(SLOW)
        return x

    out = []
    slow = Transform(fn=sometimes_slow, name="sometimes_slow")
    g = network([(Source(fn=ListSource(items=list(range(20_000))).run, name="numbers"), slow),
                 (slow, Sink(fn=out.append, name="sink"))])
    g.run_network(timeout=T)
    assert out == list(range(20_000))
    assert g.stats["sometimes_slow"].received == g.stats["sometimes_slow"].sent == 20_000
