"""nbgrader preprocessors that make ``nbgrader autograde`` grade with :mod:`dissyslab.check.grading.grader`.

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
import re
import sys

from nbconvert.exporters import HTMLExporter, NotebookExporter
from nbformat.notebooknode import NotebookNode, from_dict
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import CsvExportPlugin
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    Execute,
    NbGraderPreprocessor,
    OverwriteCells,
    OverwriteKernelspec,
)
from traitlets import Bool, Float, Integer, List

from . import files, grader, sandbox


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
                if cells[gid].locked and cell.get("source") != cells[gid].source:
                    # Put the instructor's code back here, so that OverwriteCells does not warn
                    # about every test cell (the released ones lack the hidden tests); say so
                    # only when the student really changed the cell.
                    if _lines(cell.get("source", "")) != _lines(_without_hidden(cells[gid].source)):
                        self.log.warning("Cell %r was changed in the submission: the original "
                                         "is put back", gid)
                    cell["source"] = cells[gid].source
                    role["checksum"] = cells[gid].checksum
                changed = {k for k in role if nbg.get(k) != role[k]}
                if changed - {"cell_type", "checksum"}:
                    self.log.warning("Cell %r: nbgrader metadata %s restored from the gradebook",
                                     gid, sorted(changed))
                meta["nbgrader"] = from_dict(role)
        return nb, resources


def _without_hidden(source):
    """A cell's code as the student version has it: without its hidden tests."""
    out, hidden = [], False
    for line in source.splitlines():
        mark = line.strip()
        if mark == "### BEGIN HIDDEN TESTS":
            hidden = True
        elif mark == "### END HIDDEN TESTS":
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out)


def _lines(source):
    if isinstance(source, list):
        source = "".join(source)
    return [line.rstrip() for line in str(source).splitlines() if line.strip()]


class GradeInSubprocess(NbGraderPreprocessor):
    """Grade the notebook with ``grading.grader`` (student code sandboxed), not in a kernel."""

    cell_timeout = Float(grader.CELL_TIMEOUT, help="Seconds a setup or answer cell may run.").tag(
        config=True)
    test_timeout = Float(grader.TEST_TIMEOUT, help="Seconds a test cell may run.").tag(config=True)
    notebook_timeout = Float(grader.NOTEBOOK_TIMEOUT,
                             help="Seconds one notebook may take in all.").tag(config=True)
    kill_grace = Float(grader.GRACE, help="Seconds a cell gets to stop after its time limit before "
                                          "its process is killed.").tag(config=True)
    memory_mb = Integer(grader.MEMORY_MB, allow_none=True,
                        help="Memory of a submission in MB: each process's address space, and "
                             "all its processes together where a cgroup can be made."
                        ).tag(config=True)
    scratch_mb = Integer(sandbox.SCRATCH_MB, min=1,
                         help="MB of the folder a submission runs in (its data files and what "
                              "it writes), and again of its /tmp: each held in RAM, and counted "
                              "in memory_mb where a cgroup can be made.").tag(config=True)
    hidden_details = Bool(False, help="Show the full message of a failed hidden test, with its "
                                      "inputs and expected values (the student sees them in the "
                                      "feedback).").tag(config=True)
    run_student_code_without_isolation = Bool(
        False, help="Grade even where student code cannot be isolated (no bubblewrap, not root "
                    "for unshare): it then runs as the grading user, able to read and change the "
                    "course and other students' work. Off: grading refuses to start.").tag(
        config=True)
    settings_loaded = Bool(False, help="Set by the last line of the course's nbgrader_config.py: "
                                       "the course's settings loaded to their end.").tag(config=True)

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
            trusted_dir=self._source_folder(resources["nbgrader"].get("assignment")),
            allow_unisolated=self.run_student_code_without_isolation, scratch_mb=self.scratch_mb)
        for line in result.log:
            self.log.warning("%s: %s", resources["nbgrader"].get("student", "?"), line)
        refused = [tuple(f) for f in files.refused(self._refused_folder(resources))]
        refused += [f for f in result.skipped if f not in refused]
        heading = None
        for cell in nb.cells:  # name each test cell by the heading of its task
            if cell.cell_type == "markdown":
                for line in cell.source.splitlines():
                    if line.startswith("## "):
                        heading = re.sub(r"\s*\(\d+(\.\d+)? points?\)\s*$", "", line[3:].strip())[:120]
            meta = cell.metadata.get("nbgrader") or {}
            if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution") and heading:
                cell.metadata.setdefault("dissyslab", {})["task"] = heading
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
                cell.metadata.setdefault("dissyslab", {})["after_hidden_tests"] = True
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
        if refused:
            # said first in the student's notebook (and so in the feedback), as plain text
            lines = "\n".join(f"- `{_short(path)}`: {why}" for path, why in refused[:50])
            note = NotebookNode(cell_type="markdown", metadata={"dissyslab": {"refused": True}},
                                source=("**Grading note.** These files handed in beside the "
                                        "notebook were not used (only ordinary files inside your "
                                        "own folder are):\n\n" + lines))
            nb.cells.insert(0, note)
        return nb, resources

    def _refused_folder(self, resources):
        try:
            from nbgrader.coursedir import CourseDirectory

            root = CourseDirectory(config=self.config).root
        except Exception:  # noqa: BLE001
            return os.devnull
        return os.path.join(root, files.REFUSED, str(resources["nbgrader"].get("student")),
                            str(resources["nbgrader"].get("assignment")))


