"""Plausible wrong answers to every task of every exercise, and the message each must get.

Each module ``exNN_*.py`` of this folder lists, for one assignment, answers a student
might hand in that are wrong in one way: an off-by-one, a boundary the task states, a
wrong port or order, a forgotten ``None``, state kept where it should not be, or one of
the common mistakes its lesson lists. Each is the instructor's own answer with a few
edits (so it stays a one-mistake answer), or a whole answer of its own.

``tests/test_wrong_answers.py`` hands them in, a few per submission (one wrong answer
per task), grades them with ``nbgrader autograde``, and checks that each task gets less
than full marks, that its message says the words in ``says``, and that a wrong answer
marked ``visible`` is already caught by the checks the student sees in the notebook.
"""

import importlib
from dataclasses import dataclass
from pathlib import Path

from ..course import solution

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Wrong:
    """One wrong answer to one task."""

    task: str                 # "task1", "task2", ...
    mistake: str              # the mistake, in a few words
    edits: tuple = ()         # (old, new) pairs applied to the instructor's answer
    says: tuple = ()          # texts the failure message must contain
    visible: bool = True      # caught by the visible checks (not only the hidden ones)
    code: str = None          # the whole answer, instead of edits

    def answer(self, assignment):
        """The answer cell's code, as the student would hand it in."""
        if self.code is not None:
            return self.code
        text = solution(assignment, f"{self.task}_answer")
        for old, new in self.edits:
            if old not in text:
                raise AssertionError(
                    f"{assignment} {self.task} ({self.mistake}): the instructor's answer has no "
                    f"{old!r} to change; update the wrong answer to the new solution.")
            text = text.replace(old, new)
        return text


def catalogue():
    """{assignment: [Wrong, ...]} for every module of this folder."""
    found = {}
    for path in sorted(HERE.glob("ex*.py")):
        module = importlib.import_module(f"{__name__}.{path.stem}")
        found[module.ASSIGNMENT] = list(module.WRONG)
    return found


def depends(assignment):
    """{task: the task whose answer it uses} for ``assignment`` (its module's DEPENDS)."""
    for path in HERE.glob("ex*.py"):
        module = importlib.import_module(f"{__name__}.{path.stem}")
        if module.ASSIGNMENT == assignment:
            return dict(getattr(module, "DEPENDS", {}))
    return {}


def batches(wrong, depends=None):
    """The submissions to hand in: a list of {task: Wrong}, at most one wrong answer per task.

    ``depends``: {task: task whose answer it uses}; two such tasks are never wrong in the
    same submission, so each wrong answer is graded next to right answers it builds on.
    """
    linked = set()
    for a, b in (depends or {}).items():
        linked |= {(a, b), (b, a)}
    left = {}
    for w in wrong:
        left.setdefault(w.task, []).append(w)
    out = []
    while any(left.values()):
        batch = {}
        for task, ws in left.items():
            if ws and not any((task, other) in linked for other in batch):
                batch[task] = ws.pop(0)
        out.append(batch)
    return out


def readme_table():
    """The table of exercises/README.md ("Wrong answers the checks catch"), from these fixtures."""
    from ..course import EXERCISES, grade_id, load, notebook_path

    lines = ["| Assignment | Task | Wrong answers | Caught (task scores 0) | By the visible checks "
             "| Only by hidden tests |",
             "| --- | --- | --- | --- | --- | --- |"]
    total = shown = 0
    for assignment, wrong in sorted(catalogue().items()):
        cells = load(notebook_path(EXERCISES, assignment))["cells"]
        for task in [grade_id(c)[:-len("_tests")] for c in cells
                     if (grade_id(c) or "").endswith("_tests")]:
            mine = [w for w in wrong if w.task == task]
            seen = sum(w.visible for w in mine)
            lines.append(f"| `{assignment}` | {task[len('task'):]} | {len(mine)} | {len(mine)} "
                         f"| {seen} | {len(mine) - seen} |")
            total, shown = total + len(mine), shown + seen
    lines.append(f"| all | | {total} | {total} | {shown} | {total - shown} |")
    return "\n".join(lines)
