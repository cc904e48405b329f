"""Plausible wrong answers to every task get less than full marks, with a message about the mistake.

The wrong answers are in tests/grading/wrong_answers/ (at least two per task). They are
handed in as an instructor would collect them, a few per submission (one wrong answer per
task, the instructor's answer for the others), graded with one `nbgrader autograde` for
the whole course, and each task's score and message are read back: the task scores 0,
its message says what the fixture says it must (the mistake, or the hint for it), and a
wrong answer marked `visible` fails a check the student sees in the notebook, not only a
hidden one (whose message starts with "A hidden test of this task failed").
"""

import pytest

from grading.course import (
    ASSIGNMENTS,
    EXERCISES,
    Submission,
    copy_course,
    grade_id,
    load,
    nbgrader,
    notebook_path,
)
from grading.wrong_answers import batches, catalogue, depends, readme_table

pytestmark = pytest.mark.slow

HIDDEN = "A hidden test of this task failed"


def _plan():
    """[(student, assignment, {task: Wrong})]: every wrong answer, in a few submissions."""
    plan = []
    for assignment, wrong in sorted(catalogue().items()):
        for k, batch in enumerate(batches(wrong, depends(assignment))):
            plan.append((f"wrong{k}", assignment, batch))
    return plan


PLAN = _plan()
CASES = [(student, assignment, task, w) for student, assignment, batch in PLAN
         for task, w in batch.items()]


def _ok(result):
    assert result.returncode == 0, f"nbgrader failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The course with every wrong-answer submission autograded: {(student, assignment): notebook}."""
    course = copy_course(tmp_path_factory.mktemp("wrong_answers"))
    _ok(nbgrader(course, "generate_assignment", "*", "--force"))
    for student, assignment, batch in PLAN:
        released = notebook_path(course, assignment, "release")
        tasks = sorted(grade_id(c).replace("_answer", "") for c in load(released)["cells"]
                       if (grade_id(c) or "").endswith("_answer"))
        submission = Submission(released).solve(
            assignment, *(f"{t}_answer" for t in tasks if t not in batch))
        for task, w in batch.items():
            submission.answer(f"{task}_answer", w.answer(assignment))
        submission.save(course, student, assignment)
    _ok(nbgrader(course, "autograde", "*", "--force", timeout=1800))
    return course


def _scores(course, student, assignment):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(notebook_path(course, assignment).stem, assignment, student)
        return {g.name.replace("_tests", ""): (g.score, g.max_score) for g in nb.grades}


def _outputs(nb, gid):
    for cell in nb["cells"]:
        if grade_id(cell) == gid:
            return "\n".join(
                ("".join(o["text"]) if isinstance(o.get("text"), list) else o.get("text", ""))
                if o["output_type"] == "stream" else o.get("evalue", "")
                for o in cell.get("outputs", []))
    raise KeyError(gid)


def _message(course, student, assignment, task):
    """What the student reads about a task: its test cell's verdict, then its answer cell's error.

    (A mistake that ``network()`` itself refuses, such as an edge from a Split with no port, is
    explained where it happens, in the answer cell; the test cell then says the answer cell
    did not run to the end.)
    """
    nb = load(course / "autograded" / student / assignment / notebook_path(course, assignment).name)
    return _outputs(nb, f"{task}_tests") + "\n" + _outputs(nb, f"{task}_answer")


def test_every_task_has_at_least_two_wrong_answers():
    found = catalogue()
    missing = sorted(set(ASSIGNMENTS) - set(found))
    assert not missing, (f"no wrong answers for {missing}: add tests/grading/wrong_answers/"
                         f"exNN_<name>.py, like the others")
    for assignment, wrong in found.items():
        source = load(notebook_path(EXERCISES, assignment))
        tasks = {grade_id(c).replace("_tests", "") for c in source["cells"]
                 if (grade_id(c) or "").endswith("_tests")}
        for task in tasks:
            mine = [w for w in wrong if w.task == task]
            assert len(mine) >= 2, f"{assignment} {task}: {len(mine)} wrong answer(s)"
            for w in mine:
                w.answer(assignment)        # its edits still apply to the instructor's answer
                assert w.says, f"{assignment} {task} ({w.mistake}): say what the message must name"


def test_the_readme_table_is_current():
    """exercises/README.md says how many wrong answers each task catches: these, counted."""
    readme = (EXERCISES / "README.md").read_text(encoding="utf-8")
    assert readme_table() in readme, (
        "the table under 'Wrong answers the checks catch' in exercises/README.md is out of date; "
        "it should read:\n" + readme_table())
    total = sum(len(w) for w in catalogue().values())
    assert f"holds {total} plausible wrong answers" in readme
    assert f"the other tasks: {len(PLAN)} submissions" in readme


def test_wrong_answers_go_in_a_few_submissions():
    """Every wrong answer is graded once, in batches: one per task per submission."""
    assert len(CASES) == sum(len(w) for w in catalogue().values())
    assert len(PLAN) <= len(CASES) // 2
    for _, assignment, batch in PLAN:
        linked = depends(assignment)
        assert not any(linked.get(task) in batch for task in batch), (assignment, sorted(batch))


@pytest.mark.timeout(2400)
@pytest.mark.parametrize("student,assignment,task,wrong", CASES,
                         ids=[f"{a}-{t}-{s}" for s, a, t, _ in CASES])
def test_each_wrong_answer_scores_below_full(graded, student, assignment, task, wrong):
    score, full = _scores(graded, student, assignment)[task]
    message = _message(graded, student, assignment, task)
    assert score < full, f"{assignment} {task}: '{wrong.mistake}' got full marks\n{message}"
    for words in wrong.says:
        assert words.lower() in message.lower(), (
            f"{assignment} {task}: the message for '{wrong.mistake}' does not say {words!r}:\n{message}")
    if wrong.visible:
        assert HIDDEN not in message, (
            f"{assignment} {task}: '{wrong.mistake}' is caught only by a hidden test; the visible "
            f"checks should catch it:\n{message}")
