"""The exhaustive search (exhaustive.py) on the class example: 3 sources of 3 messages into one sink.

Every arrival order at the sink is one outcome: 9! / (3! 3! 3!) = 1,680 of
them, and the reduced search runs exactly one schedule per outcome. The
target: the whole search takes at most 5 s on this machine. As a baseline in
the same run, ``g.explore(runs=1680)`` samples as many seeded runs (it finds
far fewer outcomes). Each measurement is a fresh interpreter; the two
alternate, and the medians are printed.

    python benchmarks/exhaustive.py [--reps 5]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: seconds the 1,680-schedule search may take
LIMIT_S = 5.0

ONE = r"""
import json, sys, time
sys.path.insert(0, {root!r})
from dissyslab import ListSource, Sink, Source, network

sources = [Source(fn=ListSource([f"{{c}}{{i}}" for i in range(3)]).run, name=c) for c in "abc"]
sink = Sink(fn=lambda m: None, name="sink")
g = network([(s, sink) for s in sources])
started = time.perf_counter()
if {exhaustive}:
    ex = g.explore(exhaustive=True, timeout=60, progress=False)
    runs, complete = ex.schedules, ex.complete
else:
    ex = g.explore(runs=1680, timeout=60)
    runs, complete = 1680, False
took = time.perf_counter() - started
print(json.dumps([took, runs, len(ex["sink"]), complete]))
"""


def measure(exhaustive):
    done = subprocess.run([sys.executable, "-c", ONE.format(root=ROOT, exhaustive=exhaustive)],
                          capture_output=True, text=True, timeout=600, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    search, seeded = [], []
    for _ in range(args.reps):  # alternating, a fresh interpreter each time
        search.append(measure(True))
        seeded.append(measure(False))
    took = statistics.median(r[0] for r in search)
    base = statistics.median(r[0] for r in seeded)
    ratio = statistics.median(s[0] / b[0] for s, b in zip(search, seeded, strict=True))
    _, schedules, outcomes, complete = search[0]
    print(f"fanin of 3 sources x 3 messages, median of {args.reps} fresh interpreters:")
    print(f"  exhaustive search   {took:6.2f} s  {schedules:,} schedules, {outcomes:,} outcomes, "
          f"{'complete' if complete else 'NOT complete'}")
    print(f"  1,680 seeded runs   {base:6.2f} s  {seeded[0][2]:,} outcomes found "
          f"(the search takes {ratio:.2f}x as long)")
    ok = complete and outcomes == 1680 and took <= LIMIT_S
    print(f"  target: complete, 1,680 outcomes, <= {LIMIT_S:g} s: {'PASS' if ok else 'FAIL'}")
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
