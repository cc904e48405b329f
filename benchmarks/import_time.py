"""Import time: how long ``import dissyslab`` takes in a fresh Python, and what it pulls in.

Each repetition starts a new interpreter, times the import with
``time.perf_counter`` and lists the modules it loaded; the median is
reported. The import must also load nothing from Jupyter, ipywidgets,
IPython or graphviz: only the drawing code may import those, when used.

    python benchmarks/import_time.py [--reps 9]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMIT_MS = 150
FORBIDDEN = ("IPython", "ipykernel", "ipywidgets", "jupyter", "jupyter_client", "jupyter_core",
             "graphviz", "notebook", "nbformat", "traitlets", "comm")

PROBE = """
import json, sys, time
before = set(sys.modules)
t = time.perf_counter()
import dissyslab
ms = (time.perf_counter() - t) * 1000
print(json.dumps({"ms": ms, "loaded": sorted(set(sys.modules) - before)}))
"""


def one_import():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=60, check=True)
    return json.loads(out.stdout)


def measure(reps):
    """Median import time (ms), its range, and the forbidden packages that were loaded."""
    runs = [one_import() for _ in range(reps)]
    times = sorted(r["ms"] for r in runs)
    loaded = sorted(set().union(*(r["loaded"] for r in runs)))
    bad = sorted({m.split(".")[0] for m in loaded} & set(FORBIDDEN))
    median = statistics.median(times)
    print(f"import dissyslab: median {median:.1f} ms over {reps} fresh interpreters "
          f"(range {times[0]:.1f}-{times[-1]:.1f} ms), {len(loaded)} modules loaded")
    return {"ms": median, "low": times[0], "high": times[-1], "forbidden": bad,
            "ok_time": median <= LIMIT_MS, "ok_modules": not bad}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9, help="fresh interpreters (default 9)")
    args = parser.parse_args(argv)
    result = measure(args.reps)
    print(f"import time {result['ms']:.0f} ms <= {LIMIT_MS} ms: "
          f"{'PASS' if result['ok_time'] else 'FAIL'}")
    print(f"no Jupyter, ipywidgets, IPython or graphviz module imported: "
          f"{'PASS' if result['ok_modules'] else 'FAIL: ' + ', '.join(result['forbidden'])}")
    return 0 if result["ok_time"] and result["ok_modules"] else 1


if __name__ == "__main__":
    sys.exit(main())
