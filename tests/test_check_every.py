"""check.explore and check.every_schedule: every schedule in a test cell, here and while grading."""

import pytest

import dissyslab.check as check
from dissyslab import ListSource, Sink, Source, Transform, network
from dissyslab.check import CheckFailed, every
from dissyslab.check.every import judge
from dissyslab.check.grading.grader import grade_notebook
from dissyslab.exhaustive import ExhaustiveExploration, Schedule

T = 5  # seconds: the time limit of every run in this file


class Account:
    def __init__(self, balance):
        self.balance = balance

    def apply(self, amount):
        self.balance += amount


def make_bank():
    account = Account(50)
    a = Source(fn=ListSource([+100, -80]).run, name="teller_a")
    b = Source(fn=ListSource([-60]).run, name="teller_b")
    log = Sink(fn=account.apply, name="log")
    return network([(a, log), (b, log)])


def never_overdrawn(result):
    balance = 50
    for amount in result.received["log"]:
        balance += amount
        if balance < 0:
            return False
    return True


def test_check_explore_gives_what_g_explore_gives():
    g = make_bank()
    mine = check.explore(g, check=never_overdrawn, timeout=T)
    theirs = g.explore(exhaustive=True, check=never_overdrawn, timeout=T)
    assert isinstance(mine, ExhaustiveExploration)
    assert mine.schedules == theirs.schedules == 3 and mine.stopped_by == "check"
    assert mine.counterexample == theirs.counterexample
    assert mine.broken.received == theirs.broken.received == {"log": [-60, 100, -80]}
    assert [f.received for f in mine["log"]] == [f.received for f in theirs["log"]]
    everything = check.explore(g, timeout=T)
    assert everything.complete and len(everything["log"]) == 3
    assert [f.count for f in everything["log"]] == [1, 1, 1]
    # the copy it explores leaves the student's network alone
    g.run_network(schedule=mine.counterexample, timeout=T, live=False)
    assert g.last_run.received["log"] == [-60, 100, -80]


def test_every_schedule_fails_with_the_counterexample_and_passes_a_fix():
    with pytest.raises(CheckFailed) as err:
        check.every_schedule(make_bank(), never_overdrawn, timeout=T)
    text = str(err.value)
    assert "Not every schedule gives a right result" in text
    assert "step 6: `log` takes from `teller_b`" in text and "[-60, 100, -80]" in text
    assert "g.run_network(schedule=" in text
    # other data, from inputs=: the deposit is big enough whatever the order
    ex = check.every_schedule(make_bank(), never_overdrawn, inputs={"teller_b": [-40]},
                              timeout=T)
    assert ex.complete and ex.schedules == 3


def test_every_schedule_fails_when_the_search_is_cut():
    a = Source(fn=ListSource(list(range(4))).run, name="a")
    b = Source(fn=ListSource(list(range(4))).run, name="b")
    g = network([(a, Sink(fn=print, name="s")), (b, Sink(fn=print, name="s2"))])
    assert check.every_schedule(g, lambda r: True, timeout=T).schedules == 1
    s = Sink(fn=print, name="s")
    g = network([(Source(fn=ListSource(list(range(4))).run, name="a"), s),
                 (Source(fn=ListSource(list(range(4))).run, name="b"), s)])
    with pytest.raises(CheckFailed, match="more than 10 schedules"):
        check.every_schedule(g, lambda r: True, max_schedules=10, timeout=T)


def test_state_in_a_closure_asks_for_build():
    def make():
        seen = []

        def count(x):
            seen.append(x)
            return len(seen)
        a = Source(fn=ListSource([1, 2]).run, name="a")
        b = Source(fn=ListSource([3]).run, name="b")
        counter = Transform(fn=count, name="counter")
        return network([(a, counter), (b, counter), (counter, Sink(fn=print, name="s"))])
    with pytest.raises(CheckFailed, match="cannot be explored schedule by schedule.*build="):
        check.explore(make(), timeout=T)
    assert check.explore(build=make, timeout=T).complete
    with pytest.raises(ValueError, match="not both"):
        check.explore(make(), build=make)
    with pytest.raises(ValueError, match="max_schedules"):
        check.explore(make(), max_schedules=10**9)


# --- the report, believed only after it is checked --------------------------------------------
def report(n=1, order=None, **changes):
    rep = {"sinks": ["log"], "reduced": True, "stopped_by": None, "notes": [], "warnings": [],
           "runs": [{"received": {"log": [i]}, "unpaired": {}, "failures": [], "ended": True,
                     "deadlocked": False, "bounded": False,
                     "schedule": [[3, "log", 1, "teller_b"]]} for i in range(n)],
           "order": list(range(n)) if order is None else order}
    rep.update(changes)
    return rep


