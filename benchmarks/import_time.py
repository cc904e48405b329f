"""Import time: how long ``import dissyslab`` takes in a fresh Python, and what it pulls in.

Each repetition starts a new interpreter, times the import with
``time.perf_counter`` (and its CPU time, which other programs on the machine
disturb less) and lists the modules it loaded; the medians are reported.
The import must also load nothing from Jupyter, ipywidgets, IPython,
graphviz or Ray: only the drawing code and the Ray engine import those,
when used.

Python compiles a module the first time it is imported and keeps the
bytecode (``__pycache__``), so every import after the first reads it back.
That is the import a student waits for, and the one measured: the
interpreters write and read their bytecode in a folder of their own
(``PYTHONPYCACHEPREFIX``), even where ``PYTHONDONTWRITEBYTECODE`` is set, and
one import before the repetitions writes it. ``--cold`` measures with
``PYTHONDONTWRITEBYTECODE=1`` instead: every module without bytecode kept
beside it (the package's own, in a fresh clone) is compiled at every import,
as on a first import (no limit applies to it).

    python benchmarks/import_time.py [--reps 21] [--cold]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMIT_MS = 30
#: the same list as tests/test_imports.py
FORBIDDEN = ("IPython", "ipykernel", "ipywidgets", "jupyter", "jupyter_client", "jupyter_core",
             "jupyterlab", "graphviz", "notebook", "nbformat", "traitlets", "comm", "ray")

PROBE = """
import json, sys, time
before = set(sys.modules)
t, cpu = time.perf_counter(), time.thread_time()
import dissyslab
ms, cpu_ms = (time.perf_counter() - t) * 1000, (time.thread_time() - cpu) * 1000
print(json.dumps({"ms": ms, "cpu_ms": cpu_ms, "loaded": sorted(set(sys.modules) - before)}))
"""


def one_import(env):
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=60, check=True)
    return json.loads(out.stdout)


def environment(cache):
    """The interpreters' environment: bytecode kept in ``cache``, or never kept if it is None."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if cache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache
    return env


def measure(reps, cold=False):
    """Median import time (ms), its range, and the forbidden packages that were loaded."""
    with tempfile.TemporaryDirectory(prefix="dissyslab-bytecode-") as cache:
        env = environment(None if cold else cache)
        if not cold:
            one_import(env)  # compiles every module once and keeps the bytecode
        runs = [one_import(env) for _ in range(reps)]
    times = sorted(r["ms"] for r in runs)
    cpu = statistics.median(r["cpu_ms"] for r in runs)
    loaded = sorted(set().union(*(r["loaded"] for r in runs)))
    bad = sorted({m.split(".")[0] for m in loaded} & set(FORBIDDEN))
    median = statistics.median(times)
    print(f"import dissyslab{' (cold: no kept bytecode)' if cold else ''}: median "
          f"{median:.1f} ms over {reps} fresh interpreters (range {times[0]:.1f}-{times[-1]:.1f} ms; "
          f"CPU time {cpu:.1f} ms), {len(loaded)} modules loaded")
    return {"ms": median, "low": times[0], "high": times[-1], "cpu_ms": cpu, "forbidden": bad,
            "ok_time": cold or median <= LIMIT_MS, "ok_modules": not bad}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=21, help="fresh interpreters (default 21)")
    parser.add_argument("--cold", action="store_true",
                        help="measure the first import, compiling every module (no limit)")
    args = parser.parse_args(argv)
    result = measure(args.reps, cold=args.cold)
    if not args.cold:
        print(f"import time {result['ms']:.0f} ms <= {LIMIT_MS} ms: "
              f"{'PASS' if result['ok_time'] else 'FAIL'}")
    print(f"no Jupyter, ipywidgets, IPython, graphviz or Ray module imported: "
          f"{'PASS' if result['ok_modules'] else 'FAIL: ' + ', '.join(result['forbidden'])}")
    return 0 if result["ok_time"] and result["ok_modules"] else 1


if __name__ == "__main__":
    sys.exit(main())
