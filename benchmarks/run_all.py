"""Every performance target in one command: speed against hand-written threads, memory, import time.

    python benchmarks/run_all.py [--reps 9] [--quick]

Prints each benchmark's own lines as it runs, then one table with a
PASS/FAIL line per target. Exits with 1 if any target was missed.
``--quick`` (3 repetitions, 100,000-record memory run) is for a first look;
report figures from a full run.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import import_time  # noqa: E402
import memory  # noqa: E402
import speed  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9, help="speed repetitions (default 9)")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, smaller memory run")
    args = parser.parse_args(argv)
    reps = 3 if args.quick else args.reps
    records = 100_000 if args.quick else 1_000_000

    rows = speed.run(list(speed.TARGETS), ["method", "c"], reps, 100_000)
    print()
    print(f"memory: {records:,} records, one fast path and one that sleeps "
          f"{memory.SLOW_SLEEP * 1000:g} ms every {memory.SLOW_EVERY:,}")
    mem = memory.measure("dissyslab", records)
    print(memory.report(mem))
    print()
    imp = import_time.measure(9)

    table = [(f"{r['workload']} ({r['source']} source): vs hand-written threads",
              f"{r['ratio']:.2f}x (range {r['low']:.2f}-{r['high']:.2f})",
              f">= {r['target']:.1f}x", r["ok"]) for r in rows]
    table.append((f"memory: peak RSS, {records:,} records, slow path",
                  f"{mem['peak_mb']:.0f} MB" + ("" if mem["all_delivered"] else ", records lost"),
                  f"<= {memory.LIMIT_MB} MB", mem["peak_mb"] <= memory.LIMIT_MB and mem["all_delivered"]))
    table.append(("import dissyslab: time", f"{imp['ms']:.0f} ms",
                  f"<= {import_time.LIMIT_MS} ms", imp["ok_time"]))
    table.append(("import dissyslab: no Jupyter/ipywidgets/IPython/graphviz",
                  ", ".join(imp["forbidden"]) or "none loaded", "none", imp["ok_modules"]))
    print()
    width = max(len(t[0]) for t in table)
    print(f"{'target':<{width}}  {'measured':<28}{'limit':<10}result")
    for name, measured, limit, ok in table:
        print(f"{name:<{width}}  {measured:<28}{limit:<10}{'PASS' if ok else 'FAIL'}")
    return 0 if all(t[3] for t in table) else 1


if __name__ == "__main__":
    sys.exit(main())