def _short(text, limit=80):
    text = str(text).replace("`", "'").replace("\n", " ")
    return text if len(text) <= limit else text[:limit - 3] + "..."


class GradingExporter(NotebookExporter):
    """The exporter of ``nbgrader autograde`` (set in ``exercises/nbgrader_config.json``).

    nbgrader makes it once, before it touches the first submission; it then checks
    that grading is set up as the course says and stops with a clear error if not:

    * ``nbgrader_config.py`` loaded to its last line (a typo there makes traitlets log
      one ERROR and go on with nbgrader's defaults, grading in students' own kernels);
    * the autograde steps are the project's: :class:`GradeInSubprocess` grades, no step
      runs a Jupyter kernel, :class:`RestoreCellRoles` and OverwriteCells restore the
      test cells;
    * student code can be isolated here (or the instructor opted out, by name);

    and then moves what may not be used out of every submission folder of the
    assignment (symbolic links, FIFOs, devices, files past the limits: see
    ``files.py``) before nbgrader copies those folders, following links.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        converter = kwargs.get("parent")
        if converter is None or not hasattr(converter, "autograde_preprocessors"):
            return  # not autograding: nothing to check
        problem = setup_problem(converter)
        if problem is not None:
            from nbgrader.converters.base import NbGraderException

            converter.log.error(problem)
            raise NbGraderException(problem)
        vet_all(converter)


def _resolved(items):
    out = []
    for item in items:
        if isinstance(item, str):
            from traitlets.utils.importstring import import_item

            try:
                item = import_item(item)
            except Exception:  # noqa: BLE001 (named below as it is)
                pass
        out.append(item if isinstance(item, type) or isinstance(item, str) else type(item))
    return out


def setup_problem(converter):
    """What is wrong with the grading set-up of ``converter`` (an Autograde), or None."""
    from nbconvert.preprocessors import ExecutePreprocessor

    head = ("dissyslab grading did not start, and nothing was graded: ")
    settings = converter.config.get("GradeInSubprocess", {})
    if settings.get("settings_loaded") is not True:
        return (head + "the course's nbgrader_config.py did not load to its end, so nbgrader "
                "would grade with its own defaults, running each student's code in their own "
                "kernel (where it can rewrite the checks). Look above for the ERROR that says "
                "which line failed (a typo such as `true` for `True`?), fix it, and run the "
                "command again. The file's last line, `c.GradeInSubprocess.settings_loaded = "
                "True`, must stay last.")
    steps = _resolved(converter.autograde_preprocessors)
    runs_kernel = [s for s in steps if isinstance(s, type) and issubclass(s, ExecutePreprocessor)]
    if GradeInSubprocess not in steps or runs_kernel or any(isinstance(s, str) for s in steps):
        return (head + "the autograde steps (c.Autograde.autograde_preprocessors) are not the "
                "project's: GradeInSubprocess must grade, and no step may run a Jupyter kernel "
                f"(found: {', '.join(getattr(s, '__name__', str(s)) for s in steps)}). Set them "
                "with autograde_preprocessors() as exercises/nbgrader_config.py does.")
    clean = _resolved(converter.sanitize_preprocessors)
    if RestoreCellRoles not in clean or OverwriteCells not in clean or \
            clean.index(RestoreCellRoles) > clean.index(OverwriteCells):
        return (head + "the sanitizing steps (c.Autograde.sanitize_preprocessors) are not the "
                "project's: RestoreCellRoles must give cells their roles back, then "
                "OverwriteCells restore the test cells. Set them with sanitize_preprocessors() as "
                "exercises/nbgrader_config.py does.")
    if settings.get("run_student_code_without_isolation") is not True:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="dissyslab-probe-") as tmp:
            work = os.path.join(tmp, "work")
            os.mkdir(work)
            sandbox.prepare(work)
            how, why = sandbox.isolation(grader._package().shared_copy(), work,
                                         sys.executable)
        if how is None:
            return head + sandbox.refusal(why).removeprefix("dissyslab grading: ")
    return None


def vet_all(converter):
    """Move what may not be used out of every submission folder the command will grade."""
    import glob

    course = converter.coursedir
    pattern = course.format_path(course.submitted_directory, course.student_id or "*",
                                 course.assignment_id or "*")
    for folder in sorted(glob.glob(pattern)):
        rel = os.path.relpath(folder, course.format_path(course.submitted_directory, ".", "."))
        parts = rel.split(os.sep)
        if len(parts) < 2:
            continue
        student, assignment = parts[0], parts[1]
        files.vet_submission(folder, os.path.join(course.root, files.REFUSED, student, assignment),
                             converter.log,
                             blank=course.format_path(course.release_directory, ".", assignment))


class HideLateOutputs(NbGraderPreprocessor):
    """Feedback: leave out what answer cells printed after hidden tests had sent them their data."""

    # nbgrader hands every feedback preprocessor this option; take it quietly
    display_data_priority = List([]).tag(config=True)

    def preprocess(self, nb, resources):
        for cell in nb.cells:
            if (cell.get("metadata", {}).get("dissyslab") or {}).get("after_hidden_tests"):
                cell.outputs = [_stream("stdout", "(What this cell printed when it was graded is "
                                                  "not shown here: it ran after hidden tests.)\n")]
        return nb, resources


class SanitizeStudentHTML(NbGraderPreprocessor):
    """Instructor's and students' HTML pages: no script from a notebook runs in them.

    nbgrader's formgrade and feedback templates put markdown and outputs into the
    page as they are, so a ``<script>``, an ``<img onerror=...>`` or a
    ``javascript:`` link in a student's markdown would run in the instructor's
    Jupyter page (and could change grades, read files, open terminals). This
    preprocessor (set for every HTML export in ``nbgrader_config.py``) turns each
    markdown cell into HTML cleaned by nbconvert's sanitizer (bleach), keeps
    plain text and PNG/JPEG outputs, cleans HTML outputs and leaves out the rest
    (JavaScript, SVG, widgets), and drops cell attachments other than PNG/JPEG.
    """

    # nbgrader hands every feedback preprocessor this option; take it quietly
    display_data_priority = List([]).tag(config=True)

    def preprocess(self, nb, resources):
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = clean_markdown(cell.source)
                atts = cell.get("attachments") or {}
                for name in list(atts):
                    kept = {k: v for k, v in atts[name].items() if k in _SAFE_IMAGES}
                    if kept:
                        atts[name] = kept
                    else:
                        del atts[name]
            elif cell.cell_type == "code":
                cell.outputs = [_clean_output(o) for o in cell.get("outputs", [])]
            elif cell.cell_type == "raw":
                cell.metadata.pop("raw_mimetype", None)
                cell.metadata.pop("format", None)
                cell.source = _html_escape(cell.source)
        return nb, resources


_SAFE_IMAGES = ("image/png", "image/jpeg")


def _html_escape(text):
    import html

    return html.escape(text if isinstance(text, str) else "".join(text), quote=True)


#: what students' HTML may keep: text layout, tables, links and images (no script, style,
#: event handler, form, frame or SVG; links and images only by http(s), mailto and data images)
_TAGS = {"a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt",
         "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre",
         "s", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "th", "thead",
         "tr", "u", "ul"}
_ATTRIBUTES = {"a": ["href", "title"], "img": ["src", "alt", "title", "width", "height"],
               "td": ["align", "colspan", "rowspan"], "th": ["align", "colspan", "rowspan"],
               "*": ["class"]}


def clean_html(html):
    """Students' HTML without anything that runs (bleach, with the allow-list above)."""
    import bleach

    return bleach.clean(html if isinstance(html, str) else "".join(html), tags=_TAGS,
                        attributes=_ATTRIBUTES, protocols=["http", "https", "mailto", "data"],
                        strip=False, strip_comments=True)


