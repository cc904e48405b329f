"""What the clocks of a trace cost (clocks.py): time and memory, against the traced run itself.

The Lamport and vector clocks of a trace are worked out after the run, the
first time they are asked for (``g.trace``), never during it. This script runs
a traced network (a source fanned out to a two-transform path and a sink, then
a sink: 5 nodes), then times working the clocks out of its trace, in a fresh
interpreter per repetition, and prints the medians: events, the traced run's
time, the clocks' time (and per event), and the memory the clocks keep (per
event; the vectors grow with the number of nodes).

    python benchmarks/clocks.py [--reps 5] [--n 20000]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ONE = r"""
import gc, json, sys, time, tracemalloc
sys.path.insert(0, {root!r})
from dissyslab import ListSource, Sink, Source, Transform, network
from dissyslab.clocks import Clocks

src = Source(fn=ListSource(items=list(range({n}))).run, name="numbers")
a, b = Transform(fn=lambda x: x + 1, name="a"), Transform(fn=lambda x: x * 2, name="b")
g = network([(src, a), (a, b), (b, Sink(fn=lambda m: None, name="k")),
             (src, Sink(fn=lambda m: None, name="k2"))])
gc.collect()
started = time.perf_counter()
g.run_network(timeout=600, trace=True, live=False)
run = time.perf_counter() - started
trace = g.last_run.trace
gc.collect()
started = time.perf_counter()
clocks = Clocks(trace, trace.nodes)
took = time.perf_counter() - started
del clocks
gc.collect()
tracemalloc.start()
clocks = Clocks(trace, trace.nodes)
kept = tracemalloc.get_traced_memory()[0]
print(json.dumps([len(trace), run, took, kept]))
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--n", type=int, default=20_000)
    args = parser.parse_args(argv)
    rows = []
    for _ in range(args.reps):
        done = subprocess.run([sys.executable, "-c", ONE.format(root=ROOT, n=args.n)],
                              capture_output=True, text=True, timeout=1200, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    events = rows[0][0]
    run = statistics.median(r[1] for r in rows)
    took = statistics.median(r[2] for r in rows)
    kept = statistics.median(r[3] for r in rows)
    ratio = statistics.median(r[2] / r[1] for r in rows)
    print(f"{events:,} events of 5 nodes, median of {args.reps} fresh interpreters:")
    print(f"  traced run          {run:6.2f} s")
    print(f"  clocks worked out   {took:6.2f} s  ({took / events * 1e6:.1f} µs per event, "
          f"{ratio:.2f}x the traced run)")
    print(f"  memory they keep    {kept / 2**20:6.1f} MB ({kept / events:.0f} bytes per event)")


if __name__ == "__main__":
    main()
