"""Failures, timeouts and interrupts: reported clearly, never swallowed, no thread left behind."""

import _thread
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from dissyslab import (
    ListSource,
    NetworkError,
    NetworkTimeout,
    Sink,
    Source,
    Transform,
    network,
)
from dissyslab.errors import short_repr

T = 10


def words(*items, name="src"):
    return Source(fn=ListSource(items=list(items)).run, name=name)


def test_transform_failure_keeps_other_paths_and_names_node_and_message():
    ints, uppers = [], []
    s = words("1", "2", "x", "4")
    parse, up = Transform(fn=int, name="parse"), Transform(fn=str.upper, name="up")
    g = network([(s, parse), (s, up), (parse, Sink(fn=ints.append, name="ints")),
                 (up, Sink(fn=uppers.append, name="uppers"))])
    with pytest.raises(NetworkError) as info:
        g.run_network(timeout=T)
    err = info.value
    assert "transform 'parse' failed on message 'x': ValueError: invalid literal" in str(err)
    assert "1 message that reached 'parse' after it failed could not be processed" in str(err)
    assert isinstance(err.__cause__, ValueError)
    assert [f.node.name for f in err.failures] == ["parse"]
    assert err.failures[0].message == "x" and "Traceback" in err.failures[0].traceback
    assert ints == [1, 2] and uppers == ["1", "2", "X", "4"]
    st = g.stats["parse"]
    assert (st.received, st.sent, st.failed, st.discarded) == (3, 2, 1, 1)
    assert g.state["parse"] == "failed" and g.state["ints"] == "done"


def test_failures_in_source_and_sink_are_grouped():
    def broken_source():
        raise OSError("disk on fire")

    def picky(m):
        if m == "b":
            raise KeyError(m)

    good = words("a", "b", "c", name="good")
    g = network([(Source(fn=broken_source, name="broken"), Sink(fn=print, name="never")),
                 (good, Sink(fn=picky, name="picky"))])
    with pytest.raises(NetworkError) as info:
        g.run_network(timeout=T)
    text = str(info.value)
    assert text.startswith("2 nodes failed while the network ran:")
    assert "source 'broken' failed: OSError: disk on fire" in text
    assert "sink 'picky' failed on message 'b': KeyError: 'b'" in text
    assert {f.node.name for f in info.value.failures} == {"broken", "picky"}
    assert g.state["never"] == "done"


def test_results_made_before_a_failure_are_delivered():
    out = []

    def fails_on_three(m):
        if m == 3:
            raise ValueError("three")
        return m

    f = Transform(fn=fails_on_three, name="f")
    g = network([(words(*range(6)), f), (f, Sink(fn=out.append, name="k"))])
    with pytest.raises(NetworkError):
        g.run_network(timeout=T)
    assert out == [0, 1, 2]


def test_sys_exit_in_a_node_is_a_failure_not_an_exit():
    g = network([(words(1), Sink(fn=lambda m: sys.exit(3), name="quitter"))])
    with pytest.raises(NetworkError, match="sink 'quitter' failed on message 1: SystemExit: 3"):
        g.run_network(timeout=T)


def test_timeout_names_the_busy_nodes_and_stops_every_thread():
    def endless():
        return 1

    def slowish(m):
        time.sleep(0.001)

    g = network([(Source(fn=endless, name="endless"), Sink(fn=slowish, name="slow_sink"))])
    with pytest.raises(NetworkTimeout) as info:
        g.run_network(timeout=0.3)
    assert isinstance(info.value, TimeoutError)
    text = str(info.value)
    assert "did not finish within 0.3 seconds" in text
    assert "source 'endless'" in text and "slow_sink" in text
    assert g.stats["slow_sink"].received > 0


def test_timeout_stops_a_function_stuck_in_a_python_loop():
    def spin(m):
        while True:
            pass

    t = Transform(fn=spin, name="spin")
    g = network([(words(1), t), (t, Sink(fn=print, name="k"))])
    with pytest.raises(NetworkTimeout, match=r"transform 'spin' \(inside its function\)"):
        g.run_network(timeout=0.2)
    assert g.state["spin"] == "stopped"


def test_ctrl_c_stops_the_run_within_a_second():
    def endless():
        return 1

    g = network([(Source(fn=endless, name="endless"), Sink(fn=lambda m: None, name="k"))])
    timer = threading.Timer(0.3, _thread.interrupt_main)
    started = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt, match="interrupted and stopped"):
        g.run_network(timeout=T)
    assert time.monotonic() - started < 1.3


def test_the_process_can_exit_even_if_a_node_sleeps_for_ever():
    script = textwrap.dedent("""
        import time, warnings
        from dissyslab import *
        warnings.simplefilter("ignore")
        g = network([(Source(fn=ListSource([1]).run, name="s"),
                      Sink(fn=lambda m: time.sleep(1000), name="sleeper"))])
        try:
            g.run_network(timeout=0.3)
        except TimeoutError as e:
            print("stopped:", "sleeper" in str(e))
    """)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=T)
    assert done.returncode == 0, done.stderr
    assert "stopped: True" in done.stdout
    assert time.monotonic() - started < 8


def test_a_missing_argument_suggests_params():
    t = Transform(fn=lambda x, k: x * k, name="times")
    g = network([(words("a"), t), (t, Sink(fn=print, name="k"))])
    with pytest.raises(NetworkError,
                       match=r"missing 1 required positional argument: 'k' "
                             r"\(does its function need more arguments\? Give them with params="):
        g.run_network(timeout=T)


# --- how a message is shown ------------------------------------------------------------

class _Thing:
    pass


class _Unprintable:
    def __repr__(self):
        raise RuntimeError("no repr")


def test_short_repr_hides_addresses_survives_a_bad_repr_and_cuts():
    assert short_repr("hello") == "'hello'"
    assert short_repr(_Thing()) == "<_Thing object>"
    assert short_repr(_Unprintable()) == "<_Unprintable that cannot be shown>"
    assert short_repr(list(range(100)), 20) == "[0, 1, 2, 3, 4, 5..."
    assert short_repr(list(range(100)), 20, ellipsis="\u2026") == "[0, 1, 2, 3, 4, 5, \u2026"
    assert len(short_repr("x" * 500)) == 80
    assert short_repr("x" * 500, None) == repr("x" * 500)


def test_a_failure_on_a_message_whose_repr_raises_is_still_reported():
    def boom(m):
        raise ValueError("bad")

    src = Source(fn=ListSource(items=[_Unprintable()]).run, name="src")
    t = Transform(fn=boom, name="t")
    g = network([(src, t), (t, Sink(fn=print, name="out"))])
    with pytest.raises(NetworkError, match="failed on message <_Unprintable that cannot be shown>"):
        g.run_network(timeout=T)
