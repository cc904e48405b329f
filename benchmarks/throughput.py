"""Throughput: the dissyslab runtime against hand-written threads, side by side.

Each workload runs with both, the same functions and message count, in one
process; the two alternate (which goes first swaps every repetition) so a
busy neighbour on a shared machine slows both alike. Prints the median
messages per second of each, the median of the per-repetition ratios, and
the spread of those ratios as a measure of noise.

    python benchmarks/throughput.py [--reps 7] [--n 100000] [--only pipeline]
"""

import argparse
import gc
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dissyslab import network  # noqa: E402
from handwritten import run_threads  # noqa: E402
from workloads import N, WORKLOADS  # noqa: E402

#: the lowest ratio (dissyslab / hand-written) each workload must reach
TARGETS = {"pipeline": 1.0, "fanout 2": 1.0, "fanout 10": 1.0, "fanin 4": 1.0,
           "records fanout 4": 2.0}


def time_dissyslab(build, n):
    work = build(n)
    g = network(work.edges)
    gc.collect()
    started = time.perf_counter()
    g.run_network(timeout=300)
    elapsed = time.perf_counter() - started
    work.check("dissyslab")
    return work.expected_count / elapsed


def time_threads(build, n, deep_copy):
    work = build(n)
    gc.collect()
    started = time.perf_counter()
    run_threads(work.edges, deep_copy)
    elapsed = time.perf_counter() - started
    work.check("hand-written")
    return work.expected_count / elapsed


def measure(name, reps, n):
    """(dissyslab rates, hand-written rates, ratios), one of each per repetition."""
    build, deep_copy = WORKLOADS[name]
    ours, theirs = [], []
    for rep in range(reps):
        if rep % 2 == 0:
            ours.append(time_dissyslab(build, n))
            theirs.append(time_threads(build, n, deep_copy))
        else:
            theirs.append(time_threads(build, n, deep_copy))
            ours.append(time_dissyslab(build, n))
    return ours, theirs, [a / b for a, b in zip(ours, theirs)]


def run(names, reps, n):
    """Measure each workload, printing a line as each finishes; return the rows."""
    print(f"throughput: {n:,} messages per workload, {reps} repetitions, medians; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'workload':<18}{'dissyslab msg/s':>16}{'threads msg/s':>15}"
          f"{'ratio':>8}{'ratio range':>14}{'target':>8}  result")
    rows = []
    for name in names:
        ours, theirs, ratios = measure(name, reps, n)
        row = {"workload": name, "ours": statistics.median(ours),
               "theirs": statistics.median(theirs), "ratio": statistics.median(ratios),
               "low": min(ratios), "high": max(ratios), "target": TARGETS[name]}
        row["ok"] = row["ratio"] >= row["target"]
        rows.append(row)
        print(f"{name:<18}{row['ours']:>16,.0f}{row['theirs']:>15,.0f}{row['ratio']:>7.2f}x"
              f"{row['low']:>7.2f}-{row['high']:<5.2f}{row['target']:>7.1f}x  "
              f"{'PASS' if row['ok'] else 'FAIL'}", flush=True)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7, help="repetitions per workload (default 7)")
    parser.add_argument("--n", type=int, default=N, help=f"messages per workload (default {N})")
    parser.add_argument("--only", action="append", choices=list(WORKLOADS),
                        help="run only this workload (may be repeated)")
    args = parser.parse_args(argv)
    rows = run(args.only or list(WORKLOADS), args.reps, args.n)
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
