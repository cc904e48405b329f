"""A run ends when it should, however it is started, and leaves no node thread behind."""

import itertools
import threading
import time

import pytest

from dissyslab import NetworkTimeout, Sink, Source, Transform, network
from dissyslab import threads as threads_module


def busy(x):
    end = time.perf_counter() + 0.01
    while time.perf_counter() < end:  # CPU-bound: competes for the interpreter
        pass
    return x


def long_pipeline(n):
    items = iter(range(10**9))
    nodes = [Source(fn=lambda: next(items), name="numbers")]
    nodes += [Transform(fn=busy, name=f"busy_{i}") for i in range(n)]
    nodes.append(Sink(fn=lambda m: None, name="sink"))
    return network(list(itertools.pairwise(nodes)))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.0, 0, -1])
def test_a_timeout_that_could_never_fire_is_refused(bad):
    g = long_pipeline(1)
    with pytest.raises(ValueError, match="timeout must be a positive number of seconds"):
        g.run_network(timeout=bad, live=False)


@pytest.mark.slow
def test_the_timeout_holds_for_a_network_of_many_busy_nodes():
    g = long_pipeline(150)
    started = time.monotonic()
    with pytest.raises(NetworkTimeout):
        g.run_network(timeout=1, live=False)
    # starting 152 threads is part of the run: the timeout is not pushed back by it
    assert time.monotonic() - started < 1 + threads_module.STOP_GRACE + 5


def test_a_thread_that_cannot_start_stops_the_others_and_says_why(monkeypatch):
    g = long_pipeline(20)
    real_start = threading.Thread.start
    started = []

    def start(self):
        if self.name.startswith("dissyslab ") and len(started) >= 10:
            raise RuntimeError("can't start new thread")
        started.append(self)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    with pytest.raises(RuntimeError, match="could not start a thread for every node") as info:
        g.run_network(timeout=5, live=False)
    assert "22 nodes" in str(info.value)
    assert not any(t.is_alive() for t in started)
