"""A run ends when it should, however it is started, and leaves no node thread behind."""

import itertools
import os
import subprocess
import sys
import threading
import time

import pytest

from dissyslab import NetworkTimeout, Sink, Source, Transform, network
from dissyslab import running as running_module


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
    assert time.monotonic() - started < 1 + running_module.STOP_GRACE + 5


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


def run_script(code, stdin=None, timeout=60):
    """Run ``code`` in a fresh interpreter with this checkout first on sys.path."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {root!r})\n" + code],
                          input=stdin, capture_output=True, text=True, timeout=timeout, check=False)


def test_a_node_stuck_in_input_never_keeps_the_process_from_exiting():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = (f"import sys; sys.path.insert(0, {root!r})\n"
            "from dissyslab import *\n"
            "t = Transform(fn=lambda x: input('? '), name='ask')\n"
            "g = network([(Source(fn=ListSource([1]).run, name='s'), t), (t, Sink(fn=print, name='k'))])\n"
            "try:\n"
            "    g.run_network(timeout=0.3, live=False)\n"
            "except NetworkTimeout:\n"
            "    print('timed out', flush=True)\n"
            "sys.exit(3)\n")
    # stdin stays open and empty: input() waits for ever, as for a student at a terminal
    with subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            proc.wait(timeout=60)  # stdin is not closed: only the run's own ending can end it
        finally:
            proc.kill()
        out, err = proc.stdout.read(), proc.stderr.read()
    assert "timed out" in out
    assert "'ask'" in err  # the stuck node is named (NodeStillRunningWarning)
    assert "Fatal Python error" not in err
    assert proc.returncode == 3


def test_a_call_that_holds_the_interpreter_past_the_timeout_is_reported_when_it_returns():
    done = run_script(
        "import re\n"
        "from dissyslab import *\n"
        "def slow(x):\n"
        "    return re.match(r'(a+)+$', 'a' * 24 + 'b')  # catastrophic backtracking, in C\n"
        "t = Transform(fn=slow, name='regex')\n"
        "g = network([(Source(fn=ListSource([1]).run, name='s'), t), (t, Sink(fn=print, name='k'))])\n"
        "try:\n"
        "    g.run_network(timeout=0.2, live=False)\n"
        "except NetworkTimeout as err:\n"
        "    print('TIMEOUT', err)\n")
    assert "TIMEOUT The network did not finish within 0.2 seconds" in done.stdout, done.stderr
    assert "a call that Python cannot interrupt" in done.stdout


def _used_up_warnings(g, **kw):
    import warnings

    from dissyslab import SourceUsedUpWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g.run_network(timeout=5, live=False, **kw)
    return [str(w.message) for w in caught if w.category is SourceUsedUpWarning]


def test_a_source_whose_iterator_was_used_up_by_an_earlier_run_says_so():
    from dissyslab import ListSource

    words = iter(["a", "b", "c"])
    got = []
    s = Source(fn=lambda: next(words, None), name="words")
    g = network([(s, Sink(fn=got.append, name="k"))])
    assert _used_up_warnings(g) == [] and got == ["a", "b", "c"]
    seen = _used_up_warnings(g)                     # the iterator is used up: nothing is sent
    assert got == ["a", "b", "c"] and len(seen) == 1, seen
    assert "source 'words' sent nothing" in seen[0] and "3 messages" in seen[0], seen[0]
    assert "iterator" in seen[0] and "ListSource" in seen[0], seen[0]
    # the same source in a new network (and in a seeded run) is the same used-up source
    gen = (x for x in range(4))
    s2 = Source(fn=lambda: next(gen, None), name="numbers")
    assert _used_up_warnings(network([(s2, Sink(fn=got.append, name="k"))]), seed=1) == []
    assert len(_used_up_warnings(network([(s2, Sink(fn=got.append, name="k2"))]))) == 1
    # a ListSource starts again at every run; an empty one never sent anything
    for items in (["x", "y"], []):
        s3 = Source(fn=ListSource(items=items).run, name="listed")
        g3 = network([(s3, Sink(fn=got.append, name="k"))])
        assert _used_up_warnings(g3) == [] and _used_up_warnings(g3) == []
