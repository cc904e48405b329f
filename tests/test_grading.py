"""Grading the exercises with nbgrader's own commands, in a throw-away copy of the course.

The instructor's workflow of exercises/README.md, run for real: generate the student
versions of all ten assignments, hand in sample submissions for the fanout assignment
(right, partly right, hanging, crashing, exiting, tampering...), autograde them with
`nbgrader autograde`, check every task's score in the gradebook, export the gradebook
to CSV and generate the feedback. Then: every source notebook must pass its own tests,
in the grader and in a real Jupyter kernel, and every released notebook must score zero.
"""

import csv
import json
import os
import shutil
import sys

import pytest

from dissyslab.check.grading.grader import grade_notebook
from grading.course import (
    ASSIGNMENTS,
    CLEAN_PATH,
    EXERCISES,
    REPO,
    copy_course,
    load,
    nbgrader,
    notebook_path,
)
from grading.students import ASSIGNMENT, POINTS, TASKS, students

pytestmark = pytest.mark.slow

#: time limits used while grading the samples (the course's own are longer)
CELL_TIMEOUT = 3
KILL_GRACE = 2


def _ok(result):
    assert result.returncode == 0, f"nbgrader failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A copy of the course with the student version of every assignment generated."""
    root = copy_course(tmp_path_factory.mktemp("grading"))
    _ok(nbgrader(root, "generate_assignment", "*", "--force"))
    return root


def test_nbgrader_needs_no_activated_environment(tmp_path):
    """`.venv/bin/python -m nbgrader` with nothing of the venv on PATH, as in exercises/README.md.

    nbgrader runs the `alembic` program when it creates a gradebook and by `nbgrader db upgrade`;
    nbgrader_config.py lets it find the environment's own. (Every nbgrader command of these tests
    runs with PATH=CLEAN_PATH; `.venv/bin/nbgrader` is the one the course fixture uses.)
    """
    here = os.path.dirname(sys.executable)
    if shutil.which("alembic", path=CLEAN_PATH) or here in CLEAN_PATH.split(os.pathsep):
        pytest.skip(f"this machine has alembic or this Python in {CLEAN_PATH}: nothing to prove")
    root = copy_course(tmp_path)
    _ok(nbgrader(root, "generate_assignment", "01_basics", module=True))
    assert (root / "release" / "01_basics").is_dir()
    _ok(nbgrader(root, "db", "upgrade", module=True))


@pytest.fixture(scope="module")
def graded(course):
    """The sample submissions of the fanout assignment, autograded by nbgrader."""
    released = notebook_path(course, ASSIGNMENT, "release")
    sample = students(released)
    for name, (submission, _) in sample.items():
        submission.save(course, name, ASSIGNMENT)
    result = nbgrader(course, "autograde", ASSIGNMENT, "--force",
                      f"--GradeInSubprocess.cell_timeout={CELL_TIMEOUT}",
                      f"--GradeInSubprocess.kill_grace={KILL_GRACE}")
    _ok(result)
    return course, {name: expected for name, (_, expected) in sample.items()}, result


@pytest.mark.timeout(900)
def test_the_autograde_log_shows_only_warnings_that_matter(graded):
    """No "checksum has changed" for untouched test cells, no SQLAlchemy noise; real edits are named."""
    _, _, result = graded
    log = result.stderr
    assert "SAWarning" not in log and "not in session" not in log
    assert "Attribute 'checksum'" not in log
    assert "Cell 'task2_tests' was changed in the submission" in log   # gus replaced it by `pass`


def _task_scores(course, student):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(notebook_path(course, ASSIGNMENT).stem, ASSIGNMENT,
                                         student)
        return {g.name.replace("_tests", ""): g.score for g in nb.grades}


def _autograded(course, student):
    return load(course / "autograded" / student / ASSIGNMENT /
                notebook_path(course, ASSIGNMENT).name)


def _outputs_of(nb, gid):
    for cell in nb["cells"]:
        if (cell["metadata"].get("nbgrader") or {}).get("grade_id") == gid:
            return cell.get("outputs", [])
    raise KeyError(gid)


def _text(outputs):
    return "\n".join(o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"])
                     for o in outputs if o["output_type"] == "stream") + "\n".join(
        o["evalue"] for o in outputs if o["output_type"] == "error")


@pytest.mark.timeout(900)
def test_every_sample_submission_gets_its_score_per_task(graded):
    course, expected, _ = graded
    for student, want in expected.items():
        assert _task_scores(course, student) == {t: float(want[t]) for t in TASKS}, student


@pytest.mark.timeout(900)
def test_points_come_from_the_assignment_not_the_submission(graded):
    course, _, _ = graded
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(notebook_path(course, ASSIGNMENT).stem, ASSIGNMENT, "gus")
        assert {g.name: g.max_score for g in nb.grades} == {
            f"{t}_tests": float(POINTS[t]) for t in TASKS}


