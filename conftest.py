"""Settings for every test run, the lessons under nbval included.

The lessons slow some runs down so a student can watch them (``dissyslab.paced``);
under the tests every such pause is 20 times shorter. The kernels nbval starts
inherit this environment. Results never depend on the pace, so the stored outputs
are the same at any pace.
"""

import os

os.environ.setdefault("DISSYSLAB_PACE", "0.05")