def test_a_report_is_judged_like_a_search():
    ex = judge(report(3, [0, 1, 0, 2, 1]), lambda r: r.received["log"] != [2])
    assert ex.schedules == 4 and ex.stopped_by == "check" and ex.broken.received == {"log": [2]}
    assert [(f.received, f.count) for f in ex["log"]] == [([0], 2), ([1], 1), ([2], 1)]
    assert isinstance(ex.counterexample, Schedule)
    assert str(ex.counterexample) == "step 3: `log` takes from `teller_b`"


@pytest.mark.parametrize("lie, says", [
    (report(2, [1, 0]), "which run a schedule gave"),  # a run before the runs before it
    (report(2, [0, 0]), "runs no schedule gave"),
    (report(2, [0, 5]), "which run a schedule gave"),
    (report(1, [0] * 30), "30 schedules"),  # more schedules than were asked for
    (report(1, stopped_by="done, honestly"), "why it stopped"),
    (report(1, sinks=["log", "other"]), "what the sinks received"),
    (report(1, runs=[{"received": {"log": "all"}}]), "what the sinks received"),
    (report(1, sinks=[f"s{i}" for i in range(1000)]), "its sinks"),
    ({"runs": 1}, "its sinks"),
    ([], "not a dict"),
])
def test_a_report_that_lies_is_refused(lie, says):
    with pytest.raises(CheckFailed, match="not what DisSysLab makes") as err:
        judge(lie, lambda r: True, max_schedules=20)
    assert says in str(err.value)


def test_a_huge_report_is_refused_before_it_is_looked_at_long(monkeypatch):
    shared = list(range(30_000))  # one list shared by every run is looked at once
    runs = [{"received": {"log": [shared, i]}, "unpaired": {}, "failures": [], "ended": True,
             "deadlocked": False, "bounded": False, "schedule": []} for i in range(20_000)]
    assert len(judge(report(0, list(range(20_000)), runs=runs))["log"]) == 20_000
    monkeypatch.setattr(every, "MAX_VALUES", 100_000)  # (5,000,000 takes a few seconds)
    runs = [{"received": {"log": [i] * 300}, "unpaired": {}, "failures": [], "ended": True,
             "deadlocked": False, "bounded": False, "schedule": []} for i in range(1_000)]
    calls = []
    with pytest.raises(CheckFailed, match="more than 100,000 messages"):
        judge(report(0, list(range(1_000)), runs=runs),
              lambda r: calls.append(1) or True)
    assert calls == []  # the test's own check never saw any of it


# --- while grading: the search runs in the student's process, the check in the grader ---------
SETUP = ("from dissyslab import network, Source, Transform, Sink, ListSource\n"
         "from dissyslab import check\n"
         "def never_overdrawn(result):\n    balance = 50\n"
         "    for amount in result.received['log']:\n        balance += amount\n"
         "        if balance < 0:\n            return False\n    return True\n")
BANK = """
class Account:
    def __init__(self, balance):
        self.balance = balance
    def apply(self, amount):
        self.balance += amount

def make_bank():
    account = Account(50)
    a = Source(fn=ListSource([100, -80]).run, name="teller_a")
    b = Source(fn=ListSource([-60]).run, name="teller_b")
    log = Sink(fn=account.apply, name="log")
    return network([(a, log), (b, log)])
g = make_bank()
"""
TEST = """
ex = check.explore(g, check=never_overdrawn, timeout=5)
check.that(ex.schedules == 3 and ex.stopped_by == "check", "counts", got=str(ex.schedules))
check.that(str(ex.counterexample) == "step 6: `log` takes from `teller_b`", "schedule",
           got=str(ex.counterexample))
check.that([f.received for f in check.explore(build=make_bank, timeout=5)["log"]]
           == [[100, -80, -60], [100, -60, -80], [-60, 100, -80]], "outcomes")
check.every_schedule(g, never_overdrawn, inputs={"teller_b": [-40]}, timeout=5)
check.done("Task 1")
"""
TEST_EVERY = "check.every_schedule(g, never_overdrawn, timeout=5)\ncheck.done('Task 2')"