@pytest.mark.timeout(900)
def test_the_autograded_notebooks_carry_the_checks_messages(graded):
    course, _, _ = graded
    ada = _autograded(course, "ada")
    for n, task in enumerate(TASKS, 1):
        assert f"✓ Task {n}: every check in this cell passed." in _text(_outputs_of(ada, f"{task}_tests"))
    bo = _autograded(course, "bo")
    assert "is listed twice" in _text(_outputs_of(bo, "task3_tests"))
    cy = _autograded(course, "cy")
    message = _text(_outputs_of(cy, "task1_tests"))
    # a hidden check failed: it says which, but not its data
    assert "A hidden test of this task failed" in message
    assert "'uppercase' does not call the function" in message or "'collector_upper'" in message
    assert "fanout" not in message and "to_upper" not in message
    dee = _autograded(course, "dee")
    assert "still running after 3 seconds" in _text(_outputs_of(dee, "task2_answer"))
    assert "did not stop when it was interrupted" in _text(_outputs_of(dee, "task3_tests"))
    eve = _autograded(course, "eve")
    assert "exited with code 1" in _text(_outputs_of(eve, "task3_tests"))
    fay = _autograded(course, "fay")
    assert "called sys.exit()" in _text(_outputs_of(fay, "task1_tests"))
    hal = _autograded(course, "hal")
    assert "`g` should be a network" in _text(_outputs_of(hal, "task1_tests"))
    kim = _autograded(course, "kim")
    assert "left threads running" in _text(_outputs_of(kim, "task1_tests"))
    # ada's own scratch cell (1 / 0) was not run
    assert not any(o["output_type"] == "error" for c in ada["cells"] for o in c.get("outputs", []))


@pytest.mark.timeout(900)
def test_deleted_and_edited_test_cells_are_restored_with_their_hidden_tests(graded):
    course, _, _ = graded
    gus = _autograded(course, "gus")
    source = load(notebook_path(EXERCISES, ASSIGNMENT))
    want = {(c["metadata"].get("nbgrader") or {}).get("grade_id"): "".join(c["source"])
            for c in source["cells"]}
    for gid in ("task1_tests", "task2_tests"):
        cell = next(c for c in gus["cells"]
                    if (c["metadata"].get("nbgrader") or {}).get("grade_id") == gid)
        text = "".join(cell["source"])
        assert want[gid] in text and "### BEGIN HIDDEN TESTS" in text


@pytest.mark.timeout(900)
def test_gradebook_exports_to_csv(graded, tmp_path):
    course, expected, _ = graded
    out = tmp_path / "grades.csv"
    _ok(nbgrader(course, "export", f"--to={out}"))
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    # one row per assignment and student; an assignment not handed in is not a score of 0
    assert {(r["assignment"], r["student_id"]) for r in rows} == {
        (a, s) for a in ASSIGNMENTS for s in expected}
    for row in rows:
        want = expected[row["student_id"]]
        if row["assignment"] == ASSIGNMENT:
            assert row["submitted"] == "yes" and float(row["score"]) == sum(want.values()), row
        else:
            assert row["submitted"] == "no" and row["score"] == "" and row["raw_score"] == "", row
        assert float(row["max_score"]) == 10


@pytest.mark.timeout(900)
def test_feedback_shows_messages_but_not_the_hidden_tests(graded):
    course, _, _ = graded
    _ok(nbgrader(course, "generate_feedback", ASSIGNMENT, "--student=bo", "--force"))
    html = (course / "feedback" / "bo" / ASSIGNMENT /
            (notebook_path(course, ASSIGNMENT).stem + ".html")).read_text(encoding="utf-8")
    assert "is listed twice" in html
    assert "which your notebook does not define" in html
    assert "BEGIN HIDDEN TESTS" not in html and "before_upper" not in html
    # each score is under its task's name
    assert "Task 3: a third path" in html and ">Test cell<" not in html


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_solution_passes_its_own_tests(assignment):
    path = notebook_path(EXERCISES, assignment)
    result = grade_notebook(load(path), workdir=path.parent)
    failed = {c.index: c.verdict.message for c in result.cells
              if c.verdict is not None and not c.verdict.passed}
    errors = {c.index: c.error for c in result.cells if c.error}
    assert not failed and not errors, (failed, errors)
    assert result.score == result.max_score == 10
    tests = [c for c in result.cells if c.role == "test"]
    assert 2 <= len(tests) <= 4


@pytest.mark.timeout(900)
def test_the_student_versions_in_notebooks_are_current(course):
    """notebooks/exercises/ is what generate_assignment releases (scripts/student_versions.py)."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        from student_versions import differences
    finally:
        sys.path.remove(str(REPO / "scripts"))
    assert differences(course / "release") == [], (
        "notebooks/exercises/ is out of date: run .venv/bin/python scripts/student_versions.py")


@pytest.mark.timeout(900)
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_released_notebook_scores_zero_and_hides_solutions(course, assignment):
    path = notebook_path(course, assignment, "release")
    nb = load(path)
    text = json.dumps(nb)
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    assert (path.parent / "gettysburg.txt").exists() == (assignment == "10_real_pipeline")
    result = grade_notebook(nb, workdir=path.parent)
    assert result.score == 0 and result.max_score == 10
    assert all(not c.verdict.passed for c in result.cells if c.verdict is not None)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_solution_passes_in_a_jupyter_kernel(assignment, monkeypatch):
    """What a student sees: the solution notebook, run in a real kernel, raises nothing."""
    import nbformat
    from nbclient import NotebookClient

    from grading.course import REPO

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(REPO)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    path = notebook_path(EXERCISES, assignment)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", (cell.source[:200], out.get("evalue"))
        if (cell.metadata.get("nbgrader") or {}).get("grade"):
            assert any("every check in this cell passed" in o.get("text", "")
                       for o in cell.outputs if o["output_type"] == "stream"), cell.source[:200]
