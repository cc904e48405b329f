"""This DisSysLab against an earlier one, side by side: the cost of a change to the runtime.

    python benchmarks/versus.py [--rev HEAD~1] [--only pipeline] [--reps 15] [--n 100000] [--trace]

``--rev`` is any git revision of this repository (a commit, a tag, ``HEAD~3``):
it is checked out into a temporary folder with ``git worktree``, and the two
versions run the same workloads (``workloads.py``) in turn, each run in a
fresh interpreter (after one small untimed run, so that importing the
scheduler is not counted), the order swapping at every repetition so that a
busy neighbour slows both alike. Prints, per workload, the median time of each and
the median of the per-repetition ratios (this one / the other), for the
wall-clock time and for the CPU time of the process (the steadier figure when
the machine is shared). ``--trace`` times traced runs (``trace=True``) instead.

Feedback loops' termination detection (``termination.py``) costs acyclic
networks nothing by design; this is how that is checked (target: at most 5 %
on the pipeline against the release before it).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

ONE_RUN = r"""
import gc, json, sys, time
sys.path.insert(0, {root!r})
sys.path.insert(1, {benchmarks!r})
from workloads import WORKLOADS
from dissyslab import network
build = WORKLOADS[{name!r}][0]
warm = build(1000)  # a first, untimed run: imports the scheduler and warms its caches
network(warm.edges).run_network(timeout=300, live=False)
w = build({n})
g = network(w.edges)
gc.collect()
started, cpu = time.perf_counter(), time.process_time()
g.run_network(timeout=300, live=False{trace})
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
w.check("dissyslab")
print(json.dumps([elapsed, cpu]))
"""


def one_run(root, name, n, trace=False):
    code = ONE_RUN.format(root=root, benchmarks=HERE, name=name, n=n,
                          trace=", trace=True" if trace else "")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          check=False)
    if done.returncode != 0:
        sys.exit(f"a run of {name} with {root} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    sys.path.insert(0, HERE)
    from workloads import WORKLOADS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="HEAD~1", help="the git revision to compare with")
    parser.add_argument("--only", action="append", choices=list(WORKLOADS))
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--trace", action="store_true", help="time traced runs (trace=True)")
    parser.add_argument("--target", type=float, default=1.05,
                        help="largest acceptable median ratio (this / the other)")
    args = parser.parse_args(argv)
    names = args.only or ["pipeline"]
    with tempfile.TemporaryDirectory() as tmp:
        other = os.path.join(tmp, "other")
        subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", "-q", other, args.rev],
                       check=True)
        try:
            rev = subprocess.run(["git", "-C", other, "log", "-1", "--format=%h %s"],
                                 capture_output=True, text=True, check=True).stdout.strip()
            print(f"this working tree against {rev}: {args.reps} repetitions of "
                  f"{args.n:,} messages, each run in a fresh interpreter")
            worst = 0.0
            for name in names:
                runs_mine, runs_theirs = [], []
                for rep in range(args.reps):
                    order = [(ROOT, runs_mine), (other, runs_theirs)]
                    for root, times in (order if rep % 2 == 0 else order[::-1]):
                        times.append(one_run(root, name, args.n, args.trace))
                mine, theirs = [r[0] for r in runs_mine], [r[0] for r in runs_theirs]
                ratios = [a / b for a, b in zip(mine, theirs, strict=True)]
                cpu = statistics.median(a[1] / b[1] for a, b in zip(runs_mine, runs_theirs, strict=True))
                ratio = statistics.median(ratios)
                worst = max(worst, ratio)
                q = statistics.quantiles(ratios, n=4) if len(ratios) >= 4 else ratios
                print(f"  {name:<17} this {statistics.median(mine) * 1000:7.1f} ms   other "
                      f"{statistics.median(theirs) * 1000:7.1f} ms   ratio {ratio:.3f} "
                      f"(quartiles {q[0]:.3f} .. {q[-1]:.3f}), CPU-time ratio {cpu:.3f}")
        finally:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", other], check=False)
    verdict = "OK" if worst <= args.target else "ABOVE TARGET"
    print(f"largest median ratio {worst:.3f}, target <= {args.target:.2f}: {verdict}")
    return 0 if worst <= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
