"""Sample submissions for the fanout assignment (03_fanout), each with the score it must get.

Tasks and points: task 1 (fan out to two paths) 4, task 2 (one list per path) 3,
task 3 (third path, no duplicate edge) 3.
"""

from .course import Submission

ASSIGNMENT = "03_fanout"
TASKS = ("task1", "task2", "task3")
POINTS = {"task1": 4, "task2": 3, "task3": 3}

# --- answers a student might write --------------------------------------------------------

HARDCODED_TASK1 = '''
upper_results, length_results = [], []
LOOKUP = {"hello": "HELLO", "world": "WORLD", "python": "PYTHON"}
word_source = Source(fn=ListSource(items=WORDS).run, name="word_source")
uppercase = Transform(fn=LOOKUP.get, name="uppercase")
length = Transform(fn=len, name="length")
g = network([
    (word_source, uppercase), (word_source, length),
    (uppercase, Sink(fn=upper_results.append, name="collector_upper")),
    (length, Sink(fn=length_results.append, name="collector_length")),
])
g.run_network(timeout=5)
'''

LOWERCASE_TASK1 = HARDCODED_TASK1.replace("LOOKUP.get", "str.lower")

SHARED_LIST_TASK2 = '''
results = []
word_source = Source(fn=ListSource(items=WORDS).run, name="word_source")
upper = Transform(fn=to_upper, name="upper")
reverse = Transform(fn=reverse_text, name="reverse")
g2 = network([
    (word_source, upper), (word_source, reverse),
    (upper, Sink(fn=results.append, name="upper_sink")),
    (reverse, Sink(fn=results.append, name="reverse_sink")),
])
g2.run_network(timeout=5)
'''

# an endless source, run without a timeout: the cell's time limit interrupts it
ENDLESS_TASK2 = '''
results_upper, results_reverse = [], []
def forever():
    return "again"
word_source = Source(fn=forever, name="word_source")
upper = Transform(fn=to_upper, name="upper")
reverse = Transform(fn=reverse_text, name="reverse")
g2 = network([
    (word_source, upper), (word_source, reverse),
    (upper, Sink(fn=results_upper.append, name="upper_sink")),
    (reverse, Sink(fn=results_reverse.append, name="reverse_sink")),
])
g2.run_network()
'''

# a loop that swallows the interrupt: only killing the process stops it
IGNORES_INTERRUPT_TASK3 = '''
import time
while True:
    try:
        time.sleep(0.2)
    except BaseException:
        pass
'''

DUPLICATE_EDGE_TASK3 = '''
up3, len3, rev3 = [], [], []
word_source = Source(fn=ListSource(items=WORDS).run, name="word_source")
uppercase = Transform(fn=to_upper, name="uppercase")
length = Transform(fn=len, name="length")
reverse = Transform(fn=reverse_text, name="reverse")
g3 = network([
    (word_source, uppercase), (word_source, length), (word_source, length),
    (word_source, reverse),
    (uppercase, Sink(fn=up3.append, name="collector_upper")),
    (length, Sink(fn=len3.append, name="collector_length")),
    (reverse, Sink(fn=rev3.append, name="collector_reverse")),
])
'''

MONKEYPATCH = '''
from dissyslab import check
import dissyslab.check.shape
nothing = lambda *args, **kwargs: None
check.outputs = check.fanout = check.paths = check.equal = nothing
check.no_duplicate_edges = check.node = check.done = nothing
dissyslab.check.shape.verified = nothing


class Fake:
    pass


def network(edges):
    return Fake()


g = g2 = g3 = network([])
results_upper = results_reverse = []
'''


def students(released):
    """{student: (Submission, {task: expected points})} for the released notebook path."""
    def fresh():
        return Submission(released)

    def solve(*tasks):
        return fresh().solve(ASSIGNMENT, *(f"{t}_answer" for t in tasks))

    full = dict(POINTS)
    zero = {t: 0 for t in TASKS}
    out = {}
    # everything right, plus a scratch cell of their own that grading does not run
    out["ada"] = (solve(*TASKS).add_cell("1 / 0", after="task1_tests"), full)
    # task 1 right, tasks 2 and 3 wrong
    out["bo"] = (solve("task1").answer("task2_answer", SHARED_LIST_TASK2)
                 .answer("task3_answer", DUPLICATE_EDGE_TASK3),
                 {"task1": 4, "task2": 0, "task3": 0})
    # task 1 only works for the example data (hidden tests use other data)
    out["cy"] = (solve("task2", "task3").answer("task1_answer", HARDCODED_TASK1),
                 {"task1": 0, "task2": 3, "task3": 3})
    # task 2 hangs (interrupted by its time limit), task 3 ignores the interrupt (killed)
    out["dee"] = (solve("task1").answer("task2_answer", ENDLESS_TASK2)
                  .answer("task3_answer", IGNORES_INTERRUPT_TASK3),
                  {"task1": 4, "task2": 0, "task3": 0})
    # the process dies in task 2: tasks 2 and 3 get nothing, task 1 keeps its points
    out["eve"] = (solve("task1", "task3").answer(
        "task2_answer", SHARED_LIST_TASK2 + "\nimport os\nos._exit(1)\n"),
        {"task1": 4, "task2": 0, "task3": 0})
    # sys.exit() in task 1's answer: task 1 gets nothing, the rest is graded
    out["fay"] = (solve("task2", "task3").answer(
        "task1_answer", solve("task1").source_of("task1_answer") + "\nimport sys\nsys.exit(0)\n"),
        {"task1": 0, "task2": 3, "task3": 3})
    # wrong answers, with task 1's tests deleted, task 2's replaced by `pass`, task 3's
    # points raised: nbgrader puts the tests back and the points are the assignment's
    out["gus"] = (solve("task3").answer("task1_answer", LOWERCASE_TASK1)
                  .answer("task2_answer", SHARED_LIST_TASK2)
                  .delete("task1_tests").edit("task2_tests", "pass")
                  .metadata("task3_tests", points=100),
                  {"task1": 0, "task2": 0, "task3": 3})
    # test cells relabelled: task 3's made an answer cell, task 2's given another id
    out["ivy"] = (solve("task1", "task2").answer("task3_answer", DUPLICATE_EDGE_TASK3)
                  .metadata("task3_tests", solution=True, grade=False, locked=False)
                  .edit("task3_tests", "pass")
                  .metadata("task2_tests", grade_id="bonus", points=50),
                  {"task1": 4, "task2": 3, "task3": 0})
    # replaces the checks and `network`: gains nothing
    out["hal"] = (fresh().answer("task1_answer", MONKEYPATCH), zero)
    # right answers that use getattr, gc and a class with __getstate__: nothing is voided
    out["jay"] = (solve("task2", "task3").answer(
        "task1_answer", "import gc\n" + solve("task1").source_of("task1_answer")
        + "\nclass Box:\n    def __getstate__(self):\n        return {}\n"
          "kind = getattr(Box(), 'kind', 'box')\n"), full)
    # task 1 leaves a thread of its own running
    out["kim"] = (solve("task2", "task3").answer(
        "task1_answer", solve("task1").source_of("task1_answer")
        + "\nimport threading, time\nthreading.Thread(target=time.sleep, args=(30,), "
          "daemon=True).start()\n"),
        {"task1": 0, "task2": 3, "task3": 3})
    # hands in the notebook as released
    out["zed"] = (fresh(), zero)
    return out

