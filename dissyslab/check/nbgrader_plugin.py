"""nbgrader's steps for DisSysLab, under the name instructors' configurations import.

``exercises/nbgrader_config.py`` (and a course's copy of it) imports these from
``dissyslab.check.nbgrader_plugin``, and ``nbgrader_config.json`` names
``dissyslab.check.nbgrader_plugin.GradingExporter``; they live in
:mod:`dissyslab.check.grading.nbgrader_plugin`, with the rest of the grading
machinery. Importing this module imports nbgrader.
"""

from .grading.nbgrader_plugin import (
    CsvExport,
    FeedbackExporter,
    GradeInSubprocess,
    GradingExporter,
    HideLateOutputs,
    RestoreCellRoles,
    SanitizeStudentHTML,
    autograde_preprocessors,
    clean_markdown,
    feedback_template_dirs,
    sanitize_preprocessors,
    setup_problem,
)

__all__ = ["RestoreCellRoles", "GradeInSubprocess", "HideLateOutputs", "CsvExport",
           "SanitizeStudentHTML", "FeedbackExporter", "clean_markdown",
           "GradingExporter", "setup_problem",
           "feedback_template_dirs", "sanitize_preprocessors",
           "autograde_preprocessors"]
