"""dissyslab.check: checks of students' networks, their messages, and grading in a fresh process."""

import copy
import functools

import pytest
from hypothesis import given
from hypothesis import strategies as st

import dissyslab.check as check
from dissyslab import ListSource, MergeSynch, Sink, Source, Split, Transform, network
from dissyslab.check import CheckFailed, same
from dissyslab.check.grading.grader import grade_notebook

T = 5  # seconds: the time limit of every run in this file


def words(*items, name="word_source"):
    return Source(fn=ListSource(items=list(items)).run, name=name)


def fanout_net(upper_fn=str.upper, duplicate=False):
    src = words("hello", "world")
    up = Transform(fn=upper_fn, name="uppercase")
    ln = Transform(fn=len, name="length")
    edges = [(src, up), (src, ln), (up, Sink(fn=[].append, name="collector_upper")),
             (ln, Sink(fn=[].append, name="collector_length"))]
    if duplicate:
        edges.append((src, ln))
    with pytest.warns(Warning) if duplicate else _nothing():
        return network(edges)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def fails(fn, *phrases):
    """Run ``fn``; it must raise CheckFailed whose message has every phrase."""
    with pytest.raises(CheckFailed) as info:
        fn()
    text = str(info.value)
    for phrase in phrases:
        assert phrase in text, f"{phrase!r} not in:\n{text}"
    return text


# --- shape -----------------------------------------------------------------------------

def test_a_right_network_passes_every_shape_check():
    g = fanout_net()
    check.is_network(g)
    check.kinds(g, source=1, transform=2, sink=2)
    check.node(g, "uppercase", kind="transform", fn=str.upper)
    check.node(g, "length", fn="len")
    check.fanout(g, "word_source", 2)
    check.fanin(g, "collector_upper", 1)
    check.edge(g, "word_source", "uppercase")
    check.no_edge(g, "uppercase", "collector_length")
    check.edges(g, ["word_source → uppercase", "word_source -> length", "uppercase → collector_upper",
                    ("length", "collector_length")])
    check.paths(g, ["word_source → uppercase → collector_upper",
                    ["word_source", "length", "collector_length"]])
    check.no_duplicate_edges(g)


def test_something_that_is_not_a_network_is_named():
    fails(lambda: check.is_network([1, 2]), "`g` should be a network", "it is a list",
          "network([...])")
    fails(lambda: check.is_network(None, name="g2"), "`g2` should be a network", "it is None")

    class Network:  # a look-alike with the same class name
        pass

    fails(lambda: check.is_network(Network()), "dissyslab's own network")


def test_a_network_edited_after_it_was_built_is_refused():
    g = fanout_net()
    g.edges.append("not an edge")
    fails(lambda: check.is_network(g), "its edges were changed after it was built")


def test_missing_node_lists_the_names_there_are():
    fails(lambda: check.node(fanout_net(), "upper"), "has no node named 'upper'",
          "'word_source', 'uppercase', 'length'", "name='upper'")


def test_wrong_kind_and_wrong_function_are_explained():
    g = fanout_net()
    fails(lambda: check.node(g, "uppercase", kind="sink"), "should be a Sink, but it is a Transform")
    fails(lambda: check.node(g, "uppercase", fn=str.lower),
          "should call the function str.lower", "fn=str.upper", "without brackets")
    t = Transform(fn=functools.partial(str.replace, "a"), name="t")
    g2 = network([(words("a"), t), (t, Sink(fn=print, name="s"))])
    check.node(g2, "t", fn=str.replace)


def test_params_are_compared_as_plain_data():
    def label(text, tag):
        return f"{tag}: {text}"

    t = Transform(fn=label, params={"tag": "color"}, name="label")
    g = network([(words("x"), t), (t, Sink(fn=print, name="s"))])
    check.node(g, "label", params={"tag": "color"})
    fails(lambda: check.node(g, "label", params={"tag": "colour"}),
          "should have params={'tag': 'colour'}", "params={'tag': 'color'}")


