"""Checks for exercises: look at a student's network, run it, and explain what is wrong.

Used in the test cells of the exercises (``from dissyslab import check``)::

    check.fanout(g, "word_source", 2)
    check.outputs(g, {"collector_upper": ["HELLO", "WORLD"]}, timeout=5)
    check.outputs(g, {...}, inputs={"word_source": ["other", "words"]})   # data the student never saw
    check.same_for_all_schedules(g, seeds=range(30))                      # an ordering claim
    check.every_schedule(g, never_overdrawn)                              # every schedule, all of them

A failed check raises :class:`CheckFailed` (an AssertionError) whose message
says what was expected, what the network did, and gives a hint.

Why a student cannot cheat
--------------------------
The checks never use what the student built directly: each one rebuilds the
network from its edges with fresh nodes and the real ``network()``, takes
node kinds from their classes, records sink results inside the runtime,
and compares plain data only (``failure.same``), so no student object's
``__eq__`` is ever trusted. The checks keep their own references to the
library, so rebinding ``network`` or ``run_network`` in the notebook changes
nothing for them.

The grade itself never comes from the student's code. ``nbgrader autograde``
(configured by ``exercises/nbgrader_config.py``) runs each notebook's answer
cells in a separate process that the operating system keeps in a sandbox,
and the test cells, hidden ones included, in the grading process itself:
there a name the student defined stands for the student's value (plain data
is copied, anything else is a handle), and the checks above ask the student's
process only for observations, which cross as plain data, and judge them
here. Test code, expected values and verdicts never enter the student's
process. A hang, a crash or ``sys.exit`` costs the tasks it affects, and the
next notebook starts in a new process.

That machinery has a package of its own, ``dissyslab.check.grading``, which
this package never imports. The checks meet it in one place,
:mod:`dissyslab.check.elsewhere`: asked about a value, it says whether the
value lives in this process or in another one (the student's, while grading)
that answers questions about it.
"""

from .every import every_schedule, explore
from .failure import CheckFailed, same, show
from .runs import (
    TIMEOUT,
    CheckedRun,
    Outcomes,
    differs_between,
    done,
    equal,
    finishes,
    outputs,
    overlap,
    run,
    run_beside,
    same_for_all_schedules,
    same_result,
    schedules,
    seeded_runs_available,
    that,
)
from .shape import (
    edge,
    edges,
    fanin,
    fanout,
    is_network,
    kinds,
    no_duplicate_edges,
    no_edge,
    node,
    paths,
    shape,
    wraps,
)

__all__ = [
    "CheckFailed", "same", "show",
    "is_network", "node", "kinds", "edge", "no_edge", "edges", "fanout", "fanin",
    "no_duplicate_edges", "paths", "shape", "wraps",
    "run", "CheckedRun", "finishes", "outputs", "schedules", "Outcomes", "same_for_all_schedules",
    "differs_between", "same_result", "overlap", "equal", "that", "done", "seeded_runs_available",
    "run_beside", "explore", "every_schedule",
    "TIMEOUT",
]