def clean_markdown(source):
    """A markdown cell's source as cleaned HTML (rendered again as markdown, it stays the same)."""
    from nbconvert.filters import markdown2html

    text = source if isinstance(source, str) else "".join(source)
    html = clean_html(markdown2html(text))
    # a data: link other than an image could carry a page of its own
    return re.sub(r'href="data:[^"]*"', 'href="#"', html)


def _clean_output(o):
    if o.get("output_type") in ("display_data", "execute_result"):
        data = o.get("data", {})
        kept = {k: v for k, v in data.items() if k == "text/plain" or k in _SAFE_IMAGES}
        if "text/html" in data:
            html = data["text/html"]
            kept["text/html"] = clean_html(html if isinstance(html, str) else "".join(html))
        elif "text/markdown" in data:
            kept["text/html"] = clean_markdown(data["text/markdown"])
        if not kept:
            kept["text/plain"] = "(an output that is not shown here: " + ", ".join(
                sorted(data)[:5]) + ")"
        o["data"] = kept
        o["metadata"] = {}
    return o


def _output(o):
    return from_dict(dict(o))


def _stream(name, text):
    return NotebookNode(output_type="stream", name=name, text=text)


def _error(ename, evalue, traceback):
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=list(traceback))


def _text(o):
    return o.get("data", {}).get("text/plain", "") + "\n"