def test_counts_degrees_edges_and_paths_say_what_is_missing():
    g = fanout_net()
    fails(lambda: check.kinds(g, source=1, transform=3, sink=2),
          "1 source, 3 transforms, 2 sinks", "1 source, 2 transforms, 2 sinks",
          "more transforms")
    fails(lambda: check.fanout(g, "word_source", 3), "to 3 receivers", "it sends to 2",
          "word_source → uppercase, word_source → length")
    fails(lambda: check.fanin(g, "collector_upper", 2), "from 2 senders", "but 1 edge")
    fails(lambda: check.edge(g, "uppercase", "collector_length"),
          "no edge from 'uppercase' to 'collector_length'", "uppercase sends to: collector_upper")
    fails(lambda: check.edges(g, ["word_source → uppercase"]), "not asked for")
    fails(lambda: check.paths(g, ["word_source → uppercase → collector_upper"]),
          "should have 1 path", "it has 2")
    fails(lambda: check.no_edge(g, "word_source", "length"), "should be no edge")


def test_a_duplicate_edge_is_found():
    fails(lambda: check.no_duplicate_edges(fanout_net(duplicate=True)),
          "word_source → length is listed twice", "every message twice")


def test_ports_of_splits_and_merges_are_named():
    sp = Split(fn=lambda n: [n, None] if n % 2 == 0 else [None, n], num_outputs=2, name="parity")
    m = MergeSynch(num_inputs=2, name="join")
    src = Source(fn=ListSource(items=[1, 2]).run, name="numbers")
    g = network([(src, sp), (sp.out_0, m.in_1), (sp.out_1, m.in_0), (m, Sink(fn=print, name="s"))])
    check.edge(g, "parity.out_0", "join.in_1")
    check.edges(g, ["numbers → parity", "parity.out_0 → join.in_1", "parity.out_1 → join.in_0",
                    "join → s"])
    fails(lambda: check.edge(g, "parity.out_0", "join.in_0"), "no edge")


# --- runs --------------------------------------------------------------------------------

def test_outputs_come_from_a_fresh_copy_and_leave_the_students_lists_alone():
    kept = []
    src = words("a", "b")
    up = Transform(fn=str.upper, name="up")
    g = network([(src, up), (up, Sink(fn=kept.append, name="collector"))])
    for _ in range(2):  # running a test cell again changes nothing
        r = check.outputs(g, {"collector": ["A", "B"]}, timeout=T)
        assert r.outputs == {"collector": ["A", "B"]} and kept == []
    assert g.stats["up"].received == 0 and g.state["up"] == "waiting"  # g itself never ran
    check.outputs(g, {"collector": ["A", "B"]}, timeout=T, call_sinks=True)
    assert kept == ["A", "B"]
    r = check.finishes(g, timeout=T)  # run() and finishes() call the sinks: their effects count
    assert kept == ["A", "B", "A", "B"]
    assert r.edge_counts == {"word_source → up": 2, "up → collector": 2}


def test_wrong_results_say_expected_got_and_where_they_differ():
    text = fails(lambda: check.outputs(fanout_net(str.lower), {"collector_upper": ["HELLO", "WORLD"]},
                                       timeout=T),
                 "The sink 'collector_upper' did not receive the right messages",
                 "first difference is message 0: expected 'HELLO', got 'hello'",
                 "Expected:", "Your network:", "Hint:")
    assert " at 0x" not in text


def test_other_inputs_catch_a_network_that_only_works_for_the_example():
    lookup = {"hello": "HELLO", "world": "WORLD"}
    g = fanout_net(lookup.get)
    check.outputs(g, {"collector_upper": ["HELLO", "WORLD"]}, timeout=T)
    fails(lambda: check.outputs(g, {"collector_upper": ["AB"]}, inputs={"word_source": ["ab"]},
                                timeout=T),
          "with the input word_source=['ab']", "Nothing arrived at all")
    fails(lambda: check.outputs(g, {}, inputs={"words": ["x"]}, timeout=T),
          "needs a source named 'words'")


