"""The lessons' pace (dissyslab.paced): watchable in a lesson, quick under the tests."""

import time

import pytest

from dissyslab import ListSource, Sink, Source, Transform, network, paced
from dissyslab.pace import PACE_VARIABLE


def test_the_tests_run_the_lessons_at_a_quick_pace():
    # conftest.py at the project's root sets it, and nbval's kernels inherit it
    assert paced(1) == pytest.approx(0.05)


@pytest.mark.parametrize("value, expected", [("1", 0.2), ("0.05", 0.01), ("2", 0.4),
                                             ("0", 0.0), (" 0.5 ", 0.1), ("", 0.2)])
def test_the_environment_variable_multiplies_every_pause(monkeypatch, value, expected):
    monkeypatch.setenv(PACE_VARIABLE, value)
    assert paced(0.2) == pytest.approx(expected)


def test_without_the_variable_a_pause_is_as_written(monkeypatch):
    monkeypatch.delenv(PACE_VARIABLE, raising=False)
    assert paced(0.3) == 0.3 and paced(2) == 2


@pytest.mark.parametrize("value", ["fast", "-1", "nan", "inf"])
def test_a_bad_pace_is_explained(monkeypatch, value):
    monkeypatch.setenv(PACE_VARIABLE, value)
    with pytest.raises(ValueError, match=f"{PACE_VARIABLE} is '{value}'.*a number of 0 or more"):
        paced(0.2)


@pytest.mark.parametrize("seconds, error", [("1", TypeError), (None, TypeError),
                                            (True, TypeError), (-0.5, ValueError),
                                            (float("nan"), ValueError)])
def test_paced_needs_seconds(seconds, error):
    with pytest.raises(error, match=r"paced\(seconds\) needs a number of seconds"):
        paced(seconds)


def test_the_pace_changes_how_long_a_run_takes_never_its_results(monkeypatch):
    def slow_upper(word):
        time.sleep(paced(0.2))
        return word.upper()

    outcomes = {}
    for pace in ("0.01", "0.1"):
        monkeypatch.setenv(PACE_VARIABLE, pace)
        out = []
        up = Transform(fn=slow_upper, name="up")
        g = network([(Source(fn=ListSource(items=["a", "b", "c"]).run, name="words"), up),
                     (up, Sink(fn=out.append, name="out"))])
        g.run_network(timeout=30, live=False)
        outcomes[pace] = out
    assert outcomes["0.01"] == outcomes["0.1"] == ["A", "B", "C"]
