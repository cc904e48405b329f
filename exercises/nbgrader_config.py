"""nbgrader settings for the DisSysLab exercises (run every nbgrader command from this folder).

Grading does not use a Jupyter kernel: each notebook's answers run in a fresh,
sandboxed Python process, and its tests run in the grading process, asking that
process only for observations (see README.md, "How grading stays fair"); so a
submission that hangs, crashes, exits or tampers with the checks only costs its
own points, cannot reach this folder, and the next submission starts clean.
"""

import os
import sys
import warnings

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

try:
    from dissyslab.check.nbgrader_plugin import (
        CsvExport,
        FeedbackExporter,
        HideLateOutputs,
        SanitizeStudentHTML,
        autograde_preprocessors,
        sanitize_preprocessors,
    )
except ImportError as err:  # stop here: nbgrader would otherwise grade in students' kernels
    raise SystemExit(
        f"exercises/nbgrader_config.py needs DisSysLab ({err}). Install the project in the "
        f"environment that runs nbgrader: pip install -e '.[test]' from the project folder."
    ) from err

# nbgrader runs the `alembic` program, found on PATH, to create and upgrade gradebook.db.
# alembic is installed next to the Python that runs nbgrader (.venv/bin/, a conda env's bin/),
# which is on PATH only while that environment is activated. Put that folder first, so that
# `.venv/bin/nbgrader ...`, `.venv/bin/python -m nbgrader ...` and JupyterLab's formgrader
# work without activating anything. nbgrader loads this file before it opens the gradebook
# (and may load it more than once: PATH gets the folder only once).
_bin = os.path.dirname(sys.executable)
if sys.executable and os.environ.get("PATH", "").split(os.pathsep)[0] != _bin:
    os.environ["PATH"] = os.pathsep.join(p for p in (_bin, os.environ.get("PATH")) if p)

# nbgrader_config.json, next to this file, makes `nbgrader autograde` check before the first
# submission that this file loaded to its end (its last line) and that grading is set up as
# below; if not, it stops with a clear error instead of grading with nbgrader's defaults in the
# students' own kernels. nbgrader loads the .json even when this file has an error.
if not os.path.exists(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                   "nbgrader_config.json")):
    raise SystemExit("exercises/nbgrader_config.json is missing: it makes nbgrader check the "
                     "grading set-up before it grades. Copy it from the DisSysLab project.")

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

# nbgrader's gradebook code makes SQLAlchemy warn ("Object of type <SubmittedAssignment> not in
# session ...") on every autograde; the grades are saved all the same. Keep them out of the log
# so that the warnings that matter show.
warnings.filterwarnings("ignore", message=r"Object of type <\w+> not in session")

c.CourseDirectory.course_id = "dissyslab"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
# Folders nbgrader creates here: release/, submitted/, autograded/, feedback/ and gradebook.db.
# Keep them out of version control (exercises/.gitignore).

# --- generating the student version -------------------------------------------------------
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# --- autograding --------------------------------------------------------------------------
# Test cells are locked: nbgrader puts back their original code, hidden tests included, and
# puts back test cells a student deleted.
c.OverwriteCells.add_missing_cells = True
# RestoreCellRoles first, then nbgrader's own sanitizing steps.
c.Autograde.sanitize_preprocessors = sanitize_preprocessors()
# GradeInSubprocess instead of nbgrader's Execute: a fresh process per notebook.
c.Autograde.autograde_preprocessors = autograde_preprocessors()
# Time limits, in seconds. A cell that runs longer is interrupted; one that ignores the
# interrupt is killed with its whole process (its task, and the ones after it, get 0).
c.GradeInSubprocess.cell_timeout = 15        # a setup or answer cell
c.GradeInSubprocess.test_timeout = 60        # a test cell (it may run the network many times)
c.GradeInSubprocess.notebook_timeout = 600   # one notebook in all
c.GradeInSubprocess.memory_mb = 4096         # address space of each process of a submission,
                                             # and all of them together where a cgroup can be made
c.GradeInSubprocess.scratch_mb = 256         # the folder a submission runs in (its data files and
                                             # what it writes), and again its /tmp: RAM, counted in
                                             # memory_mb where a cgroup can be made
# A failed hidden test says which check failed, not its inputs and expected values; set this
# to True to show them in the feedback too (the hidden tests are then less hidden next year).
c.GradeInSubprocess.hidden_details = False
# Student code runs isolated (bubblewrap; as root without it: unshare, chroot and setpriv).
# Where neither works, grading refuses to start. Set this to True only to grade anyway, knowing
# that every submission's code then runs as you, able to read and change the course folder,
# other students' work and gradebook.db (see exercises/README.md, "Without isolation").
c.GradeInSubprocess.run_student_code_without_isolation = False
# nbgrader validate (and anything else that still runs a kernel) gets a time limit too.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True

# --- export ------------------------------------------------------------------------------
# grades.csv with a column `submitted`: a student who handed nothing in has empty scores, not 0.
c.ExportApp.plugin_class = CsvExport

# --- feedback -----------------------------------------------------------------------------
# Students see their scores and the checks' messages, but not the hidden tests' code, so the
# tests can be used again next year.
# Answer cells that ran after a hidden test may print the data it sent to the student's code:
# HideLateOutputs leaves their outputs out of the feedback (the autograded notebook keeps them).
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, HideLateOutputs,
                                    CSSHTMLHeaderPreprocessor]
c.ClearHiddenTests.enforce_metadata = False
# nbgrader's feedback page, with each test cell's score under its task's name, not "Test cell"
# (only the feedback: the formgrader keeps its own template).
c.GenerateFeedback.exporter_class = FeedbackExporter

# --- pages with students' work: the feedback, and the formgrader ---------------------------
# Every HTML page made from a notebook (the formgrader's submission pages, the feedback) gets
# students' markdown and outputs cleaned by nbconvert's sanitizer: no script, event handler or
# javascript: link from a submission runs in your browser or a student's.
c.HTMLExporter.preprocessors = [SanitizeStudentHTML]
c.HTMLExporter.sanitize_html = True

# --- keep this line last ------------------------------------------------------------------
# `nbgrader autograde` refuses to grade unless this file ran to here (nbgrader_config.json).
c.GradeInSubprocess.settings_loaded = True