def test_automatic_hints_for_the_classic_mistakes():
    fails(lambda: check.outputs(fanout_net(duplicate=True), {"collector_length": [5, 5]}, timeout=T),
          "Every message arrived twice", "listed twice")

    def only_even(n):
        return n % 2 == 0 and n

    t = Transform(fn=only_even, name="only_even")
    g = network([(Source(fn=ListSource(items=[1, 2]).run, name="n"), t), (t, Sink(fn=print, name="s"))])
    fails(lambda: check.outputs(g, {"s": [2]}, timeout=T), "must return None to drop a message")

    it = iter([1, 2])
    g = network([(Source(fn=lambda: next(it, None), name="n"), Sink(fn=print, name="s"))])
    check.outputs(g, {"s": [1, 2]}, timeout=T)
    fails(lambda: check.outputs(g, {"s": [1, 2]}, timeout=T), "your source sent nothing in this run",
          "ListSource starts again")


def test_a_network_that_never_ends_is_stopped_and_named():
    g = network([(Source(fn=lambda: "again", name="forever"), Sink(fn=lambda m: None, name="s"))])
    fails(lambda: check.finishes(g, timeout=0.3), "did not finish within 0.3 seconds",
          "forever", "never returns None")


def test_a_failing_node_is_reported_with_its_message():
    def invert(x):
        return 1 / x

    t = Transform(fn=invert, name="invert")
    g = network([(Source(fn=ListSource(items=[2, 0]).run, name="n"), t), (t, Sink(fn=print, name="s"))])
    r = check.run(g, timeout=T)
    assert [f.node.name for f in r.failures] == ["invert"] and not r.clean
    fails(lambda: check.outputs(g, {"s": [0.5]}, timeout=T), "A node of your network failed",
          "transform 'invert' failed on message 0", "ZeroDivisionError")
    # the task's hint (about results) comes after what to do about the error, not instead of it
    text = fails(lambda: check.finishes(g, timeout=T, hint="does the count grow each time round?"),
                 "transform 'invert' failed on message 0",
                 "call its function on that message yourself to see the error. Once it runs "
                 "without an error: does the count grow each time round?")
    assert text.index("call its function") < text.index("does the count grow")


def test_any_order_accepts_every_interleaving_but_not_other_messages():
    left, right = words("a1", "a2", name="left"), words("b1", name="right")
    c = Sink(fn=print, name="c")
    g = network([(left, c), (right, c)])
    check.outputs(g, {"c": ["b1", "a1", "a2"]}, any_order=True, timeout=T)
    fails(lambda: check.outputs(g, {"c": ["a1", "b1"]}, any_order=True, timeout=T),
          "(in any order)", "3 messages arrived, 2 expected")


def test_equal_never_trusts_a_students_eq():
    class Liar(list):
        def __eq__(self, other):
            return True

    fails(lambda: check.equal(Liar([9]), [1], "your list"), "Your list is not what the task asks for")
    fails(lambda: check.equal({"a": 1}, {"a": 2}, "the dict"), "The dict is not")
    check.equal([("a", 1)], [["a", 1]], "pairs")
    check.equal(0.1 + 0.2, 0.3, "a float")
    fails(lambda: check.equal(True, 1, "a flag"))
    fails(lambda: check.that(1 > 2, "One is not more than two.", expected="more", got="less",
                             hint="count again"), "One is not more than two.", "Hint: count again")


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=10))
def test_same_agrees_with_equality_on_plain_data(value):
    assert same(copy.deepcopy(value), value)
    assert same(value, [value]) is False or value == [value]


def test_overlap_counts_calls_running_at_once():
    import time

    def slow(x):
        time.sleep(0.05)
        return x

    src = Source(fn=ListSource(items=list(range(6))).run, name="jobs")
    sp = Split(fn=lambda x: [x if x % 2 == i else None for i in range(2)], num_outputs=2, name="deal")
    w0, w1 = Transform(fn=slow, name="w0"), Transform(fn=slow, name="w1")
    out = Sink(fn=print, name="out")
    g = network([(src, sp), (sp.out_0, w0), (sp.out_1, w1), (w0, out), (w1, out)])
    assert check.overlap(g, ["w0", "w1"], timeout=T) == 2
    assert check.overlap(g, ["w0"], timeout=T) == 1


# --- seeded schedules and races ------------------------------------------------------------

def _fanin():
    c = Sink(fn=lambda m: None, name="collector")
    return network([(words("a1", "a2", "a3", name="left"), c), (words("b1", "b2", name="right"), c)])


