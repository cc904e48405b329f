"""The grading machinery: how ``nbgrader autograde`` grades an exercise without trusting it.

The checks that test cells call (``dissyslab.check``: ``failure``, ``shape``,
``runs``) judge a network wherever it lives; this package is what makes a
network live somewhere safe when grading:

* ``grader``: grades one notebook. The student's cells run in a separate,
  sandboxed process; the test cells run in the grading process;
* ``child``: that student's process, which answers the grader's questions;
* ``wire``: the plain-data messages between the two, checked on arrival;
* ``remote``: the grader's side of the student's process: handles to its
  objects, and the questions the checks ask about them. It reaches the checks
  through one seam, ``dissyslab.check.elsewhere``;
* ``sandbox``, ``cgroup``: the box the student's process runs in (bubblewrap
  or unshare, another user, per-process limits, and a limit on the submission
  as a whole);
* ``files``: which files beside a submitted notebook enter that box;
* ``nbgrader_plugin``: nbgrader's preprocessors and exporters that run all this
  (``exercises/nbgrader_config.py`` imports them as
  ``dissyslab.check.nbgrader_plugin``).

``python -m dissyslab.check.grading NOTEBOOK...`` grades notebooks from a terminal.

Importing this package imports none of its modules: ``dissyslab.check`` never
loads it, and importing ``grader`` does not load nbgrader.
"""
