"""Throughput: the dissyslab runtime against hand-written threads, side by side.

Each workload runs with both, the same functions and message count, in one
process; the two alternate (which goes first swaps every repetition) so a
busy neighbour on a shared machine slows both alike. Prints the median
messages per second of each, the median of the per-repetition throughput
ratios (dissyslab / hand-written) and their range, a measure of noise.
The CPU ratio (hand-written CPU seconds / dissyslab CPU seconds) counts
only this process's work, so other programs on the machine barely move it.

    python benchmarks/throughput.py [--reps 9] [--n 100000] [--only pipeline]
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
from workloads import WORKLOADS, N  # noqa: E402

#: the lowest ratio (dissyslab / hand-written) each workload must reach
TARGETS = {"pipeline": 1.0, "fanout 2": 1.0, "fanout 10": 1.0, "fanin 4": 1.0,
           "records fanout 4": 2.0}


def time_dissyslab(build, n):
    """(wall seconds, CPU seconds) of one run with the dissyslab runtime."""
    work = build(n)
    g = network(work.edges)
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    g.run_network(timeout=300)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    work.check("dissyslab")
    return wall, cpu


def time_threads(build, n, deep_copy):
    """(wall seconds, CPU seconds) of one run with hand-written threads."""
    work = build(n)
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    run_threads(work.edges, deep_copy)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    work.check("hand-written")
    return wall, cpu


def measure(name, reps, n):
    """Lists of (wall, cpu) seconds for dissyslab and for the threads, one per repetition."""
    build, deep_copy = WORKLOADS[name]
    ours, theirs = [], []
    for rep in range(reps):
        if rep % 2 == 0:
            ours.append(time_dissyslab(build, n))
            theirs.append(time_threads(build, n, deep_copy))
        else:
            theirs.append(time_threads(build, n, deep_copy))
            ours.append(time_dissyslab(build, n))
    return ours, theirs


def run(names, reps, n):
    """Measure each workload, printing a line as each finishes; return the rows."""
    print(f"throughput: {n:,} messages per workload, {reps} repetitions, medians; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'workload':<18}{'dissyslab msg/s':>16}{'threads msg/s':>15}"
          f"{'ratio':>8}{'ratio range':>14}{'CPU ratio':>11}{'target':>8}  result")
    rows = []
    for name in names:
        ours, theirs = measure(name, reps, n)
        ratios = [t[0] / o[0] for o, t in zip(ours, theirs, strict=True)]  # wall time theirs / ours
        row = {"workload": name, "ours": n / statistics.median(o[0] for o in ours),
               "theirs": n / statistics.median(t[0] for t in theirs),
               "ratio": statistics.median(ratios), "low": min(ratios), "high": max(ratios),
               "cpu": statistics.median(t[1] / o[1] for o, t in zip(ours, theirs, strict=True)),
               "target": TARGETS[name]}
        row["ok"] = row["ratio"] >= row["target"]
        rows.append(row)
        print(f"{name:<18}{row['ours']:>16,.0f}{row['theirs']:>15,.0f}{row['ratio']:>7.2f}x"
              f"{row['low']:>7.2f}-{row['high']:<5.2f}{row['cpu']:>10.2f}x{row['target']:>7.1f}x  "
              f"{'PASS' if row['ok'] else 'FAIL'}", flush=True)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9, help="repetitions per workload (default 9)")
    parser.add_argument("--n", type=int, default=N, help=f"messages per workload (default {N})")
    parser.add_argument("--only", action="append", choices=list(WORKLOADS),
                        help="run only this workload (may be repeated)")
    args = parser.parse_args(argv)
    rows = run(args.only or list(WORKLOADS), args.reps, args.n)
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