def test_seeded_runs_are_available_and_repeatable():
    assert check.seeded_runs_available()
    g = _fanin()
    first = check.run(g, seed=7, timeout=T).outputs
    assert all(check.run(g, seed=7, timeout=T).outputs == first for _ in range(5))


def test_an_ordering_claim_is_refuted_with_two_seeds():
    g = _fanin()
    outcomes = check.schedules(g, seeds=range(40), timeout=T)
    assert len(outcomes) > 1
    text = fails(lambda: check.same_for_all_schedules(g, seeds=range(40), timeout=T),
                 "depends on the schedule", "under seed 0 and seed")
    assert "collector" in text
    a, b = outcomes.distinct()[:2]
    check.differs_between(g, a.seed, b.seed, timeout=T)
    fails(lambda: check.differs_between(g, a.seed, a.seed, timeout=T), "are the same")


def _tally(safe):
    tally = {"count": 0}

    def read(sale):
        return (sale, tally["count"])

    def write(pair):
        tally["count"] = pair[1] + 1

    def count(sale):
        tally["count"] += 1

    edges, counter = [], Sink(fn=count, name="count")
    for shop in ("north", "south"):
        src = words(*[f"{shop}{i}" for i in range(3)], name=shop)
        if safe:
            edges.append((src, counter))
        else:
            r, w = Transform(fn=read, name=f"read_{shop}"), Sink(fn=write, name=f"write_{shop}")
            edges += [(src, r), (r, w)]
    return network(edges), tally


def test_a_shared_state_race_is_detected_and_its_fix_passes():
    fails(lambda: check.same_result(lambda: _tally(False), lambda t: t["count"], seeds=range(30),
                                    expected=6, timeout=T),
          "Under the schedule with seed", "one change was lost (a race)", "Expected:")
    assert check.same_result(lambda: _tally(True), lambda t: t["count"], seeds=range(30),
                             expected=6, timeout=T) == 6
    fails(lambda: check.same_result(lambda: 42, lambda t: t), "should return two things")


# --- grading a notebook in a fresh process ----------------------------------------------------

SETUP = "from dissyslab import network, Source, Transform, Sink, ListSource\nfrom dissyslab import check"
GOOD_1 = """
out = []
src = Source(fn=ListSource(items=["a", "b"]).run, name="src")
up = Transform(fn=str.upper, name="up")
g = network([(src, up), (up, Sink(fn=out.append, name="out"))])
g.run_network(timeout=5)
"""
TEST_1 = """
check.outputs(g, {"out": ["A", "B"]})
check.outputs(g, {"out": ["C"]}, inputs={"src": ["c"]})
check.done("Task 1")
"""
GOOD_2 = "n = 3"
TEST_2 = "check.equal(n, 3, 'n')\ncheck.done('Task 2')"


