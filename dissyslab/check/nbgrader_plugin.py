"""nbgrader preprocessors that make ``nbgrader autograde`` grade with :mod:`dissyslab.check.grader`.

``exercises/nbgrader_config.py`` installs them:

* :class:`RestoreCellRoles` (sanitizing, first): every cell that names a
  cell of the assignment gets that cell's role back from the gradebook
  (test, answer, read-only, points), and nbgrader metadata that names no
  cell of the assignment is removed. Together with nbgrader's own
  OverwriteCells (which restores the test cells' code, hidden tests
  included) and ``add_missing_cells`` (which puts deleted test cells back),
  a student who edits, deletes or relabels test cells changes nothing.
* :class:`GradeInSubprocess` (in place of nbgrader's Execute): grades the
  notebook with ``grader.py`` (the answers in a sandboxed process, the tests
  here) and writes each cell's outputs, and each test cell's verdict, into the
  notebook, where nbgrader's SaveAutoGrades reads the scores as usual (an
  error output means 0 points).
* :class:`HideLateOutputs` (feedback): leaves out what answer cells printed
  after a hidden test had sent its data to the student's code.

Only this module imports nbgrader; ``import dissyslab`` never does.
"""

import os

from nbformat.notebooknode import NotebookNode, from_dict
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    Execute,
    NbGraderPreprocessor,
    OverwriteCells,
    OverwriteKernelspec,
)
from traitlets import Bool, Float, Integer

from . import grader


class RestoreCellRoles(NbGraderPreprocessor):
    """Give every nbgrader cell the role the gradebook knows for it; drop metadata it does not know."""

    def preprocess(self, nb, resources):
        notebook_id = resources["nbgrader"]["notebook"]
        assignment_id = resources["nbgrader"]["assignment"]
        with Gradebook(resources["nbgrader"]["db_url"]) as gb:
            try:
                source = gb.find_notebook(notebook_id, assignment_id)
            except MissingEntry:
                return nb, resources
            cells = {c.name: c for c in source.source_cells}
            grades = {c.name: c for c in source.grade_cells}
            solutions = {c.name for c in source.solution_cells}
            tasks = {c.name: c for c in source.task_cells}
            for cell in nb.cells:
                meta = cell.get("metadata", {})
                if "nbgrader" not in meta:
                    continue
                nbg = meta["nbgrader"]
                gid = nbg.get("grade_id") if isinstance(nbg, dict) else None
                if not isinstance(gid, str) or gid not in cells:
                    if gid is not None:
                        self.log.warning("Cell %r is not part of the assignment: its nbgrader "
                                         "metadata is removed", gid)
                    del meta["nbgrader"]
                    continue
                role = {
                    "grade": gid in grades,
                    "grade_id": gid,
                    "locked": bool(cells[gid].locked),
                    "solution": gid in solutions,
                    "task": gid in tasks,
                    "schema_version": 3,
                }
                if gid in grades:
                    role["points"] = float(grades[gid].max_score)
                elif gid in tasks:
                    role["points"] = float(tasks[gid].max_score)
                if "checksum" in nbg:
                    role["checksum"] = nbg["checksum"]
                role["cell_type"] = cells[gid].cell_type
                changed = {k for k in role if nbg.get(k) != role[k]}
                if changed - {"cell_type", "checksum"}:
                    self.log.warning("Cell %r: nbgrader metadata %s restored from the gradebook",
                                     gid, sorted(changed))
                meta["nbgrader"] = from_dict(role)
        return nb, resources


