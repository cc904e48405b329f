"""Helpers for the grading tests: a throw-away copy of the course, nbgrader commands, submissions.

A :class:`Submission` starts from the student version of a notebook (what
``nbgrader generate_assignment`` released) and changes it the way a student
might: fill in answers, break them, delete or edit test cells, change their
metadata, or monkeypatch the checks.
"""

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXERCISES = REPO / "exercises"
ASSIGNMENTS = sorted(p.name for p in (EXERCISES / "source").iterdir() if p.is_dir())


def notebook_path(root, assignment, folder="source"):
    """The one notebook of ``assignment`` under ``root/folder``."""
    found = sorted((Path(root) / folder / assignment).glob("*.ipynb"))
    assert len(found) == 1, f"expected one notebook in {folder}/{assignment}, found {found}"
    return found[0]


def copy_course(into):
    """Copy the course (config, sources and data; nothing nbgrader made) into ``into``."""
    dest = Path(into) / "course"
    shutil.copytree(EXERCISES, dest, ignore=shutil.ignore_patterns(
        "release", "submitted", "autograded", "feedback", "refused", "gradebook.db", "*.log",
        ".ipynb_checkpoints", "__pycache__"))
    return dest


#: PATH on a clean machine: the system's own programs, and nothing from this environment
#: (its bin/ is on PATH only while it is activated, and an instructor need not activate it),
#: so a program nbgrader needs from there makes the grading tests fail, not an instructor.
CLEAN_PATH = os.pathsep.join(["/usr/bin", "/bin"])


def nbgrader(course, *args, module=False, timeout=600, path=CLEAN_PATH, stdin=None):
    """Run an nbgrader command in ``course`` as exercises/README.md says, venv not activated.

    That is ``.venv/bin/nbgrader ...`` (this environment's own ``nbgrader`` program), or
    ``.venv/bin/python -m nbgrader ...`` with ``module=True``, with PATH set to
    :data:`CLEAN_PATH` (or ``path``). The grading code is this working tree's.
    """
    env = dict(os.environ, PATH=path)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    if module:
        command = [sys.executable, "-m", "nbgrader"]
    else:
        command = [os.path.join(os.path.dirname(sys.executable), "nbgrader")]
    return subprocess.run([*command, *args], cwd=course, env=env, stdin=stdin,
                          capture_output=True, text=True, timeout=timeout)


def load(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def source_text(cell):
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def grade_id(cell):
    return (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id")


def solution(assignment, gid):
    """The instructor's answer for cell ``gid``, as a student would type it (no markers)."""
    nb = load(notebook_path(EXERCISES, assignment))
    for cell in nb["cells"]:
        if grade_id(cell) == gid:
            lines = source_text(cell).splitlines()
            return "\n".join(ln for ln in lines if ln.strip() not in (
                "### BEGIN SOLUTION", "### END SOLUTION"))
    raise KeyError(gid)


class Submission:
    """One student's copy of a released notebook, changed by the methods below."""

    def __init__(self, released_path):
        self.path = Path(released_path)
        self.nb = load(self.path)

    def _cell(self, gid):
        for cell in self.nb["cells"]:
            if grade_id(cell) == gid:
                return cell
        raise KeyError(gid)

    def answer(self, gid, code):
        """Replace the answer cell ``gid`` (the stub and any code around it) with ``code``."""
        self._cell(gid)["source"] = code
        return self

    def solve(self, assignment, *gids):
        """Fill in the instructor's own answers for the cells ``gids``."""
        for gid in gids:
            self.answer(gid, solution(assignment, gid))
        return self

    def source_of(self, gid):
        """The current code of cell ``gid``."""
        return source_text(self._cell(gid))

    def edit(self, gid, code):
        self._cell(gid)["source"] = code
        return self

    def delete(self, gid):
        self.nb["cells"].remove(self._cell(gid))
        return self

    def add_cell(self, code, after=None):
        cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                "source": code}
        cells = self.nb["cells"]
        at = len(cells) if after is None else cells.index(self._cell(after)) + 1
        cells.insert(at, cell)
        return self

    def metadata(self, gid, **changes):
        self._cell(gid)["metadata"]["nbgrader"].update(changes)
        return self

    def copy(self):
        other = copy.copy(self)
        other.nb = copy.deepcopy(self.nb)
        return other

    def save(self, course, student, assignment):
        dest = Path(course) / "submitted" / student / assignment / self.path.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(json.dumps(self.nb, indent=1), encoding="utf-8")
        return dest