#: nbgrader's feedback template, with test cells named by their task (for GenerateFeedback)
FEEDBACK_TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")


def feedback_template_dirs():
    """Where HTMLExporter finds ``dissyslab_feedback`` (ours) and nbgrader's own templates."""
    import nbgrader

    return [FEEDBACK_TEMPLATES, os.path.join(os.path.dirname(nbgrader.__file__), "server_extensions",
                                             "formgrader", "templates")]


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


class CsvExport(CsvExportPlugin):
    """``nbgrader export`` to CSV, with a column ``submitted``: a missing submission is not a 0.

    nbgrader's own CSV gives a student who handed nothing in a score of 0.0; here their
    score columns are empty and ``submitted`` is ``no``.
    """

    def export(self, gradebook):
        import csv

        dest = self.to or "grades.csv"
        students = {str(s) for s in self.student}
        assignments = {str(a) for a in self.assignment}
        self.log.info("Exporting grades to %s", dest)
        keys = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
                "email", "submitted", "raw_score", "late_submission_penalty", "score",
                "max_score"]
        with open(dest, "w", newline="") as fh:
            out = csv.DictWriter(fh, keys)
            out.writeheader()
            for assignment in gradebook.assignments:
                if assignments and assignment.name not in assignments:
                    continue
                for student in gradebook.students:
                    if students and student.id not in students:
                        continue
                    row = {"assignment": assignment.name, "duedate": assignment.duedate,
                           "student_id": student.id, "last_name": student.last_name,
                           "first_name": student.first_name, "email": student.email,
                           "max_score": assignment.max_score}
                    try:
                        sub = gradebook.find_submission(assignment.name, student.id)
                    except MissingEntry:
                        row.update(submitted="no", timestamp="", raw_score="",
                                   late_submission_penalty="", score="")
                    else:
                        penalty = sub.late_submission_penalty or 0.0
                        row.update(submitted="yes", timestamp=sub.timestamp, raw_score=sub.score,
                                   late_submission_penalty=penalty,
                                   score=max(0.0, sub.score - penalty))
                    out.writerow({k: "" if v is None else v for k, v in row.items()})


class FeedbackExporter(HTMLExporter):
    """The feedback pages' exporter: nbgrader's, with test cells named by task (template).

    Only ``nbgrader generate_feedback`` uses this template (``c.GenerateFeedback.exporter_class``),
    so the formgrader keeps its own.
    """

    def __init__(self, config=None, **kwargs):
        # configured, not defaults: generate_feedback configures every HTMLExporter (this
        # class included) with nbgrader's own "feedback" template, which would win over a
        # default; a section named after this class wins over HTMLExporter's
        from traitlets.config import Config

        config = Config(config or {})
        config.FeedbackExporter.template_name = "dissyslab_feedback"
        config.FeedbackExporter.extra_template_basedirs = feedback_template_dirs()
        super().__init__(config=config, **kwargs)


__all__ = ["RestoreCellRoles", "GradeInSubprocess", "HideLateOutputs", "CsvExport",
           "SanitizeStudentHTML", "FeedbackExporter", "clean_markdown",
           "GradingExporter", "setup_problem",
           "feedback_template_dirs", "sanitize_preprocessors",
           "autograde_preprocessors"]