class GradeInSubprocess(NbGraderPreprocessor):
    """Grade the notebook with ``dissyslab.check.grader`` (student code sandboxed), not in a kernel."""

    cell_timeout = Float(grader.CELL_TIMEOUT, help="Seconds a setup or answer cell may run.").tag(
        config=True)
    test_timeout = Float(grader.TEST_TIMEOUT, help="Seconds a test cell may run.").tag(config=True)
    notebook_timeout = Float(grader.NOTEBOOK_TIMEOUT,
                             help="Seconds one notebook may take in all.").tag(config=True)
    kill_grace = Float(grader.GRACE, help="Seconds a cell gets to stop after its time limit before "
                                          "its process is killed.").tag(config=True)
    memory_mb = Integer(grader.MEMORY_MB, allow_none=True,
                        help="Address-space limit of the student's process in MB.").tag(config=True)
    hidden_details = Bool(False, help="Show the full message of a failed hidden test, with its "
                                      "inputs and expected values (the student sees them in the "
                                      "feedback).").tag(config=True)

    def _source_folder(self, assignment):
        """The instructor's folder of the assignment: read-only and test cells run there."""
        try:
            from nbgrader.coursedir import CourseDirectory

            course = CourseDirectory(config=self.config)
            folder = course.format_path(course.source_directory, ".", assignment)
        except Exception:  # noqa: BLE001 (an nbgrader without this API: run them elsewhere)
            return None
        return folder if os.path.isdir(folder) else None

    def preprocess(self, nb, resources):
        workdir = resources.get("metadata", {}).get("path") or None
        result = grader.grade_notebook(
            nb, workdir=workdir, cell_timeout=self.cell_timeout, test_timeout=self.test_timeout,
            notebook_timeout=self.notebook_timeout, memory_mb=self.memory_mb,
            grace=self.kill_grace, hidden_details=self.hidden_details,
            trusted_dir=self._source_folder(resources["nbgrader"].get("assignment")))
        for line in result.log:
            self.log.warning("%s: %s", resources["nbgrader"].get("student", "?"), line)
        count = 0
        for r in result.cells:
            cell = nb.cells[r.index]
            if r.role == "text":
                continue
            count += 1
            cell.execution_count = count
            cell.outputs = [_output(o) for o in r.outputs]
            if r.after_hidden and r.outputs:
                # it ran after hidden tests sent their data to the student's code, which may
                # print it: the feedback leaves these outputs out (see HideLateOutputs)
                cell.metadata["dissyslab"] = {"after_hidden_tests": True}
            if r.role == "extra":
                if cell.source.strip():
                    cell.outputs = [_stream("stdout", "(Not run when grading: only the "
                                                      "notebook's own cells and answer cells run.)\n")]
                continue
            if r.error is not None:
                cell.outputs.append(_error(r.error["ename"], r.error["evalue"],
                                           r.error.get("traceback") or []))
            if r.verdict is not None:
                if r.verdict.passed:
                    # a passing test must not be zeroed by a warning printed to stderr
                    for o in cell.outputs:
                        if o.output_type == "stream":
                            o.name = "stdout"
                        if o.output_type == "execute_result":
                            o.output_type, o.name, o.text = "stream", "stdout", _text(o)
                            for k in ("data", "metadata", "execution_count"):
                                o.pop(k, None)
                else:
                    name = {"not_run": "NotGraded", "timeout": "TimeLimit", "crashed": "NotGraded",
                            "threads": "ThreadsLeft", "exited": "SystemExit"}.get(
                        r.verdict.reason, "CheckFailed")
                    cell.outputs.append(_error(name, r.verdict.message,
                                               r.verdict.message.splitlines()))
        return nb, resources


class HideLateOutputs(NbGraderPreprocessor):
    """Feedback: leave out what answer cells printed after hidden tests had sent them their data."""

    def preprocess(self, nb, resources):
        for cell in nb.cells:
            if (cell.get("metadata", {}).get("dissyslab") or {}).get("after_hidden_tests"):
                cell.outputs = [_stream("stdout", "(What this cell printed when it was graded is "
                                                  "not shown here: it ran after hidden tests.)\n")]
        return nb, resources


def _output(o):
    return from_dict(dict(o))


def _stream(name, text):
    return NotebookNode(output_type="stream", name=name, text=text)


def _error(ename, evalue, traceback):
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=list(traceback))


def _text(o):
    return o.get("data", {}).get("text/plain", "") + "\n"


def sanitize_preprocessors():
    """nbgrader's sanitizing steps, with :class:`RestoreCellRoles` first."""
    return [ClearOutput, RestoreCellRoles, DeduplicateIds, OverwriteKernelspec, OverwriteCells,
            CheckCellMetadata]


def autograde_preprocessors():
    """nbgrader's autograding steps, with :class:`GradeInSubprocess` in place of Execute."""
    from nbgrader.converters import Autograde

    default = list(Autograde.class_traits()["autograde_preprocessors"].default())
    if Execute not in default:
        raise RuntimeError("this version of nbgrader autogrades without its Execute step, so "
                           "dissyslab.check does not know where to grade; see exercises/README.md")
    return [GradeInSubprocess if p is Execute else p for p in default]


__all__ = ["RestoreCellRoles", "GradeInSubprocess", "HideLateOutputs", "sanitize_preprocessors",
           "autograde_preprocessors"]
