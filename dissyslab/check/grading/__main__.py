"""``python -m dissyslab.check.grading NOTEBOOK...``: grade notebooks from a terminal."""

import sys

from .grader import main

sys.exit(main())
