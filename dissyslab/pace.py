"""The lessons' pace: how long the pauses last that slow a run down so you can watch it.

A run meant to be watched slows its functions down on purpose, with ``paced``::

    import time
    from dissyslab import paced

    def ponder(word):
        time.sleep(paced(0.2))   # 0.2 s per word: slow enough to watch in the live view
        return word[::-1]

``paced(seconds)`` is ``seconds`` times the pace factor, which is 1 unless the
environment variable ``DISSYSLAB_PACE`` says otherwise. The test suite sets
``DISSYSLAB_PACE=0.05`` (every paced pause 20 times shorter), so the lessons are
checked quickly; ``DISSYSLAB_PACE=2`` makes them twice as slow, for a demo in
class. The factor is read at every call, so setting ``os.environ["DISSYSLAB_PACE"]``
in a notebook takes effect at once.

The pace only changes how long a run takes, never its results: a lesson whose
printed facts depend on timing pauses longer on the slow path than on the fast
one at every pace.

Inside a seeded run (``seeded.py``) time is virtual: a pause costs no real
time, so ``paced(seconds)`` is ``seconds`` as written there, and the virtual
times a seeded run shows are the same at every pace.
"""

import math
import os
import sys

#: the environment variable holding the pace factor
PACE_VARIABLE = "DISSYSLAB_PACE"


def pace_factor() -> float:
    """The number every paced pause is multiplied by: ``DISSYSLAB_PACE``, else 1."""
    text = os.environ.get(PACE_VARIABLE, "").strip()
    if not text:
        return 1.0
    try:
        factor = float(text)
    except ValueError:
        factor = -1.0
    if not math.isfinite(factor) or factor < 0:
        raise ValueError(
            f"The environment variable {PACE_VARIABLE} is {text!r}, but it must be a number "
            f"of 0 or more that multiplies the lessons' pauses: 1 (as written), 0.05 (20 times "
            f"faster, as the tests run) or 2 (twice as slow). Set it to such a number, or "
            f"remove it."
        )
    return factor


def paced(seconds: float) -> float:
    """``seconds`` at the lessons' pace: as written, unless ``DISSYSLAB_PACE`` sets a factor.

    Use it where a lesson pauses so that a run can be watched:
    ``time.sleep(paced(0.2))``.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(
            f"paced(seconds) needs a number of seconds (like paced(0.2)), but got {seconds!r}."
        )
    if not seconds >= 0 or math.isinf(seconds):
        raise ValueError(
            f"paced(seconds) needs a number of seconds, 0 or more (like paced(0.2)), "
            f"but got {seconds!r}."
        )
    clock = sys.modules.get(__package__ + ".vclock")  # loaded once a seeded run has begun
    if clock is not None and clock.running() is not None:
        return seconds  # on the thread of a seeded run: virtual seconds have no pace
    return round(seconds * pace_factor(), 6)  # 0.15, not 0.15000000000000002