def notebook(*cells):
    out = []
    for i, (role, source, *points) in enumerate(cells):
        meta = {"nbgrader": {"grade": role == "test", "solution": role == "answer",
                             "locked": role in ("setup", "test"), "grade_id": f"c{i}",
                             "schema_version": 3, "task": False}}
        if points:
            meta["nbgrader"]["points"] = points[0]
        out.append({"cell_type": "code", "execution_count": None, "metadata": meta,
                    "outputs": [], "source": source})
    return {"cells": out, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def grade(*cells, test_timeout=30):
    result = grade_notebook(notebook(*cells), cell_timeout=5, test_timeout=test_timeout, grace=1)
    return result, {c.index: c.verdict for c in result.cells if c.verdict is not None}


def test_while_grading_the_exploration_reads_as_in_a_notebook():
    result, verdicts = grade(("setup", SETUP), ("answer", BANK), ("test", TEST, 1),
                             ("test", TEST_EVERY, 1))
    assert verdicts[2].passed, verdicts[2].message
    assert not verdicts[3].passed
    assert "Not every schedule gives a right result" in verdicts[3].message
    assert "step 6: `log` takes from `teller_b`" in verdicts[3].message
    fixed = BANK.replace("[-60]", "[-40]")  # no order overdraws the account
    result, verdicts = grade(("setup", SETUP), ("answer", fixed), ("test", TEST_EVERY, 1))
    assert verdicts[2].passed, verdicts[2].message


LIAR = BANK + """
import dissyslab.check.every as every
def lie(*args, **kwargs):
    return {LIE}
every.collect = lie
"""


@pytest.mark.parametrize("lie, says", [
    # claims the fix holds: one outcome, no overdraft, but a run the search never makes
    ("{'sinks': ['log'], 'reduced': True, 'stopped_by': None, 'order': [0, 1], 'runs': "
     "[{'received': {'log': [100]}, 'unpaired': {}, 'failures': [], 'ended': True, "
     "'deadlocked': False, 'bounded': False, 'schedule': []}]}", "which run a schedule gave"),
    # a huge outcome set: more runs than the check asked for
    ("{'sinks': ['log'], 'reduced': True, 'stopped_by': None, 'order': list(range(25_000)), "
     "'runs': [{'received': {'log': [i]}, 'unpaired': {}, 'failures': [], 'ended': True, "
     "'deadlocked': False, 'bounded': False, 'schedule': []} for i in range(25_000)]}",
     "schedules"),
    # more than can be sent at all
    ("{'runs': [[100_000 + i] * 150_000 for i in range(40)]}", "too big"),
])
def test_a_student_process_that_lies_about_the_search_fails_its_task_quickly(lie, says):
    result, verdicts = grade(("setup", SETUP), ("answer", LIAR.replace("{LIE}", lie)),
                             ("test", TEST_EVERY, 1), test_timeout=20)
    v = verdicts[2]
    assert not v.passed
    assert "did not finish within" not in v.message  # judged, not cut by the cell's time limit
    assert says in v.message


def test_str_of_a_students_object_is_its_text_while_grading():
    # a schedule is compared by its printed form; str() of a student's object in a test
    # cell gave the repr of that text (in quotes)
    answer = "class Thing:\n    def __str__(self):\n        return 'step 6: it'\nthing = Thing()"
    test = "check.equal(str(thing), 'step 6: it', 'str(thing)')\ncheck.done('Task 1')"
    result, verdicts = grade(("setup", SETUP), ("answer", answer), ("test", test, 1))
    assert verdicts[2].passed, verdicts[2].message


SLOW = """
import time
def slow(x):
    time.sleep(DELAY)
    return x
sources = [Source(fn=ListSource([f"{c}{i}" for i in range(4)]).run, name=c) for c in "abcd"]
work = Transform(fn=slow, name="work")
g = network([(x, work) for x in sources] + [(work, Sink(fn=print, name="log"))])
"""


@pytest.mark.parametrize("delay, test, says", [
    # 16! / (4!)^4 = 63,063,000 orders: the search stops at the bound it was given
    (0, "check.every_schedule(g, lambda r: True, max_schedules=50, timeout=5)",
     "more than 50 schedules"),
    # each run takes a third of a second: the search stops, in the student's process, before the
    # test cell's time is up, and the check still has time to say so
    (0.02, "check.every_schedule(g, lambda r: True, timeout=5)", "the search ran out of time"),
])
def test_a_network_with_a_huge_number_of_schedules_is_cut_and_said_so(delay, test, says):
    answer = SLOW.replace("DELAY", str(delay))
    result, verdicts = grade(("setup", SETUP), ("answer", answer), ("test", test, 1),
                             test_timeout=6)
    v = verdicts[2]
    assert not v.passed and says in v.message, v.message