def notebook(*cells):
    """A notebook of (role, source[, points]) cells with nbgrader metadata."""
    out = []
    for i, (role, source, *points) in enumerate(cells):
        meta = {"nbgrader": {"grade": role == "test", "solution": role == "answer",
                             "locked": role in ("setup", "test"), "grade_id": f"c{i}",
                             "schema_version": 3, "task": False}}
        if points:
            meta["nbgrader"]["points"] = points[0]
        if role == "extra":
            meta = {}
        out.append({"cell_type": "code", "execution_count": None, "metadata": meta,
                    "outputs": [], "source": source})
    return {"cells": out, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def two_tasks(answer_1=GOOD_1, answer_2=GOOD_2, *extra):
    return notebook(("setup", SETUP), ("answer", answer_1), ("test", TEST_1, 2),
                    ("answer", answer_2), ("test", TEST_2, 1), *extra)


def grade(nb, **limits):
    limits.setdefault("cell_timeout", 2)
    limits.setdefault("test_timeout", 20)
    limits.setdefault("grace", 1)
    result = grade_notebook(nb, **limits)
    return result, {c.index: c.verdict for c in result.cells if c.verdict is not None}


def test_a_right_notebook_gets_every_point_and_the_success_lines():
    result, verdicts = grade(two_tasks())
    assert result.score == result.max_score == 3
    assert [v.reason for v in verdicts.values()] == ["passed", "passed"]
    assert "✓ Task 1" in result.cells[2].outputs[0]["text"]


def test_a_wrong_answer_costs_only_its_task_and_says_why():
    result, verdicts = grade(two_tasks(GOOD_1.replace("str.upper", "str.lower")))
    assert result.score == 1
    assert verdicts[2].reason == "failed"
    assert "did not receive the right messages" in verdicts[2].message


def test_a_missing_name_is_explained():
    result, verdicts = grade(two_tasks("x = 1"))
    assert "The checks need `g`, which your notebook does not define" in verdicts[2].message


@pytest.mark.slow
def test_a_hanging_cell_is_interrupted_and_the_rest_is_graded():
    result, verdicts = grade(two_tasks("while True:\n    pass"))
    assert result.cells[1].error["ename"] == "CellTimeout"
    assert verdicts[2].reason == "failed" and verdicts[4].passed
    assert result.score == 1


@pytest.mark.slow
def test_a_network_run_without_timeout_is_interrupted_too():
    # (its threads go on after the interrupt; a source that is not flat out keeps the
    # sink's list from filling the process's memory before task 2 is graded)
    endless = GOOD_1.replace('ListSource(items=["a", "b"]).run', 'lambda: time.sleep(0.001) or "x"'
                             ).replace("g.run_network(timeout=5)", "g.run_network()")
    result, verdicts = grade(two_tasks("import time\n" + endless))
    assert result.cells[1].error["ename"] == "CellTimeout"
    assert verdicts[4].passed and result.score == 1


@pytest.mark.slow
def test_a_cell_that_ignores_the_interrupt_is_killed_and_later_tasks_are_not_run():
    stubborn = ("import time\nwhile True:\n    try:\n        time.sleep(0.1)\n"
                "    except BaseException:\n        pass")
    result, verdicts = grade(two_tasks(GOOD_1, stubborn))
    assert verdicts[2].passed
    assert result.cells[3].error["ename"] == "GradingStopped"
    assert verdicts[4].reason == "not_run" and "at this task's answer cell" in verdicts[4].message
    assert result.score == 2


def test_a_crash_costs_the_tasks_after_it():
    result, verdicts = grade(two_tasks(GOOD_1, "import os\nos._exit(7)"))
    assert verdicts[2].passed and verdicts[4].reason == "not_run"
    assert "exited with code 7" in verdicts[4].message
    result, verdicts = grade(two_tasks(GOOD_1 + "\nimport os\nos.abort()"))
    assert "killed by signal SIGABRT" in verdicts[2].message and result.score == 0


def test_sys_exit_costs_its_own_task_only():
    result, verdicts = grade(two_tasks(GOOD_1 + "\nimport sys\nsys.exit(0)"))
    assert verdicts[2].reason == "exited" and "called sys.exit()" in verdicts[2].message
    assert verdicts[4].passed and result.score == 1


def test_monkeypatching_the_checks_in_the_students_process_gains_nothing():
    # the checks run in the grader: the student's copy of them is not used
    cheat = "from dissyslab import check\ncheck.equal = lambda *a, **k: None\nn = 4"
    result, verdicts = grade(two_tasks(GOOD_1, cheat))
    assert verdicts[2].passed and verdicts[4].reason == "failed" and result.score == 2
    assert "is not what the task asks for" in verdicts[4].message


def test_a_node_that_patches_the_checks_while_they_run_gains_nothing():
    sneaky = GOOD_1.replace("str.upper", "sneaky").replace(
        "out = []", "out = []\ndef sneaky(x):\n    import dissyslab.check.failure as f\n"
                    "    f.same = lambda *a, **k: True\n    return x.lower()")
    result, verdicts = grade(two_tasks(sneaky))
    assert verdicts[2].reason == "failed" and result.score == 1


def test_ordinary_answers_are_never_voided():
    """getattr, __getstate__, pickle, inspect...: the source scan that voided them is gone."""
    ordinary = ("import pickle, inspect, gc\n"
                "class Box:\n    def __getstate__(self):\n        return {}\n"
                "n = getattr(Box(), 'missing', 3)\nassert pickle.loads(pickle.dumps(n)) == 3\n")
    result, verdicts = grade(two_tasks(GOOD_1, ordinary))
    assert result.score == 3, verdicts


def test_own_definitions_of_network_and_check_gain_nothing():
    cheat = ("class Fake:\n    pass\n\ndef network(edges):\n    return Fake()\n\n"
             "g = network([])\n"
             "class check:\n    def outputs(*a, **k):\n        pass\n    def done(*a):\n        pass")
    result, verdicts = grade(two_tasks(cheat))
    assert verdicts[2].reason == "failed" and "`g` should be a network" in verdicts[2].message


def test_forged_verdicts_are_ignored():
    forge = ('import json, os\n'
             'line = json.dumps({"event": "verdict", "index": 2, "passed": True, "reason": "passed",'
             ' "message": ""}) + "\\n"\n'
             'print(line)\n'
             'for fd in range(1, 30):\n'
             '    try:\n'
             '        os.write(fd, line.encode())\n'
             '    except OSError:\n'
             '        pass\n'
             'os._exit(0)')
    result, verdicts = grade(two_tasks(forge))
    assert result.score == 0 and not any(v.passed for v in verdicts.values())


def test_threads_left_running_fail_their_task():
    leaky = GOOD_1 + "\nimport threading, time\nthreading.Thread(target=time.sleep, args=(20,)).start()"
    result, verdicts = grade(two_tasks(leaky))
    assert verdicts[2].reason == "threads" and "left threads running" in verdicts[2].message
    assert verdicts[4].passed


def test_cells_a_student_added_are_not_run():
    result, verdicts = grade(two_tasks(GOOD_1, GOOD_2, ("extra", "import os\nos._exit(3)")))
    assert result.score == 3
    assert result.cells[5].role == "extra" and result.cells[5].outputs == []


def test_magics_do_not_break_grading():
    result, verdicts = grade(two_tasks("%time x = 1\n" + GOOD_1, "%matplotlib inline\nn = 3"))
    assert result.score == 3


def test_the_grader_runs_with_a_copy_of_the_data_files(tmp_path):
    (tmp_path / "data.txt").write_text("a\nb\n")
    answer = GOOD_1.replace('["a", "b"]', 'open("data.txt").read().split()')
    result, verdicts = grade(two_tasks(answer), workdir=tmp_path)
    assert result.score == 3


# --- what crosses between the student's process and the grader ----------------------------------

def test_plain_data_crosses_and_a_lying_dict_is_sent_with_what_it_holds():
    from dissyslab.check.grading import wire

    class Liar(dict):
        def __getitem__(self, key):
            return 6

        def items(self):
            return [("count", 6)]

    enc = wire.Encoder()
    dec = wire.Decoder(lambda *a: ("remote", a[0]))
    value = {"t": (1, 2.5, "x", None, True), "s": {3}, "b": b"\x00", "liar": Liar(count=2),
             "nan": float("inf"), "obj": object()}
    raw = wire.loads(wire.dumps({"value": enc.encode(value)}))
    got = dec.decode(raw["value"])
    assert got["t"] == (1, 2.5, "x", None, True) and got["s"] == {3} and got["b"] == b"\x00"
    assert type(got["liar"]) is dict and dict.__getitem__(got["liar"], "count") == 2
    assert got["nan"] == float("inf") and got["obj"][0] == "remote"


def test_copies_of_the_students_lists_follow_later_changes():
    from dissyslab.check.grading import wire

    enc = wire.Encoder()
    dec = wire.Decoder(lambda *a: None)
    results = [1]
    mine = dec.decode(enc.encode({"results": results}))["results"]
    results.append(2)
    dec.sync(wire.loads(wire.dumps({"sync": enc.sync()}))["sync"])
    assert mine == [1, 2]


@pytest.mark.parametrize("raw", [
    b'{"value": {"__evil": 1}}', b'{"value": NaN}', b"[1, 2]", b"not json",
    b'{"value": {"__d": [[{"__l": [], "i": 1}, 1]]}}',
    b'{"value": ' + b'{"__t": [' * 200 + b']}' * 200 + b'}',
])
def test_what_is_not_plain_data_is_refused(raw):
    from dissyslab.check.grading import wire

    dec = wire.Decoder(lambda *a: None)
    with pytest.raises(wire.WireError):
        dec.decode(wire.loads(raw)["value"])


def test_grading_without_a_sandbox_refuses_unless_allowed_and_says_what_is_missing(monkeypatch):
    from dissyslab.check.grading import sandbox

    monkeypatch.setattr(sandbox, "isolation", lambda *a: (None, "bubblewrap is not installed"))
    with pytest.raises(sandbox.NoIsolation, match="run_student_code_without_isolation"):
        grade(two_tasks())
    result, verdicts = grade(two_tasks(), allow_unisolated=True)
    assert result.score == 3
    assert any("WITHOUT a sandbox" in line and "bubblewrap is not installed" in line
               for line in result.log)


def test_a_hidden_test_that_fails_does_not_show_its_data():
    test = ('check.outputs(g, {"out": ["A", "B"]})\n### BEGIN HIDDEN TESTS\n'
            'check.outputs(g, {"out": ["SECRET"]}, inputs={"src": ["secret"]})\n'
            '### END HIDDEN TESTS\ncheck.done("Task 1")')
    nb = notebook(("setup", SETUP), ("answer", GOOD_1.replace("str.upper", "str.title")),
                  ("test", test, 1))
    _, verdicts = grade(nb)
    assert "did not receive the right messages" in verdicts[2].message
    _, verdicts = grade(notebook(("setup", SETUP), ("answer", GOOD_1.replace(
        "str.upper", "lambda s: s.upper() if s != 'secret' else s")), ("test", test, 1)))
    message = verdicts[2].message
    assert "A hidden test of this task failed" in message and "'out'" in message
    assert "SECRET" not in message and "secret" not in message
    result, verdicts = grade(notebook(("setup", SETUP), ("answer", GOOD_1.replace(
        "str.upper", "lambda s: s.upper() if s != 'secret' else s")), ("test", test, 1)),
        hidden_details=True)
    assert "SECRET" in verdicts[2].message


def test_each_missing_protection_is_said_in_one_line(monkeypatch, tmp_path):
    from dissyslab.check.grading import sandbox

    def argv(lib):
        return ["-c", "pass"]

    monkeypatch.setattr(sandbox, "isolation", lambda *a: ("bwrap", ""))
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 0)
    cmd, _, line = sandbox.command(tmp_path, tmp_path, "/usr/bin/python3", argv, 100, 10)
    if sandbox.shutil.which("prlimit"):
        assert line is None and "setpriv" in cmd and "--unshare-net" in cmd
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 1000)
    cmd, _, line = sandbox.command(tmp_path, tmp_path, "/usr/bin/python3", argv, 100, 10)
    assert "setpriv" not in cmd and "--unshare-all" in cmd
    assert "does not run as root" in line and "\n" not in line
    monkeypatch.setattr(sandbox, "isolation", lambda *a: (None, "bubblewrap is not installed"))
    with pytest.raises(sandbox.NoIsolation):
        sandbox.command(tmp_path, tmp_path, "/usr/bin/python3", argv, 100, 10)
    cmd, _, line = sandbox.command(tmp_path, tmp_path, "/usr/bin/python3", argv, 100, 10,
                                   allow_unisolated=True)
    assert "bwrap" not in cmd and "WITHOUT a sandbox" in line and "\n" not in line


def test_a_container_too_big_to_send_is_refused_not_sent():
    from dissyslab.check.grading import wire

    with pytest.raises(wire.WireError, match="at most"):
        wire.Encoder().encode([0] * (wire.MAX_ITEMS + 1))


def test_grading_with_python_named_by_a_relative_path_works(monkeypatch):
    # `../.venv/bin/python -m dissyslab.check.grading NB` (exercises/README.md): the box starts
    # in another folder, where that relative path led nowhere, and grading refused
    import os
    import sys

    home = os.path.dirname(os.path.dirname(sys.executable))
    monkeypatch.chdir(home)
    result, _ = grade(two_tasks(), python=os.path.relpath(sys.executable, home))
    assert result.score == result.max_score == 3
